#!/bin/sh
# Installs the Debian packages the testbed, the demo and the tests need,
# if any is missing. Used by `make demo`, `make test` and .ci/run.
set -eu

PACKAGES="iproute2 procps radvd dnsmasq nftables conntrack tshark python3-scapy
qemu-user-static shellcheck busybox-static make gawk qemu-system-x86 kmod cpio iperf3"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "missing Debian packages:$missing" >&2
	echo "install them as root: apt-get install$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
# The packages' own services are never wanted: the testbed runs its peers
# inside namespaces.
for s in radvd dnsmasq iperf3; do
	systemctl disable --now "$s" >/dev/null 2>&1 || true
done
pkill -x dnsmasq 2>/dev/null || true
pkill -x radvd 2>/dev/null || true
