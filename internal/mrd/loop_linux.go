package mrd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"reflect"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nemo-mobility/nemo/config"
	"github.com/nemo-mobility/nemo/dataplane"
	"github.com/nemo-mobility/nemo/dhcpv4"
	"github.com/nemo-mobility/nemo/internal/ctl"
	"github.com/nemo-mobility/nemo/internal/ipsec"
	"github.com/nemo-mobility/nemo/mh"
	"github.com/nemo-mobility/nemo/mnha"
	"github.com/nemo-mobility/nemo/mrouter"
	"github.com/nemo-mobility/nemo/ndp"
	"github.com/nemo-mobility/nemo/transport"
)

// raEvent is a router advertisement received on an uplink.
type raEvent struct {
	ifname string
	pkt    transport.ICMPv6Packet
}

// Daemon is a running mobile router.
type Daemon struct {
	st      *state
	reload  func() (*config.MRouter, error)
	ctl     *ctl.Relay
	hupC    chan struct{}
	senders map[string]*transport.IPv6Sender
	ras     map[string]*transport.Listener[transport.ICMPv6Packet]
	raC     chan raEvent
	ops     dataplane.NetOps
	// hoaOn is where the daemon put the home address ("lo" away from
	// home, the home uplink at home), "" when nowhere.
	hoaOn string
	// stopNA cancels the home address announcements still due.
	stopNA context.CancelFunc
	// ownAddrs are care-of addresses the daemon configured itself (on
	// uplinks where nothing else does SLAAC), removed at exit.
	ownAddrs map[netip.Addr]string
	// signer adds the RFC 4285 options to every BU (nil: no [auth]).
	signer *mnha.Signer
	// udp is the RFC 5555 registration socket (nil without an IPv4 home
	// agent address), udpTx its data-plane side.
	udp   *transport.UDP4
	udpTx *udpSender
	// dhcp are the DHCPv4 clients of the uplinks with dhcpv4 = true.
	dhcp  map[string]*dhcpv4.Client
	dhcpC chan dhcpEvent
	// homeGW is the IPv4 default route added at home (nil: none).
	homeGW *netlink.Route
	// hoa4On is where the IPv4 home address is configured ("" nowhere).
	hoa4On string
	hoa4   netip.Prefix
	// haLLA is the home agents' link-layer addresses on the home link,
	// learned from their router advertisements (RFC 6275 11.5.5).
	haLLA map[netip.Addr]net.HardwareAddr
	// pendingDereg is a deregistration held back while the home agent's
	// link-layer address is being found; probeC delivers the answer.
	pendingDereg *mrouter.SendBU
	probing      bool
	probeC       chan probeResult
	// echo sends the tunnel check's probes (opened at the first one).
	echo    *transport.EchoSender
	echoErr error
}

// probeResult is the answer to the RFC 6275 11.5.5 solicitation: the link-
// layer address that defends our home address (the home agent's), or nil.
type probeResult struct {
	ifname string
	mac    net.HardwareAddr
}

// Options configure Run.
type Options struct {
	Config *config.MRouter
	Logger *slog.Logger
	// Reload re-reads the configuration on SIGHUP (nil: reload disabled).
	Reload func() (*config.MRouter, error)
	// HUP delivers reload requests (SIGHUP).
	HUP <-chan struct{}
}

