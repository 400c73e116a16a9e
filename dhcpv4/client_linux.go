package dhcpv4

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	dhcp "github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// eventBuffer is the capacity of the Events channel.
const eventBuffer = 32

// readRetry is the pause after a failed read on the raw socket.
const readRetry = 100 * time.Millisecond

// Client runs the DHCPv4 client on one interface: the Machine driven by a
// raw socket (nclient4's), netlink link events and real time. It installs
// the leased address, a default route in Config.Table and a rule
// "from <address> lookup <table>", and removes them when the lease ends.
//
// All sockets are opened by New in the calling thread's network namespace.
type Client struct {
	cfg     Config
	log     *slog.Logger
	ifindex int
	id      Identity
	raw     net.PacketConn // the packet socket under conn
	conn    net.PacketConn // nclient4 broadcast UDP-over-raw conn, port 68
	nl      *netlink.Handle
	m       *Machine

	events   chan Event
	replies  chan Reply
	links    chan netlink.LinkUpdate
	linkStop chan struct{}
	stop     chan struct{} // closed by Close: readers give up
	closeReq chan chan error
	loopDone chan struct{}
	readers  sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// New opens the sockets on cfg.Interface (in the current network
// namespace) and starts the client. The lease is reported on Events.
func New(cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ifc, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("dhcpv4: interface %q: %w", cfg.Interface, err)
	}
	nl, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("dhcpv4: netlink: %w", err)
	}
	link, err := nl.LinkByIndex(ifc.Index)
	if err != nil {
		nl.Close()
		return nil, fmt.Errorf("dhcpv4: interface %q: %w", cfg.Interface, err)
	}
	conn, err := nclient4.NewRawUDPConn(cfg.Interface, dhcp.ClientPort)
	if err != nil {
		nl.Close()
		return nil, fmt.Errorf("dhcpv4: raw socket on %q: %w", cfg.Interface, err)
	}
	bc, ok := conn.(*nclient4.BroadcastRawUDPConn)
	if !ok {
		conn.Close()
		nl.Close()
		return nil, fmt.Errorf("dhcpv4: unexpected nclient4 conn type %T", conn)
	}
	c := &Client{
		cfg:      cfg,
		log:      log,
		ifindex:  ifc.Index,
		id:       Identity{HWAddr: ifc.HardwareAddr, ClientID: cfg.ClientID, Hostname: cfg.Hostname},
		raw:      bc.PacketConn,
		conn:     conn,
		nl:       nl,
		m:        NewMachine(MachineConfig{Rand: cfg.Rand, T1Override: cfg.T1Override}),
		events:   make(chan Event, eventBuffer),
		replies:  make(chan Reply),
		links:    make(chan netlink.LinkUpdate, 8),
		linkStop: make(chan struct{}),
		stop:     make(chan struct{}),
		closeReq: make(chan chan error),
		loopDone: make(chan struct{}),
	}
	if err := netlink.LinkSubscribeWithOptions(c.links, c.linkStop, netlink.LinkSubscribeOptions{
		ErrorCallback: func(err error) {
			select {
			case <-c.stop:
			default:
				log.Warn("dhcpv4: link subscription", "err", err)
			}
		},
	}); err != nil {
		conn.Close()
		nl.Close()
		return nil, fmt.Errorf("dhcpv4: link subscription: %w", err)
	}
	c.readers.Add(1)
	go c.readLoop()
	go c.loop(linkIsUp(link))
	return c, nil
}

// Events returns the channel of lease events. It is closed after Close.
// The client drops (and logs) events when the channel is full, so the
// user must keep reading it.
func (c *Client) Events() <-chan Event { return c.events }

// Close releases the lease (DHCPRELEASE unicast to the server), removes
// the address, route and rule, closes the sockets and the Events channel.
// It is idempotent and returns the first error met doing so.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		ch := make(chan error, 1)
		c.closeReq <- ch
		c.closeErr = <-ch
		close(c.stop)
		close(c.linkStop)
		if err := c.conn.Close(); err != nil && c.closeErr == nil {
			c.closeErr = err
		}
		c.readers.Wait()
		<-c.loopDone
		// Drain the link channel so that the subscriber goroutine, which
		// closes it once its socket is gone, never blocks.
		go func() {
			for range c.links {
			}
		}()
		c.nl.Close()
		close(c.events)
	})
	return c.closeErr
}

