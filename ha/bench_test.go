package ha

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/mh"
)

// fleetConfig configures n mobile routers, each with one /64 mobile
// network prefix inside 2001:db8:8000::/33.
func fleetConfig(n int) Config {
	cfg := Config{
		Address:    netip.MustParseAddr("2001:db8:0:1::1"),
		HomePrefix: netip.MustParsePrefix("2001:db8:0:1::/64"),
		NEMO:       true,
		IPv4Pool:   netip.MustParsePrefix("198.18.0.0/15"),
	}
	cfg.Routers = make([]RouterConfig, n)
	for i := range cfg.Routers {
		cfg.Routers[i] = RouterConfig{HomeAddress: fleetHoA(i), Prefixes: []netip.Prefix{fleetMNP(i)}}
	}
	return cfg
}

func fleetHoA(i int) netip.Addr {
	a := netip.MustParseAddr("2001:db8:0:1::").As16()
	a[12], a[13], a[14], a[15] = 1, byte(i>>16), byte(i>>8), byte(i)
	return netip.AddrFrom16(a)
}

func fleetMNP(i int) netip.Prefix {
	a := netip.MustParseAddr("2001:db8:8000::").As16()
	a[5], a[6], a[7] = byte(i>>16), byte(i>>8), byte(i)
	return netip.PrefixFrom(netip.AddrFrom16(a), 64)
}

func fleetCoA(i, gen int) netip.Addr {
	a := netip.MustParseAddr("2001:db8:ff00::").As16()
	a[5], a[6], a[7], a[15] = byte(i>>16), byte(i>>8), byte(i), byte(gen)
	return netip.AddrFrom16(a)
}

func fleetBU(i, gen int, seq uint16) BURequest {
	hoa := fleetHoA(i)
	coa := fleetCoA(i, gen)
	return BURequest{Src: coa, Dst: netip.MustParseAddr("2001:db8:0:1::1"), HomeAddr: hoa, HadHAO: true,
		BU: mh.BindingUpdate{Sequence: seq, Flags: mrReg, Lifetime: 3600 * time.Second,
			Options: []mh.Option{mh.AlternateCareOfAddress{Addr: coa}, mh.MobileNetworkPrefix{Prefix: fleetMNP(i)}}}}
}

func fleet(b *testing.B, n int) *Core {
	b.Helper()
	c, err := New(fleetConfig(n))
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i++ {
		// Distinct deadlines, one microsecond apart.
		acts := c.HandleBU(t0.Add(time.Duration(i)*time.Microsecond), fleetBU(i, 0, 1))
		if ba, ok := find[SendBA](acts); !ok || ba.BA.Status != 0 {
			b.Fatalf("registration %d: %#v", i, acts)
		}
	}
	return c
}

// BenchmarkHandleBU: a refresh (same care-of address, explicit prefix)
// of one binding among 100,000.
func BenchmarkHandleBU(b *testing.B) {
	const n = 100_000
	c := fleet(b, n)
	reqs := make([]BURequest, 1024)
	for i := range reqs {
		reqs[i] = fleetBU(i*97%n, 0, 0)
	}
	seqs := make([]uint16, n)
	for i := range seqs {
		seqs[i] = 1
	}
	b.ReportAllocs()
	b.ResetTimer()
	now := t0
	for i := 0; i < b.N; i++ {
		req := reqs[i%len(reqs)]
		k := i % len(reqs) * 97 % n
		seqs[k]++
		req.BU.Sequence = seqs[k]
		now = now.Add(time.Microsecond)
		if acts := c.HandleBU(now, req); len(acts) != 2 {
			b.Fatalf("refresh: %#v", acts)
		}
	}
}

// BenchmarkHandleBUMove: a move to a new care-of address among 100,000.
func BenchmarkHandleBUMove(b *testing.B) {
	const n = 100_000
	c := fleet(b, n)
	b.ReportAllocs()
	b.ResetTimer()
	now := t0
	for i := 0; i < b.N; i++ {
		k := i % n
		req := fleetBU(k, i/n+1, uint16(i/n+2))
		now = now.Add(time.Microsecond)
		if acts := c.HandleBU(now, req); len(acts) != 3 {
			b.Fatalf("move: %#v", acts)
		}
	}
}

// BenchmarkFirstRegistration: new bindings into a growing cache, without
// DAD.
func BenchmarkFirstRegistration(b *testing.B) {
	const n = 100_000
	cfg := fleetConfig(n)
	c, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	reqs := make([]BURequest, n)
	for i := range reqs {
		reqs[i] = fleetBU(i, 0, 1)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % n
		if k == 0 && i > 0 {
			b.StopTimer()
			c, _ = New(cfg)
			b.StartTimer()
		}
		if acts := c.HandleBU(t0, reqs[k]); len(acts) != 3 {
			b.Fatalf("registration: %#v", acts)
		}
	}
}

// BenchmarkTickExpiry: expiring bindings one by one (each Tick removes
// one binding from a cache of up to 100,000).
func BenchmarkTickExpiry(b *testing.B) {
	const n = 100_000
	c := fleet(b, n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if c.Len() == 0 {
			b.StopTimer()
			c = fleet(b, n)
			b.StartTimer()
		}
		d, _ := c.NextDeadline()
		c.Tick(d)
	}
}

// BenchmarkMemoryPerBinding reports the heap bytes the core holds per
// binding at 100,000 bindings with one mobile network prefix each
// (configuration excluded). The goal of issue 9 is at most 2 KiB.
func BenchmarkMemoryPerBinding(b *testing.B) {
	const n = 100_000
	var perBinding float64
	for i := 0; i < b.N; i++ {
		c, err := New(fleetConfig(n))
		if err != nil {
			b.Fatal(err)
		}
		reqs := make([]BURequest, n)
		for i := range reqs {
			reqs[i] = fleetBU(i, 0, 1)
		}
		before := heapInUse()
		for i := 0; i < n; i++ {
			c.HandleBU(t0, reqs[i])
		}
		after := heapInUse()
		perBinding = float64(after-before) / n
		runtime.KeepAlive(c)
		runtime.KeepAlive(reqs)
	}
	b.ReportMetric(perBinding, "bytes/binding")
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