// Run runs the mobile router until ctx is done, then removes everything it
// installed (tunnel, routes, rules, the home address) and returns.
func Run(ctx context.Context, o Options) error {
	cfg, log := o.Config, o.Logger
	// Optional IPsec ([ipsec]): refused with the reason (the kernel's or
	// this build's) before anything is changed.
	if err := ipsec.Require([]ipsec.Section{{File: cfg.File, Key: "ipsec", Config: cfg.IPsec}}); err != nil {
		return err
	}
	ops, err := dataplane.NewNetOps()
	if err != nil {
		return err
	}
	// Leftovers of a crashed run first.
	if err := dataplane.Cleanup(ops, Owner, nil); err != nil {
		log.Warn("cleaning up a previous run's leftovers", "err", err)
	}
	removeAddr("lo", cfg.Router.HomeAddress, 128)

	// The RFC 5555 registration socket: BUs from IPv4 care-of addresses,
	// their BAs, and UDP-encapsulated data (one port, one NAT mapping).
	var udp *transport.UDP4
	var udpTx *udpSender
	for _, h := range cfg.HomeAgents {
		if h.IPv4Address.IsValid() && udp == nil {
			if udp, err = transport.ListenUDP4(ctx, transport.UDP4Config{Queue: 256}); err != nil {
				return fmt.Errorf("opening the DSMIPv6 UDP socket: %w", err)
			}
			defer udp.Close()
			udpTx = &udpSender{u: udp}
		}
	}
	dp, kind, err := openDataplane(ops, cfg, log, udpTx)
	if err != nil {
		return err
	}
	defer func() {
		if err := dp.Close(); err != nil {
			log.Error("removing the data plane", "err", err)
		}
	}()

	now := time.Now()
	cc := CoreConfig(cfg)
	var signer *mnha.Signer
	signerClock, clockOff, err := testSignerClock()
	if err != nil {
		return err
	}
	if signerClock != nil {
		log.Warn("TEST-ONLY hook: the RFC 4285 signer's clock is offset", "env", TestClockOffsetEnv, "offset", clockOff)
	}
	if cfg.Auth.Enabled() {
		signer, err = mnha.NewSigner(mnha.SignerConfig{SA: mnha.SA{
			SPI: cfg.Auth.SPI, Key: cfg.Auth.Key.Bytes(), NAI: cfg.Auth.NAI, HomeAddress: cfg.Router.HomeAddress,
		}, Clock: signerClock})
		if err != nil {
			return fmt.Errorf("MN-HA key: %w", err)
		}
		// The same signer verifies every BA before the core acts on it
		// (it remembers the BUs it signed).
		cc.Auth = signer
	}
	core, err := mrouter.New(cc, now)
	if err != nil {
		return fmt.Errorf("mobile router core: %w", err)
	}
	d := &Daemon{
		st: &state{
			cfg: cfg, log: log, core: core, dp: dp, dpKind: kind,
			uplinks: map[string]*uplinkView{}, byIndex: map[int]*uplinkView{}, lastRS: map[string]time.Time{},
			usable: map[netip.Addr]time.Time{}, firstBU: map[netip.Addr]time.Time{},
		},
		reload:   o.Reload,
		signer:   signer,
		udp:      udp,
		udpTx:    udpTx,
		ctl:      ctl.NewRelay(),
		senders:  map[string]*transport.IPv6Sender{},
		ras:      map[string]*transport.Listener[transport.ICMPv6Packet]{},
		raC:      make(chan raEvent, 64),
		ops:      ops,
		ownAddrs: map[netip.Addr]string{},
		haLLA:    map[netip.Addr]net.HardwareAddr{},
		probeC:   make(chan probeResult, 1),
		dhcp:     map[string]*dhcpv4.Client{},
		dhcpC:    make(chan dhcpEvent, 16),
	}
	for _, u := range cfg.Uplinks {
		v := newUplinkView(u.Name, u.Interface, u.Priority, u.IPv6)
		v.homeLink = u.Interface == cfg.Router.HomeLink
		v.dhcp, v.dhcpTable = u.DHCPv4, int(u.DHCPv4Table)
		d.st.uplinks[u.Interface] = v
	}
	defer d.closeSockets()
	defer func() {
		if d.echo != nil {
			d.echo.Close()
		}
	}()
	defer d.removeOwnAddrs()
	defer d.stopDHCP()
	defer d.placeHoA4("", netip.Prefix{})
	defer d.homeIPv4("")
	var udpC <-chan transport.Datagram
	if udp != nil {
		udpC = udp.Packets()
	}
	defer d.placeHoA("")

	sig, err := transport.ListenSignal(ctx, transport.SignalConfig{Queue: 64})
	if err != nil {
		return fmt.Errorf("opening the signalling sockets: %w", err)
	}
	defer sig.Close()

	srv, err := ctl.Listen(cfg.Status.Socket, d.ctl.Handler)
	if err != nil {
		return err
	}
	go srv.Serve(ctx)
	defer srv.Close()

	linkC := make(chan netlink.LinkUpdate, 64)
	addrC := make(chan netlink.AddrUpdate, 256)
	nlDone := make(chan struct{})
	defer close(nlDone)
	nlErr := make(chan error, 2)
	if err := netlink.LinkSubscribeWithOptions(linkC, nlDone, netlink.LinkSubscribeOptions{
		ListExisting: true, ErrorCallback: func(e error) { nlErr <- e },
	}); err != nil {
		return fmt.Errorf("netlink link subscription: %w", err)
	}
	if err := netlink.AddrSubscribeWithOptions(addrC, nlDone, netlink.AddrSubscribeOptions{
		ListExisting: true, ErrorCallback: func(e error) { nlErr <- e },
	}); err != nil {
		return fmt.Errorf("netlink address subscription: %w", err)
	}

	log.Info("mobile router started", "home_address", cfg.Router.HomeAddress, "home_agent", cfg.HomeAgents[0].Address,
		"mode", cfg.Router.Mode, "dataplane", kind, "uplinks", len(cfg.Uplinks))

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	d.apply(ctx, d.st.core.Tick(time.Now()))
	for {
		d.arm(timer)
		select {
		case <-ctx.Done():
			log.Info("mobile router stopping: removing tunnel, routes, rules and home address")
			return nil
		case u := <-linkC:
			d.onLink(ctx, u)
		case a := <-addrC:
			d.onAddr(ctx, a)
		case ev := <-d.raC:
			d.onRA(ctx, ev)
		case p, ok := <-sig.Packets():
			if !ok {
				return fmt.Errorf("signalling sockets closed: %v", sig.Err())
			}
			d.onSignal(ctx, p)
		case <-timer.C:
			now := time.Now()
			if dl, ok := d.st.check.deadline(); ok && !now.Before(dl) {
				d.checkTunnel(ctx, now)
			}
			changed := false
			for _, v := range d.st.uplinks {
				if v.expire(now) {
					log.Info("router advertisements stopped", "uplink", v.name)
					changed = true
				}
			}
			if changed {
				d.feedUplinks(ctx)
			}
			d.apply(ctx, d.st.core.Tick(now))
		case c := <-d.ctl.C():
			c.Reply(d.control(c.Command))
		case dg, ok := <-udpC:
			if !ok {
				return fmt.Errorf("DSMIPv6 UDP socket closed: %v", udp.Err())
			}
			d.onDatagram(ctx, dg)
		case e := <-d.dhcpC:
			d.onDHCP(ctx, e)
		case r := <-d.probeC:
			d.probing = false
			log.Debug("home agent link-layer address probe", "interface", r.ifname, "mac", r.mac)
			if r.mac != nil {
				d.setHANeighbour(r.ifname, r.mac)
			}
			if p := d.pendingDereg; p != nil {
				d.pendingDereg = nil
				d.transmitBU(*p)
			}
		case <-o.HUP:
			d.doReload(ctx)
		case err := <-nlErr:
			return fmt.Errorf("netlink subscription failed: %w", err)
		}
	}
}

