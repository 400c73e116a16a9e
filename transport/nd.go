package transport

import (
	"bytes"
	"fmt"
	"net/netip"
)

// ICMPv6 types this package sends, filters or checks (RFC 4443 2.1,
// RFC 4861 4).
const (
	icmpDstUnreach     = 1
	icmpPacketTooBig   = 2
	icmpTimeExceeded   = 3
	icmpParamProblem   = 4
	icmpRouterSolicit  = 133
	icmpRouterAdvert   = 134
	icmpNeighborSolic  = 135
	icmpNeighborAdvert = 136
)

// Router Solicitation (RFC 4861 4.1):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |     Code      |          Checksum             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                            Reserved                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   Options ...
//
// Neighbor Solicitation (4.3) and Neighbor Advertisement (4.4) put a
// Target Address after the second word; in an advertisement the second
// word starts with the R, S and O flags:
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |     Code      |          Checksum             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|R|S|O|                     Reserved                            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       Target Address (128 bits)               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   Options ...
const (
	icmpOffType     = 0
	icmpOffCode     = 1
	icmpOffChecksum = 2
	ndOffFlags      = 4
	ndOffTarget     = 8
	rsLen           = 8  // RS without options
	nsLen           = 24 // NS or NA without options

	naFlagRouter    = 0x80
	naFlagSolicited = 0x40
	naFlagOverride  = 0x20
	naFlagMask      = naFlagRouter | naFlagSolicited | naFlagOverride
)

// Neighbor Discovery options (RFC 4861 4.6; Nonce: RFC 3971 5.3.2):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |    Length     |              ...              |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Length counts the whole option in units of 8 octets; 0 is invalid.
const (
	ndOptSourceLLA = 1
	ndOptTargetLLA = 2
	ndOptNonce     = 14
	ndOptUnit      = 8
	ndOptHeaderLen = 2
	// dadNonceLen is the nonce size we send: one 8-octet option.
	dadNonceLen = ndOptUnit - ndOptHeaderLen
)

// neighborMsg is a parsed Neighbor Solicitation or Advertisement, reduced
// to the fields this package uses.
type neighborMsg struct {
	Type   uint8 // icmpNeighborSolic or icmpNeighborAdvert
	Flags  uint8 // advertisement R|S|O bits (naFlag*); 0 in a solicitation
	Target netip.Addr
	// LinkAddr is the data of the first Source (NS) or Target (NA)
	// Link-Layer Address option, padding included; nil if absent.
	LinkAddr []byte
	// Nonce is the data of the first Nonce option; nil if absent.
	Nonce []byte
}

// parseNeighbor parses an NS or NA starting at the ICMPv6 type. It checks
// what RFC 4861 7.1.1 and 7.1.2 ask of the message body (code 0, length,
// non-multicast target, no zero-length option); the hop limit and
// checksum are the caller's and the kernel's business.
func parseNeighbor(b []byte) (neighborMsg, error) {
	if len(b) < nsLen {
		return neighborMsg{}, fmt.Errorf("%w: neighbor message of %d bytes", ErrBadPacket, len(b))
	}
	typ := b[icmpOffType]
	if typ != icmpNeighborSolic && typ != icmpNeighborAdvert {
		return neighborMsg{}, fmt.Errorf("%w: ICMPv6 type %d is not NS/NA", ErrBadPacket, typ)
	}
	if c := b[icmpOffCode]; c != 0 {
		return neighborMsg{}, fmt.Errorf("%w: neighbor message code %d", ErrBadPacket, c)
	}
	target := netip.AddrFrom16([16]byte(b[ndOffTarget : ndOffTarget+16]))
	if target.IsMulticast() {
		return neighborMsg{}, fmt.Errorf("%w: multicast target %s", ErrBadPacket, target)
	}
	llType := uint8(ndOptSourceLLA)
	var flags uint8
	if typ == icmpNeighborAdvert {
		llType = ndOptTargetLLA
		flags = b[ndOffFlags] & naFlagMask
	}
	var ll, nonce []byte
	for opts := b[nsLen:]; len(opts) > 0; {
		if len(opts) < ndOptHeaderLen || opts[1] == 0 || int(opts[1])*ndOptUnit > len(opts) {
			return neighborMsg{}, fmt.Errorf("%w: bad option at offset %d", ErrBadPacket, len(b)-len(opts))
		}
		n := int(opts[1]) * ndOptUnit
		data := opts[ndOptHeaderLen:n]
		switch {
		case opts[0] == llType && ll == nil:
			ll = bytes.Clone(data)
		case opts[0] == ndOptNonce && nonce == nil:
			nonce = bytes.Clone(data)
		}
		opts = opts[n:]
	}
	return neighborMsg{Type: typ, Flags: flags, Target: target, LinkAddr: ll, Nonce: nonce}, nil
}

// marshal returns the message with a zero checksum.
func (m neighborMsg) marshal() []byte {
	b := make([]byte, nsLen, nsLen+2*ndOptUnit)
	b[icmpOffType] = m.Type
	if m.Type == icmpNeighborAdvert {
		b[ndOffFlags] = m.Flags & naFlagMask
	}
	t := m.Target.As16()
	copy(b[ndOffTarget:], t[:])
	if m.LinkAddr != nil {
		typ := uint8(ndOptSourceLLA)
		if m.Type == icmpNeighborAdvert {
			typ = ndOptTargetLLA
		}
		b = appendNDOption(b, typ, m.LinkAddr)
	}
	if m.Nonce != nil {
		b = appendNDOption(b, ndOptNonce, m.Nonce)
	}
	return b
}

// marshalRS returns a Router Solicitation with a zero checksum and, if
// lla is not nil, a Source Link-Layer Address option.
func marshalRS(lla []byte) []byte {
	b := make([]byte, rsLen, rsLen+ndOptUnit)
	b[icmpOffType] = icmpRouterSolicit
	if lla != nil {
		b = appendNDOption(b, ndOptSourceLLA, lla)
	}
	return b
}

// appendNDOption appends an option holding data, zero-padded to a
// multiple of 8 octets.
func appendNDOption(b []byte, typ uint8, data []byte) []byte {
	n := (ndOptHeaderLen + len(data) + ndOptUnit - 1) / ndOptUnit * ndOptUnit
	b = append(b, typ, uint8(n/ndOptUnit))
	b = append(b, data...)
	return append(b, make([]byte, n-ndOptHeaderLen-len(data))...)
}

// icmpPacket wraps an ICMPv6 message in an IPv6 header with hop limit 255
// and fills in the ICMPv6 checksum.
func icmpPacket(src, dst netip.Addr, msg []byte) []byte {
	msg[icmpOffChecksum], msg[icmpOffChecksum+1] = 0, 0
	c := checksum(src, dst, ProtoICMPv6, msg)
	msg[icmpOffChecksum], msg[icmpOffChecksum+1] = byte(c>>8), byte(c)
	return appendIPv6(make([]byte, 0, ipv6HeaderLen+len(msg)), src, dst, ProtoICMPv6, ndHopLimit, msg)
}

// solicitedNode returns the solicited-node multicast address of a
// (RFC 4291 2.7.1): ff02::1:ffXX:XXXX with the low 24 bits of a.
func solicitedNode(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom16([16]byte{0xff, 0x02, 10: 0, 11: 0x01, 12: 0xff, 13: b[13], 14: b[14], 15: b[15]})
}

// allNodes and allRouters are the link-scope multicast groups of RFC 4291
// 2.7.1.
var (
	allNodes   = netip.MustParseAddr("ff02::1")
	allRouters = netip.MustParseAddr("ff02::2")
)
