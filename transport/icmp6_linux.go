package transport

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ListenICMPv6 opens a raw ICMPv6 socket in the calling thread's network
// namespace (see [InNetNS]) and delivers the messages it receives with
// their addresses, interface and hop limit. The kernel verifies the
// ICMPv6 checksum before delivery.
func ListenICMPv6(ctx context.Context, cfg ICMPv6Config) (*Listener[ICMPv6Packet], error) {
	s, err := openICMPv6(cfg)
	if err != nil {
		return nil, err
	}
	return startListener(ctx, cfg.Queue, []io.Closer{s}, []readFunc[ICMPv6Packet]{icmpReader(s)}), nil
}

func openICMPv6(cfg ICMPv6Config) (*socket, error) {
	return newSocket("raw ICMPv6", unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_ICMPV6, func(fd int) error {
		if err := bindToDevice(fd, cfg.Device); err != nil {
			return err
		}
		if len(cfg.Types) > 0 {
			var f unix.ICMPv6Filter
			for i := range f.Data {
				f.Data[i] = ^uint32(0) // block everything ...
			}
			for _, t := range cfg.Types {
				f.Data[t>>5] &^= 1 << (uint32(t) & 31) // ... but these
			}
			if err := unix.SetsockoptICMPv6Filter(fd, unix.SOL_ICMPV6, unix.ICMPV6_FILTER, &f); err != nil {
				return fmt.Errorf("ICMP6_FILTER: %w", err)
			}
		}
		for _, o := range []int{unix.IPV6_RECVPKTINFO, unix.IPV6_RECVHOPLIMIT} {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, o, 1); err != nil {
				return err
			}
		}
		if len(cfg.Groups) > 0 {
			if cfg.Device == "" {
				return fmt.Errorf("%w: joining multicast groups needs a Device", ErrBadAddress)
			}
			idx, err := ifIndexByName(cfg.Device)
			if err != nil {
				return err
			}
			for _, g := range cfg.Groups {
				if !g.Is6() || !g.IsMulticast() {
					return fmt.Errorf("%w: %s is not an IPv6 multicast group", ErrBadAddress, g)
				}
				m := unix.IPv6Mreq{Multiaddr: g.As16(), Interface: uint32(idx)}
				if err := unix.SetsockoptIPv6Mreq(fd, unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, &m); err != nil {
					return fmt.Errorf("join %s on %s: %w", g, cfg.Device, err)
				}
			}
		}
		return nil
	})
}

func icmpReader(s *socket) readFunc[ICMPv6Packet] {
	buf := make([]byte, recvBufLen)
	oob := make([]byte, oobBufLen)
	return func() (ICMPv6Packet, bool, error) {
		n, oobn, flags, from, err := s.recvmsg(buf, oob)
		if err != nil {
			return ICMPv6Packet{}, false, fmt.Errorf("transport: receive ICMPv6: %w", err)
		}
		if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 || n < 4 {
			return ICMPv6Packet{}, false, nil
		}
		c, err := parseControl(oob[:oobn])
		if err != nil || !c.Dst.IsValid() {
			return ICMPv6Packet{}, false, nil
		}
		return ICMPv6Packet{
			Src:      addrFromSockaddr(from),
			Dst:      c.Dst,
			IfIndex:  c.IfIndex,
			HopLimit: c.HopLimit,
			Data:     bytes.Clone(buf[:n]),
		}, true, nil
	}
}

// ListenRA receives Router Advertisements (ICMPv6 type 134) on ifname.
// Data starts at the ICMPv6 type; callers must drop advertisements whose
// HopLimit is not 255 or whose source is not link-local (RFC 4861 6.1.2).
func ListenRA(ctx context.Context, ifname string) (*Listener[ICMPv6Packet], error) {
	return ListenICMPv6(ctx, ICMPv6Config{Device: ifname, Types: []uint8{icmpRouterAdvert}})
}

