package mrd

import (
	"net/netip"
	"testing"
	"time"
)

func handoverState() *state {
	return &state{usable: map[netip.Addr]time.Time{}, firstBU: map[netip.Addr]time.Time{}}
}

// A move: the figures start when the care-of address became usable, and
// each address is measured once.
func TestHandoverFromUsable(t *testing.T) {
	s := handoverState()
	t0 := time.Unix(1000, 0)
	s.usable[coaFN2] = t0
	s.noteBU(t0.Add(2*time.Millisecond), coaFN2)
	s.noteBU(t0.Add(5*time.Millisecond), coaFN2) // a retransmission
	h := s.noteRegistered(t0.Add(9*time.Millisecond), coaFN2, "mr-fn2")
	if h == nil {
		t.Fatal("no handover recorded")
	}
	if h.Start != HandoverFromUsable || h.ToBUNs != int64(2*time.Millisecond) || h.ToBANs != int64(9*time.Millisecond) {
		t.Fatalf("handover %+v, want from %q, BU 2ms, BA 9ms", h, HandoverFromUsable)
	}
	s.noteBU(t0.Add(time.Minute), coaFN2)
	if h := s.noteRegistered(t0.Add(time.Minute), coaFN2, "mr-fn2"); h != nil {
		t.Fatalf("a refresh was measured as a handover: %+v", h)
	}
}

// Leaving home: the router stays at home while the home link works even
// with a care-of address usable, so the figures start when it left.
func TestHandoverFromLeavingHome(t *testing.T) {
	s := handoverState()
	t0 := time.Unix(1000, 0)
	s.usable[coaFN2] = t0
	s.leftHome = t0.Add(4 * time.Millisecond)
	s.noteBU(t0.Add(5*time.Millisecond), coaFN2)
	h := s.noteRegistered(t0.Add(time.Second), coaFN2, "mr-fn2")
	if h == nil {
		t.Fatal("no handover recorded")
	}
	if h.Start != HandoverFromLeftHome || h.ToBUNs != int64(time.Millisecond) || h.ToBANs != int64(996*time.Millisecond) {
		t.Fatalf("handover %+v, want from %q, BU 1ms, BA 996ms", h, HandoverFromLeftHome)
	}
	// Left home long before the address was usable: a plain move.
	a := netip.MustParseAddr("2001:db8:f3::a")
	s.usable[a] = t0.Add(time.Hour)
	s.noteBU(t0.Add(time.Hour+time.Millisecond), a)
	if h := s.noteRegistered(t0.Add(time.Hour+3*time.Millisecond), a, "mr-fn3"); h == nil || h.Start != HandoverFromUsable || h.ToBUNs != int64(time.Millisecond) {
		t.Fatalf("handover %+v, want from %q, BU 1ms", h, HandoverFromUsable)
	}
}
