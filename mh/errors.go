package mh

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error this package returns wraps one (or, for an
// option that runs past the end, two) of these, so callers test with
// errors.Is; the wrapping text says which field was wrong.
var (
	// ErrTruncated: the bytes end before the structure they must hold
	// (fewer than 8 MH bytes, a Header Len claiming more bytes than there
	// are, an option or extension header running past its end).
	ErrTruncated = errors.New("truncated")
	// ErrBadLength: a length field disagrees with the data (bytes after the
	// end the MH's Header Len gives, an IPv6 Payload Length or UDP length
	// that does not match).
	ErrBadLength = errors.New("bad length")
	// ErrBadPayloadProto: the MH Payload Proto is not 59 (RFC 6275 9.2).
	ErrBadPayloadProto = errors.New("payload proto is not 59 (IPPROTO_NONE)")
	// ErrHeaderLenTooSmall: Header Len is below the minimum for the MH
	// Type (RFC 6275 9.2).
	ErrHeaderLenTooSmall = errors.New("header len below the minimum for the MH type")
	// ErrUnknownType: an MH Type this codec does not know (RFC 6275 9.2:
	// answer with a Binding Error, status 2).
	ErrUnknownType = errors.New("unknown MH type")
	// ErrBadOption: a mobility option with a wrong length for its type, a
	// bad value, or one that runs past the end of the MH.
	ErrBadOption = errors.New("bad mobility option")
	// ErrOptionOrder: an option follows one that must be last (Binding
	// Authorization Data, RFC 6275 6.2.7; Authentication, RFC 4285 5).
	ErrOptionOrder = errors.New("option after one that must be last")
	// ErrBadChecksum: the MH checksum does not verify (silent discard,
	// RFC 6275 9.2).
	ErrBadChecksum = errors.New("bad checksum")
	// ErrBadAddress: an address of the wrong family, with a zone, or
	// missing where one is required.
	ErrBadAddress = errors.New("bad address")
	// ErrBadLifetime: a negative lifetime or interval.
	ErrBadLifetime = errors.New("bad lifetime")
	// ErrTooLong: the message does not fit (an MH longer than 2048 bytes,
	// an option longer than 255, an IPv6 payload longer than 65535).
	ErrTooLong = errors.New("too long")
	// ErrBadPacket: a malformed IPv6, IPv4 or UDP header (version, header
	// checksum, protocol, fragment).
	ErrBadPacket = errors.New("bad packet")
	// ErrBadExtHeader: a malformed IPv6 extension header, Home Address
	// option or destination option, or extension headers in an order this
	// codec does not accept.
	ErrBadExtHeader = errors.New("bad extension header")
	// ErrBadRoutingHeader: a type 2 routing header whose Hdr Ext Len is
	// not 2 or whose Segments Left is not 1 (RFC 6275 6.4), a second
	// routing header, or another routing type with Segments Left > 0.
	ErrBadRoutingHeader = errors.New("bad routing header")
	// ErrUnrecognizedOption: a destination option of unknown type whose
	// action bits say to discard the packet (RFC 8200 4.2).
	ErrUnrecognizedOption = errors.New("unrecognized destination option")
	// ErrNotMobility: the packet parsed but its upper-layer header is not
	// a Mobility Header. With a Home Address option and no binding for
	// it, a home agent answers with a Binding Error, status 1
	// (RFC 6275 9.3.1); ParseSignal returns the addresses with it.
	ErrNotMobility = errors.New("upper-layer header is not a mobility header")
	// ErrNoAuthOption: FindAuthOption found no Authentication option of
	// the subtype asked for.
	ErrNoAuthOption = errors.New("no authentication option")
	// ErrAuthFailed: the MN-HA authenticator does not verify (RFC 4285
	// 5.1.1: the home agent answers with status 146).
	ErrAuthFailed = errors.New("authenticator does not verify")
)

// ICMPv6 Parameter Problem codes a StatusError can ask for (RFC 4443 3.4).
const (
	ParamProblemErroneousField   = 0 // erroneous header field encountered
	ParamProblemUnrecognizedOpt  = 2 // unrecognized IPv6 option encountered
	paramProblemPointerPayload   = 0 // MH offset of Payload Proto
	paramProblemPointerHeaderLen = 1 // MH offset of Header Len
)

// StatusError is a parse failure that the receiver answers rather than just
// drops (RFC 6275 9.2): an unknown MH Type draws a Binding Error with
// BEStatus 2; a bad Payload Proto or a Header Len below the minimum draws an
// ICMPv6 Parameter Problem, code 0, pointing at that field; a destination
// option whose action bits demand it draws a Parameter Problem, code 2.
//
// Pointer counts from the first byte of what was passed to the function
// that returned the error: the MH for Parse, the first extension header (or
// the MH) for ParseSignal, and the IPv6 header for ParsePacket, which is the
// offset an ICMPv6 Parameter Problem carries. A caller of ParseSignal adds
// the 40 bytes of the IPv6 header.
type StatusError struct {
	// Err is the sentinel (ErrUnknownType, ErrBadPayloadProto,
	// ErrHeaderLenTooSmall, ErrUnrecognizedOption).
	Err error
	// Detail says what was found.
	Detail string
	// BEStatus, when non-zero, is the Binding Error status to answer with.
	BEStatus BEStatus
	// ParamProblem is true when an ICMPv6 Parameter Problem is due, with
	// Code and Pointer.
	ParamProblem bool
	// Code is the ICMPv6 Parameter Problem code.
	Code uint8
	// Pointer is the ICMPv6 Parameter Problem pointer (see above).
	Pointer uint32
}

// Error implements error.
func (e *StatusError) Error() string {
	s := "mh: " + e.Err.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	switch {
	case e.BEStatus != 0:
		s += fmt.Sprintf(" (answer: Binding Error status %d)", uint8(e.BEStatus))
	case e.ParamProblem:
		s += fmt.Sprintf(" (answer: ICMPv6 Parameter Problem code %d pointer %d)", e.Code, e.Pointer)
	}
	return s
}

// Unwrap returns the sentinel, so errors.Is works.
func (e *StatusError) Unwrap() error { return e.Err }

// shifted returns a copy of e with its pointer moved by off bytes.
func (e *StatusError) shifted(off int) *StatusError {
	c := *e
	if c.ParamProblem {
		c.Pointer += uint32(off)
	}
	return &c
}

// errorf wraps a sentinel with context: "mh: <context>: <sentinel>".
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("mh: "+format+": %w", append(args, sentinel)...)
}
