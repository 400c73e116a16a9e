package transport

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
//	|                         Source Address (128 bits)             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                      Destination Address (128 bits)           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	ipv6HeaderLen     = 40
	ipv6OffVersion    = 0 // high nibble
	ipv6OffPayloadLen = 4
	ipv6OffNextHeader = 6
	ipv6OffHopLimit   = 7
	ipv6OffSrc        = 8
	ipv6OffDst        = 24
	ipv6Version       = 6
	ipv6MaxPayload    = 0xFFFF
)

// ndHopLimit is the hop limit every Neighbor Discovery message is sent
// with and must arrive with (RFC 4861 6.1.1, 7.1.1).
const ndHopLimit = 255

// checkIPv6Packet checks what the kernel needs from a header-included
// packet and returns its destination.
func checkIPv6Packet(pkt []byte) (netip.Addr, error) {
	if len(pkt) < ipv6HeaderLen {
		return netip.Addr{}, fmt.Errorf("%w: %d bytes, shorter than the IPv6 header", ErrBadPacket, len(pkt))
	}
	if v := pkt[ipv6OffVersion] >> 4; v != ipv6Version {
		return netip.Addr{}, fmt.Errorf("%w: version %d", ErrBadPacket, v)
	}
	plen := int(binary.BigEndian.Uint16(pkt[ipv6OffPayloadLen:]))
	if plen != len(pkt)-ipv6HeaderLen {
		return netip.Addr{}, fmt.Errorf("%w: payload length %d, but %d bytes follow the header",
			ErrBadPacket, plen, len(pkt)-ipv6HeaderLen)
	}
	return netip.AddrFrom16([16]byte(pkt[ipv6OffDst : ipv6OffDst+16])), nil
}

// appendIPv6 appends an IPv6 header (traffic class and flow label 0) and
// payload to b.
func appendIPv6(b []byte, src, dst netip.Addr, nextHeader, hopLimit uint8, payload []byte) []byte {
	var h [ipv6HeaderLen]byte
	h[ipv6OffVersion] = ipv6Version << 4
	binary.BigEndian.PutUint16(h[ipv6OffPayloadLen:], uint16(len(payload)))
	h[ipv6OffNextHeader] = nextHeader
	h[ipv6OffHopLimit] = hopLimit
	s, d := src.As16(), dst.As16()
	copy(h[ipv6OffSrc:], s[:])
	copy(h[ipv6OffDst:], d[:])
	b = append(b, h[:]...)
	return append(b, payload...)
}

// checksum returns the IPv6 upper-layer checksum (RFC 8200 8.1) of
// payload: the one's complement of the one's-complement sum of the
// pseudo-header (src, dst, upper-layer length, next header) and payload.
// The checksum field inside payload must be zero when this is computed.
func checksum(src, dst netip.Addr, nextHeader uint8, payload []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for len(b) >= 2 {
			sum += uint32(binary.BigEndian.Uint16(b))
			b = b[2:]
		}
		if len(b) == 1 {
			sum += uint32(b[0]) << 8
		}
	}
	s, d := src.As16(), dst.As16()
	add(s[:])
	add(d[:])
	n := uint32(len(payload))
	sum += n>>16 + n&0xFFFF
	sum += uint32(nextHeader)
	add(payload)
	for sum > 0xFFFF {
		sum = sum>>16 + sum&0xFFFF
	}
	return ^uint16(sum)
}
