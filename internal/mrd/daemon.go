// Package mrd is the mobile router daemon: the shell around the pure
// registration core in package mrouter. It watches the uplinks (netlink
// link and address events, router advertisements), feeds the core, sends
// the Binding Updates the core asks for, receives Binding Acknowledgements
// and installs the tunnel and policy routes through package dataplane.
//
// One goroutine owns the core and all state (the event loop); socket
// readers and netlink subscriptions only deliver events to it.
package mrd

import (
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"time"

	"github.com/nemo-mobility/nemo/config"
	"github.com/nemo-mobility/nemo/dataplane"
	"github.com/nemo-mobility/nemo/internal/ctl"
	"github.com/nemo-mobility/nemo/mh"
	"github.com/nemo-mobility/nemo/mrouter"
)

// Owner marks the kernel objects (links, routes, rules) this daemon makes,
// so a restart can find and remove what a crashed run left.
const Owner = "mrouter"

// tunnelID is the data plane's name for the tunnel to the home agent.
const tunnelID = "ha"

// UplinkStatus is one uplink in `mrouter status`.
type UplinkStatus struct {
	Name      string     `json:"name"`
	Interface string     `json:"interface"`
	Priority  int        `json:"priority"`
	Up        bool       `json:"up"`
	CoA6      netip.Addr `json:"coa6,omitzero"`
	CoA4      netip.Addr `json:"coa4,omitzero"`
	AtHome    bool       `json:"at_home"`
	Routers   int        `json:"routers"`
}

// StatusReport is the answer to `mrouter status`.
type StatusReport struct {
	Binding   BindingStatus    `json:"binding"`
	Uplinks   []UplinkStatus   `json:"uplinks"`
	Dataplane string           `json:"dataplane"`
	Tunnel    *TunnelStatus    `json:"tunnel,omitempty"`
	Handover  *Handover        `json:"last_handover,omitempty"`
	Check     CheckStatus      `json:"tunnel_check"`
	Runtime   ctl.RuntimeStats `json:"runtime"`
}

// CheckStatus is the tunnel check's state (tunnelCheck).
type CheckStatus struct {
	// Period is the probe period, "0s" when the check is off.
	Period string `json:"period"`
	// Probes and Losses count the probes sent and the paths found lost.
	Probes uint64 `json:"probes"`
	Losses uint64 `json:"losses"`
	// LastLoss is when a path was last found lost, and Silent how long
	// nothing had come from the tunnel then.
	LastLoss time.Time `json:"last_loss,omitzero"`
	Silent   string    `json:"silent,omitempty"`
	SilentNs int64     `json:"silent_ns,omitempty"`
}

// BindingStatus is the binding update list entry.
type BindingStatus struct {
	State           string           `json:"state"`
	HomeAddress     netip.Addr       `json:"home_address"`
	HomeAgent       netip.Addr       `json:"home_agent"`
	CareOf          netip.Addr       `json:"care_of,omitzero"`
	Uplink          string           `json:"uplink,omitempty"`
	LifetimeLeft    string           `json:"lifetime_left"`
	LastStatus      string           `json:"last_status,omitempty"`
	Note            string           `json:"note,omitempty"`
	Sequence        uint16           `json:"sequence"`
	NATDetected     bool             `json:"nat_detected"`
	Encap           string           `json:"encap"`
	IPv4HomeAddress netip.Prefix     `json:"ipv4_home_address,omitzero"`
	Counters        mrouter.Counters `json:"counters"`
}

// Handover is the timing of the last registration of a new care-of
// address, measured from the moment the daemon saw it usable (address
// non-tentative and a live router on its uplink) or, when the router left
// home after that (it stays at home while the home link works), from the
// moment it left: Start says which.
type Handover struct {
	CareOf netip.Addr `json:"care_of"`
	Uplink string     `json:"uplink"`
	Start  string     `json:"start"`
	ToBU   string     `json:"usable_to_bu"`
	ToBA   string     `json:"usable_to_ba"`
	ToBUNs int64      `json:"usable_to_bu_ns"`
	ToBANs int64      `json:"usable_to_ba_ns"`
	At     time.Time  `json:"at"`
}

// What a Handover's figures are measured from.
const (
	HandoverFromUsable   = "care-of address usable"
	HandoverFromLeftHome = "home link lost"
	HandoverFromPathLost = "tunnel path lost"
)

// TunnelStatus is the installed tunnel and its counters.
type TunnelStatus struct {
	Local     netip.Addr `json:"local"`
	Remote    netip.Addr `json:"remote"`
	Encap     string     `json:"encap"`
	Uplink    string     `json:"uplink"`
	TxPackets uint64     `json:"tx_packets"`
	RxPackets uint64     `json:"rx_packets"`
	Drops     uint64     `json:"drops"`
}

