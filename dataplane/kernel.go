package dataplane

import (
	"fmt"
	"sync"
)

// KernelOptions configure the kernel backend.
type KernelOptions struct {
	// Owner marks the links ("mrouter", "ha"); see Cleanup.
	Owner string
	// MTU of the tunnel links; 0 keeps the kernel's default (outer MTU
	// minus 40 for ip6tnl, minus 20 for sit).
	MTU int
}

// Kernel is the kernel backend: one ip6tnl link ("mode any": IPv6 and IPv4
// inner, encaplimit none) per IP6IP6 tunnel and one sit link ("mode any":
// protocol 41 and 4) per IP6IP4 tunnel, routes pointing at those links. UDP
// encapsulation (fou) is not implemented yet: Set refuses it with
// ErrUnsupported. The kernel does not filter decapsulated packets by inner
// source, so Tunnel.Allowed is not enforced by this backend.
type Kernel struct {
	mu      sync.Mutex
	ops     NetOps
	opts    KernelOptions
	rec     *reconciler
	tunnels map[string]string // Tunnel.ID → link name
	closed  bool
}

var _ Backend = (*Kernel)(nil)

// NewKernel returns a kernel backend that works through ops. It makes
// nothing until Set.
func NewKernel(ops NetOps, opts KernelOptions) *Kernel {
	return &Kernel{ops: ops, opts: opts, rec: newReconciler(ops), tunnels: make(map[string]string)}
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

// Set implements Backend.
func (k *Kernel) Set(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return ErrClosed
	}
	links := make([]Link, 0, len(cfg.Tunnels))
	names := make(map[string]string, len(cfg.Tunnels))
	for _, t := range cfg.Tunnels {
		l, err := k.tunnelLink(t)
		if err != nil {
			return err
		}
		links = append(links, l)
		names[t.ID] = l.Name
	}
	want, err := desiredState(cfg, links, func(id string) string { return names[id] })
	if err != nil {
		return err
	}
	k.tunnels = names
	if err := k.rec.apply(want); err != nil {
		return fmt.Errorf("dataplane: kernel set: %w", err)
	}
	return nil
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
	if err := k.rec.apply(newKstate()); err != nil {
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
	k.mu.Unlock()
	st := Stats{Tunnels: make(map[string]TunnelStats, len(names))}
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
