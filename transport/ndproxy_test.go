package transport

import (
	"errors"
	"net/netip"
	"testing"
)

// TestDecideNS checks the RFC 4861 7.1.1 validation and the decision on
// packets built the way a node's kernel builds them.
func TestDecideNS(t *testing.T) {
	target := netip.MustParseAddr("2001:db8:1::100")
	other := netip.MustParseAddr("2001:db8:1::200")
	solicitor := netip.MustParseAddr("fe80::b")
	ns := func(src, dst, tgt netip.Addr, lla []byte) []byte {
		return icmpPacket(src, dst, neighborMsg{Type: icmpNeighborSolic, Target: tgt, LinkAddr: lla}.marshal())
	}
	owns := func(a netip.Addr) bool { return a == target }
	mac := []byte{2, 0, 0, 0, 0, 0xb}
	for _, tc := range []struct {
		name    string
		pkt     []byte
		reply   bool
		dad     bool
		wantErr bool
	}{
		{"resolution", ns(solicitor, solicitedNode(target), target, mac), true, false, false},
		{"unicast probe (NUD)", ns(solicitor, target, target, mac), true, false, false},
		{"not ours", ns(solicitor, solicitedNode(other), other, mac), false, false, false},
		{"DAD probe", ns(netip.IPv6Unspecified(), solicitedNode(target), target, nil), true, true, false},
		{"DAD probe with an SLLA", ns(netip.IPv6Unspecified(), solicitedNode(target), target, mac), false, false, true},
		{"DAD probe to the wrong group", ns(netip.IPv6Unspecified(), netip.MustParseAddr("ff02::1"), target, nil), false, false, true},
		{"hop limit 64", func() []byte { p := ns(solicitor, solicitedNode(target), target, mac); p[7] = 64; return p }(), false, false, true},
		{"bad checksum", func() []byte {
			p := ns(solicitor, solicitedNode(target), target, mac)
			p[ipv6HeaderLen+2] ^= 1
			return p
		}(), false, false, true},
		{"truncated", ns(solicitor, solicitedNode(target), target, mac)[:50], false, false, true},
		{"advertisement", icmpPacket(solicitor, allNodes, neighborMsg{Type: icmpNeighborAdvert, Target: target}.marshal()), false, false, false},
	} {
		d, err := decideNS(tc.pkt, owns)
		if (err != nil) != tc.wantErr || d.reply != tc.reply || d.dad != tc.dad {
			t.Errorf("%s: decision %+v, err %v", tc.name, d, err)
		}
		if err != nil && !errors.Is(err, ErrBadPacket) {
			t.Errorf("%s: error %v does not wrap ErrBadPacket", tc.name, err)
		}
		if tc.reply && !tc.dad && d.to != solicitor {
			t.Errorf("%s: answer goes to %v", tc.name, d.to)
		}
	}
}

// FuzzDecideNS: no input panics, and a reply is only ever decided for a
// target the owner function accepts.
func FuzzDecideNS(f *testing.F) {
	target := netip.MustParseAddr("2001:db8:1::100")
	f.Add(icmpPacket(netip.MustParseAddr("fe80::b"), solicitedNode(target), neighborMsg{Type: icmpNeighborSolic, Target: target, LinkAddr: []byte{2, 0, 0, 0, 0, 0xb}}.marshal()))
	f.Add(icmpPacket(netip.IPv6Unspecified(), solicitedNode(target), neighborMsg{Type: icmpNeighborSolic, Target: target}.marshal()))
	f.Add([]byte{0x60})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		d, err := decideNS(pkt, func(a netip.Addr) bool { return a == target })
		if err != nil && d.reply {
			t.Fatalf("reply decided with an error: %v", err)
		}
		if d.reply && d.target != target {
			t.Fatalf("reply for %v", d.target)
		}
	})
}
