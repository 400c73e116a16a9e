package mrouter

import (
	"net/netip"
	"time"

	"github.com/nemo-mobility/nemo/mh"
)

// Uplink is the shell's view of one uplink interface.
type Uplink struct {
	// Name identifies the uplink (the interface name).
	Name string
	// Priority ranks uplinks: higher is better.
	Priority int
	// Up reports that the link is usable.
	Up bool
	// CoA6 is a usable global IPv6 care-of address on it, or invalid.
	CoA6 netip.Addr
	// CoA4 is the IPv4 care-of address from DHCPv4, or invalid.
	CoA4 netip.Addr
	// AtHome reports that the home prefix is advertised on it (it is the
	// home link).
	AtHome bool
}

// BAInfo is a received Binding Acknowledgement with its context.
type BAInfo struct {
	// From is the IPv6 source of the BA (the home agent's IPv6 address).
	From netip.Addr
	// BA is the parsed message.
	BA mh.BindingAck
	// ViaUDP reports that it came UDP-encapsulated over IPv4.
	ViaUDP bool
	// Raw is the Mobility Header as received, for the Authenticator.
	Raw []byte
}

// Encap is the encapsulation of the data path to the home agent.
type Encap uint8

// Encapsulations.
const (
	EncapNone   Encap = iota // no tunnel
	EncapIP6IP6              // IPv6-in-IPv6 from an IPv6 care-of address (RFC 2473)
	EncapIP6IP4              // IPv6 (and IPv4) in IPv4, protocol 41 / 4, no NAT (RFC 5555 4.1)
	EncapUDP                 // IPv4/UDP to port 4191 (RFC 5555 4.1, NAT or F)
)

// String returns "none", "ip6ip6", "ip6ip4" or "udp".
func (e Encap) String() string {
	switch e {
	case EncapNone:
		return "none"
	case EncapIP6IP6:
		return "ip6ip6"
	case EncapIP6IP4:
		return "ip6ip4"
	case EncapUDP:
		return "udp"
	}
	return "encap?"
}

// Action is something the shell must do. The concrete types are SendBU,
// SetTunnel, ClearTunnel, AtHome, LeftHome and StateChanged, always values.
type Action interface{ isAction() }

// SendBU asks the shell to send a Binding Update now.
type SendBU struct {
	// From is the source: the IPv6 care-of address (IPv6 source, with a
	// Home Address option), the IPv4 care-of address (outer IPv4 source;
	// the inner IPv6 source is the home address) or, on the home link, the
	// home address itself.
	From netip.Addr
	// Uplink is the interface to send on.
	Uplink string
	// To is the home agent's IPv6 address (the IPv6 destination, also the
	// inner one over UDP).
	To netip.Addr
	// ToIPv4 is the home agent's IPv4 address when UDP is set.
	ToIPv4 netip.Addr
	// HomeAddressOption asks for a Home Address destination option carrying
	// the home address (set for BUs from an IPv6 care-of address).
	HomeAddressOption bool
	// UDP asks for RFC 5555 encapsulation: IPv4 from From to ToIPv4, UDP to
	// port 4191, inner IPv6 from the home address to To, no HAO.
	UDP bool
	// BU is the message. RFC 4285 options are added by the shell.
	BU mh.BindingUpdate
	// Reason says why it is sent ("first registration", "retransmission
	// 3", "refresh", ...), for the log.
	Reason string
}

