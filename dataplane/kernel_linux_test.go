package dataplane

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/nemo-mobility/nemo/internal/testutil"
)

// envRequireKernelTunnels makes the kernel-tunnel tests fail instead of
// skip when the kernel cannot create ip6tnl and sit links; test/vm/run.sh
// sets it inside the VM, whose kernel has the modules.
const envRequireKernelTunnels = "NEMO_REQUIRE_KERNEL_TUNNELS"

// requireKernelTunnels probes for ip6tnl and sit links in a scratch
// namespace and skips t (fails it under NEMO_REQUIRE_KERNEL_TUNNELS=1) when
// the kernel lacks them.
func requireKernelTunnels(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "ip")
	ns := newNetns(t, "P")
	var (
		kind, reason string
		err          error
	)
	inNetns(t, ns, func() {
		var ops *NetlinkOps
		if ops, err = NewNetOps(); err != nil {
			return
		}
		defer ops.Close()
		kind, reason = Probe(ops, true)
	})
	if err != nil {
		t.Fatal(err)
	}
	if kind == KindKernel {
		return
	}
	if os.Getenv(envRequireKernelTunnels) == "1" {
		t.Fatalf("REQUIRED (%s=1): %s", envRequireKernelTunnels, reason)
	}
	t.Skipf("SKIPPED (not a pass): %s; test/vm/run.sh runs this test on a kernel with sit and ip6_tunnel", reason)
}

// openKernel opens a kernel backend (and its NetOps) inside ns.
func openKernel(t *testing.T, ns string) (*Kernel, *NetlinkOps) {
	t.Helper()
	var (
		ops *NetlinkOps
		err error
	)
	inNetns(t, ns, func() { ops, err = NewNetOps() })
	if err != nil {
		t.Fatalf("netops in %s: %v", ns, err)
	}
	k := NewKernel(ops, KernelOptions{Owner: "test"})
	t.Cleanup(func() {
		k.Close()
		ops.Close()
	})
	return k, ops
}

// kernelPair is one side's Config for the kernel tests: a tunnel "peer"
// carrying theirs (routes in table 1000, source rules for mine), accepting
// allowed as inner sources.
func kernelPair(encap Encap, local, remote netip.Addr, mine, theirs, allowed []netip.Prefix) Config {
	cfg := pairConfig(encap, local, remote, mine, theirs)
	cfg.Tunnels[0].Allowed = allowed
	return cfg
}

// endpoints returns A's and B's outer addresses for encap.
func endpoints(encap Encap) (a, b netip.Addr) {
	if encap == IP6IP6 {
		return netip.MustParseAddr("2001:db8:ff::1"), netip.MustParseAddr("2001:db8:ff::2")
	}
	return netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
}

// ourLinks returns the links of ours (by marker) in ops' namespace.
func ourLinks(t *testing.T, ops NetOps) []Link {
	t.Helper()
	links, err := ops.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var out []Link
	for _, l := range links {
		if strings.HasPrefix(l.Name, LinkPrefix) {
			out = append(out, l)
		}
	}
	return out
}

// assertClean fails t if ns still holds links, routes or rules of ours.
func assertClean(t *testing.T, ns, when string) {
	t.Helper()
	for _, c := range [][]string{
		{"-n", ns, "-d", "link", "show"},
		{"-n", ns, "-6", "route", "show", "table", "all"},
		{"-n", ns, "-4", "route", "show", "table", "all"},
		{"-n", ns, "-6", "rule", "show"},
		{"-n", ns, "-4", "rule", "show"},
	} {
		out := ipCmd(t, c...)
		for _, bad := range []string{"nemo", "proto 78", "lookup 1000", "blackhole", " nop ", " goto "} {
			if strings.Contains(out, bad) {
				t.Errorf("%s, `ip %s` still shows %q:\n%s", when, strings.Join(c, " "), bad, out)
			}
		}
	}
}

