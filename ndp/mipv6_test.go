package ndp

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

func TestMobileIPv6MessagesGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  Message
		hex  string
	}{
		{"dhaad request", DHAADRequest{Identifier: 0x1234},
			`90 00 0000   # type 144, code 0, checksum 0
			 1234 0000    # identifier, R clear`},
		{"dhaad request R", DHAADRequest{Identifier: 0xbeef, MobileRouter: true},
			`90 00 0000 beef 8000  # R (RFC 3963 7.1) = 0x8000`},
		{"dhaad reply empty", DHAADReply{Identifier: 7},
			`91 00 0000   # type 145
			 0007 0000    # identifier 7, R clear, no addresses`},
		{"dhaad reply two", DHAADReply{Identifier: 0x1234, MobileRouter: true, Addresses: []netip.Addr{
			netip.MustParseAddr("2001:db8:1::1"), netip.MustParseAddr("2001:db8:1::2")}},
			`91 00 0000 1234 8000                 # R set
			 20010db8000100000000000000000001     # 2001:db8:1::1 (preferred)
			 20010db8000100000000000000000002     # 2001:db8:1::2`},
		{"mps", MobilePrefixSolicitation{Identifier: 0xabcd},
			`92 00 0000 abcd 0000  # type 146, identifier, reserved`},
		{"mps with unknown option", MobilePrefixSolicitation{Identifier: 1, Options: []Option{RawOption{Type: 200, Data: make([]byte, 6)}}},
			`92 00 0000 0001 0000
			 c8 01 000000000000    # type 200, len 1, kept raw`},
		{"mpa M O", MobilePrefixAdvertisement{Identifier: 0xabcd, Managed: true, Other: true},
			`93 00 0000 abcd c000  # type 147, M (0x8000) | O (0x4000)`},
		{"mpa O with prefix", MobilePrefixAdvertisement{Identifier: 2, Other: true, Options: []Option{
			PrefixInformation{Prefix: netip.MustParsePrefix("2001:db8:1::/64"), OnLink: true, Autonomous: true,
				ValidLifetime: 86400 * time.Second, PreferredLifetime: 14400 * time.Second}}},
			`93 00 0000 0002 4000   # O only
			 03 04 40 c0            # PIO /64, L|A
			 00015180 00003840      # valid 86400 s, preferred 14400 s
			 00000000
			 20010db8000100000000000000000000`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden := unhex(t, tc.hex)
			got, err := ParseMessage(golden)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if !reflect.DeepEqual(got, tc.msg) {
				t.Errorf("parse:\n got %#v\nwant %#v", got, tc.msg)
			}
			out, err := tc.msg.AppendBinary(nil)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if !bytes.Equal(out, golden) {
				t.Errorf("marshal:\n got %x\nwant %x", out, golden)
			}
			if got.ICMPType() != ICMPType(golden[0]) {
				t.Errorf("ICMPType() = %d, want %d", got.ICMPType(), golden[0])
			}
		})
	}
}

