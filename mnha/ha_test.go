package mnha

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/ha"
	"github.com/nemo-mobility/nemo/mh"
	"github.com/nemo-mobility/nemo/mrouter"
)

// craft builds a BU request by hand, independently of Signer: MN-ID nai
// (when not empty), a timestamp (when ts != nil), opts after them, then
// the MN-HA option with spi signed by mh.SignMNHA with key over coaAddr
// and macHoA. The request claims claimHoA in its Home Address option.
func craft(t testing.TB, key []byte, spi uint32, nai string, ts *uint64, macHoA, claimHoA netip.Addr, opts ...mh.Option) ha.BURequest {
	t.Helper()
	bu := homeBU(7)
	if nai != "" {
		bu.Options = append(bu.Options, mh.MobileNodeIdentifier{Subtype: mh.MNIDSubtypeNAI, Identifier: []byte(nai)})
	}
	if ts != nil {
		bu.Options = append(bu.Options, mh.ReplayProtection{Timestamp: *ts})
	}
	bu.Options = append(bu.Options, opts...)
	bu.Options = append(bu.Options, mh.Authentication{Subtype: mh.AuthSubtypeMNHA, SPI: spi, Data: make([]byte, mh.MNHAAuthLen)})
	b, err := mh.Marshal(bu)
	if err != nil {
		t.Fatal(err)
	}
	if err := mh.SignMNHA(key, coaAddr, macHoA, b); err != nil {
		t.Fatal(err)
	}
	m, err := mh.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return ha.BURequest{Src: coaAddr, Dst: haAddr, HomeAddr: claimHoA, HadHAO: true, BU: m.(mh.BindingUpdate), Raw: b}
}

func ptr(v uint64) *uint64 { return &v }

func TestSignedBUAcceptedAndBAVerified(t *testing.T) {
	clk := &fakeClock{t0}
	s := newSigner(t, testSA(), clk)
	a := newAuth(t, Config{}, testSA(), otherSA())
	req := sendBU(t, s, homeBU(1))

	// Cross-check with mh's own (independent, allocating) implementation.
	if err := mh.VerifyMNHA(testSA().Key, coaAddr, homeAddr, req.Raw); err != nil {
		t.Fatalf("mh.VerifyMNHA on the signed BU: %v", err)
	}
	r := a.Check(t0, &req)
	if r.Verdict != ha.AuthAccept || r.Identity != testSA().NAI {
		t.Fatalf("Check = %+v, want accept for %q", r, testSA().NAI)
	}
	sent := timestampOf(t, req.BU.Options)
	if len(r.AckOptions) != 2 || timestampOf(t, r.AckOptions) != sent {
		t.Fatalf("AckOptions %v, want MN-ID and the echo %#x", r.AckOptions, sent)
	}
	if id, ok := r.AckOptions[0].(mh.MobileNodeIdentifier); !ok || string(id.Identifier) != testSA().NAI {
		t.Fatalf("first AckOption %v, want the MN-ID", r.AckOptions[0])
	}
	info := answer(t, a, req, r, mh.StatusAccepted)
	if err := mh.VerifyMNHA(testSA().Key, coaAddr, homeAddr, info.Raw); err != nil {
		t.Fatalf("mh.VerifyMNHA on the signed BA: %v", err)
	}
	if err := s.VerifyBA(info); err != nil {
		t.Fatalf("VerifyBA: %v", err)
	}
	if c := a.Counters(); c[ReasonAccepted] != 1 {
		t.Errorf("counters %v", c)
	}
}

