package dataplane

import (
	"errors"
	"fmt"
	"net/netip"
)

// Sentinel errors. Functions wrap them with context; test with errors.Is.
var (
	// ErrInvalidConfig reports a Config that cannot be installed.
	ErrInvalidConfig = errors.New("dataplane: invalid config")
	// ErrUnsupported reports a feature the backend or platform lacks.
	ErrUnsupported = errors.New("dataplane: unsupported")
	// ErrClosed reports use of a backend after Close.
	ErrClosed = errors.New("dataplane: backend closed")
	// ErrNoUDPSender reports a UDP tunnel with no UDPSender to carry it.
	ErrNoUDPSender = errors.New("dataplane: no UDP sender for UDP encapsulation")
	// ErrMalformedPacket reports a packet too short or inconsistent to
	// forward.
	ErrMalformedPacket = errors.New("dataplane: malformed packet")
)

// Encap is the encapsulation of a tunnel.
type Encap int

// Encapsulations.
const (
	// IP6IP6 carries IPv6 (and IPv4) packets in IPv6 (RFC 2473; IPv4
	// inner is protocol 4 in IPv6, RFC 5555 section 4.1).
	IP6IP6 Encap = iota + 1
	// IP6IP4 carries IPv6 packets (protocol 41) and IPv4 packets
	// (protocol 4) in IPv4 (RFC 4213, RFC 5555 section 4.1).
	IP6IP4
	// UDP carries IPv6 or IPv4 packets directly after a UDP header over
	// IPv4, with no further header (RFC 5555 section 4.1, NAT traversal).
	UDP
)

// String returns the name used in logs and `ip` text.
func (e Encap) String() string {
	switch e {
	case IP6IP6:
		return "ip6ip6"
	case IP6IP4:
		return "ip6ip4"
	case UDP:
		return "udp"
	}
	return fmt.Sprintf("encap(%d)", int(e))
}

// Tunnel is one bidirectional tunnel to a peer.
type Tunnel struct {
	// ID is a stable name (a home address, "ha", …). Routes name tunnels
	// by ID; kernel link names are derived from it.
	ID string
	// Local and Remote are the outer addresses: IPv6 for IP6IP6, IPv4 for
	// IP6IP4 and UDP (for UDP, Local may be left zero).
	Local, Remote netip.Addr
	// Encap selects the encapsulation.
	Encap Encap
	// UDPLocal and UDPRemote are the outer UDP endpoints for Encap UDP.
	// UDPRemote is where packets go and whose packets InjectUDP accepts;
	// UDPLocal is informational for the userspace backend (the
	// UDPSender's socket decides the source).
	UDPLocal, UDPRemote netip.AddrPort
	// Allowed lists the inner source prefixes accepted from this tunnel
	// (ingress filtering, RFC 3963 section 9, RFC 6275 section 10.4.5):
	// the home address /128, the mobile network prefixes, the IPv4 home
	// address /32 and IPv4 prefixes. A mobile router's tunnel to its home
	// agent lists ::/0 and 0.0.0.0/0. Empty means nothing is accepted.
	Allowed []netip.Prefix
	// Device is the outer device to send on (the mobile router's
	// uplink); empty lets the routing table decide.
	Device string
}

// Route sends Dst into a tunnel (Tunnel, by ID) or out of a device (Dev).
type Route struct {
	// Dst is the destination prefix.
	Dst netip.Prefix
	// Tunnel names the tunnel by Tunnel.ID; exclusive with Dev.
	Tunnel string
	// Dev names an existing device; exclusive with Tunnel.
	Dev string
	// Via is an optional gateway of Dst's family.
	Via netip.Addr
	// Table is the routing table; 0 means main (254).
	Table int
	// Metric is the route priority; 0 means the kernel default (1024 for
	// IPv6, 0 for IPv4).
	Metric int
	// Src is an optional preferred source address of Dst's family.
	Src netip.Addr
}

// Family selects IPv4 or IPv6 where no address says which.
type Family int

// Address families.
const (
	// IPv6 is the IPv6 family.
	IPv6 Family = 6
	// IPv4 is the IPv4 family.
	IPv4 Family = 4
)

