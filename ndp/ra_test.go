package ndp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	mdndp "github.com/mdlayher/ndp"
)

// unhex turns an annotated hex dump into bytes: everything from '#' to the
// end of a line is a comment, whitespace is ignored.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	var sb strings.Builder
	for line := range strings.SplitSeq(s, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		sb.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(sb.String())
	if err != nil {
		t.Fatalf("bad golden hex: %v", err)
	}
	return b
}

// goldenRA is a home agent's Router Advertisement with every option this
// package decodes plus one it keeps raw.
const goldenRA = `
86 00 0000              # type 134 RA, code 0, checksum 0
40                      # cur hop limit 64
ac                      # M (0x80) | H (0x20) | Prf=01 high (0x08) | P (0x04)
0708                    # router lifetime 1800 s
00007530                # reachable time 30000 ms
000003e8                # retrans timer 1000 ms
01 01 02005e005301      # SLLA, len 1, 02:00:5e:00:53:01
05 01 0000 000005dc     # MTU, len 1, reserved, 1500
03 04 40 e0             # PIO, len 4, /64, L|A|R
00000708                #   valid 1800 s
00000384                #   preferred 900 s
00000000                #   reserved2
20010db8000100000000000000000001  # prefix field = router address 2001:db8:1::1 (not masked)
07 01 0000 00000bb8     # advertisement interval, len 1, 3000 ms
08 01 8000 000a 0708    # HAI, len 1, R (NEMO), preference 10, lifetime 1800 s
19 03 0000 00000e10     # RDNSS (type 25, kept raw), len 3, lifetime 3600
20010db8000000000000000000000053  #   2001:db8::53
`

var wantRA = RouterAdvertisement{
	CurHopLimit:      64,
	Managed:          true,
	HomeAgent:        true,
	RouterPreference: PreferenceHigh,
	Proxy:            true,
	RouterLifetime:   1800 * time.Second,
	ReachableTime:    30 * time.Second,
	RetransTimer:     time.Second,
	Options: []Option{
		SourceLinkLayerAddress{Addr: net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x53, 0x01}},
		MTU{MTU: 1500},
		PrefixInformation{
			Prefix:            netip.PrefixFrom(netip.MustParseAddr("2001:db8:1::1"), 64),
			OnLink:            true,
			Autonomous:        true,
			RouterAddress:     true,
			ValidLifetime:     1800 * time.Second,
			PreferredLifetime: 900 * time.Second,
		},
		AdvertisementInterval{Interval: 3 * time.Second},
		HomeAgentInformation{MobileRouter: true, Preference: 10, Lifetime: 1800 * time.Second},
		RawOption{Type: 25, Data: unhexNoT("0000 00000e10 20010db8000000000000000000000053")},
	},
}

