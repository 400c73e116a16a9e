package dhcpv4

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/internal/testutil"
	"github.com/vishvananda/netns"
)

const (
	peerTable    = 4242
	peerPriority = 4242
	peerServer   = "198.18.9.1"
)

// peer is a server namespace running dnsmasq and a client namespace, joined
// by a veth pair.
type peer struct {
	srvNS, cliNS, cliIf, leases string
}

func (p *peer) in(t *testing.T, ns string, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", ns, args, err, out)
	}
	return string(out)
}

func newPeer(t *testing.T) *peer {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "ip")
	dnsmasq := testutil.RequireTool(t, "dnsmasq")
	sfx := fmt.Sprintf("%d%04x", os.Getpid()%100000, rand.Uint32N(0x10000))
	p := &peer{srvNS: "d4s" + sfx, cliNS: "d4c" + sfx, cliIf: "vc" + sfx, leases: filepath.Join(t.TempDir(), "leases")}
	for _, ns := range []string{p.srvNS, p.cliNS} {
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Fatalf("netns add: %v\n%s", err, out)
		}
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	}
	srvIf := "vs" + sfx
	p.in(t, p.srvNS, "ip", "link", "add", srvIf, "type", "veth", "peer", "name", p.cliIf, "netns", p.cliNS)
	p.in(t, p.srvNS, "ip", "addr", "add", peerServer+"/24", "dev", srvIf)
	p.in(t, p.srvNS, "ip", "link", "set", srvIf, "up")
	p.in(t, p.cliNS, "ip", "link", "set", p.cliIf, "up")
	cmd := exec.Command("ip", "netns", "exec", p.srvNS, dnsmasq, "--keep-in-foreground", "--conf-file=/dev/null",
		"--no-resolv", "--port=0", "--bind-interfaces", "--interface="+srvIf, "--user=root",
		"--dhcp-range=198.18.9.100,198.18.9.150,255.255.255.0,2m", "--dhcp-leasefile="+p.leases,
		"--dhcp-authoritative", "--pid-file=", "--log-dhcp", "--log-facility=-")
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("dnsmasq:\n%s", log.String())
		}
	})
	return p
}

