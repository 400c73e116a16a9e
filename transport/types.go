package transport

import (
	"errors"
	"net/netip"
)

// IPv6 Next Header values the signalling sockets use (IANA protocol numbers).
const (
	// ProtoDestOpts is the Destination Options header (RFC 8200 4.6); a
	// Binding Update sent from a care-of address carries the Home Address
	// option in one (RFC 6275 6.3).
	ProtoDestOpts uint8 = 60
	// ProtoRouting is the Routing header (RFC 8200 4.4); a Binding
	// Acknowledgement sent to a care-of address carries a type 2 routing
	// header (RFC 6275 6.4).
	ProtoRouting uint8 = 43
	// ProtoMH is the Mobility Header (RFC 6275 6.1).
	ProtoMH uint8 = 135
	// ProtoICMPv6 is ICMPv6 (RFC 4443).
	ProtoICMPv6 uint8 = 58
	// protoRaw is IPPROTO_RAW: on Linux a raw AF_INET6 socket with this
	// protocol sends packets with their IPv6 header included.
	protoRaw = 255
)

// Sentinel errors. Errors returned by this package wrap one of these (or
// an operating-system error) with context, so errors.Is works.
var (
	// ErrBadPacket: a packet given to Send is not a well-formed IPv6
	// packet (too short, wrong version, payload length not matching).
	ErrBadPacket = errors.New("transport: malformed IPv6 packet")
	// ErrBadAddress: an address argument has the wrong family or scope.
	ErrBadAddress = errors.New("transport: unsuitable address")
	// ErrNoLinkLocal: the interface has no usable (non-tentative)
	// link-local address to send Neighbor Discovery from.
	ErrNoLinkLocal = errors.New("transport: no usable link-local address")
	// ErrDuplicateAddress: Duplicate Address Detection found the address
	// in use (the error is a *DuplicateError).
	ErrDuplicateAddress = errors.New("transport: duplicate address")
	// ErrClosed: the socket was closed.
	ErrClosed = errors.New("transport: closed")
)

// Received is one signalling packet taken from a protocol 60, 43 or 135
// raw socket (see [ListenSignal]).
type Received struct {
	// Src is the IPv6 source address (from the socket address; no zone).
	Src netip.Addr
	// Dst is the IPv6 destination address of the packet as it arrived
	// (from IPV6_PKTINFO; for a type 2 routing header, the care-of
	// address, not the home address inside the header).
	Dst netip.Addr
	// IfIndex is the index of the interface the packet arrived on.
	IfIndex int
	// NextHeader is the protocol of the socket that received it, which is
	// the type of the header Data starts with: 60, 43 or 135.
	NextHeader uint8
	// Data starts at that header and runs to the end of the packet. It
	// belongs to the receiver.
	Data []byte
}

// ICMPv6Packet is one ICMPv6 message taken from a raw ICMPv6 socket (see
// [ListenICMPv6]). The kernel has verified its checksum.
type ICMPv6Packet struct {
	// Src and Dst are the IPv6 source and destination (no zone).
	Src, Dst netip.Addr
	// IfIndex is the index of the interface the packet arrived on.
	IfIndex int
	// HopLimit is the IPv6 Hop Limit it arrived with, or -1 if the kernel
	// did not report it. Neighbor Discovery messages with a hop limit
	// other than 255 must be dropped (RFC 4861 6.1, 7.1).
	HopLimit int
	// Data starts at the ICMPv6 Type field. It belongs to the receiver.
	Data []byte
}

// Datagram is one UDP/IPv4 datagram (see [ListenUDP4]).
type Datagram struct {
	// From is the sender's address and port.
	From netip.AddrPort
	// Dst is the IPv4 destination address of the datagram (IP_PKTINFO).
	Dst netip.Addr
	// IfIndex is the index of the interface it arrived on.
	IfIndex int
	// Data is the UDP payload. It belongs to the receiver.
	Data []byte
}
