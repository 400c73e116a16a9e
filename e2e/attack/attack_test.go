package attack

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/mh"
	"github.com/nemo-mobility/nemo/mnha"
)

var (
	tSrc  = netip.MustParseAddr("2001:db8:a::66")
	tHA   = netip.MustParseAddr("2001:db8:1::1")
	tHoA  = netip.MustParseAddr("2001:db8:1::100")
	tMNP  = netip.MustParsePrefix("2001:db8:1:100::/64")
	tKey  = []byte("0123456789abcdef")
	tSA   = mnha.SA{SPI: 4096, Key: tKey, NAI: "mr1@example.net", HomeAddress: tHoA}
	tTime = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
)

func signedBU(t *testing.T) []byte {
	t.Helper()
	sa := tSA
	pkt, err := BU{Src: tSrc, Dst: tHA, HomeAddress: tHoA, Sequence: 7, Lifetime: 12 * time.Second,
		Prefixes: []netip.Prefix{tMNP}, SA: &sa, Now: tTime}.Packet()
	if err != nil {
		t.Fatal(err)
	}
	return pkt
}

// parse runs the packet through the receive path the home agent uses.
func parse(pkt []byte) (mh.Packet, []byte, error) {
	return mh.ParsePacket(pkt)
}

func TestBUPacketParsesAndVerifies(t *testing.T) {
	pkt := signedBU(t)
	p, raw, err := parse(pkt)
	if err != nil {
		t.Fatal(err)
	}
	bu, ok := p.Message.(mh.BindingUpdate)
	if !ok || bu.Sequence != 7 || p.HomeAddress != tHoA || p.Src != tSrc {
		t.Fatalf("parsed %+v", p)
	}
	if err := mh.VerifyMNHA(tKey, tSrc, tHoA, raw); err != nil {
		t.Fatalf("signed BU does not verify with its key: %v", err)
	}
	if err := mh.VerifyMNHA([]byte("another key 16 b"), tSrc, tHoA, raw); err == nil {
		t.Fatal("signed BU verifies with another key")
	}
	// Unsigned: no Authentication option at all.
	un, err := BU{Src: tSrc, Dst: tHA, HomeAddress: tHoA, Prefixes: []netip.Prefix{tMNP}}.Packet()
	if err != nil {
		t.Fatal(err)
	}
	_, raw, err = parse(un)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mh.FindAuthOption(raw, mh.AuthSubtypeMNHA); err == nil {
		t.Fatal("unsigned BU has an authentication option")
	}
}

func TestMutations(t *testing.T) {
	pkt := signedBU(t)
	for _, m := range Mutations {
		t.Run(string(m), func(t *testing.T) {
			b, err := Mutate(pkt, m, tKey)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) == string(pkt) {
				t.Fatal("mutation changed nothing")
			}
			_, raw, err := parse(b)
			switch m {
			case Misaligned:
				// Well formed but for alignment: it must still parse,
				// verify, and have options off their alignment.
				if err != nil {
					t.Fatalf("misaligned BU does not parse: %v", err)
				}
				if err := mh.VerifyMNHA(tKey, tSrc, tHoA, raw); err != nil {
					t.Fatalf("re-signed misaligned BU does not verify: %v", err)
				}
				offs, err := optionOffsets(raw)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range offs {
					switch mh.OptionType(raw[o]) {
					case mh.OptMobileNetworkPrefix:
						if o%8 == 4 {
							t.Errorf("MNP option at %d is still 8n+4", o)
						}
					case mh.OptReplayProtection:
						if o%8 == 2 {
							t.Errorf("replay protection option at %d is still 8n+2", o)
						}
					}
				}
			case UnknownMHType:
				var se *mh.StatusError
				if !errors.As(err, &se) || se.BEStatus != mh.BEUnrecognizedMHType {
					t.Fatalf("err = %v, want a status error asking for Binding Error 2", err)
				}
			default:
				if err == nil {
					t.Fatalf("%s parses", m)
				}
			}
			if len(b) > mh.IPv6HeaderLen+mh.MaxLen+destOptsLen {
				t.Fatalf("mutated packet of %d bytes", len(b))
			}
		})
	}
	if _, err := Mutate(pkt[:50], TruncatedPacket, nil); !errors.Is(err, ErrTemplate) {
		t.Errorf("short template: %v", err)
	}
	if _, err := Mutate(pkt, Mutation("nope"), nil); !errors.Is(err, ErrTemplate) {
		t.Errorf("unknown mutation: %v", err)
	}
}

