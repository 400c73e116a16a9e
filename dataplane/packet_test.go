package dataplane

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
)

// Test prefixes: A's side, B's side, a source nobody allows.
var (
	pfxA6 = netip.MustParsePrefix("2001:db8:aa::/64")
	pfxB6 = netip.MustParsePrefix("2001:db8:bb::/64")
	pfxC6 = netip.MustParsePrefix("2001:db8:cc::/64")
	pfxA4 = netip.MustParsePrefix("203.0.113.0/28")
	pfxB4 = netip.MustParsePrefix("192.0.2.0/28")
)

// testPacket6 builds an IPv6 packet (next header 59, no next header) with
// the given addresses and payload size.
func testPacket6(t testing.TB, src, dst string, payload int) []byte {
	t.Helper()
	p := make([]byte, ipv6HeaderLen+payload)
	p[0] = ipVersion6 << versionShift
	binary.BigEndian.PutUint16(p[ipv6PayloadLenOffset:], uint16(payload))
	p[ipv6NextHeaderOffset] = 59
	p[ipv6HopLimitOffset] = 64
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(p[ipv6SrcOffset:], s[:])
	copy(p[ipv6DstOffset:], d[:])
	return p
}

func TestParseInnerGolden(t *testing.T) {
	// IPv6, traffic class 0xb8 (DSCP EF) split over bytes 0 and 1, flow
	// label 0x12345, payload length 4, next header 59, hop limit 63.
	v6 := []byte{
		0x6b, 0x81, 0x23, 0x45, // version 6, TC 0xb8, flow 0x12345
		0x00, 0x04, 0x3b, 0x3f, // payload length 4, next header 59, hop limit 63
		0x20, 0x01, 0x0d, 0xb8, 0, 0xaa, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, // src 2001:db8:aa::1
		0x20, 0x01, 0x0d, 0xb8, 0, 0xbb, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, // dst 2001:db8:bb::2
		1, 2, 3, 4, // payload
		9, 9, // trailing bytes beyond the stated length
	}
	h, err := parseInner(v6)
	if err != nil {
		t.Fatal(err)
	}
	want := innerHeader{version: 6, src: netip.MustParseAddr("2001:db8:aa::1"), dst: netip.MustParseAddr("2001:db8:bb::2"), trafficClass: 0xb8, length: 44}
	if h != want {
		t.Errorf("IPv6: got %+v, want %+v", h, want)
	}

	// IPv4 with one option word (IHL 6), TOS 0x2e, total length 28.
	v4 := []byte{
		0x46, 0x2e, 0x00, 0x1c, // version 4, IHL 6, TOS, total length 28
		0, 0, 0, 0, // id, flags, fragment offset
		64, 1, 0, 0, // TTL, protocol ICMP, checksum (not checked)
		203, 0, 113, 1, // src
		192, 0, 2, 1, // dst
		1, 1, 1, 0, // options: NOP NOP NOP EOL
		8, 0, 0, 0, // payload
	}
	h, err = parseInner(v4)
	if err != nil {
		t.Fatal(err)
	}
	want = innerHeader{version: 4, src: netip.MustParseAddr("203.0.113.1"), dst: netip.MustParseAddr("192.0.2.1"), trafficClass: 0x2e, length: 28}
	if h != want {
		t.Errorf("IPv4: got %+v, want %+v", h, want)
	}
	payload, src, proto, err := stripIPv4(v4)
	if err != nil || src != netip.MustParseAddr("203.0.113.1") || proto != 1 || len(payload) != 4 || payload[0] != 8 {
		t.Errorf("stripIPv4 = %x, %v, %d, %v", payload, src, proto, err)
	}
}

