package transport

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// proxyDecision is what a proxy does with a received packet.
type proxyDecision struct {
	target netip.Addr
	// reply is false for a packet to ignore.
	reply bool
	// dad: the solicitation came from :: (another node's duplicate
	// address detection): the answer goes to all nodes, S clear.
	dad bool
	to  netip.Addr // the solicitor (when not dad)
}

// decideNS parses an IPv6 packet (from its fixed header on) received on
// the proxied link and decides whether it is a Neighbor Solicitation to
// answer: RFC 4861 7.1.1 validation (hop limit 255, ICMPv6 checksum, code
// 0, length, target not multicast; from :: only to a solicited-node group
// and with no Source Link-Layer Address option), then owns(target).
func decideNS(pkt []byte, owns func(netip.Addr) bool) (proxyDecision, error) {
	if len(pkt) < ipv6HeaderLen {
		return proxyDecision{}, fmt.Errorf("%w: %d bytes", ErrBadPacket, len(pkt))
	}
	if pkt[0]>>4 != 6 {
		return proxyDecision{}, fmt.Errorf("%w: IP version %d", ErrBadPacket, pkt[0]>>4)
	}
	plen := int(binary.BigEndian.Uint16(pkt[4:6]))
	if pkt[6] != ProtoICMPv6 || plen > len(pkt)-ipv6HeaderLen {
		return proxyDecision{}, fmt.Errorf("%w: next header %d, payload %d of %d bytes", ErrBadPacket, pkt[6], plen, len(pkt)-ipv6HeaderLen)
	}
	if pkt[7] != ndHopLimit {
		return proxyDecision{}, fmt.Errorf("%w: hop limit %d", ErrBadPacket, pkt[7])
	}
	src := netip.AddrFrom16([16]byte(pkt[8:24]))
	dst := netip.AddrFrom16([16]byte(pkt[24:40]))
	body := pkt[ipv6HeaderLen : ipv6HeaderLen+plen]
	if checksum(src, dst, ProtoICMPv6, body) != 0 {
		return proxyDecision{}, fmt.Errorf("%w: ICMPv6 checksum", ErrBadPacket)
	}
	m, err := parseNeighbor(body)
	if err != nil {
		return proxyDecision{}, err
	}
	if m.Type != icmpNeighborSolic {
		return proxyDecision{}, nil
	}
	d := proxyDecision{target: m.Target}
	if src.IsUnspecified() {
		if dst != solicitedNode(m.Target) || m.LinkAddr != nil {
			return proxyDecision{}, fmt.Errorf("%w: solicitation from :: to %v", ErrBadPacket, dst)
		}
		d.dad = true
	} else if src.IsMulticast() {
		return proxyDecision{}, fmt.Errorf("%w: multicast source %v", ErrBadPacket, src)
	}
	d.to = src
	d.reply = owns(m.Target)
	return d, nil
}
