package dhcpv4

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// seqRand hands out sequential transaction IDs and a fixed jitter choice:
// Int64N returns pick(n).
type seqRand struct {
	next uint32
	pick func(n int64) int64
}

func (r *seqRand) Uint32() uint32 { r.next++; return r.next }
func (r *seqRand) Int64N(n int64) int64 {
	if r.pick == nil {
		return n / 2 // zero jitter
	}
	return r.pick(n)
}

var (
	t0      = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	srvA    = netip.MustParseAddr("198.18.9.1")
	srvB    = netip.MustParseAddr("198.18.9.2")
	leaseA  = netip.MustParsePrefix("198.18.9.100/24")
	routerA = netip.MustParseAddr("198.18.9.1")
)

func hourLease(server netip.Addr) Lease {
	return Lease{Addr: leaseA, Router: routerA, Server: server, LeaseTime: time.Hour, T1: 30 * time.Minute, T2: 52*time.Minute + 30*time.Second}
}

func only[T Action](t *testing.T, acts []Action) T {
	t.Helper()
	var out []T
	for _, a := range acts {
		if v, ok := a.(T); ok {
			out = append(out, v)
		}
	}
	if len(out) != 1 {
		var zero T
		t.Fatalf("want exactly one %T in %+v", zero, acts)
	}
	return out[0]
}

func none[T Action](t *testing.T, acts []Action) {
	t.Helper()
	for _, a := range acts {
		if _, ok := a.(T); ok {
			t.Fatalf("unexpected %T in %+v", a, acts)
		}
	}
}

func wantState(t *testing.T, m *Machine, s State) {
	t.Helper()
	if m.State() != s {
		t.Fatalf("state %v, want %v", m.State(), s)
	}
}

func wantTimer(t *testing.T, m *Machine, at time.Time) {
	t.Helper()
	got, ok := m.NextTimer()
	if !ok || !got.Equal(at) {
		t.Fatalf("NextTimer = %v, %v; want %v", got, ok, at)
	}
}

// bound drives a fresh machine through DORA at t0 and returns it bound to l.
func bound(t *testing.T, cfg MachineConfig, l Lease) *Machine {
	t.Helper()
	if cfg.Rand == nil {
		cfg.Rand = &seqRand{}
	}
	m := NewMachine(cfg)
	d := only[Send](t, m.Handle(t0, LinkUp{}))
	off := only[Send](t, m.Handle(t0.Add(time.Second), Received{Reply{Type: ReplyOffer, XID: d.XID, Server: l.Server, Lease: l}}))
	acts := m.Handle(t0.Add(2*time.Second), Received{Reply{Type: ReplyAck, XID: off.XID, Server: l.Server, Lease: l}})
	only[ApplyLease](t, acts)
	wantState(t, m, StateBound)
	return m
}

func TestDORA(t *testing.T) {
	m := NewMachine(MachineConfig{Rand: &seqRand{}})
	wantState(t, m, StateInit)
	if _, ok := m.NextTimer(); ok {
		t.Fatal("timer armed with link down")
	}
	d := only[Send](t, m.Handle(t0, LinkUp{}))
	if d.Kind != SendDiscover || d.Dest.IsValid() || d.ClientIP.IsValid() || d.Elapsed != 0 {
		t.Fatalf("discover = %+v", d)
	}
	wantState(t, m, StateSelecting)
	wantTimer(t, m, t0.Add(InitialBackoff))

	l := hourLease(srvA)
	tOffer := t0.Add(time.Second)
	req := only[Send](t, m.Handle(tOffer, Received{Reply{Type: ReplyOffer, XID: d.XID, Server: srvA, Lease: l}}))
	want := Send{Kind: SendRequestSelecting, XID: d.XID, Elapsed: time.Second, RequestedIP: leaseA.Addr(), ServerID: srvA}
	if req != want {
		t.Fatalf("request = %+v, want %+v", req, want)
	}
	wantState(t, m, StateRequesting)

	acts := m.Handle(tOffer.Add(time.Second), Received{Reply{Type: ReplyAck, XID: d.XID, Server: srvA, Lease: l}})
	wl := l
	wl.Start = tOffer // RFC 2131 4.4.1: counted from the REQUEST
	if want := []Action{ApplyLease{wl}, Report{Event{Bound, wl}}}; !reflect.DeepEqual(acts, want) {
		t.Fatalf("ack actions = %+v, want %+v", acts, want)
	}
	wantState(t, m, StateBound)
	wantTimer(t, m, tOffer.Add(30*time.Minute))
	if got, ok := m.Lease(); !ok || got != wl {
		t.Fatalf("Lease() = %+v %v", got, ok)
	}
	// A duplicate ACK changes nothing.
	if acts := m.Handle(tOffer.Add(2*time.Second), Received{Reply{Type: ReplyAck, XID: d.XID, Server: srvA, Lease: l}}); acts != nil {
		t.Fatalf("duplicate ack gave %+v", acts)
	}
}

