package mh

import (
	"encoding/binary"
	"net/netip"
)

// IPv6 header (RFC 8200 3):
//
//	|Version| Traffic Class |           Flow Label                  |
//	|         Payload Length        |  Next Header  |   Hop Limit   |
//	|                     Source Address (16)                       |
//	|                  Destination Address (16)                     |
const (
	IPv6HeaderLen     = 40 // fixed IPv6 header length
	ipv6OffPayloadLen = 4
	ipv6OffNextHeader = 6
	ipv6OffHopLimit   = 7
	ipv6OffSrc        = 8
	ipv6OffDst        = 24
	ipv6Version       = 6
	// DefaultHopLimit is what BuildPacket uses when Packet.HopLimit is 0.
	DefaultHopLimit = 64
)

// IPv6 Next Header values this file walks (IANA protocol numbers).
const (
	ProtoHopByHop = 0
	ProtoRouting  = 43
	ProtoFragment = 44
	ProtoESP      = 50
	ProtoAH       = 51
	ProtoNoNext   = 59
	ProtoDestOpts = 60
)

// Extension header common part (RFC 8200 4.3–4.6): Next Header, Hdr Ext Len
// (8-octet units after the first 8).
const (
	extOffNextHeader = 0
	extOffLen        = 1
	extMinLen        = 8
)

// Type 2 Routing Header (RFC 6275 6.4):
//
//	|  Next Header  | Hdr Ext Len=2 | Routing Type=2|Segments Left=1|
//	|                            Reserved                           |
//	|                         Home Address (16)                     |
const (
	RoutingType2    = 2 // the Mobile IPv6 routing type
	rh2HdrExtLen    = 2
	rh2SegmentsLeft = 1
	rhOffType       = 2
	rhOffSegLeft    = 3
	rh2OffHoA       = 8
	rh2Len          = 24
)

// Destination Options header carrying the Home Address option, as Linux
// builds it (RFC 6275 6.3; PadN of 4 puts the option at 8n+6):
//
//	|  Next Header  | Hdr Ext Len=2 |  PadN (01)    |  Len (02)     |
//	|      00       |      00       | Type (0xC9)   | Opt Len (16)  |
//	|                         Home Address (16)                     |
const (
	// DestOptHomeAddress is the Home Address destination option type.
	DestOptHomeAddress = 0xC9
	haoDataLen         = 16
	haoHdrExtLen       = 2
	haoHeaderLen       = 24
	haoOffOption       = 6
	destOptPad1        = 0
	destOptPadN        = 1
	destOptActionShift = 6 // top two bits: action for an unknown option
)

// Packet is a whole Mobile IPv6 signalling packet: an IPv6 header, an
// optional type 2 routing header, an optional Destination Options header
// with a Home Address option, and a Mobility Header.
type Packet struct {
	// Src and Dst are the IPv6 header's addresses (with a HAO, Src is the
	// care-of address; with an RH2, Dst is the care-of address).
	Src, Dst netip.Addr
	// HopLimit of the IPv6 header; BuildPacket uses DefaultHopLimit for 0.
	// ParseSignal leaves it 0 (it comes from the socket).
	HopLimit uint8
	// HomeAddress is the Home Address destination option's address, or
	// the zero Addr when there is none.
	HomeAddress netip.Addr
	// RoutingHome is the type 2 routing header's address, or the zero Addr
	// when there is none.
	RoutingHome netip.Addr
	// NextHeader is the upper-layer protocol found after the extension
	// headers: ProtoMH for a signalling packet (BuildPacket ignores it).
	NextHeader uint8
	// Message is the Mobility Header message (nil when NextHeader is not
	// ProtoMH).
	Message Message
}

// pseudoAddrs returns the checksum pseudo-header source and destination
// (RFC 6275 6.1.1: the home address from the HAO as source, the home
// address from the RH2 as destination).
func (p Packet) pseudoAddrs() (src, dst netip.Addr) {
	src, dst = p.Src, p.Dst
	if p.HomeAddress.IsValid() {
		src = p.HomeAddress
	}
	if p.RoutingHome.IsValid() {
		dst = p.RoutingHome
	}
	return src, dst
}

