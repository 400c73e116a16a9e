package dataplane

import (
	"encoding/binary"
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TUN offload flags (include/uapi/linux/if_tun.h).
const (
	tunFCsum = 0x01 // TUN_F_CSUM
	tunFTSO4 = 0x02 // TUN_F_TSO4
	tunFTSO6 = 0x04 // TUN_F_TSO6
)

// openTUN creates the TUN device name (IFF_TUN|IFF_NO_PI: packets are bare
// IPv4/IPv6, the version nibble tells them apart) in the calling thread's
// network namespace and returns it as a pollable file. The device vanishes
// when the file is closed (it is not persistent), taking its routes along,
// so a crashed process leaves no TUN device behind.
//
// It first asks for offloads (IFF_VNET_HDR, then TUNSETOFFLOAD with
// checksum offload and TSO for IPv4 and IPv6): every packet then carries a
// virtio-net header, and the kernel may hand over TCP bursts of up to 64 KiB
// that the plane segments itself (offload.go). A kernel or emulator that
// refuses gets the plain device; vnet tells which it is.
func openTUN(name string) (f *os.File, vnet bool, err error) {
	if fd, err := openTUNFlags(name, unix.IFF_VNET_HDR); err == nil {
		if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tunFCsum|tunFTSO4|tunFTSO6); err == nil {
			return os.NewFile(uintptr(fd), "/dev/net/tun:"+name), true, nil
		}
		unix.Close(fd)
	}
	fd, err := openTUNFlags(name, 0)
	if err != nil {
		return nil, false, err
	}
	return os.NewFile(uintptr(fd), "/dev/net/tun:"+name), false, nil
}

func openTUNFlags(name string, extra uint16) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, fmt.Errorf("dataplane: open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("dataplane: TUN name %q: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI | extra)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("dataplane: TUNSETIFF %s: %w", name, err)
	}
	return fd, nil
}

// tunIO reads and writes the TUN device without allocating: one per
// goroutine. readWait blocks until a packet is there; readNow does not
// (n = -1: none ready).
type tunIO struct {
	rc       syscall.RawConn
	buf      []byte
	n        int
	errno    syscall.Errno
	readWait func(fd uintptr) bool
	readNow  func(fd uintptr) bool
	iov      [2]unix.Iovec
	hdr      [vnetHdrLen]byte
	write    func(fd uintptr) bool
}

func newTunIO(f *os.File, buf []byte) (*tunIO, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &tunIO{rc: rc, buf: buf}
	read := func(fd uintptr) syscall.Errno {
		n, _, e := unix.Syscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&r.buf[0])), uintptr(len(r.buf)))
		r.n, r.errno = int(n), e
		if e != 0 {
			r.n = -1
		}
		return e
	}
	r.readWait = func(fd uintptr) bool { return read(fd) != unix.EAGAIN }
	r.readNow = func(fd uintptr) bool {
		if read(fd) == unix.EAGAIN {
			r.errno = 0
		}
		return true
	}
	r.write = func(fd uintptr) bool {
		_, _, e := unix.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&r.iov[0])), 2)
		r.errno = e
		return true // a TUN device drops rather than blocks
	}
	return r, nil
}

// writeWithHeader writes pkt behind a zero virtio-net header (no offload
// asked: the checksums are complete) with one writev.
func (r *tunIO) writeWithHeader(pkt []byte) error {
	if len(pkt) == 0 {
		return nil
	}
	r.iov[0].Base = &r.hdr[0]
	r.iov[0].SetLen(vnetHdrLen)
	r.iov[1].Base = &pkt[0]
	r.iov[1].SetLen(len(pkt))
	err := r.rc.Write(r.write)
	r.iov[1].Base = nil
	if err != nil {
		return err
	}
	if r.errno != 0 {
		return r.errno
	}
	return nil
}

// rawSocket is a non-blocking raw socket registered with the runtime
// poller, so that a blocked read ends when the file is closed.
type rawSocket struct {
	f  *os.File
	rc syscall.RawConn
}

// socketBuffer is the receive buffer asked for on the raw sockets.
const socketBuffer = 1 << 20

func openRaw(family, proto int) (*rawSocket, error) {
	fd, err := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, fmt.Errorf("dataplane: raw socket (family %d, protocol %d): %w", family, proto, err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, socketBuffer) // best effort
	f := os.NewFile(uintptr(fd), fmt.Sprintf("raw:%d:%d", family, proto))
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("dataplane: raw socket: %w", err)
	}
	return &rawSocket{f: f, rc: rc}, nil
}

