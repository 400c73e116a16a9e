package transport

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// EchoSender sends ICMPv6 Echo Requests from a chosen source address,
// routed by the kernel like any local packet (with the mobile router's
// policy rules, from the home address into the tunnel). It never reads:
// its ICMPv6 filter blocks every type, so nothing queues on it. The mobile
// router's tunnel check counts what the tunnel receives instead of matching
// replies. Not safe for concurrent use.
type EchoSender struct {
	s   *socket
	id  uint16
	seq uint16
	msg [16]byte
}

// OpenEchoSender opens the socket; id is the Echo Identifier.
func OpenEchoSender(id uint16) (*EchoSender, error) {
	s, err := newSocket("ICMPv6 echo", unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_ICMPV6, func(fd int) error {
		var f unix.ICMPv6Filter
		for i := range f.Data {
			f.Data[i] = ^uint32(0) // a set bit blocks that type
		}
		if err := unix.SetsockoptICMPv6Filter(fd, unix.SOL_ICMPV6, unix.ICMPV6_FILTER, &f); err != nil {
			return fmt.Errorf("ICMPv6 filter: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	e := &EchoSender{s: s, id: id}
	e.msg[0] = 128 // Echo Request (RFC 4443 4.1); the kernel fills the checksum
	binary.BigEndian.PutUint16(e.msg[4:], id)
	copy(e.msg[8:], "nemo-probe")
	return e, nil
}

// Send sends one Echo Request from src to dst and returns its sequence
// number.
func (e *EchoSender) Send(src, dst netip.Addr) (uint16, error) {
	if !src.Is6() || src.Is4In6() || !dst.Is6() || dst.Is4In6() {
		return 0, fmt.Errorf("%w: echo request %v → %v", ErrBadAddress, src, dst)
	}
	e.seq++
	binary.BigEndian.PutUint16(e.msg[6:], e.seq)
	oob := unix.PktInfo6(&unix.Inet6Pktinfo{Addr: src.As16()})
	if err := e.s.sendmsg(e.msg[:], oob, &unix.SockaddrInet6{Addr: dst.As16()}); err != nil {
		return e.seq, fmt.Errorf("transport: echo request %v → %v: %w", src, dst, err)
	}
	return e.seq, nil
}

// Close closes the socket.
func (e *EchoSender) Close() error { return e.s.Close() }
