//go:build benchsystem

package tunnel

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/e2e"
	"github.com/nemo-mobility/nemo/internal/testutil"
	"github.com/nemo-mobility/nemo/testbed"
)

// runs is how many measurements each path gets per kind; seconds is each
// one's length.
const (
	runs    = 5
	seconds = 4
	// wgPort is wireguard-go's UDP port at both ends.
	wgPort = 51820
	// wgIf is wireguard-go's TUN device at both ends.
	wgIf = "wg0"
)

// figures are one path's measurements, each sorted.
type figures struct {
	name string
	tcp  []float64 // Mbit/s received at the correspondent
	pps  []float64 // 64-byte UDP datagrams per second received
	sent []float64 // 64-byte UDP datagrams per second sent by the MNN
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return v[len(v)/2]
}

// iperfResult is the part of iperf3's JSON report the benchmark reads.
type iperfResult struct {
	End struct {
		Sum struct {
			Seconds     float64 `json:"seconds"`
			Packets     float64 `json:"packets"`
			LostPackets float64 `json:"lost_packets"`
		} `json:"sum"`
		SumSent struct {
			Seconds float64 `json:"seconds"`
			Bytes   float64 `json:"bytes"`
			Packets float64 `json:"packets"`
		} `json:"sum_sent"`
		SumReceived struct {
			Seconds       float64 `json:"seconds"`
			Bytes         float64 `json:"bytes"`
			BitsPerSecond float64 `json:"bits_per_second"`
			Packets       float64 `json:"packets"`
			LostPackets   float64 `json:"lost_packets"`
		} `json:"sum_received"`
	} `json:"end"`
	Error string `json:"error"`
}

// iperf runs iperf3 from the MNN to the CN's iperf3 server.
func iperf(tb *testbed.Testbed, args ...string) (iperfResult, error) {
	argv := append([]string{"iperf3", "-c", testbed.CN6.String(), "-t", strconv.Itoa(seconds), "-J"}, args...)
	out, err := tb.Exec(testbed.NodeMNN, argv...)
	var r iperfResult
	if jerr := json.Unmarshal([]byte(out), &r); jerr != nil {
		return r, fmt.Errorf("iperf3 %v: %v (%v): %.300s", args, jerr, err, out)
	}
	if r.Error != "" {
		return r, fmt.Errorf("iperf3 %v: %s", args, r.Error)
	}
	return r, err
}

// measure runs the bulk TCP and the 64-byte UDP measurements MNN→CN
// through whatever path is in place; counter, if set, names an interface
// whose counters must rise (the traffic really took the tunnel).
func measure(t *testing.T, tb *testbed.Testbed, name, node, counter string) figures {
	t.Helper()
	f := figures{name: name}
	var rx0, tx0 uint64
	if counter != "" {
		var err error
		if rx0, tx0, err = tb.Counters(node, counter); err != nil {
			t.Fatalf("%s: counters of %s: %v", name, counter, err)
		}
	}
	for i := range runs {
		r, err := iperf(tb)
		if err != nil {
			t.Fatalf("%s: TCP run %d: %v", name, i, err)
		}
		if r.End.SumReceived.Bytes <= 0 {
			t.Fatalf("%s: TCP run %d: nothing received", name, i)
		}
		f.tcp = append(f.tcp, r.End.SumReceived.Bytes*8/r.End.SumReceived.Seconds/1e6)
		u, err := iperf(tb, "-u", "-l", "64", "-b", "0")
		if err != nil {
			t.Fatalf("%s: UDP run %d: %v", name, i, err)
		}
		s := u.End.Sum
		got := s.Packets - s.LostPackets
		if got <= 0 || s.Seconds <= 0 {
			t.Fatalf("%s: UDP run %d: nothing received (%+v)", name, i, s)
		}
		f.pps = append(f.pps, got/s.Seconds)
		f.sent = append(f.sent, s.Packets/s.Seconds)
	}
	if counter != "" {
		rx, tx, err := tb.Counters(node, counter)
		if err != nil {
			t.Fatalf("%s: counters of %s: %v", name, counter, err)
		}
		if rx <= rx0 || tx <= tx0 {
			t.Fatalf("%s: %s counters did not rise (rx %d→%d, tx %d→%d): the traffic went around the tunnel", name, counter, rx0, rx, tx0, tx)
		}
	}
	slices.Sort(f.tcp)
	slices.Sort(f.pps)
	slices.Sort(f.sent)
	t.Logf("%s: bulk TCP Mbit/s %.0f; 64-byte UDP received pps %.0f (sent %.0f)", name, f.tcp, f.pps, f.sent)
	return f
}