// BuildPacket returns the whole IPv6 packet for p: IPv6 header, then the
// type 2 routing header if RoutingHome is set, then the Destination Options
// header with the Home Address option if HomeAddress is set (RFC 8200 4.1
// order), then the MH with its checksum computed over the home address as
// pseudo-source (HAO) or pseudo-destination (RH2).
func BuildPacket(p Packet) ([]byte, error) {
	for _, a := range []struct {
		addr     netip.Addr
		what     string
		optional bool
	}{
		{p.Src, "source", false}, {p.Dst, "destination", false},
		{p.HomeAddress, "home address option", true}, {p.RoutingHome, "routing header home address", true},
	} {
		if a.optional && !a.addr.IsValid() {
			continue
		}
		if err := checkIPv6(a.addr, a.what); err != nil {
			return nil, err
		}
	}
	n, err := messageLen(p.Message)
	if err != nil {
		return nil, err
	}
	ext := 0
	if p.RoutingHome.IsValid() {
		ext += rh2Len
	}
	if p.HomeAddress.IsValid() {
		ext += haoHeaderLen
	}
	b := make([]byte, IPv6HeaderLen, IPv6HeaderLen+ext+n)
	b[0] = ipv6Version << 4
	binary.BigEndian.PutUint16(b[ipv6OffPayloadLen:], uint16(ext+n))
	hl := p.HopLimit
	if hl == 0 {
		hl = DefaultHopLimit
	}
	b[ipv6OffHopLimit] = hl
	src, dst := p.Src.As16(), p.Dst.As16()
	copy(b[ipv6OffSrc:], src[:])
	copy(b[ipv6OffDst:], dst[:])
	nh := &b[ipv6OffNextHeader]
	if p.RoutingHome.IsValid() {
		*nh = ProtoRouting
		h := p.RoutingHome.As16()
		b = append(b, 0, rh2HdrExtLen, RoutingType2, rh2SegmentsLeft, 0, 0, 0, 0)
		b = append(b, h[:]...)
		nh = &b[len(b)-rh2Len+extOffNextHeader]
	}
	if p.HomeAddress.IsValid() {
		*nh = ProtoDestOpts
		h := p.HomeAddress.As16()
		b = append(b, 0, haoHdrExtLen, destOptPadN, 2, 0, 0, DestOptHomeAddress, haoDataLen)
		b = append(b, h[:]...)
		nh = &b[len(b)-haoHeaderLen+extOffNextHeader]
	}
	*nh = ProtoMH
	start := len(b)
	if b, err = appendMessage(b, p.Message); err != nil {
		return nil, err
	}
	ps, pd := p.pseudoAddrs()
	SetChecksum(ps, pd, b[start:])
	return b, nil
}

// ParsePacket parses a whole IPv6 packet starting at its IPv6 header (bytes
// after the Payload Length, such as Ethernet padding, are ignored) as
// ParseSignal does, and fills in HopLimit. A *StatusError's pointer counts
// from the IPv6 header.
func ParsePacket(b []byte) (Packet, []byte, error) {
	if len(b) < IPv6HeaderLen {
		return Packet{}, nil, errorf(ErrTruncated, "IPv6 packet of %d bytes", len(b))
	}
	if v := b[0] >> 4; v != ipv6Version {
		return Packet{}, nil, errorf(ErrBadPacket, "IP version %d", v)
	}
	plen := int(binary.BigEndian.Uint16(b[ipv6OffPayloadLen:]))
	if plen == 0 {
		return Packet{}, nil, errorf(ErrBadPacket, "payload length 0 (jumbogram or empty)")
	}
	if IPv6HeaderLen+plen > len(b) {
		return Packet{}, nil, errorf(ErrTruncated, "IPv6 payload length %d, have %d bytes", plen, len(b)-IPv6HeaderLen)
	}
	src := netip.AddrFrom16([16]byte(b[ipv6OffSrc:]))
	dst := netip.AddrFrom16([16]byte(b[ipv6OffDst:]))
	p, raw, err := ParseSignal(src, dst, b[ipv6OffNextHeader], b[IPv6HeaderLen:IPv6HeaderLen+plen])
	if se, ok := err.(*StatusError); ok {
		err = se.shifted(IPv6HeaderLen)
	}
	if p.Src.IsValid() {
		p.HopLimit = b[ipv6OffHopLimit]
	}
	return p, raw, err
}

