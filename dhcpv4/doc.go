// Package dhcpv4 is the DHCPv4 client that obtains IPv4 care-of addresses
// for the mobile router (RFC 2131, options of RFC 2132).
//
// Machine is the pure lease state machine of RFC 2131 section 4.4: INIT,
// SELECTING, REQUESTING, BOUND, RENEWING (T1), REBINDING (T2), expiry, and
// INIT-REBOOT/REBOOTING with the previous lease after a link bounce. It
// takes (now, Input) and returns Actions; time and randomness are injected.
//
// Client (Linux) is the shell: messages are built and parsed with
// github.com/insomniacslk/dhcp/dhcpv4 and carried on nclient4's raw
// socket; the lease is installed with netlink as an address (with the
// lease's lifetimes), a subnet and default route in a routing table of
// its own and a rule "from <address> lookup <table>", so the main table
// and other uplinks are not disturbed. Lease events go to Events.
package dhcpv4
