// Package transport moves Mobile IPv6 signalling and Neighbor Discovery
// bytes between the daemons and the Linux kernel. It does not build or
// parse Mobility Header messages (package mh does); it only opens the
// sockets, sends whole packets and delivers what arrives together with its
// addresses and interface.
//
// # Sockets (see PLATFORM.md "Signalling sockets")
//
//   - [IPv6Sender]: a raw AF_INET6 socket with protocol IPPROTO_RAW (255).
//     The caller gives the whole IPv6 packet, header and extension headers
//     included; the kernel sends it as given (header included).
//   - [ListenSignal]: raw AF_INET6 sockets for protocols 60 (Destination
//     Options: a Binding Update with a Home Address option), 43 (Routing:
//     a Binding Acknowledgement with a type 2 routing header) and 135 (a
//     plain Mobility Header; the kernel verifies its checksum and silently
//     drops bad ones). Each packet arrives as a [Received] whose Data starts
//     at that header, ready for mh.ParseSignal.
//   - [ListenUDP4]: a UDP/IPv4 socket for DSMIPv6 (RFC 5555, port 4191).
//   - [ListenICMPv6], [ListenRA], [ListenICMPv6Errors], [SendRS], [SendNA]
//     and [DAD]: ICMPv6 and Neighbor Discovery on one interface.
//
// # Receiving, goroutines and buffer ownership
//
// Every listener runs one reader goroutine per socket. Each reader reads
// into its own buffer, which it reuses for every packet, and then copies
// the packet into a new slice of exactly the received length: the value
// taken from [Listener.Packets] belongs to the receiver, who may keep and
// modify it. The channel blocks when full (the kernel's socket buffer then
// queues and finally drops, as for any socket). Cancelling the context
// given to the constructor, or calling Close, stops the readers; the
// channel is closed once all of them have returned, and Close waits for
// that, so no goroutine outlives a closed listener. Close is idempotent.
//
// # Network namespaces
//
// A socket belongs to the network namespace of the thread that creates it,
// and interface names are looked up there too. The constructors and the
// one-shot functions ([SendRS], [SendNA], [DAD]) therefore act in the
// namespace of the calling OS thread. To use another namespace, call them
// inside [InNetNS], which runs a function on a fresh OS thread switched
// into the namespace (and discards that thread afterwards). Sockets keep
// their namespace for life, so the listeners' goroutines and later Send
// calls need no special thread.
//
// This package needs CAP_NET_RAW (raw sockets) and, for [InNetNS],
// CAP_SYS_ADMIN. It works only on Linux; elsewhere every constructor
// returns an error wrapping [errors.ErrUnsupported].
package transport