func openDataplane(ops dataplane.NetOps, cfg *config.MRouter, log *slog.Logger, udp *udpSender) (dataplane.Backend, string, error) {
	kind := string(cfg.Router.Dataplane)
	reason := "configured"
	if cfg.Router.Dataplane == config.DataplaneAuto {
		kind, reason = dataplane.Probe(ops, len(cfg.MobileNetwork.IPv4Prefixes) > 0 || cfg.Router.HasIPv4Home())
	}
	log.Info("data plane chosen", "backend", kind, "reason", reason)
	switch kind {
	case "kernel":
		// UDP-encapsulated tunnels (behind NAT) go through an embedded
		// userspace path fed by the registration socket.
		kopts := dataplane.KernelOptions{Owner: Owner, TUNName: "nemo-mr0"}
		if udp != nil {
			kopts.UDP = udp
		}
		return dataplane.NewKernel(ops, kopts), kind, nil
	default:
		opts := dataplane.UserspaceOptions{Owner: Owner, TUNName: "nemo-mr0"}
		if udp != nil {
			opts.UDP = udp
		}
		u, err := dataplane.NewUserspace(ops, opts)
		if err != nil {
			return nil, "", fmt.Errorf("userspace data plane: %w", err)
		}
		return u, "userspace", nil
	}
}

func (d *Daemon) control(cmd string) (any, error) {
	switch cmd {
	case "status":
		return d.st.status(time.Now()), nil
	}
	return nil, fmt.Errorf("unknown command %q", cmd)
}

func (d *Daemon) arm(t *time.Timer) {
	next, ok := d.st.core.NextDeadline()
	for _, v := range d.st.uplinks {
		if dl, has := v.deadline(); has && (!ok || dl.Before(next)) {
			next, ok = dl, true
		}
	}
	if dl, has := d.st.check.deadline(); has && (!ok || dl.Before(next)) {
		next, ok = dl, true
	}
	wait := time.Hour
	if ok {
		wait = time.Until(next)
		if wait < 0 {
			wait = 0
		}
	}
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
	t.Reset(wait)
}

// onLink tracks the configured uplinks' state.
func (d *Daemon) onLink(ctx context.Context, u netlink.LinkUpdate) {
	attrs := u.Link.Attrs()
	v, ok := d.st.uplinks[attrs.Name]
	if !ok {
		return
	}
	if u.Header.Type == unix.RTM_DELLINK {
		delete(d.st.byIndex, v.index)
		v.index = 0
		if v.up {
			v.linkDown()
			d.st.log.Info("uplink removed", "uplink", v.name)
			d.feedUplinks(ctx)
		}
		d.closeRA(v.ifname)
		return
	}
	v.index = attrs.Index
	d.st.byIndex[attrs.Index] = v
	up := attrs.Flags&net.FlagUp != 0 && (attrs.OperState == netlink.OperUp || attrs.OperState == netlink.OperUnknown)
	if up == v.up {
		return
	}
	if up {
		v.up = true
		d.st.log.Info("uplink up", "uplink", v.name, "interface", v.ifname)
		d.startDHCP(ctx, v)
		if v.ipv6 {
			d.openRA(ctx, v.ifname)
			d.solicit(v)
		}
	} else {
		v.linkDown()
		d.st.log.Info("uplink down", "uplink", v.name, "interface", v.ifname)
	}
	d.feedUplinks(ctx)
}

// onAddr tracks the uplinks' addresses.
func (d *Daemon) onAddr(ctx context.Context, a netlink.AddrUpdate) {
	v, ok := d.st.byIndex[a.LinkIndex]
	if !ok {
		return
	}
	addr, ok := netip.AddrFromSlice(a.LinkAddress.IP)
	if !ok {
		return
	}
	addr = addr.Unmap()
	ones, _ := a.LinkAddress.Mask.Size()
	if addr.IsLinkLocalUnicast() {
		// A usable link-local address lets us solicit a router at once.
		if a.NewAddr && a.Flags&unix.IFA_F_TENTATIVE == 0 && v.up && v.ipv6 {
			d.solicit(v)
		}
		return
	}
	if !a.NewAddr {
		delete(v.addrs, addr)
	} else {
		v.addrs[addr] = addrState{
			prefix:     netip.PrefixFrom(addr, ones).Masked(),
			tentative:  a.Flags&unix.IFA_F_TENTATIVE != 0 && a.Flags&unix.IFA_F_OPTIMISTIC == 0,
			deprecated: a.Flags&unix.IFA_F_DEPRECATED != 0,
			dadFailed:  a.Flags&unix.IFA_F_DADFAILED != 0,
		}
	}
	d.feedUplinks(ctx)
}

