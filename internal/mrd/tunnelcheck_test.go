package mrd

import (
	"testing"
	"time"
)

func TestTunnelCheck(t *testing.T) {
	const p = 100 * time.Millisecond
	t0 := time.Unix(1000, 0)
	var c tunnelCheck
	if _, ok := c.deadline(); ok {
		t.Fatal("deadline before start")
	}
	c.start(t0, p, time.Second, 10, 10)
	now := t0
	var rx, tx uint64 = 10, 10
	step := func(drx, dtx uint64) tunnelVerdict {
		t.Helper()
		dl, ok := c.deadline()
		if !ok || dl != now.Add(p) {
			t.Fatalf("deadline %v %v, want %v", dl, ok, now.Add(p))
		}
		now = dl
		rx += drx
		tx += dtx
		v := c.tick(now, rx, tx)
		if v.probe {
			tx++ // the probe goes into the tunnel
		}
		return v
	}
	// Idle: nothing.
	for range 5 {
		if v := step(0, 0); v != (tunnelVerdict{}) {
			t.Fatalf("idle tunnel: %+v", v)
		}
	}
	// Two-way traffic: nothing.
	for range 5 {
		if v := step(3, 4); v != (tunnelVerdict{}) {
			t.Fatalf("two-way traffic: %+v", v)
		}
	}
	// Traffic out, nothing back: three probes, one per period, then lost.
	lossStart := now
	for i := range tunnelProbes {
		if v := step(0, 5); !v.probe || v.lost {
			t.Fatalf("silent period %d: %+v, want a probe", i, v)
		}
	}
	v := step(0, 5)
	if !v.lost || v.probe || v.silent != now.Sub(lossStart) {
		t.Fatalf("after %d probes: %+v, want lost after %v", tunnelProbes, v, now.Sub(lossStart))
	}
	// Reported once; quiet while it stays silent.
	for range 5 {
		if v := step(0, 5); v != (tunnelVerdict{}) {
			t.Fatalf("after the loss: %+v", v)
		}
	}
	// Something received: recovered, and the check runs again.
	if v := step(1, 1); !v.recovered {
		t.Fatalf("traffic back: %+v", v)
	}
	if v := step(0, 1); !v.probe {
		t.Fatalf("silent again: %+v", v)
	}
	// A reply to the probe confirms the path.
	if v := step(1, 0); v.probe || v.lost || v.recovered {
		t.Fatalf("probe answered: %+v", v)
	}
	if v := step(0, 0); v != (tunnelVerdict{}) {
		t.Fatalf("idle after an answered probe: %+v", v)
	}
	// Lost again and silent for the quiet time (1 s): probing resumes.
	for range tunnelProbes + 1 {
		step(0, 5)
	}
	for range 9 {
		if v := step(0, 5); v != (tunnelVerdict{}) {
			t.Fatalf("inside the quiet time: %+v", v)
		}
	}
	if v := step(0, 5); !v.probe {
		t.Fatalf("still silent after the quiet time: %+v, want a probe", v)
	}
	if c.probes != 2*tunnelProbes+2 || c.losses != 2 {
		t.Errorf("totals: %d probes, %d losses", c.probes, c.losses)
	}
	// A new tunnel starts afresh; period 0 and stop turn it off.
	c.start(now, 0, time.Second, rx, tx)
	if _, ok := c.deadline(); ok {
		t.Fatal("running with period 0")
	}
	if v := c.tick(now.Add(time.Hour), rx, tx+100); v != (tunnelVerdict{}) {
		t.Fatalf("stopped check ticked: %+v", v)
	}
	c.start(now, p, time.Second, rx, tx)
	c.stop()
	if _, ok := c.deadline(); ok {
		t.Fatal("running after stop")
	}
}
