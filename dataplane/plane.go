package dataplane

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"
)

// tunnelCounters are one tunnel's counters; they survive a change that
// keeps the tunnel.
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

// planeTunnel is a tunnel as the forwarding loops see it. It is immutable
// once published: a change makes a new one (sharing the counters).
type planeTunnel struct {
	cfg   Tunnel
	group string
	ctr   *tunnelCounters
	tx    txState // OS-specific send state
}

// allows reports whether the ingress filter lets an inner source through:
// a tunnel lists a handful of prefixes (home address, mobile network
// prefixes), so a scan beats a table.
func (t *planeTunnel) allows(src netip.Addr) bool {
	for _, p := range t.cfg.Allowed {
		if p.Contains(src) {
			return true
		}
	}
	return false
}

// GroupChange replaces one group of the desired state: the tunnels,
// routes and proxy entries of one binding, say. A zero Config (or Delete)
// removes the group.
type GroupChange struct {
	// ID names the group; the empty ID is the base group that Set
	// replaces.
	ID string
	// Config is the group's whole desired state. Only the base group may
	// set Forwarding, ProxyNDP or Rules, or route to a device; other
	// groups hold tunnels, routes into them and proxy entries.
	Config Config
	// Delete removes the group.
	Delete bool
}

// GroupError reports a change that was refused or failed. A refused
// change (invalid, or conflicting with another group) changes nothing; a
// failed kernel operation stays recorded, and the next change of the group
// retries it.
type GroupError struct {
	ID  string
	Err error
}

func (e *GroupError) Error() string { return fmt.Sprintf("group %q: %v", e.ID, e.Err) }

// Unwrap returns the cause.
func (e *GroupError) Unwrap() error { return e.Err }

