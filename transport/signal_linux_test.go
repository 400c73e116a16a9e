package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Test packets are built by hand here (not with package mh) from the
// layouts of RFC 6275 6.1.7, 6.1.8, 6.3 and 6.4.

var testHoA = netip.MustParseAddr("2001:db8:2::99")

// mhBU returns a 16-byte Binding Update (Header Len 1) with a zero
// checksum: Payload Proto 59, Header Len, MH Type 5, Reserved, Checksum,
// Sequence, flags A|H|R, Lifetime, then PadN(4).
func mhBU(seq uint16) []byte {
	return []byte{59, 1, 5, 0, 0, 0, byte(seq >> 8), byte(seq), 0xA0, 0x20, 0, 100, 1, 2, 0, 0}
}

// mhBA returns a 16-byte Binding Acknowledgement with a zero checksum:
// Status 0, flags R, Sequence, Lifetime, PadN(4).
func mhBA(seq uint16) []byte {
	return []byte{59, 1, 6, 0, 0, 0, 0, 0x40, byte(seq >> 8), byte(seq), 0, 100, 1, 2, 0, 0}
}

// withMHChecksum fills in the MH checksum (offset 4) computed over the
// pseudo-header src, dst.
func withMHChecksum(mh []byte, src, dst netip.Addr) []byte {
	mh[4], mh[5] = 0, 0
	binary.BigEndian.PutUint16(mh[4:], checksum(src, dst, ProtoMH, mh))
	return mh
}

// haoDestOpts is the 24-byte Destination Options header the kernel would
// build: Next Header 135, Hdr Ext Len 2, PadN(4), then option 0xC9 of
// length 16 holding the home address (8n+6 alignment).
func haoDestOpts(hoa netip.Addr) []byte {
	b := []byte{ProtoMH, 2, 1, 2, 0, 0, 0xC9, 16}
	a := hoa.As16()
	return append(b, a[:]...)
}

// rh2 is a type 2 routing header: Next Header 135, Hdr Ext Len 2,
// Routing Type 2, Segments Left 1, Reserved(4), Home Address.
func rh2(hoa netip.Addr) []byte {
	b := []byte{ProtoMH, 2, 2, 1, 0, 0, 0, 0}
	a := hoa.As16()
	return append(b, a[:]...)
}

// ipv6 builds a whole packet with a chosen traffic class, flow label and
// hop limit.
func ipv6(src, dst netip.Addr, nh, hop uint8, tclass uint8, flow uint32, payload []byte) []byte {
	p := appendIPv6(nil, src, dst, nh, hop, payload)
	binary.BigEndian.PutUint32(p[0:4], 6<<28|uint32(tclass)<<20|flow&0xFFFFF)
	return p
}

// collect reads from ch until stop returns true for an item or timeout
// passes; it returns everything read.
func collect[T any](t *testing.T, ch <-chan T, timeout time.Duration, stop func(T) bool) []T {
	t.Helper()
	var got []T
	tm := time.NewTimer(timeout)
	defer tm.Stop()
	for {
		select {
		case v, ok := <-ch:
			if !ok {
				return got
			}
			got = append(got, v)
			if stop(v) {
				return got
			}
		case <-tm.C:
			return got
		}
	}
}

