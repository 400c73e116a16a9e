package dataplane

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/internal/testutil"
	"github.com/vishvananda/netns"
)

// ipCmd runs `ip args…` and fails t on error.
func ipCmd(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newNetns creates a network namespace unique to this run, removed at the
// end of the test.
func newNetns(t *testing.T, tag string) string {
	t.Helper()
	name := fmt.Sprintf("dp%s-%d-%04x", tag, os.Getpid(), rand.IntN(1<<16))
	ipCmd(t, "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	ipCmd(t, "-n", name, "link", "set", "lo", "up")
	return name
}

// inNetns runs f on a locked OS thread switched into the named namespace.
func inNetns(t *testing.T, name string, f func()) {
	t.Helper()
	target, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("netns %s: %v", name, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			errc <- err
			return
		}
		f()
		if err := netns.Set(orig); err != nil {
			errc <- err // thread stays locked and dies with the goroutine
			return
		}
		runtime.UnlockOSThread()
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatalf("switching to netns %s: %v", name, err)
	}
}

// openUserspace opens a userspace backend (and its NetOps) inside ns.
func openUserspace(t *testing.T, ns string, opts UserspaceOptions) *Userspace {
	t.Helper()
	var (
		u   *Userspace
		ops *NetlinkOps
		err error
	)
	inNetns(t, ns, func() {
		if ops, err = NewNetOps(); err != nil {
			return
		}
		u, err = NewUserspace(ops, opts)
	})
	if err != nil {
		t.Fatalf("userspace backend in %s: %v", ns, err)
	}
	t.Cleanup(func() {
		u.Close()
		ops.Close()
	})
	return u
}

// pairConfig is one side's Config: a tunnel "peer" to the other side,
// routes to the other side's prefixes in table 1000 and source rules for
// this side's prefixes.
func pairConfig(encap Encap, local, remote netip.Addr, mine, theirs []netip.Prefix, extraSources ...netip.Prefix) Config {
	cfg := Config{Tunnels: []Tunnel{{ID: "peer", Local: local, Remote: remote, Encap: encap, Allowed: theirs}}}
	if encap == UDP {
		cfg.Tunnels[0].UDPRemote = netip.AddrPortFrom(remote, udpPort(remote))
	}
	for _, p := range theirs {
		cfg.Routes = append(cfg.Routes, Route{Dst: p, Tunnel: "peer", Table: 1000})
	}
	for i, p := range append(append([]netip.Prefix{}, mine...), extraSources...) {
		cfg.Rules = append(cfg.Rules, Rule{Priority: 1000 + i, From: p, Table: 1000})
	}
	return cfg
}

type testbed struct {
	a, b   string
	ua, ub *Userspace
}

// udpPort is the UDP port each side listens on: A (198.51.100.1) a
// NAT-style high port, B (198.51.100.2) the DSMIPv6 port 4191.
func udpPort(a netip.Addr) uint16 {
	if a == netip.MustParseAddr("198.51.100.2") {
		return 4191
	}
	return 40000
}

// attachUDP opens the "signalling" UDP socket inside ns, hands it to u as
// its UDPSender and feeds what arrives to u.InjectUDP, as a daemon does.
func attachUDP(t *testing.T, ns string, u interface {
	SetUDPSender(UDPSender)
	InjectUDP(netip.AddrPort, []byte)
}, local netip.AddrPort) {
	t.Helper()
	var (
		conn *net.UDPConn
		err  error
	)
	inNetns(t, ns, func() { conn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(local)) })
	if err != nil {
		t.Fatalf("listen %v in %s: %v", local, ns, err)
	}
	u.SetUDPSender(conn)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			u.InjectUDP(from, buf[:n])
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
}

