#!/bin/bash
# System benchmarks of issue 9 (BENCHMARKS.md): the home agent at scale,
# the tunnel's throughput, the mobile router's size and memory, handover
# (the demo's moves, measured by the mobile router itself). Needs root
# (namespaces, raw sockets) and the testbed's packages (scripts/deps.sh).
# Prints tables; nothing here asserts a timing.
#
#   BENCH_N       routers the load generator plays (default 1000; the
#                 config loader refuses files over 1 MiB, ~5,900 routers)
#   BENCH_ONLY    run one part: ha, tunnel, size, memory, handover
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_N:-1000}
ONLY=${BENCH_ONLY:-}
out=$(mktemp -d /tmp/nemo-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT
want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }

echo "# machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r); $(date -u +%FT%TZ); $(go version | cut -d' ' -f3)"

if want ha; then
	echo; echo "## home agent at scale: $N routers (loadgen; dad = false except the DAD row; log level warn)"
	CGO_ENABLED=0 go build -trimpath -o "$out/ha" ./cmd/ha
	go build -o "$out/loadgen" ./bench/loadgen
	"$out/loadgen" -ha "$out/ha" -n "$N" -moves $((N / 2)) -json "$out/ha.json"
	for n in 1000 3000; do "$out/loadgen" -ha "$out/ha" -n $n -config-only; done
fi

if want tunnel; then
	echo; echo "## tunnel MNN→CN: plain routing, the userspace tunnel, wireguard-go; median of 5 × 4 s each (iperf3)"
	# wireguard-go is its own module (bench/wgcompare/go.mod), kept out of the main one.
	(cd bench/wgcompare && CGO_ENABLED=0 go build -o "$out/wgcompare" .)
	NEMO_WGCOMPARE="$out/wgcompare" go test -tags benchsystem -count=1 -timeout 20m -run TestTunnelThroughput -v ./bench/tunnel/ 2>&1 |
		grep -E 'Mbit/s|BENCH|FAIL|mrouter memory|^ *tunnel_linux_test.go:[0-9]*: \|' | sed 's/^ *tunnel_linux_test.go:[0-9]*: /  /'
fi

if want size; then
	echo; echo "## mrouter for mips_24kc (GOMIPS=softfloat): size and top packages (text + rodata)"
	env CGO_ENABLED=0 GOOS=linux GOARCH=mips GOMIPS=softfloat go build -trimpath -ldflags "-s -w" -o "$out/mrouter.mips" ./cmd/mrouter
	env CGO_ENABLED=0 GOOS=linux GOARCH=mips GOMIPS=softfloat go build -trimpath -o "$out/mrouter.mips.sym" ./cmd/mrouter
	s=$(stat -c %s "$out/mrouter.mips")
	awk -v s="$s" 'BEGIN{printf "stripped: %d bytes = %.2f MiB (goal 4 MiB)\n", s, s/1048576}'
	go tool nm -size -sort size "$out/mrouter.mips.sym" | head -8 | sed 's/^/  /'
	echo "  BYTES     PACKAGE"
	go tool nm -size -type "$out/mrouter.mips.sym" | awk '$3 ~ /^[TtRr]$/ {
		n=$4; gsub(/\(\*?/, "", n); p=n
		if (match(n, /^[a-zA-Z0-9_.\/-]+\//)) { r=substr(n, RLENGTH+1); split(r, a, "."); p=substr(n, 1, RLENGTH) a[1] }
		else { split(n, a, "."); p=a[1] }
		s[p]+=$2 } END { for (k in s) printf "  %-9d %s\n", s[k], k }' | sort -rn | head -15
fi

if want memory; then
	echo; echo "## mrouter memory (VmRSS, idle: one uplink without a router advertisement)"
	ns=nemobench-$$
	ip netns add "$ns"
	trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$out"' EXIT
	ip -n "$ns" link add eth1 type veth peer name eth1p
	ip -n "$ns" link add lan0 type veth peer name lan0p
	for l in lo eth1 eth1p lan0 lan0p; do ip -n "$ns" link set "$l" up; done
	cat >"$out/mr.toml" <<TOML
[mrouter]
home_address = "2001:db8:1::100"
home_prefix = "2001:db8:1::/64"
home_link = "eth1"
dataplane = "userspace"
[[home_agent]]
address = "2001:db8:1::1"
[mobile_network]
interfaces = ["lan0"]
prefixes = ["2001:db8:10::/64"]
[[uplink]]
name = "wan"
interface = "eth1"
ipv6 = true
[auth]
nai = "mr1@example.net"
spi = 1001
key = "00112233445566778899aabbccddeeff"
[log]
level = "warn"
[status]
socket = "$out/mr.sock"
TOML
	chmod 600 "$out/mr.toml"
	mkdir -p "$out/hello"
	printf 'package main\n\nimport "time"\n\nfunc main() { time.Sleep(time.Hour) }\n' >"$out/hello/main.go"
	printf 'module hello\n\ngo 1.26\n' >"$out/hello/go.mod"
	(cd "$out/hello" && CGO_ENABLED=0 GOOS=linux GOARCH=mips GOMIPS=softfloat go build -o ../hello.mips . && CGO_ENABLED=0 go build -o ../hello.amd64 .)
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/mrouter" ./cmd/mrouter
	CGO_ENABLED=0 GOOS=linux GOARCH=mips GOMIPS=softfloat go build -trimpath -ldflags "-s -w" -o "$out/mrouter.mips" ./cmd/mrouter
	measure() { # label seconds argv...
		local label=$1 secs=$2; shift 2
		ip netns exec "$ns" "$@" >"$out/m.log" 2>&1 & local p=$!
		sleep "$secs"
		local r; r=$(awk '/VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
		if [ -n "$r" ]; then printf '  %-40s %6s KiB\n' "$label" "$r"; else printf '  %-40s exited: %s\n' "$label" "$(tail -1 "$out/m.log")"; fi
		kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true
	}
	measure "Go sleep program, amd64" 2 "$out/hello.amd64"
	measure "Go sleep program, mips under qemu" 3 qemu-mips-static "$out/hello.mips"
	measure "mrouter idle, amd64" 5 "$out/mrouter" run -c "$out/mr.toml"
	measure "mrouter idle, mips under qemu" 10 qemu-mips-static "$out/mrouter.mips" run -c "$out/mr.toml"
fi

if want handover; then
	echo; echo "## handover: the demo's moves (make demo), 20/s ping MNN→CN across each"
	# The demo prints its figures table last; keep that part, without colours.
	go run ./e2e/cmd/demo 2>&1 | sed 's/\x1b\[[0-9;]*m//g' |
		awk '/^== figures/ {on=1; next} /^== tearing down/ {on=0} on && NF {print "  " $0}'
	echo; echo "## hard loss without a link event: FN3's access router drops everything (tunnel check), and a NAT rebinding; 100/s and 20/s pings"
	go test -count=1 -timeout 10m -run 'TestFaultPathLoss|TestFaultNATRebind' -v ./e2e/ 2>&1 |
		grep -E 'path loss on|given up|forwards again|NAT rebound|NAT rebinding: ping|^--- |^(ok|FAIL)' | sed 's/^ *[a-z_]*_test.go:[0-9]*: /  /'
fi