// Rule is a policy routing rule: traffic matching From (and Mark, IIF)
// looks up Table.
type Rule struct {
	// Priority orders the rule (ip rule pref); must be positive.
	Priority int
	// Family is required when From is unset; otherwise it must agree
	// with From or be zero.
	Family Family
	// From is the source prefix; zero matches all sources.
	From netip.Prefix
	// To is the destination prefix; zero matches all destinations.
	To netip.Prefix
	// IIF is the input interface; empty matches any.
	IIF string
	// Mark and Mask match the firewall mark when Mark is non-zero; a zero
	// Mask means 0xffffffff.
	Mark, Mask uint32
	// Table is the table to look up; must be positive.
	Table int
}

// ProxyNeigh is a proxy neighbour entry: the kernel answers Neighbor
// Solicitations (IPv6) or ARP requests (IPv4) for Addr on Dev.
type ProxyNeigh struct {
	// Addr is the address answered for.
	Addr netip.Addr
	// Dev is the device the answers go out on (the home link).
	Dev string
	// Router sets the Router flag in proxied Neighbor Advertisements.
	Router bool
}

// Config is the whole desired data-plane state.
type Config struct {
	// Tunnels to the peers.
	Tunnels []Tunnel
	// Routes into tunnels or out of devices.
	Routes []Route
	// Rules for policy routing.
	Rules []Rule
	// Proxy neighbour entries.
	Proxy []ProxyNeigh
	// Forwarding turns on IPv6 and IPv4 forwarding
	// (net.ipv6.conf.all.forwarding, net.ipv4.ip_forward); the previous
	// values are restored when it is turned off again or on Close.
	Forwarding bool
	// ProxyNDP names a device on which net.ipv6.conf.<dev>.proxy_ndp is
	// turned on (and restored later); empty leaves it alone.
	ProxyNDP string
}

// Validate checks c for consistency. The error wraps ErrInvalidConfig.
func (c Config) Validate() error {
	ids := make(map[string]Tunnel, len(c.Tunnels))
	remotes := make(map[netip.Addr]string)
	udpRemotes := make(map[netip.AddrPort]string)
	for i, t := range c.Tunnels {
		if err := t.validate(); err != nil {
			return fmt.Errorf("%w: tunnel %d (%q): %v", ErrInvalidConfig, i, t.ID, err)
		}
		if _, dup := ids[t.ID]; dup {
			return fmt.Errorf("%w: duplicate tunnel ID %q", ErrInvalidConfig, t.ID)
		}
		ids[t.ID] = t
		if t.Encap == UDP {
			if other, dup := udpRemotes[t.UDPRemote]; dup {
				return fmt.Errorf("%w: tunnels %q and %q share UDP remote %v", ErrInvalidConfig, other, t.ID, t.UDPRemote)
			}
			udpRemotes[t.UDPRemote] = t.ID
			continue
		}
		if other, dup := remotes[t.Remote]; dup {
			return fmt.Errorf("%w: tunnels %q and %q share remote %v", ErrInvalidConfig, other, t.ID, t.Remote)
		}
		remotes[t.Remote] = t.ID
	}
	for i, r := range c.Routes {
		if err := r.validate(ids); err != nil {
			return fmt.Errorf("%w: route %d (%v): %v", ErrInvalidConfig, i, r.Dst, err)
		}
	}
	for i, r := range c.Rules {
		if err := r.validate(); err != nil {
			return fmt.Errorf("%w: rule %d (pref %d): %v", ErrInvalidConfig, i, r.Priority, err)
		}
	}
	for i, p := range c.Proxy {
		if !p.Addr.IsValid() || p.Addr.Is4In6() || p.Dev == "" {
			return fmt.Errorf("%w: proxy entry %d: need an address and a device", ErrInvalidConfig, i)
		}
	}
	return nil
}

func (t Tunnel) validate() error {
	if t.ID == "" {
		return errors.New("empty ID")
	}
	for _, p := range t.Allowed {
		if !p.IsValid() {
			return errors.New("invalid Allowed prefix")
		}
	}
	switch t.Encap {
	case IP6IP6:
		if !t.Local.Is6() || !t.Remote.Is6() || t.Local.Is4In6() || t.Remote.Is4In6() {
			return errors.New("ip6ip6 needs IPv6 Local and Remote")
		}
	case IP6IP4:
		if !t.Local.Is4() || !t.Remote.Is4() {
			return errors.New("ip6ip4 needs IPv4 Local and Remote")
		}
	case UDP:
		if !t.UDPRemote.IsValid() || !t.UDPRemote.Addr().Is4() || t.UDPRemote.Port() == 0 {
			return errors.New("udp needs an IPv4 UDPRemote with a port")
		}
		if t.Local.IsValid() && !t.Local.Is4() {
			return errors.New("udp Local must be IPv4")
		}
	default:
		return fmt.Errorf("unknown encapsulation %v", t.Encap)
	}
	return nil
}