func (d *Daemon) onRA(ctx context.Context, ev raEvent) {
	v, ok := d.st.uplinks[ev.ifname]
	if !ok || !v.up {
		return
	}
	p := ev.pkt
	if p.HopLimit != 255 || !p.Src.IsLinkLocalUnicast() {
		return // RFC 4861 6.1.2
	}
	ra, err := ndp.ParseRouterAdvertisement(p.Data)
	if err != nil {
		d.st.log.Debug("bad router advertisement", "uplink", v.name, "from", p.Src, "err", err)
		return
	}
	wasHome := v.atHome()
	known := len(v.routers)
	v.handleRA(time.Now(), p.Src, ra, d.st.cfg.Router.HomePrefix)
	d.autoconf(v, ra)
	if mac, ok := ra.SourceLLA(); ok && ra.HomeAgent {
		for _, a := range ra.RouterAddresses() {
			for _, h := range d.st.cfg.HomeAgents {
				if a == h.Address {
					d.haLLA[a] = mac
				}
			}
		}
	}
	if v.atHome() != wasHome || len(v.routers) != known {
		d.st.log.Info("router advertisement", "uplink", v.name, "router", p.Src, "home", v.atHome(), "home_agent_flag", ra.HomeAgent)
	}
	d.feedUplinks(ctx)
}

// feedUplinks gives the core the current view of every uplink. The core
// ignores updates that change nothing.
func (d *Daemon) feedUplinks(ctx context.Context) {
	now := time.Now()
	d.st.noteUsable(now)
	for _, v := range d.st.uplinks {
		d.apply(ctx, d.st.core.UplinkUpdate(now, v.toUplink(d.st.cfg.Router.HomePrefix)))
	}
}

func (d *Daemon) onSignal(ctx context.Context, r transport.Received) {
	pkt, raw, err := mh.ParseSignal(r.Src, r.Dst, r.NextHeader, r.Data)
	if err != nil {
		d.st.log.Debug("dropped signalling packet", "from", r.Src, "to", r.Dst, "proto", r.NextHeader, "err", err)
		return
	}
	if pkt.Message == nil {
		return
	}
	hoa := d.st.cfg.Router.HomeAddress
	if pkt.RoutingHome.IsValid() && pkt.RoutingHome != hoa {
		d.st.log.Debug("type 2 routing header for another home address", "rh2", pkt.RoutingHome)
		return
	}
	now := time.Now()
	switch m := pkt.Message.(type) {
	case mh.BindingAck:
		d.st.log.Debug("received binding acknowledgement", "from", pkt.Src, "to", pkt.Dst, "seq", m.Sequence, "status", m.Status.String())
		d.apply(ctx, d.st.core.HandleBA(now, mrouter.BAInfo{From: pkt.Src, BA: m, Raw: raw}))
	case mh.BindingError:
		d.apply(ctx, d.st.core.HandleBE(now, pkt.Src, m))
	case mh.BindingRefreshRequest:
		d.apply(ctx, d.st.core.HandleBRR(now, pkt.Src))
	}
}

// apply executes the core's actions, in order, except that the home-link
// clean-up of LeftHome waits until the binding updates of the same batch
// are on the wire: the first BU after leaving home does not need it, and
// its netlink calls (a few milliseconds while other links change) would
// otherwise delay the BU (issue 9: BU within 5 ms). Any other action runs
// only after the clean-up, so their relative order is kept.
func (d *Daemon) apply(ctx context.Context, acts []mrouter.Action) {
	var leftHome string
	pending := false
	flush := func() {
		if pending {
			pending = false
			d.leaveHome(leftHome)
		}
	}
	defer flush()
	for _, a := range acts {
		switch a.(type) {
		case mrouter.SendBU, mrouter.StateChanged:
		default:
			flush()
		}
		switch a := a.(type) {
		case mrouter.SendBU:
			d.sendBU(a)
		case mrouter.SetTunnel:
			d.setTunnel(ctx, a)
		case mrouter.ClearTunnel:
			d.clearTunnel(ctx, a.Reason)
		case mrouter.AtHome:
			d.st.log.Info("at home", "uplink", a.Uplink, "reason", a.Reason)
			d.placeHoA(a.Uplink)
			d.announceHoA(ctx, a.Uplink)
			d.homeIPv4(a.Uplink)
		case mrouter.LeftHome:
			d.st.log.Info("left home", "uplink", a.Uplink, "reason", a.Reason)
			d.st.leftHome = time.Now()
			if d.stopNA != nil {
				d.stopNA()
			}
			leftHome, pending = a.Uplink, true
		case mrouter.StateChanged:
			d.st.log.Info("registration state", "from", a.From, "to", a.To)
		}
	}
}

// leaveHome undoes the home-link configuration: the IPv4 home address and
// its default route, and the home address on the home uplink.
func (d *Daemon) leaveHome(uplink string) {
	d.homeIPv4("")
	if d.hoaOn == uplink {
		d.placeHoA("")
	}
}

