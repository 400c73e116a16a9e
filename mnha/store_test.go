package mnha

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestNTPTime(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want uint64
	}{
		{time.Unix(0, 0), 2208988800 << 32},
		{time.Unix(0, 500_000_000), 2208988800<<32 | 0x80000000},
		{time.Unix(1, 250_000_000), 2208988801<<32 | 0x40000000},
		{time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), 0},
		// Era 1 starts 2036-02-07 06:28:16 UTC: seconds wrap to 0.
		{time.Date(2036, 2, 7, 6, 28, 16, 0, time.UTC), 0},
		{time.Date(2036, 2, 7, 6, 28, 15, 0, time.UTC), 0xFFFFFFFF << 32},
	} {
		if got := NTPTime(tc.t); got != tc.want {
			t.Errorf("NTPTime(%v) = %#x, want %#x", tc.t, got, tc.want)
		}
	}
	for _, d := range []time.Duration{0, time.Second, 7 * time.Second, -7 * time.Second, 1500 * time.Millisecond, -time.Hour} {
		if got := ntpToDuration(ntpDuration(d)); (got - d).Abs() > time.Nanosecond {
			t.Errorf("round trip of %v gives %v", d, got)
		}
	}
	if ntpDuration(7*time.Second) != 7<<32 {
		t.Errorf("ntpDuration(7s) = %#x", ntpDuration(7*time.Second))
	}
}

func TestReplayAcrossEraRollover(t *testing.T) {
	// Era 0's last second to era 1's first: serial comparison keeps the
	// later timestamp greater and inside the window.
	now := time.Date(2036, 2, 7, 6, 28, 15, 0, time.UTC)
	a := newAuth(t, Config{}, testSA())
	key, spi, nai := testSA().Key, testSA().SPI, testSA().NAI
	first := craft(t, key, spi, nai, ptr(NTPTime(now)), homeAddr, homeAddr)
	if d := a.Verify(now, &first); d.Reason != ReasonAccepted {
		t.Fatalf("era 0: %v", d.Reason)
	}
	later := now.Add(2 * time.Second)
	second := craft(t, key, spi, nai, ptr(NTPTime(later)), homeAddr, homeAddr)
	if d := a.Verify(later, &second); d.Reason != ReasonAccepted {
		t.Fatalf("era 1: %v", d.Reason)
	}
	if d := a.Verify(later, &first); d.Reason != ReasonTimestampReplay {
		t.Fatalf("era 0 replayed in era 1: %v", d.Reason)
	}
}

func TestStore(t *testing.T) {
	good := testSA()
	for _, tc := range []struct {
		name string
		mod  func(*SA)
	}{
		{"reserved SPI", func(s *SA) { s.SPI = 255 }},
		{"short key", func(s *SA) { s.Key = s.Key[:15] }},
		{"empty NAI", func(s *SA) { s.NAI = "" }},
		{"long NAI", func(s *SA) { s.NAI = string(make([]byte, 255)) }},
		{"IPv4 home address", func(s *SA) { s.HomeAddress = netip.MustParseAddr("192.0.2.5") }},
		{"link-local home address", func(s *SA) { s.HomeAddress = netip.MustParseAddr("fe80::1") }},
		{"no home address", func(s *SA) { s.HomeAddress = netip.Addr{} }},
	} {
		sa := good
		tc.mod(&sa)
		if _, err := NewStore(sa); !errors.Is(err, ErrBadSA) {
			t.Errorf("%s: %v, want ErrBadSA", tc.name, err)
		}
	}
	st, err := NewStore(good, otherSA())
	if err != nil {
		t.Fatal(err)
	}
	dupSPI := otherSA()
	dupSPI.NAI, dupSPI.HomeAddress = "x@example.net", netip.MustParseAddr("2001:db8:1::300")
	dupSPI.SPI = good.SPI
	dupHoA := dupSPI
	dupHoA.SPI, dupHoA.HomeAddress = 0x5000, good.HomeAddress
	for _, sa := range []SA{good, dupSPI, dupHoA} {
		if err := st.Add(sa); !errors.Is(err, ErrDuplicate) {
			t.Errorf("Add(%s, %d, %v): %v, want ErrDuplicate", sa.NAI, sa.SPI, sa.HomeAddress, err)
		}
	}
	got, ok := st.BySPI(good.SPI)
	if !ok || got.NAI != good.NAI {
		t.Fatalf("BySPI: %+v %v", got, ok)
	}
	got.Key[0] ^= 0xFF // the Store keeps its own copy
	if again, _ := st.ByNAI(good.NAI); again.Key[0] != good.Key[0] {
		t.Error("ByNAI returned the Store's key slice")
	}
	if want := []string{good.NAI, otherSA().NAI}; !slices.Equal(st.NAIs(), want) || st.Len() != 2 {
		t.Errorf("NAIs %v Len %d", st.NAIs(), st.Len())
	}
	if !st.Remove(good.NAI) || st.Remove(good.NAI) {
		t.Error("Remove")
	}
	if _, ok := st.BySPI(good.SPI); ok {
		t.Error("SPI still indexed after Remove")
	}
	if _, err := NewAuthenticator(nil, Config{}); !errors.Is(err, ErrBadConfig) {
		t.Error("nil store accepted")
	}
	if _, err := NewAuthenticator(st, Config{Window: -time.Second}); !errors.Is(err, ErrBadConfig) {
		t.Error("negative window accepted")
	}
	if _, err := NewSigner(SignerConfig{SA: good, History: -1}); !errors.Is(err, ErrBadConfig) {
		t.Error("negative history accepted")
	}
}

func TestSignerTimestamps(t *testing.T) {
	clk := &fakeClock{t0}
	s := newSigner(t, testSA(), clk)
	var prev uint64
	lows := map[uint64]bool{}
	for i := 0; i < 50; i++ {
		req := sendBU(t, s, homeBU(uint16(i)))
		ts := timestampOf(t, req.BU.Options)
		if i > 0 && ts <= prev {
			t.Fatalf("timestamp %d %#x not above %#x (clock did not move)", i, ts, prev)
		}
		if d := int64(ts - NTPTime(t0)); d < 0 || d >= 1<<RandomBits {
			t.Fatalf("timestamp %#x is %d units from the clock", ts, d)
		}
		lows[ts&randomMask] = true
		prev = ts
	}
	if len(lows) < 40 {
		t.Errorf("only %d distinct random low parts in 50 timestamps", len(lows))
	}
	// The clock going back does not make timestamps go back.
	clk.advance(-time.Minute)
	if ts := timestampOf(t, sendBU(t, s, homeBU(99)).BU.Options); ts <= prev {
		t.Errorf("after the clock stepped back: %#x <= %#x", ts, prev)
	}
}
