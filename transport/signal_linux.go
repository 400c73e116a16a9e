package transport

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"golang.org/x/sys/unix"
)

// signalProtocols are the sockets ListenSignal opens, one reader each.
var signalProtocols = [...]uint8{ProtoDestOpts, ProtoRouting, ProtoMH}

// ListenSignal opens raw IPv6 sockets for protocols 60, 43 and 135 and
// delivers every packet they receive as a [Received] (see PLATFORM.md
// "Signalling sockets"):
//
//   - 60 receives packets whose first extension header is a Destination
//     Options header, such as a Binding Update with a Home Address option
//     (the kernel without CONFIG_IPV6_MIP6 then drops its own copy and
//     answers the sender with an ICMPv6 Parameter Problem);
//   - 43 receives packets with a Routing header, such as a Binding
//     Acknowledgement with a type 2 routing header (same remark);
//   - 135 receives a Mobility Header that follows the IPv6 header
//     directly. The kernel verifies its checksum (offset 4, the default
//     for this protocol, which we keep) with the packet's own addresses
//     and silently drops a bad one.
//
// The sockets do not look further: a packet on 60 or 43 need not hold a
// Mobility Header at all, and the caller (mh.ParseSignal) decides. A
// kernel with CONFIG_IPV6_MIP6 and matching xfrm states may deliver a
// packet with a Home Address option on both 60 and 135; the daemons
// configure no such states.
//
// The sockets are created in the calling thread's network namespace (see
// [InNetNS]). Cancelling ctx stops the listener as Close does.
func ListenSignal(ctx context.Context, cfg SignalConfig) (*Listener[Received], error) {
	var socks []io.Closer
	var reads []readFunc[Received]
	for _, proto := range signalProtocols {
		s, err := newSocket(fmt.Sprintf("raw IPv6 protocol %d", proto), unix.AF_INET6, unix.SOCK_RAW, int(proto),
			func(fd int) error {
				if err := bindToDevice(fd, cfg.Device); err != nil {
					return err
				}
				return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1)
			})
		if err != nil {
			for _, c := range socks {
				c.Close()
			}
			return nil, err
		}
		socks = append(socks, s)
		reads = append(reads, signalReader(s, proto))
	}
	return startListener(ctx, cfg.Queue, socks, reads), nil
}

// signalReader reads from one signalling socket into a buffer it reuses.
func signalReader(s *socket, proto uint8) readFunc[Received] {
	buf := make([]byte, recvBufLen)
	oob := make([]byte, oobBufLen)
	return func() (Received, bool, error) {
		n, oobn, flags, from, err := s.recvmsg(buf, oob)
		if err != nil {
			return Received{}, false, fmt.Errorf("transport: receive on protocol %d: %w", proto, err)
		}
		if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
			return Received{}, false, nil
		}
		c, err := parseControl(oob[:oobn])
		if err != nil || !c.Dst.IsValid() {
			return Received{}, false, nil
		}
		return Received{
			Src:        addrFromSockaddr(from),
			Dst:        c.Dst,
			IfIndex:    c.IfIndex,
			NextHeader: proto,
			Data:       bytes.Clone(buf[:n]),
		}, true, nil
	}
}

// IPv6Sender sends whole IPv6 packets, header included, through a raw
// AF_INET6 socket with protocol IPPROTO_RAW. It is safe for concurrent use.
type IPv6Sender struct {
	s       *socket
	ifIndex int
}

// OpenSender opens a header-included raw IPv6 socket in the calling
// thread's network namespace (see [InNetNS]).
func OpenSender(cfg SenderConfig) (*IPv6Sender, error) {
	ifIndex := 0
	s, err := newSocket("raw IPv6 (header included)", unix.AF_INET6, unix.SOCK_RAW, protoRaw, func(fd int) error {
		if cfg.Device != "" {
			idx, err := ifIndexByName(cfg.Device)
			if err != nil {
				return err
			}
			ifIndex = idx
		}
		if err := bindToDevice(fd, cfg.Device); err != nil {
			return err
		}
		// Our own multicast sends must not come back to our listeners
		// (a looped-back DAD probe would look like a competing one).
		return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP, 0)
	})
	if err != nil {
		return nil, err
	}
	return &IPv6Sender{s: s, ifIndex: ifIndex}, nil
}

// Send sends pkt, a whole IPv6 packet. The kernel sends the header as
// given (version, traffic class, flow label, hop limit, source and
// destination are not changed); the Payload Length must match len(pkt)-40
// or Send refuses the packet with ErrBadPacket. The socket address is the
// packet's destination; a link-local or link-scope multicast destination
// goes out of the sender's Device (it needs one). pkt is not retained.
func (s *IPv6Sender) Send(pkt []byte) error {
	return s.sendVia(pkt, s.ifIndex)
}

func (s *IPv6Sender) sendVia(pkt []byte, ifIndex int) error {
	dst, err := checkIPv6Packet(pkt)
	if err != nil {
		return err
	}
	sa := &unix.SockaddrInet6{Addr: dst.As16()}
	if needsZone(dst) {
		if ifIndex == 0 {
			return fmt.Errorf("%w: destination %s needs an interface (open the sender with a Device)", ErrBadAddress, dst)
		}
		sa.ZoneId = uint32(ifIndex)
	}
	if err := s.s.sendmsg(pkt, nil, sa); err != nil {
		return fmt.Errorf("transport: send to %s: %w", dst, err)
	}
	return nil
}

// Close closes the socket. It is idempotent.
func (s *IPv6Sender) Close() error {
	s.s.Close()
	return nil
}
