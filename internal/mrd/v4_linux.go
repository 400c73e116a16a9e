package mrd

import (
	"context"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/nemo-mobility/nemo/dataplane"
	"github.com/nemo-mobility/nemo/dhcpv4"
	"github.com/nemo-mobility/nemo/mh"
	"github.com/nemo-mobility/nemo/mrouter"
	"github.com/nemo-mobility/nemo/transport"
)

// dhcpEvent is a lease event of one uplink's DHCPv4 client.
type dhcpEvent struct {
	ifname string
	ev     dhcpv4.Event
}

// udpSender carries the data plane's UDP-encapsulated packets (RFC 5555
// 4.1) on the registration socket, so data and signalling share one NAT
// mapping, from the registered IPv4 care-of address.
type udpSender struct {
	u   *transport.UDP4
	src atomic.Pointer[netip.Addr]
}

// WriteToUDPAddrPort implements dataplane.UDPSender.
func (s *udpSender) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	src := s.src.Load()
	var err error
	if src != nil && src.IsValid() {
		err = s.u.SendFrom(*src, to, b)
	} else {
		err = s.u.Send(to, b)
	}
	if err != nil {
		return 0, err
	}
	return len(b), nil
}

var _ dataplane.UDPSender = (*udpSender)(nil)

// startDHCP starts the DHCPv4 client of an uplink that has dhcpv4 = true
// (once; it follows the link state itself: a lost lease is taken again
// with INIT-REBOOT when the link returns).
func (d *Daemon) startDHCP(ctx context.Context, v *uplinkView) {
	if !v.dhcp || d.dhcp[v.ifname] != nil {
		return
	}
	c, err := dhcpv4.New(dhcpv4.Config{
		Interface: v.ifname, Table: v.dhcpTable, RulePriority: int(d.st.cfg.Routing.RulePriority) + 10,
		Logger: d.st.log.With("dhcpv4", v.ifname),
	})
	if err != nil {
		d.st.log.Warn("cannot start the DHCPv4 client", "uplink", v.name, "err", err)
		return
	}
	d.dhcp[v.ifname] = c
	go func() {
		for {
			select {
			case ev, ok := <-c.Events():
				if !ok {
					return
				}
				select {
				case d.dhcpC <- dhcpEvent{ifname: v.ifname, ev: ev}:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
}

// onDHCP records an uplink's IPv4 care-of address from its lease.
func (d *Daemon) onDHCP(ctx context.Context, e dhcpEvent) {
	v, ok := d.st.uplinks[e.ifname]
	if !ok {
		return
	}
	switch e.ev.Kind {
	case dhcpv4.Bound, dhcpv4.Renewed:
		a := e.ev.Lease.Addr.Addr()
		if v.coa4 != a {
			d.st.log.Info("IPv4 care-of address", "uplink", v.name, "addr", e.ev.Lease.Addr, "router", e.ev.Lease.Router,
				"server", e.ev.Lease.Server, "lease", e.ev.Lease.LeaseTime)
		}
		v.coa4 = a
	default:
		if v.coa4.IsValid() {
			d.st.log.Info("IPv4 care-of address gone", "uplink", v.name, "addr", v.coa4, "event", e.ev.Kind.String())
		}
		v.coa4 = netip.Addr{}
	}
	d.feedUplinks(ctx)
}

// sendBUv4 sends a BU from an IPv4 care-of address (RFC 5555 4.2): the
// IPv6 packet from the home address to the home agent, no Home Address
// option, in UDP to port 4191 of the home agent's IPv4 address.
func (d *Daemon) sendBUv4(a mrouter.SendBU) error {
	if d.udp == nil {
		return errNoUDP
	}
	pkt, err := mh.BuildPacket(mh.Packet{Src: d.st.cfg.Router.HomeAddress, Dst: a.To, Message: a.BU})
	if err != nil {
		return err
	}
	return d.udp.SendFrom(a.From, netip.AddrPortFrom(a.ToIPv4, mh.DSMIPv6Port), pkt)
}

// onDatagram takes one datagram from the registration socket: a BA (or
// other signalling) from the home agent, or tunnelled data for the data
// plane. Only the home agents' port 4191 is listened to.
func (d *Daemon) onDatagram(ctx context.Context, dg transport.Datagram) {
	from := netip.AddrPortFrom(dg.From.Addr().Unmap(), dg.From.Port())
	if from.Port() != mh.DSMIPv6Port || !d.isHAv4(from.Addr()) {
		return
	}
	v, err := mh.InnerVersion(dg.Data)
	if err != nil {
		return
	}
	if v == 6 {
		pkt, raw, err := mh.ParsePacket(dg.Data)
		if err == nil && pkt.Message != nil {
			switch m := pkt.Message.(type) {
			case mh.BindingAck:
				d.st.log.Debug("received binding acknowledgement over UDP", "from", from, "seq", m.Sequence, "status", m.Status.String())
				d.apply(ctx, d.st.core.HandleBA(time.Now(), mrouter.BAInfo{From: pkt.Src, BA: m, ViaUDP: true, Raw: raw}))
			case mh.BindingRefreshRequest:
				// RFC 5555 4.1: the home agent's signalling to an IPv4
				// care-of address comes in UDP too; a refresh answers
				// through the current NAT mapping.
				d.st.log.Info("binding refresh request over UDP", "from", from)
				d.apply(ctx, d.st.core.HandleBRR(time.Now(), pkt.Src))
			case mh.BindingError:
				d.apply(ctx, d.st.core.HandleBE(time.Now(), pkt.Src, m))
			}
			return
		}
	}
	if u, ok := d.st.dp.(interface {
		InjectUDP(netip.AddrPort, []byte)
	}); ok {
		u.InjectUDP(from, dg.Data)
	}
}

func (d *Daemon) isHAv4(a netip.Addr) bool {
	for _, h := range d.st.cfg.HomeAgents {
		if h.IPv4Address == a {
			return true
		}
	}
	return false
}
