package transport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"

	"golang.org/x/sys/unix"
	"unsafe"
)

// UDP4 is a UDP/IPv4 socket for DSMIPv6 (RFC 5555): signalling and, when
// NAT is detected, data (the version nibble of the payload tells an inner
// IPv4 packet from an inner IPv6 one). It receives like a [Listener] and
// sends with Send. It is safe for concurrent use.
type UDP4 struct {
	l     *Listener[Datagram]
	s     *socket
	local netip.AddrPort
}

// ListenUDP4 opens and binds a UDP/IPv4 socket in the calling thread's
// network namespace (see [InNetNS]).
func ListenUDP4(ctx context.Context, cfg UDP4Config) (*UDP4, error) {
	local := cfg.Local
	if !local.Addr().IsValid() {
		local = netip.AddrPortFrom(netip.IPv4Unspecified(), local.Port())
	}
	a := local.Addr().Unmap()
	if !a.Is4() {
		return nil, fmt.Errorf("%w: UDP4 local address %s is not IPv4", ErrBadAddress, local)
	}
	local = netip.AddrPortFrom(a, local.Port())
	s, err := newSocket("UDP/IPv4", unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_UDP, func(fd int) error {
		if err := bindToDevice(fd, cfg.Device); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1); err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: local.Addr().As4(), Port: int(local.Port())}); err != nil {
			return fmt.Errorf("bind %s: %w", local, err)
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			return err
		}
		if sa4, ok := sa.(*unix.SockaddrInet4); ok {
			local = netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), uint16(sa4.Port))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	l := startListener(ctx, cfg.Queue, []io.Closer{s}, []readFunc[Datagram]{udp4Reader(s)})
	return &UDP4{l: l, s: s, local: local}, nil
}

func udp4Reader(s *socket) readFunc[Datagram] {
	buf := make([]byte, recvBufLen)
	oob := make([]byte, oobBufLen)
	return func() (Datagram, bool, error) {
		n, oobn, flags, from, err := s.recvmsg(buf, oob)
		if err != nil {
			return Datagram{}, false, fmt.Errorf("transport: receive UDP: %w", err)
		}
		sa, ok := from.(*unix.SockaddrInet4)
		if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 || !ok {
			return Datagram{}, false, nil
		}
		c, err := parseControl(oob[:oobn])
		if err != nil {
			return Datagram{}, false, nil
		}
		return Datagram{
			From:    netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)),
			Dst:     c.Dst,
			IfIndex: c.IfIndex,
			Data:    bytes.Clone(buf[:n]),
		}, true, nil
	}
}

// Packets returns the channel on which received datagrams arrive; see
// [Listener.Packets].
func (u *UDP4) Packets() <-chan Datagram { return u.l.Packets() }

// Err reports why the socket stopped receiving; see [Listener.Err].
func (u *UDP4) Err() error { return u.l.Err() }

// LocalAddr returns the bound address and port (the kernel's choice of
// port when 0 was asked for).
func (u *UDP4) LocalAddr() netip.AddrPort { return u.local }

// Send sends payload to to. payload is not retained.
func (u *UDP4) Send(to netip.AddrPort, payload []byte) error {
	return u.SendFrom(netip.Addr{}, to, payload)
}

// SendFrom sends payload to to with IPv4 source src (IP_PKTINFO), so that
// a home agent with several addresses answers from the one a mobile router
// wrote to. A zero src lets the kernel choose, as Send does.
func (u *UDP4) SendFrom(src netip.Addr, to netip.AddrPort, payload []byte) error {
	a := to.Addr().Unmap()
	if !a.Is4() || to.Port() == 0 {
		return fmt.Errorf("%w: UDP4 destination %s", ErrBadAddress, to)
	}
	var oob []byte
	if src.IsValid() {
		s := src.Unmap()
		if !s.Is4() {
			return fmt.Errorf("%w: UDP4 source %s", ErrBadAddress, src)
		}
		oob = pktinfo4(s)
	}
	if err := u.s.sendmsg(payload, oob, &unix.SockaddrInet4{Addr: a.As4(), Port: int(to.Port())}); err != nil {
		return fmt.Errorf("transport: send UDP to %s: %w", to, err)
	}
	return nil
}

// pktinfo4 builds an IP_PKTINFO control message asking for source src.
func pktinfo4(src netip.Addr) []byte {
	b := make([]byte, unix.CmsgSpace(unix.SizeofInet4Pktinfo))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = unix.IPPROTO_IP
	h.Type = unix.IP_PKTINFO
	h.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
	info := (*unix.Inet4Pktinfo)(unsafe.Pointer(&b[unix.CmsgLen(0)]))
	info.Spec_dst = src.As4()
	return b
}

// Close stops receiving and closes the socket; see [Listener.Close].
func (u *UDP4) Close() error { return u.l.Close() }
