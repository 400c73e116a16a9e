package dataplane

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// naiveSum is RFC 1071's checksum the slow way, 16 bits at a time: the
// reference the fast checksumAdd is checked against.
func naiveSum(parts ...[]byte) uint16 {
	var all []byte
	for _, p := range parts {
		all = append(all, p...)
	}
	if len(all)%2 == 1 {
		all = append(all, 0)
	}
	var s uint32
	for i := 0; i < len(all); i += 2 {
		s += uint32(all[i])<<8 | uint32(all[i+1])
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// pseudo returns the pseudo-header bytes (RFC 8200 8.1 / RFC 793 3.1).
func pseudo(src, dst netip.Addr, proto byte, n int) []byte {
	b := append(src.AsSlice(), dst.AsSlice()...)
	if src.Is6() {
		b = binary.BigEndian.AppendUint32(b, uint32(n))
		return append(b, 0, 0, 0, proto)
	}
	b = append(b, 0, proto)
	return binary.BigEndian.AppendUint16(b, uint16(n))
}

func TestChecksumAddMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 200 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		if got, want := checksumFold(checksumAdd(0, b)), naiveSum(b); got != want && !(got == 0xffff && want == 0) && !(got == 0 && want == 0xffff) {
			t.Fatalf("len %d: checksumAdd %#04x, naive %#04x", n, got, want)
		}
	}
}

var (
	tSrc6 = netip.MustParseAddr("2001:db8:1:100::10")
	tDst6 = netip.MustParseAddr("2001:db8:c::10")
	tSrc4 = netip.MustParseAddr("192.0.2.130")
	tDst4 = netip.MustParseAddr("203.0.113.10")
)

// gsoPacket builds what a TUN device with TSO hands over: IP header, a TCP
// header with 12 bytes of options, payload; lengths set to the whole, the
// TCP checksum field holding the pseudo-header sum (CHECKSUM_PARTIAL).
func gsoPacket(v6 bool, payload []byte, flags byte) ([]byte, vnetHdr) {
	var ip []byte
	var src, dst netip.Addr
	const tcpLen = 32
	if v6 {
		src, dst = tSrc6, tDst6
		ip = make([]byte, ipv6HeaderLen)
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(tcpLen+len(payload)))
		ip[6], ip[7] = protoTCP, 63
		copy(ip[8:], src.AsSlice())
		copy(ip[24:], dst.AsSlice())
	} else {
		src, dst = tSrc4, tDst4
		ip = make([]byte, ipv4MinHeaderLen)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(ipv4MinHeaderLen+tcpLen+len(payload)))
		binary.BigEndian.PutUint16(ip[4:], 0xfff0) // the identification wraps
		ip[6] = 0x40                               // DF
		ip[8], ip[9] = 63, protoTCP
		copy(ip[12:], src.AsSlice())
		copy(ip[16:], dst.AsSlice())
		binary.BigEndian.PutUint16(ip[10:], ^naiveSum(ip))
	}
	tcp := make([]byte, tcpLen)
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 5201)
	binary.BigEndian.PutUint32(tcp[4:], 0xfffff000) // the sequence number wraps
	binary.BigEndian.PutUint32(tcp[8:], 12345)
	tcp[12] = tcpLen / 4 << 4
	tcp[13] = flags
	binary.BigEndian.PutUint16(tcp[14:], 512)
	copy(tcp[20:], []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}) // NOP NOP timestamps
	binary.BigEndian.PutUint16(tcp[16:], naiveSum(pseudo(src, dst, protoTCP, tcpLen+len(payload))))
	pkt := append(append(ip, tcp...), payload...)
	h := vnetHdr{flags: vnetFlagNeedsCsum, gsoType: vnetGSOTCPv6, gsoSize: 1000, csumStart: uint16(len(ip)), csumOffset: tcpChecksumOff, hdrLen: uint16(len(ip) + tcpLen)}
	if !v6 {
		h.gsoType = vnetGSOTCPv4
	}
	return pkt, h
}

