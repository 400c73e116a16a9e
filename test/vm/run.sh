#!/bin/sh
# test/vm/run.sh: boot Debian's cloud kernel (sit, ip6_tunnel, fou,
# CONFIG_IPV6_MIP6=y) under qemu-system-x86_64 with TCG and run the kernel
# data-plane tests, the MIPv6-kernel socket probe and the end-to-end cells
# inside it. The results come back over the serial console; the exit status
# is the verdict (0: every case passed).
#
# Usage: test/vm/run.sh            (from anywhere; needs root for apt-get
#                                   only when a tool is missing)
# Environment:
#   NEMO_VM_CACHE   cache directory (default test/vm/.cache, gitignored)
#   NEMO_VM_TIMEOUT seconds before the VM is killed (default 540)
#   NEMO_VM_SMP     virtual CPUs (default 2)
#   NEMO_VM_CASES   space-separated subset of: dataplane mip6 e2e-kernel
#                   e2e-userspace e2e-auto (default: all)
#   NEMO_VM_KEEP=1  keep the build directory
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${NEMO_VM_CACHE:-$here/.cache}
timeout_s=${NEMO_VM_TIMEOUT:-540}
smp=${NEMO_VM_SMP:-2}
cases=${NEMO_VM_CASES:-"dataplane mip6 e2e-kernel e2e-userspace e2e-auto"}
t0=$(date +%s)

log() { echo "vm: $*" >&2; }
die() { echo "vm: FAIL: $*" >&2; exit 1; }

# --- host tools --------------------------------------------------------------
need_pkgs=""
command -v qemu-system-x86_64 >/dev/null 2>&1 || need_pkgs="$need_pkgs qemu-system-x86"
command -v depmod >/dev/null 2>&1 || [ -x /usr/sbin/depmod ] || [ -x /sbin/depmod ] || need_pkgs="$need_pkgs kmod"
command -v cpio >/dev/null 2>&1 || need_pkgs="$need_pkgs cpio"
[ -x /bin/busybox ] && ldd /bin/busybox 2>&1 | grep -q 'not a dynamic' || need_pkgs="$need_pkgs busybox-static"
for t in ip nft radvd dnsmasq; do
	command -v $t >/dev/null 2>&1 || [ -x /usr/sbin/$t ] || case $t in
		ip) need_pkgs="$need_pkgs iproute2" ;; nft) need_pkgs="$need_pkgs nftables" ;;
		*) need_pkgs="$need_pkgs $t" ;; esac
done
if [ -n "$need_pkgs" ]; then
	[ "$(id -u)" = 0 ] || die "missing packages:$need_pkgs (apt-get install them)"
	log "installing$need_pkgs"
	apt-get install -y -q --no-install-recommends $need_pkgs >&2 ||
		{ apt-get update -q >&2 && apt-get install -y -q --no-install-recommends $need_pkgs >&2; } ||
		die "apt-get install$need_pkgs failed"
fi
PATH=$PATH:/usr/sbin:/sbin
command -v go >/dev/null 2>&1 || die "go is not on PATH"

# --- the kernel ----------------------------------------------------------------
mkdir -p "$cache"
kroot="$cache/kernel"
if ! ls "$kroot"/boot/vmlinuz-* >/dev/null 2>&1; then
	log "fetching linux-image-cloud-amd64"
	dl="$cache/debs"
	rm -rf "$dl" "$kroot.tmp"
	mkdir -p "$dl"
	# The meta package names the versioned image package it depends on.
	img=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	if [ -z "$img" ]; then
		[ "$(id -u)" = 0 ] && apt-get update -q >&2
		img=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	fi
	[ -n "$img" ] || die "cannot resolve linux-image-cloud-amd64"
	(cd "$dl" && apt-get download "$img" >&2) || die "apt-get download $img failed"
	dpkg -x "$dl"/linux-image-*.deb "$kroot.tmp" || die "dpkg -x failed"
	mv "$kroot.tmp" "$kroot"
	rm -rf "$dl"