// wgcompare returns the wireguard-go helper: $NEMO_WGCOMPARE, or a build of
// bench/wgcompare (its own module) into dir.
func wgcompare(t *testing.T, dir string) string {
	if p := os.Getenv("NEMO_WGCOMPARE"); p != "" {
		return p
	}
	out := filepath.Join(dir, "wgcompare")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = filepath.Join(e2e.ModuleRoot(), "bench", "wgcompare")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build bench/wgcompare: %v\n%s", err, b)
	}
	return out
}

// startWG brings up wireguard-go in node and waits for it to say ready.
func startWG(t *testing.T, tb *testbed.Testbed, bin, node string, args ...string) {
	t.Helper()
	p, err := tb.Start(node, append([]string{bin, "up", "-name", wgIf, "-listen", strconv.Itoa(wgPort)}, args...), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.WaitFor(func() bool { return strings.Contains(p.Log(), "ready") || p.Exited() }, 10*time.Second); err != nil || p.Exited() {
		t.Fatalf("wireguard-go in %s: %v\n%s", node, err, p.Log())
	}
}

func ip(t *testing.T, tb *testbed.Testbed, node string, args ...string) {
	t.Helper()
	if out, err := tb.IP(node, args...); err != nil {
		t.Fatalf("%s: ip %v: %v\n%s", node, args, err, out)
	}
}

func TestTunnelThroughput(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "iperf3")
	dir := t.TempDir()
	bins, err := e2e.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	wg := wgcompare(t, dir)
	tb := testbed.NewT(t, testbed.Options{Uplinks: []string{"home"}})
	s, err := e2e.New(tb, bins, e2e.Settings{Dataplane: "userspace"}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StartHA(); err != nil {
		t.Fatal(err)
	}
	if err := s.StartMR(); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Start(testbed.NodeCN, []string{"iperf3", "-s"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.WaitState("at home", netip.Prefix{}, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := tb.WaitFor(func() bool {
		_, err := tb.Exec(testbed.NodeMNN, "iperf3", "-c", testbed.CN6.String(), "-t", "1", "-b", "1M")
		return err == nil
	}, 15*time.Second); err != nil {
		t.Fatalf("iperf3 server on CN: %v", err)
	}
	plain := measure(t, tb, "plain routing (MR at home, no tunnel)", "", "")

	if err := tb.Uplink("fn2", true); err != nil {
		t.Fatal(err)
	}
	if err := tb.Uplink("home", false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.WaitState("registered", testbed.FN2Prefix6, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	idleRSS, _ := vmKiB(s.MRProc.Pid())
	tun := measure(t, tb, "userspace tunnel (MR on FN2)", testbed.NodeMR, "nemo-mr0")
	// The mobile router's memory under the load it just carried: VmHWM
	// is its peak resident set since it started.
	if rss, hwm := vmKiB(s.MRProc.Pid()); rss > 0 {
		t.Logf("mrouter memory (amd64): VmRSS %.1f MiB registered and idle before the tunnel phase, %.1f MiB after it, peak VmHWM %.1f MiB",
			float64(idleRSS)/1024, float64(rss)/1024, float64(hwm)/1024)
		t.Logf("BENCH mrouter_rss_idle_kib=%d mrouter_rss_after_load_kib=%d mrouter_hwm_kib=%d", idleRSS, rss, hwm)
	}

	// wireguard-go between the same two namespaces, the daemons stopped:
	// MNN→MR=wg0=HA→CORE→CN, the MR's outer address on FN2 as before.
	coa, ok := tb.AddrIn(testbed.NodeMR, testbed.IfMRFN2, testbed.FN2Prefix6)
	if !ok {
		t.Fatal("the MR has no address on FN2")
	}
	if err := s.MRProc.Stop(); err != nil {
		t.Logf("mrouter stop: %v", err)
	}
	if err := s.HAProc.Stop(); err != nil {
		t.Logf("ha stop: %v", err)
	}
	for _, node := range []string{testbed.NodeMR, testbed.NodeHA} {
		if err := tb.Sysctl(node, "net.ipv6.conf.all.forwarding", "1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := tb.AddrIn(testbed.NodeMR, testbed.IfMRFN2, testbed.FN2Prefix6); !ok {
		ip(t, tb, testbed.NodeMR, "addr", "add", coa.String()+"/64", "dev", testbed.IfMRFN2)
	}
	if _, ok := tb.AddrIn(testbed.NodeMR, testbed.IfMRLAN, testbed.MNP6); !ok {
		ip(t, tb, testbed.NodeMR, "addr", "add", testbed.MRLAN6.String()+"/64", "dev", testbed.IfMRLAN)
	}
	ip(t, tb, testbed.NodeMR, "-6", "route", "replace", testbed.HA6.String(), "via", testbed.AR2FN26.String(), "dev", testbed.IfMRFN2)
	ip(t, tb, testbed.NodeCore, "-6", "route", "replace", testbed.MNP6.String(), "via", testbed.HA6.String(), "dev", testbed.IfCoreHome)
	out, err := exec.Command(wg, "genkey").Output()
	if err != nil {
		t.Fatalf("wgcompare genkey: %v", err)
	}
	mrKey := strings.Fields(string(out))
	if out, err = exec.Command(wg, "genkey").Output(); err != nil {
		t.Fatalf("wgcompare genkey: %v", err)
	}
	haKey := strings.Fields(string(out))
	startWG(t, tb, wg, testbed.NodeHA, "-key", haKey[0], "-peer", mrKey[1], "-allowed", testbed.MNP6.String())
	startWG(t, tb, wg, testbed.NodeMR, "-key", mrKey[0], "-peer", haKey[1], "-endpoint", fmt.Sprintf("[%s]:%d", testbed.HA6, wgPort))
	ip(t, tb, testbed.NodeHA, "link", "set", wgIf, "up")
	ip(t, tb, testbed.NodeMR, "link", "set", wgIf, "up")
	ip(t, tb, testbed.NodeHA, "-6", "route", "replace", testbed.MNP6.String(), "dev", wgIf)
	ip(t, tb, testbed.NodeMR, "-6", "route", "replace", testbed.CN6.String(), "dev", wgIf)
	if err := tb.WaitFor(func() bool {
		_, err := tb.Exec(testbed.NodeMNN, "iperf3", "-c", testbed.CN6.String(), "-t", "1", "-b", "1M")
		return err == nil
	}, 20*time.Second); err != nil {
		t.Fatalf("no traffic through wireguard-go: %v", err)
	}
	wgf := measure(t, tb, "wireguard-go (MR on FN2)", testbed.NodeMR, wgIf)

	t.Logf("| path | bulk TCP Mbit/s (sorted) | median | ratio | 64-byte UDP pps received (sorted) | median | ratio |")
	for _, f := range []figures{plain, tun, wgf} {
		t.Logf("| %s | %.0f | %.0f | %.2f | %.0f | %.0f | %.2f |", f.name, f.tcp, median(f.tcp), median(f.tcp)/median(plain.tcp),
			f.pps, median(f.pps), median(f.pps)/median(plain.pps))
	}
	t.Logf("BENCH tunnel_tcp_mbps=%.0f plain_tcp_mbps=%.0f wg_tcp_mbps=%.0f tcp_ratio_plain=%.2f tcp_ratio_wg=%.2f",
		median(tun.tcp), median(plain.tcp), median(wgf.tcp), median(tun.tcp)/median(plain.tcp), median(tun.tcp)/median(wgf.tcp))
	t.Logf("BENCH tunnel_pps=%.0f plain_pps=%.0f wg_pps=%.0f pps_ratio_plain=%.2f pps_ratio_wg=%.2f",
		median(tun.pps), median(plain.pps), median(wgf.pps), median(tun.pps)/median(plain.pps), median(tun.pps)/median(wgf.pps))
}

// vmKiB returns a process's VmRSS and VmHWM in KiB (zeros when unreadable).
func vmKiB(pid int) (rss, hwm int) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "VmRSS:":
			rss = v
		case "VmHWM:":
			hwm = v
		}
	}
	return rss, hwm
}
