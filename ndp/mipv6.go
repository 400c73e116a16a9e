package ndp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Layout shared by the four Mobile IPv6 ICMPv6 messages (RFC 6275 6.5-6.8):
// an Identifier and a 16-bit flags/Reserved field after the ICMPv6 header.
const (
	mipIdentifierOffset = 4
	mipFlagsOffset      = 6
	mipFixedLen         = 8
	dhaadFlagR          = 0x8000 // Mobile Router Support (RFC 3963 7.1, 7.2)
	mpaFlagM            = 0x8000 // Managed address configuration (RFC 6275 6.8)
	mpaFlagO            = 0x4000 // Other stateful configuration (RFC 6275 6.8)
	dhaadAddrsOffset    = 8
)

// MinIPv6MTU is the minimum IPv6 link MTU (RFC 8200 5).
const MinIPv6MTU = 1280

// MaxDHAADReplyAddresses is the most home agent addresses a DHAAD Reply can
// carry and still fit, with a plain 40-byte IPv6 header and no extension
// header, in MinIPv6MTU (RFC 6275 10.5.1): (1280-40-8)/16 = 77.
const MaxDHAADReplyAddresses = (MinIPv6MTU - ipv6HeaderLen - mipFixedLen) / ipv6Len

const ipv6HeaderLen = 40

// DHAADRequest is the Home Agent Address Discovery Request, ICMPv6 type 144
// (RFC 6275 6.5), with the Mobile Router Support flag of RFC 3963 7.1:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |     Code      |            Checksum           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Identifier           |R|          Reserved           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Bytes after the fixed part (none are defined) are ignored on parse.
type DHAADRequest struct {
	Identifier   uint16
	MobileRouter bool // R: only home agents that support mobile routers
}

// DHAADReply is the Home Agent Address Discovery Reply, ICMPv6 type 145
// (RFC 6275 6.6), with the Mobile Router Support flag of RFC 3963 7.2:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |     Code      |            Checksum           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           Identifier          |R|           Reserved          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	.                      Home Agent Addresses                     .
//	.                     (N x 16 octets)                           .
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The list length follows from the message length, which must be 8 + 16N.
type DHAADReply struct {
	Identifier   uint16
	MobileRouter bool         // R: the listed home agents support mobile routers
	Addresses    []netip.Addr // IPv6, most preferred first; nil when empty
}

// MobilePrefixSolicitation is ICMPv6 type 146 (RFC 6275 6.7):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |     Code      |          Checksum             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Identifier           |            Reserved           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   Options ...
//	+-+-+-+-+-+-+-+-+-+-+-+-
//
// No options are defined for it, but they use the ND format and are kept.
type MobilePrefixSolicitation struct {
	Identifier uint16
	Options    []Option
}

// MobilePrefixAdvertisement is ICMPv6 type 147 (RFC 6275 6.8):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |     Code      |          Checksum             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Identifier           |M|O|        Reserved           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   Options ...
//	+-+-+-+-+-+-+-+-+-+-+-+-
//
// Options are normally Prefix Information options (see Prefixes).
type MobilePrefixAdvertisement struct {
	Identifier uint16
	Managed    bool // M
	Other      bool // O
	Options    []Option
}

// ICMPType implements Message.
func (DHAADRequest) ICMPType() ICMPType { return TypeDHAADRequest }

// ICMPType implements Message.
func (DHAADReply) ICMPType() ICMPType { return TypeDHAADReply }

// ICMPType implements Message.
func (MobilePrefixSolicitation) ICMPType() ICMPType { return TypeMobilePrefixSolicitation }

// ICMPType implements Message.
func (MobilePrefixAdvertisement) ICMPType() ICMPType { return TypeMobilePrefixAdvertisement }

// ParseDHAADRequest parses an ICMPv6 Home Agent Address Discovery Request.
func ParseDHAADRequest(b []byte) (DHAADRequest, error) {
	if err := checkHeader(b, TypeDHAADRequest, mipFixedLen); err != nil {
		return DHAADRequest{}, fmt.Errorf("ndp: parse DHAAD request: %w", err)
	}
	return DHAADRequest{
		Identifier:   binary.BigEndian.Uint16(b[mipIdentifierOffset:]),
		MobileRouter: binary.BigEndian.Uint16(b[mipFlagsOffset:])&dhaadFlagR != 0,
	}, nil
}

// MarshalBinary encodes the request with a zero checksum.
func (m DHAADRequest) MarshalBinary() ([]byte, error) { return marshal(m) }

// AppendBinary appends the encoding of the request (zero checksum) to b.
func (m DHAADRequest) AppendBinary(b []byte) ([]byte, error) {
	b = appendHeader(b, TypeDHAADRequest)
	b = binary.BigEndian.AppendUint16(b, m.Identifier)
	return binary.BigEndian.AppendUint16(b, flag16(m.MobileRouter, dhaadFlagR)), nil
}

// ParseDHAADReply parses an ICMPv6 Home Agent Address Discovery Reply.
func ParseDHAADReply(b []byte) (DHAADReply, error) {
	if err := checkHeader(b, TypeDHAADReply, mipFixedLen); err != nil {
		return DHAADReply{}, fmt.Errorf("ndp: parse DHAAD reply: %w", err)
	}
	rest := b[dhaadAddrsOffset:]
	if len(rest)%ipv6Len != 0 {
		return DHAADReply{}, fmt.Errorf("ndp: parse DHAAD reply: %d address bytes, not a multiple of 16: %w", len(rest), ErrBadLength)
	}
	var addrs []netip.Addr
	for off := 0; off < len(rest); off += ipv6Len {
		addrs = append(addrs, netip.AddrFrom16([ipv6Len]byte(rest[off:off+ipv6Len])))
	}
	return DHAADReply{
		Identifier:   binary.BigEndian.Uint16(b[mipIdentifierOffset:]),
		MobileRouter: binary.BigEndian.Uint16(b[mipFlagsOffset:])&dhaadFlagR != 0,
		Addresses:    addrs,
	}, nil
}

