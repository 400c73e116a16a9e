package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// recvBufLen is the size of a reader's reusable buffer: the largest IPv6
// payload without a jumbogram. A datagram that does not fit (MSG_TRUNC)
// is dropped.
const recvBufLen = 1 << 16

// oobBufLen holds the control messages we ask for (packet info and hop
// limit) with room to spare.
const oobBufLen = 256

// socket is a non-blocking socket registered with the Go runtime's poller,
// so that a blocked read ends when the socket is closed.
type socket struct {
	f      *os.File
	rc     syscall.RawConn
	closed atomic.Bool
}

// newSocket opens a socket and runs setup on its descriptor before it is
// handed to the poller.
func newSocket(name string, domain, typ, proto int, setup func(fd int) error) (*socket, error) {
	fd, err := unix.Socket(domain, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, fmt.Errorf("transport: %s socket: %w", name, err)
	}
	if setup != nil {
		if err := setup(fd); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("transport: %s socket: %w", name, err)
		}
	}
	f := os.NewFile(uintptr(fd), name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("transport: %s socket: %w", name, err)
	}
	return &socket{f: f, rc: rc}, nil
}

// Close closes the socket; a blocked recvmsg returns.
func (s *socket) Close() error {
	s.closed.Store(true)
	return s.f.Close()
}

func (s *socket) recvmsg(p, oob []byte) (n, oobn, flags int, from unix.Sockaddr, err error) {
	cerr := s.rc.Read(func(fd uintptr) bool {
		for {
			n, oobn, flags, from, err = unix.Recvmsg(int(fd), p, oob, 0)
			if err != unix.EINTR {
				return err != unix.EAGAIN
			}
		}
	})
	if cerr != nil {
		return 0, 0, 0, nil, s.closedErr(cerr)
	}
	return n, oobn, flags, from, err
}

func (s *socket) sendmsg(p, oob []byte, to unix.Sockaddr) error {
	var err error
	cerr := s.rc.Write(func(fd uintptr) bool {
		for {
			_, err = unix.SendmsgN(int(fd), p, oob, to, 0)
			if err != unix.EINTR {
				return err != unix.EAGAIN
			}
		}
	})
	if cerr != nil {
		return s.closedErr(cerr)
	}
	return err
}

// closedErr maps the poller's error after Close to ErrClosed.
func (s *socket) closedErr(err error) error {
	if s.closed.Load() || errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

// isTemporary reports errors after which a reader keeps reading: signals
// and errors a socket reports for an earlier packet (ICMP errors queued on
// it, a full queue) rather than for itself.
func isTemporary(err error) bool {
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case unix.EINTR, unix.EAGAIN, unix.ENOBUFS, unix.ENOMEM,
		unix.ECONNREFUSED, unix.EHOSTUNREACH, unix.ENETUNREACH,
		unix.EHOSTDOWN, unix.ENETDOWN, unix.EMSGSIZE:
		return true
	}
	return false
}

// bindToDevice sets SO_BINDTODEVICE unless dev is empty.
func bindToDevice(fd int, dev string) error {
	if dev == "" {
		return nil
	}
	if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, dev); err != nil {
		return fmt.Errorf("bind to device %q: %w", dev, err)
	}
	return nil
}

// control is what the kernel told us about a received packet.
type control struct {
	Dst      netip.Addr
	IfIndex  int
	HopLimit int // -1: not reported
}

// parseControl parses IPV6_PKTINFO, IPV6_HOPLIMIT and IP_PKTINFO control
// messages and ignores any others.
func parseControl(oob []byte) (control, error) {
	c := control{HopLimit: -1}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return control{}, fmt.Errorf("%w: control message: %w", ErrBadPacket, err)
	}
	for _, m := range msgs {
		switch {
		case m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_PKTINFO:
			if len(m.Data) < unix.SizeofInet6Pktinfo {
				return control{}, fmt.Errorf("%w: IPV6_PKTINFO of %d bytes", ErrBadPacket, len(m.Data))
			}
			c.Dst = netip.AddrFrom16([16]byte(m.Data[:16]))
			c.IfIndex = int(binary.NativeEndian.Uint32(m.Data[16:20]))
		case m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_HOPLIMIT:
			if len(m.Data) < 4 {
				return control{}, fmt.Errorf("%w: IPV6_HOPLIMIT of %d bytes", ErrBadPacket, len(m.Data))
			}
			c.HopLimit = int(int32(binary.NativeEndian.Uint32(m.Data[:4])))
		case m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_PKTINFO:
			// struct in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr; }
			if len(m.Data) < unix.SizeofInet4Pktinfo {
				return control{}, fmt.Errorf("%w: IP_PKTINFO of %d bytes", ErrBadPacket, len(m.Data))
			}
			c.IfIndex = int(binary.NativeEndian.Uint32(m.Data[0:4]))
			c.Dst = netip.AddrFrom4([4]byte(m.Data[8:12]))
		}
	}
	return c, nil
}

// addrFromSockaddr returns the address of a received packet's source,
// without zone.
func addrFromSockaddr(sa unix.Sockaddr) netip.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(sa.Addr)
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(sa.Addr)
	}
	return netip.Addr{}
}

// needsZone reports whether a destination needs an interface index.
func needsZone(a netip.Addr) bool {
	return a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast()
}

// InNetNS runs fn on a new OS thread that has been switched into the
// network namespace ns, and returns fn's error. Sockets, interface
// lookups and netlink requests made by fn act in ns; the thread is
// discarded afterwards rather than switched back, so no other goroutine
// ever runs in ns by accident. Goroutines fn starts do not inherit the
// namespace (the sockets they use do).
func InNetNS(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the runtime ends the thread when this
		// goroutine returns.
		runtime.LockOSThread()
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("transport: enter network namespace: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}
