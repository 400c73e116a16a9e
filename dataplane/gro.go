package dataplane

import (
	"encoding/binary"
)

// Receive coalescing (GRO) for a TUN device with offloads: consecutive TCP
// segments of one flow that leave the tunnel in the same receive batch are
// written to the TUN device as one burst of up to 64 KiB behind a
// virtio-net header (GSO type TCPv4/TCPv6), as the kernel's own GRO would
// merge them; the kernel forwards the burst whole and cuts it only where a
// device needs it. Only what the kernel would also merge is merged: plain
// ACK segments (PSH closes a burst) with identical IP and TCP headers apart
// from lengths, sequence number and checksums, back-to-back sequence
// numbers, equal-sized payloads (the last may be shorter), IPv4 with DF and
// no options, IPv6 without extension headers. Every merged segment's TCP
// checksum is verified first: the burst's checksum is computed afresh by
// whoever needs it, so a corrupted segment must not slip into one.

const (
	tcpFlagACK       = 0x10
	tcpAckOffset     = 8
	tcpWindowOffset  = 14
	ipv4FlagsOffset  = 6
	ipv4FlagDF       = 0x40
	ipv4FragMask     = 0x3fff
	ipv6FlowOffset   = 0
	groMaxPacket     = maxInnerPacket
	vnetCsumOffset16 = tcpChecksumOff
)

// groCandidate reports whether pkt (a whole inner IP packet) is a TCP
// segment that may be merged, and its IP and TCP header lengths.
func groCandidate(pkt []byte) (ipLen, hdrLen int, ok bool) {
	switch pkt[0] >> versionShift {
	case ipVersion6:
		if len(pkt) < ipv6HeaderLen+tcpMinHeaderLen || pkt[ipv6NextHeaderOffset] != protoTCP {
			return 0, 0, false
		}
		ipLen = ipv6HeaderLen
	case ipVersion4:
		if len(pkt) < ipv4MinHeaderLen+tcpMinHeaderLen || pkt[0]&ipv4IHLMask != ipv4MinHeaderLen/ipv4IHLUnit ||
			pkt[ipv4ProtocolOffset] != protoTCP {
			return 0, 0, false
		}
		if f := binary.BigEndian.Uint16(pkt[ipv4FlagsOffset:]); f&ipv4FragMask != 0 || pkt[ipv4FlagsOffset]&ipv4FlagDF == 0 {
			return 0, 0, false
		}
		ipLen = ipv4MinHeaderLen
	default:
		return 0, 0, false
	}
	hdrLen = ipLen + int(pkt[ipLen+tcpDataOffOffset]>>4)*4
	if hdrLen < ipLen+tcpMinHeaderLen || hdrLen >= len(pkt) {
		return 0, 0, false // no payload: nothing to merge
	}
	if fl := pkt[ipLen+tcpFlagsOffset]; fl != tcpFlagACK && fl != tcpFlagACK|tcpFlagPSH {
		return 0, 0, false
	}
	if checksumFold(checksumAdd(pseudoSum(pkt, protoTCP, len(pkt)-ipLen), pkt[ipLen:])) != 0xffff {
		return 0, 0, false // corrupted: let the receiver drop it
	}
	return ipLen, hdrLen, true
}

// groBurst is the burst being built, in place in the slot of its first
// segment: buf[start:start+n] is the merged IP packet so far, and
// buf[:start] has room for the virtio-net header.
type groBurst struct {
	buf           []byte
	start, n      int
	ipLen, hdrLen int
	gso, segs     int
	nextSeq       uint32
	closed        bool // the last segment was short or had PSH
}

// begin starts a burst with the candidate pkt, which lies at buf[start:].
func (g *groBurst) begin(buf []byte, start int, pkt []byte, ipLen, hdrLen int) {
	cs := ipLen
	*g = groBurst{buf: buf, start: start, n: len(pkt), ipLen: ipLen, hdrLen: hdrLen, gso: len(pkt) - hdrLen, segs: 1,
		nextSeq: binary.BigEndian.Uint32(pkt[cs+tcpSeqOffset:]) + uint32(len(pkt)-hdrLen),
		closed:  pkt[cs+tcpFlagsOffset]&tcpFlagPSH != 0}
}