func TestOptionLayout(t *testing.T) {
	clk := &fakeClock{t0}
	s := newSigner(t, testSA(), clk)
	for _, bu := range []mh.BindingUpdate{homeBU(1), {Sequence: 2, Flags: mh.BUFlagH}, {Options: []mh.Option{mh.AlternateCareOfAddress{Addr: coaAddr}}}} {
		req := sendBU(t, s, bu)
		b := req.Raw
		if len(b)%8 != 0 {
			t.Errorf("MH of %d bytes", len(b))
		}
		loc, err := mh.FindAuthOption(b, mh.AuthSubtypeMNHA)
		if err != nil {
			t.Fatal(err)
		}
		if loc.Offset%4 != 1 || loc.DataOffset+loc.DataLen != len(b) {
			t.Errorf("auth option at %d (data %d+%d) in %d bytes: want 4n+1 and last", loc.Offset, loc.DataOffset, loc.DataLen, len(b))
		}
		var order []mh.OptionType
		tsAt := -1
		for i := 12; i < len(b); {
			if b[i] == byte(mh.OptPad1) {
				i++
				continue
			}
			if b[i] == byte(mh.OptReplayProtection) {
				tsAt = i
			}
			if b[i] != byte(mh.OptPadN) {
				order = append(order, mh.OptionType(b[i]))
			}
			i += 2 + int(b[i+1])
		}
		n := len(order)
		if n < 3 || order[n-3] != mh.OptMobileNodeIdentifier || order[n-2] != mh.OptReplayProtection || order[n-1] != mh.OptAuthentication {
			t.Errorf("option order %v, want ... MN-ID, MESG-ID, Auth", order)
		}
		if tsAt%8 != 2 {
			t.Errorf("replay protection option at %d, want 8n+2", tsAt)
		}
	}
}

func TestDiscards(t *testing.T) {
	key, nai, spi := testSA().Key, testSA().NAI, testSA().SPI
	clk := &fakeClock{t0}
	ts := ptr(NTPTime(t0))
	unsigned := func() ha.BURequest {
		bu := homeBU(1)
		bu.Options = append(bu.Options, mh.MobileNodeIdentifier{Subtype: mh.MNIDSubtypeNAI, Identifier: []byte(nai)})
		b, err := mh.Marshal(bu)
		if err != nil {
			t.Fatal(err)
		}
		return ha.BURequest{Src: coaAddr, Dst: haAddr, HomeAddr: homeAddr, HadHAO: true, BU: bu, Raw: b}
	}
	strangerSA := SA{SPI: 0x3000, Key: []byte("another key 0123"), NAI: "stranger@example.net", HomeAddress: homeAddr}
	wrongSPI := testSA()
	wrongSPI.SPI = 0x1001
	appended := func(extra ...byte) ha.BURequest {
		// An option after the MN-HA option: the covered bytes and the
		// authenticator stay right, so only the order rule refuses it.
		r := craft(t, key, spi, nai, ts, homeAddr, homeAddr)
		b := append([]byte(nil), r.Raw...)
		b = append(b, extra...)
		b[mh.OffHeaderLen] = byte(len(b)/8 - 1)
		r.Raw = b
		return r
	}
	aaaFirst := func() ha.BURequest {
		bu := homeBU(1)
		bu.Options = append(bu.Options,
			mh.MobileNodeIdentifier{Subtype: mh.MNIDSubtypeNAI, Identifier: []byte(nai)},
			mh.Authentication{Subtype: mh.AuthSubtypeMNAAA, SPI: 3, Data: make([]byte, 12)},
			mh.Authentication{Subtype: mh.AuthSubtypeMNHA, SPI: spi, Data: make([]byte, 12)})
		b, err := mh.Marshal(bu)
		if err != nil {
			t.Fatal(err)
		}
		if err := mh.SignMNHA(key, coaAddr, homeAddr, b); err != nil {
			t.Fatal(err)
		}
		return ha.BURequest{Src: coaAddr, Dst: haAddr, HomeAddr: homeAddr, HadHAO: true, BU: bu, Raw: b}
	}
	notBU := func() ha.BURequest {
		r := craft(t, key, spi, nai, ts, homeAddr, homeAddr)
		r.Raw[mh.OffType] = byte(mh.TypeBA)
		return r
	}
	for _, tc := range []struct {
		name string
		req  func() ha.BURequest
		want Reason
	}{
		{"no auth option", unsigned, ReasonNoAuth},
		{"no NAI", func() ha.BURequest { return craft(t, key, spi, "", ts, homeAddr, homeAddr) }, ReasonNoIdentity},
		{"unknown NAI", func() ha.BURequest { return sendBU(t, newSigner(t, strangerSA, clk), homeBU(1)) }, ReasonUnknownIdentity},
		{"unknown SPI", func() ha.BURequest { return sendBU(t, newSigner(t, wrongSPI, clk), homeBU(1)) }, ReasonUnknownSPI},
		{"SPI of another identity", func() ha.BURequest { return craft(t, key, otherSA().SPI, nai, ts, homeAddr, homeAddr) }, ReasonUnknownSPI},
		{"option after MN-HA", func() ha.BURequest { return appended(byte(mh.OptPadN), 2, 0, 0) }, ReasonNoAuth},
		{"MN-AAA before MN-HA", aaaFirst, ReasonNoAuth},
		{"two NAIs", func() ha.BURequest {
			return craft(t, key, spi, nai, ts, homeAddr, homeAddr, mh.MobileNodeIdentifier{Subtype: mh.MNIDSubtypeNAI, Identifier: []byte(nai)})
		}, ReasonNoAuth},
		{"two timestamps", func() ha.BURequest {
			return craft(t, key, spi, nai, ts, homeAddr, homeAddr, mh.ReplayProtection{Timestamp: *ts})
		}, ReasonNoAuth},
		{"not a BU", notBU, ReasonNoAuth},
		{"truncated", func() ha.BURequest {
			r := craft(t, key, spi, nai, ts, homeAddr, homeAddr)
			r.Raw = r.Raw[:len(r.Raw)-8]
			return r
		}, ReasonNoAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAuth(t, Config{}, testSA(), otherSA())
			req := tc.req()
			r := a.Check(t0, &req)
			if r.Verdict != ha.AuthDiscard || r.Identity != "" || r.AckOptions != nil {
				t.Fatalf("Check = %+v, want a silent discard", r)
			}
			if d := a.Verify(t0, &req); d.Reason != tc.want {
				t.Fatalf("reason %v, want %v", d.Reason, tc.want)
			}
			if c := a.Counters(); c[tc.want] != 2 {
				t.Fatalf("counter %v = %d, want 2", tc.want, c[tc.want])
			}
		})
	}
}

