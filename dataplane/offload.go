package dataplane

import (
	"encoding/binary"
	"errors"
)

// TUN offloads (the virtio-net header of a TUN device opened with
// IFF_VNET_HDR, include/uapi/linux/virtio_net.h): with TSO enabled the
// kernel hands the userspace plane whole TCP send bursts of up to 64 KiB
// in one read, which the plane cuts into MTU-sized segments itself
// (splitTCP), and packets whose transport checksum is still to be
// completed (completeChecksum). The header is in host byte order (a legacy
// virtio header: the TUN device was not switched with TUNSETVNETLE/BE).
const (
	vnetHdrLen = 10

	vnetFlagNeedsCsum = 1 // VIRTIO_NET_HDR_F_NEEDS_CSUM

	vnetGSONone  = 0    // VIRTIO_NET_HDR_GSO_NONE
	vnetGSOTCPv4 = 1    // VIRTIO_NET_HDR_GSO_TCPV4
	vnetGSOTCPv6 = 4    // VIRTIO_NET_HDR_GSO_TCPV6
	vnetGSOECN   = 0x80 // VIRTIO_NET_HDR_GSO_ECN

	tcpFlagsOffset   = 13
	tcpSeqOffset     = 4
	tcpChecksumOff   = 16
	tcpDataOffOffset = 12
	tcpMinHeaderLen  = 20
	tcpFlagFIN       = 0x01
	tcpFlagPSH       = 0x08
	tcpFlagCWR       = 0x80
	ipv4IDOffset     = 4
	protoTCP         = 6
)

// vnetHdr is a decoded virtio_net_hdr.
type vnetHdr struct {
	flags, gsoType                         uint8
	hdrLen, gsoSize, csumStart, csumOffset uint16
}

func decodeVnetHdr(b []byte) vnetHdr {
	return vnetHdr{
		flags:      b[0],
		gsoType:    b[1],
		hdrLen:     binary.NativeEndian.Uint16(b[2:]),
		gsoSize:    binary.NativeEndian.Uint16(b[4:]),
		csumStart:  binary.NativeEndian.Uint16(b[6:]),
		csumOffset: binary.NativeEndian.Uint16(b[8:]),
	}
}

// Offload errors, made once: the packet path does not allocate.
var (
	errGSOType   = errors.New("dataplane: unsupported GSO type")
	errGSOHeader = errors.New("dataplane: GSO packet with inconsistent headers")
	errCsum      = errors.New("dataplane: checksum offsets beyond the packet")
)

