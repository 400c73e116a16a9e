package transport

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync/atomic"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// ethPIPv6 is the Ethernet type of IPv6.
const ethPIPv6 = 0x86DD

// NDProxyConfig configures an NDProxy.
type NDProxyConfig struct {
	// Interface is the link to answer on (the home link).
	Interface string
	// Lookup reports whether target is an address to answer for, and
	// whether its owner is a router (R flag, RFC 3963 6.3). It is called
	// from the proxy's goroutine and must be safe for that.
	Lookup func(target netip.Addr) (router, ok bool)
}

// NDProxy answers Neighbor Solicitations for the addresses Lookup names,
// with this interface's link-layer address (RFC 6275 10.4.1: a home agent
// intercepts and defends its mobile nodes' home addresses). It works from
// user space: a packet socket in all-multicast mode with a filter that
// passes only Neighbor Solicitations, so the kernel keeps no entry per
// address (its proxy entries join a solicited-node group each, and the
// group list is searched linearly: with 100,000 home addresses each new
// entry cost over a millisecond).
type NDProxy struct {
	cfg  NDProxyConfig
	s    *socket
	na   *NASender
	done chan struct{}

	answered, ignored, malformed, sendErrors atomic.Uint64
}

// ListenNDProxy opens the packet socket on cfg.Interface (in the calling
// thread's network namespace) and starts answering.
func ListenNDProxy(cfg NDProxyConfig) (*NDProxy, error) {
	if cfg.Lookup == nil {
		return nil, errors.New("transport: ND proxy without a Lookup")
	}
	idx, err := ifIndexByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("transport: ND proxy on %s: %w", cfg.Interface, err)
	}
	// IPv6 header at offset 0 (SOCK_DGRAM): next header 58, ICMPv6 type
	// 135. Solicitations behind extension headers are not proxied (RFC
	// 4861 messages carry none in practice).
	prog, err := bpf.Assemble([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 6, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(ProtoICMPv6), SkipTrue: 3},
		bpf.LoadAbsolute{Off: ipv6HeaderLen, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(icmpNeighborSolic), SkipTrue: 1},
		bpf.RetConstant{Val: 0xffff},
		bpf.RetConstant{Val: 0},
	})
	if err != nil {
		return nil, fmt.Errorf("transport: ND proxy filter: %w", err)
	}
	filter := make([]unix.SockFilter, len(prog))
	for i, ins := range prog {
		filter[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	s, err := newSocket("packet (ND proxy)", unix.AF_PACKET, unix.SOCK_DGRAM, int(arpHtons(ethPIPv6)), func(fd int) error {
		if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}); err != nil {
			return fmt.Errorf("attach filter: %w", err)
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: arpHtons(ethPIPv6), Ifindex: idx}); err != nil {
			return fmt.Errorf("bind to %s: %w", cfg.Interface, err)
		}
		// Solicitations go to solicited-node groups nobody on this host
		// joined: take all multicast while the socket lives.
		mreq := unix.PacketMreq{Ifindex: int32(idx), Type: unix.PACKET_MR_ALLMULTI}
		return unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq)
	})
	if err != nil {
		return nil, err
	}
	p := &NDProxy{cfg: cfg, s: s, na: OpenNASender(cfg.Interface), done: make(chan struct{})}
	// The answering socket is opened here, in the caller's namespace (the
	// goroutine below may run on any thread).
	if err := p.na.open(); err != nil {
		s.Close()
		return nil, fmt.Errorf("transport: ND proxy on %s: %w", cfg.Interface, err)
	}
	go p.loop()
	return p, nil
}

func (p *NDProxy) loop() {
	defer close(p.done)
	buf := make([]byte, 1500)
	for {
		n, _, _, from, err := p.s.recvmsg(buf, nil)
		if err != nil {
			if errors.Is(err, os.ErrClosed) || p.s.closed.Load() {
				return
			}
			continue
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue // our own
		}
		d, err := decideNS(buf[:n], func(a netip.Addr) bool { _, ok := p.cfg.Lookup(a); return ok })
		switch {
		case err != nil:
			p.malformed.Add(1)
			continue
		case !d.reply:
			p.ignored.Add(1)
			continue
		}
		router, _ := p.cfg.Lookup(d.target)
		opt := NAOptions{Router: router}
		if !d.dad {
			// RFC 4861 7.2.4: a solicited answer, to the solicitor. A
			// proxy leaves Override clear (7.2.8); the home agent's
			// unsolicited advertisements set it.
			opt.Dst = d.to
			opt.Solicited = true
		}
		if err := p.na.Send(d.target, opt); err != nil {
			p.sendErrors.Add(1)
			continue
		}
		p.answered.Add(1)
	}
}

// Counters returns the solicitations answered, ignored (not ours),
// malformed, and those whose answer could not be sent.
func (p *NDProxy) Counters() (answered, ignored, malformed, sendErrors uint64) {
	return p.answered.Load(), p.ignored.Load(), p.malformed.Load(), p.sendErrors.Load()
}

// Close stops answering and leaves all-multicast mode.
func (p *NDProxy) Close() error {
	err := p.s.Close()
	<-p.done
	p.na.Close()
	return err
}
