package e2e

// Faults and recovery (issue 10), the router-side cases: the mobile router
// killed with SIGKILL and restarted, uplinks flapping, and a failover
// between two home agents and back. The helpers of faults_linux_test.go
// (registeredAt, waitRegistered, kernelCounts, captureMH...) are shared.

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/internal/had"
	"github.com/nemo-mobility/nemo/internal/testutil"
	"github.com/nemo-mobility/nemo/testbed"
)

// volatile matches the parts of ip listings that change by themselves
// (timers, counters), removed before listings are compared.
var volatile = regexp.MustCompile(`\s+(expires|valid_lft|preferred_lft|used)\s+\S+|\s+hoplimit\s+\S+|\s+pref\s+\S+`)

// linkLine matches the index that starts each line of ip -o link show.
var linkLine = regexp.MustCompile(`^[0-9]+:$`)

// netnsNoise is what ip prints (on stderr, which TB.IP returns with
// stdout) when, while it maps the peer namespaces of veth links to names,
// some namespace under /run/netns is being created or deleted, by any
// process on the machine (other tests' testbeds). Counted as a link, it
// made a link count go 8→7 across a restart with no link changed.
const netnsNoise = "Error: Peer netns reference is invalid"

// kernelObjects lists a node's links (by name and kind), rules, routes (all
// tables) and addresses, one normalised line per object, so two listings
// can be compared object by object (kernelCounts only counts them).
func kernelObjects(t *testing.T, s *Scenario, node string) map[string][]string {
	t.Helper()
	lines := func(args ...string) []string {
		out, err := s.TB.IP(node, args...)
		if err != nil {
			t.Fatalf("%s: ip %v: %v", node, args, err)
		}
		var ls []string
		for _, l := range strings.Split(out, "\n") {
			l = strings.TrimSpace(volatile.ReplaceAllString(l, ""))
			if strings.HasPrefix(l, netnsNoise) {
				continue
			}
			if l != "" {
				ls = append(ls, strings.Join(strings.Fields(l), " "))
			}
		}
		slices.Sort(ls)
		return ls
	}
	objs := map[string][]string{
		"rules6":  lines("-6", "rule", "show"),
		"rules4":  lines("-4", "rule", "show"),
		"routes6": lines("-6", "route", "show", "table", "all"),
		"routes4": lines("-4", "route", "show", "table", "all"),
	}
	// Links: name, kind and flags (not the index, which a re-created link
	// changes, nor the counters).
	var links []string
	for _, l := range lines("-o", "-d", "link", "show") {
		f := strings.Fields(l)
		if len(f) < 3 || !linkLine.MatchString(f[0]) {
			t.Logf("%s: ip -o -d link show printed a line that is no link: %q", node, l)
			continue
		}
		name := strings.TrimSuffix(f[1], ":")
		name, _, _ = strings.Cut(name, "@")
		kind := "-"
		for _, k := range []string{"veth", "tun", "loopback", "ip6tnl", "sit", "dummy", "bridge"} {
			if strings.Contains(l, " "+k+" ") || strings.Contains(l, "link/"+k) {
				kind = k
				break
			}
		}
		links = append(links, name+" "+kind+" "+f[2])
	}
	slices.Sort(links)
	objs["links"] = links
	// Addresses: interface and address/length.
	var addrs []string
	for _, fam := range []string{"-6", "-4"} {
		for _, l := range lines(fam, "-o", "addr", "show") {
			f := strings.Fields(l)
			if len(f) >= 4 {
				addrs = append(addrs, f[1]+" "+f[3])
			}
		}
	}
	slices.Sort(addrs)
	objs["addrs"] = addrs
	return objs
}

// diffObjects returns what only before has and what only after has, per
// kind.
func diffObjects(before, after map[string][]string) []string {
	var out []string
	kinds := make([]string, 0, len(before))
	for k := range before {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		b, a := before[k], after[k]
		for _, l := range b {
			if !slices.Contains(a, l) {
				out = append(out, fmt.Sprintf("%s: gone: %s", k, l))
			}
		}
		for _, l := range a {
			if !slices.Contains(b, l) {
				out = append(out, fmt.Sprintf("%s: new: %s", k, l))
			}
		}
	}
	return out
}

