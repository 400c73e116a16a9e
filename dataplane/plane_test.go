package dataplane

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// groupFixture is a plane on a Fake with a TUN device "tun0" and a home
// link "home0".
func groupFixture(t testing.TB, shards int) (*plane, *Fake) {
	t.Helper()
	f := NewFake("tun0", "home0")
	p := newPlane(newReconciler(f), "tun0", shards, func(Tunnel) (txState, error) { return txState{}, nil }, func() bool { return true })
	return p, f
}

// bindingGroup is the group a home agent makes for router i at care-of
// address coa: a tunnel, routes for the home address and a /64 mobile
// network prefix, a proxy entry for the home address.
func bindingGroup(i int, coa string) GroupChange {
	hoa := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 14: byte(i >> 8), 15: byte(i)})
	mnp := netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0x10, 0, byte(i >> 16), byte(i >> 8), byte(i)}), 72)
	id := hoa.String()
	return GroupChange{ID: id, Config: Config{
		Tunnels: []Tunnel{{ID: id, Encap: IP6IP6, Local: netip.MustParseAddr("2001:db8:1::1"), Remote: netip.MustParseAddr(coa),
			Allowed: []netip.Prefix{netip.PrefixFrom(hoa, 128), mnp}}},
		Routes: []Route{{Dst: netip.PrefixFrom(hoa, 128), Tunnel: id}, {Dst: mnp, Tunnel: id}},
		Proxy:  []ProxyNeigh{{Addr: hoa, Dev: "home0", Router: true}},
	}}
}

func coaOf(i int) string { return fmt.Sprintf("2001:db8:f0::%x:%x", (i+1)>>16, (i+1)&0xffff) }

func TestGroupsInstallMoveRemove(t *testing.T) {
	p, f := groupFixture(t, 4)
	f.SetSysctlInitial("net/ipv6/conf/all/forwarding", "0")
	if err := p.update([]GroupChange{{Config: Config{Forwarding: true, ProxyNDP: "home0"}}}); err != nil {
		t.Fatal(err)
	}
	var batch []GroupChange
	for i := range 10 {
		batch = append(batch, bindingGroup(i, coaOf(i)))
	}
	if err := p.update(batch); err != nil {
		t.Fatal(err)
	}
	routes, _ := f.RouteList()
	proxies, _ := f.NeighProxyList()
	if len(routes) != 20 || len(proxies) != 10 || p.byRemote.len() != 10 || len(p.tunnels) != 10 {
		t.Fatalf("after 10 bindings: %d routes, %d proxies, %d peers, %d tunnels", len(routes), len(proxies), p.byRemote.len(), len(p.tunnels))
	}
	g3 := bindingGroup(3, coaOf(3))
	dst := g3.Config.Routes[1].Dst.Addr().Next()
	pkt := testPacket6(t, "2001:db8:99::1", dst.String(), 8)
	tun, _, _, ok := p.route(pkt)
	if !ok || tun.cfg.Remote != netip.MustParseAddr(coaOf(3)) {
		t.Fatalf("packet to router 3's prefix: tunnel %+v ok %v", tun, ok)
	}
	tun.ctr.txPackets.Add(7)

	// A move: new care-of address, no kernel operation, counters kept.
	f.Ops()
	moved := bindingGroup(3, "2001:db8:f1::3")
	if err := p.update([]GroupChange{moved}); err != nil {
		t.Fatal(err)
	}
	if ops := f.Ops(); len(ops) != 0 {
		t.Errorf("a move made kernel operations %q, want none", ops)
	}
	tun, _, _, _ = p.route(pkt)
	if tun.cfg.Remote != netip.MustParseAddr("2001:db8:f1::3") || tun.ctr.txPackets.Load() != 7 {
		t.Errorf("after the move: remote %v, tx counter %d", tun.cfg.Remote, tun.ctr.txPackets.Load())
	}
	if p.peer(netip.MustParseAddr(coaOf(3))) != nil || p.peer(netip.MustParseAddr("2001:db8:f1::3")) != tun {
		t.Errorf("peer table not moved")
	}

	// Removal: its routes, proxy entry, tunnel and peer go; the rest stay.
	if err := p.update([]GroupChange{{ID: moved.ID, Delete: true}}); err != nil {
		t.Fatal(err)
	}
	routes, _ = f.RouteList()
	proxies, _ = f.NeighProxyList()
	if len(routes) != 18 || len(proxies) != 9 || p.byRemote.len() != 9 || len(p.tunnels) != 9 || len(p.groups) != 9 {
		t.Errorf("after a removal: %d routes, %d proxies, %d peers, %d tunnels, %d groups", len(routes), len(proxies), p.byRemote.len(), len(p.tunnels), len(p.groups))
	}
	if _, _, _, ok := p.route(pkt); ok {
		t.Errorf("removed router's prefix still routed")
	}
	if err := p.reset(); err != nil {
		t.Fatal(err)
	}
	routes, _ = f.RouteList()
	proxies, _ = f.NeighProxyList()
	if len(routes)+len(proxies) != 0 || p.byRemote.len() != 0 || len(p.groups) != 0 {
		t.Errorf("reset left %d routes, %d proxies, %d peers", len(routes), len(proxies), p.byRemote.len())
	}
	if v, _ := f.SysctlGet("net/ipv6/conf/all/forwarding"); v != "0" {
		t.Errorf("forwarding not restored: %q", v)
	}
}

