package mh

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

var regBU = BindingUpdate{Sequence: 0x6f30, Flags: BUFlagA | BUFlagH | BUFlagR, Lifetime: 86396 * time.Second,
	Options: []Option{AlternateCareOfAddress{Addr: coa}, MobileNetworkPrefix{Prefix: mnp}}}

var regBA = BindingAck{Status: StatusAccepted, Flags: BAFlagR, Sequence: 0x6f30, Lifetime: 86396 * time.Second}

func mustBuild(t *testing.T, p Packet) []byte {
	t.Helper()
	b, err := BuildPacket(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBuildPacketGolden(t *testing.T) {
	bu := mustBuild(t, Packet{Src: coa, Dst: haAddr, HomeAddress: hoa, Message: regBU})
	mh, _ := Marshal(regBU)
	want := hx(
		"60000000",                            // version 6, traffic class 0, flow label 0
		"0050",                                // payload length 80 = 24 + 56
		"3c",                                  // next header 60 (destination options)
		"40",                                  // hop limit 64 (default)
		hexCoA,                                // source: care-of address
		"20010db8 00010000 00000000 00000001", // destination: home agent
		"87",                                  // DO: next header 135 (MH)
		"02",                                  // DO: hdr ext len 2 (24 bytes)
		"01 02 0000",                          // PadN(4): HAO at 8n+6
		"c9 10", hexHoA,                       // Home Address option
	)
	if !bytes.Equal(bu[:len(want)], want) {
		t.Errorf("BU headers:\n got %x\nwant %x", bu[:len(want)], want)
	}
	got := bu[len(want):]
	if !bytes.Equal(got[:4], mh[:4]) || !bytes.Equal(got[6:], mh[6:]) {
		t.Errorf("BU MH:\n got %x\nwant %x (checksum aside)", got, mh)
	}
	if err := VerifyChecksum(hoa, haAddr, got); err != nil {
		t.Errorf("BU checksum over the home address: %v", err)
	}

	ba := mustBuild(t, Packet{Src: haAddr, Dst: coa, RoutingHome: hoa, HopLimit: 255, Message: regBA})
	want = hx(
		"60000000 0028 2b ff",                 // v6, payload 40 = 24 + 16, next header 43 (routing), hop limit 255
		"20010db8 00010000 00000000 00000001", // source: home agent
		hexCoA,                                // destination: care-of address
		"87",                                  // RH: next header 135
		"02",                                  // RH: hdr ext len 2
		"02",                                  // routing type 2
		"01",                                  // segments left 1
		"00000000",                            // reserved
		hexHoA,                                // home address
	)
	if !bytes.Equal(ba[:len(want)], want) {
		t.Errorf("BA headers:\n got %x\nwant %x", ba[:len(want)], want)
	}
	if err := VerifyChecksum(haAddr, hoa, ba[len(want):]); err != nil {
		t.Errorf("BA checksum over the home address as destination: %v", err)
	}

	both := mustBuild(t, Packet{Src: coa, Dst: haAddr, HomeAddress: hoa, RoutingHome: hoa, Message: regBA})
	if both[6] != ProtoRouting || both[40] != ProtoDestOpts || both[64] != ProtoMH {
		t.Errorf("RH2 then DO then MH expected: next headers %d %d %d", both[6], both[40], both[64])
	}
	if err := VerifyChecksum(hoa, hoa, both[88:]); err != nil {
		t.Errorf("both: %v", err)
	}

	plain := mustBuild(t, Packet{Src: hoa, Dst: haAddr, Message: regBU})
	if plain[6] != ProtoMH || len(plain) != 40+56 {
		t.Errorf("plain BU: next header %d, %d bytes", plain[6], len(plain))
	}
	if err := VerifyChecksum(hoa, haAddr, plain[40:]); err != nil {
		t.Errorf("plain: %v", err)
	}
}

func TestParseSignalRoundTrip(t *testing.T) {
	for _, p := range []Packet{
		{Src: coa, Dst: haAddr, HopLimit: 64, HomeAddress: hoa, NextHeader: ProtoMH, Message: regBU},
		{Src: haAddr, Dst: coa, HopLimit: 64, RoutingHome: hoa, NextHeader: ProtoMH, Message: regBA},
		{Src: coa, Dst: haAddr, HopLimit: 1, HomeAddress: hoa, RoutingHome: hoa, NextHeader: ProtoMH, Message: regBA},
		{Src: hoa, Dst: haAddr, HopLimit: 64, NextHeader: ProtoMH, Message: BindingError{Status: BEUnrecognizedMHType, HomeAddress: netip.IPv6Unspecified()}},
	} {
		b := mustBuild(t, p)
		got, raw, err := ParsePacket(b)
		if err != nil {
			t.Fatalf("ParsePacket: %v", err)
		}
		if !reflect.DeepEqual(got, p) {
			t.Errorf("ParsePacket:\n got %+v\nwant %+v", got, p)
		}
		if !bytes.Equal(raw, b[len(b)-len(raw):]) || Type(raw[OffType]) != p.Message.MHType() {
			t.Errorf("raw MH %x", raw)
		}
		// What a raw socket for the first header delivers.
		got, _, err = ParseSignal(p.Src, p.Dst, b[6], b[IPv6HeaderLen:])
		p.HopLimit = 0
		if err != nil || !reflect.DeepEqual(got, p) {
			t.Errorf("ParseSignal: %+v, %v", got, err)
		}
		// Ethernet padding after the payload is ignored.
		if _, _, err := ParsePacket(append(b, 0, 0, 0, 0)); err != nil {
			t.Errorf("with trailing padding: %v", err)
		}
	}
}

// ext is one extension header to splice in front of the MH.
type ext struct {
	proto byte
	b     []byte
}

// withExts inserts extension headers after the IPv6 header of pkt, which
// must have no extension headers, fixing the Next Header chain and Payload
// Length.
func withExts(pkt []byte, exts ...ext) []byte {
	out := append([]byte(nil), pkt[:IPv6HeaderLen]...)
	next := pkt[ipv6OffNextHeader]
	out[ipv6OffNextHeader] = exts[0].proto
	for i, e := range exts {
		h := append([]byte(nil), e.b...)
		if i+1 < len(exts) {
			h[0] = exts[i+1].proto
		} else {
			h[0] = next
		}
		out = append(out, h...)
	}
	out = append(out, pkt[IPv6HeaderLen:]...)
	binary.BigEndian.PutUint16(out[ipv6OffPayloadLen:], uint16(len(out)-IPv6HeaderLen))
	return out
}

func TestParsePacketExtensionHeaders(t *testing.T) {
	plain := mustBuild(t, Packet{Src: coa, Dst: haAddr, Message: regBU})
	hbh := ext{ProtoHopByHop, hx("00 00 05 02 0000 01 00")} // router alert + PadN
	rt0 := ext{ProtoRouting, hx("00 02 00 00 00000000", hexCoA)}
	rt0live := ext{ProtoRouting, hx("00 02 00 01 00000000", hexCoA)}
	do := func(opts string) ext { return ext{ProtoDestOpts, hx("00 00", opts)} }
	frag := ext{ProtoFragment, hx("00 00 0000 00000001")}
	for _, tc := range []struct {
		name string
		pkt  []byte
		want error // nil: parses
	}{
		{"hop-by-hop first", withExts(plain, hbh), nil},
		{"hop-by-hop second", withExts(plain, do("01 04 00000000"), hbh), ErrBadExtHeader},
		{"routing type 0, segments left 0", withExts(plain, rt0), nil},
		{"routing type 0, segments left 1", withExts(plain, rt0live), ErrBadRoutingHeader},
		{"destopts with skippable unknown option", withExts(plain, do("1e 04 00000000")), nil},
		{"destopts with Pad1s", withExts(plain, do("00 00 00 00 00 00")), nil},
		{"destopts unknown option, action discard", withExts(plain, do("5e 04 00000000")), ErrUnrecognizedOption},
		{"destopts unknown option, action ICMP", withExts(plain, do("9e 04 00000000")), ErrUnrecognizedOption},
		{"destopts option past end", withExts(plain, do("01 05 00000000")), ErrBadExtHeader},
		{"HAO with length 15", withExts(plain, ext{ProtoDestOpts, hx("00 02 01 02 0000 c9 0f", strings.ReplaceAll(hexHoA, " ", "")[:30], "00")}), ErrBadExtHeader},
		{"two HAOs", withExts(plain, ext{ProtoDestOpts, hx("00 05 01 02 0000 c9 10", hexHoA, "01 02 0000 c9 10", hexHoA, "01 00")}), ErrBadExtHeader},
		{"fragment", withExts(plain, frag), ErrBadExtHeader},
		{"two routing headers", withExts(plain, rt0, rt0), ErrBadRoutingHeader},
	} {
		p, _, err := ParsePacket(tc.pkt)
		if tc.want == nil {
			if err != nil || !reflect.DeepEqual(p.Message, Message(regBU)) {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
	// Action bits 10: Parameter Problem code 2 pointing at the option.
	_, _, err := ParsePacket(withExts(plain, do("9e 04 00000000")))
	var se *StatusError
	if !errors.As(err, &se) || !se.ParamProblem || se.Code != ParamProblemUnrecognizedOpt || se.Pointer != IPv6HeaderLen+2 {
		t.Errorf("unknown option 0x9e: %v, want Parameter Problem code 2 pointer 42", err)
	}
	// Action bits 01: silent discard, no answer.
	_, _, err = ParsePacket(withExts(plain, do("5e 04 00000000")))
	if errors.As(err, &se) {
		t.Errorf("unknown option 0x5e: %v, want a plain error", err)
	}
}

func TestParsePacketRH2Errors(t *testing.T) {
	ba := mustBuild(t, Packet{Src: haAddr, Dst: coa, RoutingHome: hoa, Message: regBA})
	const rh = IPv6HeaderLen
	for _, tc := range []struct {
		name   string
		mutate func(b []byte)
	}{
		{"hdr ext len 4", func(b []byte) { b[rh+extOffLen] = 4 }},
		{"hdr ext len 1", func(b []byte) { b[rh+extOffLen] = 1 }},
		{"segments left 0", func(b []byte) { b[rh+rhOffSegLeft] = 0 }},
		{"segments left 2", func(b []byte) { b[rh+rhOffSegLeft] = 2 }},
	} {
		b := append([]byte(nil), ba...)
		tc.mutate(b)
		if _, _, err := ParsePacket(b); !errors.Is(err, ErrBadRoutingHeader) {
			t.Errorf("%s: err %v, want ErrBadRoutingHeader", tc.name, err)
		}
	}
	// A routing header longer than the packet.
	b := append([]byte(nil), ba...)
	b[rh+extOffLen] = 9
	if _, _, err := ParsePacket(b); !errors.Is(err, ErrTruncated) {
		t.Errorf("long routing header: %v", err)
	}
}

func TestParsePacketErrors(t *testing.T) {
	bu := mustBuild(t, Packet{Src: coa, Dst: haAddr, HomeAddress: hoa, Message: regBU})
	const mhOff = IPv6HeaderLen + haoHeaderLen

	for n := 0; n < len(bu); n++ {
		cut := append([]byte(nil), bu[:n]...)
		if n >= IPv6HeaderLen {
			// Keep the Payload Length honest so that the cut is seen
			// inside the extension headers and the MH as well.
			binary.BigEndian.PutUint16(cut[ipv6OffPayloadLen:], uint16(n-IPv6HeaderLen))
		}
		_, _, err := ParsePacket(cut)
		if err == nil {
			t.Errorf("cut to %d bytes: parsed", n)
		}
		if _, _, err := ParsePacket(bu[:n]); !errors.Is(err, ErrTruncated) {
			t.Errorf("cut to %d bytes (payload length kept): %v, want ErrTruncated", n, err)
		}
	}

	// Bad checksum: one flipped bit, or the checksum over the wire source.
	b := append([]byte(nil), bu...)
	b[len(b)-1] ^= 1
	if _, _, err := ParsePacket(b); !errors.Is(err, ErrBadChecksum) {
		t.Errorf("flipped bit: %v", err)
	}
	b = append([]byte(nil), bu...)
	SetChecksum(coa, haAddr, b[mhOff:])
	if _, _, err := ParsePacket(b); !errors.Is(err, ErrBadChecksum) {
		t.Errorf("checksum over the care-of address: %v", err)
	}

	// Wrong Payload Proto with a correct checksum: pointer from the IPv6 header.
	b = append([]byte(nil), bu...)
	b[mhOff+OffPayloadProto] = 6
	SetChecksum(hoa, haAddr, b[mhOff:])
	p, _, err := ParsePacket(b)
	var se *StatusError
	if !errors.As(err, &se) || !errors.Is(err, ErrBadPayloadProto) || se.Pointer != mhOff {
		t.Errorf("payload proto 6: %v, want pointer %d", err, mhOff)
	}
	if p.HomeAddress != hoa || p.Src != coa || p.Message != nil {
		t.Errorf("payload proto 6: packet %+v, want the addresses", p)
	}
	_, _, err = ParseSignal(coa, haAddr, ProtoDestOpts, b[IPv6HeaderLen:])
	if !errors.As(err, &se) || se.Pointer != haoHeaderLen {
		t.Errorf("ParseSignal payload proto 6: %v, want pointer %d", err, haoHeaderLen)
	}

	// Unknown MH type: Binding Error status 2, with the HAO for its HoA field.
	b = append([]byte(nil), bu...)
	b[mhOff+OffType] = 42
	SetChecksum(hoa, haAddr, b[mhOff:])
	p, _, err = ParsePacket(b)
	if !errors.As(err, &se) || se.BEStatus != BEUnrecognizedMHType || p.HomeAddress != hoa {
		t.Errorf("unknown type: %v, %+v", err, p)
	}

	// A HAO in front of something else: ErrNotMobility with the HAO.
	b = append([]byte(nil), bu...)
	b[IPv6HeaderLen+extOffNextHeader] = 58 // ICMPv6
	p, payload, err := ParsePacket(b)
	if !errors.Is(err, ErrNotMobility) || p.HomeAddress != hoa || p.NextHeader != 58 || len(payload) != len(bu)-mhOff {
		t.Errorf("HAO + ICMPv6: %v, %+v", err, p)
	}
	b[IPv6HeaderLen+extOffNextHeader] = ProtoNoNext
	if _, _, err := ParsePacket(b); !errors.Is(err, ErrNotMobility) {
		t.Errorf("HAO + no next header: %v", err)
	}

	// IPv6 header problems.
	b = append([]byte(nil), bu...)
	b[0] = 0x45
	if _, _, err := ParsePacket(b); !errors.Is(err, ErrBadPacket) {
		t.Errorf("version 4: %v", err)
	}
	b = append([]byte(nil), bu...)
	binary.BigEndian.PutUint16(b[ipv6OffPayloadLen:], 0)
	if _, _, err := ParsePacket(b); !errors.Is(err, ErrBadPacket) {
		t.Errorf("payload length 0: %v", err)
	}
	// Trailing bytes inside the Payload Length belong to the MH: bad length.
	b = append(append([]byte(nil), bu...), make([]byte, 8)...)
	binary.BigEndian.PutUint16(b[ipv6OffPayloadLen:], uint16(len(b)-IPv6HeaderLen))
	SetChecksum(hoa, haAddr, b[mhOff:])
	if _, _, err := ParsePacket(b); !errors.Is(err, ErrBadLength) {
		t.Errorf("8 bytes after the MH: %v", err)
	}
}

func TestBuildPacketErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Packet
		want error
	}{
		{"IPv4 source", Packet{Src: v4CoA, Dst: haAddr, Message: regBU}, ErrBadAddress},
		{"no destination", Packet{Src: coa, Message: regBU}, ErrBadAddress},
		{"IPv4 HAO", Packet{Src: coa, Dst: haAddr, HomeAddress: v4HoA, Message: regBU}, ErrBadAddress},
		{"IPv4 RH2", Packet{Src: coa, Dst: haAddr, RoutingHome: v4HoA, Message: regBA}, ErrBadAddress},
		{"no message", Packet{Src: coa, Dst: haAddr}, ErrUnknownType},
		{"bad message", Packet{Src: coa, Dst: haAddr, Message: BindingUpdate{Lifetime: -1}}, ErrBadLifetime},
	} {
		if _, err := BuildPacket(tc.p); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestChecksum(t *testing.T) {
	mh, _ := Marshal(regBA)
	SetChecksum(haAddr, hoa, mh)
	if err := VerifyChecksum(haAddr, hoa, mh); err != nil {
		t.Fatal(err)
	}
	c := binary.BigEndian.Uint16(mh[OffChecksum:])
	if Checksum(haAddr, hoa, mh) != c {
		t.Error("Checksum ignores the stored checksum field")
	}
	// Every single-bit change in the MH or the addresses is caught.
	for i := range len(mh) * 8 {
		b := append([]byte(nil), mh...)
		b[i/8] ^= 1 << (i % 8)
		if VerifyChecksum(haAddr, hoa, b) == nil {
			t.Errorf("bit %d flipped: still verifies", i)
		}
	}
	if VerifyChecksum(coa, hoa, mh) == nil {
		t.Error("care-of address as source verifies")
	}
	// Reference value computed by hand: pseudo-header and MH summed as
	// 16-bit words. BRR from :: to :: is 3b00 0000 0000 0000 plus 8 + 135.
	brr := hx("3b00 0000 0000 0000")
	want := ^uint16(0x3b00 + 8 + 135)
	if got := Checksum(netip.IPv6Unspecified(), netip.IPv6Unspecified(), brr); got != want {
		t.Errorf("BRR checksum 0x%04x, want 0x%04x", got, want)
	}
	if err := VerifyChecksum(haAddr, hoa, mh[:5]); !errors.Is(err, ErrTruncated) {
		t.Errorf("5 bytes: %v", err)
	}
}
