package dataplane

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
)

// KernelOptions configure the kernel backend.
type KernelOptions struct {
	// Owner marks the links ("mrouter", "ha"); see Cleanup.
	Owner string
	// MTU of the tunnel links; 0 keeps the kernel's default (outer MTU
	// minus 40 for ip6tnl, minus 20 for sit).
	MTU int
	// FilterPriority is the first of the three rule priorities the
	// ingress filter uses (see Kernel); 0 means DefaultFilterPriority.
	FilterPriority int
	// UDP carries UDP-encapsulated tunnels (see Kernel); it can also be
	// set later with SetUDPSender.
	UDP UDPSender
	// TUNName names the TUN device of the userspace path for UDP
	// tunnels; empty means DefaultTUNName.
	TUNName string
}

// DefaultFilterPriority is the default KernelOptions.FilterPriority: below
// the daemons' policy rules (900) and above iproute2's main rule (32766).
const DefaultFilterPriority = 850

// Offsets of the ingress filter's rules from KernelOptions.FilterPriority.
const (
	filterAcceptOff = 0 // iif <link> from <allowed> goto base+2
	filterDropOff   = 1 // iif <link> blackhole
	filterNopOff    = 2 // nop: the goto target
)

// Kernel is the kernel backend: one ip6tnl link ("mode any": IPv6 and IPv4
// inner, encaplimit none) per IP6IP6 tunnel and one sit link ("mode any":
// protocol 41 and 4) per IP6IP4 tunnel, routes pointing at those links.
//
// UDP-encapsulated tunnels (RFC 5555 NAT traversal) are carried by an
// embedded userspace backend ([NewUserspace], made at the first Set that
// has one): fou cannot share port 4191 with the daemon's signalling socket
// (which needs the outer addresses and ports for NAT detection), and a fou
// port decapsulates one fixed inner protocol while RFC 5555 mixes IPv6 and
// IPv4 on the same port. Routes into UDP tunnels are installed with Metric
// plus one, so that a route moving between a UDP tunnel and a kernel link
// exists twice for a moment instead of being overwritten and then deleted
// (make before break). The daemon hands received UDP data to InjectUDP as
// with the userspace backend. Without a UDPSender (KernelOptions.UDP or
// SetUDPSender), or where the userspace path cannot be made (no TUN
// device, not Linux), Set refuses UDP tunnels with an error wrapping
// ErrUnsupported.
//
// ip6tnl and sit do not check inner sources, so Tunnel.Allowed is enforced
// with policy rules (marked like the others, so Cleanup removes them), per
// family whose whole address space is not allowed, with P the
// FilterPriority:
//
//	P   iif <link> from <allowed prefix> goto P+2   (one per prefix)
//	P+1 iif <link> blackhole
//	P+2 nop
//
// Rules act on route lookups, so this filters what is forwarded out of the
// tunnel; a packet addressed to this host itself is delivered by the local
// table (rule 0) before the filter is consulted. The kernel counts the
// drops in its IPv6/IPv4 InNoRoutes statistics, not per tunnel:
// Stats().Tunnels[…].DropIngress stays the link's RX drop counter.
type Kernel struct {
	mu      sync.Mutex
	ops     NetOps
	opts    KernelOptions
	rec     *reconciler
	tunnels map[string]string         // Tunnel.ID → link name
	us      atomic.Pointer[Userspace] // UDP tunnels; nil until one is wanted
	closed  bool
	// base is the Set configuration, groups the Update ones; the kernel
	// backend installs their union.
	base   Config
	groups map[string]Config
}

var _ Backend = (*Kernel)(nil)

// NewKernel returns a kernel backend that works through ops. It makes
// nothing until Set.
func NewKernel(ops NetOps, opts KernelOptions) *Kernel {
	return &Kernel{ops: ops, opts: opts, rec: newReconciler(ops), tunnels: make(map[string]string), groups: make(map[string]Config)}
}

// Name implements Backend.
func (k *Kernel) Name() string { return "kernel" }

// tunnelLink returns the link that carries t.
func (k *Kernel) tunnelLink(t Tunnel) (Link, error) {
	kind := ""
	switch t.Encap {
	case IP6IP6:
		kind = KindIP6Tnl
	case IP6IP4:
		kind = KindSit
	default:
		return Link{}, fmt.Errorf("tunnel %q: %v encapsulation in the kernel backend: %w", t.ID, t.Encap, ErrUnsupported)
	}
	return Link{
		Name:   LinkName(t.ID, kind),
		Kind:   kind,
		Alias:  LinkAlias(k.opts.Owner, t.ID),
		Local:  t.Local,
		Remote: t.Remote,
		Dev:    t.Device,
		MTU:    k.opts.MTU,
	}, nil
}

