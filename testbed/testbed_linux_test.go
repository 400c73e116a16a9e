package testbed

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/internal/testutil"
)

const helperEnv = "TESTBED_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helperMain(mode))
	}
	os.Exit(m.Run())
}

// helperMain is a child process that builds a testbed, reports it and
// waits to be killed ("kill") or interrupted ("sigint").
func helperMain(mode string) int {
	tb, err := New(Options{HandleSignals: mode == "sigint"})
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	p, err := tb.Start(NodeMR, []string{"sleep", "600"}, nil)
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	fmt.Printf("READY %s %d\n", tb.Prefix(), p.Pid())
	select {}
}

// rootState is what must not change in the root namespace.
func rootState(t *testing.T) string {
	t.Helper()
	volatile := regexp.MustCompile(`expires \d+sec`)
	var b strings.Builder
	for _, args := range [][]string{
		{"-o", "link"}, {"-o", "addr"}, {"-4", "route"}, {"-6", "route"},
		{"-4", "rule"}, {"-6", "rule"}, {"-6", "neigh", "show", "proxy"},
	} {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
		fmt.Fprintf(&b, "## ip %s\n%s", strings.Join(args, " "), volatile.ReplaceAllString(string(out), "expires"))
	}
	return b.String()
}

func requireTestbed(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t)
	for _, tool := range RequiredTools {
		testutil.RequireTool(t, tool)
	}
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func allReplies(t *testing.T, tb *Testbed, from, dst string) {
	t.Helper()
	r, err := tb.Ping(from, dst, 5, 50*time.Millisecond)
	if err != nil {
		t.Fatalf("ping %s from %s: %v", dst, from, err)
	}
	if r.Sent != 5 || r.Received != 5 || r.Loss != 0 {
		t.Fatalf("ping %s from %s: %+v, want 5 of 5 replies", dst, from, r)
	}
}