// MarshalBinary encodes the reply with a zero checksum.
func (m DHAADReply) MarshalBinary() ([]byte, error) { return marshal(m) }

// AppendBinary appends the encoding of the reply (zero checksum) to b. It
// does not truncate the list: use HomeAgentsList.ReplyAddresses, which
// respects MaxDHAADReplyAddresses.
func (m DHAADReply) AppendBinary(b []byte) ([]byte, error) {
	for i, a := range m.Addresses {
		if !a.Is6() || a.Zone() != "" {
			return b, fmt.Errorf("ndp: marshal DHAAD reply: address %d (%v) is not a zoneless IPv6 address: %w", i, a, ErrBadValue)
		}
	}
	b = appendHeader(b, TypeDHAADReply)
	b = binary.BigEndian.AppendUint16(b, m.Identifier)
	b = binary.BigEndian.AppendUint16(b, flag16(m.MobileRouter, dhaadFlagR))
	for _, a := range m.Addresses {
		a16 := a.As16()
		b = append(b, a16[:]...)
	}
	return b, nil
}

// ParseMobilePrefixSolicitation parses an ICMPv6 Mobile Prefix Solicitation.
func ParseMobilePrefixSolicitation(b []byte) (MobilePrefixSolicitation, error) {
	if err := checkHeader(b, TypeMobilePrefixSolicitation, mipFixedLen); err != nil {
		return MobilePrefixSolicitation{}, fmt.Errorf("ndp: parse mobile prefix solicitation: %w", err)
	}
	opts, err := parseOptions(b[mipFixedLen:], mipFixedLen)
	if err != nil {
		return MobilePrefixSolicitation{}, fmt.Errorf("ndp: parse mobile prefix solicitation: %w", err)
	}
	return MobilePrefixSolicitation{
		Identifier: binary.BigEndian.Uint16(b[mipIdentifierOffset:]),
		Options:    opts,
	}, nil
}

// MarshalBinary encodes the solicitation with a zero checksum.
func (m MobilePrefixSolicitation) MarshalBinary() ([]byte, error) { return marshal(m) }

// AppendBinary appends the encoding of the solicitation (zero checksum) to
// b. On error b is returned with its original length.
func (m MobilePrefixSolicitation) AppendBinary(b []byte) ([]byte, error) {
	orig := len(b)
	b = appendHeader(b, TypeMobilePrefixSolicitation)
	b = binary.BigEndian.AppendUint16(b, m.Identifier)
	b = binary.BigEndian.AppendUint16(b, 0)
	b, err := appendOptions(b, m.Options)
	if err != nil {
		return b[:orig], fmt.Errorf("ndp: marshal mobile prefix solicitation: %w", err)
	}
	return b, nil
}

// ParseMobilePrefixAdvertisement parses an ICMPv6 Mobile Prefix
// Advertisement.
func ParseMobilePrefixAdvertisement(b []byte) (MobilePrefixAdvertisement, error) {
	if err := checkHeader(b, TypeMobilePrefixAdvertisement, mipFixedLen); err != nil {
		return MobilePrefixAdvertisement{}, fmt.Errorf("ndp: parse mobile prefix advertisement: %w", err)
	}
	opts, err := parseOptions(b[mipFixedLen:], mipFixedLen)
	if err != nil {
		return MobilePrefixAdvertisement{}, fmt.Errorf("ndp: parse mobile prefix advertisement: %w", err)
	}
	f := binary.BigEndian.Uint16(b[mipFlagsOffset:])
	return MobilePrefixAdvertisement{
		Identifier: binary.BigEndian.Uint16(b[mipIdentifierOffset:]),
		Managed:    f&mpaFlagM != 0,
		Other:      f&mpaFlagO != 0,
		Options:    opts,
	}, nil
}

// MarshalBinary encodes the advertisement with a zero checksum.
func (m MobilePrefixAdvertisement) MarshalBinary() ([]byte, error) { return marshal(m) }

// AppendBinary appends the encoding of the advertisement (zero checksum) to
// b. On error b is returned with its original length.
func (m MobilePrefixAdvertisement) AppendBinary(b []byte) ([]byte, error) {
	orig := len(b)
	b = appendHeader(b, TypeMobilePrefixAdvertisement)
	b = binary.BigEndian.AppendUint16(b, m.Identifier)
	b = binary.BigEndian.AppendUint16(b, flag16(m.Managed, mpaFlagM)|flag16(m.Other, mpaFlagO))
	b, err := appendOptions(b, m.Options)
	if err != nil {
		return b[:orig], fmt.Errorf("ndp: marshal mobile prefix advertisement: %w", err)
	}
	return b, nil
}

// Prefixes returns the Prefix Information options in wire order.
func (m MobilePrefixAdvertisement) Prefixes() []PrefixInformation { return prefixes(m.Options) }

func flag16(set bool, f uint16) uint16 {
	if set {
		return f
	}
	return 0
}