// CoreConfig translates the daemon configuration into the core's.
func CoreConfig(c *config.MRouter) mrouter.Config {
	cc := mrouter.Config{
		HomeAddress:       c.Router.HomeAddress,
		HomePrefix:        c.Router.HomePrefix,
		Prefixes:          c.MobileNetwork.Prefixes,
		IPv4Prefixes:      c.MobileNetwork.IPv4Prefixes,
		Implicit:          c.Router.Mode == config.ModeImplicit,
		Lifetime:          c.Router.Lifetime,
		IPv4HomeAddress:   c.Router.IPv4HomeAddress,
		RequestIPv4Prefix: c.Router.RequestIPv4Prefix,
		ForceUDP:          c.Router.ForceUDP,
		PreferIPv4:        c.Router.PreferIPv4,
		NATKeepalive:      c.Router.NATKeepalive,
		PathHold:          c.Router.PathHold,
	}
	for _, h := range c.HomeAgents {
		cc.HomeAgents = append(cc.HomeAgents, mrouter.HomeAgent{Address: h.Address, IPv4: h.IPv4Address, Preferred: h.Preferred})
	}
	return cc
}

// tunnelConfig is the data-plane state for an installed tunnel: the tunnel
// itself, a table whose default routes lead into it, and rules that send
// only traffic sourced from the mobile network prefixes and the home
// address to that table (the router's own traffic stays on its uplinks).
// Traffic between mobile network prefixes stays local (the "to" rules).
func tunnelConfig(c *config.MRouter, t mrouter.SetTunnel) dataplane.Config {
	table := int(c.Routing.TableBase)
	prio := int(c.Routing.RulePriority)
	tun := dataplane.Tunnel{
		ID:     tunnelID,
		Local:  t.Local,
		Remote: t.Remote,
		Device: t.Uplink,
		// The home agent may send anything for the mobile network.
		Allowed: []netip.Prefix{netip.MustParsePrefix("::/0"), netip.MustParsePrefix("0.0.0.0/0")},
	}
	switch t.Encap {
	case mrouter.EncapIP6IP6:
		tun.Encap = dataplane.IP6IP6
	case mrouter.EncapIP6IP4:
		tun.Encap = dataplane.IP6IP4
	case mrouter.EncapUDP:
		tun.Encap = dataplane.UDP
		tun.UDPRemote = t.UDPRemote
	}
	dc := dataplane.Config{Tunnels: []dataplane.Tunnel{tun}, Forwarding: true}
	dc.Routes = append(dc.Routes, dataplane.Route{Dst: netip.MustParsePrefix("::/0"), Tunnel: tunnelID, Table: table})
	var v4 []netip.Prefix
	v4 = append(v4, t.IPv4Prefixes...)
	if t.IPv4HomeAddress.IsValid() {
		v4 = append(v4, t.IPv4HomeAddress)
	}
	if len(v4) > 0 {
		dc.Routes = append(dc.Routes, dataplane.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Tunnel: tunnelID, Table: table})
	}
	srcs := append([]netip.Prefix{netip.PrefixFrom(t.HomeAddress, 128)}, t.Prefixes...)
	srcs = append(srcs, v4...)
	for _, p := range append(append([]netip.Prefix{}, t.Prefixes...), t.IPv4Prefixes...) {
		// Local delivery inside the mobile network first.
		dc.Rules = append(dc.Rules, dataplane.Rule{Priority: prio, From: p, To: p, Table: 254})
	}
	for _, p := range srcs {
		dc.Rules = append(dc.Rules, dataplane.Rule{Priority: prio + 1, From: p, Table: table})
	}
	return dc
}

// state is owned by the event loop.
type state struct {
	cfg     *config.MRouter
	log     *slog.Logger
	core    *mrouter.Core
	uplinks map[string]*uplinkView // by interface name
	byIndex map[int]*uplinkView
	tunnel  *mrouter.SetTunnel
	dp      dataplane.Backend
	dpKind  string
	// lastRS rate-limits router solicitations per uplink.
	lastRS map[string]time.Time
	// usable records when each care-of address became usable, and
	// firstBU when the first BU left from it, for the handover figures.
	usable  map[netip.Addr]time.Time
	firstBU map[netip.Addr]time.Time
	// leftHome is when the router last left the home link, pathLost when
	// the tunnel check last found the tunnel's path lost.
	leftHome time.Time
	pathLost time.Time
	last     *Handover
	// check watches the tunnel's path to the home agent.
	check      tunnelCheck
	lastSilent time.Duration
}

// notePathLost records that the tunnel check found the path through the
// care-of address lost at now, after silent without anything from the
// tunnel, and restarts the handover figures of the other usable care-of
// addresses: the move it causes is measured from the detection.
func (s *state) notePathLost(now time.Time, lost netip.Addr, silent time.Duration) {
	s.pathLost, s.lastSilent = now, silent
	for a := range s.usable {
		if a != lost {
			s.usable[a] = now
			delete(s.firstBU, a)
		}
	}
}

