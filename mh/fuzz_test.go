package mh

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

// FuzzParse: Parse never panics, a failed parse returns no message, and
// what parses survives marshal→parse unchanged (and marshals again to the
// same bytes).
func FuzzParse(f *testing.F) {
	for _, tc := range goldenCases {
		f.Add(tc.wire)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			if m != nil {
				t.Fatalf("failed parse returned %#v", m)
			}
			return
		}
		if m.MHType() != Type(b[OffType]) {
			t.Fatalf("type %v from %x", m.MHType(), b)
		}
		out, err := Marshal(m)
		if errors.Is(err, ErrTooLong) {
			return // densely packed input that our padding makes too long
		}
		if err != nil {
			t.Fatalf("Marshal(%#v): %v", m, err)
		}
		m2, err := Parse(out)
		if err != nil {
			t.Fatalf("reparse of %x: %v", out, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip:\n %#v\n %#v", m, m2)
		}
		out2, _ := Marshal(m2)
		if !bytes.Equal(out, out2) {
			t.Fatalf("marshal not stable:\n %x\n %x", out, out2)
		}
		// The walker sees the options Parse returned, in order.
		var types []OptionType
		if err := WalkOptions(b, func(t OptionType, _ []byte) error { types = append(types, t); return nil }); err != nil {
			t.Fatalf("WalkOptions: %v", err)
		}
		opts := m.MobilityOptions()
		if len(types) != len(opts) {
			t.Fatalf("WalkOptions saw %d options, Parse %d", len(types), len(opts))
		}
		for i := range opts {
			if opts[i].OptionType() != types[i] {
				t.Fatalf("option %d: %v vs %v", i, opts[i].OptionType(), types[i])
			}
		}
	})
}

// checkPacketRoundTrip rebuilds a parsed packet and parses it again.
func checkPacketRoundTrip(t *testing.T, p Packet) {
	t.Helper()
	b, err := BuildPacket(p)
	if errors.Is(err, ErrTooLong) {
		return
	}
	if err != nil {
		t.Fatalf("BuildPacket(%+v): %v", p, err)
	}
	p2, _, err := ParsePacket(b)
	if err != nil {
		t.Fatalf("reparse of %x: %v", b, err)
	}
	if p.HopLimit == 0 {
		p.HopLimit = DefaultHopLimit
	}
	if !reflect.DeepEqual(p, p2) {
		t.Fatalf("round trip:\n %+v\n %+v", p, p2)
	}
}

// checkPacketError checks the contract for a failed packet parse.
func checkPacketError(t *testing.T, p Packet, err error) {
	t.Helper()
	var se *StatusError
	if errors.Is(err, ErrNotMobility) || errors.As(err, &se) {
		if p.Message != nil || !p.Src.IsValid() {
			t.Fatalf("%v: packet %+v", err, p)
		}
		return
	}
	if !reflect.DeepEqual(p, Packet{}) {
		t.Fatalf("%v: half-filled packet %+v", err, p)
	}
}

func packetSeeds() [][]byte {
	var seeds [][]byte
	for _, tc := range goldenCases {
		for _, p := range []Packet{
			{Src: coa, Dst: haAddr, HomeAddress: hoa, Message: tc.msg},
			{Src: haAddr, Dst: coa, RoutingHome: hoa, Message: tc.msg},
		} {
			b, err := BuildPacket(p)
			if err != nil {
				panic(err)
			}
			seeds = append(seeds, b)
		}
	}
	return seeds
}

// FuzzParsePacket: whole IPv6 packets.
func FuzzParsePacket(f *testing.F) {
	for _, s := range packetSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, raw, err := ParsePacket(b)
		if err != nil {
			checkPacketError(t, p, err)
			return
		}
		if p.NextHeader != ProtoMH || p.Message == nil || len(raw) < MinLen {
			t.Fatalf("parsed %+v with MH %x", p, raw)
		}
		checkPacketRoundTrip(t, p)
	})
}

// FuzzParseSignal: what a raw socket delivers, with its next header.
func FuzzParseSignal(f *testing.F) {
	for _, s := range packetSeeds() {
		f.Add(s[ipv6OffNextHeader], s[IPv6HeaderLen:])
	}
	src, dst := coa, haAddr
	f.Fuzz(func(t *testing.T, nh byte, b []byte) {
		p, _, err := ParseSignal(src, dst, nh, b)
		if err != nil {
			checkPacketError(t, p, err)
			return
		}
		if p.Src != src || p.Dst != dst || p.HopLimit != 0 {
			t.Fatalf("addresses changed: %+v", p)
		}
		checkPacketRoundTrip(t, p)
	})
}

// FuzzUDP: the DSMIPv6 outer IPv4/UDP parser and the inner version test.
func FuzzUDP(f *testing.F) {
	for _, s := range packetSeeds()[:6] {
		b, err := BuildUDP4(netip.MustParseAddrPort("198.18.0.5:40000"), netip.AddrPortFrom(netip.MustParseAddr("203.0.113.1"), DSMIPv6Port), s)
		if err != nil {
			panic(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, err := InnerVersion(b); err == nil && v != 4 && v != 6 {
			t.Fatalf("version %d", v)
		}
		src, dst, payload, err := ParseUDP4(b)
		if err != nil {
			if src.IsValid() || dst.IsValid() || payload != nil {
				t.Fatalf("%v with values", err)
			}
			return
		}
		out, err := BuildUDP4(src, dst, payload)
		if err != nil {
			t.Fatalf("BuildUDP4: %v", err)
		}
		s2, d2, p2, err := ParseUDP4(out)
		if err != nil || s2 != src || d2 != dst || !bytes.Equal(p2, payload) {
			t.Fatalf("round trip: %v %v %x %v", s2, d2, p2, err)
		}
	})
}
