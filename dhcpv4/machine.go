package dhcpv4

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"
)

// State is a state of the RFC 2131 client (section 4.4, figure 5).
type State uint8

// Client states (RFC 2131 figure 5), plus Stopped after a release.
const (
	StateInit State = iota
	StateSelecting
	StateRequesting
	StateBound
	StateRenewing
	StateRebinding
	// StateInitReboot holds the previous lease while the link is down; the
	// next link up starts INIT-REBOOT with it (RFC 2131 3.2, 4.4.2).
	StateInitReboot
	StateRebooting
	// StateStopped: the lease was released; the machine ignores all input.
	StateStopped
)

var stateNames = [...]string{"INIT", "SELECTING", "REQUESTING", "BOUND", "RENEWING", "REBINDING", "INIT-REBOOT", "REBOOTING", "STOPPED"}

// String returns the RFC name of the state.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Retransmission constants (RFC 2131 section 4.1 and 4.4.5).
const (
	// InitialBackoff is the first retransmission delay (4.1: 4 seconds).
	InitialBackoff = 4 * time.Second
	// MaxBackoff caps the doubling delay (4.1: 64 seconds).
	MaxBackoff = 64 * time.Second
	// BackoffJitter is the uniform randomisation either side (4.1: ±1 s).
	BackoffJitter = time.Second
	// MinRenewRetransmit is the floor of the RENEWING/REBINDING
	// retransmission delay (4.4.5: 60 seconds).
	MinRenewRetransmit = 60 * time.Second
	// DefaultRequestRetries is how many times a REQUEST in REQUESTING is
	// retransmitted before the client gives up and returns to INIT (4.4.1
	// leaves the count to the implementation; 4 covers about a minute).
	DefaultRequestRetries = 4
	// DefaultRebootRetries is the same for REBOOTING: the client then
	// forgets the old lease and starts over from INIT (RFC 2131 3.2 step 5
	// would allow keeping it; a mobile router has likely moved instead).
	DefaultRebootRetries = 2
	// NakHoldoff is how long INIT waits after a NAK in REQUESTING before it
	// discovers again, so that a server that offers and then refuses cannot
	// make us loop at wire speed (the 10 s of RFC 2131 3.1 step 5).
	NakHoldoff = 10 * time.Second
)

// Rand is the randomness the machine needs: transaction IDs and backoff
// jitter. *math/rand/v2.Rand satisfies it.
type Rand interface {
	Uint32() uint32
	Int64N(n int64) int64
}

// globalRand uses math/rand/v2's top-level functions.
type globalRand struct{}

func (globalRand) Uint32() uint32       { return rand.Uint32() }
func (globalRand) Int64N(n int64) int64 { return rand.Int64N(n) }

// MachineConfig tunes the state machine. The zero value is the RFC default.
type MachineConfig struct {
	// Rand supplies transaction IDs and jitter; nil uses math/rand/v2.
	Rand Rand
	// T1Override, when positive and below a lease's T2, replaces the
	// server's T1 (tests use it to force an early renewal).
	T1Override time.Duration
	// RequestRetries overrides DefaultRequestRetries when positive.
	RequestRetries int
	// RebootRetries overrides DefaultRebootRetries when positive.
	RebootRetries int
}

// Input is something that happened: LinkUp, LinkDown, TimerFired,
// Received or Release.
type Input interface{ isInput() }

// LinkUp: the interface has carrier.
type LinkUp struct{}

// LinkDown: the interface lost carrier or went administratively down.
type LinkDown struct{}

// TimerFired: the deadline returned by NextTimer has passed.
type TimerFired struct{}

// Received: a server reply arrived (already parsed by ParseReply).
type Received struct{ Reply Reply }

// Release: give the lease back and stop (shutdown).
type Release struct{}

func (LinkUp) isInput()     {}
func (LinkDown) isInput()   {}
func (TimerFired) isInput() {}
func (Received) isInput()   {}
func (Release) isInput()    {}

// Action is something the shell must do: Send, ApplyLease, RemoveLease or
// Report.
type Action interface{ isAction() }

// SendKind tells which client message a Send carries.
type SendKind uint8

// Client messages (RFC 2131 4.3.2 and table 5).
const (
	SendDiscover SendKind = iota
	// SendRequestSelecting: after an OFFER; server identifier and
	// requested IP set, ciaddr zero, broadcast.
	SendRequestSelecting
	// SendRequestRenewing: at T1; ciaddr set, unicast to the server.
	SendRequestRenewing
	// SendRequestRebinding: at T2; ciaddr set, broadcast.
	SendRequestRebinding
	// SendRequestInitReboot: after a link bounce; requested IP set, no
	// server identifier, ciaddr zero, broadcast.
	SendRequestInitReboot
	// SendRelease: ciaddr and server identifier set, unicast to the server.
	SendRelease
)