// behindB moves B's inner addresses (2001:db8:bb::1, 192.0.2.1) to a third
// namespace C behind B, so that traffic from A to them is forwarded by B,
// as a home agent forwards what a mobile network sends: the kernel
// backend's ingress filter acts on forwarding (see Kernel).
func behindB(t *testing.T, b string) {
	t.Helper()
	c := newNetns(t, "C")
	ipCmd(t, "link", "add", "vbc", "netns", b, "type", "veth", "peer", "name", "vc", "netns", c)
	for _, cmd := range [][]string{
		{"-n", b, "addr", "del", "2001:db8:bb::1/128", "dev", "lo"},
		{"-n", b, "addr", "del", "192.0.2.1/32", "dev", "lo"},
		{"-n", b, "addr", "add", "2001:db8:fe::1/64", "dev", "vbc", "nodad"},
		{"-n", b, "addr", "add", "198.18.0.1/24", "dev", "vbc"},
		{"-n", b, "link", "set", "vbc", "up"},
		{"-n", c, "addr", "add", "2001:db8:fe::2/64", "dev", "vc", "nodad"},
		{"-n", c, "addr", "add", "198.18.0.2/24", "dev", "vc"},
		{"-n", c, "link", "set", "vc", "up"},
		{"-n", c, "addr", "add", "2001:db8:bb::1/128", "dev", "lo"},
		{"-n", c, "addr", "add", "192.0.2.1/32", "dev", "lo"},
		{"-n", c, "-6", "route", "add", "default", "via", "2001:db8:fe::1"},
		{"-n", c, "-4", "route", "add", "default", "via", "198.18.0.1"},
		{"-n", b, "-6", "route", "add", pfxB6.String(), "via", "2001:db8:fe::2"},
		{"-n", b, "-4", "route", "add", pfxB4.String(), "via", "198.18.0.2"},
	} {
		ipCmd(t, cmd...)
	}
}