// FailedGroups returns the IDs of the groups an Update error names.
func FailedGroups(err error) []string {
	var ids []string
	var walk func(error)
	walk = func(err error) {
		if ge, ok := err.(*GroupError); ok {
			ids = append(ids, ge.ID)
			return
		}
		switch e := err.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	if err != nil {
		walk(err)
	}
	return ids
}

// plane is the userspace backend's forwarding state, without the I/O: the
// groups, the tunnels by ID and the lock-free tables the packet loops
// read. Its methods other than the lookups must be serialised by the
// caller.
type plane struct {
	rec *reconciler
	// dev is the device the kernel routes into tunnels point at.
	dev string
	// prep makes a tunnel's send state; hasUDP reports whether UDP
	// tunnels can be carried.
	prep   func(Tunnel) (txState, error)
	hasUDP func() bool

	base    Config                  // the base group (Set), installed through rec
	groups  map[string]*group       // the other groups
	tunnels map[string]*planeTunnel // by tunnel ID
	proxy   map[proxyKey]string     // owner group of each proxy entry
	failed  map[string]struct{}     // groups whose kernel objects are not all in place

	byRemote shardMap[netip.Addr, *planeTunnel]     // raw-socket tunnels by outer peer address
	byUDP    shardMap[netip.AddrPort, *planeTunnel] // UDP tunnels by outer peer endpoint
	routes   *routeTable                            // inner destination → tunnel

	pc planeCounters
}

// newPlane makes an empty plane whose tables have the given number of
// shards (0: DefaultTableShards).
func newPlane(rec *reconciler, dev string, shards int, prep func(Tunnel) (txState, error), hasUDP func() bool) *plane {
	if shards <= 0 {
		shards = DefaultTableShards
	}
	p := &plane{
		rec: rec, dev: dev, prep: prep, hasUDP: hasUDP,
		groups:  make(map[string]*group),
		tunnels: make(map[string]*planeTunnel),
		proxy:   make(map[proxyKey]string),
		failed:  make(map[string]struct{}),
		routes:  newRouteTable(shards),
	}
	p.byRemote.init(shards, hashAddr)
	p.byUDP.init(shards, hashAddrPort)
	return p
}

// group is what the plane keeps of a group other than the base: the IDs
// of its tunnels (whose configuration the planeTunnels hold), its routes
// and proxy entries. Their kernel objects are added and removed directly,
// without a second copy in the reconciler: a home agent has one group per
// binding, and every byte here is multiplied by the fleet.
type group struct {
	tunnels []string
	routes  []Route
	proxy   []ProxyNeigh
}

// config rebuilds the group's Config.
func (p *plane) config(id string) Config {
	if id == "" {
		return p.base
	}
	g := p.groups[id]
	if g == nil {
		return Config{}
	}
	c := Config{Routes: g.routes, Proxy: g.proxy}
	for _, tid := range g.tunnels {
		if t := p.tunnels[tid]; t != nil {
			c.Tunnels = append(c.Tunnels, t.cfg)
		}
	}
	return c
}

// staged is a validated change waiting for its kernel objects.
type staged struct {
	id       string
	old, new Config
}

// update applies changes in order, each independently: the forwarding
// tables of every accepted change are published together, then each
// change's kernel objects (routes into the device, proxy entries,
// sysctls) are converged. It returns the refused and failed changes as
// joined *GroupError values.
func (p *plane) update(changes []GroupChange) error {
	var errs []error
	rtx, rmx, utx := p.routes.begin(), p.byRemote.begin(), p.byUDP.begin()
	done := make([]staged, 0, len(changes))
	for _, c := range changes {
		old := p.config(c.ID)
		cfg := c.Config
		if c.Delete {
			cfg = Config{}
		}
		if err := p.stage(c.ID, old, cfg, rtx, rmx, utx); err != nil {
			errs = append(errs, &GroupError{ID: c.ID, Err: err})
			continue
		}
		done = append(done, staged{c.ID, old, cfg})
	}
	// New tunnels before the kernel routes that bring them packets; old
	// ones leave the tables before their routes (a packet in between is
	// counted as unroutable).
	rmx.commit()
	utx.commit()
	rtx.commit()
	devFor := func(string) string { return p.dev }
	for _, s := range done {
		_, retry := p.failed[s.id]
		if !retry && sameKernelState(s.old, s.new) {
			continue // a move or a refresh: the tables were all
		}
		var err error
		if s.id == "" {
			old, err1 := desiredState(s.old, nil, devFor)
			want, err2 := desiredState(s.new, nil, devFor)
			if err = errors.Join(err1, err2); err == nil {
				err = p.rec.applyDelta(old, want)
			}
		} else {
			err = p.groupKernel(s.old, s.new, retry)
		}
		if err != nil {
			p.failed[s.id] = struct{}{}
			errs = append(errs, &GroupError{ID: s.id, Err: err})
		} else {
			delete(p.failed, s.id)
		}
	}
	return errors.Join(errs...)
}

// stage validates group id's change from old to cfg against the other
// groups and, if it is acceptable, records it in the transactions. A
// refused change touches nothing.
func (p *plane) stage(id string, old, cfg Config, rtx *routeTx, rmx *shardTx[netip.Addr, *planeTunnel], utx *shardTx[netip.AddrPort, *planeTunnel]) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if id != "" {
		if cfg.Forwarding || cfg.ProxyNDP != "" || len(cfg.Rules) > 0 {
			return fmt.Errorf("%w: only the base configuration sets sysctls and rules", ErrInvalidConfig)
		}
		for _, r := range cfg.Routes {
			if r.Tunnel == "" {
				return fmt.Errorf("%w: route %v: a group routes only into its tunnels", ErrInvalidConfig, r.Dst)
			}
		}
	}
	// Conflicts with other groups.
	txs := make(map[string]txState, len(cfg.Tunnels))
	for _, t := range cfg.Tunnels {
		if t.Encap == UDP && !p.hasUDP() {
			return fmt.Errorf("tunnel %q: %w", t.ID, ErrNoUDPSender)
		}
		if o := p.tunnels[t.ID]; o != nil && o.group != id {
			return fmt.Errorf("%w: tunnel ID %q belongs to group %q", ErrInvalidConfig, t.ID, o.group)
		}
		var o *planeTunnel
		if t.Encap == UDP {
			o, _ = utx.get(t.UDPRemote)
		} else {
			o, _ = rmx.get(t.Remote)
		}
		if o != nil && o.group != id {
			return fmt.Errorf("%w: tunnel %q: its outer peer is group %q's", ErrInvalidConfig, t.ID, o.group)
		}
		tx, err := p.prep(t)
		if err != nil {
			return fmt.Errorf("tunnel %q: %w", t.ID, err)
		}
		txs[t.ID] = tx
	}
	seen := make(map[netip.Prefix]string, len(cfg.Routes))
	for _, r := range cfg.Routes {
		if r.Tunnel == "" {
			continue
		}
		d := r.Dst.Masked()
		if other, ok := seen[d]; ok && other != r.Tunnel {
			return fmt.Errorf("%w: %v routed into tunnels %q and %q (the userspace plane matches by destination only)", ErrInvalidConfig, d, other, r.Tunnel)
		}
		seen[d] = r.Tunnel
		if o, _ := rtx.get(d); o != nil && o.group != id {
			return fmt.Errorf("%w: %v is routed into group %q's tunnel", ErrInvalidConfig, d, o.group)
		}
	}
	for _, pn := range cfg.Proxy {
		if o, ok := p.proxy[pn.key()]; ok && o != id {
			return fmt.Errorf("%w: proxy entry %v dev %s belongs to group %q", ErrInvalidConfig, pn.Addr, pn.Dev, o)
		}
	}

	// Accepted: out with the old, in with the new.
	ctrs := make(map[string]*tunnelCounters, len(old.Tunnels))
	for _, t := range old.Tunnels {
		pt := p.tunnels[t.ID]
		if pt == nil {
			continue
		}
		ctrs[t.ID] = pt.ctr
		if t.Encap == UDP {
			if o, _ := utx.get(t.UDPRemote); o == pt {
				utx.del(t.UDPRemote)
			}
		} else if o, _ := rmx.get(t.Remote); o == pt {
			rmx.del(t.Remote)
		}
		delete(p.tunnels, t.ID)
	}
	for _, r := range old.Routes {
		if r.Tunnel == "" {
			continue
		}
		if o, _ := rtx.get(r.Dst); o != nil && o.group == id {
			rtx.del(r.Dst)
		}
	}
	for _, pn := range old.Proxy {
		delete(p.proxy, pn.key())
	}
	for _, t := range cfg.Tunnels {
		c := ctrs[t.ID]
		if c == nil {
			c = new(tunnelCounters)
		}
		pt := &planeTunnel{cfg: t, group: id, ctr: c, tx: txs[t.ID]}
		p.tunnels[t.ID] = pt
		if t.Encap == UDP {
			utx.set(t.UDPRemote, pt)
		} else {
			rmx.set(t.Remote, pt)
		}
	}
	for _, r := range cfg.Routes {
		if r.Tunnel != "" {
			rtx.set(r.Dst, p.tunnels[r.Tunnel])
		}
	}
	for _, pn := range cfg.Proxy {
		p.proxy[pn.key()] = id
	}
	switch {
	case id == "":
		p.base = cfg
	case isZero(cfg):
		delete(p.groups, id)
	default:
		g := &group{routes: cfg.Routes, proxy: cfg.Proxy}
		if len(cfg.Tunnels) > 0 {
			g.tunnels = make([]string, len(cfg.Tunnels))
			for i, t := range cfg.Tunnels {
				g.tunnels[i] = t.ID
			}
		}
		p.groups[id] = g
	}
	return nil
}