// txState is a tunnel's prepared, immutable send state: the outer
// destination as a raw sockaddr and a control-message template (source
// address and device via IPV6_PKTINFO / IP_PKTINFO, then an int-valued
// IPV6_TCLASS / IP_TOS at tcOff that each sender fills in per packet).
type txState struct {
	sa6   unix.RawSockaddrInet6
	sa4   unix.RawSockaddrInet4
	ctrl  []byte
	tcOff int
}

// prepareTx builds the send state of t; ifindex is t.Device's index or 0.
func prepareTx(t Tunnel, ifindex int) txState {
	var tx txState
	switch t.Encap {
	case IP6IP6:
		tx.sa6.Family = unix.AF_INET6
		tx.sa6.Addr = t.Remote.As16()
		pi := unix.Inet6Pktinfo{Addr: t.Local.As16(), Ifindex: uint32(ifindex)}
		tx.ctrl, tx.tcOff = buildControl(unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unsafe.Slice((*byte)(unsafe.Pointer(&pi)), unix.SizeofInet6Pktinfo), unix.IPV6_TCLASS)
	case IP6IP4:
		tx.sa4.Family = unix.AF_INET
		tx.sa4.Addr = t.Remote.As4()
		pi := unix.Inet4Pktinfo{Ifindex: int32(ifindex), Spec_dst: t.Local.As4()}
		tx.ctrl, tx.tcOff = buildControl(unix.IPPROTO_IP, unix.IP_PKTINFO, unsafe.Slice((*byte)(unsafe.Pointer(&pi)), unix.SizeofInet4Pktinfo), unix.IP_TOS)
	}
	return tx
}

// buildControl lays out two control messages: a pktinfo one with the given
// data and an int-valued traffic-class one, returning the buffer and the
// offset of the int.
func buildControl(level, pktinfoType int, pktinfo []byte, tcType int) ([]byte, int) {
	first := unix.CmsgSpace(len(pktinfo))
	b := make([]byte, first+unix.CmsgSpace(4))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = int32(level), int32(pktinfoType)
	h.SetLen(unix.CmsgLen(len(pktinfo)))
	copy(b[unix.CmsgLen(0):], pktinfo)
	h = (*unix.Cmsghdr)(unsafe.Pointer(&b[first]))
	h.Level, h.Type = int32(level), int32(tcType)
	h.SetLen(unix.CmsgLen(4))
	return b, first + unix.CmsgLen(0)
}

// maxControl bounds the control buffer a sender carries.
const maxControl = 128

// sender sends outer packets with sendmsg on raw sockets without
// allocating: one per goroutine, its msghdr and control buffer reused.
type sender struct {
	msg   unix.Msghdr
	iov   unix.Iovec
	ctrl  [maxControl / 8]uint64 // 8-byte aligned for cmsghdr
	errno syscall.Errno
	write func(fd uintptr) bool
}

func newSender() *sender {
	s := &sender{}
	s.msg.Iov = &s.iov
	s.msg.SetIovlen(1)
	s.write = func(fd uintptr) bool {
		_, _, e := unix.Syscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&s.msg)), 0)
		if e == unix.EAGAIN {
			return false
		}
		s.errno = e
		return true
	}
	return s
}

// send sends pkt (an inner packet with traffic class tc) through t on
// sock: the kernel builds the outer header.
func (s *sender) send(sock *rawSocket, t *planeTunnel, pkt []byte, tc uint8) error {
	ctrl := unsafe.Slice((*byte)(unsafe.Pointer(&s.ctrl[0])), maxControl)
	n := copy(ctrl, t.tx.ctrl)
	binary.NativeEndian.PutUint32(ctrl[t.tx.tcOff:], uint32(tc))
	if t.cfg.Encap == IP6IP6 {
		s.msg.Name = (*byte)(unsafe.Pointer(&t.tx.sa6))
		s.msg.Namelen = unix.SizeofSockaddrInet6
	} else {
		s.msg.Name = (*byte)(unsafe.Pointer(&t.tx.sa4))
		s.msg.Namelen = unix.SizeofSockaddrInet4
	}
	s.iov.Base = &pkt[0]
	s.iov.SetLen(len(pkt))
	s.msg.Control = &ctrl[0]
	s.msg.SetControllen(n)
	s.errno = 0
	if err := sock.rc.Write(s.write); err != nil {
		return err
	}
	if s.errno != 0 {
		return s.errno
	}
	return nil
}