// SetTunnel asks the shell to install or replace the data path to the home
// agent (idempotent: the same tunnel again changes nothing).
type SetTunnel struct {
	Uplink string
	// Local is the care-of address (IPv6 or IPv4).
	Local netip.Addr
	// Remote is the home agent's IPv6 address (EncapIP6IP6) or its IPv4
	// address (EncapIP6IP4, EncapUDP).
	Remote netip.Addr
	Encap  Encap
	// UDPRemote is the home agent's IPv4 address and port 4191 for
	// EncapUDP, invalid otherwise.
	UDPRemote netip.AddrPort
	// HomeAddress and HomeAgent are the IPv6 home address and the home
	// agent's IPv6 address.
	HomeAddress netip.Addr
	HomeAgent   netip.Addr
	// Prefixes and IPv4Prefixes are the mobile network prefixes whose
	// traffic goes into the tunnel.
	Prefixes     []netip.Prefix
	IPv4Prefixes []netip.Prefix
	// IPv4HomeAddress is the IPv4 home address (or prefix) the home agent
	// acknowledged, invalid when none.
	IPv4HomeAddress netip.Prefix
	// NATKeepalive is the keepalive interval the core uses behind a NAT
	// (0 when none is needed), for information.
	NATKeepalive time.Duration
	Reason       string
}

// ClearTunnel asks the shell to remove the data path (back home).
type ClearTunnel struct {
	Reason string
}

// AtHome tells the shell that the router is on its home link and
// deregistered: it may act as a router there (RFC 3963 5.8).
type AtHome struct {
	Uplink string
	Reason string
}

// LeftHome tells the shell that the router has left the home link: it must
// stop acting as a router there.
type LeftHome struct {
	Uplink string
	Reason string
}

// StateChanged reports a change of Status.State.
type StateChanged struct {
	From, To string
}

func (SendBU) isAction()       {}
func (SetTunnel) isAction()    {}
func (ClearTunnel) isAction()  {}
func (AtHome) isAction()       {}
func (LeftHome) isAction()     {}
func (StateChanged) isAction() {}

// sameTunnel reports whether a and b describe the same data path.
func sameTunnel(a, b SetTunnel) bool {
	return a.Uplink == b.Uplink && a.Local == b.Local && a.Remote == b.Remote &&
		a.Encap == b.Encap && a.UDPRemote == b.UDPRemote && a.HomeAgent == b.HomeAgent &&
		a.IPv4HomeAddress == b.IPv4HomeAddress && a.NATKeepalive == b.NATKeepalive
}

// Counters are the core's event counters.
type Counters struct {
	BUSent          uint64 // every transmission
	Retransmissions uint64 // transmissions after the first of an attempt
	RateDeferred    uint64 // BUs deferred by the MAX_UPDATE_RATE cap
	BAAccepted      uint64
	BARejected      uint64
	BAIgnored       uint64 // unknown source, nothing outstanding, stale sequence
	BAAuthFailed    uint64 // dropped by Config.Auth
	Resyncs         uint64 // status 135
	BEReceived      uint64
	BEIgnored       uint64 // status 2 while nothing was awaited, or for an acknowledged binding
	BRRReceived     uint64
	ICMPErrors      uint64
	Failovers       uint64 // moves to another home agent
	Moves           uint64 // care-of address changes registered
	TunnelLost      uint64 // tunnel probes unanswered (Core.TunnelLost)
	PathsAvoided    uint64 // care-of addresses passed over for PathHold
}

// Status is the binding update list entry of the current home agent, for
// `mrouter status`.
type Status struct {
	// State is "registered", "registering", "deregistering", "at home",
	// "no care-of address" or "failed: <reason>".
	State         string
	HomeAddress   netip.Addr
	HomeAgent     netip.Addr
	HomeAgentIPv4 netip.Addr
	CareOf        netip.Addr
	Uplink        string
	// LifetimeLeft is what remains of the acknowledged binding.
	LifetimeLeft time.Duration
	// LastStatus is the last BA status with its name, e.g. "0 accepted".
	LastStatus string
	// Note is the last noteworthy event (a rejection reason, an IPv4 home
	// address refusal, a failover), for the operator.
	Note string
	// Sequence is the last sequence number sent to this home agent.
	Sequence    uint16
	NATDetected bool
	Encap       Encap
	// IPv4HomeAddress is the acknowledged IPv4 home address or prefix.
	IPv4HomeAddress netip.Prefix
	Counters        Counters
}