// kernelRoute is the kernel route of a group's route into a tunnel.
func (p *plane) kernelRoute(r Route) KernelRoute {
	return KernelRoute{Dst: r.Dst, Dev: p.dev, Via: r.Via, Src: r.Src, Table: r.Table, Metric: r.Metric, Protocol: RouteProtocol}.normalize()
}

// groupKernel moves a group's kernel objects from old to cfg: it adds
// what is new (everything when all is set: a retry), then deletes what
// went. Routes and proxy entries are replaced, so a repeat is harmless.
func (p *plane) groupKernel(old, cfg Config, all bool) error {
	var errs []error
	for _, r := range cfg.Routes {
		if all || !slices.Contains(old.Routes, r) {
			if err := p.rec.ops.RouteReplace(p.kernelRoute(r)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, pn := range cfg.Proxy {
		if all || !slices.Contains(old.Proxy, pn) {
			if err := p.rec.ops.NeighProxySet(pn); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, r := range old.Routes {
		k := p.kernelRoute(r).key()
		if slices.ContainsFunc(cfg.Routes, func(n Route) bool { return p.kernelRoute(n).key() == k }) {
			continue
		}
		if err := p.rec.ops.RouteDel(p.kernelRoute(r)); err != nil {
			errs = append(errs, err)
		}
	}
	for _, pn := range old.Proxy {
		if slices.ContainsFunc(cfg.Proxy, func(n ProxyNeigh) bool { return n.key() == pn.key() }) {
			continue
		}
		if err := p.rec.ops.NeighProxyDel(pn); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sameKernelState reports whether a and b make the same kernel objects in
// the userspace backend (tunnels are not kernel objects there).
func sameKernelState(a, b Config) bool {
	return a.Forwarding == b.Forwarding && a.ProxyNDP == b.ProxyNDP &&
		slices.Equal(a.Routes, b.Routes) && slices.Equal(a.Rules, b.Rules) && slices.Equal(a.Proxy, b.Proxy)
}

func isZero(c Config) bool {
	return len(c.Tunnels) == 0 && len(c.Routes) == 0 && len(c.Rules) == 0 && len(c.Proxy) == 0 && !c.Forwarding && c.ProxyNDP == ""
}

// reset removes every group, its tables and its kernel objects.
func (p *plane) reset() error {
	p.routes.reset()
	p.byRemote.reset()
	p.byUDP.reset()
	var errs []error
	for id := range p.groups {
		errs = append(errs, p.groupKernel(p.config(id), Config{}, false))
	}
	clear(p.groups)
	clear(p.tunnels)
	clear(p.proxy)
	clear(p.failed)
	p.base = Config{}
	errs = append(errs, p.rec.apply(newKstate()))
	return errors.Join(errs...)
}

// route is the outbound ("encapsulate") decision for a packet read from
// the TUN device: it parses the inner header, finds the tunnel by longest
// prefix match on the inner destination and counts. It returns the packet
// trimmed to its stated length. It does not allocate.
func (p *plane) route(pkt []byte) (*planeTunnel, innerHeader, []byte, bool) {
	h, err := parseInner(pkt)
	if err != nil {
		p.pc.dropMalformed.Add(1)
		return nil, innerHeader{}, nil, false
	}
	t, ok := p.routes.lookup(h.dst)
	if !ok {
		p.pc.dropNoRoute.Add(1)
		return nil, innerHeader{}, nil, false
	}
	return t, h, pkt[:h.length], true
}

// peer returns the raw-socket tunnel whose outer peer is from (nil: none).
func (p *plane) peer(from netip.Addr) *planeTunnel {
	t, _ := p.byRemote.get(from)
	return t
}

// udpPeer returns the UDP tunnel whose outer peer is from (nil: none).
func (p *plane) udpPeer(from netip.AddrPort) *planeTunnel {
	t, _ := p.byUDP.get(from)
	return t
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
	if !t.allows(h.src) {
		t.ctr.dropIngress.Add(1)
		return nil, false
	}
	t.ctr.rxPackets.Add(1)
	t.ctr.rxBytes.Add(uint64(h.length))
	return pkt[:h.length], true
}

// stats returns the counters (caller serialised with update).
func (p *plane) stats() Stats {
	st := Stats{
		Tunnels:         make(map[string]TunnelStats, len(p.tunnels)),
		DropNoRoute:     p.pc.dropNoRoute.Load(),
		DropUnknownPeer: p.pc.dropUnknownPeer.Load(),
		DropMalformed:   p.pc.dropMalformed.Load(),
	}
	for id, t := range p.tunnels {
		st.Tunnels[id] = t.ctr.snapshot()
	}
	return st
}
