// Package dataplane installs and removes the packet-forwarding state of the
// mobile router and the home agent: tunnels, routes, policy rules, proxy
// neighbour entries and the forwarding sysctls.
//
// State is managed the way tailscale's wgengine/router does it: the caller
// hands the whole desired state to [Backend.Set]; the backend diffs it
// against what it installed before, adds or replaces first, deletes what is
// no longer wanted afterwards (so traffic keeps a path during a change), and
// a repeated Set with the same Config changes nothing.
//
// Two backends implement [Backend]:
//
//   - the kernel backend ([NewKernel]) creates one ip6tnl link (IPv6 outer)
//     or sit link (IPv4 outer) per tunnel and points routes at it;
//   - the userspace backend (NewUserspace, Linux only) creates one TUN
//     device for all tunnels, points routes at it, and forwards in Go:
//     packets read from the TUN device are looked up by inner destination
//     (longest prefix match over the routes that name a tunnel) and sent
//     through raw protocol-41 / protocol-4 sockets (the kernel builds the
//     outer header) or handed to a [UDPSender] (RFC 5555 UDP
//     encapsulation); packets received on the raw sockets (or injected with
//     InjectUDP) are matched to a tunnel by their outer source address,
//     checked against the tunnel's ingress filter (Tunnel.Allowed) and
//     written to the TUN device.
//
// Both backends reach the kernel through [NetOps], a narrow interface over
// the netlink calls they need. [NewNetOps] implements it with
// github.com/vishvananda/netlink; [Fake] implements it in memory and renders
// its state as sorted `ip` command text for golden tests.
//
// # Markers and crash clean-up
//
// Objects this package creates carry markers so that [Cleanup] can remove
// the leftovers of a crashed run and nothing else:
//
//   - links: the name starts with [LinkPrefix] ("nemo") and the link alias
//     (IFLA_IFALIAS) is "nemo:<owner>:<id>"; it is sent with the create
//     request and set again right after it, since some kernels (Debian's
//     6.1) ignore it there; an ip6tnl or sit link named like [LinkName]
//     with no alias at all (a crash in between) counts as ours too;
//   - routes: rtm_protocol [RouteProtocol] (78, 0x4e, "N" for nemo; unused by
//     iproute2's rt_protos and by the routing daemons that register one);
//   - rules: FRA_PROTOCOL [RouteProtocol] as well (Linux 4.17 and later),
//     the kernel backend's ingress-filter rules included;
//   - proxy neighbour entries carry no marker in the kernel; Cleanup removes
//     the proxy entries on the given home interface whose address lies in
//     the given home prefix (the home agent owns those addresses).
//
// Routes and rules are marked per package, not per owner: Cleanup(…, "ha")
// also removes routes a mobile router daemon made in the same network
// namespace. The two daemons are meant to run on different hosts.
//
// # Hop limit and TTL (RFC 2473 section 3)
//
// The userspace backend never rewrites the inner packet. The tunnel entry
// point's decrement of the inner hop limit (RFC 2473 section 3.1) is done by
// the kernel when it forwards the packet into the TUN device (locally
// originated packets are not decremented, as for any interface); at the exit
// point the kernel decrements it again when it forwards the decapsulated
// packet out of the TUN device. The outer header is built by the kernel with
// the default hop limit / TTL of the namespace (net.ipv6.conf.*.hop_limit,
// net.ipv4.ip_default_ttl); the outer Traffic Class / TOS is copied from the
// inner packet (DSCP and ECN, RFC 6040 normal mode). No Tunnel Encapsulation
// Limit option is added (the kernel backend sets "encaplimit none" too, so
// that a userspace peer's protocol-41 socket sees its packets).
package dataplane