// splitUDP splits cfg into the part the kernel installs and the UDP
// tunnels with the routes into them (Metric plus one, see Kernel).
func splitUDP(cfg Config) (kern, udp Config) {
	kern = cfg
	kern.Tunnels, kern.Routes = nil, nil
	isUDP := make(map[string]bool)
	for _, t := range cfg.Tunnels {
		if t.Encap == UDP {
			isUDP[t.ID] = true
			udp.Tunnels = append(udp.Tunnels, t)
		} else {
			kern.Tunnels = append(kern.Tunnels, t)
		}
	}
	for _, r := range cfg.Routes {
		if isUDP[r.Tunnel] {
			if r.Metric == 0 && r.Dst.Addr().Is6() {
				r.Metric = defaultMetric6
			}
			r.Metric++
			udp.Routes = append(udp.Routes, r)
		} else {
			kern.Routes = append(kern.Routes, r)
		}
	}
	return kern, udp
}

// Set implements Backend: cfg is the base group (see Update).
func (k *Kernel) Set(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return ErrClosed
	}
	old := k.base
	k.base = cfg
	err := k.install()
	if errors.Is(err, ErrInvalidConfig) {
		k.base = old
	}
	return err
}

// Update implements Backend. The kernel backend installs the union of the
// base and every group each time (one link per tunnel makes the kernel's
// own state grow with the bindings anyway); the userspace backend is the
// one whose cost follows the change. An invalid change is refused as a
// *GroupError and changes nothing.
func (k *Kernel) Update(changes []GroupChange) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return ErrClosed
	}
	var errs []error
	for _, c := range changes {
		if c.Delete || isZero(c.Config) {
			delete(k.groups, c.ID)
			continue
		}
		if err := c.Config.Validate(); err != nil {
			errs = append(errs, &GroupError{ID: c.ID, Err: err})
			continue
		}
		old, had := k.groups[c.ID]
		k.groups[c.ID] = c.Config
		if err := k.merged().Validate(); err != nil {
			if had {
				k.groups[c.ID] = old
			} else {
				delete(k.groups, c.ID)
			}
			errs = append(errs, &GroupError{ID: c.ID, Err: err})
		}
	}
	if err := k.install(); err != nil {
		for _, c := range changes {
			errs = append(errs, &GroupError{ID: c.ID, Err: err})
		}
	}
	return errors.Join(errs...)
}

// merged is the base and every group in one Config.
func (k *Kernel) merged() Config {
	cfg := k.base
	if len(k.groups) == 0 {
		return cfg
	}
	cfg.Tunnels = slices.Clone(cfg.Tunnels)
	cfg.Routes = slices.Clone(cfg.Routes)
	cfg.Proxy = slices.Clone(cfg.Proxy)
	for _, g := range k.groups {
		cfg.Tunnels = append(cfg.Tunnels, g.Tunnels...)
		cfg.Routes = append(cfg.Routes, g.Routes...)
		cfg.Proxy = append(cfg.Proxy, g.Proxy...)
	}
	return cfg
}

// install converges the system to the base and groups (k.mu held).
func (k *Kernel) install() error {
	cfg := k.merged()
	kcfg, ucfg := splitUDP(cfg)
	links := make([]Link, 0, len(kcfg.Tunnels))
	names := make(map[string]string, len(kcfg.Tunnels))
	for _, t := range kcfg.Tunnels {
		l, err := k.tunnelLink(t)
		if err != nil {
			return err
		}
		links = append(links, l)
		names[t.ID] = l.Name
	}
	want, err := desiredState(kcfg, links, func(id string) string { return names[id] })
	if err != nil {
		return err
	}
	if len(ucfg.Tunnels) > 0 && k.us.Load() == nil {
		if k.opts.UDP == nil {
			return fmt.Errorf("tunnel %q: %w (%w)", ucfg.Tunnels[0].ID, ErrUnsupported, ErrNoUDPSender)
		}
		var us *Userspace
		mk := func() (err error) {
			us, err = NewUserspace(k.ops, UserspaceOptions{Owner: k.opts.Owner, TUNName: k.opts.TUNName, UDP: k.opts.UDP})
			return err
		}
		// The TUN device and the raw sockets belong in ops' namespace,
		// which need not be the calling thread's.
		if n, ok := k.ops.(interface{ inNS(func() error) error }); ok {
			err = n.inNS(mk)
		} else {
			err = mk()
		}
		if err != nil {
			return fmt.Errorf("dataplane: kernel set: the userspace path for UDP tunnels: %w", err)
		}
		k.us.Store(us)
	}
	for _, r := range ingressRules(kcfg.Tunnels, names, k.filterPriority()) {
		want.rules[r.normalize()] = struct{}{}
	}
	k.tunnels = names
	// Make before break across the two paths (their routes differ in
	// metric, so both can exist at once): when UDP tunnels are wanted the
	// UDP path goes first, so that a tunnel moving into UDP has its new
	// route before the kernel deletes the old one; otherwise the kernel
	// goes first, for a tunnel moving out of UDP.
	steps := []func() error{func() error { return k.rec.apply(want) }}
	if us := k.us.Load(); us != nil {
		udpStep := func() error { return us.Set(ucfg) }
		if len(ucfg.Tunnels) > 0 {
			steps = append([]func() error{udpStep}, steps...)
		} else {
			steps = append(steps, udpStep)
		}
	}
	var errs []error
	for _, step := range steps {
		if err := step(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("dataplane: kernel set: %w", err)
	}
	return nil
}

// SetUDPSender sets (or, with nil, clears) what carries UDP tunnels.
func (k *Kernel) SetUDPSender(s UDPSender) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.opts.UDP = s
	if us := k.us.Load(); us != nil {
		us.SetUDPSender(s)
	}
}

