package dataplane

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

var (
	hoa     = netip.MustParseAddr("2001:db8:1::100")
	haAddr  = netip.MustParseAddr("2001:db8:1::1")
	mnp     = netip.MustParsePrefix("2001:db8:1:100::/64")
	mnp2    = netip.MustParsePrefix("2001:db8:1:200::/64")
	mnp4    = netip.MustParsePrefix("192.0.2.16/28")
	homePfx = netip.MustParsePrefix("2001:db8:1::/64")
)

// haConfigA is a home agent serving one mobile router at an IPv6 care-of
// address: tunnel, routes for its home address and prefixes, a source
// rule, proxy ND for the home address, forwarding.
func haConfigA() Config {
	return Config{
		Tunnels: []Tunnel{{
			ID: "2001:db8:1::100", Encap: IP6IP6,
			Local: haAddr, Remote: netip.MustParseAddr("2001:db8:2::5"),
			Allowed: []netip.Prefix{netip.PrefixFrom(hoa, 128), mnp, mnp4},
			Device:  "home0",
		}},
		Routes: []Route{
			{Dst: netip.PrefixFrom(hoa, 128), Tunnel: "2001:db8:1::100"},
			{Dst: mnp, Tunnel: "2001:db8:1::100"},
			{Dst: mnp4, Tunnel: "2001:db8:1::100", Table: 1000},
		},
		Rules:      []Rule{{Priority: 1000, From: mnp, Table: 1000}},
		Proxy:      []ProxyNeigh{{Addr: hoa, Dev: "home0", Router: true}},
		Forwarding: true,
		ProxyNDP:   "home0",
	}
}

// haConfigB is the same mobile router after a move to an IPv4 care-of
// address (sit link replaces the ip6tnl link), with its first prefix
// replaced by another and the rule following it.
func haConfigB() Config {
	c := haConfigA()
	c.Tunnels[0].Encap = IP6IP4
	c.Tunnels[0].Local = netip.MustParseAddr("198.51.100.1")
	c.Tunnels[0].Remote = netip.MustParseAddr("203.0.113.5")
	c.Tunnels[0].Device = ""
	c.Tunnels[0].Allowed = []netip.Prefix{netip.PrefixFrom(hoa, 128), mnp2, mnp4}
	c.Routes[1].Dst = mnp2
	c.Rules[0].From = mnp2
	return c
}

const wantA = `ip -4 route add 192.0.2.16/28 dev nemo699d8e074 table 1000 metric 0 proto 78
ip -4 rule add pref 850 from 192.0.2.16/28 iif nemo699d8e074 goto 852 proto 78
ip -4 rule add pref 851 from all iif nemo699d8e074 blackhole proto 78
ip -4 rule add pref 852 from all nop proto 78
ip -6 neigh add proxy 2001:db8:1::100 dev home0 router
ip -6 route add 2001:db8:1:100::/64 dev nemo699d8e074 table 254 metric 1024 proto 78
ip -6 route add 2001:db8:1::100/128 dev nemo699d8e074 table 254 metric 1024 proto 78
ip -6 rule add pref 1000 from 2001:db8:1:100::/64 lookup 1000 proto 78
ip -6 rule add pref 850 from 2001:db8:1:100::/64 iif nemo699d8e074 goto 852 proto 78
ip -6 rule add pref 850 from 2001:db8:1::100/128 iif nemo699d8e074 goto 852 proto 78
ip -6 rule add pref 851 from all iif nemo699d8e074 blackhole proto 78
ip -6 rule add pref 852 from all nop proto 78
ip link add nemo699d8e074 alias "nemo:ha:2001:db8:1::100" type ip6tnl mode any local 2001:db8:1::1 remote 2001:db8:2::5 dev home0 encaplimit none hoplimit 64
ip link set nemo699d8e074 up
sysctl -w net.ipv4.ip_forward=1
sysctl -w net.ipv6.conf.all.forwarding=1
sysctl -w net.ipv6.conf.home0.proxy_ndp=1
`