func TestWrongKeyGets146AuthenticatedBA(t *testing.T) {
	clk := &fakeClock{t0}
	bad := testSA()
	bad.Key = []byte("0123456789abcdeX")
	s := newSigner(t, bad, clk)
	a := newAuth(t, Config{}, testSA())
	req := sendBU(t, s, homeBU(1))
	r := a.Check(t0, &req)
	if r.Verdict != ha.AuthReject || r.Status != mh.StatusAuthFail || r.Identity != testSA().NAI {
		t.Fatalf("Check = %+v, want 146 for %q", r, testSA().NAI)
	}
	if got, want := timestampOf(t, r.AckOptions), timestampOf(t, req.BU.Options); got != want {
		t.Fatalf("146 echoes %#x, want %#x", got, want)
	}
	// The BA is signed with the home agent's (right) key: the real mobile
	// router's Signer can check it even though this BU was not its own...
	info := answer(t, a, req, r, r.Status)
	if err := mh.VerifyMNHA(testSA().Key, coaAddr, homeAddr, info.Raw); err != nil {
		t.Fatal(err)
	}
	// ...and the signer with the wrong key refuses it.
	if err := s.VerifyBA(info); !errors.Is(err, mh.ErrAuthFailed) {
		t.Fatalf("VerifyBA with the wrong key: %v, want ErrAuthFailed", err)
	}
	// The refusal left no replay state: a good BU with the same timestamp
	// is accepted.
	good := craft(t, testSA().Key, testSA().SPI, testSA().NAI, ptr(timestampOf(t, req.BU.Options)), homeAddr, homeAddr)
	if r := a.Check(t0, &good); r.Verdict != ha.AuthAccept {
		t.Fatalf("good BU after a 146: %+v", r)
	}
}