func TestDiscoverBackoff(t *testing.T) {
	for _, tc := range []struct {
		name   string
		pick   func(int64) int64
		jitter time.Duration
	}{
		{"low", func(int64) int64 { return 0 }, -time.Second},
		{"none", nil, 0},
		{"high", func(n int64) int64 { return n - 1 }, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMachine(MachineConfig{Rand: &seqRand{pick: tc.pick}})
			first := only[Send](t, m.Handle(t0, LinkUp{}))
			now := t0
			// RFC 2131 4.1: 4, 8, 16, 32, 64, then 64 again.
			for i, base := range []time.Duration{4, 8, 16, 32, 64, 64, 64} {
				next := now.Add(base*time.Second + tc.jitter)
				wantTimer(t, m, next)
				if acts := m.Handle(next.Add(-time.Millisecond), TimerFired{}); acts != nil {
					t.Fatalf("early timer gave %+v", acts)
				}
				now = next
				s := only[Send](t, m.Handle(now, TimerFired{}))
				if s.Kind != SendDiscover || s.XID != first.XID || s.Elapsed != now.Sub(t0) {
					t.Fatalf("retransmission %d = %+v", i, s)
				}
				wantState(t, m, StateSelecting)
			}
		})
	}
}

func TestRequestingLostReplies(t *testing.T) {
	m := NewMachine(MachineConfig{Rand: &seqRand{}, RequestRetries: 3})
	d := only[Send](t, m.Handle(t0, LinkUp{}))
	only[Send](t, m.Handle(t0, Received{Reply{Type: ReplyOffer, XID: d.XID, Server: srvA, Lease: hourLease(srvA)}}))
	now := t0
	for i := 0; i < 3; i++ {
		now, _ = m.NextTimer()
		s := only[Send](t, m.Handle(now, TimerFired{}))
		if s.Kind != SendRequestSelecting || s.XID != d.XID {
			t.Fatalf("retransmission %d = %+v", i, s)
		}
	}
	now, _ = m.NextTimer()
	s := only[Send](t, m.Handle(now, TimerFired{}))
	if s.Kind != SendDiscover || s.XID == d.XID {
		t.Fatalf("after giving up: %+v, want a new DISCOVER", s)
	}
	wantState(t, m, StateSelecting)
}

func TestRequestingIgnoresOthers(t *testing.T) {
	m := NewMachine(MachineConfig{Rand: &seqRand{}})
	d := only[Send](t, m.Handle(t0, LinkUp{}))
	l := hourLease(srvA)
	for _, r := range []Reply{
		{Type: ReplyAck, XID: d.XID, Server: srvA, Lease: l}, // ACK while SELECTING
		{Type: ReplyOffer, XID: d.XID + 7, Server: srvA, Lease: l},
	} {
		if acts := m.Handle(t0, Received{r}); acts != nil {
			t.Fatalf("%+v gave %+v", r, acts)
		}
	}
	only[Send](t, m.Handle(t0, Received{Reply{Type: ReplyOffer, XID: d.XID, Server: srvA, Lease: l}}))
	lb := l
	lb.Server = srvB
	for _, r := range []Reply{
		{Type: ReplyAck, XID: d.XID, Server: srvB, Lease: lb}, // not the server we chose
		{Type: ReplyNak, XID: d.XID, Server: srvB},
		{Type: ReplyOffer, XID: d.XID, Server: srvA, Lease: l},
	} {
		if acts := m.Handle(t0, Received{r}); acts != nil {
			t.Fatalf("%+v gave %+v", r, acts)
		}
	}
	wantState(t, m, StateRequesting)
}

