package mnha

import (
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/ha"
)

// signedBUs returns n signed BU requests 10 ms apart, starting at t0.
func signedBUs(t testing.TB, n int) []ha.BURequest {
	clk := &fakeClock{t0}
	s := newSigner(t, testSA(), clk)
	reqs := make([]ha.BURequest, n)
	for i := range reqs {
		reqs[i] = sendBU(t, s, homeBU(uint16(i)))
		clk.advance(10 * time.Millisecond)
	}
	return reqs
}

func TestVerifyDoesNotAllocate(t *testing.T) {
	const runs = 200
	reqs := signedBUs(t, runs+1)
	a := newAuth(t, Config{}, testSA(), otherSA())
	i := 0
	allocs := testing.AllocsPerRun(runs, func() {
		now := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		if d := a.Verify(now, &reqs[i]); d.Verdict != ha.AuthAccept {
			t.Fatalf("BU %d: %+v", i, d)
		}
		i++
	})
	if allocs != 0 {
		t.Errorf("Verify on a valid BU: %v allocations, want 0", allocs)
	}
	// Refusals do not allocate either (146 here).
	bad := reqs[0]
	bad.Raw = append([]byte(nil), bad.Raw...)
	bad.Raw[len(bad.Raw)-1] ^= 1
	if n := testing.AllocsPerRun(runs, func() { a.Verify(t0, &bad) }); n != 0 {
		t.Errorf("Verify on a forged BU: %v allocations", n)
	}
}

func TestCheckWithoutTimestampDoesNotAllocate(t *testing.T) {
	key, spi, nai := testSA().Key, testSA().SPI, testSA().NAI
	req := craft(t, key, spi, nai, nil, homeAddr, homeAddr)
	a := newAuth(t, Config{}, testSA())
	allocs := testing.AllocsPerRun(100, func() {
		if r := a.Check(t0, &req); r.Verdict != ha.AuthAccept {
			t.Fatalf("%+v", r)
		}
	})
	if allocs != 0 {
		t.Errorf("Check on a valid BU without a timestamp: %v allocations, want 0", allocs)
	}
}

// BenchmarkVerify is the allocation-free check of a valid BU.
func BenchmarkVerify(b *testing.B) {
	benchAuth(b, func(a *Authenticator, now time.Time, req *ha.BURequest) ha.Verdict { return a.Verify(now, req).Verdict })
}

// BenchmarkCheck is Verify plus the AckOptions (MN-ID and the echoed
// timestamp) that ha.AuthResult carries.
func BenchmarkCheck(b *testing.B) {
	benchAuth(b, func(a *Authenticator, now time.Time, req *ha.BURequest) ha.Verdict { return a.Check(now, req).Verdict })
}

func benchAuth(b *testing.B, f func(*Authenticator, time.Time, *ha.BURequest) ha.Verdict) {
	const n = 1024
	reqs := signedBUs(b, n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%n == 0 {
			// A fresh store each lap so the timestamps are new again.
			b.StopTimer()
			a := newAuth(b, Config{}, testSA())
			b.StartTimer()
			benchA = a
		}
		j := i % n
		if v := f(benchA, t0.Add(time.Duration(j)*10*time.Millisecond), &reqs[j]); v != ha.AuthAccept {
			b.Fatalf("BU %d: verdict %d", j, v)
		}
	}
}

var benchA *Authenticator