func TestGroupsConflictsChangeNothing(t *testing.T) {
	p, f := groupFixture(t, 4)
	a := bindingGroup(1, coaOf(1))
	if err := p.update([]GroupChange{a}); err != nil {
		t.Fatal(err)
	}
	steal := func(mut func(c *Config)) GroupChange {
		g := bindingGroup(2, coaOf(2))
		mut(&g.Config)
		return g
	}
	for name, c := range map[string]GroupChange{
		"same care-of address": steal(func(c *Config) { c.Tunnels[0].Remote = a.Config.Tunnels[0].Remote }),
		"same prefix":          steal(func(c *Config) { c.Routes[1].Dst = a.Config.Routes[1].Dst }),
		"same proxy entry":     steal(func(c *Config) { c.Proxy[0] = a.Config.Proxy[0] }),
		"same tunnel ID":       {ID: "other", Config: a.Config},
		"sysctl in a group":    steal(func(c *Config) { c.Forwarding = true }),
		"device route":         steal(func(c *Config) { c.Routes[0].Tunnel, c.Routes[0].Dev = "", "home0" }),
		"invalid":              steal(func(c *Config) { c.Tunnels[0].Local = netip.Addr{} }),
	} {
		t.Run(name, func(t *testing.T) {
			f.Ops()
			err := p.update([]GroupChange{c})
			if !errors.Is(err, ErrInvalidConfig) || !slices.Equal(FailedGroups(err), []string{c.ID}) {
				t.Fatalf("err %v (failed %v), want ErrInvalidConfig for %q", err, FailedGroups(err), c.ID)
			}
			if n := len(f.Ops()); n != 0 || len(p.groups) != 1 || len(p.tunnels) != 1 || p.byRemote.len() != 1 {
				t.Errorf("refused change made %d kernel operations; %d groups, %d tunnels, %d peers", n, len(p.groups), len(p.tunnels), p.byRemote.len())
			}
			pt := p.peer(a.Config.Tunnels[0].Remote)
			if pt == nil || pt.group != a.ID {
				t.Errorf("router 1's tunnel lost")
			}
		})
	}
	// A batch: the good change goes in, the bad one is named.
	bad := steal(func(c *Config) { c.Tunnels[0].Remote = a.Config.Tunnels[0].Remote })
	bad.ID = "bad"
	bad.Config.Tunnels[0].ID = "bad"
	bad.Config.Routes[0].Tunnel, bad.Config.Routes[1].Tunnel = "bad", "bad"
	err := p.update([]GroupChange{bad, bindingGroup(5, coaOf(5))})
	if !slices.Equal(FailedGroups(err), []string{"bad"}) || len(p.groups) != 2 {
		t.Errorf("batch: err %v, %d groups", err, len(p.groups))
	}
}

// BenchmarkGroupUpdate is the cost of changing one binding among n: it
// must not grow with n.
func BenchmarkGroupUpdate(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("bindings=%d", n), func(b *testing.B) {
			p, f := groupFixture(b, n/8)
			batch := make([]GroupChange, 0, 1000)
			for i := range n {
				batch = append(batch, bindingGroup(i, coaOf(i)))
				if len(batch) == cap(batch) {
					if err := p.update(batch); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
					f.Ops()
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				// A move of one binding to a new care-of address and back.
				k := i % n
				coa := coaOf(k)
				if i%2 == 0 {
					coa = fmt.Sprintf("2001:db8:f1::%x:%x", (k+1)>>16, (k+1)&0xffff)
				}
				if err := p.update([]GroupChange{bindingGroup(k, coa)}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func TestGroupKernelFailureRetried(t *testing.T) {
	p, f := groupFixture(t, 4)
	fail := true
	f.Err = func(op string) error {
		if fail && strings.Contains(op, "route") {
			return errors.New("injected failure")
		}
		return nil
	}
	g := bindingGroup(1, coaOf(1))
	err := p.update([]GroupChange{g})
	if !slices.Equal(FailedGroups(err), []string{g.ID}) {
		t.Fatalf("failed groups %v (err %v)", FailedGroups(err), err)
	}
	fail = false
	// The same desired state again: the missing routes are made now.
	if err := p.update([]GroupChange{g}); err != nil {
		t.Fatal(err)
	}
	if routes, _ := f.RouteList(); len(routes) != 2 {
		t.Errorf("%d routes after the retry, want 2", len(routes))
	}
}

// nopOps accepts every operation and keeps nothing, so a memory figure is
// the plane's own.
type nopOps struct{ *Fake }

func (nopOps) RouteReplace(KernelRoute) error { return nil }
func (nopOps) NeighProxySet(ProxyNeigh) error { return nil }

// TestGroupMemory reports the plane's heap per binding group (tables,
// tunnel, the group's configuration, the reconciler's record of its kernel
// objects). It asserts nothing about the figure.
func TestGroupMemory(t *testing.T) {
	const n = 20000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p := newPlane(newReconciler(nopOps{NewFake()}), "tun0", n/8, func(Tunnel) (txState, error) { return txState{}, nil }, func() bool { return true })
	batch := make([]GroupChange, 0, 256)
	for i := range n {
		batch = append(batch, bindingGroup(i, coaOf(i)))
		if len(batch) == cap(batch) || i == n-1 {
			if err := p.update(batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if len(p.groups) != n {
		t.Fatalf("%d groups", len(p.groups))
	}
	t.Logf("plane heap per binding group: %d B (%d groups)", (after.HeapAlloc-before.HeapAlloc)/n, n)
	runtime.KeepAlive(p)
}
