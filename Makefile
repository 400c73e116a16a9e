SHELL := /bin/bash
# NEMO mobile router and home agent.
#
#   make build   host binaries bin/mrouter, bin/ha
#   make cross   static binaries for the OpenWrt architectures, sizes printed
#   make test    everything CI runs: lint, unit + integration tests (root),
#                the mh/ndp tests on big-endian MIPS under qemu
#   make demo    the namespace testbed: the mobile router moves, traffic survives
#   make fuzz    every fuzz target for FUZZTIME (default 30s) each
#   make bench   benchmarks
#   make lint    gofmt + go vet

GO        ?= go
VERSION   ?= $(shell cat VERSION 2>/dev/null || echo 0.0.0)
FUZZTIME  ?= 30s
PKG       := github.com/nemo-mobility/nemo
LDFLAGS   := -s -w -X $(PKG)/internal/version.Version=$(VERSION)
GOFLAGS_BUILD := -trimpath -ldflags "$(LDFLAGS)"
# Test timeout for the whole suite (the integration tests run real daemons).
TEST_TIMEOUT ?= 15m

# OpenWrt architecture name = GOOS/GOARCH and sub-architecture settings.
# GOARM follows OpenWrt's golang-package.mk: 7 for Cortex-A with VFP, 5 for
# the older cores without a usable FPU; MIPS is softfloat everywhere.
CROSS_TARGETS := \
	mips_24kc:mips:GOMIPS=softfloat \
	mipsel_24kc:mipsle:GOMIPS=softfloat \
	arm_cortex-a7:arm:GOARM=7 \
	arm_cortex-a9:arm:GOARM=7 \
	arm_arm926ej-s:arm:GOARM=5 \
	aarch64_generic:arm64: \
	x86_64:amd64:

CMDS := mrouter ha

.PHONY: all build cross ipk deps test test-unit test-e2e test-vm soak bench bench-go bench-system test-qemu lint fuzz bench demo clean

all: build

build:
	@mkdir -p bin
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o bin/ ./cmd/mrouter ./cmd/ha

cross:
	@set -e; for t in $(CROSS_TARGETS); do \
	  arch=$${t%%:*}; rest=$${t#*:}; goarch=$${rest%%:*}; extra=$${rest#*:}; \
	  mkdir -p dist/$$arch; \
	  for c in $(CMDS); do \
	    env CGO_ENABLED=0 GOOS=linux GOARCH=$$goarch $$extra \
	      $(GO) build $(GOFLAGS_BUILD) -o dist/$$arch/$$c ./cmd/$$c; \
	  done; \
	done
	@printf '%-18s %-8s %10s %8s\n' ARCH BINARY BYTES MiB
	@for t in $(CROSS_TARGETS); do arch=$${t%%:*}; for c in $(CMDS); do \
	  s=$$(stat -c %s dist/$$arch/$$c); \
	  awk -v a=$$arch -v c=$$c -v s=$$s 'BEGIN{printf "%-18s %-8s %10d %8.2f\n", a, c, s, s/1048576}'; \
	done; done

# .ipk packages for opkg (OpenWrt up to 24.10) for every cross target, plus
# ARCH=BINDIR aliases (one arm64 build packaged under another OpenWrt arch
# name). Reproducible: SOURCE_DATE_EPOCH comes from the last commit.
IPK_RELEASE ?= 1
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
IPK_ARCHS := $(foreach t,$(CROSS_TARGETS),$(firstword $(subst :, ,$(t)))) aarch64_cortex-a53=aarch64_generic

ipk: cross
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(GO) run ./packaging/cmd/mkipk \
	  -version $(VERSION)-r$(IPK_RELEASE) -arch "$$(echo $(IPK_ARCHS) | tr ' ' ,)" \
	  -dist dist -files openwrt/files -license LICENSE -o dist/ipk
	@ls -l dist/ipk

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# The test command of the README. Integration tests need root and the tools
# that .ci/run installs; without them they skip loudly (and fail under CI=true).
test: deps lint test-unit test-e2e test-vm

# The Debian packages the testbed and the tests need (installed if missing).
deps:
	@scripts/deps.sh

# ./... includes internal/archtest, which runs the mh and ndp tests under
# qemu-mips-static (big-endian MIPS); `make test-qemu` runs only that.
test-unit:
	$(GO) test -race -timeout $(TEST_TIMEOUT) $$($(GO) list ./... | grep -v '/e2e$$')

# The kernel data plane on a real kernel: Debian's cloud kernel (sit,
# ip6_tunnel, CONFIG_IPV6_MIP6) booted under qemu-system-x86_64 -accel tcg
# with the testbed and the e2e tests inside (test/vm/run.sh). scripts/deps.sh
# installs qemu, so CI always runs it.
test-vm:
	test/vm/run.sh

# The end-to-end suite: the real daemons in the namespace testbed, with the
# TESTBED.md matrix printed one line per cell.
test-e2e:
	@scripts/e2e.sh

# The wire codecs' tests again on big-endian 32-bit MIPS, under qemu-user.
test-qemu:
	$(GO) test -run 'TestQEMU' -count=1 -v ./internal/archtest/ 2>&1 | grep -E '^(=== RUN|--- |PASS|FAIL|ok|\s+qemu)' ; exit $${PIPESTATUS[0]}

fuzz:
	@GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

# Benchmarks: the Go micro-benchmarks, then the system figures of
# BENCHMARKS.md (the home agent under a generated fleet, the tunnel
# against plain routing, binary sizes; root).
bench: bench-go bench-system

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...

bench-system:
	scripts/bench.sh

# Soak: moves every 30 s with traffic flowing, printing threads, open
# files, RSS and kernel objects over time (make soak DURATION=1h).
DURATION ?= 1h
soak: deps
	$(GO) run ./e2e/cmd/soak -duration $(DURATION)

# The main job: the namespace testbed with the real daemons (root).
demo: deps
	$(GO) run ./e2e/cmd/demo $(DEMOFLAGS)

clean:
	rm -rf bin dist
