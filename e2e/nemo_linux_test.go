package e2e

import (
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/internal/testutil"
	"github.com/nemo-mobility/nemo/testbed"
)

var (
	binOnce sync.Once
	bins    Binaries
	binErr  error
	binDir  string
)

// binaries builds the daemons once per test binary run.
func binaries(t *testing.T) Binaries {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = osMkdirTemp()
		if binErr == nil {
			bins, binErr = Build(binDir)
		}
	})
	if binErr != nil {
		t.Fatalf("building the daemons: %v", binErr)
	}
	return bins
}

// traffic checks that MNN reaches CN by ping and by a 1 MB TCP transfer
// whose content is verified, and that the HA's tunnel for the mobile router
// carried the traffic both ways when viaTunnel.
func traffic(t *testing.T, s *Scenario, where string, viaTunnel bool) {
	t.Helper()
	tb := s.TB
	var before BindingCounters
	if viaTunnel {
		before = s.haTunnelCounters(t)
	}
	pr, err := tb.Ping(testbed.NodeMNN, testbed.CN6.String(), 10, 50*time.Millisecond)
	if err != nil {
		t.Fatalf("%s: ping MNN→CN: %v", where, err)
	}
	if pr.Received < 9 {
		s.dumpState(t)
		t.Fatalf("%s: ping MNN→CN: %d of %d replies", where, pr.Received, pr.Sent)
	}
	tr, err := tb.TCPTransfer(testbed.NodeMNN, testbed.NodeCN, testbed.CN6.String(), 1<<20)
	if err != nil {
		t.Fatalf("%s: 1 MB TCP MNN→CN: %v", where, err)
	}
	if tr.Bytes != 1<<20 {
		t.Fatalf("%s: TCP transfer moved %d bytes", where, tr.Bytes)
	}
	if tr.Peer.Addr() != testbed.MNN6 {
		t.Errorf("%s: CN saw the transfer from %v, want the mobile network node %v", where, tr.Peer.Addr(), testbed.MNN6)
	}
	t.Logf("%s: ping %d/%d rtt avg %v; 1 MB TCP in %v", where, pr.Received, pr.Sent, pr.RTTAvg, tr.Duration)
	if viaTunnel {
		after := s.haTunnelCounters(t)
		// Requests and data go MR→HA (rx at the HA), replies and ACKs HA→MR (tx).
		if after.Rx-before.Rx < 10 || after.Tx-before.Tx < 10 {
			t.Fatalf("%s: the home agent's tunnel did not carry the traffic: rx %d→%d tx %d→%d", where, before.Rx, after.Rx, before.Tx, after.Tx)
		}
		t.Logf("%s: home agent tunnel rx +%d tx +%d packets", where, after.Rx-before.Rx, after.Tx-before.Tx)
	}
}

// dumpState logs the routing state of the nodes on the path, for a
// failure's diagnosis.
func (s *Scenario) dumpState(t *testing.T) {
	t.Helper()
	for _, c := range []struct {
		node string
		args []string
	}{
		{testbed.NodeMR, []string{"-6", "rule"}},
		{testbed.NodeMR, []string{"-6", "route", "show", "table", "all"}},
		{testbed.NodeMR, []string{"-6", "addr"}},
		{testbed.NodeMR, []string{"-6", "neigh"}},
		{testbed.NodeCore, []string{"-6", "route"}},
		{testbed.NodeCore, []string{"-6", "neigh"}},
		{testbed.NodeHA, []string{"-6", "route"}},
		{testbed.NodeHA, []string{"-6", "neigh", "show", "proxy"}},
	} {
		out, err := s.TB.IP(c.node, c.args...)
		t.Logf("%s: ip %s (err %v)\n%s", c.node, strings.Join(c.args, " "), err, out)
	}
}

// BindingCounters are the home agent's per-binding tunnel counters.
type BindingCounters struct{ Tx, Rx uint64 }

func (s *Scenario) haTunnelCounters(t *testing.T) BindingCounters {
	t.Helper()
	r, err := s.Bindings()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range r.Bindings {
		if b.HomeAddress == testbed.MRHome6 {
			return BindingCounters{Tx: b.TxPackets, Rx: b.RxPackets}
		}
	}
	t.Fatalf("no binding for %v at the home agent: %+v", testbed.MRHome6, r.Bindings)
	return BindingCounters{}
}

