// Package had is the home agent daemon: the shell around the pure binding
// cache in package ha. It receives Binding Updates on the signalling
// sockets, feeds the core, sends the Binding Acknowledgements and Binding
// Errors the core asks for, runs duplicate address detection on the home
// link, and keeps the data plane (tunnels, routes, proxy ND) equal to the
// binding cache.
//
// One goroutine owns the core and all state (the event loop); socket
// readers and DAD probes only deliver events to it.
package had

import (
	"net/netip"
	"sort"
	"time"

	"github.com/nemo-mobility/nemo/config"
	"github.com/nemo-mobility/nemo/dataplane"
	"github.com/nemo-mobility/nemo/ha"
	"github.com/nemo-mobility/nemo/internal/ctl"
)

// Owner marks the kernel objects this daemon makes, so a restart can find
// and remove what a crashed run left.
const Owner = "ha"

// CoreConfig translates the daemon configuration into the core's.
func CoreConfig(c *config.HA) ha.Config {
	cc := ha.Config{
		Address:     c.Agent.Address,
		HomePrefix:  c.Agent.HomePrefix,
		MaxLifetime: c.Agent.MaxLifetime,
		NEMO:        c.Agent.MobileRoutersAllowed,
		DAD:         c.Agent.DAD,
		IPv4Address: c.Agent.IPv4Address,
	}
	if c.DSMIPv6.Enabled {
		cc.IPv4Pool = c.DSMIPv6.IPv4Pool
		cc.NATKeepalive = c.DSMIPv6.NATKeepalive
		cc.ForceUDP = c.DSMIPv6.ForceUDP
	}
	for _, r := range c.MobileRouters {
		cc.Routers = append(cc.Routers, ha.RouterConfig{
			HomeAddress: r.HomeAddress, Prefixes: r.Prefixes,
			IPv4HomeAddress: r.IPv4HomeAddress, IPv4Prefixes: r.IPv4Prefixes,
		})
	}
	return cc
}

// baseConfig is the data plane's base state: forwarding on. (Home
// addresses are defended on the home link by the daemon's own ND proxy,
// not by kernel proxy entries.)
func baseConfig(c *config.HA) dataplane.Config {
	return dataplane.Config{Forwarding: true}
}

// bindingConfig renders one binding as its data-plane group: a tunnel to
// its care-of address, accepting only the home address and the registered
// prefixes as inner sources (RFC 3963 section 9, RFC 6275 10.4.5); routes
// for the home address and the prefixes into it; a proxy ARP entry for an
// IPv4 home address on the home link. The IPv6 home address is defended by
// the daemon's ND proxy (proxySet); the prefixes never are (RFC 3963
// section 6.3). A binding that carries no traffic yet (DAD pending) or
// cannot be rendered has an empty group.
func bindingConfig(c *config.HA, b ha.Binding) dataplane.Config {
	var dc dataplane.Config
	if b.State != ha.StateValid {
		return dc
	}
	id := b.HomeAddress.String()
	t := dataplane.Tunnel{ID: id, Remote: b.CareOf}
	switch b.Encap {
	case ha.EncapIP6IP6:
		t.Encap, t.Local = dataplane.IP6IP6, c.Agent.Address
	case ha.EncapIP6IP4:
		t.Encap, t.Local = dataplane.IP6IP4, c.Agent.IPv4Address
	case ha.EncapUDP:
		t.Encap, t.Local, t.UDPRemote = dataplane.UDP, c.Agent.IPv4Address, b.UDP
		t.Remote = b.UDP.Addr()
	default:
		return dc
	}
	n := 1 + len(b.Prefixes) + len(b.IPv4Prefixes)
	if b.IPv4HomeAddress.IsValid() {
		n++
	}
	t.Allowed = make([]netip.Prefix, 0, n)
	dc.Routes = make([]dataplane.Route, 0, n)
	t.Allowed = append(t.Allowed, netip.PrefixFrom(b.HomeAddress, 128))
	t.Allowed = append(t.Allowed, b.Prefixes...)
	dc.Routes = append(dc.Routes, dataplane.Route{Dst: netip.PrefixFrom(b.HomeAddress, 128), Tunnel: id})
	for _, p := range b.Prefixes {
		dc.Routes = append(dc.Routes, dataplane.Route{Dst: p, Tunnel: id})
	}
	if b.IPv4HomeAddress.IsValid() {
		p := netip.PrefixFrom(b.IPv4HomeAddress, 32)
		t.Allowed = append(t.Allowed, p)
		dc.Routes = append(dc.Routes, dataplane.Route{Dst: p, Tunnel: id})
		dc.Proxy = append(dc.Proxy, dataplane.ProxyNeigh{Addr: b.IPv4HomeAddress, Dev: c.Agent.HomeInterface})
	}
	for _, p := range b.IPv4Prefixes {
		t.Allowed = append(t.Allowed, p)
		dc.Routes = append(dc.Routes, dataplane.Route{Dst: p, Tunnel: id})
	}
	dc.Tunnels = []dataplane.Tunnel{t}
	return dc
}

