package transport

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// appendCmsg appends one control message in the kernel's layout.
func appendCmsg(b []byte, level, typ int32, data []byte) []byte {
	m := make([]byte, unix.CmsgSpace(len(data)))
	h := unix.Cmsghdr{Level: level, Type: typ}
	h.SetLen(unix.CmsgLen(len(data)))
	// Cmsghdr is Len (word), Level, Type in host order.
	off := unix.CmsgLen(0) - 8
	if off == 8 {
		binary.NativeEndian.PutUint64(m, uint64(h.Len))
	} else {
		binary.NativeEndian.PutUint32(m, uint32(h.Len))
	}
	binary.NativeEndian.PutUint32(m[off:], uint32(level))
	binary.NativeEndian.PutUint32(m[off+4:], uint32(typ))
	copy(m[unix.CmsgLen(0):], data)
	return append(b, m...)
}

// marshalControl is the inverse of parseControl for what it reports.
func marshalControl(c control) []byte {
	var b []byte
	switch {
	case c.Dst.Is6():
		d := make([]byte, unix.SizeofInet6Pktinfo)
		a := c.Dst.As16()
		copy(d, a[:])
		binary.NativeEndian.PutUint32(d[16:], uint32(c.IfIndex))
		b = appendCmsg(b, unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, d)
	case c.Dst.Is4():
		d := make([]byte, unix.SizeofInet4Pktinfo)
		binary.NativeEndian.PutUint32(d, uint32(c.IfIndex))
		a := c.Dst.As4()
		copy(d[8:], a[:])
		b = appendCmsg(b, unix.IPPROTO_IP, unix.IP_PKTINFO, d)
	}
	if c.HopLimit != -1 {
		d := make([]byte, 4)
		binary.NativeEndian.PutUint32(d, uint32(int32(c.HopLimit)))
		b = appendCmsg(b, unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, d)
	}
	return b
}

func TestParseControl(t *testing.T) {
	for _, c := range []control{
		{Dst: netip.MustParseAddr("ff02::1"), IfIndex: 7, HopLimit: 255},
		{Dst: netip.MustParseAddr("2001:db8::1"), IfIndex: 1 << 20, HopLimit: -1},
		{Dst: netip.MustParseAddr("192.0.2.1"), IfIndex: 3, HopLimit: -1},
		{HopLimit: 64},
	} {
		got, err := parseControl(marshalControl(c))
		if err != nil || got != c {
			t.Errorf("%+v: got %+v, %v", c, got, err)
		}
	}
	short := appendCmsg(nil, unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, make([]byte, 8))
	if _, err := parseControl(short); !errors.Is(err, ErrBadPacket) {
		t.Errorf("short IPV6_PKTINFO: %v", err)
	}
	other := appendCmsg(nil, unix.SOL_SOCKET, unix.SCM_TIMESTAMP, make([]byte, 16))
	if c, err := parseControl(other); err != nil || c != (control{HopLimit: -1}) {
		t.Errorf("unrelated message: %+v, %v", c, err)
	}
}

// FuzzParseControl: no panic; what parses survives marshal -> parse.
func FuzzParseControl(f *testing.F) {
	f.Add(marshalControl(control{Dst: netip.MustParseAddr("ff02::1"), IfIndex: 2, HopLimit: 255}))
	f.Add(marshalControl(control{Dst: netip.MustParseAddr("192.0.2.1"), IfIndex: 2, HopLimit: -1}))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseControl(b)
		if err != nil {
			if c != (control{}) {
				t.Fatalf("half-filled value on error: %+v", c)
			}
			return
		}
		again, err := parseControl(marshalControl(c))
		if err != nil || again != c {
			t.Fatalf("round trip: %+v -> %+v, %v", c, again, err)
		}
	})
}