func TestSignalSendReceive(t *testing.T) {
	p := newPair(t)
	ctx := t.Context()

	var l *Listener[Received]
	p.B.do(t, func() (err error) { l, err = ListenSignal(ctx, SignalConfig{}); return })
	t.Cleanup(func() { l.Close() })
	var s *IPv6Sender
	p.A.do(t, func() (err error) { s, err = OpenSender(SenderConfig{Device: devA}); return })
	t.Cleanup(func() { s.Close() })
	var errs *Listener[ICMPv6Packet]
	p.A.do(t, func() (err error) { errs, err = ListenICMPv6Errors(ctx, devA); return })
	t.Cleanup(func() { errs.Close() })

	coa, ha := p.AddrA, p.AddrB
	// BU from the care-of address with a Home Address option: the MH
	// checksum uses the home address as source (RFC 6275 6.1.1).
	bu := withMHChecksum(mhBU(1), testHoA, ha)
	haoPayload := append(haoDestOpts(testHoA), bu...)
	// BA to the care-of address with a type 2 routing header: the MH
	// checksum uses the home address as destination.
	ba := withMHChecksum(mhBA(2), coa, testHoA)
	rhPayload := append(rh2(testHoA), ba...)
	plain := withMHChecksum(mhBU(3), coa, ha)
	bad := withMHChecksum(mhBU(4), coa, ha)
	bad[5] ^= 0x55
	marker := withMHChecksum(mhBU(5), coa, ha)

	for _, pkt := range [][]byte{
		ipv6(coa, ha, ProtoDestOpts, 64, 0, 0, haoPayload),
		ipv6(coa, ha, ProtoRouting, 64, 0, 0, rhPayload),
		ipv6(coa, ha, ProtoMH, 64, 0, 0, plain),
		ipv6(coa, ha, ProtoMH, 64, 0, 0, bad),
		ipv6(coa, ha, ProtoMH, 64, 0, 0, marker),
	} {
		if err := s.Send(pkt); err != nil {
			t.Fatal(err)
		}
	}
	// Stop when every socket has delivered its last packet: the marker on
	// 135 (sent after the bad one, so a bad one would have come first),
	// and the one packet on 60 and 43.
	last := map[uint8]bool{}
	got := collect(t, l.Packets(), 5*time.Second, func(r Received) bool {
		if r.NextHeader != ProtoMH || bytes.Equal(r.Data, marker) {
			last[r.NextHeader] = true
		}
		return len(last) == 3
	})
	want := []Received{
		{Src: coa, Dst: ha, IfIndex: p.IdxB, NextHeader: ProtoDestOpts, Data: haoPayload},
		{Src: coa, Dst: ha, IfIndex: p.IdxB, NextHeader: ProtoRouting, Data: rhPayload},
		{Src: coa, Dst: ha, IfIndex: p.IdxB, NextHeader: ProtoMH, Data: plain},
		{Src: coa, Dst: ha, IfIndex: p.IdxB, NextHeader: ProtoMH, Data: marker},
	}
	// The three sockets have their own readers, so the order across
	// sockets is not fixed; within a socket it is.
	if len(got) != len(want) {
		t.Fatalf("got %d packets, want %d: %+v", len(got), len(want), got)
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			if g.Src == w.Src && g.Dst == w.Dst && g.IfIndex == w.IfIndex &&
				g.NextHeader == w.NextHeader && bytes.Equal(g.Data, w.Data) {
				found = true
			}
		}
		if !found {
			t.Errorf("missing %+v\ngot %+v", w, got)
		}
	}
	var mhOrder []byte
	for _, g := range got {
		if g.NextHeader == ProtoMH {
			mhOrder = append(mhOrder, g.Data[7])
		}
		if bytes.Equal(g.Data, bad) {
			t.Errorf("the packet with a wrong MH checksum was delivered")
		}
	}
	if !bytes.Equal(mhOrder, []byte{3, 5}) {
		t.Errorf("MH socket delivered sequence numbers %v, want [3 5]", mhOrder)
	}

	// PLATFORM.md: B's kernel drops its own copy of the HAO packet and
	// answers with a Parameter Problem, code 2 (unrecognised option),
	// which A's error listener must see.
	pp := collect(t, errs.Packets(), 5*time.Second, func(p ICMPv6Packet) bool { return p.Data[0] == icmpParamProblem })
	if len(pp) == 0 || pp[len(pp)-1].Data[0] != icmpParamProblem {
		t.Fatalf("no Parameter Problem reached the sender: %+v", pp)
	}
	e := pp[len(pp)-1]
	if e.Data[1] != 2 || e.Src != ha || e.Dst != coa || e.IfIndex != p.IdxA {
		t.Errorf("Parameter Problem: code %d from %s to %s on %d", e.Data[1], e.Src, e.Dst, e.IfIndex)
	}
}