func TestSplitTCP(t *testing.T) {
	for _, v6 := range []bool{true, false} {
		for _, size := range []int{1, 999, 1000, 1001, 4500, 60000} {
			r := rand.New(rand.NewPCG(uint64(size), 7))
			payload := make([]byte, size)
			for i := range payload {
				payload[i] = byte(r.UintN(256))
			}
			pkt, h := gsoPacket(v6, payload, tcpFlagCWR|tcpFlagPSH|tcpFlagFIN|0x10)
			orig := bytes.Clone(pkt)
			n, hdrLen, err := tcpSegments(pkt, h)
			if err != nil {
				t.Fatal(err)
			}
			if want := (size + 999) / 1000; n != want {
				t.Fatalf("v6=%v size %d: %d segments, want %d", v6, size, n, want)
			}
			// Split in chunks of 7 buffers, as the batch does when it fills.
			var segs [][]byte
			for first := 0; first < n; {
				bufs := make([][]byte, 7)
				for i := range bufs {
					bufs[i] = make([]byte, 1280)
				}
				sizes := make([]int, 7)
				made, err := splitTCP(pkt, h, hdrLen, first, bufs, sizes)
				if err != nil || made == 0 {
					t.Fatalf("split from %d: made %d, %v", first, made, err)
				}
				for i := range made {
					segs = append(segs, bufs[i][:sizes[i]])
				}
				first += made
			}
			if !bytes.Equal(pkt, orig) {
				t.Fatal("splitTCP changed its input")
			}
			var got []byte
			for i, s := range segs {
				cs := int(h.csumStart)
				last := i == len(segs)-1
				if v6 {
					if pl := int(binary.BigEndian.Uint16(s[4:])); pl != len(s)-40 {
						t.Fatalf("segment %d: payload length %d, have %d", i, pl, len(s)-40)
					}
				} else {
					if tl := int(binary.BigEndian.Uint16(s[2:])); tl != len(s) {
						t.Fatalf("segment %d: total length %d, have %d", i, tl, len(s))
					}
					if id := binary.BigEndian.Uint16(s[4:]); id != 0xfff0+uint16(i) {
						t.Fatalf("segment %d: identification %#x", i, id)
					}
					if naiveSum(s[:cs]) != 0xffff {
						t.Fatalf("segment %d: bad IPv4 header checksum", i)
					}
				}
				src, dst := tSrc6, tDst6
				if !v6 {
					src, dst = tSrc4, tDst4
				}
				if c := naiveSum(pseudo(src, dst, protoTCP, len(s)-cs), s[cs:]); c != 0xffff {
					t.Fatalf("v6=%v size %d segment %d: TCP checksum does not verify (%#04x)", v6, size, i, c)
				}
				if seq := binary.BigEndian.Uint32(s[cs+4:]); seq != 0xfffff000+uint32(i*1000) {
					t.Fatalf("segment %d: seq %#x", i, seq)
				}
				fl := s[cs+13]
				if (fl&(tcpFlagFIN|tcpFlagPSH) != 0) != last || (fl&tcpFlagCWR != 0) != (i == 0) || fl&0x10 == 0 {
					t.Fatalf("segment %d of %d: flags %#x", i, len(segs), fl)
				}
				if len(s)-hdrLen > 1000 {
					t.Fatalf("segment %d carries %d bytes, more than gso_size", i, len(s)-hdrLen)
				}
				if !bytes.Equal(s[:8], orig[:8]) && v6 && !bytes.Equal(s[6:8], orig[6:8]) {
					t.Fatalf("segment %d: IPv6 header changed beyond the length", i)
				}
				got = append(got, s[hdrLen:]...)
			}
			if !bytes.Equal(got, payload) {
				t.Fatalf("v6=%v size %d: the segments' payloads differ from the burst's", v6, size)
			}
		}
	}
}

func TestSplitTCPRejects(t *testing.T) {
	pkt, h := gsoPacket(true, make([]byte, 3000), 0x10)
	bad := []struct {
		name string
		pkt  []byte
		h    vnetHdr
	}{
		{"gso size 0", pkt, func() vnetHdr { x := h; x.gsoSize = 0; return x }()},
		{"UDP GSO", pkt, func() vnetHdr { x := h; x.gsoType = 5; return x }()},
		{"TCPv4 type on IPv6", pkt, func() vnetHdr { x := h; x.gsoType = vnetGSOTCPv4; return x }()},
		{"csum start beyond", pkt[:50], h},
		{"csum start inside IP header", pkt, func() vnetHdr { x := h; x.csumStart = 10; return x }()},
	}
	for _, b := range bad {
		if _, _, err := tcpSegments(b.pkt, b.h); err == nil {
			t.Errorf("%s: accepted", b.name)
		}
	}
	// A buffer too small for a segment is an error, not a short segment.
	_, hdrLen, err := tcpSegments(pkt, h)
	if err != nil {
		t.Fatal(err)
	}
	if made, err := splitTCP(pkt, h, hdrLen, 0, [][]byte{make([]byte, 500)}, make([]int, 1)); err == nil || made != 0 {
		t.Fatalf("small buffer: made %d, err %v", made, err)
	}
}