// objectCounts summarises kernelObjects as counts.
func objectCounts(objs map[string][]string) string {
	var parts []string
	for _, k := range []string{"links", "addrs", "rules6", "rules4", "routes6", "routes4"} {
		parts = append(parts, fmt.Sprintf("%s=%d", k, len(objs[k])))
	}
	return strings.Join(parts, " ")
}

// TestFaultMRKill: the mobile router is killed with SIGKILL while the
// mobile network's traffic flows, and started again, several times (3 in
// CI; NEMO_FAULT_TRIALS, 50 with NEMO_FAULT_FULL). Each new process
// removes what the dead one left (tunnel routes, rules, the home address on
// lo), registers again, and ends with exactly the kernel objects the first
// one had: same links, rules, routes and addresses, compared object by
// object. Once on FN2 alone, once with FN3 up too (a DHCPv4 lease, its
// routing table and rule). Reports the traffic gap and the time to the new
// registration, median and worst.
func TestFaultMRKill(t *testing.T) {
	// In parallel with the other waiting tests (scripts/e2e.sh): the kills and restarts mostly wait for the daemons.
	t.Parallel()
	trials := faultTrials(t, 3)
	for _, c := range []struct {
		name    string
		uplinks []string
	}{{"fn2", []string{"fn2"}}, {"fn2+fn3", []string{"fn2", "fn3"}}} {
		t.Run(c.name, func(t *testing.T) {
			s := registeredAt(t, Settings{Lifetime: "5m"}, c.uplinks, testbed.FN2Prefix6)
			for _, u := range c.uplinks {
				waitUplink(t, s, u, u == "fn3", 30*time.Second)
			}
			traffic(t, s, "before the kills", true)
			before := kernelObjects(t, s, testbed.NodeMR)
			haBefore := kernelObjects(t, s, testbed.NodeHA)
			t.Logf("mobile router before the kills: %s", objectCounts(before))
			var gaps, regs []time.Duration
			var bus []int
			for i := range trials {
				wait := s.PingStream(testbed.CN6, 160) // 8 s at 20/s
				time.Sleep(time.Second)
				killed := time.Now()
				if err := s.MRProc.Kill(); err != nil {
					t.Fatal(err)
				}
				left := s.Leftovers(testbed.NodeMR)
				if i == 0 {
					t.Logf("left behind by the killed mobile router (%d): %s", len(left), strings.Join(left, "; "))
				}
				if len(left) == 0 {
					t.Errorf("trial %d: a killed mobile router left nothing behind: the test does not exercise the clean-up", i)
				}
				if err := s.StartMR(); err != nil {
					t.Fatal(err)
				}
				st, _, err := waitRegistered(s, testbed.FN2Prefix6, 30*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				reg := time.Since(killed)
				if _, err := s.WaitBinding(netip.PrefixFrom(st.Binding.CareOf, 128), 5*time.Second); err != nil {
					t.Fatal(err)
				}
				pr, err := wait()
				gap := gapOf(t, fmt.Sprintf("trial %d", i), pingResult{pr, err})
				ctr := st.Binding.Counters
				t.Logf("trial %d: registered again %v after the kill; the new process sent %d BUs (resyncs %d, retransmissions %d); traffic gap %v",
					i, reg.Round(time.Millisecond), ctr.BUSent, ctr.Resyncs, ctr.Retransmissions, gap)
				if ctr.BUSent == 0 {
					t.Errorf("trial %d: the restarted mobile router reports no BU sent", i)
				}
				gaps, regs, bus = append(gaps, gap), append(regs, reg), append(bus, int(ctr.BUSent))
				// Let the DHCPv4 client of the new process settle before
				// counting: its lease comes back a little after the
				// registration.
				for _, u := range c.uplinks {
					waitUplink(t, s, u, u == "fn3", 30*time.Second)
				}
				if d := diffObjects(before, kernelObjects(t, s, testbed.NodeMR)); len(d) > 0 {
					s.dumpState(t)
					t.Errorf("trial %d: the mobile router's kernel objects differ after kill -9 and restart:\n  %s", i, strings.Join(d, "\n  "))
				}
				if d := diffObjects(haBefore, kernelObjects(t, s, testbed.NodeHA)); len(d) > 0 {
					t.Errorf("trial %d: the home agent's kernel objects differ after the mobile router's restart:\n  %s", i, strings.Join(d, "\n  "))
				}
			}
			gmed, gworst := durStats(gaps)
			rmed, rworst := durStats(regs)
			t.Logf("mobile router kill -9 (%s), %d trials: traffic gap median %v worst %v; kill → registered median %v worst %v; BUs per restart %v",
				c.name, trials, gmed, gworst, rmed.Round(time.Millisecond), rworst.Round(time.Millisecond), bus)
			traffic(t, s, "after the restarts", true)
			// A graceful stop of the last process leaves nothing.
			if err := s.MRProc.Stop(); err != nil {
				t.Fatal(err)
			}
			if left := s.Leftovers(testbed.NodeMR); len(left) > 0 {
				t.Errorf("the restarted mobile router left behind after a graceful stop:\n  %s", strings.Join(left, "\n  "))
			}
		})
	}
}

// ---- uplink flapping ----

// buTimes reads the capture files with tshark and returns when each
// Binding Update to one of the home agents passed, whether sent over IPv6
// or in UDP to port 4191 (RFC 5555; the inner source is then the home
// address, so BUs are told by their destination, not their source).
func buTimes(t *testing.T, has []netip.Addr, paths ...string) []time.Time {
	t.Helper()
	tshark := testutil.RequireTool(t, "tshark")
	var ts []time.Time
	for _, p := range paths {
		out, err := exec.Command(tshark, "-n", "-r", p, "-d", "udp.port==4191,ipv6", "-Y", "mip6.mhtype == 5 && !icmpv6",
			"-T", "fields", "-E", "occurrence=l", "-E", "separator=|", "-e", "frame.time_epoch", "-e", "ipv6.dst").Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("tshark %s: %v: %s", p, err, stderr)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Split(l, "|")
			if len(f) < 2 {
				continue
			}
			dst, err := netip.ParseAddr(f[1])
			if err != nil || !slices.Contains(has, dst) {
				continue
			}
			sec, err := strconv.ParseFloat(f[0], 64)
			if err != nil {
				t.Fatalf("tshark time %q: %v", f[0], err)
			}
			ts = append(ts, time.Unix(0, int64(sec*1e9)))
		}
	}
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	return ts
}

