package ndp

import (
	"fmt"
)

// ICMPType is an ICMPv6 message Type.
type ICMPType uint8

// ICMPv6 types this package parses (RFC 4861 4.2, RFC 6275 6.5-6.8).
const (
	TypeRouterAdvertisement       ICMPType = 134
	TypeDHAADRequest              ICMPType = 144
	TypeDHAADReply                ICMPType = 145
	TypeMobilePrefixSolicitation  ICMPType = 146
	TypeMobilePrefixAdvertisement ICMPType = 147
)

// ProtoICMPv6 is the IPv6 Next Header value of ICMPv6, used in the checksum
// pseudo-header.
const ProtoICMPv6 = 58

// Common ICMPv6 header (RFC 4443 2.1):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |     Code      |          Checksum             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	icmpTypeOffset     = 0
	icmpCodeOffset     = 1
	icmpChecksumOffset = 2
	icmpHeaderLen      = 4
)

// Message is one ICMPv6 message this package handles: RouterAdvertisement,
// DHAADRequest, DHAADReply, MobilePrefixSolicitation or
// MobilePrefixAdvertisement, always used as values.
type Message interface {
	// ICMPType reports the message's ICMPv6 Type.
	ICMPType() ICMPType
	// AppendBinary appends the message's encoding (checksum zero) to b.
	AppendBinary(b []byte) ([]byte, error)
}

// ParseMessage parses the ICMPv6 message b (starting at the Type byte) into
// the concrete Message for its type. Other types give ErrBadType. On error
// the Message is nil.
func ParseMessage(b []byte) (Message, error) {
	if len(b) < icmpHeaderLen {
		return nil, fmt.Errorf("ndp: parse message: %d bytes: %w", len(b), ErrTruncated)
	}
	var (
		m   Message
		err error
	)
	switch t := ICMPType(b[icmpTypeOffset]); t {
	case TypeRouterAdvertisement:
		m, err = ParseRouterAdvertisement(b)
	case TypeDHAADRequest:
		m, err = ParseDHAADRequest(b)
	case TypeDHAADReply:
		m, err = ParseDHAADReply(b)
	case TypeMobilePrefixSolicitation:
		m, err = ParseMobilePrefixSolicitation(b)
	case TypeMobilePrefixAdvertisement:
		m, err = ParseMobilePrefixAdvertisement(b)
	default:
		return nil, fmt.Errorf("ndp: parse message: type %d: %w", t, ErrBadType)
	}
	if err != nil {
		return nil, err // never a half-filled (or zero) value behind the interface
	}
	return m, nil
}

// checkHeader validates the ICMPv6 header of b for a message of type want
// whose fixed part is min bytes long.
func checkHeader(b []byte, want ICMPType, min int) error {
	if len(b) < min {
		return fmt.Errorf("%d bytes, want at least %d: %w", len(b), min, ErrTruncated)
	}
	if t := ICMPType(b[icmpTypeOffset]); t != want {
		return fmt.Errorf("type %d, want %d: %w", t, want, ErrBadType)
	}
	if c := b[icmpCodeOffset]; c != 0 {
		return fmt.Errorf("code %d: %w", c, ErrBadCode)
	}
	return nil
}

// appendHeader appends Type, Code 0 and a zero Checksum.
func appendHeader(b []byte, t ICMPType) []byte { return append(b, byte(t), 0, 0, 0) }

// marshal runs an AppendBinary into a fresh slice.
func marshal(m Message) ([]byte, error) { return m.AppendBinary(nil) }