func TestCompleteChecksum(t *testing.T) {
	// A UDP datagram over IPv6 whose checksum field holds the
	// pseudo-header sum (CHECKSUM_PARTIAL), odd length.
	payload := []byte("sixty-four bytes or so of test payload, odd length: 12345")
	udp := make([]byte, 8)
	binary.BigEndian.PutUint16(udp[0:], 5000)
	binary.BigEndian.PutUint16(udp[2:], 5201)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	binary.BigEndian.PutUint16(udp[6:], naiveSum(pseudo(tSrc6, tDst6, 17, 8+len(payload))))
	ip := make([]byte, 40)
	ip[0], ip[6] = 0x60, 17
	binary.BigEndian.PutUint16(ip[4:], uint16(8+len(payload)))
	copy(ip[8:], tSrc6.AsSlice())
	copy(ip[24:], tDst6.AsSlice())
	pkt := append(append(ip, udp...), payload...)
	if err := completeChecksum(pkt, 40, 6); err != nil {
		t.Fatal(err)
	}
	if c := naiveSum(pseudo(tSrc6, tDst6, 17, 8+len(payload)), pkt[40:]); c != 0xffff {
		t.Fatalf("completed checksum does not verify: %#04x", c)
	}
	if err := completeChecksum(pkt, 40, len(pkt)); err == nil {
		t.Fatal("offset beyond the packet accepted")
	}
}

func BenchmarkSplitTCP(b *testing.B) {
	pkt, h := gsoPacket(true, make([]byte, 60000), 0x10)
	h.gsoSize = 1208 // 1280-byte segments
	n, hdrLen, err := tcpSegments(pkt, h)
	if err != nil {
		b.Fatal(err)
	}
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, 1280)
	}
	sizes := make([]int, n)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, err := splitTCP(pkt, h, hdrLen, 0, bufs, sizes); err != nil {
			b.Fatal(err)
		}
	}
}

// segmentsOf splits a burst made by gsoPacket into separate segments.
func segmentsOf(t *testing.T, pkt []byte, h vnetHdr) [][]byte {
	t.Helper()
	n, hdrLen, err := tcpSegments(pkt, h)
	if err != nil {
		t.Fatal(err)
	}
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, 1500)
	}
	sizes := make([]int, n)
	if made, err := splitTCP(pkt, h, hdrLen, 0, bufs, sizes); err != nil || made != n {
		t.Fatalf("split: %d of %d, %v", made, n, err)
	}
	for i := range bufs {
		bufs[i] = bufs[i][:sizes[i]]
	}
	return bufs
}

// coalesce feeds segments through the receive path's GRO, each in its own
// slot as the rxBatch has them, and returns the frames written.
func coalesce(segs [][]byte) [][]byte {
	var frames [][]byte
	var g groBurst
	for _, s := range segs {
		slot := make([]byte, 1<<17)
		copy(slot[vnetHdrLen:], s)
		pkt := slot[vnetHdrLen : vnetHdrLen+len(s)]
		if ipLen, hdrLen, ok := groCandidate(pkt); ok {
			if g.active() && g.join(pkt, ipLen, hdrLen) {
				continue
			}
			if g.active() {
				frames = append(frames, bytes.Clone(g.finish()))
			}
			g.begin(slot, vnetHdrLen, pkt, ipLen, hdrLen)
			continue
		}
		if g.active() {
			frames = append(frames, bytes.Clone(g.finish()))
		}
		frames = append(frames, append(make([]byte, vnetHdrLen), s...))
	}
	if g.active() {
		frames = append(frames, bytes.Clone(g.finish()))
	}
	return frames
}

