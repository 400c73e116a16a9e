package mrouter

import (
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/mh"
)

// BenchmarkUplinkUpdateToSendBU measures the core's share of the handover
// budget (issue 9: BU on the wire within 5 ms of the address being usable):
// one UplinkUpdate that makes a better uplink usable, up to the SendBU it
// returns. The clock advances a second per move so the rate limit never
// defers; the BA of each move is fed outside the timed region.
func BenchmarkUplinkUpdateToSendBU(b *testing.B) {
	c, err := New(baseConfig(), t0)
	if err != nil {
		b.Fatal(err)
	}
	now := t0
	c.UplinkUpdate(now, Uplink{Name: "wan", Priority: 10, Up: true, CoA6: coaWAN})
	c.HandleBA(now, BAInfo{From: ha1, BA: mh.BindingAck{Flags: mh.BAFlagR, Sequence: initSeq, Lifetime: 600 * time.Second}})
	lte := Uplink{Name: "lte", Priority: 20, CoA6: coaLTE}
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Second)
		lte.Up = !lte.Up
		acts := c.UplinkUpdate(now, lte)
		var bu SendBU
		found := false
		for _, a := range acts {
			if s, ok := a.(SendBU); ok {
				bu, found = s, true
			}
		}
		if !found {
			b.Fatalf("no SendBU: %v", acts)
		}
		b.StopTimer()
		c.HandleBA(now, BAInfo{From: ha1, BA: mh.BindingAck{Flags: mh.BAFlagR, Sequence: bu.BU.Sequence, Lifetime: 600 * time.Second}})
		b.StartTimer()
	}
}
