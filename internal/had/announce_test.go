package had

import (
	"net/netip"
	"testing"
	"time"
)

func TestAnnouncerSchedule(t *testing.T) {
	a := newAnnouncer()
	t0 := time.Unix(1000, 0)
	h1, h2, h3 := netip.MustParseAddr("2001:db8:1::1"), netip.MustParseAddr("2001:db8:1::2"), netip.MustParseAddr("2001:db8:1::3")
	a.start(t0, h1, netip.Addr{}, true)
	sent := map[netip.Addr][]time.Duration{}
	step := func(now time.Time) {
		a.due(now, func(x announcement) { sent[x.hoa] = append(sent[x.hoa], now.Sub(t0)) })
	}
	for ms := 0; ms <= 5000; ms += 100 {
		now := t0.Add(time.Duration(ms) * time.Millisecond)
		if ms == 300 {
			a.start(now, h2, netip.MustParseAddr("192.0.2.2"), false)
		}
		if ms == 1500 {
			a.stop(h2) // binding gone: its third announcement must not leave
			a.start(now, h3, netip.Addr{}, true)
			a.start(now, h3, netip.Addr{}, true) // replaced at once: still three, not six
		}
		step(now)
	}
	want := map[netip.Addr][]time.Duration{
		h1: {0, time.Second, 2 * time.Second},
		h2: {300 * time.Millisecond, 1300 * time.Millisecond},
		h3: {1500 * time.Millisecond, 2500 * time.Millisecond, 3500 * time.Millisecond},
	}
	for h, w := range want {
		if got := sent[h]; len(got) != len(w) || (len(got) > 0 && (got[0] != w[0] || got[len(got)-1] != w[len(w)-1])) {
			t.Errorf("%v announced at %v, want %v", h, got, w)
		}
	}
	if _, ok := a.next(); ok || len(a.live) != 0 {
		t.Errorf("announcer not empty at the end: %d live", len(a.live))
	}
}