func (r Route) validate(tunnels map[string]Tunnel) error {
	if !r.Dst.IsValid() || r.Dst.Addr().Is4In6() {
		return errors.New("invalid destination")
	}
	if (r.Tunnel == "") == (r.Dev == "") {
		return errors.New("exactly one of Tunnel and Dev must be set")
	}
	if r.Tunnel != "" {
		if _, ok := tunnels[r.Tunnel]; !ok {
			return fmt.Errorf("unknown tunnel %q", r.Tunnel)
		}
	}
	if r.Via.IsValid() && r.Via.Is4() != r.Dst.Addr().Is4() {
		return errors.New("Via family differs from Dst")
	}
	if r.Src.IsValid() && r.Src.Is4() != r.Dst.Addr().Is4() {
		return errors.New("Src family differs from Dst")
	}
	if r.Table < 0 || r.Metric < 0 {
		return errors.New("negative table or metric")
	}
	return nil
}

func (r Rule) validate() error {
	if r.Priority <= 0 || r.Table <= 0 {
		return errors.New("priority and table must be positive")
	}
	if r.To.IsValid() {
		if r.To.Addr().Is4In6() {
			return errors.New("invalid To")
		}
		if r.From.IsValid() && r.From.Addr().Is4() != r.To.Addr().Is4() {
			return errors.New("From and To differ in family")
		}
		if r.Family != 0 && r.Family != familyOf(r.To.Addr()) {
			return errors.New("Family differs from To")
		}
		return nil
	}
	if r.From.IsValid() {
		if r.From.Addr().Is4In6() {
			return errors.New("invalid From")
		}
		if r.Family != 0 && r.Family != familyOf(r.From.Addr()) {
			return errors.New("Family differs from From")
		}
		return nil
	}
	if r.Family != IPv4 && r.Family != IPv6 {
		return errors.New("Family is required when From is unset")
	}
	return nil
}

func familyOf(a netip.Addr) Family {
	if a.Is4() {
		return IPv4
	}
	return IPv6
}

// family returns the rule's address family.
func (r Rule) family() Family {
	if r.From.IsValid() {
		return familyOf(r.From.Addr())
	}
	if r.To.IsValid() {
		return familyOf(r.To.Addr())
	}
	return r.Family
}

// TunnelStats counts one tunnel's traffic.
type TunnelStats struct {
	// TxPackets and TxBytes count inner packets sent into the tunnel.
	TxPackets, TxBytes uint64
	// RxPackets and RxBytes count inner packets accepted from the tunnel.
	RxPackets, RxBytes uint64
	// DropIngress counts decapsulated packets whose inner source is not
	// in Tunnel.Allowed.
	DropIngress uint64
	// TxErrors counts packets the outer socket refused.
	TxErrors uint64
}

// Stats is a snapshot of a backend's counters.
type Stats struct {
	// Tunnels maps Tunnel.ID to its counters.
	Tunnels map[string]TunnelStats
	// DropNoRoute counts packets from the TUN device whose inner
	// destination matches no tunnel route (userspace backend).
	DropNoRoute uint64
	// DropUnknownPeer counts encapsulated packets from an outer source
	// that is no configured tunnel's Remote.
	DropUnknownPeer uint64
	// DropMalformed counts packets too short or inconsistent to parse.
	DropMalformed uint64
}

// Backend installs a Config.
type Backend interface {
	// Name returns "kernel" or "userspace".
	Name() string
	// Set converges the system to cfg: adds and replaces first, then
	// deletes what is no longer wanted. Set with an unchanged cfg does
	// nothing. On error, what was applied stays recorded and the next Set
	// retries the rest.
	Set(cfg Config) error
	// Update replaces the groups named in changes (GroupChange), each
	// independently of the others and of the base that Set replaces; the
	// whole desired state is the base and every group. Refused and failed
	// changes come back as joined *GroupError values (FailedGroups).
	Update(changes []GroupChange) error
	// Close removes everything the backend made and restores the sysctls
	// it changed. It is idempotent.
	Close() error
	// Stats returns the counters.
	Stats() Stats
}

// UDPSender sends one UDP datagram; *net.UDPConn implements it. The daemon
// hands in its signalling socket (the mobile router's registration socket,
// the home agent's port-4191 socket) so that data and signalling share the
// NAT mapping (RFC 5555 section 4.5).
type UDPSender interface {
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
}