var sendNames = [...]string{"DISCOVER", "REQUEST(selecting)", "REQUEST(renewing)", "REQUEST(rebinding)", "REQUEST(init-reboot)", "RELEASE"}

// String names the message.
func (k SendKind) String() string {
	if int(k) < len(sendNames) {
		return sendNames[k]
	}
	return fmt.Sprintf("SendKind(%d)", uint8(k))
}

// Send asks the shell to transmit a client message.
type Send struct {
	Kind SendKind
	// XID is the transaction ID.
	XID uint32
	// Elapsed is the 'secs' field: time since the acquisition or renewal
	// process began.
	Elapsed time.Duration
	// ClientIP is ciaddr (RENEWING, REBINDING, RELEASE); invalid otherwise.
	ClientIP netip.Addr
	// RequestedIP is option 50 (SELECTING, INIT-REBOOT); invalid otherwise.
	RequestedIP netip.Addr
	// ServerID is option 54 (SELECTING, RELEASE); invalid otherwise.
	ServerID netip.Addr
	// Dest is the unicast destination; invalid means broadcast.
	Dest netip.Addr
}

// ApplyLease asks the shell to install (or refresh) the lease's address,
// route and rule.
type ApplyLease struct{ Lease Lease }

// RemoveLease asks the shell to remove what ApplyLease installed.
type RemoveLease struct{ Lease Lease }

// Report asks the shell to tell its user about a lease event.
type Report struct{ Event Event }

func (Send) isAction()        {}
func (ApplyLease) isAction()  {}
func (RemoveLease) isAction() {}
func (Report) isAction()      {}

// EventKind says what happened to a lease.
type EventKind uint8

// Lease events reported to the user.
const (
	// Bound: a new lease (or a new address) is installed.
	Bound EventKind = iota + 1
	// Renewed: the lease was extended (RENEWING or REBINDING; the server
	// may have changed, the address has not).
	Renewed
	// Expired: the lease ran out and was removed.
	Expired
	// Released: the lease was given back on shutdown and removed.
	Released
	// Lost: the lease was removed early: NAK, or the link went down.
	Lost
)

var eventNames = [...]string{"", "bound", "renewed", "expired", "released", "lost"}

