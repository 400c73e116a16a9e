package transport

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"
)

func recvOne[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received")
	}
	panic("unreachable")
}

func TestUDP4(t *testing.T) {
	p := newPair(t)
	ctx := t.Context()
	// A second home agent address, to show that SendFrom picks the source.
	v4B2 := netip.MustParseAddr("192.0.2.3")
	p.B.exec(t, "ip", "addr", "add", v4B2.String()+"/24", "dev", devB)

	var ha, mr *UDP4
	p.B.do(t, func() (err error) {
		ha, err = ListenUDP4(ctx, UDP4Config{Local: netip.AddrPortFrom(netip.IPv4Unspecified(), DSMIPv6Port)})
		return
	})
	t.Cleanup(func() { ha.Close() })
	p.A.do(t, func() (err error) {
		mr, err = ListenUDP4(ctx, UDP4Config{Local: netip.AddrPortFrom(p.V4A, 0), Device: devA})
		return
	})
	t.Cleanup(func() { mr.Close() })
	if mr.LocalAddr().Addr() != p.V4A || mr.LocalAddr().Port() == 0 {
		t.Fatalf("MR bound to %s", mr.LocalAddr())
	}
	if ha.LocalAddr() != netip.AddrPortFrom(netip.IPv4Unspecified(), DSMIPv6Port) {
		t.Fatalf("HA bound to %s", ha.LocalAddr())
	}

	for _, tc := range []struct {
		to      netip.Addr
		from    bool // reply with SendFrom(datagram's Dst)
		replyIs netip.Addr
	}{
		{p.V4B, false, p.V4B},
		{v4B2, true, v4B2},
		{v4B2, false, p.V4B}, // the kernel's choice is the primary address
	} {
		// An IPv6-in-UDP payload: version nibble 6.
		bu := append([]byte{0x60, 0, 0, 0}, tc.to.AsSlice()...)
		if err := mr.Send(netip.AddrPortFrom(tc.to, DSMIPv6Port), bu); err != nil {
			t.Fatal(err)
		}
		d := recvOne(t, ha.Packets())
		want := Datagram{From: mr.LocalAddr(), Dst: tc.to, IfIndex: p.IdxB, Data: bu}
		if d.From != want.From || d.Dst != want.Dst || d.IfIndex != want.IfIndex || !bytes.Equal(d.Data, want.Data) {
			t.Errorf("HA got %+v, want %+v", d, want)
		}
		ba := []byte("ack " + tc.to.String())
		var err error
		if tc.from {
			err = ha.SendFrom(d.Dst, d.From, ba)
		} else {
			err = ha.Send(d.From, ba)
		}
		if err != nil {
			t.Fatal(err)
		}
		r := recvOne(t, mr.Packets())
		if r.From != netip.AddrPortFrom(tc.replyIs, DSMIPv6Port) || r.Dst != p.V4A || r.IfIndex != p.IdxA || !bytes.Equal(r.Data, ba) {
			t.Errorf("MR got %+v, want from %s:%d", r, tc.replyIs, DSMIPv6Port)
		}
	}

	if err := mr.Send(netip.MustParseAddrPort("[2001:db8::1]:4191"), nil); !errors.Is(err, ErrBadAddress) {
		t.Errorf("send to IPv6: err = %v, want ErrBadAddress", err)
	}
	if err := mr.SendFrom(p.AddrA, netip.AddrPortFrom(p.V4B, DSMIPv6Port), nil); !errors.Is(err, ErrBadAddress) {
		t.Errorf("IPv6 source: err = %v, want ErrBadAddress", err)
	}
	p.A.do(t, func() error {
		_, err := ListenUDP4(ctx, UDP4Config{Local: netip.AddrPortFrom(p.AddrA, 0)})
		if !errors.Is(err, ErrBadAddress) {
			t.Errorf("IPv6 local: err = %v, want ErrBadAddress", err)
		}
		return nil
	})

	mr.Close()
	if err := mr.Send(netip.AddrPortFrom(p.V4B, DSMIPv6Port), []byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("send after Close: err = %v, want ErrClosed", err)
	}
	if _, ok := <-mr.Packets(); ok {
		t.Error("Packets still open after Close")
	}
	if mr.Err() != nil {
		t.Errorf("Err after Close = %v", mr.Err())
	}
}