func TestRequestingNak(t *testing.T) {
	m := NewMachine(MachineConfig{Rand: &seqRand{}})
	d := only[Send](t, m.Handle(t0, LinkUp{}))
	only[Send](t, m.Handle(t0, Received{Reply{Type: ReplyOffer, XID: d.XID, Server: srvA, Lease: hourLease(srvA)}}))
	now := t0.Add(time.Second)
	if acts := m.Handle(now, Received{Reply{Type: ReplyNak, XID: d.XID, Server: srvA}}); acts != nil {
		t.Fatalf("nak gave %+v", acts)
	}
	wantState(t, m, StateInit)
	wantTimer(t, m, now.Add(NakHoldoff))
	s := only[Send](t, m.Handle(now.Add(NakHoldoff), TimerFired{}))
	if s.Kind != SendDiscover || s.XID == d.XID {
		t.Fatalf("after hold-off: %+v", s)
	}
}

func TestRenewAtT1(t *testing.T) {
	l := hourLease(srvA)
	m := bound(t, MachineConfig{}, l)
	cur, _ := m.Lease()
	t1, t2 := cur.RenewAt(), cur.RebindAt()
	wantTimer(t, m, t1)
	s := only[Send](t, m.Handle(t1, TimerFired{}))
	want := Send{Kind: SendRequestRenewing, XID: s.XID, ClientIP: leaseA.Addr(), Dest: srvA}
	if s != want {
		t.Fatalf("renew = %+v, want %+v", s, want)
	}
	wantState(t, m, StateRenewing)
	// RFC 2131 4.4.5: half the time left to T2 (22m30s) = 11m15s, then 5m37.5s.
	wantTimer(t, m, t1.Add(11*time.Minute+15*time.Second))
	now := t1.Add(11*time.Minute + 15*time.Second)
	s2 := only[Send](t, m.Handle(now, TimerFired{}))
	if s2.Kind != SendRequestRenewing || s2.XID != s.XID || s2.Dest != srvA || s2.Elapsed != now.Sub(t1) {
		t.Fatalf("renew retransmission = %+v", s2)
	}
	wantTimer(t, m, now.Add(5*time.Minute+37*time.Second+500*time.Millisecond))
	// Keep losing replies: the delay halves down to 60 s and never passes T2.
	for n := 0; ; n++ {
		if n > 20 {
			t.Fatal("never reached T2")
		}
		next, _ := m.NextTimer()
		if d := next.Sub(now); next.Before(t2) && d < MinRenewRetransmit {
			t.Fatalf("retransmission after %v, below the 60 s floor", d)
		}
		if next.After(t2) {
			t.Fatalf("timer %v beyond T2 %v", next, t2)
		}
		now = next
		acts := m.Handle(now, TimerFired{})
		if now.Equal(t2) {
			r := only[Send](t, acts)
			if r.Kind != SendRequestRebinding || r.Dest.IsValid() || r.ClientIP != leaseA.Addr() {
				t.Fatalf("at T2: %+v", r)
			}
			wantState(t, m, StateRebinding)
			break
		}
		if only[Send](t, acts).Kind != SendRequestRenewing {
			t.Fatalf("before T2: %+v", acts)
		}
	}
}

func TestRenewAck(t *testing.T) {
	l := hourLease(srvA)
	m := bound(t, MachineConfig{}, l)
	cur, _ := m.Lease()
	s := only[Send](t, m.Handle(cur.RenewAt(), TimerFired{}))
	// An ACK from a stranger in RENEWING is ignored.
	lb := l
	lb.Server = srvB
	if acts := m.Handle(cur.RenewAt(), Received{Reply{Type: ReplyAck, XID: s.XID, Server: srvB, Lease: lb}}); acts != nil {
		t.Fatalf("stranger's ack gave %+v", acts)
	}
	at := cur.RenewAt().Add(time.Second)
	acts := m.Handle(at, Received{Reply{Type: ReplyAck, XID: s.XID, Server: srvA, Lease: l}})
	wl := l
	wl.Start = cur.RenewAt()
	if want := []Action{ApplyLease{wl}, Report{Event{Renewed, wl}}}; !reflect.DeepEqual(acts, want) {
		t.Fatalf("renew ack = %+v, want %+v", acts, want)
	}
	wantState(t, m, StateBound)
	wantTimer(t, m, wl.RenewAt())
}

