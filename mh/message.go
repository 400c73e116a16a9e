package mh

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
)

// Mobility Header common part (RFC 6275 6.1.1):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Payload Proto |  Header Len   |   MH Type     |   Reserved    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           Checksum            |                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               |
//	.                                                               .
//	.                       Message Data                            .
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Header Len counts 8-octet units after the first 8 octets.
const (
	OffPayloadProto = 0 // MH offset of Payload Proto
	OffHeaderLen    = 1 // MH offset of Header Len
	OffType         = 2 // MH offset of MH Type
	OffReserved     = 3 // MH offset of Reserved
	OffChecksum     = 4 // MH offset of Checksum
	offData         = 6 // first byte of message data
	// MinLen is the smallest possible MH (a BRR without options).
	MinLen = 8
	// MaxLen is the largest MH Header Len can describe: (255+1)*8.
	MaxLen = 2048
)

// Binding Refresh Request (RFC 6275 6.1.2), HoTI and CoTI (6.1.3, 6.1.4):
//
//	                                |          Reserved             |
//	|                      Home/Care-of Init Cookie (HoTI/CoTI)     |
//	|                                                               |
//	.                        Mobility Options                       .
const (
	offInitCookie = 8
)

// Home Test and Care-of Test (RFC 6275 6.1.5, 6.1.6):
//
//	                                |        Nonce Index            |
//	|                         Init Cookie (8)                       |
//	|                         Keygen Token (8)                      |
//	.                        Mobility Options                       .
const (
	offNonceIndex  = 6
	offTestCookie  = 8
	offKeygenToken = 16
)

// Binding Update (RFC 6275 6.1.7, RFC 3963 4.1, RFC 5555 3.1.3):
//
//	                                |          Sequence #           |
//	|A|H|L|K|M|R|P|F|T| Reserved    |           Lifetime            |
//	.                        Mobility options                       .
const (
	offBUSequence = 6
	offBUFlags    = 8
	offBULifetime = 10
)

// Binding Acknowledgement (RFC 6275 6.1.8, RFC 3963 4.2):
//
//	                                |    Status     |K|R|P|T|Reservd|
//	|           Sequence #          |           Lifetime            |
//	.                        Mobility options                       .
const (
	offBAStatus   = 6
	offBAFlags    = 7
	offBASequence = 8
	offBALifetime = 10
)

// Binding Error (RFC 6275 6.1.9):
//
//	                                |     Status    |   Reserved    |
//	|                          Home Address (16)                    |
//	.                        Mobility Options                       .
const (
	offBEStatus  = 6
	offBEHoA     = 8
	bodyEndBRR   = 8
	bodyEndTI    = 16 // HoTI, CoTI
	bodyEndTest  = 24 // HoT, CoT
	bodyEndBUBA  = 12 // BU, BA
	bodyEndBE    = 24
	maxKnownType = TypeBE
)

// minHeaderLen is the smallest Header Len per MH Type (RFC 6275 6.1.2–6.1.9).
var minHeaderLen = [...]uint8{
	TypeBRR: 0, TypeHoTI: 1, TypeCoTI: 1, TypeHoT: 2, TypeCoT: 2,
	TypeBU: 1, TypeBA: 1, TypeBE: 2,
}

// bodyEnd is the MH offset where the options start, per MH Type.
var bodyEnd = [...]int{
	TypeBRR: bodyEndBRR, TypeHoTI: bodyEndTI, TypeCoTI: bodyEndTI,
	TypeHoT: bodyEndTest, TypeCoT: bodyEndTest, TypeBU: bodyEndBUBA,
	TypeBA: bodyEndBUBA, TypeBE: bodyEndBE,
}

// Marshal returns m as a complete Mobility Header with the checksum left 0
// (see SetChecksum). Options are laid out with each one's alignment rule
// using Pad1/PadN (RFC 6275 6.2), Binding Authorization Data and
// Authentication options must be last and get their padding before them,
// and the whole MH is padded to a multiple of 8 bytes.
func Marshal(m Message) ([]byte, error) {
	n, err := messageLen(m)
	if err != nil {
		return nil, err
	}
	return appendMessage(make([]byte, 0, n), m)
}

// AppendMessage appends the Mobility Header of m to b, as Marshal does. On
// error it returns b unchanged.
func AppendMessage(b []byte, m Message) ([]byte, error) {
	n, err := messageLen(m)
	if err != nil {
		return b, err
	}
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), len(b)+n)
		copy(nb, b)
		b = nb
	}
	return appendMessage(b, m)
}

