package had

import (
	"bytes"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestLimiterPerSourceAndTotal(t *testing.T) {
	l := newLimiter(5, 100)
	now := time.Unix(0, 0)
	src := netip.MustParseAddr("2001:db8:f2::a")
	n := 0
	for i := 0; i < 50; i++ {
		if l.allow(now, src, false) {
			n++
		}
	}
	if n != 10 { // burst = 2 × rate
		t.Fatalf("one source got %d of 50 at once, want the burst of 10", n)
	}
	if l.droppedSource != 40 {
		t.Fatalf("droppedSource = %d", l.droppedSource)
	}
	// Refill: after a second, five more.
	n = 0
	for i := 0; i < 50; i++ {
		if l.allow(now.Add(time.Second), src, false) {
			n++
		}
	}
	if n != 5 {
		t.Fatalf("after 1 s: %d allowed, want 5", n)
	}
}

// A flood from many spoofed sources uses up the shared budget, but a
// registered router's refreshes still get through.
func TestLimiterFloodDoesNotStarveRegistered(t *testing.T) {
	l := newLimiter(20, 1000)
	now := time.Unix(0, 0)
	legit := netip.MustParseAddr("2001:db8:f2::a")
	legitOK := 0
	for ms := 0; ms < 10000; ms++ { // 10 s
		t0 := now.Add(time.Duration(ms) * time.Millisecond)
		for j := 0; j < 10; j++ { // 10,000 spoofed BUs a second
			b := [16]byte{0x20, 0x01, 0x0d, 0xb8, 0xee}
			b[12], b[13], b[14], b[15] = byte(ms>>8), byte(ms), byte(j), 1
			l.allow(t0, netip.AddrFrom16(b), false)
		}
		if ms%1000 == 0 && l.allow(t0, legit, true) {
			legitOK++
		}
	}
	if legitOK != 10 {
		t.Fatalf("registered router's refreshes allowed %d of 10 under a flood", legitOK)
	}
	if l.droppedTotal < 80000 {
		t.Fatalf("flood mostly allowed: droppedTotal = %d", l.droppedTotal)
	}
	if len(l.perSrc) > maxSources {
		t.Fatalf("per-source table grew to %d", len(l.perSrc))
	}
}

func TestRateLogBoundedUnderRandomSources(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, nil))
	r := newRateLog(10 * time.Second)
	for i := 0; i < 100000; i++ {
		b := [16]byte{0x20, 0x01, 0x0d, 0xb8}
		b[12], b[13], b[14] = byte(i>>16), byte(i>>8), byte(i)
		r.log(l, netip.AddrFrom16(b), "dropped")
	}
	if n := strings.Count(buf.String(), "\n"); n > globalBurst+globalRate {
		t.Fatalf("%d log lines for a burst of 100,000 packets from distinct sources", n)
	}
}