// TestHeaderIncludedSendIsVerbatim checks, with a packet socket on the
// receiving side, that an IPPROTO_RAW send puts the given IPv6 header on
// the wire unchanged: traffic class, flow label, hop limit and a source
// address chosen by us (here the home address, which the sender does not
// own).
func TestHeaderIncludedSendIsVerbatim(t *testing.T) {
	p := newPair(t)
	var s *IPv6Sender
	p.A.do(t, func() (err error) { s, err = OpenSender(SenderConfig{Device: devA}); return })
	t.Cleanup(func() { s.Close() })

	var fd int
	p.B.do(t, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_IPV6)))
		if err != nil {
			return err
		}
		tv := unix.Timeval{Sec: 3}
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IPV6), Ifindex: p.IdxB})
	})
	t.Cleanup(func() { unix.Close(fd) })

	sent := []struct {
		name string
		pkt  []byte
	}{
		{"spoofed source, tclass, flow label, hop limit", ipv6(testHoA, p.AddrB, ProtoMH, 7, 0xB8, 0x12345,
			withMHChecksum(mhBU(9), testHoA, p.AddrB))},
		{"destination options", ipv6(p.AddrA, p.AddrB, ProtoDestOpts, 255, 0, 0xFFFFF,
			append(haoDestOpts(testHoA), withMHChecksum(mhBU(10), testHoA, p.AddrB)...))},
	}
	for _, tc := range sent {
		if err := s.Send(tc.pkt); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		buf := make([]byte, 2048)
		for {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				t.Fatalf("%s: nothing captured: %v", tc.name, err)
			}
			if n >= ipv6HeaderLen && buf[ipv6OffNextHeader] == tc.pkt[ipv6OffNextHeader] {
				if !bytes.Equal(buf[:n], tc.pkt) {
					t.Errorf("%s:\nsent %x\ngot  %x", tc.name, tc.pkt, buf[:n])
				}
				break
			}
		}
	}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func TestSenderRefusesMalformed(t *testing.T) {
	p := newPair(t)
	var s *IPv6Sender
	p.A.do(t, func() (err error) { s, err = OpenSender(SenderConfig{}); return })
	defer s.Close()
	good := ipv6(p.AddrA, p.AddrB, ProtoMH, 64, 0, 0, withMHChecksum(mhBU(1), p.AddrA, p.AddrB))
	short := good[:30]
	v4 := append([]byte{0x45}, good[1:]...)
	badLen := append([]byte{}, good...)
	badLen[ipv6OffPayloadLen+1]++
	for name, pkt := range map[string][]byte{"short": short, "version 4": v4, "payload length": badLen} {
		if err := s.Send(pkt); !errors.Is(err, ErrBadPacket) {
			t.Errorf("%s: err = %v, want ErrBadPacket", name, err)
		}
	}
	ll := ipv6(p.AddrA, netip.MustParseAddr("fe80::1"), ProtoMH, 64, 0, 0, mhBU(1))
	if err := s.Send(ll); !errors.Is(err, ErrBadAddress) {
		t.Errorf("link-local destination without a device: err = %v, want ErrBadAddress", err)
	}
	if err := s.Send(good); err != nil {
		t.Errorf("good packet: %v", err)
	}
	s.Close()
	if err := s.Send(good); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: err = %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestListenSignalContextCancel(t *testing.T) {
	p := newPair(t)
	ctx, cancel := context.WithCancel(t.Context())
	var l *Listener[Received]
	p.B.do(t, func() (err error) { l, err = ListenSignal(ctx, SignalConfig{Device: devB}); return })
	cancel()
	select {
	case <-l.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("listener did not stop after cancellation")
	}
	if _, ok := <-l.Packets(); ok {
		t.Error("Packets not closed")
	}
	if !errors.Is(l.Err(), context.Canceled) {
		t.Errorf("Err = %v, want context.Canceled", l.Err())
	}
	l.Close()
	l.Close()
}