// messageLen validates m and returns its encoded length.
func messageLen(m Message) (int, error) {
	if m == nil {
		return 0, errorf(ErrUnknownType, "nil message")
	}
	t := m.MHType()
	if t > maxKnownType {
		return 0, errorf(ErrUnknownType, "message %T has MH type %d", m, t)
	}
	switch m := m.(type) {
	case BindingUpdate:
		if m.Lifetime < 0 {
			return 0, errorf(ErrBadLifetime, "binding update lifetime %v", m.Lifetime)
		}
	case BindingAck:
		if m.Lifetime < 0 {
			return 0, errorf(ErrBadLifetime, "binding acknowledgement lifetime %v", m.Lifetime)
		}
	case BindingError:
		if m.HomeAddress.IsValid() {
			if err := checkIPv6(m.HomeAddress, "binding error home address"); err != nil {
				return 0, err
			}
		}
	case BindingRefreshRequest, HomeTestInit, CareOfTestInit, HomeTest, CareOfTest:
	default:
		return 0, errorf(ErrUnknownType, "unsupported message type %T", m)
	}
	n, err := optionsLayout(m.MobilityOptions(), bodyEnd[t], nil)
	if err != nil {
		return 0, err
	}
	if n > MaxLen {
		return 0, errorf(ErrTooLong, "%v of %d bytes", t, n)
	}
	return n, nil
}

// appendMessage appends m, already validated by messageLen.
func appendMessage(b []byte, m Message) ([]byte, error) {
	start := len(b)
	t := m.MHType()
	b = append(b, PayloadProtoNone, 0, byte(t), 0, 0, 0)
	be := binary.BigEndian
	switch m := m.(type) {
	case BindingRefreshRequest:
		b = append(b, 0, 0)
	case HomeTestInit:
		b = append(b, 0, 0)
		b = append(b, m.Cookie[:]...)
	case CareOfTestInit:
		b = append(b, 0, 0)
		b = append(b, m.Cookie[:]...)
	case HomeTest:
		b = be.AppendUint16(b, m.NonceIndex)
		b = append(b, m.Cookie[:]...)
		b = append(b, m.KeygenToken[:]...)
	case CareOfTest:
		b = be.AppendUint16(b, m.NonceIndex)
		b = append(b, m.Cookie[:]...)
		b = append(b, m.KeygenToken[:]...)
	case BindingUpdate:
		b = be.AppendUint16(b, m.Sequence)
		b = be.AppendUint16(b, uint16(m.Flags))
		b = be.AppendUint16(b, LifetimeUnits(m.Lifetime))
	case BindingAck:
		b = append(b, byte(m.Status), byte(m.Flags))
		b = be.AppendUint16(b, m.Sequence)
		b = be.AppendUint16(b, LifetimeUnits(m.Lifetime))
	case BindingError:
		hoa := netip.IPv6Unspecified()
		if m.HomeAddress.IsValid() {
			hoa = m.HomeAddress
		}
		a := hoa.As16()
		b = append(b, byte(m.Status), 0)
		b = append(b, a[:]...)
	}
	if _, err := optionsLayout(m.MobilityOptions(), len(b)-start, &b); err != nil {
		return b[:start], err
	}
	b[start+OffHeaderLen] = byte((len(b)-start)/8 - 1)
	return b, nil
}

// header validates the MH common header of b and returns its type. The
// order follows RFC 6275 9.2 (the checksum, checked first there, is the
// caller's): length, unknown type, Payload Proto, Header Len.
func header(b []byte) (Type, error) {
	if len(b) < MinLen {
		return 0, errorf(ErrTruncated, "%d bytes, need at least %d", len(b), MinLen)
	}
	n := (int(b[OffHeaderLen]) + 1) * 8
	switch {
	case n > len(b):
		return 0, errorf(ErrTruncated, "header len %d means %d bytes, have %d", b[OffHeaderLen], n, len(b))
	case n < len(b):
		return 0, errorf(ErrBadLength, "header len %d means %d bytes, have %d", b[OffHeaderLen], n, len(b))
	}
	t := Type(b[OffType])
	if t > maxKnownType {
		return t, &StatusError{Err: ErrUnknownType, Detail: "type " + t.String(), BEStatus: BEUnrecognizedMHType}
	}
	if b[OffPayloadProto] != PayloadProtoNone {
		return t, &StatusError{
			Err: ErrBadPayloadProto, Detail: "payload proto " + strconv.Itoa(int(b[OffPayloadProto])),
			ParamProblem: true, Code: ParamProblemErroneousField, Pointer: paramProblemPointerPayload,
		}
	}
	if b[OffHeaderLen] < minHeaderLen[t] {
		return t, &StatusError{
			Err:          ErrHeaderLenTooSmall,
			Detail:       t.String() + " header len " + strconv.Itoa(int(b[OffHeaderLen])) + ", minimum " + strconv.Itoa(int(minHeaderLen[t])),
			ParamProblem: true, Code: ParamProblemErroneousField, Pointer: paramProblemPointerHeaderLen,
		}
	}
	return t, nil
}