// BindingRow is one binding cache entry in `ha bindings`.
type BindingRow struct {
	HomeAddress     netip.Addr     `json:"home_address"`
	CareOf          netip.Addr     `json:"care_of"`
	UDP             netip.AddrPort `json:"udp,omitzero"`
	NAT             bool           `json:"nat"`
	Encap           string         `json:"encap"`
	State           string         `json:"state"`
	Router          bool           `json:"mobile_router"`
	Sequence        uint16         `json:"sequence"`
	LifetimeLeft    string         `json:"lifetime_left"`
	LastStatus      string         `json:"last_status"`
	Prefixes        []netip.Prefix `json:"prefixes"`
	IPv4HomeAddress netip.Addr     `json:"ipv4_home_address,omitzero"`
	IPv4Prefixes    []netip.Prefix `json:"ipv4_prefixes,omitempty"`
	Identity        string         `json:"identity,omitempty"`
	TxPackets       uint64         `json:"tx_packets"`
	RxPackets       uint64         `json:"rx_packets"`
}

// BindingsReport is the answer to `ha bindings`.
type BindingsReport struct {
	Bindings  []BindingRow      `json:"bindings"`
	Counters  map[string]uint64 `json:"counters"`
	Dataplane string            `json:"dataplane"`
	Runtime   ctl.RuntimeStats  `json:"runtime"`
}

func report(now time.Time, bs []ha.Binding, ctr ha.Counters, st dataplane.Stats, kind string) BindingsReport {
	r := BindingsReport{Bindings: []BindingRow{}, Counters: ctr.Map(), Dataplane: kind, Runtime: ctl.ReadRuntime()}
	for _, b := range bs {
		left := b.Expires.Sub(now)
		if left < 0 {
			left = 0
		}
		row := BindingRow{
			HomeAddress: b.HomeAddress, CareOf: b.CareOf, UDP: b.UDP, NAT: b.NAT, Encap: b.Encap.String(),
			State: b.State.String(), Router: b.Router(), Sequence: b.Sequence,
			LifetimeLeft: left.Round(time.Second).String(), LastStatus: b.LastStatus.String(),
			Prefixes: b.Prefixes, IPv4HomeAddress: b.IPv4HomeAddress, IPv4Prefixes: b.IPv4Prefixes, Identity: b.Identity,
		}
		if ts, ok := st.Tunnels[b.HomeAddress.String()]; ok {
			row.TxPackets, row.RxPackets = ts.TxPackets, ts.RxPackets
		}
		r.Bindings = append(r.Bindings, row)
	}
	sort.Slice(r.Bindings, func(i, j int) bool { return r.Bindings[i].HomeAddress.Less(r.Bindings[j].HomeAddress) })
	return r
}
