// Package ipsec checks whether the optional IPsec protection of the
// signalling (RFC 3776, RFC 4877: manually keyed transport-mode ESP
// between a mobile router and its home agent) can be turned on, and
// refuses it with a message that says why when it cannot.
//
// Two things stand in the way, and the daemon names the first it meets:
//
//  1. The kernel: ESP needs the xfrm netlink interface (xfrm_user), the
//     ESP transform for IPv6 (esp6, CONFIG_INET6_ESP) and the configured
//     crypto algorithms. [Probe] finds out by adding and deleting a
//     throw-away ESP state in the daemon's network namespace; the CI and
//     development kernel has the xfrm core but no esp6.
//
//  2. This build: the daemons build their Mobility Header packets whole
//     and send them through a header-included raw socket, on kernels
//     without CONFIG_IPV6_MIP6. The kernel's outbound policy lookup for
//     such a packet sees protocol 255 (IPPROTO_RAW), not 135, so an RFC
//     4877 selector on the Mobility Header never matches (checked by
//     TestRawSendPolicyProto); and the Home Address option and type 2
//     routing header that RFC 3776 puts in front of the ESP header make a
//     receiving kernel without CONFIG_IPV6_MIP6 (or with it, but without
//     UMIP-style route-optimisation states) discard the packet before
//     the ESP header is reached. So even where the kernel can do ESP,
//     [Require] refuses with [ErrNotInThisBuild] instead of installing
//     security associations that would either not match or black-hole the
//     registration. RFC 4285 authentication stays the protection.
package ipsec
