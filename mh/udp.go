package mh

import (
	"encoding/binary"
	"net/netip"
)

// DSMIPv6Port is the UDP port of RFC 5555 encapsulation (section 8): the
// payload of such a datagram is a whole IPv6 packet (signalling or data) or
// an IPv4 packet (data), told apart by the version nibble (section 4.1).
const DSMIPv6Port = 4191

// IPv4 header (RFC 791 3.1):
//
//	|Version|  IHL  |Type of Service|          Total Length         |
//	|         Identification        |Flags|      Fragment Offset    |
//	|  Time to Live |    Protocol   |         Header Checksum       |
//	|                       Source Address                          |
//	|                    Destination Address                        |
//
// UDP header (RFC 768):
//
//	|          Source Port          |       Destination Port        |
//	|            Length             |           Checksum            |
const (
	ipv4HeaderLen    = 20
	ipv4OffTotalLen  = 2
	ipv4OffFrag      = 6
	ipv4FlagMF       = 0x2000
	ipv4FragOffMask  = 0x1FFF
	ipv4OffTTL       = 8
	ipv4OffProto     = 9
	ipv4OffChecksum  = 10
	ipv4OffSrc       = 12
	ipv4OffDst       = 16
	ipv4Version      = 4
	ipv4DefaultTTL   = 64
	protoUDP         = 17
	udpHeaderLen     = 8
	udpOffSrcPort    = 0
	udpOffDstPort    = 2
	udpOffLen        = 4
	udpOffChecksum   = 6
	maxIPv4TotalLen  = 0xFFFF
	versionShift     = 4
	ipv4IHLMask      = 0x0F
	ipv4IHLUnitBytes = 4
)

// InnerVersion returns the IP version (4 or 6) of the packet carried in a
// DSMIPv6 UDP payload, from its version nibble.
func InnerVersion(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, errorf(ErrTruncated, "empty UDP payload")
	}
	switch v := int(b[0] >> versionShift); v {
	case ipv4Version, ipv6Version:
		return v, nil
	default:
		return 0, errorf(ErrBadPacket, "inner IP version %d", v)
	}
}

// BuildUDP4 returns an IPv4 packet (TTL 64, no options, not fragmented)
// carrying a UDP datagram from src to dst with payload, with correct IPv4
// header and UDP checksums. Both addresses must be IPv4.
func BuildUDP4(src, dst netip.AddrPort, payload []byte) ([]byte, error) {
	if err := checkIPv4(src.Addr(), "UDP source"); err != nil {
		return nil, err
	}
	if err := checkIPv4(dst.Addr(), "UDP destination"); err != nil {
		return nil, err
	}
	total := ipv4HeaderLen + udpHeaderLen + len(payload)
	if total > maxIPv4TotalLen {
		return nil, errorf(ErrTooLong, "UDP payload of %d bytes", len(payload))
	}
	b := make([]byte, ipv4HeaderLen+udpHeaderLen, total)
	be := binary.BigEndian
	b[0] = ipv4Version<<versionShift | ipv4HeaderLen/ipv4IHLUnitBytes
	be.PutUint16(b[ipv4OffTotalLen:], uint16(total))
	b[ipv4OffTTL] = ipv4DefaultTTL
	b[ipv4OffProto] = protoUDP
	s, d := src.Addr().As4(), dst.Addr().As4()
	copy(b[ipv4OffSrc:], s[:])
	copy(b[ipv4OffDst:], d[:])
	be.PutUint16(b[ipv4OffChecksum:], ^fold(sum16(b[:ipv4HeaderLen], 0)))
	u := b[ipv4HeaderLen:]
	be.PutUint16(u[udpOffSrcPort:], src.Port())
	be.PutUint16(u[udpOffDstPort:], dst.Port())
	be.PutUint16(u[udpOffLen:], uint16(udpHeaderLen+len(payload)))
	b = append(b, payload...)
	c := ^fold(sum16(b[ipv4HeaderLen:], udp4PseudoSum(s, d, udpHeaderLen+len(payload))))
	if c == 0 {
		c = 0xFFFF // RFC 768: a computed zero is sent as all ones
	}
	be.PutUint16(b[ipv4HeaderLen+udpOffChecksum:], c)
	return b, nil
}

// ParseUDP4 parses an IPv4 packet carrying UDP, as BuildUDP4 builds (IPv4
// options are skipped, bytes after Total Length ignored). It verifies the
// IPv4 header checksum and, when non-zero, the UDP checksum, and refuses
// fragments. The payload aliases b.
func ParseUDP4(b []byte) (src, dst netip.AddrPort, payload []byte, err error) {
	be := binary.BigEndian
	if len(b) < ipv4HeaderLen {
		return src, dst, nil, errorf(ErrTruncated, "IPv4 packet of %d bytes", len(b))
	}
	if v := b[0] >> versionShift; v != ipv4Version {
		return src, dst, nil, errorf(ErrBadPacket, "IP version %d", v)
	}
	ihl := int(b[0]&ipv4IHLMask) * ipv4IHLUnitBytes
	total := int(be.Uint16(b[ipv4OffTotalLen:]))
	switch {
	case ihl < ipv4HeaderLen:
		return src, dst, nil, errorf(ErrBadPacket, "IPv4 header length %d", ihl)
	case total < ihl+udpHeaderLen:
		return src, dst, nil, errorf(ErrBadLength, "IPv4 total length %d with header length %d", total, ihl)
	case total > len(b):
		return src, dst, nil, errorf(ErrTruncated, "IPv4 total length %d, have %d bytes", total, len(b))
	}
	b = b[:total]
	if fold(sum16(b[:ihl], 0)) != 0xFFFF {
		return src, dst, nil, errorf(ErrBadChecksum, "IPv4 header checksum")
	}
	if f := be.Uint16(b[ipv4OffFrag:]); f&(ipv4FlagMF|ipv4FragOffMask) != 0 {
		return src, dst, nil, errorf(ErrBadPacket, "IPv4 fragment (flags/offset 0x%04x)", f)
	}
	if p := b[ipv4OffProto]; p != protoUDP {
		return src, dst, nil, errorf(ErrBadPacket, "IPv4 protocol %d, not UDP", p)
	}
	s, d := [4]byte(b[ipv4OffSrc:]), [4]byte(b[ipv4OffDst:])
	u := b[ihl:]
	if ul := int(be.Uint16(u[udpOffLen:])); ul != len(u) {
		return src, dst, nil, errorf(ErrBadLength, "UDP length %d in %d bytes", ul, len(u))
	}
	if be.Uint16(u[udpOffChecksum:]) != 0 && fold(sum16(u, udp4PseudoSum(s, d, len(u)))) != 0xFFFF {
		return src, dst, nil, errorf(ErrBadChecksum, "UDP checksum")
	}
	src = netip.AddrPortFrom(netip.AddrFrom4(s), be.Uint16(u[udpOffSrcPort:]))
	dst = netip.AddrPortFrom(netip.AddrFrom4(d), be.Uint16(u[udpOffDstPort:]))
	return src, dst, u[udpHeaderLen:], nil
}

// udp4PseudoSum is the unfolded sum of the IPv4 UDP pseudo-header.
func udp4PseudoSum(s, d [4]byte, n int) uint64 {
	acc := sum16(s[:], 0)
	acc = sum16(d[:], acc)
	return acc + protoUDP + uint64(n)
}
