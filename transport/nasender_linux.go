package transport

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// naLinkRefresh bounds how long an NASender trusts what it learnt of its
// interface (index, link-layer and link-local addresses).
const naLinkRefresh = 10 * time.Second

// NASender sends unsolicited Neighbor Advertisements on one interface
// through one socket, looking the interface up once per naLinkRefresh
// instead of once per message (a home agent announces every home address
// it starts to defend, three times, RFC 6275 10.4.1). Safe for concurrent
// use.
type NASender struct {
	ifname string
	now    func() time.Time

	mu      sync.Mutex
	l       link
	learnt  time.Time
	s       *socket
	sockIdx int
}

// OpenNASender returns a sender for ifname. It opens nothing until the
// first Send, so the interface need not have a link-local address yet.
func OpenNASender(ifname string) *NASender {
	return &NASender{ifname: ifname, now: time.Now}
}

// Send sends an unsolicited Neighbor Advertisement for target, as SendNA.
func (n *NASender) Send(target netip.Addr, opt NAOptions) error {
	if !target.Is6() || target.Is4In6() || target.IsMulticast() || target.IsUnspecified() {
		return fmt.Errorf("%w: NA target %s", ErrBadAddress, target)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.refresh(false); err != nil {
		return err
	}
	err := n.send(target, opt)
	if err != nil {
		// The interface may have changed (re-created, renumbered): look
		// again and retry once.
		if rerr := n.refresh(true); rerr != nil {
			return rerr
		}
		err = n.send(target, opt)
	}
	return err
}

// open looks the interface up and opens the socket now, in the calling
// thread's namespace.
func (n *NASender) open() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.refresh(true)
}

// refresh re-reads the interface when forced or stale, and (re)opens the
// socket bound to it when its index changed.
func (n *NASender) refresh(force bool) error {
	if !force && n.s != nil && n.now().Sub(n.learnt) < naLinkRefresh {
		return nil
	}
	l, err := linkInfo(n.ifname)
	if err != nil {
		return err
	}
	n.l, n.learnt = l, n.now()
	if n.s != nil && n.sockIdx == l.index {
		return nil
	}
	if n.s != nil {
		n.s.Close()
		n.s = nil
	}
	s, err := newSocket("raw IPv6 (header included)", unix.AF_INET6, unix.SOCK_RAW, protoRaw, func(fd int) error {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BINDTOIFINDEX, l.index); err != nil {
			return fmt.Errorf("bind to interface %d: %w", l.index, err)
		}
		return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP, 0)
	})
	if err != nil {
		return err
	}
	n.s, n.sockIdx = s, l.index
	return nil
}

func (n *NASender) send(target netip.Addr, opt NAOptions) error {
	src, dst, lla := opt.Src, opt.Dst, opt.LinkAddr
	if !src.IsValid() {
		if !n.l.linkLocal.IsValid() {
			return fmt.Errorf("transport: neighbor advertisement on %s: %w", n.ifname, ErrNoLinkLocal)
		}
		src = n.l.linkLocal
	}
	if !dst.IsValid() {
		dst = allNodes
	}
	if lla == nil {
		lla = n.l.hw
	}
	msg := naMessage(target, opt, lla)
	if err := (&IPv6Sender{s: n.s, ifIndex: n.sockIdx}).Send(icmpPacket(src.WithZone(""), dst.WithZone(""), msg)); err != nil {
		return fmt.Errorf("transport: neighbor advertisement for %s on %s: %w", target, n.ifname, err)
	}
	return nil
}

// Close closes the socket.
func (n *NASender) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.s == nil {
		return nil
	}
	err := n.s.Close()
	n.s = nil
	return err
}