const wantB = `ip -4 route add 192.0.2.16/28 dev nemo499d8e074 table 1000 metric 0 proto 78
ip -4 rule add pref 850 from 192.0.2.16/28 iif nemo499d8e074 goto 852 proto 78
ip -4 rule add pref 851 from all iif nemo499d8e074 blackhole proto 78
ip -4 rule add pref 852 from all nop proto 78
ip -6 neigh add proxy 2001:db8:1::100 dev home0 router
ip -6 route add 2001:db8:1:200::/64 dev nemo499d8e074 table 254 metric 1024 proto 78
ip -6 route add 2001:db8:1::100/128 dev nemo499d8e074 table 254 metric 1024 proto 78
ip -6 rule add pref 1000 from 2001:db8:1:200::/64 lookup 1000 proto 78
ip -6 rule add pref 850 from 2001:db8:1:200::/64 iif nemo499d8e074 goto 852 proto 78
ip -6 rule add pref 850 from 2001:db8:1::100/128 iif nemo499d8e074 goto 852 proto 78
ip -6 rule add pref 851 from all iif nemo499d8e074 blackhole proto 78
ip -6 rule add pref 852 from all nop proto 78
ip link add nemo499d8e074 alias "nemo:ha:2001:db8:1::100" type sit mode any local 198.51.100.1 remote 203.0.113.5 ttl 64
ip link set nemo499d8e074 up
sysctl -w net.ipv4.ip_forward=1
sysctl -w net.ipv6.conf.all.forwarding=1
sysctl -w net.ipv6.conf.home0.proxy_ndp=1
`

func newKernelFake(t *testing.T) (*Kernel, *Fake) {
	t.Helper()
	f := NewFake("home0", "eth0")
	f.SetSysctlInitial(sysctlForward6, "0")
	f.SetSysctlInitial(sysctlForward4, "0")
	return NewKernel(f, KernelOptions{Owner: "ha"}), f
}

// diffLines reports a readable difference between two renderings.
func diffLines(t *testing.T, what, got, want string) {
	t.Helper()
	if got == want {
		return
	}
	t.Errorf("%s:\n--- got\n%s--- want\n%s", what, got, want)
}

func TestKernelGolden(t *testing.T) {
	k, f := newKernelFake(t)
	if err := k.Set(haConfigA()); err != nil {
		t.Fatal(err)
	}
	diffLines(t, "state after Set(A)", f.Render(), wantA)
	f.Ops()

	// The same config again changes nothing.
	if err := k.Set(haConfigA()); err != nil {
		t.Fatal(err)
	}
	if ops := f.Ops(); len(ops) != 0 {
		t.Errorf("Set(A) twice performed %q", ops)
	}

	// A → B: every add and replace comes before the first delete.
	if err := k.Set(haConfigB()); err != nil {
		t.Fatal(err)
	}
	diffLines(t, "state after Set(B)", f.Render(), wantB)
	ops := f.Ops()
	firstDel := slices.IndexFunc(ops, func(op string) bool { return strings.Contains(op, " del ") })
	if firstDel < 0 {
		t.Fatalf("A → B deleted nothing: %q", ops)
	}
	for i, op := range ops[firstDel:] {
		if !strings.Contains(op, " del ") {
			t.Errorf("operation %d %q comes after a delete:\n%s", firstDel+i, op, strings.Join(ops, "\n"))
		}
	}
	// The old link is deleted last: its routes were moved off it first.
	if last := ops[len(ops)-1]; last != "ip link del nemo699d8e074" {
		t.Errorf("last operation %q, want the old link's deletion", last)
	}

	// B built from scratch renders the same.
	k2, f2 := newKernelFake(t)
	if err := k2.Set(haConfigB()); err != nil {
		t.Fatal(err)
	}
	diffLines(t, "fresh Set(B)", f2.Render(), wantB)

	// A handover within IPv6 changes the link in place.
	c := haConfigA()
	if err := k2.Set(c); err != nil {
		t.Fatal(err)
	}
	f2.Ops()
	c.Tunnels[0].Remote = netip.MustParseAddr("2001:db8:3::7")
	if err := k2.Set(c); err != nil {
		t.Fatal(err)
	}
	if ops := f2.Ops(); len(ops) != 1 || !strings.HasPrefix(ops[0], "ip link change nemo699d8e074 ") || !strings.Contains(ops[0], "remote 2001:db8:3::7") {
		t.Errorf("care-of address change performed %q, want one link change", ops)
	}

	// Close removes everything and restores the sysctls.
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	diffLines(t, "state after Close", f.Render(), "")
	if v, _ := f.SysctlGet(sysctlForward6); v != "0" {
		t.Errorf("forwarding left at %q", v)
	}
	if err := k.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := k.Set(haConfigA()); !errors.Is(err, ErrClosed) {
		t.Errorf("Set after Close: %v", err)
	}
}

