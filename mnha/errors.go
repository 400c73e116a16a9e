package mnha

import (
	"errors"
	"fmt"
)

// Sentinel errors, wrapped with context; test them with errors.Is.
var (
	// ErrBadSA: a security association that cannot be used (SPI in the
	// reserved range 0-255, short key, empty NAI, invalid home address).
	ErrBadSA = errors.New("bad security association")
	// ErrDuplicate: a second security association for an NAI or SPI.
	ErrDuplicate = errors.New("duplicate security association")
	// ErrUnknownIdentity: no security association for the identity.
	ErrUnknownIdentity = errors.New("unknown identity")
	// ErrUnknownSPI: the message's SPI is not the security association's.
	ErrUnknownSPI = errors.New("unknown mobility SPI")
	// ErrMalformed: the message's RFC 4285 options are missing, duplicated,
	// out of order or of the wrong size.
	ErrMalformed = errors.New("malformed authentication options")
	// ErrAlreadySigned: the message to sign already carries RFC 4285
	// options.
	ErrAlreadySigned = errors.New("message already carries authentication options")
	// ErrTimestampMismatch: a Binding Acknowledgement whose timestamp
	// matches no Binding Update sent (RFC 4285 section 6: silently
	// discarded).
	ErrTimestampMismatch = errors.New("timestamp matches no binding update sent")
	// ErrBadConfig: an invalid Config or SignerConfig.
	ErrBadConfig = errors.New("bad configuration")
)

func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("mnha: %w: %s", sentinel, fmt.Sprintf(format, args...))
}
