#!/bin/busybox sh
# shellcheck shell=dash
# /init of the test VM (copied by run.sh): mount the pseudo file systems,
# load the modules, run the cases listed in /nemo/cases and report each on
# the serial console as a "NEMO-RESULT …" line, then power off.
/bin/busybox --install -s
export PATH=/usr/local/bin:/nemo/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TMPDIR=/tmp CI=true
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /run/netns
echo "NEMO-BEGIN $(uname -r) $(nproc) cpus"
for m in $(cat /nemo/modules); do
	modprobe "$m" || echo "NEMO-WARN modprobe $m failed"
done
ip link set lo up
fail=0
result() { # result name rc
	if [ "$2" = 0 ]; then echo "NEMO-RESULT vm case=$1: pass"; else echo "NEMO-RESULT vm case=$1: fail (exit $2)"; fail=1; fi
}
run() { # run name command…
	name=$1
	shift
	echo "NEMO-CASE $name: $*"
	start=$(date +%s)
	"$@"
	rc=$?
	echo "NEMO-CASE $name: exit $rc after $(($(date +%s) - start)) s"
	result "$name" $rc
}
for c in $(cat /nemo/cases); do
	case $c in
	dataplane)
		run dataplane env NEMO_REQUIRE_KERNEL_TUNNELS=1 /nemo/dataplane.test -test.timeout 200s ;;
	mip6)
		run mip6-sockets env NEMO_KERNEL_MIP6=1 /nemo/vm.test -test.v -test.timeout 60s ;;
	e2e-kernel|e2e-userspace|e2e-auto)
		dp=${c#e2e-}
		expect=$dp
		pat='^TestVM(Full)?Matrix$'
		if [ "$dp" = auto ]; then
			expect=kernel # the probe must pick the kernel backend here
			pat='^TestVMMatrix$'
		fi
		run "$c" env NEMO_E2E_DATAPLANE=$dp NEMO_E2E_BIN=/nemo/bin NEMO_E2E_EXPECT_BACKEND=$expect \
			/nemo/e2e.test -test.run "$pat" -test.timeout 300s ;;
	*)
		echo "NEMO-RESULT vm case=$c: fail (unknown case)"; fail=1 ;;
	esac
done
if [ $fail = 0 ]; then echo "NEMO-VERDICT pass"; else echo "NEMO-VERDICT fail"; fi
sync
poweroff -f
sleep 5
echo o >/proc/sysrq-trigger
