package mrd

import (
	"testing"
	"time"
)

func TestSignerClockHook(t *testing.T) {
	t.Setenv(TestClockOffsetEnv, "")
	if c, _, err := testSignerClock(); c != nil || err != nil {
		t.Fatalf("unset: clock %v err %v, want the real clock", c != nil, err)
	}
	t.Setenv(TestClockOffsetEnv, "-3h")
	c, off, err := testSignerClock()
	if err != nil || c == nil || off != -3*time.Hour {
		t.Fatalf("-3h: clock %v offset %v err %v", c != nil, off, err)
	}
	if d := time.Until(c()); d > -3*time.Hour+time.Minute || d < -3*time.Hour-time.Minute {
		t.Fatalf("-3h: the clock is %v off", d)
	}
	t.Setenv(TestClockOffsetEnv, "3 hours")
	if _, _, err := testSignerClock(); err == nil {
		t.Fatal("a malformed offset was accepted")
	}
}