func TestKernelRetriesAfterFailure(t *testing.T) {
	k, f := newKernelFake(t)
	failed := false
	f.Err = func(op string) error {
		if !failed && strings.Contains(op, "route replace 2001:db8:1:100::/64") {
			failed = true
			return errors.New("injected")
		}
		return nil
	}
	if err := k.Set(haConfigA()); err == nil {
		t.Fatal("Set succeeded despite a failed route")
	}
	if strings.Contains(f.Render(), "2001:db8:1:100::/64 dev") {
		t.Fatal("the failed route is in the state")
	}
	if err := k.Set(haConfigA()); err != nil {
		t.Fatal(err)
	}
	diffLines(t, "after the retry", f.Render(), wantA)
}

// TestKernelRefusesUDP: without a UDP sender the kernel backend cannot
// carry a UDP tunnel (and makes no userspace path for it).
func TestKernelRefusesUDP(t *testing.T) {
	k, f := newKernelFake(t)
	c := Config{Tunnels: []Tunnel{{ID: "x", Encap: UDP, UDPRemote: netip.MustParseAddrPort("203.0.113.5:4191")}}}
	if err := k.Set(c); !errors.Is(err, ErrUnsupported) || !errors.Is(err, ErrNoUDPSender) {
		t.Errorf("UDP tunnel: %v, want ErrUnsupported and ErrNoUDPSender", err)
	}
	if k.us.Load() != nil {
		t.Error("a userspace path was made without a UDP sender")
	}
	// A tunnel without a kernel link (a UDP one, filtered by the userspace
	// path) gets no ingress-filter rules: a rule without iif would drop
	// everything.
	if rules := ingressRules(c.Tunnels, map[string]string{}, DefaultFilterPriority); len(rules) != 0 {
		t.Errorf("filter rules for a tunnel without a link: %+v", rules)
	}
	for _, r := range ingressRules(haConfigA().Tunnels, map[string]string{"2001:db8:1::100": "nemo6x"}, DefaultFilterPriority) {
		if r.Action != ActionNop && r.IIF != "nemo6x" {
			t.Errorf("filter rule without the tunnel's iif: %+v", r)
		}
	}
	if f.Render() != "" {
		t.Errorf("a refused config left state:\n%s", f.Render())
	}
}

func TestKernelStats(t *testing.T) {
	k, f := newKernelFake(t)
	if err := k.Set(haConfigA()); err != nil {
		t.Fatal(err)
	}
	name := LinkName("2001:db8:1::100", KindIP6Tnl)
	f.mu.Lock()
	l := f.links[name]
	l.Stats = LinkStats{RxPackets: 3, TxPackets: 5, RxBytes: 300, TxBytes: 500, RxDropped: 1}
	f.links[name] = l
	f.mu.Unlock()
	got := k.Stats().Tunnels["2001:db8:1::100"]
	if got != (TunnelStats{RxPackets: 3, TxPackets: 5, RxBytes: 300, TxBytes: 500, DropIngress: 1}) {
		t.Errorf("stats %+v", got)
	}
}

func TestLinkName(t *testing.T) {
	a, b := LinkName("2001:db8:1::100", KindIP6Tnl), LinkName("2001:db8:1::100", KindSit)
	c := LinkName("2001:db8:1::101", KindIP6Tnl)
	for _, n := range []string{a, b, c} {
		if len(n) > maxLinkName || !strings.HasPrefix(n, LinkPrefix) {
			t.Errorf("bad link name %q", n)
		}
	}
	if a == b || a == c || a != LinkName("2001:db8:1::100", KindIP6Tnl) {
		t.Errorf("names not distinct or not stable: %q %q %q", a, b, c)
	}
}