fi
vmlinuz=$(ls "$kroot"/boot/vmlinuz-* | head -n1)
kver=${vmlinuz##*/vmlinuz-}
[ -d "$kroot/lib/modules/$kver" ] || die "no modules for $kver"
[ -f "$kroot/lib/modules/$kver/modules.dep" ] || depmod -b "$kroot" "$kver"
log "kernel $kver"

# --- the project's static binaries -----------------------------------------------
build="$cache/build"
rm -rf "$build"
mkdir -p "$build/bin"
log "building static binaries"
(
	cd "$root"
	export CGO_ENABLED=0 GOFLAGS=${GOFLAGS:-}
	go build -o "$build/bin/" ./cmd/mrouter ./cmd/ha
	go test -c -o "$build/dataplane.test" ./dataplane
	go test -tags vmtest -c -o "$build/e2e.test" ./e2e
	go test -c -o "$build/vm.test" ./test/vm
) >&2 || die "go build failed"

# --- the initramfs ----------------------------------------------------------------
ird="$build/initrd"
mkdir -p "$ird"
for d in bin sbin usr/bin usr/sbin usr/local/bin lib lib64 etc proc sys dev tmp run root var nemo/bin; do
	mkdir -p "$ird/$d"
done
ln -s ../run "$ird/var/run"
cp /bin/busybox "$ird/bin/busybox"

# Modules: the closure of what the tunnels, the testbed and nft need.
modules="sit ip6_tunnel fou fou6 tun veth bridge nf_tables nft_masq nft_nat nft_chain_nat nft_ct nft_numgen nft_fib_inet nft_reject_inet xfrm_user esp6"
: >"$build/modules.list"
for m in $modules; do
	modprobe -d "$kroot" -S "$kver" --show-depends "$m" >>"$build/modules.list" || die "module $m not in $kver"
done
awk '$1 == "insmod" {print $2}' "$build/modules.list" | sort -u | while read -r ko; do
	rel=${ko#"$kroot"/}
	mkdir -p "$ird/$(dirname "$rel")"
	cp "$ko" "$ird/$rel"
done
cp "$kroot/lib/modules/$kver"/modules.order "$kroot/lib/modules/$kver"/modules.builtin* "$ird/lib/modules/$kver/"
depmod -b "$ird" "$kver" || die "depmod failed"

# The testbed's peers and their shared libraries (and the loader).
copy_elf() { # copy_elf /path/to/bin destdir
	cp -L "$1" "$ird/$2/"
	ldd "$1" | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i}' | while read -r lib; do
		[ -e "$ird$lib" ] && continue
		mkdir -p "$ird$(dirname "$lib")"
		cp -L "$lib" "$ird$lib"
	done
}
for t in ip nft radvd dnsmasq; do
	p=$(command -v $t) || die "$t not found"
	copy_elf "$p" usr/local/bin
done
cp "$build"/bin/* "$ird/nemo/bin/"
cp "$build"/*.test "$ird/nemo/"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\ndnsmasq:x:100:65534::/nonexistent:/bin/false\n' >"$ird/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$ird/etc/group"
printf 'hosts: files\npasswd: files\ngroup: files\n' >"$ird/etc/nsswitch.conf"
: >"$ird/etc/hosts"
echo "$modules" >"$ird/nemo/modules"
echo "$cases" >"$ird/nemo/cases"
cp "$here/init.sh" "$ird/init"
chmod 755 "$ird/init"
(cd "$ird" && find . | cpio -o -H newc --quiet) >"$build/initrd.cpio" || die "cpio failed"
log "initramfs $(du -h "$build/initrd.cpio" | cut -f1), built in $(($(date +%s) - t0)) s"

# --- boot -------------------------------------------------------------------------
serial="$build/serial.log"
t1=$(date +%s)
set +e
timeout -k 10 "$timeout_s" qemu-system-x86_64 -accel tcg -m 1024 -smp "$smp" -nographic -no-reboot \
	-nic none -kernel "$vmlinuz" -initrd "$build/initrd.cpio" \
	-append "console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init" </dev/null >"$serial" 2>&1
qrc=$?
set -e
t2=$(date +%s)
tr -d '\r' <"$serial" >"$serial.txt"

# The whole console log for the record (CI keeps it), then the summary.
sed -n '/^NEMO-BEGIN/,$p' "$serial.txt" | grep -v '^NEMO-RESULT ' >&2 || true
echo "---- VM summary ($kver, qemu exit $qrc, VM $((t2 - t1)) s, total $((t2 - t0)) s)"
sed -n 's/^NEMO-RESULT //p' "$serial.txt"
verdict=fail
if grep -q '^NEMO-VERDICT pass' "$serial.txt"; then
	verdict=pass
fi
[ $qrc -eq 124 ] && echo "vm: qemu killed after $timeout_s s" && verdict=fail
if [ "${NEMO_VM_KEEP:-}" != 1 ]; then
	rm -rf "$ird" "${build:?}/initrd.cpio" "${build:?}"/*.test "${build:?}/bin"
fi
echo "vm verdict: $verdict (serial log: $serial.txt)"
[ $verdict = pass ]