// peakPerSecond is the largest number of times in any one-second window,
// and where that window starts.
func peakPerSecond(ts []time.Time) (int, time.Time) {
	best, at, j := 0, time.Time{}, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= time.Second {
			j++
		}
		if i-j+1 > best {
			best, at = i-j+1, ts[j]
		}
	}
	return best, at
}

// captureBUs captures the BUs on CORE's links to the access routers and
// the home link (where every BU to a home agent passes).
func captureBUs(t *testing.T, s *Scenario) func() []string {
	t.Helper()
	var caps []*testbed.Capture
	for _, ifname := range []string{testbed.IfCoreAR1, testbed.IfCoreAR2, testbed.IfCoreAR3} {
		c, err := s.TB.Capture(testbed.NodeCore, ifname, "ip6 or udp port 4191")
		if err != nil {
			t.Fatal(err)
		}
		caps = append(caps, c)
	}
	return func() []string {
		var paths []string
		for _, c := range caps {
			p, err := c.Stop()
			if err != nil {
				t.Fatal(err)
			}
			paths = append(paths, p)
		}
		return paths
	}
}

// firstReply runs a ping stream from MNN to CN and returns how long it took
// until the first reply (or the stream's end).
func firstReply(s *Scenario, within time.Duration) (time.Duration, testbed.PingResult, error) {
	start := time.Now()
	for time.Since(start) < within {
		r, err := s.TB.Ping(testbed.NodeMNN, testbed.CN6.String(), 1, PingInterval)
		if err == nil && r.Received > 0 {
			return time.Since(start), r, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start), testbed.PingResult{}, fmt.Errorf("%w: no reply MNN→CN within %v", ErrTimeout, within)
}

// TestFaultUplinkFlap: one uplink, then two, go down and up at random
// every 1-5 s (15 s; a minute with NEMO_FAULT_FULL) while the mobile
// network's traffic flows. The BU rate stays at most 3 in any second (from
// a capture), nothing leaks on the mobile router or the home agent (same
// links, rules, routes and addresses before and after), the binding is
// right at the end (the home agent's care-of address is the mobile
// router's and its tunnel's) and traffic flows at once.
func TestFaultUplinkFlap(t *testing.T) {
	dur := 15 * time.Second
	if faultFull() {
		dur = time.Minute
	}
	for _, c := range []struct {
		name    string
		uplinks []string
	}{{"one", []string{"fn2"}}, {"two", []string{"fn2", "fn3"}}} {
		t.Run(c.name, func(t *testing.T) {
			s := registeredAt(t, Settings{}, c.uplinks, testbed.FN2Prefix6)
			for _, u := range c.uplinks {
				waitUplink(t, s, u, u == "fn3", 30*time.Second)
			}
			if _, _, err := waitRegistered(s, testbed.FN2Prefix6, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			traffic(t, s, "before flapping", true)
			mrBefore := kernelObjects(t, s, testbed.NodeMR)
			haBefore := kernelObjects(t, s, testbed.NodeHA)
			ctr0 := mustStatus(t, s).Binding.Counters
			stopCap := captureBUs(t, s)
			wait := s.PingStream(testbed.CN6, int((dur+2*time.Second)/PingInterval))
			until := time.Now().Add(dur)
			var wg sync.WaitGroup
			flaps := make([]int, len(c.uplinks))
			errs := make([]error, len(c.uplinks))
			seed := rand.Uint64()
			t.Logf("flap %s: seed %d", c.name, seed)
			for i, u := range c.uplinks {
				wg.Add(1)
				go func() {
					defer wg.Done()
					flaps[i], errs[i] = flap(s, u, until, rand.New(rand.NewPCG(seed, uint64(i))))
				}()
			}
			wg.Wait()
			end := time.Now()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			// Traffic right after the last flap: the first reply.
			back, _, err := firstReply(s, 30*time.Second)
			if err != nil {
				s.dumpState(t)
				t.Errorf("flap %s: %v (status: %s)", c.name, err, s.StatusTable())
			}
			st, _, err := waitRegistered(s, testbed.FN2Prefix6, 60*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			took := time.Since(end)
			for _, u := range c.uplinks {
				waitUplink(t, s, u, u == "fn3", 30*time.Second)
			}
			br, err := s.WaitBinding(netip.PrefixFrom(st.Binding.CareOf, 128), 10*time.Second)
			if err != nil {
				t.Fatalf("binding at the end: %v", err)
			}
			pr, err := wait()
			if err != nil {
				t.Fatal(err)
			}
			// Let the last BAs settle, then stop the capture.
			time.Sleep(time.Second)
			paths := stopCap()
			ctr1 := mustStatus(t, s).Binding.Counters
			bus := buTimes(t, []netip.Addr{testbed.HA6}, paths...)
			peak, at := peakPerSecond(bus)
			t.Logf("flap %s: %v, flaps %v; traffic back %v and registered (care-of %v) %v after the last flap; during the flapping %d/%d pings answered",
				c.name, dur, flaps, back.Round(time.Millisecond), st.Binding.CareOf, took.Round(time.Millisecond), pr.Received, pr.Sent)
			t.Logf("flap %s: %d BUs on the wire (%.2f/s), status BUSent +%d, retransmissions +%d, rate-deferred +%d, moves +%d; peak %d BUs in one second (at %s)",
				c.name, len(bus), float64(len(bus))/time.Since(until.Add(-dur)).Seconds(), ctr1.BUSent-ctr0.BUSent, ctr1.Retransmissions-ctr0.Retransmissions,
				ctr1.RateDeferred-ctr0.RateDeferred, ctr1.Moves-ctr0.Moves, peak, at.Format("15:04:05.000"))
			if len(c.uplinks) > 1 && len(bus) == 0 {
				// With one uplink the care-of address comes back the same
				// and the binding holds: no BU is the right answer. With
				// two, the primary's losses are moves.
				t.Errorf("flap %s: no BU captured: the flapping changed nothing", c.name)
			}
			if peak > maxUpdatesPerSec {
				t.Errorf("flap %s: %d BUs within one second, the limit is %d", c.name, peak, maxUpdatesPerSec)
			}
			if len(br.Bindings) != 1 || br.Bindings[0].CareOf != st.Binding.CareOf || br.Bindings[0].State != "valid" ||
				st.Tunnel == nil || st.Tunnel.Local != st.Binding.CareOf {
				t.Errorf("flap %s: home agent bindings %+v; mobile router care-of %v, tunnel %+v", c.name, br.Bindings, st.Binding.CareOf, st.Tunnel)
			}
			traffic(t, s, "after flapping "+c.name, true)
			if d := diffObjects(mrBefore, kernelObjects(t, s, testbed.NodeMR)); len(d) > 0 {
				s.dumpState(t)
				t.Errorf("flap %s: the mobile router's kernel objects changed:\n  %s", c.name, strings.Join(d, "\n  "))
			}
			if d := diffObjects(haBefore, kernelObjects(t, s, testbed.NodeHA)); len(d) > 0 {
				t.Errorf("flap %s: the home agent's kernel objects changed:\n  %s", c.name, strings.Join(d, "\n  "))
			}
		})
	}
}

// nftCore runs nft in CORE's namespace.
func nftCore(t *testing.T, s *Scenario, args ...string) {
	t.Helper()
	if out, err := s.TB.Exec(testbed.NodeCore, append([]string{"nft"}, args...)...); err != nil {
		t.Fatalf("nft %v: %v: %s", args, err, out)
	}
}

// TestFaultUplinkFlapLostBA is the flapping case that left traffic dead
// while the mobile router said "registered": registered on FN2 with FN3
// up as well, FN2 drops and the mobile router moves to FN3; the home agent
// accepts that BU (its binding now points at FN3) but the BA is lost; FN3
// drops too, and FN2 comes back with the same care-of address. The mobile
// router must not take its old binding for granted: it registers FN2 again,
// and the home agent's binding, the tunnel and the traffic follow.
func TestFaultUplinkFlapLostBA(t *testing.T) {
	s := registeredAt(t, Settings{}, []string{"fn2", "fn3"}, testbed.FN2Prefix6)
	waitUsable(t, s, "fn3", 30*time.Second)
	// BAs towards FN3 are lost on CORE.
	nftCore(t, s, "add", "table", "inet", "nemoflap")
	nftCore(t, s, "add", "chain", "inet", "nemoflap", "lostba", "{ type filter hook forward priority -10; policy accept; }")
	nftCore(t, s, "add", "rule", "inet", "nemoflap", "lostba", "ip6", "daddr", testbed.FN3Prefix6.String(),
		"meta", "l4proto", "135", "counter", "drop")
	if err := s.TB.Uplink("fn2", false); err != nil {
		t.Fatal(err)
	}
	br, err := s.WaitBinding(testbed.FN3Prefix6, 10*time.Second)
	if err != nil {
		t.Fatalf("the home agent did not take the BU from FN3: %v", err)
	}
	st := mustStatus(t, s)
	t.Logf("home agent binding %v; mobile router %q care-of %v (the BA from FN3 is dropped)", br.Bindings[0].CareOf, st.Binding.State, st.Binding.CareOf)
	if err := s.TB.Uplink("fn3", false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	up := time.Now()
	if err := s.TB.Uplink("fn2", true); err != nil {
		t.Fatal(err)
	}
	nftCore(t, s, "delete", "table", "inet", "nemoflap")
	st, _, err = waitRegistered(s, testbed.FN2Prefix6, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	br, err = s.WaitBinding(netip.PrefixFrom(st.Binding.CareOf, 128), 10*time.Second)
	if err != nil {
		s.dumpState(t)
		t.Fatalf("mobile router %q with care-of %v, but: %v", st.Binding.State, st.Binding.CareOf, err)
	}
	back, _, err := firstReply(s, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("FN2 back: home agent binding %v %v after FN2 came up, traffic back %v after it", br.Bindings[0].CareOf,
		time.Since(up).Round(time.Millisecond), back.Round(time.Millisecond))
	traffic(t, s, "after FN2 came back", true)
}

// ---- home agent failover ----

// haPair is a scenario with a second home agent (testbed.NodeHA2) on the
// home link and a mobile router configured with both, HA first and
// preferred.
type haPair struct {
	*Scenario
	HA2Conf, HA2Sock string
	HA2Proc          *testbed.Proc
}

func newHAPair(t *testing.T, set Settings) *haPair {
	t.Helper()
	bin := binaries(t)
	tb := testbed.NewT(t, testbed.Options{Uplinks: []string{"fn2"}, SecondHA: true})
	s, err := New(tb, bin, set, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	p := &haPair{Scenario: s, HA2Conf: filepath.Join(tb.RunDir(), "ha2.toml"), HA2Sock: filepath.Join(tb.RunDir(), "ha2.sock")}
	q := func(a any) string { return fmt.Sprintf("%q", fmt.Sprint(a)) }
	// The mobile router: both home agents, the first preferred.
	one := fmt.Sprintf("[[home_agent]]\naddress = %s\nipv4_address = %s\n", q(testbed.HA6), q(testbed.HA4))
	two := fmt.Sprintf("[[home_agent]]\naddress = %s\nipv4_address = %s\npreferred = true\n\n[[home_agent]]\naddress = %s\nipv4_address = %s\n",
		q(testbed.HA6), q(testbed.HA4), q(testbed.HA26), q(testbed.HA24))
	mr := s.mrConfig()
	if !strings.Contains(mr, one) {
		t.Fatalf("mobile router configuration without the expected [[home_agent]]:\n%s", mr)
	}
	if err := os.WriteFile(s.MRConf, []byte(strings.Replace(mr, one, two, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	// The second home agent: the same mobile router, its own address,
	// interface, socket and state.
	ha := s.haConfig()
	for _, r := range [][2]string{
		{q(testbed.HA6), q(testbed.HA26)}, {q(testbed.HA4), q(testbed.HA24)},
		{q(testbed.IfHAHome), q(testbed.IfHA2Home)}, {q(s.HASock), q(p.HA2Sock)},
		{q(filepath.Join(tb.RunDir(), "ha-state")), q(filepath.Join(tb.RunDir(), "ha2-state"))},
	} {
		if !strings.Contains(ha, r[0]) {
			t.Fatalf("home agent configuration without %s:\n%s", r[0], ha)
		}
		ha = strings.ReplaceAll(ha, r[0], r[1])
	}
	if err := os.WriteFile(p.HA2Conf, []byte(ha), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.StartHA(); err != nil {
		t.Fatal(err)
	}
	p.startHA2(t)
	if err := s.StartMR(); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("NEMO_E2E_LOGS") != "" {
		t.Cleanup(func() {
			t.Logf("mrouter log:\n%s\nha log:\n%s\nha2 log:\n%s", s.MRProc.Log(), s.HAProc.Log(), p.HA2Proc.Log())
		})
	}
	return p
}

func (p *haPair) startHA2(t *testing.T) {
	t.Helper()
	proc, err := p.TB.Start(testbed.NodeHA2, []string{p.Bin.HA, "run", "-c", p.HA2Conf}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.HA2Proc = proc
	if err := p.waitSocket(proc, func() error { _, err := p.bindings2(); return err }); err != nil {
		t.Fatal(err)
	}
}

// bindings2 is `ha bindings` of the second home agent.
func (p *haPair) bindings2() (had.BindingsReport, error) {
	var r had.BindingsReport
	out, err := p.TB.Exec(testbed.NodeHA2, p.Bin.HA, "bindings", "--json", "-s", p.HA2Sock)
	if err != nil {
		return r, fmt.Errorf("ha2 bindings: %v: %s", err, out)
	}
	return r, json.Unmarshal([]byte(out), &r)
}

// validBindings returns the valid bindings of a report.
func validBindings(r had.BindingsReport) []had.BindingRow {
	var v []had.BindingRow
	for _, b := range r.Bindings {
		if b.State == "valid" {
			v = append(v, b)
		}
	}
	return v
}

// TestFaultHAFailover: the mobile router is configured with two home
// agents on the home link, HA preferred. HA's host dies (its daemon
// killed with SIGKILL and its cable to the home link cut): the mobile
// router's refresh goes unanswered, it retransmits with the RFC 6275
// backoff, fails over to HA2 and traffic resumes through HA2. HA comes
// back: the mobile router's probe (a deregistration, which registers
// nothing) finds it, it deregisters at HA2 first (HA2 defends the home
// address on the home link while it holds the binding: HA's duplicate
// address detection would fail with 134, RFC 6275 10.3.1, 11.7.1) and
// then registers at HA again. Reports the failover and return gaps.
func TestFaultHAFailover(t *testing.T) {
	// In parallel with the other waiting tests (scripts/e2e.sh): the failover waits for RFC 6275 retransmission timers.
	t.Parallel()
	p := newHAPair(t, Settings{Lifetime: "12s"})
	s := p.Scenario
	if _, took, err := waitHomeAgent(s, testbed.HA6, 30*time.Second); err != nil {
		t.Fatal(err)
	} else {
		t.Logf("registered with HA %v after the start", took.Round(time.Millisecond))
	}
	traffic(t, s, "at HA", true)
	if v := validBindings(mustBindings2(t, p)); len(v) != 0 {
		t.Fatalf("HA2 holds a binding while HA serves: %+v", v)
	}
	stopCap := captureBUs(t, s)
	ctr0 := mustStatus(t, s).Binding.Counters

	// HA's host dies.
	if err := s.HAProc.Kill(); err != nil {
		t.Fatal(err)
	}
	// The host is gone from the home link: its cable is cut at the switch
	// (taking its own interface down would also flush its addresses).
	if err := s.TB.SetLink(testbed.NodeSW, testbed.IfSWHA, false); err != nil {
		t.Fatal(err)
	}
	died := time.Now()
	st, _, err := waitHomeAgent(s, testbed.HA26, 150*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	failover := time.Since(died)
	back, _, err := firstReply(s, 20*time.Second)
	if err != nil {
		s.dumpState(t)
		t.Fatalf("no traffic through HA2: %v", err)
	}
	gap1 := time.Since(died)
	ctr1 := st.Binding.Counters
	t.Logf("failover: HA died; registered with HA2 (care-of %v) %v later, traffic back %v later (%v after the registration); BUs +%d (retransmissions +%d), failovers +%d; note %q",
		st.Binding.CareOf, failover.Round(time.Millisecond), gap1.Round(time.Millisecond), back.Round(time.Millisecond),
		ctr1.BUSent-ctr0.BUSent, ctr1.Retransmissions-ctr0.Retransmissions, ctr1.Failovers-ctr0.Failovers, st.Binding.Note)
	if v := validBindings(mustBindings2(t, p)); len(v) != 1 || v[0].CareOf != st.Binding.CareOf {
		t.Fatalf("HA2 bindings after the failover: %+v", v)
	}
	traffic(t, s, "at HA2", false)

	// HA comes back, as a rebooted host: its daemon starts (removing what
	// the killed one left, dropping the binding that expired meanwhile),
	// then its cable is back on the home link.
	if err := s.StartHA(); err != nil {
		t.Fatal(err)
	}
	wait := s.PingStream(testbed.CN6, 1000) // 50 s
	time.Sleep(time.Second)
	returned := time.Now()
	if err := s.TB.SetLink(testbed.NodeSW, testbed.IfSWHA, true); err != nil {
		t.Fatal(err)
	}
	st, _, err = waitHomeAgent(s, testbed.HA6, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ret := time.Since(returned)
	pr, err := wait()
	if err != nil {
		t.Fatal(err)
	}
	gap2 := time.Duration(pr.LongestLossRun) * PingInterval
	ctr2 := st.Binding.Counters
	evs := stopCap()
	bus := buTimes(t, []netip.Addr{testbed.HA6, testbed.HA26}, evs...)
	peak, at := peakPerSecond(bus)
	t.Logf("return: HA back; registered with it again %v later; ping stream %d/%d, longest loss run %d → return gap %v; BUs +%d (retransmissions +%d), failovers +%d, last status %q, note %q",
		ret.Round(time.Millisecond), pr.Received, pr.Sent, pr.LongestLossRun, gap2,
		ctr2.BUSent-ctr1.BUSent, ctr2.Retransmissions-ctr1.Retransmissions, ctr2.Failovers-ctr1.Failovers, st.Binding.LastStatus, st.Binding.Note)
	t.Logf("failover and return: %d BUs on the wire, peak %d in one second (at %s)", len(bus), peak, at.Format("15:04:05.000"))
	if peak > maxUpdatesPerSec {
		t.Errorf("%d BUs within one second, the limit is %d", peak, maxUpdatesPerSec)
	}
	if ctr2.BARejected != ctr0.BARejected {
		t.Errorf("home agents rejected %d BUs during the failover and return (last status %q)", ctr2.BARejected-ctr0.BARejected, st.Binding.LastStatus)
	}
	// HA2 let go: no binding, no proxy entry for the home address.
	if err := s.TB.WaitFor(func() bool {
		r, err := p.bindings2()
		return err == nil && len(validBindings(r)) == 0
	}, 5*time.Second); err != nil {
		t.Errorf("HA2 still holds the binding after the return: %+v", mustBindings2(t, p))
	}
	out, err := s.TB.IP(testbed.NodeHA2, "-6", "neigh", "show", "proxy")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != "" {
		t.Errorf("HA2 still proxies after the return:\n%s", out)
	}
	traffic(t, s, "back at HA", true)
}

func mustBindings2(t *testing.T, p *haPair) had.BindingsReport {
	t.Helper()
	r, err := p.bindings2()
	if err != nil {
		t.Fatal(err)
	}
	return r
}