func linkIsUp(l netlink.Link) bool {
	const want = unix.IFF_UP | unix.IFF_LOWER_UP
	return l.Attrs().RawFlags&want == want
}

// readLoop feeds parsed server replies for our hardware address to loop.
func (c *Client) readLoop() {
	defer c.readers.Done()
	buf := make([]byte, nclient4.MaxMessageSize)
	for {
		n, _, err := c.conn.ReadFrom(buf)
		if err != nil {
			select {
			case <-c.stop:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A packet socket reports ENETDOWN once when the link goes
			// down and receives again when it comes back: keep reading.
			c.log.Debug("dhcpv4: read", "err", err)
			select {
			case <-c.stop:
				return
			case <-time.After(readRetry):
			}
			continue
		}
		msg, err := dhcp.FromBytes(buf[:n])
		if err != nil || !bytes.Equal(msg.ClientHWAddr, c.id.HWAddr) {
			continue
		}
		r, err := ParseReply(msg)
		if err != nil {
			c.log.Debug("dhcpv4: ignoring reply", "err", err)
			continue
		}
		select {
		case c.replies <- r:
		case <-c.stop:
			return
		}
	}
}

// loop owns the Machine.
func (c *Client) loop(up bool) {
	defer close(c.loopDone)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var errs []error
	do := func(in Input) {
		if err := c.perform(c.m.Handle(time.Now(), in)); err != nil {
			errs = append(errs, err)
			c.log.Warn("dhcpv4: action failed", "err", err)
		}
	}
	if up {
		do(LinkUp{})
	}
	for {
		if t, ok := c.m.NextTimer(); ok {
			timer.Reset(max(time.Until(t), 0))
		} else {
			timer.Stop()
		}
		select {
		case r := <-c.replies:
			do(Received{r})
		case u, ok := <-c.links:
			if !ok {
				c.links = nil
				continue
			}
			if int(u.Index) != c.ifindex {
				continue
			}
			if u.Header.Type == unix.RTM_DELLINK || !linkIsUp(u.Link) {
				do(LinkDown{})
			} else {
				do(LinkUp{})
			}
		case <-timer.C:
			do(TimerFired{})
		case ch := <-c.closeReq:
			errs = nil
			do(Release{})
			timer.Stop()
			ch <- errors.Join(errs...)
			return
		}
	}
}

// perform carries out the machine's actions in order.
func (c *Client) perform(acts []Action) error {
	var errs []error
	for _, a := range acts {
		var err error
		switch a := a.(type) {
		case Send:
			err = c.send(a)
		case ApplyLease:
			err = c.apply(a.Lease)
		case RemoveLease:
			err = c.remove(a.Lease)
		case Report:
			c.log.Info("dhcpv4: lease "+a.Event.Kind.String(), "interface", c.cfg.Interface,
				"addr", a.Event.Lease.Addr, "router", a.Event.Lease.Router, "server", a.Event.Lease.Server,
				"lease", a.Event.Lease.LeaseTime)
			select {
			case c.events <- a.Event:
			default:
				c.log.Warn("dhcpv4: event channel full, event dropped", "kind", a.Event.Kind)
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *Client) send(s Send) error {
	msg, err := BuildMessage(s, c.id)
	if err != nil {
		return err
	}
	src := net.IPv4zero
	if s.ClientIP.Is4() {
		src = net.IP(s.ClientIP.AsSlice())
	}
	dst := destination(s)
	// nclient4's conn writes IP/UDP itself and always to the broadcast
	// MAC; a conn "bound" to ciaddr gives the IP source RFC 2131 wants in
	// RENEWING, REBINDING and RELEASE.
	conn := nclient4.NewBroadcastUDPConn(c.raw, &net.UDPAddr{IP: src, Port: dhcp.ClientPort})
	c.log.Debug("dhcpv4: send", "msg", s.Kind, "xid", s.XID, "to", dst)
	if _, err := conn.WriteTo(msg.ToBytes(), net.UDPAddrFromAddrPort(dst)); err != nil {
		return fmt.Errorf("dhcpv4: send %v: %w", s.Kind, err)
	}
	return nil
}

// lifetimes returns the address lifetimes in seconds (0, 0 = forever).
func lifetimes(l Lease, now time.Time) (valid, preferred int) {
	if l.Infinite() {
		return 0, 0
	}
	left := l.Expiry().Sub(now)
	secs := max(int((left+time.Second-1)/time.Second), 1)
	return secs, secs
}

// objects renders the kernel state a lease asks for.
func (c *Client) objects(l Lease, now time.Time) (*netlink.Addr, []*netlink.Route, *netlink.Rule) {
	a := l.Addr.Addr()
	valid, pref := lifetimes(l, now)
	addr := &netlink.Addr{
		IPNet:       &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(l.Addr.Bits(), 32)},
		ValidLft:    valid,
		PreferedLft: pref,
		// The subnet route goes into our table, not main.
		Flags: unix.IFA_F_NOPREFIXROUTE,
	}
	p := l.Addr.Masked()
	routes := []*netlink.Route{{
		LinkIndex: c.ifindex,
		Dst:       &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)},
		Src:       a.AsSlice(),
		Scope:     netlink.SCOPE_LINK,
		Table:     c.cfg.Table,
		Family:    netlink.FAMILY_V4,
	}}
	if l.Router.Is4() {
		r := &netlink.Route{
			LinkIndex: c.ifindex,
			Dst:       &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)},
			Gw:        l.Router.AsSlice(),
			Src:       a.AsSlice(),
			Table:     c.cfg.Table,
			Family:    netlink.FAMILY_V4,
		}
		if !p.Contains(l.Router) {
			r.Flags = int(netlink.FLAG_ONLINK)
		}
		routes = append(routes, r)
	}
	rule := netlink.NewRule()
	rule.Family = netlink.FAMILY_V4
	rule.Src = &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(32, 32)}
	rule.Table = c.cfg.Table
	rule.Priority = c.cfg.RulePriority
	return addr, routes, rule
}

