package ndp

import "errors"

// Sentinel errors. Every error this package returns wraps exactly one of
// them, with context (message, option, offset) in the text.
var (
	// ErrTruncated: the input ends before a field or option does.
	ErrTruncated = errors.New("ndp: truncated")
	// ErrBadType: the ICMPv6 Type is not the one the parser handles.
	ErrBadType = errors.New("ndp: unexpected ICMPv6 type")
	// ErrBadCode: the ICMPv6 Code is not 0.
	ErrBadCode = errors.New("ndp: non-zero ICMPv6 code")
	// ErrBadLength: a message's length does not fit its format (for
	// example a DHAAD Reply whose address list is not a multiple of 16).
	ErrBadLength = errors.New("ndp: bad message length")
	// ErrBadOptionLength: an option's Length is 0, or is not the fixed
	// length its type requires.
	ErrBadOptionLength = errors.New("ndp: bad option length")
	// ErrBadValue: a field holds a value that cannot be represented (on
	// parse) or cannot be encoded (on marshal).
	ErrBadValue = errors.New("ndp: bad field value")
	// ErrBadChecksum: the ICMPv6 checksum does not verify.
	ErrBadChecksum = errors.New("ndp: bad ICMPv6 checksum")
)
