# shellcheck shell=dash
# A stand-in for OpenWrt's /lib/functions/network.sh for the tests:
# netifd's interface state comes from NETIFD_DEVICES, a space-separated
# list of NETWORK=DEVICE pairs of the interfaces that are up.

network_get_device() {
	local pair
	for pair in $NETIFD_DEVICES; do
		if [ "${pair%%=*}" = "$2" ]; then
			export "$1=${pair#*=}"
			return 0
		fi
	done
	export "$1="
	return 1
}

network_get_physdev() {
	network_get_device "$@"
}
