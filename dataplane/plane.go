package dataplane

import (
	"fmt"
	"net/netip"
	"sync/atomic"
)

// tunnelCounters are one tunnel's counters; they survive a Set that keeps
// the tunnel.
type tunnelCounters struct {
	txPackets, txBytes, rxPackets, rxBytes, dropIngress, txErrors atomic.Uint64
}

func (c *tunnelCounters) snapshot() TunnelStats {
	return TunnelStats{
		TxPackets: c.txPackets.Load(), TxBytes: c.txBytes.Load(),
		RxPackets: c.rxPackets.Load(), RxBytes: c.rxBytes.Load(),
		DropIngress: c.dropIngress.Load(), TxErrors: c.txErrors.Load(),
	}
}

// planeCounters are the plane-wide drop counters.
type planeCounters struct {
	dropNoRoute, dropUnknownPeer, dropMalformed atomic.Uint64
}

// planeTunnel is a tunnel as the forwarding loops see it.
type planeTunnel struct {
	cfg     Tunnel
	ctr     *tunnelCounters
	allowed *prefixTable[struct{}]
	tx      txState // OS-specific send state, prepared by Set
}

// snapshot is an immutable forwarding table; Set swaps in a new one
// atomically, the loops load it once per packet.
type snapshot struct {
	byID     map[string]*planeTunnel
	byRemote map[netip.Addr]*planeTunnel     // raw-socket tunnels by outer peer address
	byUDP    map[netip.AddrPort]*planeTunnel // UDP tunnels by outer peer endpoint
	routes   *prefixTable[*planeTunnel]      // inner destination → tunnel
}

var emptySnapshot = &snapshot{routes: newPrefixTable[*planeTunnel](nil, nil)}

// buildSnapshot makes the forwarding table for cfg (already validated).
// ctrs holds the counters of tunnels that exist already and receives new
// ones; prep fills in the send state of a tunnel.
func buildSnapshot(cfg Config, ctrs map[string]*tunnelCounters, prep func(Tunnel) (txState, error)) (*snapshot, error) {
	s := &snapshot{
		byID:     make(map[string]*planeTunnel, len(cfg.Tunnels)),
		byRemote: make(map[netip.Addr]*planeTunnel),
		byUDP:    make(map[netip.AddrPort]*planeTunnel),
	}
	for _, t := range cfg.Tunnels {
		c := ctrs[t.ID]
		if c == nil {
			c = new(tunnelCounters)
			ctrs[t.ID] = c
		}
		tx, err := prep(t)
		if err != nil {
			return nil, fmt.Errorf("tunnel %q: %w", t.ID, err)
		}
		unit := make([]struct{}, len(t.Allowed))
		pt := &planeTunnel{cfg: t, ctr: c, allowed: newPrefixTable(t.Allowed, unit), tx: tx}
		s.byID[t.ID] = pt
		if t.Encap == UDP {
			s.byUDP[t.UDPRemote] = pt
		} else {
			s.byRemote[t.Remote] = pt
		}
	}
	var dsts []netip.Prefix
	var tuns []*planeTunnel
	seen := make(map[netip.Prefix]string)
	for _, r := range cfg.Routes {
		if r.Tunnel == "" {
			continue
		}
		d := r.Dst.Masked()
		if other, ok := seen[d]; ok && other != r.Tunnel {
			return nil, fmt.Errorf("%w: %v routed into tunnels %q and %q (the userspace plane matches by destination only)", ErrInvalidConfig, d, other, r.Tunnel)
		}
		seen[d] = r.Tunnel
		dsts = append(dsts, d)
		tuns = append(tuns, s.byID[r.Tunnel])
	}
	s.routes = newPrefixTable(dsts, tuns)
	return s, nil
}

// route is the outbound ("encapsulate") decision for a packet read from
// the TUN device: it parses the inner header, finds the tunnel by longest
// prefix match on the inner destination and counts. It returns the packet
// trimmed to its stated length. It does not allocate.
func (s *snapshot) route(pkt []byte, pc *planeCounters) (*planeTunnel, innerHeader, []byte, bool) {
	h, err := parseInner(pkt)
	if err != nil {
		pc.dropMalformed.Add(1)
		return nil, innerHeader{}, nil, false
	}
	t, ok := s.routes.lookup(h.dst)
	if !ok {
		pc.dropNoRoute.Add(1)
		return nil, innerHeader{}, nil, false
	}
	return t, h, pkt[:h.length], true
}

// accept is the inbound ("decapsulate") decision for an inner packet
// received from outer peer t (nil: unknown peer): it parses the inner
// header, checks its version against the one the outer protocol announced
// (wantVersion 0 accepts either, as UDP encapsulation does), applies the
// ingress filter and counts. It returns the inner packet trimmed to its
// stated length. It does not allocate.
func (t *planeTunnel) accept(pkt []byte, wantVersion int, pc *planeCounters) ([]byte, bool) {
	if t == nil {
		pc.dropUnknownPeer.Add(1)
		return nil, false
	}
	h, err := parseInner(pkt)
	if err != nil || (wantVersion != 0 && h.version != wantVersion) {
		pc.dropMalformed.Add(1)
		return nil, false
	}
	if _, ok := t.allowed.lookup(h.src); !ok {
		t.ctr.dropIngress.Add(1)
		return nil, false
	}
	t.ctr.rxPackets.Add(1)
	t.ctr.rxBytes.Add(uint64(h.length))
	return pkt[:h.length], true
}

// stats returns the counters of the tunnels in s.
func (s *snapshot) stats(pc *planeCounters) Stats {
	st := Stats{
		Tunnels:         make(map[string]TunnelStats, len(s.byID)),
		DropNoRoute:     pc.dropNoRoute.Load(),
		DropUnknownPeer: pc.dropUnknownPeer.Load(),
		DropMalformed:   pc.dropMalformed.Load(),
	}
	for id, t := range s.byID {
		st.Tunnels[id] = t.ctr.snapshot()
	}
	return st
}