func TestRenewNak(t *testing.T) {
	m := bound(t, MachineConfig{}, hourLease(srvA))
	cur, _ := m.Lease()
	s := only[Send](t, m.Handle(cur.RenewAt(), TimerFired{}))
	acts := m.Handle(cur.RenewAt(), Received{Reply{Type: ReplyNak, XID: s.XID, Server: srvA}})
	if len(acts) != 3 || acts[0] != (RemoveLease{cur}) || acts[1] != (Report{Event{Lost, cur}}) {
		t.Fatalf("nak actions = %+v", acts)
	}
	if d := only[Send](t, acts); d.Kind != SendDiscover {
		t.Fatalf("after nak: %+v", d)
	}
	if _, ok := m.Lease(); ok {
		t.Fatal("lease kept after NAK")
	}
	wantState(t, m, StateSelecting)
}

func TestRebindServerChange(t *testing.T) {
	m := bound(t, MachineConfig{}, hourLease(srvA))
	cur, _ := m.Lease()
	only[Send](t, m.Handle(cur.RenewAt(), TimerFired{}))
	r := only[Send](t, m.Handle(cur.RebindAt(), TimerFired{}))
	if r.Kind != SendRequestRebinding || r.Dest.IsValid() || r.ServerID.IsValid() {
		t.Fatalf("rebind = %+v", r)
	}
	// RFC 2131 4.4.5: half the time to expiry (7m30s) = 3m45s.
	wantTimer(t, m, cur.RebindAt().Add(3*time.Minute+45*time.Second))
	lb := hourLease(srvB)
	at := cur.RebindAt().Add(2 * time.Second)
	acts := m.Handle(at, Received{Reply{Type: ReplyAck, XID: r.XID, Server: srvB, Lease: lb}})
	wl := lb
	wl.Start = cur.RebindAt()
	if want := []Action{ApplyLease{wl}, Report{Event{Renewed, wl}}}; !reflect.DeepEqual(acts, want) {
		t.Fatalf("rebind ack = %+v, want %+v", acts, want)
	}
	// The next renewal goes to the new server.
	s := only[Send](t, m.Handle(wl.RenewAt(), TimerFired{}))
	if s.Dest != srvB {
		t.Fatalf("renewal after server change goes to %v", s.Dest)
	}
}

func TestRebindNewAddress(t *testing.T) {
	m := bound(t, MachineConfig{}, hourLease(srvA))
	cur, _ := m.Lease()
	r := only[Send](t, m.Handle(cur.RebindAt(), TimerFired{})) // T1 and T2 both passed
	if r.Kind != SendRequestRebinding {
		t.Fatalf("late timer: %+v", r)
	}
	nl := hourLease(srvB)
	nl.Addr = netip.MustParsePrefix("198.18.10.7/24")
	acts := m.Handle(cur.RebindAt(), Received{Reply{Type: ReplyAck, XID: r.XID, Server: srvB, Lease: nl}})
	nl.Start = cur.RebindAt()
	if want := []Action{RemoveLease{cur}, ApplyLease{nl}, Report{Event{Bound, nl}}}; !reflect.DeepEqual(acts, want) {
		t.Fatalf("new address = %+v, want %+v", acts, want)
	}
}