// ListenICMPv6Errors receives ICMPv6 error messages (Destination
// Unreachable, Packet Too Big, Time Exceeded, Parameter Problem) on
// device, or on every interface if device is empty. Data starts at the
// ICMPv6 type; the invoking packet follows the 8-byte ICMPv6 header.
//
// Note: a home agent on a kernel without CONFIG_IPV6_MIP6 answers every
// Binding Update carrying a Home Address option with a Parameter Problem
// (code 2) pointing at that option, even though its daemon processes the
// update; a mobile router must not take that one as a sign of a dead home
// agent.
func ListenICMPv6Errors(ctx context.Context, device string) (*Listener[ICMPv6Packet], error) {
	return ListenICMPv6(ctx, ICMPv6Config{Device: device, Types: []uint8{
		icmpDstUnreach, icmpPacketTooBig, icmpTimeExceeded, icmpParamProblem,
	}})
}

// link is what Neighbor Discovery needs to know about an interface.
type link struct {
	index     int
	hw        net.HardwareAddr
	linkLocal netip.Addr // invalid if there is no usable one
}

// linkInfo looks up ifname and its first link-local address that is not
// tentative (RFC 4862 5.4: a tentative address is not used as a source).
func linkInfo(ifname string) (link, error) {
	l, err := netlink.LinkByName(ifname)
	if err != nil {
		return link{}, fmt.Errorf("transport: interface %q: %w", ifname, err)
	}
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V6)
	if err != nil {
		return link{}, fmt.Errorf("transport: addresses of %q: %w", ifname, err)
	}
	out := link{index: l.Attrs().Index, hw: l.Attrs().HardwareAddr}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok || !ip.IsLinkLocalUnicast() || a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) != 0 {
			continue
		}
		out.linkLocal = ip.Unmap()
		break
	}
	return out, nil
}

// sendND sends an ICMPv6 message from src to dst out of ifIndex through a
// one-shot header-included socket.
func sendND(ifIndex int, src, dst netip.Addr, msg []byte) error {
	s, err := newSocket("raw IPv6 (header included)", unix.AF_INET6, unix.SOCK_RAW, protoRaw, func(fd int) error {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BINDTOIFINDEX, ifIndex); err != nil {
			return fmt.Errorf("bind to interface %d: %w", ifIndex, err)
		}
		return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP, 0)
	})
	if err != nil {
		return err
	}
	defer s.Close()
	return (&IPv6Sender{s: s, ifIndex: ifIndex}).Send(icmpPacket(src, dst, msg))
}

// SendRS sends a Router Solicitation to ff02::2 on ifname with hop limit
// 255 (RFC 4861 6.3.7), from the interface's link-local address with a
// Source Link-Layer Address option, or from :: without one when the
// interface has no usable link-local address yet.
func SendRS(ifname string) error {
	l, err := linkInfo(ifname)
	if err != nil {
		return err
	}
	src := netip.IPv6Unspecified()
	var lla []byte
	if l.linkLocal.IsValid() {
		src, lla = l.linkLocal, l.hw
	}
	if err := sendND(l.index, src, allRouters, marshalRS(lla)); err != nil {
		return fmt.Errorf("transport: router solicitation on %s: %w", ifname, err)
	}
	return nil
}

// SendNA sends an unsolicited Neighbor Advertisement (S=0) for target on
// ifname with hop limit 255 and a Target Link-Layer Address option
// (RFC 4861 7.2.6).
func SendNA(ifname string, target netip.Addr, opt NAOptions) error {
	n := OpenNASender(ifname)
	defer n.Close()
	return n.Send(target, opt)
}

// naMessage is the body of an unsolicited Neighbor Advertisement (S=0).
func naMessage(target netip.Addr, opt NAOptions, lla []byte) []byte {
	var flags uint8
	if opt.Router {
		flags |= naFlagRouter
	}
	if opt.Override {
		flags |= naFlagOverride
	}
	if opt.Solicited {
		flags |= naFlagSolicited
	}
	return neighborMsg{Type: icmpNeighborAdvert, Flags: flags, Target: target.WithZone(""), LinkAddr: lla}.marshal()
}