// String names the event kind.
func (k EventKind) String() string {
	if k > 0 && int(k) < len(eventNames) {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is a lease event.
type Event struct {
	Kind  EventKind
	Lease Lease
}

// Machine is the pure DHCPv4 client state machine: Handle takes the time
// and an input and returns the actions to perform; NextTimer says when to
// deliver TimerFired. It never reads a clock and is not safe for
// concurrent use.
type Machine struct {
	cfg     MachineConfig
	state   State
	linkUp  bool
	lease   Lease // current or previous lease; valid when hasLease
	hasLse  bool
	applied bool // lease is installed (BOUND, RENEWING, REBINDING)

	pending   bool // an exchange awaits a reply with xid
	xid       uint32
	last      Send // message to retransmit
	attempt   int
	acqStart  time.Time // start of the acquisition/renewal process
	lastSent  time.Time // last transmission; the lease counts from it
	retransAt time.Time
	server    netip.Addr // selected server in REQUESTING
	holdUntil time.Time  // INIT waits until then (after a NAK)
}

// NewMachine returns a machine in INIT with the link down.
func NewMachine(cfg MachineConfig) *Machine {
	if cfg.Rand == nil {
		cfg.Rand = globalRand{}
	}
	if cfg.RequestRetries <= 0 {
		cfg.RequestRetries = DefaultRequestRetries
	}
	if cfg.RebootRetries <= 0 {
		cfg.RebootRetries = DefaultRebootRetries
	}
	return &Machine{cfg: cfg}
}

// State returns the current state.
func (m *Machine) State() State { return m.state }

// Lease returns the current (or, in INIT-REBOOT/REBOOTING, previous) lease.
func (m *Machine) Lease() (Lease, bool) { return m.lease, m.hasLse }

// NextTimer returns when TimerFired must be delivered; ok is false when no
// timer is armed.
func (m *Machine) NextTimer() (t time.Time, ok bool) {
	switch m.state {
	case StateInit:
		if m.linkUp && !m.holdUntil.IsZero() {
			return m.holdUntil, true
		}
	case StateSelecting, StateRequesting:
		return m.retransAt, true
	case StateBound:
		if !m.lease.Infinite() {
			return m.lease.RenewAt(), true
		}
	case StateRenewing:
		return earliest(m.retransAt, m.lease.RebindAt()), true
	case StateRebinding:
		return earliest(m.retransAt, m.lease.Expiry()), true
	case StateInitReboot:
		if !m.lease.Infinite() {
			return m.lease.Expiry(), true
		}
	case StateRebooting:
		if m.lease.Infinite() {
			return m.retransAt, true
		}
		return earliest(m.retransAt, m.lease.Expiry()), true
	}
	return time.Time{}, false
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// Handle processes one input at time now and returns the actions, in the
// order the shell must perform them.
func (m *Machine) Handle(now time.Time, in Input) []Action {
	if m.state == StateStopped {
		return nil
	}
	switch in := in.(type) {
	case LinkUp:
		return m.linkUpIn(now)
	case LinkDown:
		return m.linkDownIn()
	case TimerFired:
		return m.timer(now)
	case Received:
		return m.received(now, in.Reply)
	case Release:
		return m.release(now)
	}
	return nil
}

func (m *Machine) linkUpIn(now time.Time) []Action {
	if m.linkUp {
		return nil
	}
	m.linkUp = true
	switch m.state {
	case StateInitReboot:
		if !m.lease.Infinite() && !now.Before(m.lease.Expiry()) {
			m.forget()
			return m.startDiscover(now)
		}
		return m.startReboot(now)
	case StateInit:
		if now.Before(m.holdUntil) {
			return nil
		}
		return m.startDiscover(now)
	}
	return nil
}

func (m *Machine) linkDownIn() []Action {
	if !m.linkUp {
		return nil
	}
	m.linkUp = false
	m.pending = false
	var acts []Action
	if m.applied {
		acts = append(acts, RemoveLease{m.lease}, Report{Event{Lost, m.lease}})
		m.applied = false
	}
	if m.hasLse {
		m.state = StateInitReboot
	} else {
		m.state = StateInit
	}
	return acts
}

func (m *Machine) timer(now time.Time) []Action {
	expired := m.hasLse && !m.lease.Infinite() && !now.Before(m.lease.Expiry())
	due := m.pending && !now.Before(m.retransAt)
	switch m.state {
	case StateInit:
		if m.linkUp && !m.holdUntil.IsZero() && !now.Before(m.holdUntil) {
			return m.startDiscover(now)
		}
	case StateSelecting:
		if due {
			return m.retransmit(now)
		}
	case StateRequesting:
		if due {
			if m.attempt >= m.cfg.RequestRetries {
				return m.startDiscover(now)
			}
			return m.retransmit(now)
		}
	case StateBound, StateRenewing, StateRebinding:
		if expired {
			acts := []Action{RemoveLease{m.lease}, Report{Event{Expired, m.lease}}}
			m.applied = false
			m.forget()
			return append(acts, m.startDiscover(now)...)
		}
		if m.state != StateRebinding && !m.lease.Infinite() && !now.Before(m.lease.RebindAt()) {
			return m.startRebind(now)
		}
		if m.state == StateBound && !m.lease.Infinite() && !now.Before(m.lease.RenewAt()) {
			return m.startRenew(now)
		}
		if due && m.state != StateBound {
			return m.retransmit(now)
		}
	case StateInitReboot:
		if expired {
			// Already removed (and reported Lost) when the link went down.
			m.forget()
			m.state = StateInit
		}
	case StateRebooting:
		if expired || (due && m.attempt >= m.cfg.RebootRetries) {
			m.forget()
			return m.startDiscover(now)
		}
		if due {
			return m.retransmit(now)
		}
	}
	return nil
}

// renewDelay is RFC 2131 4.4.5: half the time remaining until deadline,
// but at least MinRenewRetransmit.
func renewDelay(now, deadline time.Time) time.Duration {
	return max(deadline.Sub(now)/2, MinRenewRetransmit)
}

func (m *Machine) received(now time.Time, r Reply) []Action {
	if !m.pending || r.XID != m.xid {
		return nil
	}
	switch m.state {
	case StateSelecting:
		if r.Type != ReplyOffer {
			return nil
		}
		m.server = r.Server
		m.state = StateRequesting
		return m.begin(now, Send{
			Kind:        SendRequestSelecting,
			XID:         m.xid, // RFC 2131 4.4.1: the xid of the offer
			RequestedIP: r.Lease.Addr.Addr(),
			ServerID:    r.Server,
		}, false)
	case StateRequesting:
		if r.Server.IsValid() && r.Server != m.server {
			return nil // another server answering our choice
		}
		switch r.Type {
		case ReplyAck:
			return m.bind(r.Lease)
		case ReplyNak:
			m.pending = false
			m.state = StateInit
			m.holdUntil = now.Add(NakHoldoff)
			return nil
		}
	case StateRenewing, StateRebinding, StateRebooting:
		if m.state == StateRenewing && r.Server.IsValid() && r.Server != m.lease.Server {
			return nil // we unicast to our server; ignore strangers
		}
		switch r.Type {
		case ReplyAck:
			return m.bind(r.Lease)
		case ReplyNak:
			var acts []Action
			if m.applied {
				acts = append(acts, RemoveLease{m.lease}, Report{Event{Lost, m.lease}})
				m.applied = false
			}
			m.forget()
			return append(acts, m.startDiscover(now)...)
		}
	}
	return nil
}

// bind installs an acknowledged lease and enters BOUND.
func (m *Machine) bind(l Lease) []Action {
	l.Start = m.lastSent
	if o := m.cfg.T1Override; o > 0 && !l.Infinite() && o < l.T2 {
		l.T1 = o
	}
	kind := Bound
	var acts []Action
	if m.applied {
		if m.lease.Addr == l.Addr {
			kind = Renewed
		} else {
			acts = append(acts, RemoveLease{m.lease})
		}
	}
	acts = append(acts, ApplyLease{l}, Report{Event{kind, l}})
	m.lease, m.hasLse, m.applied = l, true, true
	m.pending = false
	m.holdUntil = time.Time{}
	m.state = StateBound
	return acts
}

func (m *Machine) release(now time.Time) []Action {
	var acts []Action
	if m.hasLse && m.linkUp {
		acts = append(acts, m.send(now, Send{
			Kind:     SendRelease,
			XID:      m.cfg.Rand.Uint32(),
			ClientIP: m.lease.Addr.Addr(),
			ServerID: m.lease.Server,
			Dest:     m.lease.Server,
		}))
	}
	if m.applied {
		acts = append(acts, RemoveLease{m.lease})
	}
	if m.hasLse {
		acts = append(acts, Report{Event{Released, m.lease}})
	}
	m.forget()
	m.applied = false
	m.pending = false
	m.state = StateStopped
	return acts
}

func (m *Machine) forget() {
	m.lease, m.hasLse = Lease{}, false
}

func (m *Machine) startDiscover(now time.Time) []Action {
	m.state = StateSelecting
	m.holdUntil = time.Time{}
	m.xid = m.cfg.Rand.Uint32()
	return m.begin(now, Send{Kind: SendDiscover, XID: m.xid}, true)
}

func (m *Machine) startReboot(now time.Time) []Action {
	m.state = StateRebooting
	m.xid = m.cfg.Rand.Uint32()
	return m.begin(now, Send{Kind: SendRequestInitReboot, XID: m.xid, RequestedIP: m.lease.Addr.Addr()}, true)
}

func (m *Machine) startRenew(now time.Time) []Action {
	m.state = StateRenewing
	m.xid = m.cfg.Rand.Uint32()
	acts := m.begin(now, Send{
		Kind:     SendRequestRenewing,
		XID:      m.xid,
		ClientIP: m.lease.Addr.Addr(),
		Dest:     m.lease.Server,
	}, true)
	m.retransAt = now.Add(renewDelay(now, m.lease.RebindAt()))
	return acts
}

func (m *Machine) startRebind(now time.Time) []Action {
	m.state = StateRebinding
	m.xid = m.cfg.Rand.Uint32()
	acts := m.begin(now, Send{Kind: SendRequestRebinding, XID: m.xid, ClientIP: m.lease.Addr.Addr()}, true)
	m.retransAt = now.Add(renewDelay(now, m.lease.Expiry()))
	return acts
}

// begin starts an exchange with its first transmission and arms the
// RFC 2131 4.1 retransmission timer (callers in RENEWING/REBINDING
// re-arm it with the 4.4.5 rule).
func (m *Machine) begin(now time.Time, s Send, newProcess bool) []Action {
	if newProcess {
		m.acqStart = now
	}
	m.pending = true
	m.attempt = 0
	m.last = s
	a := m.send(now, s)
	m.retransAt = now.Add(m.backoff())
	return []Action{a}
}

// retransmit resends the last message and arms the next retransmission.
func (m *Machine) retransmit(now time.Time) []Action {
	m.attempt++
	a := m.send(now, m.last)
	switch m.state {
	case StateRenewing:
		m.retransAt = now.Add(renewDelay(now, m.lease.RebindAt()))
	case StateRebinding:
		m.retransAt = now.Add(renewDelay(now, m.lease.Expiry()))
	default:
		m.retransAt = now.Add(m.backoff())
	}
	return []Action{a}
}

func (m *Machine) send(now time.Time, s Send) Action {
	s.Elapsed = now.Sub(m.acqStart)
	if s.Kind == SendRelease || s.Elapsed < 0 {
		s.Elapsed = 0
	}
	m.lastSent = now
	return s
}

// backoff is the RFC 2131 4.1 delay before retransmission number
// m.attempt+1: 4 s doubling to 64 s, randomised by ±1 s.
func (m *Machine) backoff() time.Duration {
	d := MaxBackoff
	if m.attempt < 4 {
		d = InitialBackoff << m.attempt
	}
	return d + time.Duration(m.cfg.Rand.Int64N(int64(2*BackoffJitter)+1)) - BackoffJitter
}