func TestCleanup(t *testing.T) {
	f := NewFake("home0", "eth0")
	// Leftovers of a crashed "ha" run.
	ours := LinkName("2001:db8:1::100", KindIP6Tnl)
	f.InjectLink(Link{Name: ours, Kind: KindIP6Tnl, Alias: LinkAlias("ha", "2001:db8:1::100"), Local: haAddr, Remote: netip.MustParseAddr("2001:db8:2::5")})
	f.InjectRoute(KernelRoute{Dst: mnp, Dev: ours, Protocol: RouteProtocol})
	f.InjectRoute(KernelRoute{Dst: mnp4, Dev: ours, Table: 1000, Protocol: RouteProtocol})
	f.InjectRule(KernelRule{Rule: Rule{Priority: 1000, From: mnp, Table: 1000}, Protocol: RouteProtocol})
	f.InjectProxy(ProxyNeigh{Addr: hoa, Dev: "home0", Router: true})
	// A link of ours whose alias was never set (crash between the create
	// and the alias, on a kernel that ignores the alias in the create).
	f.InjectLink(Link{Name: LinkName("y", KindSit), Kind: KindSit, Local: netip.MustParseAddr("192.0.2.1"), Remote: netip.MustParseAddr("192.0.2.9")})
	// Foreign objects that must survive, unmarked look-alikes included.
	f.InjectLink(Link{Name: "nemo6zzzzzzzz", Kind: KindIP6Tnl, Local: haAddr, Remote: netip.MustParseAddr("2001:db8:2::7")})
	f.InjectLink(Link{Name: "nemo4abcdef012", Kind: KindSit, Local: netip.MustParseAddr("192.0.2.1"), Remote: netip.MustParseAddr("192.0.2.8")})
	foreign := LinkName("x", KindSit)
	f.InjectLink(Link{Name: foreign, Kind: KindSit, Alias: LinkAlias("mrouter", "x"), Local: netip.MustParseAddr("192.0.2.1"), Remote: netip.MustParseAddr("192.0.2.2")})
	f.InjectLink(Link{Name: "gre1", Kind: "gre", Alias: LinkAlias("ha", "x"), Local: netip.MustParseAddr("192.0.2.1"), Remote: netip.MustParseAddr("192.0.2.3")})
	f.InjectRoute(KernelRoute{Dst: netip.MustParsePrefix("::/0"), Dev: "eth0", Via: netip.MustParseAddr("fe80::1"), Protocol: 9})
	f.InjectRoute(KernelRoute{Dst: netip.MustParsePrefix("198.51.100.0/24"), Dev: "eth0", Protocol: 2})
	f.InjectRule(KernelRule{Rule: Rule{Priority: 1000, From: mnp, Table: 1000}, Protocol: 0})
	f.InjectProxy(ProxyNeigh{Addr: netip.MustParseAddr("2001:db8:9::1"), Dev: "home0"})
	f.InjectProxy(ProxyNeigh{Addr: netip.MustParseAddr("2001:db8:1::200"), Dev: "eth0"})

	if err := Cleanup(f, "ha", []ProxyScope{{Dev: "home0", Prefix: homePfx}}); err != nil {
		t.Fatal(err)
	}
	want := `ip -4 route add 198.51.100.0/24 dev eth0 table 254 metric 0 proto 2
ip -6 neigh add proxy 2001:db8:1::200 dev eth0
ip -6 neigh add proxy 2001:db8:9::1 dev home0
ip -6 route add ::/0 via fe80::1 dev eth0 table 254 metric 1024 proto 9
ip -6 rule add pref 1000 from 2001:db8:1:100::/64 lookup 1000
ip link add gre1 alias "nemo:ha:x" type gre mode any local 192.0.2.1 remote 192.0.2.3
ip link add nemo4abcdef012 type sit mode any local 192.0.2.1 remote 192.0.2.8 ttl 64
ip link add nemo4` + foreign[5:] + ` alias "nemo:mrouter:x" type sit mode any local 192.0.2.1 remote 192.0.2.2 ttl 64
ip link add nemo6zzzzzzzz type ip6tnl mode any local 2001:db8:1::1 remote 2001:db8:2::7 encaplimit none hoplimit 64
`
	diffLines(t, "after Cleanup", f.Render(), want)
}

func TestProbe(t *testing.T) {
	f := NewFake()
	if kind, reason := Probe(f, true); kind != KindKernel || !strings.Contains(reason, "sit") {
		t.Errorf("Probe with tunnel support = %q, %q", kind, reason)
	}
	if f.Render() != "" {
		t.Errorf("Probe left state:\n%s", f.Render())
	}
	f.Unsupported[KindSit] = true
	if kind, _ := Probe(f, false); kind != KindKernel {
		t.Errorf("Probe without sit but IPv6 only = %q", kind)
	}
	if kind, reason := Probe(f, true); kind != KindUserspace || !strings.Contains(reason, "sit") {
		t.Errorf("Probe without sit = %q, %q", kind, reason)
	}
	f.Unsupported[KindIP6Tnl] = true
	if kind, reason := Probe(f, false); kind != KindUserspace || !strings.Contains(reason, "ip6tnl") {
		t.Errorf("Probe without ip6tnl = %q, %q", kind, reason)
	}
	if f.Render() != "" {
		t.Errorf("Probe left state:\n%s", f.Render())
	}
}

