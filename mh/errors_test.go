package mh

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// mhRaw builds an MH of type t from body (bytes after the checksum) and raw
// option bytes, padded with zeros (Pad1s) to a multiple of 8, Header Len set.
func mhRaw(t Type, body, opts []byte) []byte {
	b := append([]byte{PayloadProtoNone, 0, byte(t), 0, 0, 0}, body...)
	b = append(b, opts...)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	b[OffHeaderLen] = byte(len(b)/8 - 1)
	return b
}

var buBody = hx("0001 c000 0001") // sequence, flags, lifetime

func TestParseTruncatedAtEveryLength(t *testing.T) {
	for _, tc := range goldenCases {
		for n := 0; n < len(tc.wire); n++ {
			_, err := Parse(tc.wire[:n])
			if !errors.Is(err, ErrTruncated) {
				t.Errorf("%s cut to %d bytes: err %v, want ErrTruncated", tc.name, n, err)
			}
		}
	}
}

func TestParseTrailingBytes(t *testing.T) {
	for _, tc := range goldenCases {
		for _, extra := range []int{1, 8} {
			b := append(append([]byte(nil), tc.wire...), make([]byte, extra)...)
			if _, err := Parse(b); !errors.Is(err, ErrBadLength) {
				t.Errorf("%s + %d bytes: err %v, want ErrBadLength", tc.name, extra, err)
			}
		}
	}
}

func TestParseBadOptionLength(t *testing.T) {
	for _, tc := range []struct {
		typ  OptionType
		good int
		bad  []int
	}{
		{OptBindingRefreshAdvice, 2, []int{0, 1, 3, 4}},
		{OptAlternateCareOfAddress, 16, []int{0, 4, 15, 17, 20}},
		{OptNonceIndices, 4, []int{0, 2, 3, 5, 16}},
		{OptBindingAuthData, 12, []int{0, 11, 13, 16}},
		{OptMobileNetworkPrefix, 18, []int{0, 16, 17, 19}},
		{OptMobileNodeIdentifier, 1, []int{0}},
		{OptAuthentication, 5, []int{0, 1, 4}},
		{OptReplayProtection, 8, []int{0, 4, 7, 9}},
		{OptIPv4HomeAddress, 6, []int{0, 4, 5, 7}},
		{OptIPv4AddressAck, 6, []int{0, 5, 7, 8}},
		{OptNATDetection, 6, []int{0, 2, 5, 7}},
		{OptIPv4CareOfAddress, 6, []int{0, 4, 5, 7}},
		{OptBindingIdentifier, 4, []int{0, 2, 3, 5, 6, 7, 9, 16, 19, 21}},
	} {
		mk := func(n int) []byte {
			opt := append([]byte{byte(tc.typ), byte(n)}, make([]byte, n)...)
			return mhRaw(TypeBU, buBody, opt)
		}
		if _, err := Parse(mk(tc.good)); err != nil {
			t.Errorf("%v with length %d: %v", tc.typ, tc.good, err)
		}
		for _, n := range tc.bad {
			_, err := Parse(mk(n))
			if !errors.Is(err, ErrBadOption) || errors.Is(err, ErrTruncated) {
				t.Errorf("%v with length %d: err %v, want ErrBadOption only", tc.typ, n, err)
			}
		}
	}
}

func TestParseOptionPastEnd(t *testing.T) {
	for _, tc := range []struct {
		name string
		mh   []byte
	}{
		// BU body ends at 12; 4 option bytes follow (16 in all).
		{"length runs past end", append(hx("3b 01 05 00 0000"), append(buBody, hx("01 03 0000")...)...)},
		{"alt-coa runs past end", append(hx("3b 01 05 00 0000"), append(buBody, hx("03 10 2001")...)...)},
		{"unknown runs past end", append(hx("3b 01 05 00 0000"), append(buBody, hx("00 00 63 02")...)...)},
		{"no length byte", append(hx("3b 01 05 00 0000"), append(buBody, hx("00 00 00 06")...)...)},
	} {
		_, err := Parse(tc.mh)
		if !errors.Is(err, ErrBadOption) || !errors.Is(err, ErrTruncated) {
			t.Errorf("%s: err %v, want ErrBadOption and ErrTruncated", tc.name, err)
		}
		if err := WalkOptions(tc.mh, func(OptionType, []byte) error { return nil }); !errors.Is(err, ErrBadOption) {
			t.Errorf("%s: WalkOptions err %v, want ErrBadOption", tc.name, err)
		}
	}
}

func TestParseOptionValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  []byte
	}{
		{"MNP length 129", hx("06 12 00 81", hexMNP)},
		{"IPv4 HoA prefix 33", hx("1d 06 84 00 c000020a")},
		{"IPv4 Ack prefix 40", hx("1e 06 00 a0 c000020a")},
	} {
		if _, err := Parse(mhRaw(TypeBU, buBody, tc.opt)); !errors.Is(err, ErrBadOption) {
			t.Errorf("%s: err %v, want ErrBadOption", tc.name, err)
		}
	}
}

func TestParseOptionOrder(t *testing.T) {
	bad := hx("05 0c 000000000000000000000000")
	auth := func(sub byte) []byte { return hx("09 11", "0"+string('0'+sub), "00000100 000000000000000000000000") }
	for _, tc := range []struct {
		name string
		opts []byte
		ok   bool
	}{
		{"BAD last", append(hx("04 04 0001 0002"), bad...), true},
		{"BAD then padding", append(append([]byte(nil), bad...), hx("01 00")...), true},
		{"BAD then NI", append(append([]byte(nil), bad...), hx("04 04 0001 0002")...), false},
		{"AUTH then MNP", append(auth(1), hx("06 12 00 40", hexMNP)...), false},
		{"MN-HA then MN-AAA", append(auth(1), auth(2)...), true},
		{"AUTH then BAD", append(auth(1), bad...), false},
		{"BAD then AUTH", append(append([]byte(nil), bad...), auth(1)...), false},
	} {
		_, err := Parse(mhRaw(TypeBU, buBody, tc.opts))
		if tc.ok && err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if !tc.ok && !errors.Is(err, ErrOptionOrder) {
			t.Errorf("%s: err %v, want ErrOptionOrder", tc.name, err)
		}
	}
}

func TestParseHeaderChecks(t *testing.T) {
	for typ := TypeBRR; typ <= TypeBE; typ++ {
		min := int(minHeaderLen[typ])
		// A Header Len of min-1 with a packet of matching length.
		if min > 0 {
			b := make([]byte, min*8)
			b[OffPayloadProto], b[OffHeaderLen], b[OffType] = PayloadProtoNone, byte(min-1), byte(typ)
			_, err := Parse(b)
			var se *StatusError
			if !errors.Is(err, ErrHeaderLenTooSmall) || !errors.As(err, &se) {
				t.Fatalf("%v header len %d: err %v, want ErrHeaderLenTooSmall StatusError", typ, min-1, err)
			}
			if !se.ParamProblem || se.Code != 0 || se.Pointer != 1 || se.BEStatus != 0 {
				t.Errorf("%v header len too small: answer %+v, want Parameter Problem code 0 pointer 1", typ, se)
			}
		}
		// The minimum itself parses (options area all Pad1, if any).
		b := make([]byte, (min+1)*8)
		b[OffPayloadProto], b[OffHeaderLen], b[OffType] = PayloadProtoNone, byte(min), byte(typ)
		if typ == TypeBU || typ == TypeBA {
			copy(b[12:], hx("01 02 0000"))
		}
		m, err := Parse(b)
		if err != nil || m.MHType() != typ {
			t.Errorf("%v at minimum header len: %v, %v", typ, m, err)
		}
		// Wrong Payload Proto.
		b[OffPayloadProto] = 6
		_, err = Parse(b)
		var se *StatusError
		if !errors.Is(err, ErrBadPayloadProto) || !errors.As(err, &se) || !se.ParamProblem || se.Pointer != 0 || se.Code != 0 {
			t.Errorf("%v payload proto 6: err %v, want Parameter Problem pointer 0", typ, err)
		}
	}
}

func TestParseUnknownType(t *testing.T) {
	for _, typ := range []byte{8, 16, 255} {
		b := make([]byte, 16)
		b[OffPayloadProto], b[OffHeaderLen], b[OffType] = PayloadProtoNone, 1, typ
		_, err := Parse(b)
		var se *StatusError
		if !errors.Is(err, ErrUnknownType) || !errors.As(err, &se) {
			t.Fatalf("type %d: err %v, want ErrUnknownType StatusError", typ, err)
		}
		if se.BEStatus != BEUnrecognizedMHType || se.ParamProblem {
			t.Errorf("type %d: answer %+v, want Binding Error status 2", typ, se)
		}
		// Unknown type wins over a bad Payload Proto (RFC 6275 9.2 order).
		b[OffPayloadProto] = 6
		if _, err := Parse(b); !errors.Is(err, ErrUnknownType) {
			t.Errorf("type %d with payload proto 6: err %v, want ErrUnknownType", typ, err)
		}
	}
}

