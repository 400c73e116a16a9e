package mrouter

import "github.com/nemo-mobility/nemo/mh"

// Disposition is what the mobile router does after a Binding Acknowledgement
// rejects its registration.
type Disposition uint8

// Dispositions.
const (
	// RetrySame waits a backoff (32 s, doubling up to
	// Config.MaxRetryBackoff) and tries the same home agent again.
	RetrySame Disposition = iota
	// NextHomeAgent holds the rejecting home agent for that backoff and
	// tries the next one (the same one again when it is the only one).
	NextHomeAgent
	// FatalHomeAgent holds the rejecting home agent for Config.FatalHold
	// and tries the next one.
	FatalHomeAgent
	// StopAll stops all registration (the home address is unusable).
	StopAll
	// ResendNow resends at once (once; then RetrySame).
	ResendNow
	// Resync resynchronises the sequence number and resends at once.
	Resync
)

// String names the disposition.
func (d Disposition) String() string {
	switch d {
	case RetrySame:
		return "retry same home agent after backoff"
	case NextHomeAgent:
		return "try next home agent"
	case FatalHomeAgent:
		return "fatal for this home agent"
	case StopAll:
		return "stop registering"
	case ResendNow:
		return "resend now"
	case Resync:
		return "resync sequence number"
	}
	return "disposition?"
}

// Classify returns the disposition for a rejecting BA status (>= 128) of a
// registration sent in explicit (implicit == false) or implicit mode:
//
//   - 135: Resync (RFC 6275 11.7.3).
//   - 134: StopAll; RFC 6275 11.7.1: the MN MUST NOT reuse the home address.
//   - 140: NextHomeAgent in both modes (RFC 3963 5.4.1, 5.4.2).
//   - 141, 142: NextHomeAgent in explicit mode, FatalHomeAgent in implicit
//     mode, where RFC 3963 5.4.1 calls them fatal.
//   - 143: NextHomeAgent in implicit mode, FatalHomeAgent in explicit mode
//     (RFC 3963 5.4.2).
//   - 146 (MIPV6-AUTH-FAIL): FatalHomeAgent (RFC 4285: stop sending to it).
//   - 144 (MIPV6-ID-MISMATCH, or RFC 5555's "F refused"): ResendNow.
//   - 129, 130, 131, 132, 133: NextHomeAgent: they concern this home
//     agent's policy, resources or configuration.
//   - everything else (128, 136-139, 145, 174, MCoA codes, unassigned):
//     RetrySame.
func Classify(s mh.Status, implicit bool) Disposition {
	switch s {
	case mh.StatusSequenceOutOfWindow:
		return Resync
	case mh.StatusDADFailed:
		return StopAll
	case mh.StatusMobileRouterNotPermitted:
		return NextHomeAgent
	case mh.StatusInvalidPrefix, mh.StatusNotAuthorizedForPrefix:
		if implicit {
			return FatalHomeAgent
		}
		return NextHomeAgent
	case mh.StatusForwardingSetupFailed:
		if implicit {
			return NextHomeAgent
		}
		return FatalHomeAgent
	case mh.StatusAuthFail:
		return FatalHomeAgent
	case mh.StatusIDMismatch:
		return ResendNow
	case mh.StatusAdministrativelyProhibited, mh.StatusInsufficientResources,
		mh.StatusHomeRegistrationNotSupported, mh.StatusNotHomeSubnet,
		mh.StatusNotHomeAgentForThisMN:
		return NextHomeAgent
	}
	return RetrySame
}