func unhexNoT(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

func TestRouterAdvertisementGolden(t *testing.T) {
	golden := unhex(t, goldenRA)

	got, err := ParseRouterAdvertisement(golden)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if !reflect.DeepEqual(got, wantRA) {
		t.Errorf("parse:\n got %#v\nwant %#v", got, wantRA)
	}

	b, err := wantRA.MarshalBinary()
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	if !bytes.Equal(b, golden) {
		t.Errorf("marshal:\n got %x\nwant %x", b, golden)
	}

	if got.ICMPType() != TypeRouterAdvertisement || ICMPType(golden[0]) != TypeRouterAdvertisement {
		t.Errorf("ICMPType() = %d", got.ICMPType())
	}

	// AppendBinary appends after existing bytes.
	prefix := []byte{0xde, 0xad}
	b2, err := wantRA.AppendBinary(prefix)
	if err != nil || !bytes.Equal(b2[:2], prefix) || !bytes.Equal(b2[2:], golden) {
		t.Errorf("AppendBinary = %x, %v", b2, err)
	}
}

func TestRouterAdvertisementAccessors(t *testing.T) {
	ra := wantRA
	pfx := ra.Prefixes()
	if len(pfx) != 1 {
		t.Fatalf("Prefixes() = %v", pfx)
	}
	if got, want := pfx[0].Masked(), netip.MustParsePrefix("2001:db8:1::/64"); got != want {
		t.Errorf("Masked() = %v, want %v", got, want)
	}
	if a, ok := pfx[0].Router(); !ok || a != netip.MustParseAddr("2001:db8:1::1") {
		t.Errorf("Router() = %v, %v", a, ok)
	}
	if got := ra.RouterAddresses(); !reflect.DeepEqual(got, []netip.Addr{netip.MustParseAddr("2001:db8:1::1")}) {
		t.Errorf("RouterAddresses() = %v", got)
	}
	if h, ok := ra.HomeAgentInfo(); !ok || h.Preference != 10 || !h.MobileRouter || h.Lifetime != 1800*time.Second {
		t.Errorf("HomeAgentInfo() = %+v, %v", h, ok)
	}
	if d, ok := ra.AdvInterval(); !ok || d != 3*time.Second {
		t.Errorf("AdvInterval() = %v, %v", d, ok)
	}
	if a, ok := ra.SourceLLA(); !ok || a.String() != "02:00:5e:00:53:01" {
		t.Errorf("SourceLLA() = %v, %v", a, ok)
	}
	if m, ok := ra.LinkMTU(); !ok || m != 1500 {
		t.Errorf("LinkMTU() = %v, %v", m, ok)
	}

	// Without the R flag the prefix field is not an address.
	p := pfx[0]
	p.RouterAddress = false
	if _, ok := p.Router(); ok {
		t.Error("Router() reports an address without the R flag")
	}
	empty := RouterAdvertisement{}
	if _, ok := empty.HomeAgentInfo(); ok {
		t.Error("HomeAgentInfo() on an RA without options")
	}
	if _, ok := empty.AdvInterval(); ok {
		t.Error("AdvInterval() on an RA without options")
	}
	if _, ok := empty.SourceLLA(); ok {
		t.Error("SourceLLA() on an RA without options")
	}
	if _, ok := empty.LinkMTU(); ok {
		t.Error("LinkMTU() on an RA without options")
	}
}

// TestRouterAdvertisementFieldBytes checks single fields against byte
// fragments: the reserved bits are ignored on parse and zero on marshal,
// each preference value lands in the Prf bits, and durations round down and
// clamp.
func TestRouterAdvertisementFieldBytes(t *testing.T) {
	base := unhex(t, `86 00 0000 00 00 0000 00000000 00000000`)

	// Reserved flag bits (0x03) set: ignored.
	in := bytes.Clone(base)
	in[5] = 0x03
	ra, err := ParseRouterAdvertisement(in)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ra, RouterAdvertisement{}) {
		t.Errorf("reserved bits leaked into %+v", ra)
	}
	if out, _ := ra.MarshalBinary(); !bytes.Equal(out, base) {
		t.Errorf("marshal of zero RA = %x, want %x", out, base)
	}

	// The checksum field is ignored on parse.
	in = bytes.Clone(base)
	in[2], in[3] = 0x12, 0x34
	if _, err := ParseRouterAdvertisement(in); err != nil {
		t.Errorf("non-zero checksum: %v", err)
	}

	for _, tc := range []struct {
		name  string
		ra    RouterAdvertisement
		off   int
		bytes string
	}{
		{"prf medium", RouterAdvertisement{RouterPreference: PreferenceMedium}, 5, "00"},
		{"prf high", RouterAdvertisement{RouterPreference: PreferenceHigh}, 5, "08"},
		{"prf reserved", RouterAdvertisement{RouterPreference: PreferenceReserved}, 5, "10"},
		{"prf low", RouterAdvertisement{RouterPreference: PreferenceLow}, 5, "18"},
		{"managed", RouterAdvertisement{Managed: true}, 5, "80"},
		{"other", RouterAdvertisement{Other: true}, 5, "40"},
		{"home agent", RouterAdvertisement{HomeAgent: true}, 5, "20"},
		{"proxy", RouterAdvertisement{Proxy: true}, 5, "04"},
		{"hop limit", RouterAdvertisement{CurHopLimit: 255}, 4, "ff"},
		{"router lifetime rounds down", RouterAdvertisement{RouterLifetime: 1999 * time.Millisecond}, 6, "0001"},
		{"router lifetime clamps", RouterAdvertisement{RouterLifetime: 100000 * time.Second}, 6, "ffff"},
		{"router lifetime negative", RouterAdvertisement{RouterLifetime: -time.Second}, 6, "0000"},
		{"reachable ms", RouterAdvertisement{ReachableTime: 1500 * time.Microsecond}, 8, "00000001"},
		{"retrans clamps", RouterAdvertisement{RetransTimer: 1 << 62}, 12, "ffffffff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tc.ra.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			want := unhex(t, tc.bytes)
			if got := out[tc.off : tc.off+len(want)]; !bytes.Equal(got, want) {
				t.Errorf("bytes at %d = %x, want %x", tc.off, got, want)
			}
			back, err := ParseRouterAdvertisement(out)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := back.MarshalBinary()
			if !bytes.Equal(again, out) {
				t.Errorf("re-marshal %x != %x", again, out)
			}
		})
	}
}

// TestOptionGolden checks each option alone, both directions, inside an RA.
func TestOptionGolden(t *testing.T) {
	hdr := "86 00 0000 40 00 0000 00000000 00000000"
	for _, tc := range []struct {
		name string
		opt  Option
		hex  string
	}{
		{"slla ethernet", SourceLinkLayerAddress{Addr: net.HardwareAddr{2, 0, 0x5e, 0, 0x53, 0xff}},
			"01 01 02005e0053ff"},
		{"slla 14 bytes", SourceLinkLayerAddress{Addr: net.HardwareAddr(unhexNoT("0102030405060708090a0b0c0d0e"))},
			"01 02 0102030405060708090a0b0c0d0e"},
		{"mtu", MTU{MTU: 1280}, "05 01 0000 00000500"},
		{"pio masked no flags", PrefixInformation{Prefix: netip.MustParsePrefix("2001:db8:2::/48"),
			ValidLifetime: InfiniteLifetime, PreferredLifetime: InfiniteLifetime},
			"03 04 30 00 ffffffff ffffffff 00000000 20010db8000200000000000000000000"},
		{"pio host bits kept", PrefixInformation{Prefix: netip.PrefixFrom(netip.MustParseAddr("2001:db8::a:b"), 64), OnLink: true},
			"03 04 40 80 00000000 00000000 00000000 20010db8 00000000 00000000 000a000b"},
		{"pio /128", PrefixInformation{Prefix: netip.MustParsePrefix("2001:db8::1/128"), Autonomous: true},
			"03 04 80 40 00000000 00000000 00000000 20010db8000000000000000000000001"},
		{"adv interval min", AdvertisementInterval{Interval: 90 * time.Millisecond}, "07 01 0000 0000005a"},
		{"hai no R", HomeAgentInformation{Preference: 0xffff, Lifetime: 65535 * time.Second}, "08 01 0000 ffff ffff"},
		{"hai R", HomeAgentInformation{MobileRouter: true, Preference: 1, Lifetime: time.Second}, "08 01 8000 0001 0001"},
		{"raw route information ::/0", RawOption{Type: 24, Data: unhexNoT("00 08 00000708")},
			"18 01 00 08 00000708"}, // prefix length 0, Prf high, lifetime 1800 s
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden := unhex(t, hdr+tc.hex)
			ra, err := ParseRouterAdvertisement(golden)
			if err != nil {
				t.Fatal(err)
			}
			if len(ra.Options) != 1 || !reflect.DeepEqual(ra.Options[0], tc.opt) {
				t.Errorf("parse: %#v, want %#v", ra.Options, tc.opt)
			}
			out, err := (RouterAdvertisement{CurHopLimit: 64, Options: []Option{tc.opt}}).MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, golden) {
				t.Errorf("marshal:\n got %x\nwant %x", out, golden)
			}
			if got := OptionType(golden[raOptionsOffset]); tc.opt.OptionType() != got {
				t.Errorf("OptionType() = %d, wire type %d", tc.opt.OptionType(), got)
			}
		})
	}
}

// TestSLLAPadding: an address shorter than the option pads with zeros, and
// the padding comes back on parse (the option carries no address length).
func TestSLLAPadding(t *testing.T) {
	ra := RouterAdvertisement{Options: []Option{SourceLinkLayerAddress{Addr: net.HardwareAddr{1, 2, 3, 4, 5, 6, 7, 8}}}}
	out, err := ra.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, "86000000 00000000 00000000 00000000  01 02 0102030405060708 000000000000")
	if !bytes.Equal(out, want) {
		t.Fatalf("marshal = %x, want %x", out, want)
	}
	back, err := ParseRouterAdvertisement(out)
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := back.SourceLLA(); len(a) != 14 || !bytes.Equal(a[:8], []byte{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Errorf("parsed SLLA = %x", a)
	}
}

func TestParseRouterAdvertisementErrors(t *testing.T) {
	hdr := "86 00 0000 40 00 0000 00000000 00000000"
	for _, tc := range []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", ErrTruncated},
		{"header only", "86 00 0000", ErrTruncated},
		{"15 bytes", "86 00 0000 40 00 0000 00000000 000000", ErrTruncated},
		{"wrong type", "87 00 0000 40 00 0000 00000000 00000000", ErrBadType},
		{"non-zero code", "86 01 0000 40 00 0000 00000000 00000000", ErrBadCode},
		{"option header cut", hdr + "05", ErrTruncated},
		{"option length zero", hdr + "05 00 0000 00000000", ErrBadOptionLength},
		{"raw option length zero", hdr + "fe 00 0000 00000000", ErrBadOptionLength},
		{"option longer than packet", hdr + "05 02 0000 00000000", ErrTruncated},
		{"option data cut", hdr + "05 01 0000 0000", ErrTruncated},
		{"second option cut", hdr + "05 01 0000 00000500 07", ErrTruncated},
		{"pio length 3", hdr + "03 03 40 c0 00000000 00000000 00000000 20010db800000000", ErrBadOptionLength},
		{"pio length 5", hdr + "03 05 40 c0 00000000 00000000 00000000 20010db8000000000000000000000000 0000000000000000", ErrBadOptionLength},
		{"pio length 1", hdr + "03 01 40 c0 00000000", ErrBadOptionLength},
		{"pio prefix length 129", hdr + "03 04 81 c0 00000000 00000000 00000000 20010db8000000000000000000000000", ErrBadValue},
		{"adv interval length 2", hdr + "07 02 0000 00000bb8 0000000000000000", ErrBadOptionLength},
		{"hai length 2", hdr + "08 02 8000 000a 0708 0000000000000000", ErrBadOptionLength},
		{"hai length 0", hdr + "08 00 8000 000a 0708", ErrBadOptionLength},
		{"mtu length 2", hdr + "05 02 0000 000005dc 0000000000000000", ErrBadOptionLength},
		{"adv interval truncated", hdr + "07 01 0000 0000", ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ra, err := ParseRouterAdvertisement(unhex(t, tc.in))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !reflect.DeepEqual(ra, RouterAdvertisement{}) {
				t.Errorf("failed parse returned a filled value: %+v", ra)
			}
			if m, err := ParseMessage(unhex(t, tc.in)); !errors.Is(err, tc.want) || m != nil {
				t.Errorf("ParseMessage = %#v, %v; want nil, %v", m, err, tc.want)
			}
		})
	}
}

func TestMarshalRouterAdvertisementErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		ra   RouterAdvertisement
		want error
	}{
		{"preference 4", RouterAdvertisement{RouterPreference: 4}, ErrBadValue},
		{"pio zero prefix", RouterAdvertisement{Options: []Option{PrefixInformation{}}}, ErrBadValue},
		{"pio ipv4 prefix", RouterAdvertisement{Options: []Option{PrefixInformation{Prefix: netip.MustParsePrefix("192.0.2.0/24")}}}, ErrBadValue},
		{"empty slla", RouterAdvertisement{Options: []Option{SourceLinkLayerAddress{}}}, ErrBadValue},
		{"huge slla", RouterAdvertisement{Options: []Option{SourceLinkLayerAddress{Addr: make(net.HardwareAddr, 2040)}}}, ErrBadOptionLength},
		{"raw bad length", RouterAdvertisement{Options: []Option{RawOption{Type: 25, Data: make([]byte, 5)}}}, ErrBadOptionLength},
		{"raw empty", RouterAdvertisement{Options: []Option{RawOption{Type: 25}}}, ErrBadOptionLength},
		{"raw too long", RouterAdvertisement{Options: []Option{RawOption{Type: 25, Data: make([]byte, 256*8-2)}}}, ErrBadOptionLength},
		{"raw of decoded type", RouterAdvertisement{Options: []Option{RawOption{Type: 8, Data: make([]byte, 6)}}}, ErrBadValue},
		{"nil option", RouterAdvertisement{Options: []Option{nil}}, ErrBadValue},
		{"foreign option", RouterAdvertisement{Options: []Option{foreignOption{}}}, ErrBadValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte{1, 2, 3}
			out, err := tc.ra.AppendBinary(prefix)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !bytes.Equal(out, prefix) {
				t.Errorf("failed AppendBinary returned %x, want the input %x", out, prefix)
			}
		})
	}
	// The largest raw option (255 units) is fine.
	if _, err := (RouterAdvertisement{Options: []Option{RawOption{Type: 25, Data: make([]byte, 255*8-2)}}}).MarshalBinary(); err != nil {
		t.Errorf("255-unit raw option: %v", err)
	}
}

type foreignOption struct{}

func (foreignOption) OptionType() OptionType { return 99 }

// TestRouterAdvertisementAgainstMdlayher decodes our encoding with
// github.com/mdlayher/ndp, an independent decoder, and compares every field
// it understands. It also documents the pitfall: mdlayher masks the prefix
// and keeps options 7 and 8 raw.
func TestRouterAdvertisementAgainstMdlayher(t *testing.T) {
	b, err := wantRA.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	m, err := mdndp.ParseMessage(b)
	if err != nil {
		t.Fatalf("mdlayher/ndp: %v", err)
	}
	md, ok := m.(*mdndp.RouterAdvertisement)
	if !ok {
		t.Fatalf("mdlayher/ndp parsed a %T", m)
	}
	if md.CurrentHopLimit != wantRA.CurHopLimit || md.ManagedConfiguration != wantRA.Managed ||
		md.OtherConfiguration != wantRA.Other || md.MobileIPv6HomeAgent != wantRA.HomeAgent ||
		int(md.RouterSelectionPreference) != int(wantRA.RouterPreference) ||
		md.NeighborDiscoveryProxy != wantRA.Proxy || md.RouterLifetime != wantRA.RouterLifetime ||
		md.ReachableTime != wantRA.ReachableTime || md.RetransmitTimer != wantRA.RetransTimer {
		t.Errorf("header fields differ: mdlayher %+v, ours %+v", md, wantRA)
	}
	if len(md.Options) != len(wantRA.Options) {
		t.Fatalf("mdlayher sees %d options, we marshalled %d", len(md.Options), len(wantRA.Options))
	}
	for i, o := range md.Options {
		switch o := o.(type) {
		case *mdndp.LinkLayerAddress:
			if want := wantRA.Options[i].(SourceLinkLayerAddress).Addr; o.Direction != mdndp.Source || !bytes.Equal(o.Addr, want) {
				t.Errorf("option %d: mdlayher %+v, want source %v", i, o, want)
			}
		case *mdndp.MTU:
			if o.MTU != wantRA.Options[i].(MTU).MTU {
				t.Errorf("option %d: MTU %d", i, o.MTU)
			}
		case *mdndp.PrefixInformation:
			w := wantRA.Options[i].(PrefixInformation)
			if o.PrefixLength != uint8(w.Prefix.Bits()) || o.Prefix != w.Masked().Addr() ||
				o.OnLink != w.OnLink || o.AutonomousAddressConfiguration != w.Autonomous ||
				o.ValidLifetime != w.ValidLifetime || o.PreferredLifetime != w.PreferredLifetime {
				t.Errorf("option %d: mdlayher %+v, ours %+v", i, o, w)
			}
			if o.Prefix == w.Prefix.Addr() {
				t.Errorf("mdlayher kept the router address %v; the pitfall note in STYLE.md may be stale", o.Prefix)
			}
		case *mdndp.RawOption:
			// Options 7, 8 and 25: mdlayher keeps them as bytes; ours
			// must encode the same bytes it saw.
			one, err := (RouterAdvertisement{Options: []Option{wantRA.Options[i]}}).MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			ob := one[raOptionsOffset:]
			if o.Type != ob[0] || o.Length != ob[1] || !bytes.Equal(o.Value, ob[2:]) {
				t.Errorf("option %d: mdlayher raw %+v, ours %x", i, o, ob)
			}
		case *mdndp.RecursiveDNSServer:
			if wantRA.Options[i].OptionType() != 25 || len(o.Servers) != 1 || o.Servers[0] != netip.MustParseAddr("2001:db8::53") || o.Lifetime != time.Hour {
				t.Errorf("option %d: mdlayher RDNSS %+v", i, o)
			}
		default:
			t.Errorf("option %d: unexpected mdlayher type %T", i, o)
		}
	}
}

func BenchmarkParseRouterAdvertisement(b *testing.B) {
	msg := unhex(b, goldenRA)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRouterAdvertisement(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendRouterAdvertisement(b *testing.B) {
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = wantRA.AppendBinary(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