func (d *Daemon) sendBU(a mrouter.SendBU) {
	hoa := d.st.cfg.Router.HomeAddress
	if a.From == hoa && !a.HomeAddressOption && !a.UDP {
		// A deregistration from the home link is sent from the home
		// address, and its BA comes back to it (RFC 6275 11.5.5): the
		// address goes on the home uplink first, without DAD (the home
		// agent may still defend it). While it does, a Neighbor
		// Solicitation from the home address would be answered into the
		// tunnel, so the home agent's link-layer address must be known
		// first: from its router advertisements, or else from a multicast
		// solicitation from :: for our home address, which the home agent
		// answers for us.
		d.placeHoA(a.Uplink)
		if mac, ok := d.haLLA[a.To]; ok {
			d.st.log.Debug("home agent link-layer address from its RA", "mac", mac)
			d.setHANeighbour(a.Uplink, mac)
		} else {
			d.pendingDereg = &a
			if !d.probing {
				d.probing = true
				go d.probeHA(a.Uplink)
			}
			return
		}
	}
	d.transmitBU(a)
}

// probeHA finds the link-layer address defending our home address on the
// home link (RFC 6275 11.5.5) and reports it on probeC.
func (d *Daemon) probeHA(ifname string) {
	var mac net.HardwareAddr
	err := transport.DAD(context.Background(), ifname, d.st.cfg.Router.HomeAddress, 300*time.Millisecond)
	var dup *transport.DuplicateError
	if errors.As(err, &dup) && !dup.Probe {
		mac = dup.LinkAddr
	}
	d.probeC <- probeResult{ifname: ifname, mac: mac}
}

// setHANeighbour records the home agent's link-layer address as reachable
// on the home uplink, so the deregistration needs no solicitation.
func (d *Daemon) setHANeighbour(ifname string, mac net.HardwareAddr) {
	l, err := netlink.LinkByName(ifname)
	if err != nil {
		return
	}
	for _, h := range d.st.cfg.HomeAgents {
		if !d.st.cfg.Router.HomePrefix.Contains(h.Address) {
			continue
		}
		n := &netlink.Neigh{LinkIndex: l.Attrs().Index, Family: unix.AF_INET6, State: netlink.NUD_REACHABLE,
			IP: h.Address.AsSlice(), HardwareAddr: mac}
		if err := netlink.NeighSet(n); err != nil {
			d.st.log.Debug("home agent neighbour entry", "err", err)
		}
	}
}

func (d *Daemon) transmitBU(a mrouter.SendBU) {
	hoa := d.st.cfg.Router.HomeAddress
	log := d.st.log.With("seq", a.BU.Sequence, "lifetime", a.BU.Lifetime, "from", a.From, "to", a.To, "uplink", a.Uplink, "reason", a.Reason)
	if d.signer != nil {
		signed, err := d.signer.Sign(a)
		if err != nil {
			log.Error("cannot sign BU", "err", err)
			return
		}
		a = signed
	}
	if a.UDP {
		if err := d.sendBUv4(a); err != nil {
			log.Warn("sending BU over UDP failed", "err", err)
			return
		}
		d.st.noteBU(time.Now(), a.From)
		log.Info("sent binding update over UDP", "to_ipv4", a.ToIPv4, "flags", a.BU.Flags)
		return
	}
	pkt, err := buildBUPacket(hoa, a)
	if err != nil {
		log.Error("cannot build BU", "err", err)
		return
	}
	s, err := d.sender(a.Uplink)
	if err != nil {
		log.Error("cannot send BU", "err", err)
		return
	}
	if err := s.Send(pkt); err != nil {
		log.Warn("sending BU failed", "err", err)
		return
	}
	d.st.noteBU(time.Now(), a.From)
	log.Info("sent binding update", "flags", a.BU.Flags)
}

func (d *Daemon) sender(ifname string) (*transport.IPv6Sender, error) {
	if s, ok := d.senders[ifname]; ok {
		return s, nil
	}
	s, err := transport.OpenSender(transport.SenderConfig{Device: ifname})
	if err != nil {
		return nil, err
	}
	d.senders[ifname] = s
	return s, nil
}

func (d *Daemon) setTunnel(ctx context.Context, t mrouter.SetTunnel) {
	cfg := tunnelConfig(d.st.cfg, t)
	if err := d.st.dp.Set(cfg); err != nil {
		d.st.log.Error("installing the tunnel", "err", err, "local", t.Local, "remote", t.Remote)
		return
	}
	d.st.tunnel = &t
	rx, tx := d.tunnelCounters()
	d.st.check.start(time.Now(), d.st.cfg.Router.TunnelProbe, d.st.cfg.Router.PathHold, rx, tx)
	d.placeHoA("lo")
	d.placeHoA4("lo", t.IPv4HomeAddress)
	if d.udpTx != nil && t.Local.Is4() {
		local := t.Local
		d.udpTx.src.Store(&local)
	}
	if h := d.st.noteRegistered(time.Now(), t.Local, t.Uplink); h != nil {
		d.st.log.Info("handover", "care_of", h.CareOf, "uplink", h.Uplink, "from", h.Start, "to_bu", h.ToBU, "to_ba", h.ToBA)
	}
	d.st.log.Info("tunnel installed", "local", t.Local, "remote", t.Remote, "encap", t.Encap, "uplink", t.Uplink, "reason", t.Reason)
}

func (d *Daemon) clearTunnel(ctx context.Context, reason string) {
	if err := d.st.dp.Set(dataplane.Config{}); err != nil {
		d.st.log.Error("removing the tunnel", "err", err)
	}
	if d.st.tunnel != nil {
		d.st.log.Info("tunnel removed", "reason", reason)
	}
	d.st.tunnel = nil
	d.st.check.stop()
	if d.hoaOn == "lo" {
		d.placeHoA("")
	}
	if d.hoa4On == "lo" {
		d.placeHoA4("", netip.Prefix{})
	}
}