// startClient opens the Client inside the client namespace.
func (p *peer) startClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.GetFromName(p.cliNS)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if err := netns.Set(ns); err != nil {
		t.Fatal(err)
	}
	c, cerr := New(cfg)
	if err := netns.Set(orig); err != nil {
		panic(err) // this thread must not go back to the pool in the wrong namespace
	}
	if cerr != nil {
		t.Fatal(cerr)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// testLogger sends the client's debug log to t.Log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func waitEvent(t *testing.T, c *Client, kind EventKind, within time.Duration) Event {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("events closed while waiting for %v", kind)
			}
			t.Logf("event %v %+v", ev.Kind, ev.Lease)
			if ev.Kind == kind {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %v event within %v", kind, within)
		}
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestClientDnsmasq(t *testing.T) {
	p := newPeer(t)
	c := p.startClient(t, Config{Interface: p.cliIf, Table: peerTable, RulePriority: peerPriority,
		Hostname: "mr-test", T1Override: 3 * time.Second})

	ev := waitEvent(t, c, Bound, 30*time.Second)
	l := ev.Lease
	if !l.Addr.IsValid() || l.Addr.Bits() != 24 || l.Server.String() != peerServer || l.Router.String() != peerServer ||
		l.LeaseTime != 2*time.Minute || l.T1 != 3*time.Second {
		t.Fatalf("lease %+v", l)
	}
	a := l.Addr.Addr().String()
	if !strings.Contains(p.in(t, p.cliNS, "ip", "-4", "addr", "show", "dev", p.cliIf), "inet "+l.Addr.String()) {
		t.Fatalf("address %v not installed", l.Addr)
	}
	routes := p.in(t, p.cliNS, "ip", "-4", "route", "show", "table", fmt.Sprint(peerTable))
	if !strings.Contains(routes, "default via "+peerServer+" dev "+p.cliIf) || !strings.Contains(routes, "198.18.9.0/24 dev "+p.cliIf) {
		t.Fatalf("table %d:\n%s", peerTable, routes)
	}
	if main := p.in(t, p.cliNS, "ip", "-4", "route", "show", "table", "main"); strings.TrimSpace(main) != "" {
		t.Fatalf("main table disturbed:\n%s", main)
	}
	rule := fmt.Sprintf("%d:\tfrom %s lookup %d", peerPriority, a, peerTable)
	if !strings.Contains(p.in(t, p.cliNS, "ip", "-4", "rule", "show"), rule) {
		t.Fatalf("rule %q missing", rule)
	}
	leaseFile := func() string { b, _ := os.ReadFile(p.leases); return string(b) }
	eventually(t, "dnsmasq lease", func() bool { return strings.Contains(leaseFile(), " "+a+" ") })

	// T1 forced to 3 s: the renewal (unicast from the leased address) is
	// acknowledged by dnsmasq.
	rn := waitEvent(t, c, Renewed, 20*time.Second)
	if rn.Lease.Addr != l.Addr || rn.Lease.Server != l.Server || !rn.Lease.Start.After(l.Start) {
		t.Fatalf("renewed lease %+v after %+v", rn.Lease, l)
	}

	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	var kinds []EventKind
	for ev := range c.Events() {
		kinds = append(kinds, ev.Kind)
	}
	if len(kinds) == 0 || kinds[len(kinds)-1] != Released {
		t.Fatalf("events after Close: %v, want ending in released", kinds)
	}
	eventually(t, "dnsmasq to drop the released lease", func() bool { return !strings.Contains(leaseFile(), " "+a+" ") })
	if out := p.in(t, p.cliNS, "ip", "-4", "addr", "show", "dev", p.cliIf); strings.Contains(out, "inet ") {
		t.Fatalf("address left behind:\n%s", out)
	}
	if out := p.in(t, p.cliNS, "ip", "-4", "route", "show", "table", fmt.Sprint(peerTable)); strings.TrimSpace(out) != "" {
		t.Fatalf("routes left behind:\n%s", out)
	}
	if out := p.in(t, p.cliNS, "ip", "-4", "rule", "show"); strings.Contains(out, "lookup "+fmt.Sprint(peerTable)) {
		t.Fatalf("rule left behind:\n%s", out)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestClientLinkBounce(t *testing.T) {
	p := newPeer(t)
	c := p.startClient(t, Config{Interface: p.cliIf, Table: peerTable, RulePriority: peerPriority, Logger: testLogger(t)})
	l := waitEvent(t, c, Bound, 30*time.Second).Lease
	p.in(t, p.cliNS, "ip", "link", "set", p.cliIf, "down")
	if lost := waitEvent(t, c, Lost, 10*time.Second); lost.Lease.Addr != l.Addr {
		t.Fatalf("lost %+v", lost.Lease)
	}
	if out := p.in(t, p.cliNS, "ip", "-4", "route", "show", "table", fmt.Sprint(peerTable)); strings.TrimSpace(out) != "" {
		t.Fatalf("routes left after link down:\n%s", out)
	}
	p.in(t, p.cliNS, "ip", "link", "set", p.cliIf, "up")
	// INIT-REBOOT: dnsmasq acknowledges the previous address.
	if b := waitEvent(t, c, Bound, 30*time.Second); b.Lease.Addr != l.Addr {
		t.Fatalf("after INIT-REBOOT got %v, want %v", b.Lease.Addr, l.Addr)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, cfg := range []Config{
		{Table: 100, RulePriority: 100},
		{Interface: "x", Table: 254, RulePriority: 100},
		{Interface: "x", Table: 0, RulePriority: 100},
		{Interface: "x", Table: 100},
	} {
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "bad config") {
			t.Errorf("New(%+v) = %v", cfg, err)
		}
	}
}