func TestParseInnerErrors(t *testing.T) {
	v6 := testPacket6(t, "2001:db8::1", "2001:db8::2", 8)
	v4 := appendIPv4Header(nil, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), 17, 0, 8)
	v4 = append(v4, make([]byte, 8)...)
	mod := func(b []byte, f func([]byte)) []byte {
		c := append([]byte(nil), b...)
		f(c)
		return c
	}
	for _, tc := range []struct {
		name string
		pkt  []byte
		want error
	}{
		{"empty", nil, errEmpty},
		{"version 5", mod(v6, func(b []byte) { b[0] = 0x50 }), errVersion},
		{"short v6", v6[:39], errShortIPv6},
		{"v6 jumbogram", mod(v6, func(b []byte) { b[4], b[5] = 0, 0 }), errIPv6Length},
		{"v6 payload beyond data", v6[:47], errIPv6Length},
		{"short v4", v4[:19], errShortIPv4},
		{"v4 IHL 4", mod(v4, func(b []byte) { b[0] = 0x44 }), errIPv4Length},
		{"v4 total < IHL", mod(v4, func(b []byte) { b[2], b[3] = 0, 16 }), errIPv4Length},
		{"v4 total beyond data", v4[:27], errIPv4Length},
	} {
		_, err := parseInner(tc.pkt)
		if !errors.Is(err, tc.want) || !errors.Is(err, ErrMalformedPacket) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestAppendIPv4HeaderChecksum(t *testing.T) {
	// RFC 1071: the one's complement sum over a header with a correct
	// checksum is 0xffff.
	h := appendIPv4Header(nil, netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2"), protoIPv6InIP, 0xb8, 1280)
	var sum uint32
	for i := 0; i < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	if sum != 0xffff {
		t.Errorf("checksum does not verify: sum %#x over % x", sum, h)
	}
	if h[0] != 0x45 || binary.BigEndian.Uint16(h[2:]) != 1300 || h[9] != 41 || h[1] != 0xb8 {
		t.Errorf("header fields wrong: % x", h)
	}
}

func TestPrefixTable(t *testing.T) {
	ps := []netip.Prefix{
		netip.MustParsePrefix("::/0"),
		netip.MustParsePrefix("2001:db8:1::/48"),
		netip.MustParsePrefix("2001:db8:1:100::/64"),
		netip.MustParsePrefix("2001:db8:1::100/128"),
		netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("192.0.2.16/28"),
	}
	names := []string{"default", "home", "mnp", "hoa", "v4net", "v4mnp"}
	tbl := newRouteTable(4)
	tx := tbl.begin()
	for i, p := range ps {
		tx.set(p, &planeTunnel{group: names[i]})
	}
	tx.commit()
	for _, tc := range []struct{ addr, want string }{
		{"2001:db8:1::100", "hoa"},
		{"2001:db8:1::101", "home"},
		{"2001:db8:1:100::5", "mnp"},
		{"2001:db8:2::1", "default"},
		{"192.0.2.17", "v4mnp"},
		{"192.0.2.1", "v4net"},
		{"198.51.100.1", ""},
	} {
		pt, ok := tbl.lookup(netip.MustParseAddr(tc.addr))
		got := ""
		if ok {
			got = pt.group
		}
		if (tc.want == "") == ok || got != tc.want {
			t.Errorf("lookup(%s) = %q, %v; want %q", tc.addr, got, ok, tc.want)
		}
	}
}

// planeFixture is a snapshot with one IPv6 tunnel routing 2001:db8:bb::/64
// and accepting sources from 2001:db8:aa::/64.
func planeFixture(t testing.TB) (*plane, *planeTunnel, *planeCounters) {
	t.Helper()
	cfg := Config{
		Tunnels: []Tunnel{{ID: "peer", Encap: IP6IP6, Local: netip.MustParseAddr("2001:db8:ff::1"), Remote: netip.MustParseAddr("2001:db8:ff::2"),
			Allowed: []netip.Prefix{pfxA6}}},
		Routes: []Route{{Dst: pfxB6, Tunnel: "peer"}},
	}
	s := newPlane(newReconciler(NewFake("tun0")), "tun0", 0, func(Tunnel) (txState, error) { return txState{}, nil }, func() bool { return false })
	if err := s.update([]GroupChange{{Config: cfg}}); err != nil {
		t.Fatal(err)
	}
	return s, s.tunnels["peer"], &s.pc
}

func TestPlaneDecisions(t *testing.T) {
	s, pt, pc := planeFixture(t)
	out := testPacket6(t, "2001:db8:aa::1", "2001:db8:bb::1", 16)
	if got, _, pkt, ok := s.route(append(out, 0, 0)); !ok || got != pt || len(pkt) != len(out) {
		t.Errorf("route: tunnel %v ok %v len %d", got, ok, len(pkt))
	}
	if _, _, _, ok := s.route(testPacket6(t, "2001:db8:aa::1", "2001:db8:cc::1", 16)); ok || pc.dropNoRoute.Load() != 1 {
		t.Errorf("unrouted destination accepted (drops %d)", pc.dropNoRoute.Load())
	}
	if _, _, _, ok := s.route(out[:20]); ok || pc.dropMalformed.Load() != 1 {
		t.Errorf("truncated packet accepted")
	}
	if _, ok := pt.accept(out, ipVersion6, pc); !ok || pt.ctr.rxPackets.Load() != 1 || pt.ctr.rxBytes.Load() != uint64(len(out)) {
		t.Errorf("allowed source refused")
	}
	if _, ok := pt.accept(testPacket6(t, "2001:db8:cc::1", "2001:db8:bb::1", 16), ipVersion6, pc); ok || pt.ctr.dropIngress.Load() != 1 {
		t.Errorf("filtered source accepted")
	}
	if _, ok := pt.accept(out, ipVersion4, pc); ok || pc.dropMalformed.Load() != 2 {
		t.Errorf("IPv6 packet accepted from a protocol-4 socket")
	}
	var nilTunnel *planeTunnel
	if _, ok := nilTunnel.accept(out, ipVersion6, pc); ok || pc.dropUnknownPeer.Load() != 1 {
		t.Errorf("unknown peer accepted")
	}
	st := s.stats()
	if st.Tunnels["peer"].RxPackets != 1 || st.DropNoRoute != 1 || st.DropUnknownPeer != 1 || st.DropMalformed != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestPerPacketNoAlloc(t *testing.T) {
	s, pt, pc := planeFixture(t)
	out := testPacket6(t, "2001:db8:aa::1", "2001:db8:bb::1", 1200)
	bad := testPacket6(t, "2001:db8:cc::1", "2001:db8:bb::1", 1200)
	outer := appendIPv4Header(nil, netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("198.51.100.1"), protoIPv6InIP, 0, len(out))
	outer = append(outer, out...)
	for name, f := range map[string]func(){
		"encapsulate": func() { s.route(out) },
		"decapsulate": func() { pt.accept(out, ipVersion6, pc) },
		"strip IPv4":  func() { stripIPv4(outer) },
		"drop filter": func() { pt.accept(bad, ipVersion6, pc) },
		"drop short":  func() { s.route(out[:10]) },
	} {
		if a := testing.AllocsPerRun(1000, f); a != 0 {
			t.Errorf("%s allocates %.1f times per packet", name, a)
		}
	}
}

func BenchmarkEncapsulate(b *testing.B) {
	s, _, _ := planeFixture(b)
	pkt := testPacket6(b, "2001:db8:aa::1", "2001:db8:bb::1", 1200)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, _, _, ok := s.route(pkt); !ok {
			b.Fatal("not routed")
		}
	}
}

func BenchmarkDecapsulate(b *testing.B) {
	s, _, _ := planeFixture(b)
	inner := testPacket6(b, "2001:db8:aa::1", "2001:db8:bb::1", 1200)
	pkt := appendIPv4Header(nil, netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("198.51.100.1"), protoIPv6InIP, 0, len(inner))
	pkt = append(pkt, inner...)
	tx := s.byRemote.begin()
	tx.set(netip.MustParseAddr("198.51.100.2"), s.tunnels["peer"])
	tx.commit()
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		payload, src, _, err := stripIPv4(pkt)
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := s.peer(src).accept(payload, ipVersion6, &s.pc); !ok {
			b.Fatal("not accepted")
		}
	}
}

// FuzzParseInner checks that parseInner never panics, that what it
// returns agrees with the bytes, and that an accepted packet survives
// IPv4 encapsulation and decapsulation unchanged.
func FuzzParseInner(f *testing.F) {
	f.Add(testPacket6(f, "2001:db8:aa::1", "2001:db8:bb::1", 8))
	v4 := appendIPv4Header(nil, netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("192.0.2.1"), 1, 0, 4)
	f.Add(append(v4, 8, 0, 0, 0))
	f.Add([]byte{0x60})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		h, err := parseInner(pkt)
		if err != nil {
			if !errors.Is(err, ErrMalformedPacket) {
				t.Fatalf("error %v does not wrap ErrMalformedPacket", err)
			}
			return
		}
		if h.length > len(pkt) || (h.version != 4 && h.version != 6) || int(pkt[0]>>4) != h.version {
			t.Fatalf("inconsistent header %+v for %d bytes", h, len(pkt))
		}
		inner := pkt[:h.length]
		outer := appendIPv4Header(nil, netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2"), protoIPv6InIP, h.trafficClass, len(inner))
		outer = append(outer, inner...)
		payload, src, proto, err := stripIPv4(outer)
		if err != nil || src != netip.MustParseAddr("198.51.100.1") || proto != protoIPv6InIP || string(payload) != string(inner) {
			t.Fatalf("re-encapsulation round trip: %v %v %d", err, src, proto)
		}
		h2, err := parseInner(payload)
		if err != nil || h2 != h {
			t.Fatalf("parse after round trip: %+v %v, want %+v", h2, err, h)
		}
	})
}

// FuzzStripIPv4 checks parse → marshal → parse equality for outer IPv4
// headers without options.
func FuzzStripIPv4(f *testing.F) {
	v4 := appendIPv4Header(nil, netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2"), protoIPv6InIP, 0, 40)
	f.Add(append(v4, testPacket6(f, "2001:db8::1", "2001:db8::2", 0)...))
	f.Add([]byte{0x46, 0, 0, 24, 0, 0, 0, 0, 64, 4, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 1, 1, 1, 0})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		payload, src, proto, err := stripIPv4(pkt)
		if err != nil {
			if !errors.Is(err, ErrMalformedPacket) {
				t.Fatalf("error %v does not wrap ErrMalformedPacket", err)
			}
			return
		}
		dst := netip.AddrFrom4([4]byte(pkt[ipv4DstOffset:]))
		again := appendIPv4Header(nil, src, dst, proto, pkt[ipv4TOSOffset], len(payload))
		again = append(again, payload...)
		p2, s2, pr2, err := stripIPv4(again)
		if err != nil || s2 != src || pr2 != proto || string(p2) != string(payload) {
			t.Fatalf("round trip: %v %v %d", err, s2, pr2)
		}
	})
}