// Parse decodes one Mobility Header. b starts at Payload Proto and must end
// where Header Len says the MH ends. The checksum is not checked here (see
// VerifyChecksum and ParseSignal). An unknown MH Type, a Payload Proto other
// than 59 and a Header Len below the type's minimum return a *StatusError
// saying what to answer. Pad1 and PadN are consumed; options of unknown type
// are returned as RawOption; a known option with a wrong length, or any
// option running past the end, is an error (ErrBadOption). The returned
// message is a value (BindingUpdate, not *BindingUpdate) and shares no
// memory with b.
func Parse(b []byte) (Message, error) {
	t, err := header(b)
	if err != nil {
		return nil, err
	}
	opts, err := parseOptions(b[bodyEnd[t]:], bodyEnd[t])
	if err != nil {
		return nil, err
	}
	be := binary.BigEndian
	switch t {
	case TypeBRR:
		return BindingRefreshRequest{Options: opts}, nil
	case TypeHoTI:
		return HomeTestInit{Cookie: [8]byte(b[offInitCookie:]), Options: opts}, nil
	case TypeCoTI:
		return CareOfTestInit{Cookie: [8]byte(b[offInitCookie:]), Options: opts}, nil
	case TypeHoT:
		return HomeTest{
			NonceIndex:  be.Uint16(b[offNonceIndex:]),
			Cookie:      [8]byte(b[offTestCookie:]),
			KeygenToken: [8]byte(b[offKeygenToken:]),
			Options:     opts,
		}, nil
	case TypeCoT:
		return CareOfTest{
			NonceIndex:  be.Uint16(b[offNonceIndex:]),
			Cookie:      [8]byte(b[offTestCookie:]),
			KeygenToken: [8]byte(b[offKeygenToken:]),
			Options:     opts,
		}, nil
	case TypeBU:
		return BindingUpdate{
			Sequence: be.Uint16(b[offBUSequence:]),
			Flags:    BUFlags(be.Uint16(b[offBUFlags:])),
			Lifetime: LifetimeFromUnits(be.Uint16(b[offBULifetime:])),
			Options:  opts,
		}, nil
	case TypeBA:
		return BindingAck{
			Status:   Status(b[offBAStatus]),
			Flags:    BAFlags(b[offBAFlags]),
			Sequence: be.Uint16(b[offBASequence:]),
			Lifetime: LifetimeFromUnits(be.Uint16(b[offBALifetime:])),
			Options:  opts,
		}, nil
	default: // TypeBE; header() rejected the rest
		return BindingError{
			Status:      BEStatus(b[offBEStatus]),
			HomeAddress: netip.AddrFrom16([16]byte(b[offBEHoA:])),
			Options:     opts,
		}, nil
	}
}

// parseOptions validates and decodes the options area opts, which starts at
// MH offset base. It returns nil when there are no options besides padding.
func parseOptions(opts []byte, base int) ([]Option, error) {
	count := 0
	mustBeLast := OptionType(0)
	for i := 0; i < len(opts); {
		t, data, next, err := nextOption(opts, i)
		if err != nil {
			return nil, errorAt(err, base+i)
		}
		if t != OptPad1 && t != OptPadN {
			if mustBeLast != 0 && (mustBeLast == OptBindingAuthData || t != OptAuthentication) {
				return nil, errorf(ErrOptionOrder, "%v at MH offset %d after %v", t, base+i, mustBeLast)
			}
			if t == OptBindingAuthData || t == OptAuthentication {
				mustBeLast = t
			}
			if err := checkOptionLen(t, data); err != nil {
				return nil, errorAt(err, base+i)
			}
			count++
		}
		i = next
	}
	if count == 0 {
		return nil, nil
	}
	out := make([]Option, 0, count)
	for i := 0; i < len(opts); {
		t, data, next, _ := nextOption(opts, i)
		if t != OptPad1 && t != OptPadN {
			out = append(out, decodeOption(t, data))
		}
		i = next
	}
	return out, nil
}

// errorAt adds the MH offset to an option error.
func errorAt(err error, off int) error {
	return fmt.Errorf("%w (at MH offset %d)", err, off)
}

// WalkOptions calls fn for every mobility option of the MH in mh except
// Pad1 and PadN, in wire order, with data aliasing mh. It checks the common
// header as Parse does but decodes nothing and allocates nothing; it stops
// at, and returns, the first error, its own or fn's (fn's unwrapped).
func WalkOptions(mh []byte, fn func(t OptionType, data []byte) error) error {
	t, err := header(mh)
	if err != nil {
		return err
	}
	opts := mh[bodyEnd[t]:]
	for i := 0; i < len(opts); {
		ot, data, next, err := nextOption(opts, i)
		if err != nil {
			return errorAt(err, bodyEnd[t]+i)
		}
		if ot != OptPad1 && ot != OptPadN {
			if err := fn(ot, data); err != nil {
				return err
			}
		}
		i = next
	}
	return nil
}
