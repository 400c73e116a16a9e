package ha

import (
	"net/netip"
	"slices"
	"time"

	"github.com/nemo-mobility/nemo/mh"
)

// State is the state of a binding cache entry.
type State uint8

// Binding cache entry states.
const (
	// StateValid: the binding is registered and forwarding is installed.
	StateValid State = iota + 1
	// StateDADPending: a first registration waits for the result of
	// Duplicate Address Detection; Binding Updates for the home address
	// are ignored meanwhile.
	StateDADPending
	// StateDeleting: deregistered (or refused after DAD); forwarding is
	// gone, the entry only remembers the sequence number until it is
	// deleted MaxDeleteBCETimeout later (RFC 6275 section 10.3.2).
	StateDeleting
)

// String returns the state's name as `ha bindings` shows it.
func (s State) String() string {
	switch s {
	case StateValid:
		return "valid"
	case StateDADPending:
		return "dad-pending"
	case StateDeleting:
		return "deleting"
	}
	return "unknown"
}

// Encap is how the home agent tunnels traffic to a binding's care-of
// address.
type Encap uint8

// Encapsulations.
const (
	// EncapIP6IP6: IPv6-in-IPv6 (RFC 2473) to an IPv6 care-of address;
	// IPv4 home address traffic goes IPv4-in-IPv6 to the same endpoint.
	EncapIP6IP6 Encap = iota + 1
	// EncapIP6IP4: IP-in-IPv4 (protocol 41, or 4 for inner IPv4) to an
	// IPv4 care-of address with no NAT on the path (RFC 5555 section 4.2).
	EncapIP6IP4
	// EncapUDP: IP-in-UDP-in-IPv4 (RFC 5555 section 4.1) to Binding.UDP,
	// the observed outer address and port, because of a NAT or F.
	EncapUDP
)

// String names the encapsulation.
func (e Encap) String() string {
	switch e {
	case EncapIP6IP6:
		return "ip6ip6"
	case EncapIP6IP4:
		return "ip6ip4"
	case EncapUDP:
		return "udp"
	}
	return "none"
}

// Binding is one binding cache entry, as a value. Slices in a Binding
// handed out by the core are never modified afterwards.
//
// Size: 240 bytes plus the prefix slices' backing arrays. With its map
// slot and heap slot the core holds about 350 bytes per binding with one
// mobile network prefix (BenchmarkMemoryPerBinding at 100,000 bindings;
// the issue 9 goal is 2 KiB).
type Binding struct {
	// HomeAddress is the key of the entry.
	HomeAddress netip.Addr
	// CareOf is the registered care-of address: IPv6, or IPv4 when the
	// registration came UDP-encapsulated over IPv4 (the IPv4 Care-of
	// Address option's value).
	CareOf netip.Addr
	// UDP is the outer IPv4 source address and port the last Binding
	// Update came from (RFC 5555); the tunnel endpoint when Encap is
	// EncapUDP. Invalid for an IPv6 care-of address.
	UDP netip.AddrPort
	// NAT reports that the IPv4 Care-of Address option differed from the
	// observed outer source address.
	NAT bool
	// Encap is the tunnel encapsulation toward the care-of address.
	Encap Encap
	// State is the entry's state.
	State State
	// Explicit reports that the Prefixes came from Mobile Network Prefix
	// options (explicit mode) rather than from configuration.
	Explicit bool
	// LastStatus is the status of the last Binding Acknowledgement sent
	// for this home address.
	LastStatus mh.Status
	// Sequence is the last accepted sequence number.
	Sequence uint16
	// Flags are the flags of the last accepted Binding Update (H, R, L, K,
	// F…); R means a mobile router (proxy NA with Router = 1), L means the
	// derived link-local address is defended too.
	Flags mh.BUFlags
	// Lifetime is the granted lifetime of the last registration.
	Lifetime time.Duration
	// Registered is when the binding was first accepted.
	Registered time.Time
	// Expires is when the entry leaves its state: the end of the granted
	// lifetime (valid), the deletion time (deleting) or the DAD deadline
	// (dad-pending).
	Expires time.Time
	// Prefixes are the IPv6 mobile network prefixes routed into the
	// tunnel.
	Prefixes []netip.Prefix
	// IPv4HomeAddress is the IPv4 home address bound to this entry, if
	// any (RFC 5555).
	IPv4HomeAddress netip.Addr
	// IPv4Prefixes are the IPv4 mobile network prefixes routed into the
	// tunnel.
	IPv4Prefixes []netip.Prefix
	// Identity is the authenticated identity (e.g. the RFC 4283 NAI) the
	// Authenticator returned, empty in insecure mode.
	Identity string
}

// Router reports whether the binding is a mobile router registration.
func (b *Binding) Router() bool { return b.Flags&mh.BUFlagR != 0 }

// LinkLocal returns the link-local address derived from the home address
// (RFC 6275 section 10.3.1, L = 1), or the zero Addr when L is clear.
func (b *Binding) LinkLocal() netip.Addr {
	if b.Flags&mh.BUFlagL == 0 {
		return netip.Addr{}
	}
	return linkLocalOf(b.HomeAddress)
}

// linkLocalOf replaces the subnet prefix of hoa with fe80::/64.
func linkLocalOf(hoa netip.Addr) netip.Addr {
	a := hoa.As16()
	copy(a[:8], []byte{0xfe, 0x80, 0, 0, 0, 0, 0, 0})
	return netip.AddrFrom16(a)
}

// forwardingEqual reports whether a and b need the same tunnels, routes
// and proxy entries.
func forwardingEqual(a, b *Binding) bool {
	return a.State == b.State && a.CareOf == b.CareOf && a.UDP == b.UDP &&
		a.Encap == b.Encap && a.NAT == b.NAT &&
		a.Flags&(mh.BUFlagR|mh.BUFlagL) == b.Flags&(mh.BUFlagR|mh.BUFlagL) &&
		a.IPv4HomeAddress == b.IPv4HomeAddress &&
		slices.Equal(a.Prefixes, b.Prefixes) && slices.Equal(a.IPv4Prefixes, b.IPv4Prefixes)
}