// tunnelCounters returns the packets received from and sent into the
// tunnel, as the data plane counts them.
func (d *Daemon) tunnelCounters() (rx, tx uint64) {
	for _, t := range d.st.dp.Stats().Tunnels {
		rx += t.RxPackets
		tx += t.TxPackets
	}
	return rx, tx
}

// checkTunnel runs the tunnel check (tunnelCheck): a probe to the home
// agent through the tunnel while traffic goes in and nothing comes back,
// and TunnelLost for the core when three went unanswered.
func (d *Daemon) checkTunnel(ctx context.Context, now time.Time) {
	t := d.st.tunnel
	if t == nil {
		d.st.check.stop()
		return
	}
	rx, tx := d.tunnelCounters()
	v := d.st.check.tick(now, rx, tx)
	log := d.st.log
	switch {
	case v.recovered:
		log.Info("tunnel carries traffic from the home agent again", "uplink", t.Uplink, "care_of", t.Local)
	case v.probe:
		if d.echo == nil && d.echoErr == nil {
			d.echo, d.echoErr = transport.OpenEchoSender(uint16(os.Getpid()))
			if d.echoErr != nil {
				log.Error("tunnel check: cannot open the probe socket; the check runs without probes", "err", d.echoErr)
			}
		}
		if d.echo != nil {
			seq, err := d.echo.Send(t.HomeAddress, t.HomeAgent)
			if err != nil {
				log.Debug("tunnel probe not sent", "err", err)
			} else {
				log.Debug("tunnel probe", "seq", seq, "to", t.HomeAgent, "uplink", t.Uplink)
			}
		}
	case v.lost:
		log.Warn("tunnel path lost: nothing from the home agent through the tunnel", "uplink", t.Uplink, "care_of", t.Local,
			"silent_for", v.silent.Round(time.Millisecond), "probes", tunnelProbes)
		d.st.notePathLost(now, t.Local, v.silent)
		d.apply(ctx, d.st.core.TunnelLost(now))
	}
}

// placeHoA moves the home address: on "lo" (a /128) while away, so the
// mobile router accepts tunnelled packets for it; on the home uplink (with
// the home prefix length) at home, so neighbours reach it there; "" removes
// it.
func (d *Daemon) placeHoA(where string) {
	hoa := d.st.cfg.Router.HomeAddress
	if d.hoaOn == where {
		return
	}
	if d.hoaOn != "" {
		bits := 128
		if d.hoaOn != "lo" {
			bits = d.st.cfg.Router.HomePrefix.Bits()
		}
		removeAddr(d.hoaOn, hoa, bits)
	}
	d.hoaOn = ""
	if where == "" {
		return
	}
	bits := 128
	if where != "lo" {
		bits = d.st.cfg.Router.HomePrefix.Bits()
	}
	if err := addAddr(where, hoa, bits); err != nil {
		d.st.log.Error("configuring the home address", "on", where, "err", err)
		return
	}
	d.hoaOn = where
}

// announceHoA multicasts Neighbor Advertisements for the home address on
// the home link once the home agent has stopped defending it (RFC 6275
// 11.5.5: Override set, so neighbours forget the home agent's proxy
// answers; Router set, we are a router, RFC 3963).
func (d *Daemon) announceHoA(ctx context.Context, ifname string) {
	hoa := d.st.cfg.Router.HomeAddress
	log := d.st.log
	if d.stopNA != nil {
		d.stopNA()
	}
	actx, cancel := context.WithCancel(ctx)
	d.stopNA = cancel
	go func() {
		defer cancel()
		// A home uplink that just came up may not have its link-local
		// address yet: keep trying for a few seconds.
		deadline := time.Now().Add(5 * time.Second)
		for sent := 0; sent < 3 && time.Now().Before(deadline); {
			err := transport.SendNA(ifname, hoa, transport.NAOptions{Override: true, Router: true})
			switch {
			case err == nil:
				sent++
				if !sleepCtx(actx, time.Second) {
					return
				}
			case errors.Is(err, transport.ErrNoLinkLocal):
				if !sleepCtx(actx, 50*time.Millisecond) {
					return
				}
			default:
				log.Warn("unsolicited neighbour advertisement for the home address", "interface", ifname, "err", err)
				return
			}
		}
	}()
}

func addAddr(ifname string, a netip.Addr, bits int) error {
	l, err := netlink.LinkByName(ifname)
	if err != nil {
		return err
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(bits, a.BitLen())}, Flags: unix.IFA_F_NODAD}
	if err := netlink.AddrReplace(l, addr); err != nil {
		return err
	}
	return nil
}

func removeAddr(ifname string, a netip.Addr, bits int) {
	l, err := netlink.LinkByName(ifname)
	if err != nil {
		return
	}
	_ = netlink.AddrDel(l, &netlink.Addr{IPNet: &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(bits, a.BitLen())}})
}

// solicit sends a Router Solicitation (at most one a second per uplink) so
// that a new link's router is learned without waiting for its next RA.
func (d *Daemon) solicit(v *uplinkView) {
	now := time.Now()
	if now.Sub(d.st.lastRS[v.ifname]) < time.Second {
		return
	}
	if err := transport.SendRS(v.ifname); err != nil {
		if !errors.Is(err, transport.ErrNoLinkLocal) {
			d.st.log.Debug("router solicitation", "uplink", v.name, "err", err)
		}
		return
	}
	d.st.lastRS[v.ifname] = now
}