func TestTestbed(t *testing.T) {
	requireTestbed(t)
	before := rootState(t)
	tb, err := New(Options{Logf: t.Logf, RunDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			tb.dumpLogs(t.Logf)
			tb.Close()
		}
	})

	t.Run("CoreReachesCN", func(t *testing.T) {
		rx0, tx0, err := tb.Counters(NodeCore, IfCoreCN)
		if err != nil {
			t.Fatal(err)
		}
		allReplies(t, tb, NodeCore, CN6.String())
		allReplies(t, tb, NodeCore, CN4.String())
		rx1, tx1, err := tb.Counters(NodeCore, IfCoreCN)
		if err != nil {
			t.Fatal(err)
		}
		if rx1-rx0 < 10 || tx1-tx0 < 10 {
			t.Errorf("%s counters moved by rx %d tx %d, want ≥ 10 each for 10 echoes", IfCoreCN, rx1-rx0, tx1-tx0)
		}
		// A destination nobody has must lose everything: the ping
		// helper does not invent replies.
		r, err := tb.Ping(NodeCore, "2001:db8:c::99", 3, 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if r.Received != 0 || r.Loss != 100 || r.LongestLossRun != 3 {
			t.Errorf("ping to an absent address: %+v, want all lost", r)
		}
	})

	t.Run("AttackerReachesHAAndCN", func(t *testing.T) {
		// The attacker is an internet host: CORE routes it to the home
		// link and to the correspondent, both families.
		allReplies(t, tb, NodeAttacker, HA6.String())
		allReplies(t, tb, NodeAttacker, HA4.String())
		allReplies(t, tb, NodeAttacker, CN6.String())
		allReplies(t, tb, NodeAttacker, CN4.String())
	})

	t.Run("MNNReachesMR", func(t *testing.T) {
		allReplies(t, tb, NodeMNN, MRLAN6.String())
		allReplies(t, tb, NodeMNN, MRLAN4.String())
	})

	t.Run("TCPTransferCNCore", func(t *testing.T) {
		const size = 1 << 20
		r, err := tb.TCPTransfer(NodeCore, NodeCN, CN6.String(), size)
		if err != nil {
			t.Fatal(err)
		}
		if r.Bytes != size || r.Peer.Addr() != CoreCN6 || len(r.SHA256) != 64 {
			t.Errorf("CORE→CN: %+v, want %d bytes from %s", r, size, CoreCN6)
		}
		r2, err := tb.TCPTransfer(NodeCN, NodeCore, CoreCN4.String(), size)
		if err != nil {
			t.Fatal(err)
		}
		if r2.Bytes != size || r2.Peer.Addr() != CN4 {
			t.Errorf("CN→CORE: %+v, want %d bytes from %s", r2, size, CN4)
		}
		// Fresh random content each time.
		if r.SHA256 == r2.SHA256 {
			t.Errorf("two transfers carried the same content (sha256 %s)", r.SHA256)
		}
	})

	t.Run("FN2SLAAC", func(t *testing.T) {
		if a, ok := tb.AddrIn(NodeMR, IfMRFN2, FN2Prefix6); ok {
			t.Fatalf("%s has %s before the uplink is up", IfMRFN2, a)
		}
		if err := tb.Uplink("fn2", true); err != nil {
			t.Fatal(err)
		}
		var coa = func() string { a, _ := tb.AddrIn(NodeMR, IfMRFN2, FN2Prefix6); return a.String() }
		if err := tb.WaitFor(func() bool { _, ok := tb.AddrIn(NodeMR, IfMRFN2, FN2Prefix6); return ok }, 8*time.Second); err != nil {
			t.Fatalf("no SLAAC address from FN2: %v", err)
		}
		r, err := tb.PingFrom(NodeMR, coa(), CN6.String(), 5, 50*time.Millisecond)
		if err != nil || r.Received != 5 {
			t.Fatalf("ping CN from %s: %+v %v", coa(), r, err)
		}
		if err := tb.Uplink("fn2", false); err != nil {
			t.Fatal(err)
		}
		if a, ok := tb.AddrIn(NodeMR, IfMRFN2, FN2Prefix6); ok {
			t.Errorf("%s keeps %s after the uplink went down", IfMRFN2, a)
		}
	})

	t.Run("FN1DHCPAndNAT", func(t *testing.T) {
		testutil.RequireTool(t, "busybox")
		if err := tb.Uplink("fn1", true); err != nil {
			t.Fatal(err)
		}
		script := filepath.Join(tb.RunDir(), "udhcpc.sh")
		// The script configures nothing: it only reports the lease.
		if err := os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = bound ] && echo \"LEASE $ip $router\"\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := tb.Exec(NodeMR, "busybox", "udhcpc", "-i", IfMRFN1, "-f", "-n", "-q", "-t", "5", "-T", "1", "-s", script)
		if err != nil {
			t.Fatalf("udhcpc: %v", err)
		}
		m := regexp.MustCompile(`LEASE (\S+) (\S+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("udhcpc reported no lease:\n%s", out)
		}
		ip, router := m[1], m[2]
		if router != AR1FN14.String() {
			t.Errorf("lease router %s, want %s", router, AR1FN14)
		}
		leases, err := tb.LeaseIPs(NodeAR1)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(leases, func(a netip.Addr) bool { return a.String() == ip }) {
			t.Fatalf("dnsmasq lease file has %v, want %s", leases, ip)
		}
		if _, err := tb.IP(NodeMR, "addr", "add", ip+"/24", "dev", IfMRFN1); err != nil {
			t.Fatal(err)
		}
		if _, err := tb.IP(NodeMR, "route", "add", CN4.String(), "via", router, "dev", IfMRFN1); err != nil {
			t.Fatal(err)
		}
		nat0, _, err := tb.NATPackets()
		if err != nil {
			t.Fatal(err)
		}
		allReplies(t, tb, NodeMR, CN4.String())
		r, err := tb.TCPTransfer(NodeMR, NodeCN, CN4.String(), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if r.Peer.Addr() != AR1Public4 {
			t.Errorf("CN saw the transfer from %s, want the NAT's %s", r.Peer.Addr(), AR1Public4)
		}
		nat1, _, err := tb.NATPackets()
		if err != nil {
			t.Fatal(err)
		}
		if nat1-nat0 < 2 {
			t.Errorf("masquerade counter moved by %d, want ≥ 2 (ping and TCP flows)", nat1-nat0)
		}
		if err := tb.Uplink("fn1", false); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("FN3DualStack", func(t *testing.T) {
		testutil.RequireTool(t, "busybox")
		if err := tb.Uplink("fn3", true); err != nil {
			t.Fatal(err)
		}
		if err := tb.WaitFor(func() bool { _, ok := tb.AddrIn(NodeMR, IfMRFN3, FN3Prefix6); return ok }, 8*time.Second); err != nil {
			t.Fatalf("no SLAAC address from FN3: %v", err)
		}
		coa6, _ := tb.AddrIn(NodeMR, IfMRFN3, FN3Prefix6)
		r, err := tb.TCPTransfer(NodeMR, NodeCN, CN6.String(), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if r.Peer.Addr() != coa6 {
			t.Errorf("CN saw %s, want the FN3 address %s", r.Peer.Addr(), coa6)
		}
		script := filepath.Join(tb.RunDir(), "udhcpc3.sh")
		if err := os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = bound ] && echo \"LEASE $ip $router\"\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := tb.Exec(NodeMR, "busybox", "udhcpc", "-i", IfMRFN3, "-f", "-n", "-q", "-t", "5", "-T", "1", "-s", script)
		m := regexp.MustCompile(`LEASE (\S+) (\S+)`).FindStringSubmatch(out)
		if err != nil || m == nil {
			t.Fatalf("udhcpc on FN3: %v\n%s", err, out)
		}
		ip := netip.MustParseAddr(m[1])
		if !FN3Prefix4.Contains(ip) || m[2] != AR3FN34.String() {
			t.Fatalf("FN3 lease %s router %s, want an address in %s via %s", ip, m[2], FN3Prefix4, AR3FN34)
		}
		if _, err := tb.IP(NodeMR, "addr", "add", netip.PrefixFrom(ip, FN3Prefix4.Bits()).String(), "dev", IfMRFN3); err != nil {
			t.Fatal(err)
		}
		if _, err := tb.IP(NodeMR, "route", "replace", CN4.String(), "via", AR3FN34.String(), "dev", IfMRFN3); err != nil {
			t.Fatal(err)
		}
		// No NAT on FN3: CN sees the leased address itself.
		r, err = tb.TCPTransfer(NodeMR, NodeCN, CN4.String(), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if r.Peer.Addr() != ip {
			t.Errorf("CN saw %s, want the FN3 lease %s (no NAT)", r.Peer.Addr(), ip)
		}
		if err := tb.Uplink("fn3", false); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("HomeRA", func(t *testing.T) {
		if err := tb.Uplink("home", true); err != nil {
			t.Fatal(err)
		}
		var capture *Capture
		if _, err := exec.LookPath("tshark"); err == nil {
			if capture, err = tb.Capture(NodeMR, IfMRHome, "icmp6"); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		if err := tb.WaitFor(func() bool { _, ok := tb.AddrIn(NodeMR, IfMRHome, HomePrefix6); return ok }, 8*time.Second); err != nil {
			t.Fatalf("no SLAAC address from the home link: %v", err)
		}
		testutil.RequireTool(t, "tshark")
		// The HA advertises at least every MaxRtrAdvInterval (3 s).
		time.Sleep(time.Until(start.Add(3500 * time.Millisecond)))
		pcap, err := capture.Stop()
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("tshark", "-r", pcap, "-Y", "icmpv6.type == 134 && icmpv6.nd.ra.flag.h == 1",
			"-T", "fields", "-e", "icmpv6.opt.type", "-e", "icmpv6.opt.prefix.flag.r", "-e", "icmpv6.nd.ra.router_lifetime").Output()
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		lines := strings.Fields(strings.TrimSpace(string(out)))
		if len(lines) == 0 {
			t.Fatalf("no RA with the H flag captured on %s", IfMRHome)
		}
		got := strings.Split(strings.TrimSpace(string(out)), "\n")[0]
		t.Logf("HA's RA (option types, prefix R flag, router lifetime): %q", got)
		f := strings.Split(got, "\t")
		if len(f) != 3 || !slices.Contains(strings.Split(f[0], ","), "7") || !slices.Contains(strings.Split(f[0], ","), "8") ||
			!strings.Contains(f[1], "1") && !strings.Contains(f[1], "True") || f[2] != "0" {
			t.Errorf("HA's RA: options/R flag/router lifetime = %q, want options 7 and 8, R set, lifetime 0", got)
		}
	})

	// Tear down and check that nothing is left.
	pids := []int{}
	for _, name := range tb.ServiceNames() {
		pids = append(pids, tb.Service(name).Pid())
	}
	prefix := tb.Prefix()
	if names, _ := ListNamespaces(prefix); len(names) != len(Nodes) {
		t.Errorf("namespaces before Close: %v, want %d", names, len(Nodes))
	}
	closed = true
	if err := tb.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := tb.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if names, err := ListNamespaces(prefix); err != nil || len(names) != 0 {
		t.Errorf("namespaces after Close: %v %v", names, err)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("process %d survives Close", pid)
		}
	}
	if _, err := tb.Exec(NodeCN, "true"); !errors.Is(err, ErrClosed) {
		t.Errorf("Exec after Close: %v, want ErrClosed", err)
	}
	if after := rootState(t); after != before {
		t.Errorf("root namespace changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestCloseOnPanic(t *testing.T) {
	requireTestbed(t)
	before := rootState(t)
	var (
		prefix string
		pids   []int
	)
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v", r)
			}
		}()
		tb, err := New(Options{Logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		defer tb.Close()
		prefix = tb.Prefix()
		for _, node := range []string{NodeMR, NodeCN} {
			p, err := tb.Start(node, []string{"sleep", "600"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			pids = append(pids, p.Pid())
		}
		// A process that ignores SIGTERM must die as well.
		p, err := tb.Start(NodeHA, []string{"sh", "-c", "trap '' TERM; sleep 600 & wait"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, p.Pid())
		panic("boom")
	}()
	if names, err := ListNamespaces(prefix); err != nil || len(names) != 0 {
		t.Errorf("namespaces after the panic: %v %v", names, err)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("process %d survives", pid)
		}
	}
	if after := rootState(t); after != before {
		t.Errorf("root namespace changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// startHelper runs this test binary as a child that builds a testbed, and
// returns it with the prefix and the pid of a process it started.
func startHelper(t *testing.T, mode string) (*exec.Cmd, string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "READY ") || strings.HasPrefix(sc.Text(), "ERROR ") {
				lines <- sc.Text()
			}
		}
		close(lines)
	}()
	select {
	case line := <-lines:
		var prefix string
		var pid int
		if _, err := fmt.Sscanf(line, "READY %s %d", &prefix, &pid); err != nil {
			t.Fatalf("helper: %s", line)
		}
		return cmd, prefix, pid
	case <-time.After(60 * time.Second):
		t.Fatal("helper did not build its testbed")
	}
	return nil, "", 0
}

func TestSweepStaleAfterKill(t *testing.T) {
	requireTestbed(t)
	cmd, prefix, pid := startHelper(t, "kill")
	t.Cleanup(func() { SweepStale(prefix) })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	// Killed outright, the harness could not clean up: its namespaces
	// are still there, and SweepStale must find them.
	names, err := ListNamespaces(prefix)
	if err != nil || len(names) != len(Nodes) {
		t.Fatalf("namespaces left by the killed run: %v %v, want %d", names, err, len(Nodes))
	}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), runDirPrefix+prefix+"*"))
	if len(dirs) != 1 {
		t.Errorf("run dirs of the killed run: %v, want 1", dirs)
	}
	removed, err := SweepStale(prefix)
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(os.TempDir(), runDirPrefix+prefix+"*")); len(left) != 0 {
		t.Errorf("run dirs left after sweep: %v", left)
	}
	slices.Sort(removed)
	if !slices.Equal(removed, names) {
		t.Errorf("SweepStale removed %v, want %v", removed, names)
	}
	if left, _ := ListNamespaces(prefix); len(left) != 0 {
		t.Errorf("left after sweep: %v", left)
	}
	// A live run's namespaces are not stale: they must survive a sweep.
	tb := NewT(t, Options{})
	removed, err = SweepStale("")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range removed {
		if strings.HasPrefix(n, tb.Prefix()) {
			t.Errorf("SweepStale removed the live testbed's %s", n)
		}
	}
	if own, _ := ListNamespaces(tb.Prefix()); len(own) != len(Nodes) {
		t.Errorf("live testbed's namespaces after sweep: %v", own)
	}
	if err := WaitFor(func() bool { return !alive(pid) }, 5*time.Second); err != nil {
		t.Errorf("process %d of the killed run survives: %v", pid, err)
	}
}

func TestInterruptCleansUp(t *testing.T) {
	requireTestbed(t)
	cmd, prefix, pid := startHelper(t, "sigint")
	t.Cleanup(func() { SweepStale(prefix) })
	if names, _ := ListNamespaces(prefix); len(names) != len(Nodes) {
		t.Fatalf("helper's namespaces: %v", names)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGINT {
		t.Errorf("helper ended with %v, want killed by SIGINT", err)
	}
	if names, _ := ListNamespaces(prefix); len(names) != 0 {
		t.Errorf("namespaces after Ctrl-C: %v", names)
	}
	if alive(pid) {
		t.Errorf("process %d survives Ctrl-C", pid)
	}
}

func TestRestartService(t *testing.T) {
	requireTestbed(t)
	tb := NewT(t, Options{})
	old := tb.Service(SvcDnsmasqAR1)
	p, err := tb.RestartService(SvcDnsmasqAR1)
	if err != nil {
		t.Fatal(err)
	}
	if !old.Exited() || p.Exited() || p.Pid() == old.Pid() || tb.Service(SvcDnsmasqAR1) != p {
		t.Errorf("after restart: old exited %v, new exited %v, pids %d→%d", old.Exited(), p.Exited(), old.Pid(), p.Pid())
	}
	if _, err := tb.RestartService("nope"); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("unknown service: %v", err)
	}
	if err := tb.Uplink("fn9", true); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("unknown uplink: %v", err)
	}
	if _, err := tb.Exec("nowhere", "true"); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("unknown node: %v", err)
	}
	// Stop escalates to SIGKILL for a process that ignores SIGTERM.
	stubborn, err := tb.Start(NodeCN, []string{"sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := WaitFor(func() bool { return strings.Contains(stubborn.Log(), "ready") }, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	stubborn.grace = 300 * time.Millisecond
	if err := stubborn.Stop(); err != nil {
		t.Fatal(err)
	}
	var ee *exec.ExitError
	if err := stubborn.Wait(); !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("stubborn process ended with %v, want SIGKILL", err)
	}
	// Exec gives up (and kills the command) at its deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := tb.ExecContext(ctx, NodeCN, "sleep", "30"); !errors.Is(err, ErrTimeout) {
		t.Errorf("Exec past its deadline: %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Exec returned after %v, long past its deadline", d)
	}
}

func BenchmarkNewClose(b *testing.B) {
	testutil.RequireRoot(b)
	for b.Loop() {
		tb, err := New(Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := tb.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
