//go:build linux && vmtest

package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/testbed"
)

// Environment of TestVMMatrix, set by test/vm/init.sh inside the VM.
const (
	// envDataplane selects the daemons' dataplane setting ("kernel",
	// "userspace", "auto"); TestVMMatrix skips when it is unset.
	envDataplane = "NEMO_E2E_DATAPLANE"
	// envBinDir names a directory holding prebuilt mrouter and ha
	// binaries (the VM has no Go toolchain); unset: build them.
	envBinDir = "NEMO_E2E_BIN"
	// envExpectBackend is the backend both daemons must report (for
	// "auto", the one the probe must pick); unset: the dataplane setting.
	envExpectBackend = "NEMO_E2E_EXPECT_BACKEND"
	// vmThroughputBytes is the size of the transfers whose rate is
	// reported (relative figures; TCG is slow).
	vmThroughputBytes = 8 << 20
)

// vmResult prints one result line for test/vm/run.sh to collect from the
// serial console.
func vmResult(format string, args ...any) {
	fmt.Printf("NEMO-RESULT "+format+"\n", args...)
}

// vmBinaries returns the daemons named by NEMO_E2E_BIN, or builds them.
func vmBinaries(t *testing.T) Binaries {
	t.Helper()
	dir := os.Getenv(envBinDir)
	if dir == "" {
		return binaries(t)
	}
	b := Binaries{MRouter: filepath.Join(dir, "mrouter"), HA: filepath.Join(dir, "ha")}
	for _, p := range []string{b.MRouter, b.HA} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s=%s: %v", envBinDir, dir, err)
		}
	}
	return b
}

// tunnelLinks lists a node's links named nemo* with their kind, from
// `ip -d -o link show`.
func tunnelLinks(t *testing.T, s *Scenario, node string) []string {
	t.Helper()
	out, err := s.TB.IP(node, "-d", "-o", "link", "show")
	if err != nil {
		t.Fatalf("%s: ip -d link: %v", node, err)
	}
	var links []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || !strings.HasPrefix(f[1], "nemo") {
			continue
		}
		kind := "?"
		for _, k := range []string{"ip6tnl", "sit", "tun"} {
			if strings.Contains(l, " "+k+" ") {
				kind = k
				break
			}
		}
		links = append(links, strings.TrimSuffix(strings.SplitN(f[1], "@", 2)[0], ":")+"="+kind)
	}
	return links
}

// throughput moves vmThroughputBytes MNN→CN over TCP and returns the rate
// in Mbit/s.
func throughput(t *testing.T, s *Scenario) float64 {
	t.Helper()
	tr, err := s.TB.TCPTransfer(testbed.NodeMNN, testbed.NodeCN, testbed.CN6.String(), vmThroughputBytes)
	if err != nil {
		t.Fatalf("throughput transfer: %v", err)
	}
	if tr.Bytes != vmThroughputBytes || tr.Duration <= 0 {
		t.Fatalf("throughput transfer moved %d bytes in %v", tr.Bytes, tr.Duration)
	}
	return float64(tr.Bytes) * 8 / tr.Duration.Seconds() / 1e6
}