// apply installs (or refreshes) the address, routes and rule.
func (c *Client) apply(l Lease) error {
	addr, routes, rule := c.objects(l, time.Now())
	link := &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Index: c.ifindex}}
	if err := c.nl.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("dhcpv4: address %v: %w", l.Addr, err)
	}
	// A renewal may come with another router: drop a stale default route.
	if old, err := c.nl.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: c.cfg.Table, LinkIndex: c.ifindex},
		netlink.RT_FILTER_TABLE|netlink.RT_FILTER_OIF); err == nil {
		for i := range old {
			if old[i].Gw != nil && (!l.Router.Is4() || !old[i].Gw.Equal(l.Router.AsSlice())) {
				_ = c.nl.RouteDel(&old[i])
			}
		}
	}
	for _, r := range routes {
		if err := c.nl.RouteReplace(r); err != nil {
			return fmt.Errorf("dhcpv4: route %v table %d: %w", r.Dst, c.cfg.Table, err)
		}
	}
	if err := c.nl.RuleAdd(rule); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("dhcpv4: rule from %v lookup %d: %w", l.Addr.Addr(), c.cfg.Table, err)
	}
	return nil
}

// remove deletes what apply installed; objects already gone are fine.
func (c *Client) remove(l Lease) error {
	addr, routes, rule := c.objects(l, time.Now())
	var errs []error
	gone := func(err error) bool {
		return err == nil || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) || errors.Is(err, unix.EADDRNOTAVAIL)
	}
	if err := c.nl.RuleDel(rule); !gone(err) {
		errs = append(errs, fmt.Errorf("dhcpv4: delete rule: %w", err))
	}
	for i := len(routes) - 1; i >= 0; i-- {
		if err := c.nl.RouteDel(routes[i]); !gone(err) {
			errs = append(errs, fmt.Errorf("dhcpv4: delete route %v: %w", routes[i].Dst, err))
		}
	}
	link := &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Index: c.ifindex}}
	if err := c.nl.AddrDel(link, addr); !gone(err) {
		errs = append(errs, fmt.Errorf("dhcpv4: delete address %v: %w", l.Addr, err))
	}
	return errors.Join(errs...)
}