// TestHomeRegistrationIPv6 is the first working system (TESTBED.md): the
// mobile router starts at home, moves to the IPv6-only FN2, and returns
// home; the mobile network stays reachable throughout.
func TestHomeRegistrationIPv6(t *testing.T) {
	bin := binaries(t)
	tb := testbed.NewT(t, testbed.Options{Uplinks: []string{"home"}})
	s, err := New(tb, bin, Settings{}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StartHA(); err != nil {
		t.Fatal(err)
	}
	if err := s.StartMR(); err != nil {
		t.Fatal(err)
	}

	// At home: no tunnel, plain routing.
	if _, _, err := s.WaitState("at home", netip.Prefix{}, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	traffic(t, s, "home", false)

	// Home → FN2 (IPv6 care-of address). The signalling is captured on
	// the home link for an independent decoder.
	capt, err := tb.Capture(testbed.NodeCore, testbed.IfCoreHome, "ip6")
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.Uplink("fn2", true); err != nil {
		t.Fatal(err)
	}
	if err := tb.Uplink("home", false); err != nil {
		t.Fatal(err)
	}
	st, took, err := s.WaitState("registered", testbed.FN2Prefix6, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("home→FN2: registered with care-of %v after %v", st.Binding.CareOf, took)
	if st.Tunnel == nil || st.Tunnel.Remote != testbed.HA6 {
		t.Fatalf("mobile router has no tunnel to the home agent: %+v", st.Tunnel)
	}
	br, err := s.WaitBinding(testbed.FN2Prefix6, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	b := br.Bindings[0]
	if !b.Router || len(b.Prefixes) != 1 || b.Prefixes[0] != testbed.MNP6 || b.CareOf != st.Binding.CareOf {
		t.Fatalf("home agent binding = %+v, want a mobile router binding for %v at %v", b, testbed.MNP6, st.Binding.CareOf)
	}
	if b.Identity != TestNAI {
		t.Fatalf("binding identity %q, want the RFC 4285 NAI %q: the registration was not authenticated", b.Identity, TestNAI)
	}
	if br.Counters["auth_accepted"] == 0 {
		t.Fatalf("home agent counted no authenticated BU: %v", br.Counters)
	}
	traffic(t, s, "FN2", true)
	checkTsharkRegistration(t, capt, st.Binding.CareOf)

	// FN2 → home: deregistration, the binding, tunnel and routes go.
	if err := tb.Uplink("home", true); err != nil {
		t.Fatal(err)
	}
	if err := tb.Uplink("fn2", false); err != nil {
		t.Fatal(err)
	}
	if _, took, err = s.WaitState("at home", netip.Prefix{}, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("FN2→home: deregistered after %v", took)
	if os.Getenv("NEMO_E2E_LOGS") != "" {
		t.Logf("mrouter log:\n%s\nha log:\n%s", s.MRProc.Log(), s.HAProc.Log())
	}
	if _, err := s.WaitBinding(netip.Prefix{}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	st, err = s.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Tunnel != nil {
		t.Errorf("tunnel still installed at home: %+v", st.Tunnel)
	}
	traffic(t, s, "home again", false)

	// Both daemons exit; nothing they made may remain.
	if err := s.MRProc.Stop(); err != nil {
		t.Errorf("stopping mrouter: %v", err)
	}
	if err := s.HAProc.Stop(); err != nil {
		t.Errorf("stopping ha: %v", err)
	}
	for _, node := range []string{testbed.NodeMR, testbed.NodeHA} {
		if left := s.Leftovers(node); len(left) > 0 {
			t.Errorf("%s left behind:\n  %s", node, strings.Join(left, "\n  "))
		}
	}
}

// TestOwnCareOfAddress: on an uplink where nothing does SLAAC (autoconf
// off, as on an OpenWrt uplink without odhcp6c), the mobile router forms
// its care-of address itself from the advertised prefix and registers it.
func TestOwnCareOfAddress(t *testing.T) {
	bin := binaries(t)
	tb := testbed.NewT(t, testbed.Options{})
	if err := tb.Sysctl(testbed.NodeMR, "net.ipv6.conf."+testbed.IfMRFN2+".autoconf", "0"); err != nil {
		t.Fatal(err)
	}
	s, err := New(tb, bin, Settings{}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StartHA(); err != nil {
		t.Fatal(err)
	}
	if err := s.StartMR(); err != nil {
		t.Fatal(err)
	}
	if err := tb.Uplink("fn2", true); err != nil {
		t.Fatal(err)
	}
	st, _, err := s.WaitState("registered", testbed.FN2Prefix6, 20*time.Second)
	if err != nil {
		br, _ := s.Bindings()
		t.Fatalf("%v; home agent counters %v", err, br.Counters)
	}
	// Modified EUI-64: ff:fe in the middle of the interface identifier.
	b := st.Binding.CareOf.As16()
	if b[11] != 0xff || b[12] != 0xfe {
		t.Fatalf("care-of address %v is not the daemon's EUI-64 address", st.Binding.CareOf)
	}
	traffic(t, s, "FN2 (own care-of address)", true)
	if err := s.MRProc.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, ok := tb.AddrIn(testbed.NodeMR, testbed.IfMRFN2, testbed.FN2Prefix6); ok {
		t.Error("the daemon's care-of address survived its exit")
	}
}

// checkTsharkRegistration has tshark decode the captured registration: a BU
// from the care-of address with a Home Address option, the R flag and the
// Mobile Network Prefix option, and a BA to the care-of address with a type
// 2 routing header for the home address, without decoding errors.
func checkTsharkRegistration(t *testing.T, capt *testbed.Capture, coa netip.Addr) {
	t.Helper()
	tshark := testutil.RequireTool(t, "tshark")
	pcap, err := capt.Stop()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tshark, "-r", pcap, "-Y", "mip6.mhtype", "-T", "fields", "-E", "separator=|",
		"-e", "mip6.mhtype", "-e", "ipv6.src", "-e", "ipv6.dst", "-e", "ipv6.opt.mipv6.home_address",
		"-e", "ipv6.routing.mipv6.home_address", "-e", "mip6.nemo.bu.r_flag", "-e", "mip6.nemo.mnp.mnp",
		"-e", "mip6.nemo.ba.r_flag", "-e", "_ws.expert.severity").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	var bu, ba bool
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(l, "|")
		if len(f) < 9 || f[1] != coa.String() && f[2] != coa.String() {
			continue
		}
		if f[8] != "" && f[8] != "2097152" { // chat-level notes are fine; warnings/errors are not
			t.Errorf("tshark reports problems (severity %s) in: %s", f[8], l)
		}
		switch f[0] {
		case "5":
			bu = bu || f[1] == coa.String() && f[3] == testbed.MRHome6.String() && f[5] == "1" && f[6] == testbed.MNP6.Addr().String()
		case "6":
			ba = ba || f[2] == coa.String() && f[4] == testbed.MRHome6.String() && f[7] == "1"
		}
	}
	if !bu || !ba {
		t.Fatalf("tshark did not decode the registration (BU with HAO, R, MNP: %v; BA with type 2 routing header, R: %v):\n%s", bu, ba, out)
	}
	t.Logf("tshark decodes the captured BU (HAO %v, R, MNP %v) and BA (type 2 routing header)", testbed.MRHome6, testbed.MNP6)
}

// TestReloadMobileRouter: SIGHUP with unchanged registration settings
// keeps the binding as it is (no BU sent); with a changed lifetime the
// router registers the new settings while traffic keeps flowing.
func TestReloadMobileRouter(t *testing.T) {
	bin := binaries(t)
	tb := testbed.NewT(t, testbed.Options{Uplinks: []string{"fn2"}})
	s, err := New(tb, bin, Settings{}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StartHA(); err != nil {
		t.Fatal(err)
	}
	if err := s.StartMR(); err != nil {
		t.Fatal(err)
	}
	st, _, err := s.WaitState("registered", testbed.FN2Prefix6, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sent := st.Binding.Counters.BUSent
	if err := s.MRProc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if st, err = s.Status(); err != nil {
		t.Fatal(err)
	}
	if st.Binding.State != "registered" || st.Binding.Counters.BUSent != sent {
		t.Fatalf("reload with the same settings: state %q, BUs sent %d → %d (want the binding untouched)", st.Binding.State, sent, st.Binding.Counters.BUSent)
	}
	// A new lifetime: the binding at the home agent follows.
	conf, err := os.ReadFile(s.MRConf)
	if err != nil {
		t.Fatal(err)
	}
	conf = []byte(strings.Replace(string(conf), `lifetime = "60s"`, `lifetime = "120s"`, 1))
	if err := os.WriteFile(s.MRConf, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	wait := s.PingStream(testbed.CN6, 60)
	time.Sleep(300 * time.Millisecond)
	if err := s.MRProc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	var lifetime string
	err = tb.WaitFor(func() bool {
		br, err := s.Bindings()
		if err != nil || len(br.Bindings) != 1 {
			return false
		}
		lifetime = br.Bindings[0].LifetimeLeft
		d, err := time.ParseDuration(lifetime)
		return err == nil && d > 70*time.Second
	}, 10*time.Second)
	if err != nil {
		t.Fatalf("the home agent's binding did not take the new lifetime (left %s)", lifetime)
	}
	pr, err := wait()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reload with a new lifetime: binding lifetime left %s; ping %d/%d, longest gap %v", lifetime, pr.Received, pr.Sent,
		time.Duration(pr.LongestLossRun)*PingInterval)
	if pr.Received < pr.Sent-2 {
		t.Fatalf("traffic interrupted by the reload: %d/%d", pr.Received, pr.Sent)
	}
}
