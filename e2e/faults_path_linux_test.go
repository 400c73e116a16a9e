package e2e

// The tunnel check (issue 9, hard uplink loss on an IPv4 uplink): the
// uplink stays up with its address and lease while its access network
// drops everything it should forward, so neither a link event nor a router
// advertisement says anything. The mobile router's check sees traffic go
// into the tunnel with nothing coming back, probes the home agent through
// the tunnel, and after three unanswered probes moves to its other uplink.

import (
	"strings"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/internal/mrd"
	"github.com/nemo-mobility/nemo/internal/testutil"
	"github.com/nemo-mobility/nemo/testbed"
)

// blackholeAR3 makes AR3 drop everything it would forward (on) or stops
// that (off). AR3's own DHCP and router advertisements are untouched.
func blackholeAR3(t *testing.T, s *Scenario, on bool) {
	t.Helper()
	argvs := [][]string{{"nft", "delete", "table", "inet", "nemopath"}}
	if on {
		argvs = [][]string{
			{"nft", "add", "table", "inet", "nemopath"},
			{"nft", "add", "chain", "inet", "nemopath", "dropall", "{ type filter hook forward priority -10; policy accept; }"},
			{"nft", "add", "rule", "inet", "nemopath", "dropall", "counter", "drop"},
		}
	}
	for _, argv := range argvs {
		if out, err := s.TB.Exec(testbed.NodeAR3, argv...); err != nil {
			t.Fatalf("%v on AR3: %v: %s", argv, err, out)
		}
	}
}

// TestFaultPathLoss: registered on FN3 (IPv4 only, no NAT) with FN1 (IPv4
// behind NAT) up as well; AR3 starts dropping all forwarded traffic while
// MNN sends 100 pings a second to CN. The mobile router must find the path
// lost by itself and register from FN1; while AR3 still drops, its return
// to FN3 after path_hold gets no answer and it stays on FN1 with the
// traffic; once AR3 forwards again it returns to FN3.
func TestFaultPathLoss(t *testing.T) {
	t.Parallel()
	testutil.RequireTool(t, "nft")
	const hold = 5 * time.Second
	s := registeredAt(t, Settings{FN3IPv4Only: true, PathHold: hold.String()}, []string{"fn3", "fn1"}, testbed.FN3Prefix4)
	if err := s.TB.WaitFor(func() bool {
		st, err := s.Status()
		u, ok := uplinkStatus(st, "fn1")
		return err == nil && ok && u.Up && u.CoA4.IsValid()
	}, 30*time.Second); err != nil {
		t.Fatalf("no DHCPv4 lease on FN1: %v", err)
	}
	traffic(t, s, "FN3 before the loss", true)

	const rate = 10 * time.Millisecond // 100 packets a second
	ping := func(n int) func() (testbed.PingResult, error) { return s.PingStreamEvery(testbed.CN6, n, rate) }
	wait := ping(800) // 8 s
	time.Sleep(time.Second)
	blackholeAR3(t, s, true)
	cut := time.Now()
	st, took, err := waitRegistered(s, testbed.FN1Prefix4, 15*time.Second)
	if err != nil {
		s.dumpState(t)
		t.Fatalf("no move to FN1 after AR3 stopped forwarding: %v\nmrouter:\n%s", err, tail(s.MRProc.Log(), 40))
	}
	pr, perr := wait()
	if perr != nil {
		t.Fatal(perr)
	}
	c := st.Check
	if c.Losses < 1 || !strings.Contains(st.Binding.Note, "unanswered") {
		t.Fatalf("registered on FN1 but the check reports %+v, note %q", c, st.Binding.Note)
	}
	h := st.Handover
	if h == nil || h.CareOf != st.Binding.CareOf || h.Start != mrd.HandoverFromPathLost {
		t.Fatalf("handover %+v, want one to %v measured from the loss", h, st.Binding.CareOf)
	}
	gap := time.Duration(pr.LongestLossRun) * rate
	t.Logf("path loss on FN3: found lost %v after the last packet from the tunnel (%v after AR3 began dropping), registered on FN1 %v after it; loss → BU %v, → BA %v; ping stream at 100/s %d/%d, longest gap %v; %d probes sent",
		time.Duration(c.SilentNs).Round(time.Millisecond), c.LastLoss.Sub(cut).Round(time.Millisecond), took.Round(time.Millisecond),
		time.Duration(h.ToBUNs).Round(10*time.Microsecond), time.Duration(h.ToBANs).Round(10*time.Microsecond),
		pr.Received, pr.Sent, gap, c.Probes)
	if pr.Received == 0 {
		t.Fatalf("ping stream %+v: traffic did not come back", pr)
	}
	traffic(t, s, "FN1 after the loss on FN3", true)

	// AR3 still drops: after path_hold the router tries FN3 again, gets
	// no answer to three BUs (1 + 2 + 4 s) and goes back to FN1, the
	// tunnel staying on FN1 all the while.
	avoided := st.Binding.Counters.PathsAvoided
	wait = ping(1500) // 15 s: the hold and the unanswered return
	pr, perr = wait()
	if perr != nil {
		t.Fatal(perr)
	}
	st = mustStatus(t, s)
	if st.Binding.Counters.PathsAvoided <= avoided || !testbed.FN1Prefix4.Contains(st.Binding.CareOf) || st.Tunnel == nil ||
		!testbed.FN1Prefix4.Contains(st.Tunnel.Local) {
		s.dumpState(t)
		t.Fatalf("return to a still dead FN3: paths avoided %d → %d, care-of %v; want a return attempt given up and FN1 kept",
			avoided, st.Binding.Counters.PathsAvoided, st.Binding.CareOf)
	}
	t.Logf("return to FN3 while AR3 still drops: given up (%q); ping stream %d/%d, longest gap %v",
		st.Binding.Note, pr.Received, pr.Sent, time.Duration(pr.LongestLossRun)*rate)

	// AR3 forwards again: back to FN3 (the preferred uplink) at the next try.
	blackholeAR3(t, s, false)
	healed := time.Now()
	st, _, err = waitRegistered(s, testbed.FN3Prefix4, hold+15*time.Second)
	if err != nil {
		s.dumpState(t)
		t.Fatalf("no return to FN3 after AR3 forwards again: %v", err)
	}
	t.Logf("AR3 forwards again: registered on FN3 %v later", time.Since(healed).Round(time.Millisecond))
	traffic(t, s, "FN3 again", true)
}