func (d *Daemon) openRA(ctx context.Context, ifname string) {
	if _, ok := d.ras[ifname]; ok {
		return
	}
	l, err := transport.ListenRA(ctx, ifname)
	if err != nil {
		d.st.log.Warn("cannot listen for router advertisements", "interface", ifname, "err", err)
		return
	}
	d.ras[ifname] = l
	go func() {
		for p := range l.Packets() {
			select {
			case d.raC <- raEvent{ifname: ifname, pkt: p}:
			case <-ctx.Done():
				return
			}
		}
	}()
}

func (d *Daemon) closeRA(ifname string) {
	if l, ok := d.ras[ifname]; ok {
		l.Close()
		delete(d.ras, ifname)
	}
}

func (d *Daemon) closeSockets() {
	for n := range d.ras {
		d.closeRA(n)
	}
	for _, s := range d.senders {
		s.Close()
	}
}

func (d *Daemon) doReload(ctx context.Context) {
	if d.reload == nil {
		return
	}
	cfg, err := d.reload()
	if err != nil {
		d.st.log.Error("reload refused: configuration invalid; keeping the running one", "err", err)
		return
	}
	old := d.st.cfg
	now := time.Now()
	// Uplinks: changed ones updated in place, new ones added, removed ones
	// forgotten (their RA listener and DHCPv4 client stopped).
	keep := map[string]bool{}
	for _, u := range cfg.Uplinks {
		keep[u.Interface] = true
		v, ok := d.st.uplinks[u.Interface]
		if !ok {
			v = newUplinkView(u.Name, u.Interface, u.Priority, u.IPv6)
			d.st.uplinks[u.Interface] = v
			if l, err := netlink.LinkByName(u.Interface); err == nil {
				a := l.Attrs()
				v.index = a.Index
				d.st.byIndex[a.Index] = v
				v.up = a.Flags&net.FlagUp != 0 && (a.OperState == netlink.OperUp || a.OperState == netlink.OperUnknown)
			}
		}
		v.name, v.priority, v.ipv6 = u.Name, u.Priority, u.IPv6
		v.homeLink = u.Interface == cfg.Router.HomeLink
		v.dhcp, v.dhcpTable = u.DHCPv4, int(u.DHCPv4Table)
		if v.up {
			if v.ipv6 {
				d.openRA(ctx, v.ifname)
			}
			d.startDHCP(ctx, v)
		}
	}
	for name, v := range d.st.uplinks {
		if keep[name] {
			continue
		}
		d.closeRA(name)
		if c := d.dhcp[name]; c != nil {
			c.Close()
			delete(d.dhcp, name)
		}
		delete(d.st.byIndex, v.index)
		delete(d.st.uplinks, name)
		d.apply(ctx, d.st.core.UplinkGone(now, name))
	}
	d.st.cfg = cfg
	// Registration settings: unchanged, the binding is left alone;
	// changed, a new core registers them (the old tunnel carries traffic
	// until the new binding is acknowledged).
	if reflect.DeepEqual(CoreConfig(old), CoreConfig(cfg)) && reflect.DeepEqual(old.Auth, cfg.Auth) {
		d.st.log.Info("configuration reloaded; registration settings unchanged, binding kept")
		d.feedUplinks(ctx)
		return
	}
	cc := CoreConfig(cfg)
	var signer *mnha.Signer
	if cfg.Auth.Enabled() {
		signerClock, _, _ := testSignerClock() // checked at start
		signer, err = mnha.NewSigner(mnha.SignerConfig{SA: mnha.SA{
			SPI: cfg.Auth.SPI, Key: cfg.Auth.Key.Bytes(), NAI: cfg.Auth.NAI, HomeAddress: cfg.Router.HomeAddress,
		}, Clock: signerClock})
		if err != nil {
			d.st.cfg = old
			d.st.log.Error("reload refused: MN-HA key", "err", err)
			return
		}
		cc.Auth = signer
	}
	core, err := mrouter.New(cc, now)
	if err != nil {
		d.st.cfg = old
		d.st.log.Error("reload refused", "err", err)
		return
	}
	d.st.core, d.signer = core, signer
	if old.Status.Socket != cfg.Status.Socket || old.Router.Dataplane != cfg.Router.Dataplane {
		d.st.log.Warn("reload: the status socket and the data plane choice change at the next restart")
	}
	d.st.log.Info("configuration reloaded; registration settings changed: registering them")
	d.feedUplinks(ctx)
}

// sleepCtx sleeps for d unless ctx ends first; it reports whether it slept.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// autoconf configures a care-of address from an advertised prefix on an
// uplink where the kernel does no SLAAC (OpenWrt leaves that to odhcp6c,
// which may not run on every uplink): the prefix plus a modified EUI-64
// interface identifier, with the prefix's lifetimes. Without DAD: the
// identifier is derived from the interface's own MAC address.
func (d *Daemon) autoconf(v *uplinkView, ra ndp.RouterAdvertisement) {
	p, ok := v.autoconfPrefix(d.st.cfg.Router.HomePrefix)
	if !ok || sysctlOn("net/ipv6/conf/"+v.ifname+"/autoconf") {
		return
	}
	l, err := netlink.LinkByName(v.ifname)
	if err != nil || len(l.Attrs().HardwareAddr) != 6 {
		return
	}
	a := eui64(p, l.Attrs().HardwareAddr)
	valid, preferred := time.Hour, time.Hour
	for _, pi := range ra.Prefixes() {
		if pi.Prefix.Masked() == p {
			valid, preferred = pi.ValidLifetime, pi.PreferredLifetime
		}
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(64, 128)}, Flags: unix.IFA_F_NODAD,
		ValidLft: lft(valid), PreferedLft: lft(preferred)}
	if err := netlink.AddrReplace(l, addr); err != nil {
		d.st.log.Warn("configuring a care-of address", "uplink", v.name, "addr", a, "err", err)
		return
	}
	d.ownAddrs[a] = v.ifname
	d.st.log.Info("configured a care-of address (no SLAAC on this uplink)", "uplink", v.name, "addr", a)
}