// ParseSignal parses what a raw IPv6 socket delivers: b starts at the
// header numbered nextHeader (60 Destination Options, 43 Routing or 135
// Mobility Header; a leading Hop-by-Hop header is skipped), and src and dst
// are the packet's wire addresses (from recvmsg and IPV6_PKTINFO, before
// any kernel Home Address swap). It walks a type 2 routing header (any other
// routing type only with Segments Left 0), Destination Options (taking the
// Home Address option, skipping padding and unknown options whose action
// bits allow it), then verifies the MH checksum with the pseudo-header rules
// and parses the MH. The returned bytes are the MH (or, with
// ErrNotMobility, the upper-layer payload), aliasing b.
//
// On ErrNotMobility and on a *StatusError (answer with a Binding Error or a
// Parameter Problem) the Packet carries the addresses found (Src, Dst,
// HomeAddress, RoutingHome, NextHeader) and a nil Message, because the
// answer needs them: a Home Address option in front of a non-MH payload is
// what RFC 6275 9.3.1 answers with Binding Error status 1 when no binding
// matches. On every other error the Packet is zero.
func ParseSignal(src, dst netip.Addr, nextHeader uint8, b []byte) (Packet, []byte, error) {
	p := Packet{Src: src, Dst: dst}
	nh, off := nextHeader, 0
	seenRouting := false
	for first := true; ; first = false {
		switch nh {
		case ProtoMH:
			return parseSignalMH(p, b, off)
		case ProtoHopByHop, ProtoRouting, ProtoDestOpts:
		case ProtoFragment:
			return Packet{}, nil, errorf(ErrBadExtHeader, "fragment header at offset %d: fragments are not reassembled here", off)
		default:
			p.NextHeader = nh
			return p, b[off:], errorf(ErrNotMobility, "next header %d at offset %d", nh, off)
		}
		if len(b)-off < extMinLen {
			return Packet{}, nil, errorf(ErrTruncated, "extension header %d at offset %d: %d bytes left: %w", nh, off, len(b)-off, ErrBadExtHeader)
		}
		n := (int(b[off+extOffLen]) + 1) * 8
		if n > len(b)-off {
			return Packet{}, nil, errorf(ErrTruncated, "extension header %d at offset %d: %d bytes, %d left: %w", nh, off, n, len(b)-off, ErrBadExtHeader)
		}
		h := b[off : off+n]
		switch nh {
		case ProtoHopByHop:
			if !first {
				return Packet{}, nil, errorf(ErrBadExtHeader, "hop-by-hop header at offset %d is not first", off)
			}
		case ProtoRouting:
			if seenRouting {
				return Packet{}, nil, errorf(ErrBadRoutingHeader, "second routing header at offset %d", off)
			}
			seenRouting = true
			if h[rhOffType] == RoutingType2 {
				if h[extOffLen] != rh2HdrExtLen || h[rhOffSegLeft] != rh2SegmentsLeft {
					return Packet{}, nil, errorf(ErrBadRoutingHeader, "type 2 routing header at offset %d: hdr ext len %d, segments left %d (want 2, 1)",
						off, h[extOffLen], h[rhOffSegLeft])
				}
				p.RoutingHome = netip.AddrFrom16([16]byte(h[rh2OffHoA:]))
			} else if h[rhOffSegLeft] != 0 {
				return Packet{}, nil, errorf(ErrBadRoutingHeader, "routing type %d at offset %d with segments left %d",
					h[rhOffType], off, h[rhOffSegLeft])
			}
		case ProtoDestOpts:
			if err := parseDestOpts(&p, h, off); err != nil {
				if _, ok := err.(*StatusError); ok {
					p.NextHeader = nh
					return p, nil, err
				}
				return Packet{}, nil, err
			}
		}
		nh = h[extOffNextHeader]
		off += n
	}
}

// parseDestOpts walks a Destination Options header h found at offset off.
func parseDestOpts(p *Packet, h []byte, off int) error {
	for i := 2; i < len(h); {
		t := h[i]
		if t == destOptPad1 {
			i++
			continue
		}
		if i+2 > len(h) || i+2+int(h[i+1]) > len(h) {
			return errorf(ErrTruncated, "destination option %d at offset %d runs past its header: %w", t, off+i, ErrBadExtHeader)
		}
		data := h[i+2 : i+2+int(h[i+1])]
		switch {
		case t == destOptPadN:
		case t == DestOptHomeAddress:
			if len(data) != haoDataLen {
				return errorf(ErrBadExtHeader, "home address option at offset %d with length %d", off+i, len(data))
			}
			if p.HomeAddress.IsValid() {
				return errorf(ErrBadExtHeader, "second home address option at offset %d", off+i)
			}
			p.HomeAddress = netip.AddrFrom16([16]byte(data))
		default:
			switch t >> destOptActionShift {
			case 0: // skip
			case 1:
				return errorf(ErrUnrecognizedOption, "option 0x%02x at offset %d (discard)", t, off+i)
			default:
				return &StatusError{
					Err: ErrUnrecognizedOption, Detail: "option 0x" + hex2(t),
					ParamProblem: true, Code: ParamProblemUnrecognizedOpt, Pointer: uint32(off + i),
				}
			}
		}
		i += 2 + len(data)
	}
	return nil
}

// parseSignalMH checks and parses the MH at b[off:].
func parseSignalMH(p Packet, b []byte, off int) (Packet, []byte, error) {
	mh := b[off:]
	if len(mh) < MinLen {
		return Packet{}, nil, errorf(ErrTruncated, "MH of %d bytes at offset %d", len(mh), off)
	}
	ps, pd := p.pseudoAddrs()
	if err := VerifyChecksum(ps, pd, mh); err != nil {
		return Packet{}, nil, err
	}
	p.NextHeader = ProtoMH
	m, err := Parse(mh)
	if err != nil {
		if se, ok := err.(*StatusError); ok {
			return p, mh, se.shifted(off)
		}
		return Packet{}, nil, err
	}
	p.Message = m
	return p, mh, nil
}

func hex2(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&0xF]})
}