// join appends the candidate pkt's payload to the burst if it continues it.
func (g *groBurst) join(pkt []byte, ipLen, hdrLen int) bool {
	if g.segs == 0 || g.closed || ipLen != g.ipLen || hdrLen != g.hdrLen {
		return false
	}
	head := g.buf[g.start : g.start+g.n]
	payload := len(pkt) - hdrLen
	if payload > g.gso || g.n+payload > groMaxPacket || g.start+g.n+payload > len(g.buf) {
		return false
	}
	cs := ipLen
	if binary.BigEndian.Uint32(pkt[cs+tcpSeqOffset:]) != g.nextSeq {
		return false
	}
	// Same addresses, ports, ACK number, window, flags and options; same
	// traffic class, flow label and hop limit (IPv6) or TOS and TTL (IPv4).
	if ipLen == ipv6HeaderLen {
		if !bytesEqual(pkt[ipv6FlowOffset:ipv6PayloadLenOffset], head[ipv6FlowOffset:ipv6PayloadLenOffset]) ||
			!bytesEqual(pkt[ipv6NextHeaderOffset:ipv6HeaderLen], head[ipv6NextHeaderOffset:ipv6HeaderLen]) {
			return false
		}
	} else {
		if pkt[ipv4TOSOffset] != head[ipv4TOSOffset] || pkt[ipv4TTLOffset] != head[ipv4TTLOffset] ||
			!bytesEqual(pkt[ipv4SrcOffset:ipv4MinHeaderLen], head[ipv4SrcOffset:ipv4MinHeaderLen]) {
			return false
		}
	}
	if !bytesEqual(pkt[cs:cs+tcpSeqOffset], head[cs:cs+tcpSeqOffset]) || // ports
		!bytesEqual(pkt[cs+tcpAckOffset:cs+tcpFlagsOffset], head[cs+tcpAckOffset:cs+tcpFlagsOffset]) || // ACK number, data offset
		!bytesEqual(pkt[cs+tcpWindowOffset:cs+tcpChecksumOff], head[cs+tcpWindowOffset:cs+tcpChecksumOff]) ||
		!bytesEqual(pkt[cs+tcpMinHeaderLen:hdrLen], head[cs+tcpMinHeaderLen:hdrLen]) { // options
		return false
	}
	copy(g.buf[g.start+g.n:], pkt[hdrLen:])
	g.n += payload
	g.segs++
	g.nextSeq += uint32(payload)
	if payload < g.gso || pkt[cs+tcpFlagsOffset]&tcpFlagPSH != 0 {
		head[cs+tcpFlagsOffset] |= pkt[cs+tcpFlagsOffset] & tcpFlagPSH
		g.closed = true
	}
	return true
}

// finish returns the burst as a frame for the TUN device: virtio-net
// header and IP packet. A single segment goes as it came (no offload
// asked); a merged burst gets its lengths, IPv4 header checksum, the
// pseudo-header sum in the TCP checksum field (the checksum is left to
// complete, VIRTIO_NET_HDR_F_NEEDS_CSUM) and a GSO header.
func (g *groBurst) finish() []byte {
	frame := g.buf[g.start-vnetHdrLen : g.start+g.n]
	hdr := frame[:vnetHdrLen]
	clear(hdr)
	if g.segs > 1 {
		pkt := frame[vnetHdrLen:]
		cs := g.ipLen
		if g.ipLen == ipv6HeaderLen {
			binary.BigEndian.PutUint16(pkt[ipv6PayloadLenOffset:], uint16(g.n-ipv6HeaderLen))
			hdr[1] = vnetGSOTCPv6
		} else {
			binary.BigEndian.PutUint16(pkt[ipv4TotalLenOffset:], uint16(g.n))
			pkt[ipv4ChecksumOffset], pkt[ipv4ChecksumOffset+1] = 0, 0
			binary.BigEndian.PutUint16(pkt[ipv4ChecksumOffset:], ^checksumFold(checksumAdd(0, pkt[:cs])))
			hdr[1] = vnetGSOTCPv4
		}
		binary.BigEndian.PutUint16(pkt[cs+tcpChecksumOff:], checksumFold(pseudoSum(pkt, protoTCP, g.n-cs)))
		hdr[0] = vnetFlagNeedsCsum
		binary.NativeEndian.PutUint16(hdr[2:], uint16(g.hdrLen))
		binary.NativeEndian.PutUint16(hdr[4:], uint16(g.gso))
		binary.NativeEndian.PutUint16(hdr[6:], uint16(cs))
		binary.NativeEndian.PutUint16(hdr[8:], vnetCsumOffset16)
	}
	g.segs = 0
	return frame
}

// active reports whether a burst is being built.
func (g *groBurst) active() bool { return g.segs > 0 }

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }
