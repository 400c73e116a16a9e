package mh

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/internal/testutil"
)

func TestSeqNewer(t *testing.T) {
	for _, tc := range []struct {
		a, b uint16
		want bool
	}{
		{16, 15, true},
		{15, 15, false},
		{14, 15, false},
		{0, 15, false},
		{32782, 15, true},  // TAHI: difference 32767 is newer
		{32783, 15, false}, // TAHI: difference 32768 is stale
		{65535, 15, false}, // RFC 6275 9.5.1: 32783..65535 stale after 15
		{0, 65535, true},   // wrap-around
		{1, 65535, true},
		{65535, 0, false},
		{32767, 0, true},
		{32768, 0, false},
	} {
		if got := SeqNewer(tc.a, tc.b); got != tc.want {
			t.Errorf("SeqNewer(%d, %d) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestLifetimeUnits(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want uint16
	}{
		{0, 0},
		{-time.Second, 0},
		{3999 * time.Millisecond, 0},
		{4 * time.Second, 1},
		{7 * time.Second, 1},
		{420 * time.Second, 105},
		{421 * time.Second, 105},
		{MaxLifetime, 0xFFFF},
		{MaxLifetime + 4*time.Second, 0xFFFF},
		{1 << 62, 0xFFFF},
	} {
		if got := LifetimeUnits(tc.d); got != tc.want {
			t.Errorf("LifetimeUnits(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
	if LifetimeFromUnits(0xFFFF) != 262140*time.Second {
		t.Error("LifetimeFromUnits(0xFFFF)")
	}
	// Marshal rounds down and clamps.
	b, _ := Marshal(BindingUpdate{Lifetime: 1 << 50})
	if binary.BigEndian.Uint16(b[offBULifetime:]) != 0xFFFF {
		t.Errorf("huge lifetime: %x", b)
	}
	b, _ = Marshal(BindingAck{Lifetime: 11 * time.Second})
	if binary.BigEndian.Uint16(b[offBALifetime:]) != 2 {
		t.Errorf("11 s: %x", b)
	}
}

func TestStrings(t *testing.T) {
	for _, tc := range []struct {
		got  interface{ String() string }
		want string
	}{
		{TypeBU, "BU"},
		{TypeBE, "BE"},
		{Type(9), "MH type 9"},
		{StatusSequenceOutOfWindow, "135 sequence number out of window"},
		{StatusAccepted, "0 accepted"},
		{StatusForwardingSetupFailed, "143 forwarding setup failed"},
		{Status(200), "200 unknown (rejected)"},
		{Status(7), "7 unknown (success)"},
		{BEUnrecognizedMHType, "2 unrecognized MH type"},
		{BEStatus(9), "9 unknown"},
		{IPv4AckDynamicNotAvailable, "132 dynamic IPv4 home address assignment not available"},
		{OptMobileNetworkPrefix, "Mobile Network Prefix"},
		{OptionType(99), "option 99"},
		{BUFlagA | BUFlagH | BUFlagR, "AHR"},
		{BUFlags(0xFF80), "AHLKMRPFT"},
		{BUFlagA | 0x0040, "A+0x0040"},
		{BUFlags(0), "-"},
		{BAFlagR, "R"},
		{BAFlagK | 0x08, "K+0x08"},
		{BAFlags(0), "-"},
	} {
		if s := tc.got.String(); s != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.got, s, tc.want)
		}
	}
	if !IPv4AckSuccess.Success() || IPv4AckFailure.Success() {
		t.Error("IPv4AckStatus.Success")
	}
}

func TestWalkOptions(t *testing.T) {
	tc := goldenCases[9] // Alt-CoA and two MNPs
	if !strings.Contains(tc.name, "two MNPs") {
		t.Fatalf("golden case moved: %s", tc.name)
	}
	var types []OptionType
	var lens []int
	err := WalkOptions(tc.wire, func(t OptionType, data []byte) error {
		types = append(types, t)
		lens = append(lens, len(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []OptionType{OptAlternateCareOfAddress, OptMobileNetworkPrefix, OptMobileNetworkPrefix}; !equalSlices(types, want) {
		t.Errorf("types %v, want %v", types, want)
	}
	if want := []int{16, 18, 18}; !equalSlices(lens, want) {
		t.Errorf("lengths %v", lens)
	}
	stop := errors.New("stop")
	n := 0
	if err := WalkOptions(tc.wire, func(OptionType, []byte) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("stop: %v after %d", err, n)
	}
	allocs := testing.AllocsPerRun(100, func() {
		_ = WalkOptions(tc.wire, func(OptionType, []byte) error { n++; return nil })
	})
	if allocs != 0 {
		t.Errorf("WalkOptions allocates %.0f times", allocs)
	}
	if err := WalkOptions(tc.wire[:8], func(OptionType, []byte) error { return nil }); !errors.Is(err, ErrTruncated) {
		t.Errorf("truncated: %v", err)
	}
}

func equalSlices[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseAllocs(t *testing.T) {
	bu, _ := Marshal(BindingUpdate{Sequence: 1, Flags: BUFlagA | BUFlagH | BUFlagR, Lifetime: time.Hour,
		Options: []Option{AlternateCareOfAddress{Addr: coa}, MobileNetworkPrefix{Prefix: mnp}}})
	// One message box, one option slice, one box per option.
	if a := testing.AllocsPerRun(100, func() { _, _ = Parse(bu) }); a > 4 {
		t.Errorf("Parse(BU with 2 options) allocates %.0f times, want <= 4", a)
	}
	m := Message(BindingUpdate{Options: []Option{AlternateCareOfAddress{Addr: coa}, MobileNetworkPrefix{Prefix: mnp}}})
	buf := make([]byte, 0, 128)
	if a := testing.AllocsPerRun(100, func() { _, _ = AppendMessage(buf[:0], m) }); a != 0 {
		t.Errorf("AppendMessage into a large enough buffer allocates %.0f times", a)
	}
}

func TestUDP4(t *testing.T) {
	src := netip.MustParseAddrPort("198.18.0.5:40000")
	dst := netip.AddrPortFrom(netip.MustParseAddr("203.0.113.1"), DSMIPv6Port)
	inner := mustBuild(t, Packet{Src: hoa, Dst: haAddr, Message: BindingUpdate{Sequence: 1, Flags: BUFlagA | BUFlagH,
		Options: []Option{IPv4CareOfAddress{Addr: netip.MustParseAddr("198.18.0.5")}}}})
	b, err := BuildUDP4(src, dst, inner)
	if err != nil {
		t.Fatal(err)
	}
	// 45 00 0060 | 0000 0000 | 40 11 csum | c6120005 | cb007101: version 4,
	// IHL 5, total 92 = 20 + 8 + 64, TTL 64, UDP, 198.18.0.5 → 203.0.113.1;
	// then 9c40 105f 0048 csum: ports 40000 → 4191, UDP length 72.
	if len(b) != 92 || b[0] != 0x45 || b[9] != 17 || binary.BigEndian.Uint16(b[2:]) != 92 ||
		!bytes.Equal(b[12:20], hx("c6120005 cb007101")) || !bytes.Equal(b[20:26], hx("9c40 105f 0048")) {
		t.Errorf("BuildUDP4: %x", b)
	}
	// Reference: the IPv4 header checksum of RFC 1071 over the header.
	if fold(sum16(b[:20], 0)) != 0xFFFF {
		t.Errorf("IPv4 header checksum 0x%04x wrong", binary.BigEndian.Uint16(b[10:]))
	}
	gs, gd, payload, err := ParseUDP4(b)
	if err != nil || gs != src || gd != dst || !bytes.Equal(payload, inner) {
		t.Fatalf("ParseUDP4: %v %v %v %v", gs, gd, payload, err)
	}
	if v, err := InnerVersion(payload); v != 6 || err != nil {
		t.Errorf("InnerVersion: %d %v", v, err)
	}
	if v, err := InnerVersion(b); v != 4 || err != nil {
		t.Errorf("InnerVersion v4: %d %v", v, err)
	}
	if _, err := InnerVersion(nil); !errors.Is(err, ErrTruncated) {
		t.Errorf("InnerVersion(nil): %v", err)
	}
	if _, err := InnerVersion([]byte{0x50}); !errors.Is(err, ErrBadPacket) {
		t.Errorf("InnerVersion(5): %v", err)
	}
	// UDP checksum 0 means none (IPv4).
	nz := append([]byte(nil), b...)
	nz[26], nz[27] = 0, 0
	if _, _, _, err := ParseUDP4(nz); err != nil {
		t.Errorf("no UDP checksum: %v", err)
	}
	// Ethernet padding is ignored.
	if _, _, _, err := ParseUDP4(append(append([]byte(nil), b...), 0, 0)); err != nil {
		t.Errorf("padding: %v", err)
	}
	for _, tc := range []struct {
		name   string
		mutate func([]byte) []byte
		want   error
	}{
		{"payload bit", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, ErrBadChecksum},
		{"header checksum", func(b []byte) []byte { b[8]--; return b }, ErrBadChecksum},
		{"version", func(b []byte) []byte { b[0] = 0x65; return b }, ErrBadPacket},
		{"IHL 4", func(b []byte) []byte { b[0] = 0x44; return b }, ErrBadPacket},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }, ErrTruncated},
		{"short", func(b []byte) []byte { return b[:19] }, ErrTruncated},
		{"protocol", func(b []byte) []byte { b[9] = 6; fixIPv4Sum(b); return b }, ErrBadPacket},
		{"fragment", func(b []byte) []byte { b[6] = 0x20; fixIPv4Sum(b); return b }, ErrBadPacket},
		{"UDP length", func(b []byte) []byte { b[25]++; return b }, ErrBadLength},
	} {
		if _, _, _, err := ParseUDP4(tc.mutate(append([]byte(nil), b...))); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	for n := range len(b) {
		if _, _, _, err := ParseUDP4(b[:n]); err == nil {
			t.Errorf("cut to %d: parsed", n)
		}
	}
	if _, err := BuildUDP4(netip.AddrPortFrom(hoa, 1), dst, nil); !errors.Is(err, ErrBadAddress) {
		t.Errorf("IPv6 source: %v", err)
	}
	if _, err := BuildUDP4(src, dst, make([]byte, 70000)); !errors.Is(err, ErrTooLong) {
		t.Errorf("too long: %v", err)
	}
}

func fixIPv4Sum(b []byte) {
	b[10], b[11] = 0, 0
	binary.BigEndian.PutUint16(b[10:], ^fold(sum16(b[:20], 0)))
}

// The MN-HA authenticator against Python's hmac, which also finds the
// covered bytes on its own.
func TestMNHAAuthenticatorKnownAnswer(t *testing.T) {
	py := testutil.RequireTool(t, "/usr/bin/python3")
	key := hx("000102030405060708090a0b0c0d0e0f")
	for _, tc := range []struct {
		name     string
		coa, hoa netip.Addr
		msg      Message
	}{
		{"BU IPv6 CoA", coa, hoa, BindingUpdate{Sequence: 9, Flags: BUFlagA | BUFlagH | BUFlagR, Lifetime: time.Hour,
			Options: []Option{
				AlternateCareOfAddress{Addr: coa},
				MobileNodeIdentifier{Subtype: MNIDSubtypeNAI, Identifier: []byte("mr@example.net")},
				ReplayProtection{Timestamp: 0xe1234567_00000001},
				Authentication{Subtype: AuthSubtypeMNHA, SPI: 0x100, Data: make([]byte, MNHAAuthLen)},
			}}},
		{"BA IPv4 CoA", v4CoA, hoa, BindingAck{Sequence: 9, Flags: BAFlagR, Lifetime: time.Hour,
			Options: []Option{
				NATDetection{Refresh: 110},
				Authentication{Subtype: AuthSubtypeMNHA, SPI: 0x100, Data: make([]byte, MNHAAuthLen)},
			}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mh, err := Marshal(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			// A checksum already in place must not change the result.
			SetChecksum(tc.coa, haAddr, mh)
			if err := SignMNHA(key, tc.coa, tc.hoa, mh); err != nil {
				t.Fatal(err)
			}
			loc, err := FindAuthOption(mh, AuthSubtypeMNHA)
			if err != nil {
				t.Fatal(err)
			}
			script := `
import hmac, hashlib, sys, ipaddress
key, coa, hoa, mh = bytes.fromhex(sys.argv[1]), sys.argv[2], sys.argv[3], bytearray.fromhex(sys.argv[4])
def a16(s):
    a = ipaddress.ip_address(s)
    return (ipaddress.IPv6Address('::ffff:' + s) if a.version == 4 else a).packed
mh[4:6] = b'\0\0'
i = 12  # BU and BA bodies end at 12
while True:
    if mh[i] == 0: i += 1; continue
    if mh[i] == 9: end = i + 7; break
    i += 2 + mh[i+1]
print(hmac.new(key, a16(coa) + a16(hoa) + bytes(mh[:end]), hashlib.sha1).hexdigest()[:24])
`
			out, err := exec.Command(py, "-c", script, hex.EncodeToString(key), tc.coa.String(), tc.hoa.String(), hex.EncodeToString(mh)).CombinedOutput()
			if err != nil {
				t.Fatalf("python: %v\n%s", err, out)
			}
			got := hex.EncodeToString(mh[loc.DataOffset : loc.DataOffset+loc.DataLen])
			if want := strings.TrimSpace(string(out)); got != want {
				t.Errorf("authenticator %s, python %s", got, want)
			}
			if mh[len(mh)-MNHAAuthLen-7] != byte(OptAuthentication) || loc.Offset != len(mh)-19 || loc.SPI != 0x100 {
				t.Errorf("auth option not last: %+v in %d bytes", loc, len(mh))
			}
			SetChecksum(tc.coa, haAddr, mh)
			if err := VerifyMNHA(key, tc.coa, tc.hoa, mh); err != nil {
				t.Errorf("VerifyMNHA: %v", err)
			}
			for _, bad := range []struct {
				name     string
				key      []byte
				coa, hoa netip.Addr
				flip     int
			}{
				{"wrong key", hx("ff"), tc.coa, tc.hoa, -1},
				{"wrong CoA", key, haAddr, tc.hoa, -1},
				{"wrong HoA", key, tc.coa, haAddr, -1},
				{"sequence changed", key, tc.coa, tc.hoa, 7},
				{"SPI changed", key, tc.coa, tc.hoa, loc.DataOffset - 1},
				{"authenticator changed", key, tc.coa, tc.hoa, loc.DataOffset + 3},
			} {
				b := append([]byte(nil), mh...)
				if bad.flip >= 0 {
					b[bad.flip] ^= 0x10
				}
				if err := VerifyMNHA(bad.key, bad.coa, bad.hoa, b); !errors.Is(err, ErrAuthFailed) {
					t.Errorf("%s: %v, want ErrAuthFailed", bad.name, err)
				}
			}
		})
	}
}

func TestFindAuthOption(t *testing.T) {
	mh, _ := Marshal(BindingUpdate{Options: []Option{
		Authentication{Subtype: AuthSubtypeMNHA, SPI: 300, Data: make([]byte, 12)},
		Authentication{Subtype: AuthSubtypeMNAAA, SPI: 3, Data: make([]byte, 20)},
	}})
	for _, sub := range []uint8{AuthSubtypeMNHA, AuthSubtypeMNAAA} {
		loc, err := FindAuthOption(mh, sub)
		if err != nil || loc.Subtype != sub || mh[loc.Offset] != byte(OptAuthentication) || mh[loc.Offset+2] != sub ||
			loc.DataOffset != loc.Offset+7 || int(mh[loc.Offset+1]) != 5+loc.DataLen {
			t.Errorf("subtype %d: %+v %v", sub, loc, err)
		}
	}
	if _, err := FindAuthOption(mh, 7); !errors.Is(err, ErrNoAuthOption) {
		t.Errorf("subtype 7: %v", err)
	}
	// MN-AAA (27 bytes, 4n+1) is last and ends the MH: no padding after it.
	loc, _ := FindAuthOption(mh, AuthSubtypeMNAAA)
	if loc.DataOffset+loc.DataLen != len(mh) || len(mh)%8 != 0 {
		t.Errorf("MN-AAA option ends at %d of %d", loc.DataOffset+loc.DataLen, len(mh))
	}
	noauth, _ := Marshal(BindingUpdate{})
	if err := SignMNHA(nil, coa, hoa, noauth); !errors.Is(err, ErrNoAuthOption) {
		t.Errorf("SignMNHA without option: %v", err)
	}
	short, _ := Marshal(BindingUpdate{Options: []Option{Authentication{Subtype: AuthSubtypeMNHA, Data: make([]byte, 4)}}})
	if err := SignMNHA(nil, coa, hoa, short); !errors.Is(err, ErrBadOption) {
		t.Errorf("SignMNHA with 4-byte data: %v", err)
	}
}

func TestExplicitPadding(t *testing.T) {
	m := BindingUpdate{Options: []Option{RawOption{Type: OptPad1}, RawOption{Type: OptPadN, Data: []byte{0, 0}}}}
	b, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	want := hx(
		"3b 02 05 00 0000 0000 0000 0000", // BU, Header Len 2 (24)
		"00",                              // explicit Pad1 at 12
		"01 02 0000",                      // explicit PadN(4) at 13
		"01 05 0000000000",                // PadN(7) to 24
	)
	if !bytes.Equal(b, want) {
		t.Fatalf("got %x\nwant %x", b, want)
	}
	got, err := Parse(b)
	if err != nil || got.MobilityOptions() != nil {
		t.Errorf("Parse keeps padding: %#v, %v", got, err)
	}
}