// InjectUDP hands a datagram received from a UDP tunnel's peer to the
// userspace path (see Userspace.InjectUDP); without UDP tunnels it drops
// it.
func (k *Kernel) InjectUDP(from netip.AddrPort, pkt []byte) {
	if us := k.us.Load(); us != nil {
		us.InjectUDP(from, pkt)
	}
}

// Close implements Backend.
func (k *Kernel) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil
	}
	k.closed = true
	k.tunnels = nil
	k.groups = nil
	var errs []error
	if err := k.rec.apply(newKstate()); err != nil {
		errs = append(errs, err)
	}
	if us := k.us.Load(); us != nil {
		if err := us.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("dataplane: kernel close: %w", err)
	}
	return nil
}

// Stats implements Backend from the tunnel links' kernel counters. The
// kernel backend has no ingress or no-route drop counters; link RX drops
// are reported as DropIngress.
func (k *Kernel) Stats() Stats {
	k.mu.Lock()
	names := make(map[string]string, len(k.tunnels))
	for id, n := range k.tunnels {
		names[n] = id
	}
	us := k.us.Load()
	k.mu.Unlock()
	st := Stats{Tunnels: make(map[string]TunnelStats, len(names))}
	if us != nil {
		// The userspace path's tunnels and plane-wide drop counters.
		st = us.Stats()
		if st.Tunnels == nil {
			st.Tunnels = make(map[string]TunnelStats, len(names))
		}
	}
	links, err := k.ops.LinkList()
	if err != nil {
		return st
	}
	for _, l := range links {
		id, ok := names[l.Name]
		if !ok {
			continue
		}
		st.Tunnels[id] = TunnelStats{
			TxPackets: l.Stats.TxPackets, TxBytes: l.Stats.TxBytes,
			RxPackets: l.Stats.RxPackets, RxBytes: l.Stats.RxBytes,
			DropIngress: l.Stats.RxDropped, TxErrors: l.Stats.TxErrors,
		}
	}
	return st
}

func (k *Kernel) filterPriority() int {
	if k.opts.FilterPriority > 0 {
		return k.opts.FilterPriority
	}
	return DefaultFilterPriority
}

// ingressRules returns the ingress-filter rules for tunnels (see Kernel);
// names maps Tunnel.ID to the link name.
func ingressRules(tunnels []Tunnel, names map[string]string, prio int) []KernelRule {
	var out []KernelRule
	nop := map[Family]bool{}
	for _, t := range tunnels {
		link := names[t.ID]
		if link == "" {
			continue // no kernel link (a UDP tunnel): nothing to match
		}
		for _, fam := range []Family{IPv6, IPv4} {
			var accept []netip.Prefix
			all := false
			for _, p := range t.Allowed {
				if familyOf(p.Addr()) != fam {
					continue
				}
				if p.Bits() == 0 {
					all = true
					break
				}
				accept = append(accept, p)
			}
			if all {
				continue
			}
			for _, p := range accept {
				out = append(out, KernelRule{Rule: Rule{Priority: prio + filterAcceptOff, Family: fam, From: p, IIF: link},
					Protocol: RouteProtocol, Action: ActionGoto, Goto: prio + filterNopOff})
			}
			out = append(out, KernelRule{Rule: Rule{Priority: prio + filterDropOff, Family: fam, IIF: link},
				Protocol: RouteProtocol, Action: ActionBlackhole})
			if len(accept) > 0 && !nop[fam] {
				nop[fam] = true
				out = append(out, KernelRule{Rule: Rule{Priority: prio + filterNopOff, Family: fam},
					Protocol: RouteProtocol, Action: ActionNop})
			}
		}
	}
	return out
}
