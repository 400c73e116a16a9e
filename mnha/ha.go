package mnha

import (
	"crypto/subtle"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/nemo-mobility/nemo/ha"
	"github.com/nemo-mobility/nemo/mh"
)

// DefaultWindow is the default "close enough" time difference for
// timestamps (RFC 4285 sections 5.1 and 6: 7 s, which SHOULD be more than
// 3 s).
const DefaultWindow = 7 * time.Second

// Config is the home agent's RFC 4285 policy.
type Config struct {
	// Window is how far a Binding Update's timestamp may be from the home
	// agent's clock, either way; 0 means DefaultWindow.
	Window time.Duration
	// RequireReplayProtection refuses Binding Updates without a Mobility
	// Message Replay Protection option with 145 MIPV6-MESG-ID-REQD
	// (RFC 4285 section 6). When false, such Binding Updates rely on the
	// sequence number.
	RequireReplayProtection bool
}

// Reason says how the home agent judged one Binding Update.
type Reason uint8

// Reasons, in the order of the checks.
const (
	ReasonAccepted        Reason = iota // authentic, fresh, authorised
	ReasonNoAuth                        // discard: no MN-HA option or malformed options
	ReasonNoIdentity                    // discard: no NAI
	ReasonUnknownIdentity               // discard: no SA for the NAI
	ReasonUnknownSPI                    // discard: SPI not the SA's
	ReasonBadMAC                        // 146
	ReasonMesgIDRequired                // 145
	ReasonTimestampWindow               // 144: outside the window
	ReasonTimestampReplay               // 144: not greater than the last accepted
	ReasonHomeAddress                   // 129: home address not the identity's
	numReasons
)

var reasonNames = [numReasons]string{
	"accepted", "no authentication option", "no identity", "unknown identity",
	"unknown SPI", "authenticator mismatch", "replay protection required",
	"timestamp outside window", "timestamp replayed", "home address not owned",
}

// String returns a short description.
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown reason"
}

// Decision is the outcome of Authenticator.Verify.
type Decision struct {
	Verdict ha.Verdict
	// Status is the Binding Acknowledgement status for ha.AuthReject.
	Status mh.Status
	Reason Reason
	// NAI is the identity when an SA was found (the Binding Acknowledgement
	// is then authenticated with it), otherwise "".
	NAI string
	// AckTimestamp is the timestamp to put in the Binding Acknowledgement
	// when HasTimestamp: the Binding Update's, or for 144 the home agent's
	// seconds with the Binding Update's low 32 bits.
	AckTimestamp uint64
	HasTimestamp bool
}

// Counters counts Binding Updates per Reason.
type Counters [numReasons]uint64

// Authenticator is the home agent's RFC 4285 check; it implements
// ha.Authenticator. It is safe for concurrent use.
type Authenticator struct {
	store   *Store
	window  int64 // NTP units
	require bool
	ctr     [numReasons]atomic.Uint64
}

var _ ha.Authenticator = (*Authenticator)(nil)