func (d *Daemon) removeOwnAddrs() {
	for a, ifname := range d.ownAddrs {
		removeAddr(ifname, a, 64)
	}
}

func lft(d time.Duration) int {
	if d >= ndp.InfiniteLifetime || d > time.Duration(math.MaxInt32)*time.Second {
		return 0 // forever
	}
	return int(d / time.Second)
}

// eui64 is the prefix with the modified EUI-64 identifier of mac (RFC 4291
// appendix A).
func eui64(p netip.Prefix, mac net.HardwareAddr) netip.Addr {
	b := p.Addr().As16()
	b[8], b[9], b[10] = mac[0]^0x02, mac[1], mac[2]
	b[11], b[12] = 0xff, 0xfe
	b[13], b[14], b[15] = mac[3], mac[4], mac[5]
	return netip.AddrFrom16(b)
}

func sysctlOn(path string) bool {
	b, err := os.ReadFile("/proc/sys/" + path)
	return err == nil && len(b) > 0 && b[0] != '0'
}

var errNoUDP = errors.New("no DSMIPv6 UDP socket: no home agent has an ipv4_address")

func (d *Daemon) stopDHCP() {
	for n, c := range d.dhcp {
		c.Close() // releases the lease and removes its address, routes and rule
		delete(d.dhcp, n)
	}
}

// placeHoA4 configures the acknowledged IPv4 home address (a /32, or the
// first address of an acknowledged prefix) on "lo" while away, so packets
// tunnelled to it are delivered; "" removes it.
func (d *Daemon) placeHoA4(where string, p netip.Prefix) {
	if d.hoa4On == where && d.hoa4 == p {
		return
	}
	if d.hoa4On != "" {
		removeAddr(d.hoa4On, d.hoa4.Addr(), 32)
	}
	d.hoa4On, d.hoa4 = "", netip.Prefix{}
	if where == "" || !p.IsValid() || !p.Addr().Is4() {
		return
	}
	if err := addAddr(where, p.Addr(), 32); err != nil {
		d.st.log.Error("configuring the IPv4 home address", "on", where, "err", err)
		return
	}
	d.hoa4On, d.hoa4 = where, p
}

// homeIPv4 gives the mobile network IPv4 at home (ifname = the home
// uplink; "" undoes it): the static IPv4 home address on the home uplink,
// so the home link's routers reach the IPv4 mobile network prefixes through
// it, and, unless something else installed an IPv4 default route, one via
// the home agent's IPv4 address (which forwards; the home link's own
// gateway is not known to us).
func (d *Daemon) homeIPv4(ifname string) {
	hoa4 := d.st.cfg.Router.IPv4HomeAddress
	if !hoa4.IsValid() || hoa4.IsUnspecified() {
		return
	}
	var gw netip.Addr
	for _, h := range d.st.cfg.HomeAgents {
		if h.IPv4Address.IsValid() {
			gw = h.IPv4Address
			break
		}
	}
	if ifname == "" {
		if d.hoa4On != "" && d.hoa4On != "lo" {
			d.placeHoA4("", netip.Prefix{})
		}
		if d.homeGW != nil {
			_ = netlink.RouteDel(d.homeGW)
			d.homeGW = nil
		}
		return
	}
	d.placeHoA4(ifname, netip.PrefixFrom(hoa4, 32))
	// Take the IPv4 home address back from the home agent's proxy ARP.
	if err := transport.SendGratuitousARP(ifname, hoa4); err != nil {
		d.st.log.Warn("gratuitous ARP for the IPv4 home address", "err", err)
	}
	if !gw.IsValid() || d.homeGW != nil {
		return
	}
	l, err := netlink.LinkByName(ifname)
	if err != nil {
		return
	}
	if rs, _ := netlink.RouteListFiltered(unix.AF_INET, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE); hasDefault(rs) {
		return
	}
	r := &netlink.Route{LinkIndex: l.Attrs().Index, Gw: gw.AsSlice(), Flags: int(netlink.FLAG_ONLINK),
		Protocol: netlink.RouteProtocol(dataplane.RouteProtocol), Priority: 4096, Src: hoa4.AsSlice()}
	if err := netlink.RouteAdd(r); err != nil {
		d.st.log.Warn("IPv4 default route at home", "via", gw, "err", err)
		return
	}
	d.homeGW = r
}

func hasDefault(rs []netlink.Route) bool {
	for _, r := range rs {
		if r.Dst == nil {
			return true
		}
		if ones, _ := r.Dst.Mask.Size(); ones == 0 {
			return true
		}
	}
	return false
}