// TestMobileIPv6ReservedIgnored: reserved bits and trailing bytes where none
// are defined are ignored on parse and zero on marshal.
func TestMobileIPv6ReservedIgnored(t *testing.T) {
	req, err := ParseDHAADRequest(unhex(t, "90 00 ffff 0001 7fff 0102030405060708"))
	if err != nil {
		t.Fatal(err)
	}
	if req != (DHAADRequest{Identifier: 1}) {
		t.Errorf("request = %+v", req)
	}
	rep, err := ParseDHAADReply(unhex(t, "91 00 0000 0001 ffff"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rep, DHAADReply{Identifier: 1, MobileRouter: true}) {
		t.Errorf("reply = %+v", rep)
	}
	mpa, err := ParseMobilePrefixAdvertisement(unhex(t, "93 00 0000 0001 3fff"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(mpa, MobilePrefixAdvertisement{Identifier: 1}) {
		t.Errorf("mpa = %+v", mpa)
	}
	mps, err := ParseMobilePrefixSolicitation(unhex(t, "92 00 0000 0001 ffff"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(mps, MobilePrefixSolicitation{Identifier: 1}) {
		t.Errorf("mps = %+v", mps)
	}
	if p := mpa.Prefixes(); p != nil {
		t.Errorf("Prefixes() of an option-less MPA = %v", p)
	}
}

func TestParseMobileIPv6Errors(t *testing.T) {
	type parser func([]byte) (Message, error)
	req := func(b []byte) (Message, error) { return ParseDHAADRequest(b) }
	rep := func(b []byte) (Message, error) { return ParseDHAADReply(b) }
	mps := func(b []byte) (Message, error) { return ParseMobilePrefixSolicitation(b) }
	mpa := func(b []byte) (Message, error) { return ParseMobilePrefixAdvertisement(b) }
	for _, tc := range []struct {
		name  string
		parse parser
		zero  Message
		in    string
		want  error
	}{
		{"request empty", req, DHAADRequest{}, "", ErrTruncated},
		{"request 7 bytes", req, DHAADRequest{}, "90 00 0000 0001 80", ErrTruncated},
		{"request wrong type", req, DHAADRequest{}, "91 00 0000 0001 8000", ErrBadType},
		{"request code 1", req, DHAADRequest{}, "90 01 0000 0001 8000", ErrBadCode},
		{"request 2 bytes", req, DHAADRequest{}, "90 00", ErrTruncated},
		{"reply 7 bytes", rep, DHAADReply{}, "91 00 0000 0001 80", ErrTruncated},
		{"reply partial address", rep, DHAADReply{}, "91 00 0000 0001 8000 20010db8000100000000000000000001 2001", ErrBadLength},
		{"reply 15-byte address", rep, DHAADReply{}, "91 00 0000 0001 8000 20010db80001000000000000000000", ErrBadLength},
		{"reply wrong type", rep, DHAADReply{}, "90 00 0000 0001 8000", ErrBadType},
		{"reply code 255", rep, DHAADReply{}, "91 ff 0000 0001 8000", ErrBadCode},
		{"mps short", mps, MobilePrefixSolicitation{}, "92 00 0000 00", ErrTruncated},
		{"mps zero-length option", mps, MobilePrefixSolicitation{}, "92 00 0000 0001 0000 c8 00 000000000000", ErrBadOptionLength},
		{"mps wrong type", mps, MobilePrefixSolicitation{}, "93 00 0000 0001 0000", ErrBadType},
		{"mpa short", mpa, MobilePrefixAdvertisement{}, "93 00 0000", ErrTruncated},
		{"mpa code", mpa, MobilePrefixAdvertisement{}, "93 02 0000 0001 0000", ErrBadCode},
		{"mpa truncated pio", mpa, MobilePrefixAdvertisement{}, "93 00 0000 0001 0000 03 04 40 c0 00000000", ErrTruncated},
		{"mpa pio wrong length", mpa, MobilePrefixAdvertisement{}, "93 00 0000 0001 0000 03 03 40 c0 00000000 00000000 00000000 20010db800000000", ErrBadOptionLength},
		{"mpa zero-length option", mpa, MobilePrefixAdvertisement{}, "93 00 0000 0001 0000 03 00 40 c0 00000000", ErrBadOptionLength},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := tc.parse(unhex(t, tc.in))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !reflect.DeepEqual(m, tc.zero) {
				t.Errorf("failed parse returned a filled value: %#v", m)
			}
		})
	}
}

func TestParseMessageUnknownType(t *testing.T) {
	for _, in := range []string{"80 00 0000 0001 0001", "85 00 0000 00000000", "94 00 0000 0000 0000"} {
		if _, err := ParseMessage(unhex(t, in)); !errors.Is(err, ErrBadType) {
			t.Errorf("ParseMessage(%s) err = %v, want ErrBadType", in, err)
		}
	}
	if _, err := ParseMessage([]byte{0x86}); !errors.Is(err, ErrTruncated) {
		t.Errorf("1-byte message: %v", err)
	}
}

func TestMarshalMobileIPv6Errors(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  Message
		want error
	}{
		{"reply ipv4 address", DHAADReply{Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}, ErrBadValue},
		{"reply zero address", DHAADReply{Addresses: []netip.Addr{{}}}, ErrBadValue},
		{"reply zoned address", DHAADReply{Addresses: []netip.Addr{netip.MustParseAddr("fe80::1%eth0")}}, ErrBadValue},
		{"mps bad raw option", MobilePrefixSolicitation{Options: []Option{RawOption{Type: 200, Data: []byte{1}}}}, ErrBadOptionLength},
		{"mpa bad pio", MobilePrefixAdvertisement{Options: []Option{PrefixInformation{}}}, ErrBadValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte{9}
			out, err := tc.msg.AppendBinary(prefix)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !bytes.Equal(out, prefix) {
				t.Errorf("failed AppendBinary returned %x", out)
			}
		})
	}
	// MarshalBinary is AppendBinary(nil).
	for _, m := range []interface{ MarshalBinary() ([]byte, error) }{
		DHAADRequest{Identifier: 1}, DHAADReply{Identifier: 1}, MobilePrefixSolicitation{Identifier: 1}, MobilePrefixAdvertisement{Identifier: 1},
	} {
		b, err := m.MarshalBinary()
		if err != nil || len(b) != 8 || b[5] != 1 {
			t.Errorf("%T.MarshalBinary() = %x, %v", m, b, err)
		}
	}
}

// TestDHAADReplyFitsMinimumMTU: a reply with MaxDHAADReplyAddresses fits a
// 1280-byte packet with its 40-byte IPv6 header, one more does not.
func TestDHAADReplyFitsMinimumMTU(t *testing.T) {
	addrs := make([]netip.Addr, MaxDHAADReplyAddresses+1)
	for i := range addrs {
		a := netip.MustParseAddr("2001:db8:1::").As16()
		a[15] = byte(i)
		addrs[i] = netip.AddrFrom16(a)
	}
	b, err := DHAADReply{Addresses: addrs[:MaxDHAADReplyAddresses]}.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if n := 40 + len(b); n > 1280 {
		t.Errorf("reply with %d addresses is a %d-byte packet", MaxDHAADReplyAddresses, n)
	}
	b, _ = DHAADReply{Addresses: addrs}.MarshalBinary()
	if n := 40 + len(b); n <= 1280 {
		t.Errorf("MaxDHAADReplyAddresses is not the maximum: %d addresses fit in %d bytes", len(addrs), n)
	}
}