// TestKernelForwarding runs the kernel backend against real ip6tnl and sit
// links: A and B are joined by a veth pair, C sits behind B. It checks IPv6
// and IPv4 inner traffic A→C through an IP6IP6 and an IP6IP4 tunnel, the
// kernel link counters, the ingress filter at B (a source outside
// Tunnel.Allowed is dropped, and passes once it is allowed), the move from
// one encapsulation to the other (the new link is made before the old one
// goes), UDP refused without a UDP sender and carried by the userspace
// path with one, and nothing left after Close.
func TestKernelForwarding(t *testing.T) {
	requireKernelTunnels(t)
	pingCmd = pingCommand(t)
	a, b := pairNamespaces(t)
	behindB(t, b)
	ka, opsA := openKernel(t, a)
	kb, opsB := openKernel(t, b)
	mineA, mineB := []netip.Prefix{pfxA6, pfxA4}, []netip.Prefix{pfxB6, pfxB4}

	for _, encap := range []Encap{IP6IP6, IP6IP4} {
		t.Run(encap.String(), func(t *testing.T) {
			la, lb := endpoints(encap)
			// A also sources 2001:db8:cc::/64 into the tunnel; B routes
			// it back but does not accept it at first.
			if err := ka.Set(kernelPair(encap, la, lb, append(mineA, pfxC6), mineB, mineB)); err != nil {
				t.Fatalf("Set A: %v", err)
			}
			cfgB := kernelPair(encap, lb, la, mineB, append(mineA, pfxC6), mineA)
			cfgB.Forwarding = true
			if err := kb.Set(cfgB); err != nil {
				t.Fatalf("Set B: %v", err)
			}
			wantKind := map[Encap]string{IP6IP6: KindIP6Tnl, IP6IP4: KindSit}[encap]
			for _, x := range []struct {
				ns  string
				ops NetOps
			}{{a, opsA}, {b, opsB}} {
				links := ourLinks(t, x.ops)
				if len(links) != 1 || links[0].Kind != wantKind || links[0].Alias != LinkAlias("test", "peer") || !links[0].Up {
					t.Fatalf("%s: links of ours = %+v, want one %s link, up, alias %q", x.ns, links, wantKind, LinkAlias("test", "peer"))
				}
				if out := ipCmd(t, "-n", x.ns, "-d", "link", "show", links[0].Name); !strings.Contains(out, wantKind) {
					t.Errorf("%s: `ip -d link show %s` does not say %s:\n%s", x.ns, links[0].Name, wantKind, out)
				}
			}

			before := [2]TunnelStats{ka.Stats().Tunnels["peer"], kb.Stats().Tunnels["peer"]}
			mustPing(t, a, "-6", "-I", "2001:db8:aa::1", "2001:db8:bb::1")
			mustPing(t, a, "-4", "-I", "203.0.113.1", "192.0.2.1")
			sa, sb := ka.Stats().Tunnels["peer"], kb.Stats().Tunnels["peer"]
			for _, c := range []struct {
				name      string
				got, base uint64
			}{
				{"A tx", sa.TxPackets, before[0].TxPackets},
				{"A rx", sa.RxPackets, before[0].RxPackets},
				{"B tx", sb.TxPackets, before[1].TxPackets},
				{"B rx", sb.RxPackets, before[1].RxPackets},
			} {
				if c.got-c.base < 6 {
					t.Errorf("%s moved by %d packets, want at least 6", c.name, c.got-c.base)
				}
			}

			// Ingress filter: B drops what A sends from 2001:db8:cc::1 …
			if ok, out := ping(t, a, "-6", "-c", "1", "-I", "2001:db8:cc::1", "2001:db8:bb::1"); ok {
				t.Errorf("ping from a source B does not allow got through:\n%s", out)
			}
			// … and accepts it once allowed (so the drop was the filter).
			cfgB.Tunnels[0].Allowed = append(mineA, pfxC6)
			if err := kb.Set(cfgB); err != nil {
				t.Fatalf("Set B (allow cc::/64): %v", err)
			}
			mustPing(t, a, "-6", "-I", "2001:db8:cc::1", "2001:db8:bb::1")
			// IPv4 inner from a source outside Allowed: B accepts no
			// IPv4 source once Allowed lists only IPv6 prefixes.
			cfgB.Tunnels[0].Allowed = []netip.Prefix{pfxA6}
			if err := kb.Set(cfgB); err != nil {
				t.Fatalf("Set B (IPv6 only): %v", err)
			}
			if ok, out := ping(t, a, "-4", "-c", "1", "-I", "203.0.113.1", "192.0.2.1"); ok {
				t.Errorf("IPv4 ping got through a tunnel that allows no IPv4 source:\n%s", out)
			}
			mustPing(t, a, "-6", "-I", "2001:db8:aa::1", "2001:db8:bb::1")
		})
	}
	// After the move to IP6IP4 no ip6tnl link of ours is left.
	for _, l := range ourLinks(t, opsA) {
		if l.Kind != KindSit {
			t.Errorf("A kept a %s link after the move to sit: %+v", l.Kind, l)
		}
	}

	// UDP encapsulation: refused without a UDP sender; with one, carried
	// by the backend's userspace path. The move sit → UDP → ip6tnl keeps
	// a route at each step (the UDP routes have metric + 1).
	a4, b4 := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
	if err := ka.Set(pairConfig(UDP, a4, b4, mineA, mineB)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Set with UDP encapsulation and no sender: %v, want ErrUnsupported", err)
	}
	attachUDP(t, a, ka, netip.AddrPortFrom(a4, udpPort(a4)))
	attachUDP(t, b, kb, netip.AddrPortFrom(b4, udpPort(b4)))
	t.Run("udp", func(t *testing.T) {
		if err := ka.Set(kernelPair(UDP, a4, b4, append(mineA, pfxC6), mineB, mineB)); err != nil {
			t.Fatalf("Set A: %v", err)
		}
		cfgB := kernelPair(UDP, b4, a4, mineB, append(mineA, pfxC6), mineA)
		cfgB.Forwarding = true
		if err := kb.Set(cfgB); err != nil {
			t.Fatalf("Set B: %v", err)
		}
		for _, l := range ourLinks(t, opsA) {
			if l.Kind != KindTun {
				t.Errorf("A kept a %s link after the move to UDP: %+v", l.Kind, l)
			}
		}
		before := [2]TunnelStats{ka.Stats().Tunnels["peer"], kb.Stats().Tunnels["peer"]}
		mustPing(t, a, "-6", "-I", "2001:db8:aa::1", "2001:db8:bb::1")
		mustPing(t, a, "-4", "-I", "203.0.113.1", "192.0.2.1")
		sa, sb := ka.Stats().Tunnels["peer"], kb.Stats().Tunnels["peer"]
		if sa.TxPackets-before[0].TxPackets < 6 || sb.RxPackets-before[1].RxPackets < 6 {
			t.Errorf("UDP path counters: A tx +%d, B rx +%d, want at least 6", sa.TxPackets-before[0].TxPackets, sb.RxPackets-before[1].RxPackets)
		}
		if ok, out := ping(t, a, "-6", "-c", "1", "-I", "2001:db8:cc::1", "2001:db8:bb::1"); ok {
			t.Errorf("ping from a source B does not allow got through the UDP tunnel:\n%s", out)
		}
		// And back to a kernel link.
		la, lb := endpoints(IP6IP6)
		if err := ka.Set(kernelPair(IP6IP6, la, lb, mineA, mineB, mineB)); err != nil {
			t.Fatalf("Set A: %v", err)
		}
		cfgB = kernelPair(IP6IP6, lb, la, mineB, mineA, mineA)
		cfgB.Forwarding = true
		if err := kb.Set(cfgB); err != nil {
			t.Fatalf("Set B: %v", err)
		}
		mustPing(t, a, "-6", "-I", "2001:db8:aa::1", "2001:db8:bb::1")
		if out := ipCmd(t, "-n", a, "-6", "route", "show", "table", "1000"); strings.Contains(out, "metric 1025") {
			t.Errorf("the UDP path's route survived the move:\n%s", out)
		}
	})

	for _, x := range []struct {
		ns string
		k  *Kernel
	}{{a, ka}, {b, kb}} {
		if err := x.k.Close(); err != nil {
			t.Errorf("Close in %s: %v", x.ns, err)
		}
		assertClean(t, x.ns, "after Close")
	}
}

