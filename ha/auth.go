package ha

import (
	"time"

	"github.com/nemo-mobility/nemo/mh"
)

// Verdict is an Authenticator's decision on one Binding Update.
type Verdict uint8

// Verdicts.
const (
	// AuthAccept: authentic; processing continues with the sequence check.
	AuthAccept Verdict = iota
	// AuthDiscard: drop silently, no Binding Acknowledgement (RFC 4285
	// section 5: no authentication option while one is expected, no SA
	// for the identity, unknown SPI).
	AuthDiscard
	// AuthReject: refuse with AuthResult.Status (146 MIPV6-AUTH-FAIL,
	// 145 MIPV6-MESG-ID-REQD, 144 MIPV6-ID-MISMATCH) and change nothing.
	AuthReject
)

// AuthResult is what an Authenticator returns.
type AuthResult struct {
	Verdict Verdict
	// Status is the Binding Acknowledgement status for AuthReject; a
	// value below 128 is replaced by 128 (reason unspecified).
	Status mh.Status
	// Identity names the authenticated peer (RFC 4283 NAI); it is stored
	// in the binding and passed on in SendBA.Identity.
	Identity string
	// AckOptions are appended to every Binding Acknowledgement answering
	// this Binding Update: the Mobile Node Identifier and the Mobility
	// Message Replay Protection option (RFC 4285 section 6: the timestamp
	// echoed, or for 144 the home agent's seconds with the BU's low 32
	// bits). The Authentication option itself is added by the sender.
	AckOptions []mh.Option
}

// Authenticator checks a Binding Update's authentication (RFC 4285) and
// authorisation (the identity owns req.HomeAddr). The core calls it after
// the home address validity check and before the care-of address,
// sequence number and registration checks (PROTOCOL.md section 2.3 step
// 5, section 6), once per Binding Update. It must not keep req.
type Authenticator interface {
	Check(now time.Time, req *BURequest) AuthResult
}

// AuthFunc adapts a function to the Authenticator interface.
type AuthFunc func(now time.Time, req *BURequest) AuthResult

// Check calls f.
func (f AuthFunc) Check(now time.Time, req *BURequest) AuthResult { return f(now, req) }