// TestVMMatrix runs the IPv6 cells of the TESTBED.md matrix that the
// daemons support today (inner IPv6 at home and at an IPv6 care-of
// address) with the data plane chosen by NEMO_E2E_DATAPLANE, as
// test/vm/run.sh does inside a VM whose kernel has sit, ip6_tunnel and
// CONFIG_IPV6_MIP6. It prints one "matrix backend=… inner=v6 outer=…" line
// per cell, the TCP throughput at home (plain routing) and through the
// tunnel, and checks that the backend in use is the expected one (with the
// kernel backend: an ip6tnl link at both ends), that both daemons recover
// from kill -9 (the restarted ones clean up and register again), that the
// return home removes the tunnel, and that nothing is left after the
// daemons exit.
func TestVMMatrix(t *testing.T) {
	dp := os.Getenv(envDataplane)
	if dp == "" {
		t.Skipf("%s is not set (test/vm/run.sh sets it inside the VM)", envDataplane)
	}
	want := os.Getenv(envExpectBackend)
	if want == "" {
		want = dp
	}
	cells := []string{"home", "v6", "crash"}
	// The matrix lines come from TestVMFullMatrix; these are cases.
	c := "case backend=" + dp
	if dp == "auto" {
		c = "case auto chose=" + want
	}
	label := map[string]string{
		"home":  c + " at-home-plain-routing",
		"v6":    c + " fn2-tunnel-" + map[string]string{"kernel": "ip6tnl", "userspace": "tun"}[want],
		"crash": c + " kill-9-both-daemons-and-restart",
	}
	res := map[string]string{}
	defer func() {
		for _, c := range cells {
			r := res[c]
			if r == "" {
				r = "fail (not reached)"
			}
			vmResult("%s: %s", label[c], r)
		}
	}()
	// cell runs f as one cell; a failing cell fails the test, and the
	// later cells are not reached.
	cell := func(name string, f func(t *testing.T)) {
		ok := t.Run(name, f)
		res[name] = map[bool]string{true: "pass", false: "fail"}[ok]
		if !ok {
			t.FailNow()
		}
	}

	bin := vmBinaries(t)
	tb := testbed.NewT(t, testbed.Options{Uplinks: []string{"home"}})
	s, err := New(tb, bin, Settings{Dataplane: dp}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StartHA(); err != nil {
		t.Fatal(err)
	}
	if err := s.StartMR(); err != nil {
		t.Fatal(err)
	}
	var plain, tunnelled float64

	cell("home", func(t *testing.T) {
		st, _, err := s.WaitState("at home", netip.Prefix{}, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if st.Dataplane != want {
			t.Errorf("mobile router uses the %q data plane, want %q", st.Dataplane, want)
		}
		br, err := s.Bindings()
		if err != nil {
			t.Fatal(err)
		}
		if br.Dataplane != want {
			t.Errorf("home agent uses the %q data plane, want %q", br.Dataplane, want)
		}
		// Each daemon logs its choice and, for "auto", the probe's reason.
		for _, p := range []*testbed.Proc{s.HAProc, s.MRProc} {
			line := ""
			for _, l := range strings.Split(p.Log(), "\n") {
				if strings.Contains(l, `msg="data plane chosen"`) {
					line = l
					break
				}
			}
			if !strings.Contains(line, "backend="+want) || (dp == "auto" && !strings.Contains(line, "reason=")) {
				t.Errorf("%s: data plane log line %q, want backend=%s with a reason", filepath.Base(p.Argv()[0]), line, want)
			}
			t.Logf("%s: %s", filepath.Base(p.Argv()[0]), line)
		}
		traffic(t, s, "home", false)
		plain = throughput(t, s)
	})

	cell("v6", func(t *testing.T) {
		if err := tb.Uplink("fn2", true); err != nil {
			t.Fatal(err)
		}
		if err := tb.Uplink("home", false); err != nil {
			t.Fatal(err)
		}
		st, took, err := s.WaitState("registered", testbed.FN2Prefix6, 40*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("home→FN2: registered with care-of %v after %v", st.Binding.CareOf, took)
		if _, err := s.WaitBinding(testbed.FN2Prefix6, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		// The kernel backend carries the traffic in ip6tnl links, the
		// userspace one in its TUN device.
		wantKind := map[string]string{"kernel": "ip6tnl", "userspace": "tun"}[want]
		for _, node := range []string{testbed.NodeMR, testbed.NodeHA} {
			links := tunnelLinks(t, s, node)
			found := false
			for _, l := range links {
				found = found || strings.HasSuffix(l, "="+wantKind)
			}
			if !found {
				t.Errorf("%s: no %s link of ours, links %v", node, wantKind, links)
			}
			t.Logf("%s links: %v", node, links)
		}
		traffic(t, s, "FN2", true)
		tunnelled = throughput(t, s)
	})

	vmResult("figure backend=%s tcp MNN->CN %d MB: plain routing %.1f Mbit/s, tunnel %.1f Mbit/s (%.0f%% of plain)",
		dp, vmThroughputBytes>>20, plain, tunnelled, 100*tunnelled/plain)

	// Crash safety: kill -9 both daemons while a ping stream runs, start
	// them again: they must remove what the crashed run left (one tunnel
	// link per node afterwards, not two) and re-establish the binding.
	cell("crash", func(t *testing.T) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.TB.Ping(testbed.NodeMNN, testbed.CN6.String(), 40, PingInterval)
		}()
		time.Sleep(500 * time.Millisecond)
		if err := s.HAProc.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := s.MRProc.Kill(); err != nil {
			t.Fatal(err)
		}
		<-done
		for _, node := range []string{testbed.NodeMR, testbed.NodeHA} {
			t.Logf("%s after kill -9: links %v", node, tunnelLinks(t, s, node))
		}
		if err := s.StartHA(); err != nil {
			t.Fatal(err)
		}
		if err := s.StartMR(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, _, err := s.WaitState("registered", testbed.FN2Prefix6, 40*time.Second); err != nil {
			t.Fatal(err)
		}
		if _, err := s.WaitBinding(testbed.FN2Prefix6, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		t.Logf("registered again %v after the restart", time.Since(start))
		for _, node := range []string{testbed.NodeMR, testbed.NodeHA} {
			if links := tunnelLinks(t, s, node); len(links) != 1 {
				t.Errorf("%s after the restart: links of ours %v, want exactly one", node, links)
			}
		}
		traffic(t, s, "FN2 after the restart", true)
	})

	// Return home: the binding, the tunnel and its routes go.
	if err := tb.Uplink("home", true); err != nil {
		t.Fatal(err)
	}
	if err := tb.Uplink("fn2", false); err != nil {
		t.Fatal(err)
	}
	ok := true
	if _, took, err := s.WaitState("at home", netip.Prefix{}, 40*time.Second); err != nil {
		t.Errorf("return home: %v", err)
		ok = false
	} else {
		t.Logf("FN2→home: deregistered after %v", took)
	}
	if _, err := s.WaitBinding(netip.Prefix{}, 10*time.Second); err != nil {
		t.Errorf("return home: %v", err)
		ok = false
	}
	if err := s.MRProc.Stop(); err != nil {
		t.Errorf("stopping mrouter: %v", err)
	}
	if err := s.HAProc.Stop(); err != nil {
		t.Errorf("stopping ha: %v", err)
	}
	for _, node := range []string{testbed.NodeMR, testbed.NodeHA} {
		if left := s.Leftovers(node); len(left) > 0 {
			t.Errorf("%s left behind:\n  %s", node, strings.Join(left, "\n  "))
			ok = false
		}
	}
	vmResult("case backend=%s return-home-and-clean-exit: %s", dp, map[bool]string{true: "pass", false: "fail"}[ok])
	if !ok || t.Failed() {
		t.Logf("mrouter log:\n%s\nha log:\n%s", tail(s.MRProc.Log(), 60), tail(s.HAProc.Log(), 60))
	}
}

// TestVMFullMatrix walks the TESTBED.md matrix as TestMatrix does (inner
// IPv6 and IPv4 × at home, IPv6 care-of address, IPv4 care-of address,
// IPv4 behind NAT), with the data plane chosen by NEMO_E2E_DATAPLANE, and
// prints one "matrix backend=<b> inner=<v4|v6> outer=<…>: pass|fail" line
// per cell for test/vm/run.sh. The IPv4 care-of address without NAT comes
// before the NAT cell, so that the sit path is reached even when UDP is
// not carried.
func TestVMFullMatrix(t *testing.T) {
	dp := os.Getenv(envDataplane)
	if dp == "" {
		t.Skipf("%s is not set (test/vm/run.sh sets it inside the VM)", envDataplane)
	}
	res := map[string]string{}
	report := func(inner, outer string, err error) {
		k := "inner=" + inner + " outer=" + outer
		if err != nil {
			res[k] = "fail: " + strings.ReplaceAll(err.Error(), "\n", " ")
			t.Errorf("%s: %v", k, err)
		} else if res[k] == "" {
			res[k] = "pass"
		}
	}
	cells := []cell{
		{outer: "home", state: "at home", encap: "none"},
		{outer: "v6", up: []string{"fn2"}, down: []string{"home"}, state: "registered", coa: testbed.FN2Prefix6, encap: "ip6ip6"},
		{outer: "v4", up: []string{"fn3"}, down: []string{"fn2"}, state: "registered", coa: testbed.FN3Prefix4, encap: "ip6ip4"},
		{outer: "v4nat", up: []string{"fn1"}, down: []string{"fn3"}, state: "registered", coa: testbed.FN1Prefix4, encap: "udp", nat: true},
		{outer: "home", up: []string{"home"}, down: []string{"fn1"}, state: "at home", encap: "none"},
	}
	defer func() {
		for _, c := range cells[:4] {
			for _, inner := range []string{"v6", "v4"} {
				k := "inner=" + inner + " outer=" + c.outer
				r := res[k]
				if r == "" {
					r = "fail (not reached)"
				}
				vmResult("matrix backend=%s %s: %s", dp, k, r)
			}
		}
	}()
	bin := vmBinaries(t)
	tb := testbed.NewT(t, testbed.Options{Uplinks: []string{"home"}})
	s, err := New(tb, bin, Settings{FN3IPv4Only: true, Dataplane: dp}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StartHA(); err != nil {
		t.Fatal(err)
	}
	if err := s.StartMR(); err != nil {
		t.Fatal(err)
	}
	for i, c := range cells {
		r, err := s.Move(fmt.Sprintf("%s (move %d)", c.outer, i), c.up, c.down, c.state, c.coa, testbed.CN6)
		// The mobile router reports "registered" with the new care-of
		// address as soon as it sends the BU from it, before the BA and
		// the new tunnel (seen in the VM, where TCG widens the window):
		// wait for the encapsulation too.
		for deadline := time.Now().Add(10 * time.Second); err == nil && r.Status.Binding.Encap != c.encap && time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond)
			if st, serr := s.Status(); serr == nil {
				r.Status = st
			}
		}
		if err == nil {
			err = checkCell(s, c, r)
		}
		if err != nil {
			report("v6", c.outer, err)
			report("v4", c.outer, err)
			t.Logf("mrouter log:\n%s\nha log:\n%s", tail(s.MRProc.Log(), 40), tail(s.HAProc.Log(), 40))
			t.FailNow()
		}
		report("v6", c.outer, cellTraffic(s, testbed.CN6, testbed.MNN6, c.outer != "home"))
		report("v4", c.outer, cellTraffic(s, testbed.CN4, testbed.MNN4, c.outer != "home"))
	}
}