// NewAuthenticator returns an Authenticator checking against store.
func NewAuthenticator(store *Store, cfg Config) (*Authenticator, error) {
	if store == nil {
		return nil, errorf(ErrBadConfig, "nil store")
	}
	if cfg.Window < 0 {
		return nil, errorf(ErrBadConfig, "negative timestamp window %v", cfg.Window)
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	return &Authenticator{store: store, window: ntpDuration(cfg.Window), require: cfg.RequireReplayProtection}, nil
}

// Counters returns how many Binding Updates each Reason has judged.
func (a *Authenticator) Counters() Counters {
	var c Counters
	for i := range c {
		c[i] = a.ctr[i].Load()
	}
	return c
}

// Check implements ha.Authenticator: Verify, with the Mobile Node
// Identifier and the replay protection echo as AckOptions whenever an SA
// was found. It allocates only the AckOptions of a Binding Update with a
// timestamp (the option slice and the boxed timestamp).
func (a *Authenticator) Check(now time.Time, req *ha.BURequest) ha.AuthResult {
	d, e := a.verify(now, req)
	r := ha.AuthResult{Verdict: d.Verdict, Status: d.Status, Identity: d.NAI}
	if e == nil {
		return r
	}
	if d.HasTimestamp {
		r.AckOptions = []mh.Option{e.ackMNID[0], mh.ReplayProtection{Timestamp: d.AckTimestamp}}
	} else {
		r.AckOptions = e.ackMNID
	}
	return r
}

// Verify runs the RFC 4285 checks (see the package documentation) on
// req.Raw, which must be req.BU as received, and on success records the
// timestamp. It does not allocate.
func (a *Authenticator) Verify(now time.Time, req *ha.BURequest) Decision {
	d, _ := a.verify(now, req)
	return d
}

func (a *Authenticator) verify(now time.Time, req *ha.BURequest) (Decision, *entry) {
	d, e := a.decide(now, req)
	a.ctr[d.Reason].Add(1)
	return d, e
}

func (a *Authenticator) decide(now time.Time, req *ha.BURequest) (Decision, *entry) {
	discard := func(r Reason) (Decision, *entry) {
		return Decision{Verdict: ha.AuthDiscard, Reason: r}, nil
	}
	var o authOpts
	if !scan(req.Raw, mh.TypeBU, &o) {
		return discard(ReasonNoAuth)
	}
	if o.nai == nil {
		return discard(ReasonNoIdentity)
	}
	covered, ok := coveredLen(req.Raw)
	if !ok {
		return discard(ReasonNoAuth)
	}

	s := a.store
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byNAI[string(o.nai)]
	if e == nil {
		return discard(ReasonUnknownIdentity)
	}
	if o.spi != e.sa.SPI {
		return discard(ReasonUnknownSPI)
	}
	d := Decision{Verdict: ha.AuthReject, NAI: e.sa.NAI, AckTimestamp: o.ts, HasTimestamp: o.hasTS}
	coa := CareOf(req.Src, req.UDP.IsValid(), req.BU.Options)
	mac := e.mac.compute(coa, req.HomeAddr, req.Raw[:covered])
	if subtle.ConstantTimeCompare(mac[:], o.mac) != 1 {
		d.Status, d.Reason = mh.StatusAuthFail, ReasonBadMAC
		return d, e
	}
	if !o.hasTS {
		if a.require {
			d.Status, d.Reason = mh.StatusMesgIDRequired, ReasonMesgIDRequired
			return d, e
		}
	} else {
		ours := NTPTime(now)
		diff := int64(o.ts - ours)
		switch {
		case diff > a.window || diff < -a.window:
			d.Reason = ReasonTimestampWindow
		case e.haveLast && int64(o.ts-e.last) <= 0:
			d.Reason = ReasonTimestampReplay
		}
		if d.Reason != ReasonAccepted {
			d.Status = mh.StatusIDMismatch
			d.AckTimestamp = ours&^ntpFracMask | o.ts&ntpFracMask
			return d, e
		}
	}
	if req.HomeAddr != e.sa.HomeAddress {
		d.Status, d.Reason = mh.StatusAdministrativelyProhibited, ReasonHomeAddress
		return d, e
	}
	if o.hasTS {
		e.last, e.haveLast = o.ts, true
	}
	d.Verdict = ha.AuthAccept
	return d, e
}

// SignBA returns s with its Binding Acknowledgement authenticated
// (RFC 4285 section 5.1.1): the MN-HA Authentication option appended
// (and the Mobile Node Identifier before it when the BA lacks one), the
// authenticator computed over the marshalled BA with s.CareOf and
// s.HomeAddress. s is returned unchanged when s.Identity is empty (the
// Binding Update was not authenticated). Pass the result's BA to
// mh.BuildPacket, which reproduces the signed bytes and then computes the
// checksum.
func (a *Authenticator) SignBA(s ha.SendBA) (ha.SendBA, error) {
	if s.Identity == "" {
		return s, nil
	}
	st := a.store
	st.mu.Lock()
	defer st.mu.Unlock()
	e := st.byNAI[s.Identity]
	if e == nil {
		return s, errorf(ErrUnknownIdentity, "NAI %q", s.Identity)
	}
	ba := s.BA
	opts, err := withAuth(ba.Options, e, 0, false)
	if err != nil {
		return s, err
	}
	ba.Options = opts
	if err := sign(&ba, e.mac, s.CareOf, s.HomeAddress); err != nil {
		return s, err
	}
	s.BA = ba
	return s, nil
}

// withAuth returns a copy of opts with the MN-ID option added when
// missing, a replay protection option carrying ts when addTS, and a
// zeroed MN-HA Authentication option last.
func withAuth(opts []mh.Option, e *entry, ts uint64, addTS bool) ([]mh.Option, error) {
	hasID := false
	for _, o := range opts {
		switch v := o.(type) {
		case mh.Authentication:
			return nil, errorf(ErrAlreadySigned, "authentication option subtype %d present", v.Subtype)
		case mh.ReplayProtection:
			if addTS {
				return nil, errorf(ErrAlreadySigned, "replay protection option present")
			}
		case mh.MobileNodeIdentifier:
			if v.Subtype == mh.MNIDSubtypeNAI {
				if string(v.Identifier) != e.sa.NAI {
					return nil, errorf(ErrMalformed, "MN-ID %q is not the SA's %q", v.Identifier, e.sa.NAI)
				}
				hasID = true
			}
		}
	}
	out := make([]mh.Option, 0, len(opts)+3)
	out = append(out, opts...)
	if !hasID {
		out = append(out, e.ackMNID[0])
	}
	if addTS {
		out = append(out, mh.ReplayProtection{Timestamp: ts})
	}
	out = append(out, mh.Authentication{Subtype: mh.AuthSubtypeMNHA, SPI: e.sa.SPI, Data: make([]byte, mh.MNHAAuthLen)})
	return out, nil
}

// sign marshals m (whose last option is the zeroed MN-HA option that
// withAuth added), computes the authenticator and writes it into that
// option's Data.
func sign[M mh.Message](m *M, mac *macState, coa, hoa netip.Addr) error {
	b, err := mh.Marshal(*m)
	if err != nil {
		return err
	}
	covered, ok := coveredLen(b)
	if !ok {
		return errorf(ErrMalformed, "no MN-HA option in the marshalled message")
	}
	sum := mac.compute(coa, hoa, b[:covered])
	opts := (*m).MobilityOptions()
	auth := opts[len(opts)-1].(mh.Authentication)
	copy(auth.Data, sum[:])
	return nil
}