// TestFlipEachCoveredByte flips every bit of every byte the authenticator
// covers (both addresses, the MH through the SPI) and of the
// authenticator itself: each change must be refused, with 146 whenever the
// message still names the association, and the untouched BU must still be
// accepted afterwards (refusals change nothing).
func TestFlipEachCoveredByte(t *testing.T) {
	clk := &fakeClock{t0}
	s := newSigner(t, testSA(), clk)
	a := newAuth(t, Config{}, testSA(), otherSA())
	orig := sendBU(t, s, homeBU(9))
	// expect says what the RFC order demands for b: 146 when it parses
	// and still names our NAI and SPI, a silent discard when it parses but
	// does not; a BU that does not parse never reaches Check (the shell
	// refuses it first), so there only acceptance is wrong.
	type outcome int
	const (
		unparsable outcome = iota
		want146
		wantDiscard
	)
	expect := func(b []byte) outcome {
		m, err := mh.Parse(b)
		if err != nil || m.MHType() != mh.TypeBU {
			return unparsable
		}
		nai, spi := false, false
		for _, o := range m.MobilityOptions() {
			switch v := o.(type) {
			case mh.MobileNodeIdentifier:
				nai = nai || v.Subtype == mh.MNIDSubtypeNAI && string(v.Identifier) == testSA().NAI
			case mh.Authentication:
				spi = spi || v.Subtype == mh.AuthSubtypeMNHA && v.SPI == testSA().SPI
			}
		}
		if nai && spi {
			return want146
		}
		return wantDiscard
	}
	counts := map[outcome]int{}
	check := func(what string, req ha.BURequest, want outcome) {
		t.Helper()
		r := a.Check(t0, &req)
		switch {
		case r.Verdict == ha.AuthAccept:
			t.Fatalf("%s: accepted", what)
		case want == want146 && (r.Verdict != ha.AuthReject || r.Status != mh.StatusAuthFail):
			t.Fatalf("%s: %+v, want 146", what, r)
		case want == wantDiscard && r.Verdict != ha.AuthDiscard:
			t.Fatalf("%s: %+v, want a silent discard (no longer names the SA)", what, r)
		}
		counts[want]++
	}
	for i := 0; i < len(orig.Raw); i++ {
		if i == mh.OffChecksum || i == mh.OffChecksum+1 {
			continue // taken as zero, protected by the checksum instead
		}
		for bit := 0; bit < 8; bit++ {
			req := orig
			req.Raw = append([]byte(nil), orig.Raw...)
			req.Raw[i] ^= 1 << bit
			if m, err := mh.Parse(req.Raw); err == nil {
				if bu, ok := m.(mh.BindingUpdate); ok {
					req.BU = bu // the shell hands the core what it parsed
				}
			}
			check("MH byte "+itoa(i), req, expect(req.Raw))
		}
	}
	flipAddr := func(a netip.Addr, i, bit int) netip.Addr {
		b := a.As16()
		b[i] ^= 1 << bit
		return netip.AddrFrom16(b)
	}
	for i := 0; i < 16; i++ {
		for bit := 0; bit < 8; bit++ {
			req := orig
			req.HomeAddr = flipAddr(homeAddr, i, bit)
			check("home address byte "+itoa(i), req, want146)
			req = orig
			req.Src = flipAddr(coaAddr, i, bit)
			req.BU.Options = append([]mh.Option{mh.AlternateCareOfAddress{Addr: req.Src}}, orig.BU.Options[1:]...)
			check("care-of address byte "+itoa(i), req, want146)
		}
	}
	t.Logf("flips: %d refused with 146, %d discarded (identity gone), %d unparsable (never reach Check)", counts[want146], counts[wantDiscard], counts[unparsable])
	// At least the fixed body, the timestamp and the authenticator (plus
	// the 256 address bits) must give 146.
	if min := (6+lenReplay+mh.MNHAAuthLen)*8 + 2*16*8*2; counts[want146] < min {
		t.Errorf("only %d flips got 146, want at least %d", counts[want146], min)
	}
	if r := a.Check(t0, &orig); r.Verdict != ha.AuthAccept {
		t.Fatalf("the original BU after the flips: %+v", r)
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func TestReplayWindowEdges(t *testing.T) {
	now := NTPTime(t0)
	w := ntpDuration(DefaultWindow)
	key, spi, nai := testSA().Key, testSA().SPI, testSA().NAI
	for _, tc := range []struct {
		name   string
		ts     uint64
		accept bool
	}{
		{"now", now, true},
		{"window ahead", now + uint64(w), true},
		{"window behind", now - uint64(w), true},
		{"just past the window ahead", now + uint64(w) + 1, false},
		{"just past the window behind", now - uint64(w) - 1, false},
		{"an hour behind", now - 3600<<32, false},
		{"far ahead", now + 1<<62, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAuth(t, Config{}, testSA())
			req := craft(t, key, spi, nai, &tc.ts, homeAddr, homeAddr)
			r := a.Check(t0, &req)
			if tc.accept {
				if r.Verdict != ha.AuthAccept || timestampOf(t, r.AckOptions) != tc.ts {
					t.Fatalf("%+v, want accepted with the timestamp echoed whole", r)
				}
				return
			}
			if r.Verdict != ha.AuthReject || r.Status != mh.StatusIDMismatch {
				t.Fatalf("%+v, want 144", r)
			}
			want := now&^ntpFracMask | tc.ts&ntpFracMask
			if got := timestampOf(t, r.AckOptions); got != want {
				t.Fatalf("144 timestamp %#x, want the HA's seconds and the BU's low bits %#x", got, want)
			}
			// Nothing recorded: a fresh BU at now is still accepted.
			ok := craft(t, key, spi, nai, ptr(now), homeAddr, homeAddr)
			if r := a.Check(t0, &ok); r.Verdict != ha.AuthAccept {
				t.Fatalf("fresh BU after the refusal: %+v", r)
			}
		})
	}
}

func TestReplayMonotonic(t *testing.T) {
	a := newAuth(t, Config{Window: 5 * time.Second}, testSA())
	key, spi, nai := testSA().Key, testSA().SPI, testSA().NAI
	now := NTPTime(t0)
	steps := []struct {
		ts     uint64
		accept bool
		reason Reason
	}{
		{now, true, ReasonAccepted},
		{now, false, ReasonTimestampReplay},     // equal: refused
		{now - 1, false, ReasonTimestampReplay}, // older, in the window
		{now + 1, true, ReasonAccepted},
		{now + 6<<32, false, ReasonTimestampWindow}, // configured window, not the default
		{now + 1, false, ReasonTimestampReplay},
		{now + 2, true, ReasonAccepted},
	}
	for i, st := range steps {
		req := craft(t, key, spi, nai, ptr(st.ts), homeAddr, homeAddr)
		d := a.Verify(t0, &req)
		if (d.Verdict == ha.AuthAccept) != st.accept || d.Reason != st.reason {
			t.Fatalf("step %d (ts %#x): %+v, want accept=%v %v", i, st.ts, d, st.accept, st.reason)
		}
	}
	// A captured and resent packet is refused byte for byte.
	s := newSigner(t, testSA(), &fakeClock{t0.Add(time.Second)})
	req := sendBU(t, s, homeBU(3))
	if r := a.Check(t0, &req); r.Verdict != ha.AuthAccept {
		t.Fatalf("fresh: %+v", r)
	}
	if r := a.Check(t0.Add(time.Second), &req); r.Status != mh.StatusIDMismatch {
		t.Fatalf("replayed: %+v, want 144", r)
	}
}

func TestReplayProtectionPolicy(t *testing.T) {
	key, spi, nai := testSA().Key, testSA().SPI, testSA().NAI
	req := craft(t, key, spi, nai, nil, homeAddr, homeAddr)
	strict := newAuth(t, Config{RequireReplayProtection: true}, testSA())
	r := strict.Check(t0, &req)
	if r.Verdict != ha.AuthReject || r.Status != mh.StatusMesgIDRequired || r.Identity != nai {
		t.Fatalf("strict: %+v, want 145", r)
	}
	if len(r.AckOptions) != 1 {
		t.Fatalf("145 AckOptions %v, want the MN-ID only (the BU had no timestamp)", r.AckOptions)
	}
	// Authentication comes first: a wrong MAC without a timestamp is 146.
	bad := craft(t, []byte("wrong key 0123456"), spi, nai, nil, homeAddr, homeAddr)
	if r := strict.Check(t0, &bad); r.Status != mh.StatusAuthFail {
		t.Fatalf("strict, wrong key: %+v, want 146", r)
	}
	lax := newAuth(t, Config{}, testSA())
	if r := lax.Check(t0, &req); r.Verdict != ha.AuthAccept || len(r.AckOptions) != 1 {
		t.Fatalf("lax: %+v, want accepted with the MN-ID only", r)
	}
}

func TestHomeAddressNotOwned(t *testing.T) {
	a := newAuth(t, Config{}, testSA(), otherSA())
	key, spi, nai := testSA().Key, testSA().SPI, testSA().NAI
	now := NTPTime(t0)
	// mr1, authentic, claims mr2's home address.
	req := craft(t, key, spi, nai, ptr(now+10), otherHoA, otherHoA)
	r := a.Check(t0, &req)
	if r.Verdict != ha.AuthReject || r.Status != mh.StatusAdministrativelyProhibited || r.Identity != nai {
		t.Fatalf("%+v, want 129 for %q", r, nai)
	}
	if timestampOf(t, r.AckOptions) != now+10 {
		t.Fatal("129 does not echo the timestamp")
	}
	// Nothing changed: an older timestamp than the refused one is fine.
	own := craft(t, key, spi, nai, ptr(now), homeAddr, homeAddr)
	if r := a.Check(t0, &own); r.Verdict != ha.AuthAccept {
		t.Fatalf("own home address after the refusal: %+v", r)
	}
	// Without a Home Address option the source is the claim.
	req = craft(t, key, spi, nai, ptr(now+20), otherHoA, otherHoA)
	req.Src, req.HadHAO = otherHoA, false
	req.BU.Options = req.BU.Options[1:] // no alternate care-of address: the source
	if d := a.Verify(t0, &req); d.Reason == ReasonAccepted {
		t.Fatalf("%+v", d)
	}
}

func TestClockOffsetRecovery(t *testing.T) {
	for _, skew := range []time.Duration{100 * time.Second, -time.Hour, 8 * time.Second, -30 * 24 * time.Hour} {
		t.Run(skew.String(), func(t *testing.T) {
			haClock := &fakeClock{t0}
			mrClock := &fakeClock{t0.Add(skew)}
			s := newSigner(t, testSA(), mrClock)
			a := newAuth(t, Config{}, testSA())

			req := sendBU(t, s, homeBU(1))
			r := a.Check(haClock.now(), &req)
			if r.Status != mh.StatusIDMismatch {
				t.Fatalf("skewed BU: %+v, want 144", r)
			}
			info := answer(t, a, req, r, r.Status)
			// A forged 144 (wrong key) must not move the clock.
			forger := newAuth(t, Config{}, SA{SPI: testSA().SPI, Key: []byte("forged key 01234"), NAI: testSA().NAI, HomeAddress: homeAddr})
			if err := s.VerifyBA(answer(t, forger, req, forger.Check(haClock.now(), &req), mh.StatusIDMismatch)); !errors.Is(err, mh.ErrAuthFailed) {
				t.Fatalf("forged 144: %v", err)
			}
			if s.ClockOffset() != 0 {
				t.Fatalf("forged 144 moved the offset to %v", s.ClockOffset())
			}
			if err := s.VerifyBA(info); err != nil {
				t.Fatalf("authentic 144: %v", err)
			}
			if off := s.ClockOffset(); (off + skew).Abs() > time.Second {
				t.Fatalf("offset %v, want about %v", off, -skew)
			}
			// mrouter.Classify says ResendNow; the next BU is accepted.
			haClock.advance(200 * time.Millisecond)
			mrClock.advance(200 * time.Millisecond)
			req = sendBU(t, s, homeBU(2))
			r = a.Check(haClock.now(), &req)
			if r.Verdict != ha.AuthAccept {
				t.Fatalf("BU after resync: %+v", r)
			}
			if err := s.VerifyBA(answer(t, a, req, r, mh.StatusAccepted)); err != nil {
				t.Fatalf("BA after resync: %v", err)
			}
			// And the next refresh too, later.
			haClock.advance(300 * time.Second)
			mrClock.advance(300 * time.Second)
			req = sendBU(t, s, homeBU(3))
			if r := a.Check(haClock.now(), &req); r.Verdict != ha.AuthAccept {
				t.Fatalf("refresh: %+v", r)
			}
		})
	}
}

func TestVerifyBARefusals(t *testing.T) {
	clk := &fakeClock{t0}
	s := newSigner(t, testSA(), clk)
	a := newAuth(t, Config{}, testSA())
	req := sendBU(t, s, homeBU(1))
	r := a.Check(t0, &req)
	good := answer(t, a, req, r, mh.StatusAccepted)

	tampered := good
	tampered.Raw = append([]byte(nil), good.Raw...)
	tampered.Raw[7] ^= 1 // the sequence number
	if err := s.VerifyBA(tampered); !errors.Is(err, mh.ErrAuthFailed) {
		t.Errorf("tampered: %v", err)
	}
	other := good
	other.From = netip.MustParseAddr("2001:db8:9::1")
	if err := s.VerifyBA(other); !errors.Is(err, ErrTimestampMismatch) {
		t.Errorf("from another home agent: %v", err)
	}
	// A BA for a timestamp never sent (an authentic but old or foreign
	// one): silently dropped.
	stale := r
	stale.AckOptions = []mh.Option{r.AckOptions[0], mh.ReplayProtection{Timestamp: timestampOf(t, r.AckOptions) - 1}}
	if err := s.VerifyBA(answer(t, a, req, stale, mh.StatusAccepted)); !errors.Is(err, ErrTimestampMismatch) {
		t.Errorf("other timestamp: %v", err)
	}
	// A 144 must match the low 32 bits.
	if err := s.VerifyBA(answer(t, a, req, stale, mh.StatusIDMismatch)); !errors.Is(err, ErrTimestampMismatch) {
		t.Errorf("144 for other low bits: %v", err)
	}
	unsigned := good
	ba := good.BA
	ba.Options = ba.Options[:len(ba.Options)-1]
	if unsigned.Raw, unsigned.BA = mustMarshal(t, ba), ba; s.VerifyBA(unsigned) == nil {
		t.Error("unauthenticated BA accepted")
	}
	if err := s.VerifyBA(good); err != nil {
		t.Errorf("good: %v", err)
	}
	if err := s.VerifyBA(mrouter.BAInfo{From: haAddr, Raw: []byte{1, 2, 3}}); !errors.Is(err, ErrMalformed) {
		t.Errorf("garbage: %v", err)
	}
}

func mustMarshal(t testing.TB, m mh.Message) []byte {
	t.Helper()
	b, err := mh.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUDPCareOf(t *testing.T) {
	clk := &fakeClock{t0}
	s := newSigner(t, testSA(), clk)
	a := newAuth(t, Config{}, testSA())
	bu := mh.BindingUpdate{Sequence: 4, Flags: mh.BUFlagA | mh.BUFlagH | mh.BUFlagR, Lifetime: time.Minute,
		Options: []mh.Option{mh.IPv4CareOfAddress{Addr: coa4}}}
	sb, err := s.Sign(mrouter.SendBU{From: coa4, To: haAddr, ToIPv4: netip.MustParseAddr("192.0.2.1"), UDP: true, BU: bu})
	if err != nil {
		t.Fatal(err)
	}
	// Inner IPv6 packet from the home address, no HAO (RFC 5555 4.4.2).
	pkt, err := mh.BuildPacket(mh.Packet{Src: homeAddr, Dst: haAddr, Message: sb.BU})
	if err != nil {
		t.Fatal(err)
	}
	req := receiveBU(t, pkt, nat4)
	if err := mh.VerifyMNHA(testSA().Key, coa4, homeAddr, req.Raw); err != nil {
		t.Fatalf("covered care-of address is not the IPv4 one: %v", err)
	}
	r := a.Check(t0, &req)
	if r.Verdict != ha.AuthAccept {
		t.Fatalf("%+v", r)
	}
	if err := s.VerifyBA(answer(t, a, req, r, mh.StatusAccepted)); err != nil {
		t.Fatal(err)
	}
}

func TestSignRefusesSignedMessages(t *testing.T) {
	s := newSigner(t, testSA(), &fakeClock{t0})
	bu := homeBU(1)
	bu.Options = append(bu.Options, mh.ReplayProtection{Timestamp: 1})
	if _, err := s.SignBU(haAddr, coaAddr, false, bu); !errors.Is(err, ErrAlreadySigned) {
		t.Errorf("BU with a timestamp: %v", err)
	}
	a := newAuth(t, Config{}, testSA())
	if _, err := a.SignBA(ha.SendBA{Identity: "nobody@example.net"}); !errors.Is(err, ErrUnknownIdentity) {
		t.Errorf("unknown identity: %v", err)
	}
	plain := ha.SendBA{To: coaAddr, BA: mh.BindingAck{Status: mh.StatusAccepted}}
	if got, err := a.SignBA(plain); err != nil || len(got.BA.Options) != 0 {
		t.Errorf("unauthenticated BU's BA: %+v, %v; want unchanged", got, err)
	}
	// Without AckOptions, SignBA adds the MN-ID itself.
	got, err := a.SignBA(ha.SendBA{To: coaAddr, CareOf: coaAddr, HomeAddress: homeAddr, Identity: testSA().NAI, BA: mh.BindingAck{Status: 128}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.BA.Options); n != 2 || got.BA.Options[0].OptionType() != mh.OptMobileNodeIdentifier {
		t.Errorf("options %v", got.BA.Options)
	}
	if err := mh.VerifyMNHA(testSA().Key, coaAddr, homeAddr, mustMarshal(t, got.BA)); err != nil {
		t.Error(err)
	}
}