func TestValidate(t *testing.T) {
	good := haConfigA()
	if err := good.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for name, mutate := range map[string]func(*Config){
		"empty tunnel ID":        func(c *Config) { c.Tunnels[0].ID = "" },
		"duplicate tunnel":       func(c *Config) { c.Tunnels = append(c.Tunnels, c.Tunnels[0]) },
		"ip6ip6 with IPv4":       func(c *Config) { c.Tunnels[0].Remote = netip.MustParseAddr("192.0.2.1") },
		"ip6ip4 with IPv6":       func(c *Config) { c.Tunnels[0].Encap = IP6IP4 },
		"udp without endpoint":   func(c *Config) { c.Tunnels[0].Encap = UDP },
		"unknown encap":          func(c *Config) { c.Tunnels[0].Encap = 0 },
		"route to unknown":       func(c *Config) { c.Routes[0].Tunnel = "nope" },
		"route tunnel and dev":   func(c *Config) { c.Routes[0].Dev = "eth0" },
		"route neither":          func(c *Config) { c.Routes[0].Tunnel = "" },
		"route via family":       func(c *Config) { c.Routes[0].Via = netip.MustParseAddr("192.0.2.1") },
		"rule without table":     func(c *Config) { c.Rules[0].Table = 0 },
		"rule without family":    func(c *Config) { c.Rules[0].From = netip.Prefix{} },
		"rule family mismatch":   func(c *Config) { c.Rules[0].Family = IPv4 },
		"proxy without device":   func(c *Config) { c.Proxy[0].Dev = "" },
		"shared remote":          func(c *Config) { t2 := c.Tunnels[0]; t2.ID = "other"; c.Tunnels = append(c.Tunnels, t2) },
		"invalid allowed prefix": func(c *Config) { c.Tunnels[0].Allowed = append(c.Tunnels[0].Allowed, netip.Prefix{}) },
	} {
		c := haConfigA()
		mutate(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v", name, err)
		}
	}
	// Duplicate route keys are refused when the state is built.
	c := haConfigA()
	c.Routes = append(c.Routes, Route{Dst: mnp, Dev: "eth0"})
	k, _ := newKernelFake(t)
	if err := k.Set(c); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("duplicate route: %v", err)
	}
}

// TestSplitUDP: the UDP tunnels and the routes into them go to the
// userspace path with their metric raised by one (IPv6 default 1024 →
// 1025, IPv4 0 → 1); everything else stays with the kernel.
func TestSplitUDP(t *testing.T) {
	cfg := haConfigA()
	cfg.Tunnels = append(cfg.Tunnels, Tunnel{ID: "u", Encap: UDP, UDPRemote: netip.MustParseAddrPort("203.0.113.5:4191"),
		Allowed: []netip.Prefix{mnp2}})
	cfg.Routes = append(cfg.Routes,
		Route{Dst: mnp2, Tunnel: "u"},
		Route{Dst: netip.MustParsePrefix("198.51.100.0/28"), Tunnel: "u", Table: 1000},
		Route{Dst: netip.MustParsePrefix("2001:db8:1:300::/64"), Tunnel: "u", Metric: 7})
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	kern, udp := splitUDP(cfg)
	if len(kern.Tunnels) != 1 || kern.Tunnels[0].Encap != IP6IP6 || len(udp.Tunnels) != 1 || udp.Tunnels[0].ID != "u" {
		t.Fatalf("tunnels split into %+v and %+v", kern.Tunnels, udp.Tunnels)
	}
	if !slices.Equal(kern.Routes, haConfigA().Routes) {
		t.Errorf("kernel routes %+v, want %+v", kern.Routes, haConfigA().Routes)
	}
	var metrics []int
	for _, r := range udp.Routes {
		if r.Tunnel != "u" {
			t.Errorf("route %+v in the UDP part", r)
		}
		metrics = append(metrics, r.Metric)
	}
	if want := []int{1025, 1, 8}; !slices.Equal(metrics, want) {
		t.Errorf("UDP route metrics %v, want %v", metrics, want)
	}
	if !slices.Equal(kern.Rules, cfg.Rules) || !slices.Equal(kern.Proxy, cfg.Proxy) || !kern.Forwarding || kern.ProxyNDP != "home0" {
		t.Errorf("kernel part lost rules, proxy entries or sysctls: %+v", kern)
	}
	if len(udp.Rules) != 0 || len(udp.Proxy) != 0 || udp.Forwarding || udp.ProxyNDP != "" {
		t.Errorf("UDP part has more than tunnels and routes: %+v", udp)
	}
	if err := udp.Validate(); err != nil {
		t.Errorf("UDP part invalid: %v", err)
	}
}