func TestMarshalErrors(t *testing.T) {
	many := make([]Option, 90)
	for i := range many {
		many[i] = MobileNetworkPrefix{Prefix: mnp}
	}
	bu := func(o ...Option) BindingUpdate { return BindingUpdate{Options: o} }
	for _, tc := range []struct {
		name string
		msg  Message
		want error
	}{
		{"nil message", nil, ErrUnknownType},
		{"negative BU lifetime", BindingUpdate{Lifetime: -time.Second}, ErrBadLifetime},
		{"negative BA lifetime", BindingAck{Lifetime: -time.Second}, ErrBadLifetime},
		{"negative BRA", BindingAck{Options: []Option{BindingRefreshAdvice{Interval: -1}}}, ErrBadLifetime},
		{"BE IPv4 home address", BindingError{HomeAddress: v4HoA}, ErrBadAddress},
		{"IPv4 alt-coa", bu(AlternateCareOfAddress{Addr: v4CoA}), ErrBadAddress},
		{"missing alt-coa", bu(AlternateCareOfAddress{}), ErrBadAddress},
		{"zoned alt-coa", bu(AlternateCareOfAddress{Addr: netip.MustParseAddr("fe80::1%eth0")}), ErrBadAddress},
		{"IPv4 MNP", bu(MobileNetworkPrefix{Prefix: netip.MustParsePrefix("192.0.2.0/24")}), ErrBadAddress},
		{"invalid MNP", bu(MobileNetworkPrefix{}), ErrBadAddress},
		{"IPv6 IPv4-HoA", bu(IPv4HomeAddress{PrefixLen: 32, Addr: hoa}), ErrBadAddress},
		{"IPv4-HoA prefix 33", bu(IPv4HomeAddress{PrefixLen: 33, Addr: v4HoA}), ErrBadOption},
		{"IPv4-Ack prefix 33", BindingAck{Options: []Option{IPv4AddressAck{PrefixLen: 33, Addr: v4HoA}}}, ErrBadOption},
		{"IPv4-Ack IPv6", BindingAck{Options: []Option{IPv4AddressAck{Addr: hoa}}}, ErrBadAddress},
		{"IPv6 IPv4-CoA", bu(IPv4CareOfAddress{Addr: coa}), ErrBadAddress},
		{"missing IPv4-CoA", bu(IPv4CareOfAddress{}), ErrBadAddress},
		{"BID priority 128", bu(BindingIdentifier{BID: 1, Priority: 128}), ErrBadOption},
		{"raw known type", bu(RawOption{Type: OptAlternateCareOfAddress, Data: make([]byte, 16)}), ErrBadOption},
		{"raw Pad1 with data", bu(RawOption{Type: OptPad1, Data: []byte{0}}), ErrBadOption},
		{"raw too long", bu(RawOption{Type: 99, Data: make([]byte, 256)}), ErrTooLong},
		{"MN-ID too long", bu(MobileNodeIdentifier{Subtype: 1, Identifier: make([]byte, 255)}), ErrTooLong},
		{"auth too long", bu(Authentication{Subtype: 1, Data: make([]byte, 251)}), ErrTooLong},
		{"nil option", bu(nil), ErrBadOption},
		{"BAD not last", bu(BindingAuthData{}, NonceIndices{}), ErrOptionOrder},
		{"AUTH not last", bu(Authentication{Subtype: 1}, MobileNetworkPrefix{Prefix: mnp}), ErrOptionOrder},
		{"too long", bu(many...), ErrTooLong},
	} {
		_, err := Marshal(tc.msg)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
		prefix := []byte{1, 2, 3}
		got, err := AppendMessage(prefix, tc.msg)
		if err == nil || len(got) != 3 {
			t.Errorf("%s: AppendMessage returned %x, %v; want the input back and an error", tc.name, got, err)
		}
	}
}

func TestStatusErrorText(t *testing.T) {
	b := make([]byte, 16)
	b[OffPayloadProto], b[OffHeaderLen], b[OffType] = PayloadProtoNone, 1, 9
	_, err := Parse(b)
	if s := err.Error(); !strings.Contains(s, "Binding Error status 2") || !strings.Contains(s, "MH type 9") {
		t.Errorf("error text %q", s)
	}
}