func TestSetSourceKeepsChecksum(t *testing.T) {
	pkt := signedBU(t)
	other := netip.MustParseAddr("2001:db8:a::1234")
	if err := SetSource(pkt, other); err != nil {
		t.Fatal(err)
	}
	p, _, err := parse(pkt)
	if err != nil {
		t.Fatalf("after SetSource: %v", err)
	}
	if p.Src != other {
		t.Fatalf("source %v, want %v", p.Src, other)
	}
	if err := SetSource(pkt, netip.MustParseAddr("192.0.2.1")); !errors.Is(err, ErrTemplate) {
		t.Errorf("IPv4 source: %v", err)
	}
}

func TestBAForgery(t *testing.T) {
	coa := netip.MustParseAddr("2001:db8:f2::5")
	wrong := tSA
	wrong.Key = []byte("not the key 16 b")
	pkt, err := BA(tHA, coa, tHoA, mh.BindingAck{Sequence: 3, Lifetime: time.Minute}, &wrong, 42)
	if err != nil {
		t.Fatal(err)
	}
	p, raw, err := parse(pkt)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Message.(mh.BindingAck); !ok || p.RoutingHome != tHoA || p.Dst != coa {
		t.Fatalf("parsed %+v", p)
	}
	if err := mh.VerifyMNHA(wrong.Key, coa, tHoA, raw); err != nil {
		t.Fatalf("forged BA does not verify with the key it was signed with: %v", err)
	}
	if err := mh.VerifyMNHA(tKey, coa, tHoA, raw); err == nil {
		t.Fatal("forged BA verifies with the real key")
	}
	be, err := BE(tHA, coa, mh.BindingError{Status: mh.BEUnknownBindingForHoA, HomeAddress: tHoA})
	if err != nil {
		t.Fatal(err)
	}
	if p, _, err := parse(be); err != nil || p.Message.(mh.BindingError).HomeAddress != tHoA {
		t.Fatalf("BE: %+v %v", p, err)
	}
}

func TestParseLine(t *testing.T) {
	good := []Line{
		{Kind: LineIPv6, Data: []byte{0x60, 0, 1}},
		{Kind: LineUDP4, To: netip.MustParseAddrPort("198.51.100.1:4191"), Data: []byte("garbage")},
		{Kind: LineWait, Wait: 1500 * time.Millisecond},
		{Kind: LineRx, NextHeader: 43, Src: tHA, Dst: tSrc, Data: []byte{1, 2}},
	}
	for _, l := range good {
		got, err := ParseLine(l.String())
		if err != nil || !got.Equal(l) {
			t.Errorf("ParseLine(%q) = %+v, %v; want %+v", l.String(), got, err, l)
		}
	}
	for _, s := range []string{"", "ip6", "ip6 zz", "ip6 ", "udp4 [2001:db8::1]:1 00", "udp4 198.51.100.1:0 00",
		"wait -1s", "rx 300 ::1 ::2 00", "rx 43 1.2.3.4 ::2 00", "bogus 00", "ip6 00 00"} {
		if l, err := ParseLine(s); !errors.Is(err, ErrLine) || !l.Equal(Line{}) {
			t.Errorf("ParseLine(%q) = %+v, %v; want ErrLine and a zero Line", s, l, err)
		}
	}
}

func FuzzParseLine(f *testing.F) {
	f.Add("ip6 6000")
	f.Add("udp4 198.51.100.1:4191 00ff")
	f.Add("wait 10ms")
	f.Add("rx 135 2001:db8::1 2001:db8::2 3b00")
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLine(s)
		if err != nil {
			if !l.Equal(Line{}) {
				t.Fatalf("error %v with a filled line %+v", err, l)
			}
			return
		}
		again, err := ParseLine(l.String())
		if err != nil || !again.Equal(l) {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, l, l.String(), again, err)
		}
	})
}

func FuzzMutate(f *testing.F) {
	f.Add([]byte{0x60}, uint8(0))
	f.Fuzz(func(t *testing.T, pkt []byte, which uint8) {
		m := Mutations[int(which)%len(Mutations)]
		b, err := Mutate(pkt, m, tKey)
		if err != nil {
			if b != nil {
				t.Fatal("error with a packet")
			}
			return
		}
		// Whatever comes out must not crash the receive path.
		_, _, _ = parse(b)
	})
}