func TestGRORoundTrip(t *testing.T) {
	for _, v6 := range []bool{true, false} {
		payload := make([]byte, 9500)
		for i := range payload {
			payload[i] = byte(i * 7)
		}
		pkt, h := gsoPacket(v6, payload, tcpFlagACK|tcpFlagPSH)
		segs := segmentsOf(t, pkt, h)
		frames := coalesce(segs)
		if len(frames) != 1 {
			t.Fatalf("v6=%v: %d frames from one burst of %d segments, want 1", v6, len(frames), len(segs))
		}
		vh := decodeVnetHdr(frames[0])
		if vh.gsoSize != 1000 || vh.flags != vnetFlagNeedsCsum || int(vh.csumStart) != int(h.csumStart) || vh.csumOffset != tcpChecksumOff {
			t.Fatalf("v6=%v: header %+v", v6, vh)
		}
		again := segmentsOf(t, frames[0][vnetHdrLen:], vh)
		if len(again) != len(segs) {
			t.Fatalf("v6=%v: %d segments after the round trip, want %d", v6, len(again), len(segs))
		}
		for i := range segs {
			if !bytes.Equal(again[i], segs[i]) {
				t.Fatalf("v6=%v: segment %d differs after GRO and TSO:\n%x\n%x", v6, i, again[i][:80], segs[i][:80])
			}
		}
	}
}

func TestGROMergesOnlyWhatItMay(t *testing.T) {
	payload := make([]byte, 5000)
	pkt, h := gsoPacket(true, payload, tcpFlagACK)
	base := segmentsOf(t, pkt, h) // 5 segments of 1000

	corrupt := cloneAll(base)
	corrupt[2][100] ^= 1 // a flipped bit: its checksum fails
	if f := coalesce(corrupt); len(f) != 3 || decodeVnetHdr(f[1]).gsoType != vnetGSONone {
		t.Fatalf("corrupted segment: %d frames (want 3: burst, the bad one alone, burst)", len(f))
	}

	gap := append(cloneAll(base[:2]), cloneAll(base[3:])...) // segment 2 lost
	if f := coalesce(gap); len(f) != 2 {
		t.Fatalf("sequence gap: %d frames, want 2", len(f))
	}

	psh := cloneAll(base)
	psh[1][40+13] |= tcpFlagPSH
	fixTCPChecksum(psh[1])
	f := coalesce(psh)
	if len(f) != 2 || f[0][vnetHdrLen+40+13]&tcpFlagPSH == 0 {
		t.Fatalf("PSH: %d frames (want 2, the first ending with PSH)", len(f))
	}

	win := cloneAll(base)
	win[3][40+14] ^= 0xff
	fixTCPChecksum(win[3])
	if f := coalesce(win); len(f) != 3 { // 0-2, 3 alone (its window), 4
		t.Fatalf("window change: %d frames, want 3", len(f))
	}
}

func cloneAll(s [][]byte) [][]byte {
	out := make([][]byte, len(s))
	for i := range s {
		out[i] = bytes.Clone(s[i])
	}
	return out
}

// fixTCPChecksum recomputes an IPv6 TCP segment's checksum.
func fixTCPChecksum(s []byte) {
	s[56], s[57] = 0, 0
	binary.BigEndian.PutUint16(s[56:], ^naiveSum(pseudo(tSrc6, tDst6, protoTCP, len(s)-40), s[40:]))
}

func BenchmarkGRO(b *testing.B) {
	pkt, h := gsoPacket(true, make([]byte, 32*1208), tcpFlagACK)
	h.gsoSize = 1208
	n, hdrLen, err := tcpSegments(pkt, h)
	if err != nil {
		b.Fatal(err)
	}
	segs := make([][]byte, n)
	for i := range segs {
		segs[i] = make([]byte, 1280)
	}
	sizes := make([]int, n)
	if _, err := splitTCP(pkt, h, hdrLen, 0, segs, sizes); err != nil {
		b.Fatal(err)
	}
	slots := make([][]byte, n)
	for i := range slots {
		slots[i] = make([]byte, 1<<17)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	var g groBurst
	for b.Loop() {
		for i := range segs {
			copy(slots[i][vnetHdrLen:], segs[i][:sizes[i]])
			p := slots[i][vnetHdrLen : vnetHdrLen+sizes[i]]
			ipLen, hl, ok := groCandidate(p)
			if !ok {
				b.Fatal("not a candidate")
			}
			if g.active() && g.join(p, ipLen, hl) {
				continue
			}
			if g.active() {
				g.finish()
			}
			g.begin(slots[i], vnetHdrLen, p, ipLen, hl)
		}
		if f := g.finish(); len(f) != vnetHdrLen+len(pkt) {
			b.Fatalf("burst of %d bytes, want %d", len(f)-vnetHdrLen, len(pkt))
		}
	}
}
