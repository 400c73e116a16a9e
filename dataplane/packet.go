package dataplane

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// IPv6 fixed header (RFC 8200 section 3):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version| Traffic Class |           Flow Label                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Payload Length        |  Next Header  |   Hop Limit   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                  Source Address (128 bits)                    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|               Destination Address (128 bits)                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	ipv6HeaderLen        = 40
	ipv6PayloadLenOffset = 4
	ipv6NextHeaderOffset = 6
	ipv6HopLimitOffset   = 7
	ipv6SrcOffset        = 8
	ipv6DstOffset        = 24
	ipv6AddrLen          = 16
)

// IPv4 header (RFC 791 section 3.1):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version|  IHL  |Type of Service|          Total Length         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Identification        |Flags|      Fragment Offset    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Time to Live |    Protocol   |         Header Checksum       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       Source Address                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Destination Address                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	ipv4MinHeaderLen     = 20
	ipv4TOSOffset        = 1
	ipv4TotalLenOffset   = 2
	ipv4TTLOffset        = 8
	ipv4ProtocolOffset   = 9
	ipv4ChecksumOffset   = 10
	ipv4SrcOffset        = 12
	ipv4DstOffset        = 16
	ipv4AddrLen          = 4
	ipv4IHLMask          = 0x0f
	ipv4IHLUnit          = 4
	versionShift         = 4
	ipVersion4           = 4
	ipVersion6           = 6
	protoIPv4InIP        = 4  // IPv4 encapsulation (RFC 2003)
	protoIPv6InIP        = 41 // IPv6 encapsulation (RFC 2473, RFC 4213)
	trafficClassHiMask   = 0x0f
	trafficClassLoShift  = 4
	trafficClassHiShift  = 4
	maxInnerPacket       = 65535
	ipv4DefaultTTL       = 64
	ipv4HeaderLenVersion = ipVersion4<<versionShift | ipv4MinHeaderLen/ipv4IHLUnit
)

// Parse errors, made once so that the per-packet path never allocates.
var (
	errEmpty      = fmt.Errorf("%w: empty packet", ErrMalformedPacket)
	errVersion    = fmt.Errorf("%w: IP version neither 4 nor 6", ErrMalformedPacket)
	errShortIPv6  = fmt.Errorf("%w: shorter than an IPv6 header", ErrMalformedPacket)
	errIPv6Length = fmt.Errorf("%w: IPv6 payload length zero (jumbogram) or beyond the data", ErrMalformedPacket)
	errShortIPv4  = fmt.Errorf("%w: not an IPv4 header", ErrMalformedPacket)
	errIPv4Length = fmt.Errorf("%w: IPv4 header or total length inconsistent", ErrMalformedPacket)
)

// innerHeader is what forwarding needs from an inner packet.
type innerHeader struct {
	version      int
	src, dst     netip.Addr
	trafficClass uint8 // IPv6 Traffic Class or IPv4 TOS (DSCP and ECN)
	length       int   // bytes of the packet per its header
}

// parseInner validates pkt as a whole IPv4 or IPv6 packet (told apart by
// the version nibble) and returns its header fields. Bytes after the length
// the header states are tolerated. It does not allocate.
func parseInner(pkt []byte) (innerHeader, error) {
	if len(pkt) == 0 {
		return innerHeader{}, errEmpty
	}
	switch pkt[0] >> versionShift {
	case ipVersion6:
		if len(pkt) < ipv6HeaderLen {
			return innerHeader{}, errShortIPv6
		}
		plen := int(binary.BigEndian.Uint16(pkt[ipv6PayloadLenOffset:]))
		if plen == 0 || ipv6HeaderLen+plen > len(pkt) {
			return innerHeader{}, errIPv6Length
		}
		return innerHeader{
			version:      ipVersion6,
			src:          netip.AddrFrom16([ipv6AddrLen]byte(pkt[ipv6SrcOffset : ipv6SrcOffset+ipv6AddrLen])),
			dst:          netip.AddrFrom16([ipv6AddrLen]byte(pkt[ipv6DstOffset : ipv6DstOffset+ipv6AddrLen])),
			trafficClass: (pkt[0]&trafficClassHiMask)<<trafficClassHiShift | pkt[1]>>trafficClassLoShift,
			length:       ipv6HeaderLen + plen,
		}, nil
	case ipVersion4:
		_, total, err := ipv4Lengths(pkt)
		if err != nil {
			return innerHeader{}, err
		}
		return innerHeader{
			version:      ipVersion4,
			src:          netip.AddrFrom4([ipv4AddrLen]byte(pkt[ipv4SrcOffset : ipv4SrcOffset+ipv4AddrLen])),
			dst:          netip.AddrFrom4([ipv4AddrLen]byte(pkt[ipv4DstOffset : ipv4DstOffset+ipv4AddrLen])),
			trafficClass: pkt[ipv4TOSOffset],
			length:       total,
		}, nil
	}
	return innerHeader{}, errVersion
}

// ipv4Lengths returns the header length and total length of the IPv4
// packet in pkt after checking them against each other and len(pkt).
func ipv4Lengths(pkt []byte) (ihl, total int, err error) {
	if len(pkt) < ipv4MinHeaderLen || pkt[0]>>versionShift != ipVersion4 {
		return 0, 0, errShortIPv4
	}
	ihl = int(pkt[0]&ipv4IHLMask) * ipv4IHLUnit
	total = int(binary.BigEndian.Uint16(pkt[ipv4TotalLenOffset:]))
	if ihl < ipv4MinHeaderLen || total < ihl || total > len(pkt) {
		return 0, 0, errIPv4Length
	}
	return ihl, total, nil
}

// stripIPv4 returns the payload of the IPv4 packet in pkt (as a raw
// AF_INET socket delivers it: outer header first), its source address and
// protocol. It does not allocate.
func stripIPv4(pkt []byte) (payload []byte, src netip.Addr, proto uint8, err error) {
	ihl, total, err := ipv4Lengths(pkt)
	if err != nil {
		return nil, netip.Addr{}, 0, err
	}
	src = netip.AddrFrom4([ipv4AddrLen]byte(pkt[ipv4SrcOffset : ipv4SrcOffset+ipv4AddrLen]))
	return pkt[ihl:total], src, pkt[ipv4ProtocolOffset], nil
}

// appendIPv4Header appends a 20-byte IPv4 header (no options, TTL 64, DF
// clear, checksum filled in) for a payload of payloadLen bytes. It is what
// the kernel puts in front on a raw socket; tests and the fuzz target use
// it to build outer packets.
func appendIPv4Header(b []byte, src, dst netip.Addr, proto uint8, tos uint8, payloadLen int) []byte {
	start := len(b)
	b = append(b, make([]byte, ipv4MinHeaderLen)...)
	h := b[start:]
	h[0] = ipv4HeaderLenVersion
	h[ipv4TOSOffset] = tos
	binary.BigEndian.PutUint16(h[ipv4TotalLenOffset:], uint16(ipv4MinHeaderLen+payloadLen))
	h[ipv4TTLOffset] = ipv4DefaultTTL
	h[ipv4ProtocolOffset] = proto
	s, d := src.As4(), dst.As4()
	copy(h[ipv4SrcOffset:], s[:])
	copy(h[ipv4DstOffset:], d[:])
	var sum uint32
	for i := 0; i < ipv4MinHeaderLen; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(h[ipv4ChecksumOffset:], ^uint16(sum))
	return b
}