// pairNamespaces makes two namespaces A and B joined by a veth pair
// (va 2001:db8:ff::1/64 198.51.100.1/24, vb 2001:db8:ff::2/64
// 198.51.100.2/24) with the inner addresses on lo: A 2001:db8:aa::1,
// 2001:db8:cc::1, 203.0.113.1; B 2001:db8:bb::1, 192.0.2.1.
func pairNamespaces(t *testing.T) (a, b string) {
	t.Helper()
	a, b = newNetns(t, "A"), newNetns(t, "B")
	ipCmd(t, "link", "add", "va", "netns", a, "type", "veth", "peer", "name", "vb", "netns", b)
	for _, c := range [][]string{
		{"-n", a, "addr", "add", "2001:db8:ff::1/64", "dev", "va", "nodad"},
		{"-n", a, "addr", "add", "198.51.100.1/24", "dev", "va"},
		{"-n", a, "link", "set", "va", "up"},
		{"-n", a, "addr", "add", "2001:db8:aa::1/128", "dev", "lo"},
		{"-n", a, "addr", "add", "2001:db8:cc::1/128", "dev", "lo"},
		{"-n", a, "addr", "add", "203.0.113.1/32", "dev", "lo"},
		{"-n", b, "addr", "add", "2001:db8:ff::2/64", "dev", "vb", "nodad"},
		{"-n", b, "addr", "add", "198.51.100.2/24", "dev", "vb"},
		{"-n", b, "link", "set", "vb", "up"},
		{"-n", b, "addr", "add", "2001:db8:bb::1/128", "dev", "lo"},
		{"-n", b, "addr", "add", "192.0.2.1/32", "dev", "lo"},
	} {
		ipCmd(t, c...)
	}
	return a, b
}

func newTestbed(t *testing.T) *testbed {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "ip")
	pingCmd = pingCommand(t)
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Fatalf("/dev/net/tun: %v", err)
	}
	tb := &testbed{}
	tb.a, tb.b = pairNamespaces(t)
	tb.ua = openUserspace(t, tb.a, UserspaceOptions{Owner: "test"})
	tb.ub = openUserspace(t, tb.b, UserspaceOptions{Owner: "test"})
	a4, b4 := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
	attachUDP(t, tb.a, tb.ua, netip.AddrPortFrom(a4, udpPort(a4)))
	attachUDP(t, tb.b, tb.ub, netip.AddrPortFrom(b4, udpPort(b4)))
	return tb
}

func (tb *testbed) set(t *testing.T, encap Encap) {
	t.Helper()
	var la, lb netip.Addr
	switch encap {
	case IP6IP6:
		la, lb = netip.MustParseAddr("2001:db8:ff::1"), netip.MustParseAddr("2001:db8:ff::2")
	case IP6IP4, UDP:
		la, lb = netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
	}
	if err := tb.ua.Set(pairConfig(encap, la, lb, []netip.Prefix{pfxA6, pfxA4}, []netip.Prefix{pfxB6, pfxB4}, pfxC6)); err != nil {
		t.Fatalf("Set A: %v", err)
	}
	if err := tb.ub.Set(pairConfig(encap, lb, la, []netip.Prefix{pfxB6, pfxB4}, []netip.Prefix{pfxA6, pfxA4})); err != nil {
		t.Fatalf("Set B: %v", err)
	}
}

// pingCmd is the ping command line: iputils ping, or busybox's where
// iputils is not installed (CI installs iputils-ping).
var pingCmd []string

func pingCommand(t *testing.T) []string {
	if p, err := exec.LookPath("ping"); err == nil {
		return []string{p}
	}
	if p, err := exec.LookPath("busybox"); err == nil {
		return []string{p, "ping"}
	}
	return []string{testutil.RequireTool(t, "ping")}
}

// ping runs ping in namespace ns and reports whether it succeeded.
func ping(t *testing.T, ns string, args ...string) (bool, string) {
	t.Helper()
	argv := append([]string{"netns", "exec", ns}, pingCmd...)
	argv = append(argv, "-c", "3", "-i", "0.2", "-W", "2")
	cmd := exec.Command("ip", append(argv, args...)...)
	out, err := cmd.CombinedOutput()
	return err == nil, string(out)
}

func mustPing(t *testing.T, ns string, args ...string) {
	t.Helper()
	if ok, out := ping(t, ns, args...); !ok {
		t.Fatalf("ping %v in %s failed:\n%s", args, ns, out)
	}
}

