package had

import (
	"context"
	"net/netip"
	"time"

	"github.com/nemo-mobility/nemo/ha"
	"github.com/nemo-mobility/nemo/mh"
	"github.com/nemo-mobility/nemo/transport"
)

// udpSender carries the data plane's UDP-encapsulated packets on the
// port-4191 socket (RFC 5555 4.1), from the address it is bound to.
type udpSender struct{ u *transport.UDP4 }

// WriteToUDPAddrPort implements dataplane.UDPSender.
func (s udpSender) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	if err := s.u.Send(to, b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// onDatagram takes one datagram from port 4191: a Binding Update from an
// IPv4 care-of address (RFC 5555 4.2; the outer source as observed goes
// with it for NAT detection), or tunnelled data for the data plane.
func (d *daemon) onDatagram(ctx context.Context, dg transport.Datagram) {
	now := time.Now()
	from := netip.AddrPortFrom(dg.From.Addr().Unmap(), dg.From.Port())
	v, err := mh.InnerVersion(dg.Data)
	if err != nil {
		d.udpDrops++
		return
	}
	if v == 6 {
		pkt, raw, err := mh.ParsePacket(dg.Data)
		switch {
		case err == nil && pkt.Message != nil:
			bu, ok := pkt.Message.(mh.BindingUpdate)
			if !ok {
				return
			}
			req := ha.BURequest{Src: pkt.Src, Dst: pkt.Dst, HomeAddr: pkt.Src, BU: bu, Raw: raw, UDP: from}
			b, ok := d.core.Lookup(req.HomeAddr)
			known := ok && b.State == ha.StateValid && b.UDP == from
			if !d.limit.allow(now, from.Addr(), known) {
				d.discardLog.log(d.log, from.Addr(), "binding update rate-limited", "from", from, "home_address", req.HomeAddr)
				return
			}
			d.apply(ctx, d.core.HandleBU(now, req))
			return
		case err != nil && pkt.NextHeader == 0:
			// Not even a well-formed IPv6 packet: garbage.
			d.udpDrops++
			d.discardLog.log(d.log, from.Addr(), "dropped UDP datagram", "from", from, "err", err)
			return
		}
	}
	if u, ok := d.dp.(interface {
		InjectUDP(netip.AddrPort, []byte)
	}); ok {
		u.InjectUDP(from, dg.Data)
	}
}