func TestExpiry(t *testing.T) {
	m := bound(t, MachineConfig{}, hourLease(srvA))
	cur, _ := m.Lease()
	only[Send](t, m.Handle(cur.RenewAt(), TimerFired{}))
	only[Send](t, m.Handle(cur.RebindAt(), TimerFired{}))
	now := cur.RebindAt()
	for {
		next, _ := m.NextTimer()
		if next.After(cur.Expiry()) {
			t.Fatalf("timer %v beyond expiry %v", next, cur.Expiry())
		}
		now = next
		acts := m.Handle(now, TimerFired{})
		if !now.Equal(cur.Expiry()) {
			if only[Send](t, acts).Kind != SendRequestRebinding {
				t.Fatalf("before expiry: %+v", acts)
			}
			continue
		}
		if len(acts) != 3 || acts[0] != (RemoveLease{cur}) || acts[1] != (Report{Event{Expired, cur}}) ||
			only[Send](t, acts).Kind != SendDiscover {
			t.Fatalf("expiry actions = %+v", acts)
		}
		break
	}
	wantState(t, m, StateSelecting)
	if _, ok := m.Lease(); ok {
		t.Fatal("lease kept after expiry")
	}
}

func linkBounce(t *testing.T) (*Machine, Lease, Send, time.Time) {
	t.Helper()
	m := bound(t, MachineConfig{}, hourLease(srvA))
	cur, _ := m.Lease()
	down := t0.Add(10 * time.Minute)
	acts := m.Handle(down, LinkDown{})
	if want := []Action{RemoveLease{cur}, Report{Event{Lost, cur}}}; !reflect.DeepEqual(acts, want) {
		t.Fatalf("link down = %+v, want %+v", acts, want)
	}
	wantState(t, m, StateInitReboot)
	wantTimer(t, m, cur.Expiry())
	up := down.Add(time.Minute)
	s := only[Send](t, m.Handle(up, LinkUp{}))
	want := Send{Kind: SendRequestInitReboot, XID: s.XID, RequestedIP: leaseA.Addr()}
	if s != want {
		t.Fatalf("init-reboot = %+v, want %+v", s, want)
	}
	wantState(t, m, StateRebooting)
	return m, cur, s, up
}

func TestInitRebootAccepted(t *testing.T) {
	m, cur, s, up := linkBounce(t)
	acts := m.Handle(up, Received{Reply{Type: ReplyAck, XID: s.XID, Server: srvA, Lease: hourLease(srvA)}})
	wl := hourLease(srvA)
	wl.Start = up
	if want := []Action{ApplyLease{wl}, Report{Event{Bound, wl}}}; !reflect.DeepEqual(acts, want) {
		t.Fatalf("reboot ack = %+v, want %+v (old %+v)", acts, want, cur)
	}
	wantState(t, m, StateBound)
}

func TestInitRebootNaked(t *testing.T) {
	m, _, s, up := linkBounce(t)
	acts := m.Handle(up, Received{Reply{Type: ReplyNak, XID: s.XID, Server: srvB}})
	none[ApplyLease](t, acts)
	none[RemoveLease](t, acts) // already removed at link down
	if d := only[Send](t, acts); d.Kind != SendDiscover {
		t.Fatalf("after nak: %+v", acts)
	}
	if _, ok := m.Lease(); ok {
		t.Fatal("previous lease kept after NAK")
	}
	wantState(t, m, StateSelecting)
}

func TestInitRebootNoAnswer(t *testing.T) {
	m, _, s, _ := linkBounce(t)
	for i := 0; i < DefaultRebootRetries; i++ {
		now, _ := m.NextTimer()
		r := only[Send](t, m.Handle(now, TimerFired{}))
		if r.Kind != SendRequestInitReboot || r.XID != s.XID {
			t.Fatalf("retransmission %d = %+v", i, r)
		}
	}
	now, _ := m.NextTimer()
	if d := only[Send](t, m.Handle(now, TimerFired{})); d.Kind != SendDiscover {
		t.Fatalf("after giving up: %+v", d)
	}
	if _, ok := m.Lease(); ok {
		t.Fatal("previous lease kept")
	}
}