// DAD performs Duplicate Address Detection for addr on ifname on behalf of
// another node (RFC 4862 5.4, as a home agent does before it defends a
// home address, RFC 6275 10.3.1): it joins addr's solicited-node group,
// sends one Neighbor Solicitation from :: to that group with target addr
// and a Nonce option (RFC 7527), and waits retrans (0 means
// DefaultRetransTimer) for an advertisement of addr or another node's
// solicitation from :: for it. It returns nil if none came, a
// *DuplicateError (errors.Is ErrDuplicateAddress) if one did, ctx's error
// if ctx ended first, or another error if it could not probe.
//
// Messages whose hop limit is not 255 or that fail RFC 4861 7.1
// validation are ignored, and so is our own probe (recognised by the
// nonce) should it come back.
func DAD(ctx context.Context, ifname string, addr netip.Addr, retrans time.Duration) error {
	if !addr.Is6() || addr.Is4In6() || addr.IsMulticast() || addr.IsUnspecified() {
		return fmt.Errorf("%w: DAD target %s", ErrBadAddress, addr)
	}
	addr = addr.WithZone("")
	if retrans <= 0 {
		retrans = DefaultRetransTimer
	}
	l, err := linkInfo(ifname)
	if err != nil {
		return err
	}
	snm := solicitedNode(addr)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ln, err := ListenICMPv6(lctx, ICMPv6Config{
		Device: ifname,
		Types:  []uint8{icmpNeighborSolic, icmpNeighborAdvert},
		Groups: []netip.Addr{snm},
	})
	if err != nil {
		return err
	}
	defer ln.Close()

	nonce := make([]byte, dadNonceLen)
	rand.Read(nonce)
	ns := neighborMsg{Type: icmpNeighborSolic, Target: addr, Nonce: nonce}
	if err := sendND(l.index, netip.IPv6Unspecified(), snm, ns.marshal()); err != nil {
		return fmt.Errorf("transport: DAD probe for %s on %s: %w", addr, ifname, err)
	}

	timer := time.NewTimer(retrans)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return nil
		case p, ok := <-ln.Packets():
			if !ok {
				if err := ln.Err(); err != nil && ctx.Err() == nil {
					return fmt.Errorf("transport: DAD for %s on %s: %w", addr, ifname, err)
				}
				return ctx.Err()
			}
			if dup := dadAnswer(p, addr, nonce); dup != nil {
				return dup
			}
		}
	}
}

// dadAnswer decides whether p reveals addr as a duplicate (RFC 4862
// 5.4.3, 5.4.4).
func dadAnswer(p ICMPv6Packet, addr netip.Addr, nonce []byte) *DuplicateError {
	if p.HopLimit != ndHopLimit {
		return nil
	}
	m, err := parseNeighbor(p.Data)
	if err != nil || m.Target != addr {
		return nil
	}
	switch m.Type {
	case icmpNeighborAdvert:
		// RFC 4861 7.1.2: an advertisement to a multicast address must
		// not have S set.
		if p.Dst.IsMulticast() && m.Flags&naFlagSolicited != 0 {
			return nil
		}
		var lla net.HardwareAddr
		if m.LinkAddr != nil {
			lla = net.HardwareAddr(m.LinkAddr)
		}
		return &DuplicateError{Addr: addr, From: p.Src, LinkAddr: lla}
	case icmpNeighborSolic:
		// Only another node's DAD probe (source ::, to the
		// solicited-node group) counts; address resolution does not.
		if !p.Src.IsUnspecified() || !p.Dst.IsMulticast() {
			return nil
		}
		if bytes.Equal(m.Nonce, nonce) {
			return nil // our own probe, looped back
		}
		return &DuplicateError{Addr: addr, From: p.Src, Probe: true}
	}
	return nil
}

// ifIndexByName returns the index of the interface called name.
func ifIndexByName(name string) (int, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return 0, fmt.Errorf("interface %q: %w", name, err)
	}
	return ifi.Index, nil
}