func TestUserspaceForwarding(t *testing.T) {
	baseGoroutines := runtime.NumGoroutine()
	tb := newTestbed(t)
	for _, encap := range []Encap{IP6IP6, IP6IP4, UDP} {
		t.Run(encap.String(), func(t *testing.T) {
			tb.set(t, encap)
			before := [2]TunnelStats{tb.ua.Stats().Tunnels["peer"], tb.ub.Stats().Tunnels["peer"]}
			mustPing(t, tb.a, "-6", "-I", "2001:db8:aa::1", "2001:db8:bb::1")
			mustPing(t, tb.a, "-4", "-I", "203.0.113.1", "192.0.2.1")
			sa, sb := tb.ua.Stats().Tunnels["peer"], tb.ub.Stats().Tunnels["peer"]
			// 3 v6 + 3 v4 echo requests one way, as many replies back.
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
			if sa.TxBytes <= before[0].TxBytes || sb.RxBytes <= before[1].RxBytes {
				t.Errorf("byte counters did not move: A %+v B %+v", sa, sb)
			}

			// Ingress filter: A routes a packet from 2001:db8:cc::1 into
			// the tunnel; B must drop it (cc:: is not allowed from A).
			drop0 := tb.ub.Stats().Tunnels["peer"].DropIngress
			if ok, out := ping(t, tb.a, "-6", "-c", "1", "-I", "2001:db8:cc::1", "2001:db8:bb::1"); ok {
				t.Errorf("ping from a filtered source got through:\n%s", out)
			}
			if d := tb.ub.Stats().Tunnels["peer"].DropIngress - drop0; d == 0 {
				t.Errorf("B's ingress drop counter did not move")
			}

			// The raw-socket send path must not allocate per packet.
			if encap != UDP {
				tb.ua.mu.Lock()
				pt := tb.ua.plane.tunnels["peer"]
				tb.ua.mu.Unlock()
				pkt := testPacket6(t, "2001:db8:aa::1", "2001:db8:bb::1", 64)
				s := newSender()
				sock := tb.ua.raw6in6
				if encap == IP6IP4 {
					sock = tb.ua.raw6in4
				}
				if a := testing.AllocsPerRun(100, func() {
					if err := s.send(sock, pt, pkt, 0); err != nil {
						t.Fatalf("send: %v", err)
					}
				}); a != 0 {
					t.Errorf("raw send allocates %.1f times per packet", a)
				}
			}
		})
	}

	// Everything we made must be gone after Close, in both namespaces.
	for _, x := range []struct {
		ns string
		u  *Userspace
	}{{tb.a, tb.ua}, {tb.b, tb.ub}} {
		if err := x.u.Close(); err != nil {
			t.Errorf("Close in %s: %v", x.ns, err)
		}
		if err := x.u.Close(); err != nil {
			t.Errorf("second Close in %s: %v", x.ns, err)
		}
		if err := x.u.Set(Config{}); err == nil {
			t.Errorf("Set after Close succeeded")
		}
		for _, c := range [][]string{
			{"-n", x.ns, "link", "show"},
			{"-n", x.ns, "-6", "route", "show", "table", "all"},
			{"-n", x.ns, "-4", "route", "show", "table", "all"},
			{"-n", x.ns, "-6", "rule", "show"},
			{"-n", x.ns, "-4", "rule", "show"},
		} {
			out := ipCmd(t, c...)
			for _, bad := range []string{"nemo", "proto 78", "lookup 1000", "2001:db8:bb::/64", "2001:db8:aa::/64"} {
				if strings.Contains(out, bad) {
					t.Errorf("after Close, `ip %s` still shows %q:\n%s", strings.Join(c, " "), bad, out)
				}
			}
		}
	}
	// The backends' ten reader goroutines must be gone; the test's two
	// UDP readers (the "daemon" side) live until t.Cleanup.
	waitGoroutines(t, baseGoroutines+2)
}

// waitGoroutines fails t if the goroutine count does not return to base.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines leaked: %d > %d\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