// checksumAdd adds b to a running one's complement sum of big-endian
// 16-bit words (RFC 1071); fold it with checksumFold. Words are summed 32
// bits at a time into 64 bits, which folds to the same 16-bit sum.
func checksumAdd(sum uint64, b []byte) uint64 {
	for len(b) >= 16 {
		sum += uint64(binary.BigEndian.Uint32(b)) + uint64(binary.BigEndian.Uint32(b[4:])) +
			uint64(binary.BigEndian.Uint32(b[8:])) + uint64(binary.BigEndian.Uint32(b[12:]))
		b = b[16:]
	}
	for len(b) >= 4 {
		sum += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	return sum
}

// checksumFold folds a sum to 16 bits (not complemented).
func checksumFold(sum uint64) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

// pseudoSum is the transport pseudo-header's sum (RFC 8200 section 8.1,
// RFC 793 section 3.1) of an IPv4 or IPv6 packet pkt.
func pseudoSum(pkt []byte, proto uint8, length int) uint64 {
	var sum uint64
	if pkt[0]>>versionShift == ipVersion6 {
		sum = checksumAdd(0, pkt[ipv6SrcOffset:ipv6DstOffset+ipv6AddrLen])
	} else {
		sum = checksumAdd(0, pkt[ipv4SrcOffset:ipv4DstOffset+ipv4AddrLen])
	}
	return sum + uint64(proto) + uint64(length)
}

// completeChecksum finishes a checksum the kernel left partial
// (VIRTIO_NET_HDR_F_NEEDS_CSUM): the field at csumStart+csumOffset holds
// the pseudo-header sum; the one's complement of the sum from csumStart to
// the end goes there.
func completeChecksum(pkt []byte, csumStart, csumOffset int) error {
	field := csumStart + csumOffset
	if csumStart >= len(pkt) || field+2 > len(pkt) {
		return errCsum
	}
	c := ^checksumFold(checksumAdd(0, pkt[csumStart:]))
	binary.BigEndian.PutUint16(pkt[field:], c)
	return nil
}

// tcpSegments returns how many segments splitTCP makes of pkt, and the
// length of its IP and TCP headers.
func tcpSegments(pkt []byte, h vnetHdr) (n, hdrLen int, err error) {
	cs := int(h.csumStart)
	if h.gsoType&^vnetGSOECN != vnetGSOTCPv4 && h.gsoType&^vnetGSOECN != vnetGSOTCPv6 {
		return 0, 0, errGSOType
	}
	if h.gsoSize == 0 || cs < ipv4MinHeaderLen || cs+tcpMinHeaderLen > len(pkt) {
		return 0, 0, errGSOHeader
	}
	hdrLen = cs + int(pkt[cs+tcpDataOffOffset]>>4)*4
	if hdrLen < cs+tcpMinHeaderLen || hdrLen > len(pkt) {
		return 0, 0, errGSOHeader
	}
	v := pkt[0] >> versionShift
	if (v == ipVersion4) != (h.gsoType&^vnetGSOECN == vnetGSOTCPv4) {
		return 0, 0, errGSOHeader
	}
	if v == ipVersion4 && int(pkt[0]&ipv4IHLMask)*ipv4IHLUnit != cs {
		return 0, 0, errGSOHeader
	}
	payload := len(pkt) - hdrLen
	gso := int(h.gsoSize)
	return (payload + gso - 1) / gso, hdrLen, nil
}

// splitTCP cuts segments first, first+1, ... of the TCP GSO packet pkt
// (IP header, TCP header, up to 64 KiB of data; checksum partial) into
// bufs, one segment each, as the kernel's TSO would: every segment gets
// the headers with its own IP length (and IPv4 identification and header
// checksum), sequence number, flags (FIN and PSH only on the last, CWR
// only on the first) and a complete TCP checksum. It fills at most
// len(bufs) segments, returns their lengths in sizes and how many it
// made; a buffer too small for a segment is an error. hdrLen comes from
// tcpSegments.
func splitTCP(pkt []byte, h vnetHdr, hdrLen, first int, bufs [][]byte, sizes []int) (int, error) {
	cs := int(h.csumStart)
	gso := int(h.gsoSize)
	payload := len(pkt) - hdrLen
	total := (payload + gso - 1) / gso
	v4 := pkt[0]>>versionShift == ipVersion4
	seq0 := binary.BigEndian.Uint32(pkt[cs+tcpSeqOffset:])
	var id0 uint16
	if v4 {
		id0 = binary.BigEndian.Uint16(pkt[ipv4IDOffset:])
	}
	made := 0
	for i := first; i < total && made < len(bufs); i++ {
		off := i * gso
		n := min(gso, payload-off)
		seg := bufs[made]
		if len(seg) < hdrLen+n {
			return made, errGSOHeader
		}
		seg = seg[:hdrLen+n]
		copy(seg, pkt[:hdrLen])
		copy(seg[hdrLen:], pkt[hdrLen+off:hdrLen+off+n])
		if v4 {
			binary.BigEndian.PutUint16(seg[ipv4TotalLenOffset:], uint16(len(seg)))
			binary.BigEndian.PutUint16(seg[ipv4IDOffset:], id0+uint16(i))
			seg[ipv4ChecksumOffset], seg[ipv4ChecksumOffset+1] = 0, 0
			binary.BigEndian.PutUint16(seg[ipv4ChecksumOffset:], ^checksumFold(checksumAdd(0, seg[:cs])))
		} else {
			binary.BigEndian.PutUint16(seg[ipv6PayloadLenOffset:], uint16(len(seg)-ipv6HeaderLen))
		}
		binary.BigEndian.PutUint32(seg[cs+tcpSeqOffset:], seq0+uint32(off))
		if i != total-1 {
			seg[cs+tcpFlagsOffset] &^= tcpFlagFIN | tcpFlagPSH
		}
		if i != 0 {
			seg[cs+tcpFlagsOffset] &^= tcpFlagCWR
		}
		seg[cs+tcpChecksumOff], seg[cs+tcpChecksumOff+1] = 0, 0
		sum := checksumAdd(pseudoSum(seg, protoTCP, len(seg)-cs), seg[cs:])
		binary.BigEndian.PutUint16(seg[cs+tcpChecksumOff:], ^checksumFold(sum))
		sizes[made] = len(seg)
		made++
	}
	return made, nil
}