func TestInitRebootExpiredWhileDown(t *testing.T) {
	m := bound(t, MachineConfig{}, hourLease(srvA))
	cur, _ := m.Lease()
	m.Handle(t0.Add(time.Minute), LinkDown{})
	if acts := m.Handle(cur.Expiry(), TimerFired{}); acts != nil {
		t.Fatalf("expiry while down gave %+v", acts)
	}
	wantState(t, m, StateInit)
	if _, ok := m.NextTimer(); ok {
		t.Fatal("timer armed while down")
	}
	if d := only[Send](t, m.Handle(cur.Expiry().Add(time.Minute), LinkUp{})); d.Kind != SendDiscover {
		t.Fatalf("link up: %+v", d)
	}
}

func TestLinkDownWhileSelecting(t *testing.T) {
	m := NewMachine(MachineConfig{Rand: &seqRand{}})
	m.Handle(t0, LinkUp{})
	if acts := m.Handle(t0, LinkDown{}); acts != nil {
		t.Fatalf("link down gave %+v", acts)
	}
	wantState(t, m, StateInit)
	if _, ok := m.NextTimer(); ok {
		t.Fatal("retransmission armed while down")
	}
	if acts := m.Handle(t0, LinkUp{}); only[Send](t, acts).Kind != SendDiscover {
		t.Fatalf("link up: %+v", acts)
	}
	if acts := m.Handle(t0, LinkUp{}); acts != nil {
		t.Fatalf("second link up gave %+v", acts)
	}
}

func TestRelease(t *testing.T) {
	m := bound(t, MachineConfig{}, hourLease(srvA))
	cur, _ := m.Lease()
	acts := m.Handle(t0.Add(time.Minute), Release{})
	s := only[Send](t, acts)
	want := Send{Kind: SendRelease, XID: s.XID, ClientIP: leaseA.Addr(), ServerID: srvA, Dest: srvA}
	if s != want {
		t.Fatalf("release = %+v, want %+v", s, want)
	}
	if want := []Action{s, RemoveLease{cur}, Report{Event{Released, cur}}}; !reflect.DeepEqual(acts, want) {
		t.Fatalf("release actions = %+v", acts)
	}
	wantState(t, m, StateStopped)
	for _, in := range []Input{LinkUp{}, LinkDown{}, TimerFired{}, Release{}} {
		if acts := m.Handle(t0.Add(2*time.Hour), in); acts != nil {
			t.Fatalf("%T after release gave %+v", in, acts)
		}
	}
}

func TestReleaseWithoutLease(t *testing.T) {
	m := NewMachine(MachineConfig{Rand: &seqRand{}})
	m.Handle(t0, LinkUp{})
	if acts := m.Handle(t0, Release{}); acts != nil {
		t.Fatalf("release without lease gave %+v", acts)
	}
	wantState(t, m, StateStopped)
}

func TestT1Override(t *testing.T) {
	m := bound(t, MachineConfig{T1Override: 5 * time.Second}, hourLease(srvA))
	cur, _ := m.Lease()
	if cur.T1 != 5*time.Second {
		t.Fatalf("T1 = %v", cur.T1)
	}
	wantTimer(t, m, cur.Start.Add(5*time.Second))
	// An override at or beyond T2 is ignored.
	m = bound(t, MachineConfig{T1Override: time.Hour}, hourLease(srvA))
	if cur, _ := m.Lease(); cur.T1 != 30*time.Minute {
		t.Fatalf("T1 = %v with override beyond T2", cur.T1)
	}
}

func TestInfiniteLease(t *testing.T) {
	l := Lease{Addr: leaseA, Router: routerA, Server: srvA, LeaseTime: InfiniteLease}
	m := bound(t, MachineConfig{}, l)
	if _, ok := m.NextTimer(); ok {
		t.Fatal("timer armed for an infinite lease")
	}
	if acts := m.Handle(t0.Add(100000*time.Hour), TimerFired{}); acts != nil {
		t.Fatalf("timer gave %+v", acts)
	}
}

func TestStrings(t *testing.T) {
	seen := map[string]bool{}
	for s := StateInit; s <= StateStopped+1; s++ {
		seen[s.String()] = true
	}
	for k := SendDiscover; k <= SendRelease+1; k++ {
		seen[k.String()] = true
	}
	for k := Bound; k <= Lost+1; k++ {
		seen[k.String()] = true
	}
	if len(seen) != 10+7+6 {
		t.Fatalf("names not distinct: %v", seen)
	}
}