// TestKernelCrashCleanup installs a tunnel with the kernel backend, drops
// the backend without Close (a crash) and checks that Cleanup removes the
// link, its routes and rules, the ingress-filter rules included, while a
// link of another owner survives.
func TestKernelCrashCleanup(t *testing.T) {
	requireKernelTunnels(t)
	a, _ := pairNamespaces(t)
	ops := func() *NetlinkOps {
		var (
			o   *NetlinkOps
			err error
		)
		inNetns(t, a, func() { o, err = NewNetOps() })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { o.Close() })
		return o
	}
	crashed := NewKernel(ops(), KernelOptions{Owner: "test"})
	la, lb := endpoints(IP6IP6)
	if err := crashed.Set(kernelPair(IP6IP6, la, lb, []netip.Prefix{pfxA6}, []netip.Prefix{pfxB6}, []netip.Prefix{pfxB6})); err != nil {
		t.Fatal(err)
	}
	other := NewKernel(ops(), KernelOptions{Owner: "other"})
	l4a, l4b := endpoints(IP6IP4)
	// It accepts every source, so it has no ingress-filter rules (Cleanup
	// removes all rules of ours, whatever their owner).
	all := []netip.Prefix{netip.MustParsePrefix("::/0"), netip.MustParsePrefix("0.0.0.0/0")}
	if err := other.Set(Config{Tunnels: []Tunnel{{ID: "x", Encap: IP6IP4, Local: l4a, Remote: l4b, Allowed: all}}}); err != nil {
		t.Fatal(err)
	}
	before := ipCmd(t, "-n", a, "-6", "rule", "show")
	if !strings.Contains(before, "blackhole") {
		t.Errorf("no ingress-filter rule installed:\n%s", before)
	}
	if err := Cleanup(ops(), "test", nil); err != nil {
		t.Fatal(err)
	}
	out := ipCmd(t, "-n", a, "-d", "link", "show")
	if !strings.Contains(out, LinkName("x", KindSit)) {
		t.Errorf("Cleanup removed the other owner's link:\n%s", out)
	}
	if strings.Contains(out, LinkName("peer", KindIP6Tnl)) {
		t.Errorf("Cleanup left the crashed run's link:\n%s", out)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	assertClean(t, a, "after Cleanup")
}