// noteUsable records the care-of addresses the uplinks offer now, keeping
// the time each one was first seen usable, and forgets vanished ones.
func (s *state) noteUsable(now time.Time) {
	seen := map[netip.Addr]bool{}
	for _, v := range s.uplinks {
		u := v.toUplink(s.cfg.Router.HomePrefix)
		for _, a := range []netip.Addr{u.CoA6, u.CoA4} {
			if !a.IsValid() {
				continue
			}
			seen[a] = true
			if _, ok := s.usable[a]; !ok {
				s.usable[a] = now
			}
		}
	}
	for a := range s.usable {
		if !seen[a] {
			delete(s.usable, a)
			delete(s.firstBU, a)
		}
	}
}

// noteBU records the first BU sent from a care-of address.
func (s *state) noteBU(now time.Time, from netip.Addr) {
	if u, ok := s.usable[from]; !ok || u.IsZero() {
		return // unknown, or its handover was already measured
	}
	if _, ok := s.firstBU[from]; !ok {
		s.firstBU[from] = now
	}
}

// noteRegistered completes the handover figures when a tunnel from a new
// care-of address is installed.
func (s *state) noteRegistered(now time.Time, local netip.Addr, uplink string) *Handover {
	u, ok := s.usable[local]
	if !ok || u.IsZero() {
		return nil
	}
	bu, ok := s.firstBU[local]
	if !ok {
		return nil
	}
	start := HandoverFromUsable
	switch {
	case s.leftHome.After(u) && !s.leftHome.After(bu):
		u, start = s.leftHome, HandoverFromLeftHome
	case u.Equal(s.pathLost):
		start = HandoverFromPathLost
	}
	h := &Handover{CareOf: local, Uplink: uplink, Start: start, ToBU: bu.Sub(u).String(), ToBA: now.Sub(u).String(),
		ToBUNs: int64(bu.Sub(u)), ToBANs: int64(now.Sub(u)), At: now}
	s.last = h
	// Measured once per address: a refresh is not a handover.
	delete(s.firstBU, local)
	s.usable[local] = time.Time{}
	return h
}

func (s *state) status(now time.Time) StatusReport {
	st := s.core.Status(now)
	r := StatusReport{
		Dataplane: s.dpKind,
		Runtime:   ctl.ReadRuntime(),
		Binding: BindingStatus{
			State: st.State, HomeAddress: st.HomeAddress, HomeAgent: st.HomeAgent, CareOf: st.CareOf,
			Uplink: st.Uplink, LifetimeLeft: st.LifetimeLeft.Round(time.Second).String(), LastStatus: st.LastStatus,
			Note: st.Note, Sequence: st.Sequence, NATDetected: st.NATDetected, Encap: st.Encap.String(),
			IPv4HomeAddress: st.IPv4HomeAddress, Counters: st.Counters,
		},
	}
	for _, v := range s.uplinks {
		u := v.toUplink(s.cfg.Router.HomePrefix)
		r.Uplinks = append(r.Uplinks, UplinkStatus{
			Name: v.name, Interface: v.ifname, Priority: v.priority, Up: v.up,
			CoA6: u.CoA6, CoA4: u.CoA4, AtHome: u.AtHome, Routers: len(v.routers),
		})
	}
	r.Handover = s.last
	r.Check = CheckStatus{Period: s.cfg.Router.TunnelProbe.String(), Probes: s.check.probes, Losses: s.check.losses,
		LastLoss: s.pathLost}
	if !s.pathLost.IsZero() {
		r.Check.Silent, r.Check.SilentNs = s.lastSilent.Round(time.Millisecond).String(), int64(s.lastSilent)
	}
	sort.Slice(r.Uplinks, func(i, j int) bool {
		return r.Uplinks[i].Priority > r.Uplinks[j].Priority || (r.Uplinks[i].Priority == r.Uplinks[j].Priority && r.Uplinks[i].Name < r.Uplinks[j].Name)
	})
	if s.tunnel != nil {
		ts := &TunnelStatus{Local: s.tunnel.Local, Remote: s.tunnel.Remote, Encap: s.tunnel.Encap.String(), Uplink: s.tunnel.Uplink}
		if st, ok := s.dp.Stats().Tunnels[tunnelID]; ok {
			ts.TxPackets, ts.RxPackets, ts.Drops = st.TxPackets, st.RxPackets, st.DropIngress+st.TxErrors
		}
		r.Tunnel = ts
	}
	return r
}

// buildBUPacket turns a SendBU action into the whole IPv6 packet to send
// from an IPv6 care-of address (or from the home address at home).
func buildBUPacket(hoa netip.Addr, a mrouter.SendBU) ([]byte, error) {
	p := mh.Packet{Src: a.From, Dst: a.To, HopLimit: 64, Message: a.BU}
	if a.HomeAddressOption {
		p.HomeAddress = hoa
	}
	pkt, err := mh.BuildPacket(p)
	if err != nil {
		return nil, fmt.Errorf("building BU: %w", err)
	}
	return pkt, nil
}
