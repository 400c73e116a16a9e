package mrouter

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/nemo-mobility/nemo/mh"
)

// purpose is what an attempt (an outstanding BU and its retransmissions) is
// for.
type purpose uint8

const (
	purposeRegister  purpose = iota // registration or refresh at the current home agent
	purposeHomeDereg                // deregistration from the home link
	purposeCleanup                  // deregistration at a home agent the router leaves
	purposeProbe                    // periodic liveness check of the preferred home agent
)

// target is where a BU goes from: the home link, or a care-of address on an
// uplink.
type target struct {
	home   bool
	uplink string
	coa    netip.Addr // the home address when home
}

// sentBU records one transmission of an attempt.
type sentBU struct {
	seq      uint16
	at       time.Time
	lifetime time.Duration
	flags    mh.BUFlags
	udp      bool
	ipv4HoA  bool
	tgt      target
}

// maxSentKept bounds the transmissions of one attempt whose BA is accepted.
const maxSentKept = 8

// attempt is an outstanding BU to one home agent.
type attempt struct {
	purpose    purpose
	tgt        target // fixed for register and home dereg
	reason     string // reason of the first transmission
	reasonNext string // reason of the next transmission
	due        time.Time
	txPending  bool          // the next event at due is a transmission (not a timeout)
	wait       time.Duration // timer after the next transmission
	lastWait   time.Duration // timer after the latest transmission
	fixedWait  bool          // probe: no doubling
	// blocking marks the deregistration at the home agent the router
	// leaves to return to its preferred one: no registration goes to the
	// preferred one until it is answered or given up (see returnTo).
	blocking   bool
	count      int
	sent       []sentBU
	resyncs    int
	resyncFrom uint16 // the sequence number set by the latest resync
}

func (a *attempt) find(seq uint16) (sentBU, bool) {
	for _, s := range a.sent {
		if s.seq == seq {
			return s, true
		}
	}
	return sentBU{}, false
}

// entry is the binding update list entry of one home agent.
type entry struct {
	// acked is set once this home agent has accepted a Binding Update of
	// ours: it understands them, so a Binding Error 2 from it is forged.
	acked    bool
	ha       HomeAgent
	seq      uint16 // next sequence number
	lastSeq  uint16
	lastSent time.Time
	att      *attempt

	bound   bool // the home agent holds our binding (as far as we know)
	bindTgt target
	// unsure is set when a BU that would move or end the binding (another
	// care-of address, a deregistration) left after the latest accepted
	// one: the home agent may have acted on it even though its BA never
	// came, so bindTgt is no longer known to be what it holds. Coming back
	// to bindTgt then needs a BU too. Cleared by the next accepted BA.
	unsure bool
	// defendUntil is when a binding this home agent may hold for us ends:
	// until then it may defend our home address on the home link, and
	// another home agent's duplicate address detection for it fails.
	defendUntil   time.Time
	expires       time.Time
	refreshAt     time.Time
	refreshReason string
	nat           bool
	encap         Encap
	keepalive     time.Duration
	ipv4          netip.Prefix

	holdUntil  time.Time // excluded from selection until then
	waitUntil  time.Time // no new registration here until then
	backoff    time.Duration
	failReason string
	noForceUDP bool
	id144      int
}

// Core is the mobile router's registration state machine. It is not safe
// for concurrent use: the shell calls it from its one event loop.
type Core struct {
	cfg     Config
	uplinks map[string]Uplink
	has     []*entry
	cur     int
	pref    int // index of the preferred home agent, -1 for none

	atHome     bool
	homeUplink string
	stopped    string // non-empty: registration stopped for this reason

	// switchNotBefore delays the first BU to a home agent after a switch
	// (RFC 6275 11.4.1: InitialBindackTimeoutFirstReg after the last BU to
	// the previous one).
	switchNotBefore time.Time

	// suspect holds care-of addresses passed over until a time, or until
	// the uplink no longer has them: an IPv6 one that went unanswered three
	// times while an IPv4 one was available (RFC 5555 4.4.1), and any whose
	// path to the home agent failed while another uplink worked (PathHold).
	suspect map[target]time.Time

	tunnel    SetTunnel
	tunnelSet bool

	sends  [MaxUpdateRate]time.Time // the latest transmissions, oldest first
	nsends int

	counters   Counters
	note       string
	lastStatus string
	state      string
}

// New returns a core for cfg. It fails (wrapping ErrInvalidConfig) when cfg
// is unusable.
func New(cfg Config, now time.Time) (*Core, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	c := &Core{cfg: cfg, uplinks: map[string]Uplink{}, suspect: map[target]time.Time{}, pref: -1}
	for i, ha := range cfg.HomeAgents {
		c.has = append(c.has, &entry{ha: ha, seq: uint16(cfg.Rand())})
		if ha.Preferred && c.pref < 0 {
			c.pref = i
		}
	}
	if c.pref >= 0 {
		c.cur = c.pref
	}
	c.state = c.stateString(now)
	return c, nil
}

// UplinkUpdate records the state of an uplink (added or changed).
func (c *Core) UplinkUpdate(now time.Time, u Uplink) []Action {
	var acts []Action
	if u.Name != "" {
		u.CoA6 = c.cleanCoA6(u.CoA6)
		u.CoA4 = cleanCoA4(u.CoA4)
		c.uplinks[u.Name] = u
	}
	c.step(now, &acts)
	return acts
}

// UplinkGone forgets an uplink.
func (c *Core) UplinkGone(now time.Time, name string) []Action {
	var acts []Action
	delete(c.uplinks, name)
	c.step(now, &acts)
	return acts
}

// HandleBA processes a received Binding Acknowledgement.
func (c *Core) HandleBA(now time.Time, info BAInfo) []Action {
	var acts []Action
	c.handleBA(now, info, &acts)
	c.step(now, &acts)
	return acts
}

// HandleBE processes a Binding Error from from (RFC 6275 11.3.6): status 1
// from the current home agent means it lost our binding: register again at
// once; status 2 means it does not understand Binding Updates: it is held
// for Config.FatalHold and the next home agent is tried.
func (c *Core) HandleBE(now time.Time, from netip.Addr, be mh.BindingError) []Action {
	var acts []Action
	c.counters.BEReceived++
	if i := c.haByAddr(from); i >= 0 && c.stopped == "" &&
		(!be.HomeAddress.IsValid() || be.HomeAddress.IsUnspecified() || be.HomeAddress == c.cfg.HomeAddress) {
		e := c.has[i]
		switch be.Status {
		case mh.BEUnknownBindingForHoA:
			if i == c.cur && !c.atHome && e.bound && e.att == nil {
				e.bound = false
				c.note = fmt.Sprintf("home agent %v has no binding for us (Binding Error %v): registering again", from, be.Status)
			}
		case mh.BEUnrecognizedMHType:
			// RFC 6275 11.3.6: ignored unless an answer is awaited. And
			// Binding Errors carry no authentication: one never ends a
			// binding this home agent has acknowledged (it evidently
			// understands Binding Updates), or a spoofed one would be a
			// remote denial of service.
			if e.att == nil || e.att.count == 0 || e.bound || e.acked {
				c.counters.BEIgnored++
				break
			}
			e.att = nil
			e.holdUntil = now.Add(c.cfg.FatalHold)
			e.failReason = fmt.Sprintf("home agent %v does not recognise Binding Updates (Binding Error %v)", from, be.Status)
			c.note = e.failReason
		}
	}
	c.step(now, &acts)
	return acts
}

// HandleBRR processes a Binding Refresh Request from from: a refresh is sent
// at once when from is the current home agent and the router is registered.
func (c *Core) HandleBRR(now time.Time, from netip.Addr) []Action {
	var acts []Action
	c.counters.BRRReceived++
	c.refreshSoon(now, from, "binding refresh request")
	c.step(now, &acts)
	return acts
}

// ICMPError reports an ICMP or ICMPv6 error (unreachable) about from: when
// from is the current home agent and the router is registered and idle, a
// refresh is sent at once so that a dead home agent is noticed by the
// retransmission timer.
func (c *Core) ICMPError(now time.Time, from netip.Addr) []Action {
	var acts []Action
	c.counters.ICMPErrors++
	c.refreshSoon(now, from, "ICMP error from the home agent")
	c.step(now, &acts)
	return acts
}

// TunnelLost reports that the tunnel through the registered care-of address
// stopped bringing anything back from the home agent: the shell's probes
// (ICMPv6 echo requests to the home agent through the tunnel, sent while
// traffic leaves and none returns) went unanswered. The uplink may still be
// up with its address, as when an access network or a NAT drops traffic
// silently. When another uplink offers a care-of address, the router moves
// there (make before break: the old tunnel stays until the BA) and passes
// over this one for PathHold; otherwise it refreshes its binding at once,
// which re-creates a NAT mapping that was lost and, if the home agent is
// gone, starts the retransmissions that lead to a failover.
func (c *Core) TunnelLost(now time.Time) []Action {
	var acts []Action
	c.counters.TunnelLost++
	e := c.has[c.cur]
	if c.stopped == "" && !c.atHome && e.bound && !e.bindTgt.home {
		lost := e.bindTgt
		c.suspect[lost] = now.Add(c.cfg.PathHold)
		if t, ok := c.target(c.cur); ok && t != lost {
			c.counters.PathsAvoided++
			c.note = fmt.Sprintf("tunnel probes through %v (%s) unanswered; moving to %v (%s), %v tried again in %v",
				lost.coa, lost.uplink, t.coa, t.uplink, lost.coa, c.cfg.PathHold)
		} else {
			delete(c.suspect, lost)
			c.note = fmt.Sprintf("tunnel probes through %v (%s) unanswered; no other uplink, refreshing the binding", lost.coa, lost.uplink)
			c.refreshSoon(now, e.ha.Address, "tunnel probes unanswered")
		}
	}
	c.step(now, &acts)
	return acts
}

// avoid passes over the care-of address t for PathHold.
func (c *Core) avoid(t target, now time.Time) {
	c.suspect[t] = now.Add(c.cfg.PathHold)
	c.counters.PathsAvoided++
}

// isSuspect reports whether t is being passed over.
func (c *Core) isSuspect(t target) bool {
	_, ok := c.suspect[t]
	return ok
}

// Tick runs the timers that are due at now.
func (c *Core) Tick(now time.Time) []Action {
	var acts []Action
	c.step(now, &acts)
	return acts
}

// NextDeadline returns when Tick must next be called; false when no timer
// is running.
func (c *Core) NextDeadline() (time.Time, bool) {
	var d time.Time
	add := func(t time.Time) {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	for _, e := range c.has {
		if e.att != nil {
			add(e.att.due)
		}
		if e.bound {
			add(e.expires)
		}
		add(e.holdUntil)
		add(e.waitUntil)
	}
	if c.refreshWanted() {
		// Only while maintain would start it (a better source starts a
		// move instead, when reconcile may).
		if t, ok := c.target(c.cur); ok && t == c.has[c.cur].bindTgt {
			add(c.has[c.cur].refreshAt)
		}
	}
	for _, until := range c.suspect {
		add(until)
	}
	return d, !d.IsZero()
}

// Status reports the binding update list entry of the current home agent.
func (c *Core) Status(now time.Time) Status {
	e := c.has[c.cur]
	s := Status{
		State:         c.stateString(now),
		HomeAddress:   c.cfg.HomeAddress,
		HomeAgent:     e.ha.Address,
		HomeAgentIPv4: e.ha.IPv4,
		LastStatus:    c.lastStatus,
		Note:          c.note,
		Sequence:      e.lastSeq,
		Counters:      c.counters,
	}
	// The care-of address shown is the registered one while a binding
	// holds (the state then says "registered", also during a move whose
	// BA is still awaited), else the one being registered.
	switch {
	case c.atHome:
		s.CareOf = c.cfg.HomeAddress
		s.Uplink = c.homeUplink
	case e.bound && now.Before(e.expires):
		s.CareOf = e.bindTgt.coa
		s.Uplink = e.bindTgt.uplink
	case e.att != nil && e.att.tgt.uplink != "":
		s.CareOf = e.att.tgt.coa
		s.Uplink = e.att.tgt.uplink
	}
	if e.bound && !c.atHome && now.Before(e.expires) {
		s.LifetimeLeft = e.expires.Sub(now)
		s.NATDetected = e.nat
		s.Encap = e.encap
		s.IPv4HomeAddress = e.ipv4
	}
	return s
}

// cleanCoA6 returns a as an IPv6 care-of address, or invalid when it cannot
// be one.
func (c *Core) cleanCoA6(a netip.Addr) netip.Addr {
	if !a.Is6() || a.Is4In6() || !a.IsGlobalUnicast() || a == c.cfg.HomeAddress {
		return netip.Addr{}
	}
	return a
}

// cleanCoA4 returns a as an IPv4 care-of address, or invalid.
func cleanCoA4(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if !a.Is4() || a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() {
		return netip.Addr{}
	}
	return a
}

func (c *Core) haByAddr(a netip.Addr) int {
	if !a.IsValid() {
		return -1
	}
	for i, e := range c.has {
		if e.ha.Address == a || (e.ha.IPv4.IsValid() && e.ha.IPv4 == a.Unmap()) {
			return i
		}
	}
	return -1
}

func (c *Core) refreshSoon(now time.Time, from netip.Addr, reason string) {
	i := c.haByAddr(from)
	if i < 0 || i != c.cur {
		return
	}
	if c.refreshWanted() && c.has[i].refreshAt.After(now) {
		c.has[i].refreshAt = now
		c.has[i].refreshReason = reason
	}
}

// v6FallbackAfter is the number of unanswered BUs from an IPv6 care-of
// address after which an IPv4 one is tried (RFC 5555 4.4.1: three in total).
const v6FallbackAfter = 3

// candidate ranks one usable source for a BU.
type candidate struct {
	t    target
	prio int
	pref bool // preferred family
}

func (c *Core) better(a, b candidate) bool {
	if a.t.home != b.t.home {
		return a.t.home
	}
	if a.prio != b.prio {
		return a.prio > b.prio
	}
	if a.pref != b.pref {
		return a.pref
	}
	return a.t.uplink < b.t.uplink
}

// target returns the best source for a BU to home agent i. Suspect care-of
// addresses are passed over only while another source exists.
func (c *Core) target(i int) (target, bool) {
	if t, ok := c.targetAmong(i, false); ok {
		return t, true
	}
	return c.targetAmong(i, true)
}

func (c *Core) targetAmong(i int, withSuspects bool) (target, bool) {
	var best candidate
	found := false
	consider := func(k candidate) {
		if !found || c.better(k, best) {
			best, found = k, true
		}
	}
	for _, u := range c.uplinks {
		if !u.Up {
			continue
		}
		if u.AtHome {
			consider(candidate{t: target{home: true, uplink: u.Name, coa: c.cfg.HomeAddress}, prio: u.Priority})
			continue
		}
		if t := (target{uplink: u.Name, coa: u.CoA6}); u.CoA6.IsValid() && (withSuspects || !c.isSuspect(t)) {
			consider(candidate{t: t, prio: u.Priority, pref: !c.cfg.PreferIPv4})
		}
		if t := (target{uplink: u.Name, coa: u.CoA4}); u.CoA4.IsValid() && c.has[i].ha.IPv4.IsValid() && (withSuspects || !c.isSuspect(t)) {
			consider(candidate{t: t, prio: u.Priority, pref: c.cfg.PreferIPv4})
		}
	}
	return best.t, found
}

// usable reports whether a BU may still be sent from t.
func (c *Core) usable(t target) bool {
	u, ok := c.uplinks[t.uplink]
	if !ok || !u.Up {
		return false
	}
	if t.home {
		return u.AtHome
	}
	return !u.AtHome && (t.coa == u.CoA6 || t.coa == u.CoA4)
}

func (c *Core) held(i int, now time.Time) bool { return c.has[i].holdUntil.After(now) }

// step runs after every event: timers, selection, transmissions, state.
func (c *Core) step(now time.Time, acts *[]Action) {
	for t, until := range c.suspect {
		if u, ok := c.uplinks[t.uplink]; !ok || (u.CoA6 != t.coa && u.CoA4 != t.coa) || !until.After(now) {
			delete(c.suspect, t)
		}
	}
	for _, e := range c.has {
		if e.bound && !now.Before(e.expires) {
			e.bound = false
		}
		if !e.holdUntil.IsZero() && !e.holdUntil.After(now) {
			e.holdUntil = time.Time{}
		}
		if !e.waitUntil.IsZero() && !e.waitUntil.After(now) {
			e.waitUntil = time.Time{}
		}
	}
	for range 2 {
		// A second pass lets a home agent switched to by a timeout in
		// pump start its own timers (a due refresh, a probe) at once.
		c.reconcile(now, acts)
		c.maintain(now)
		c.pump(now, acts)
	}
	if s := c.stateString(now); s != c.state {
		*acts = append(*acts, StateChanged{From: c.state, To: s})
		c.state = s
	}
}

// switchTo makes home agent j the current one.
func (c *Core) switchTo(j int, reason string) {
	old := c.has[c.cur]
	if !old.lastSent.IsZero() {
		c.switchNotBefore = old.lastSent.Add(InitialBindackTimeoutFirstReg)
	}
	if old.att != nil && old.att.purpose == purposeRegister {
		old.att = nil
	}
	c.cur = j
	c.counters.Failovers++
	c.note = reason
}

// nextUsable returns the next home agent after i, in order and cyclically,
// that is not held, or -1.
func (c *Core) nextUsable(i int, now time.Time) int {
	for k := 1; k < len(c.has); k++ {
		j := (i + k) % len(c.has)
		if !c.held(j, now) {
			return j
		}
	}
	return -1
}

// reconcile compares the best source with what the current home agent holds
// or is being sent, and starts what is needed.
func (c *Core) reconcile(now time.Time, acts *[]Action) {
	if c.stopped != "" {
		return
	}
	tgt, ok := c.target(c.cur)
	if ok && tgt.home {
		e := c.has[c.cur]
		if c.atHome {
			if c.homeUplink != tgt.uplink {
				c.homeUplink = tgt.uplink
				*acts = append(*acts, AtHome{Uplink: tgt.uplink, Reason: "home link now on " + tgt.uplink})
			}
			return
		}
		if e.att != nil && e.att.purpose == purposeHomeDereg {
			e.att.tgt = tgt
			return
		}
		for _, o := range c.has {
			if o.att != nil && o.att.purpose == purposeProbe {
				o.att = nil
			}
		}
		c.start(c.cur, purposeHomeDereg, tgt, now, "returned home on "+tgt.uplink)
		return
	}
	if c.atHome {
		c.atHome = false
		*acts = append(*acts, LeftHome{Uplink: c.homeUplink, Reason: "left the home link"})
	}
	if c.held(c.cur, now) {
		if j := c.nextUsable(c.cur, now); j >= 0 {
			c.switchTo(j, fmt.Sprintf("%s; trying home agent %v", c.has[c.cur].failReason, c.has[j].ha.Address))
			tgt, ok = c.target(c.cur)
		} else {
			return
		}
	}
	e := c.has[c.cur]
	if !ok {
		// No usable uplink: nothing can be sent.
		if e.att != nil && (e.att.purpose == purposeRegister || e.att.purpose == purposeHomeDereg) {
			e.att = nil
		}
		return
	}
	if e.waitUntil.After(now) || c.returnPending() {
		return
	}
	if e.att != nil && e.att.purpose == purposeRegister && e.att.tgt == tgt {
		return
	}
	if e.att == nil && e.bound && e.bindTgt == tgt && !e.unsure {
		return
	}
	reason := "first registration from " + tgt.uplink
	if e.bound {
		reason = "move to " + tgt.uplink
		if e.bindTgt != tgt {
			c.counters.Moves++
		} else if e.unsure {
			reason = "back on " + tgt.uplink + " after a binding update from elsewhere"
		}
	}
	c.start(c.cur, purposeRegister, tgt, now, reason)
}

// refreshWanted reports whether the current binding waits for its refresh
// timer.
func (c *Core) refreshWanted() bool {
	e := c.has[c.cur]
	return c.stopped == "" && !c.atHome && e.bound && e.att == nil &&
		e.waitUntil.IsZero() && e.holdUntil.IsZero() && c.usable(e.bindTgt)
}

// maintain starts refreshes and probes of the preferred home agent.
func (c *Core) maintain(now time.Time) {
	if c.stopped != "" || c.atHome {
		return
	}
	e := c.has[c.cur]
	if c.refreshWanted() && !e.refreshAt.After(now) {
		if t, ok := c.target(c.cur); ok && t == e.bindTgt {
			c.start(c.cur, purposeRegister, t, now, e.refreshReason)
		}
	}
	if c.pref < 0 || c.pref == c.cur || !e.bound {
		return
	}
	p := c.has[c.pref]
	if p.att != nil || c.held(c.pref, now) || p.waitUntil.After(now) {
		return
	}
	if t, ok := c.target(c.pref); ok && !t.home {
		c.start(c.pref, purposeProbe, target{}, now, "probe of the preferred home agent")
	}
}

// start begins a new attempt at home agent i, replacing any other.
func (c *Core) start(i int, p purpose, t target, now time.Time, reason string) {
	e := c.has[i]
	a := &attempt{purpose: p, tgt: t, reason: reason, due: now, txPending: true, wait: InitialBindackTimeout}
	switch p {
	case purposeRegister:
		if !e.bound {
			a.wait = InitialBindackTimeoutFirstReg
		}
		if i == c.cur && c.switchNotBefore.After(now) {
			a.due = c.switchNotBefore
		}
	case purposeProbe:
		a.wait = c.cfg.ProbeInterval
		a.fixedWait = true
		a.due = now.Add(c.cfg.ProbeInterval)
	}
	a.reasonNext = reason
	e.att = a
}

// returnTo starts the return to the preferred home agent p, which answered
// a probe. The home agent the router leaves defends our home address on
// the home link for as long as it holds our binding, so p's duplicate
// address detection would fail (134, RFC 6275 10.3.1): it is deregistered
// first (RFC 6275 11.7.1: de-register before registering elsewhere), and
// only then does the registration at p start (reconcile waits for it).
func (c *Core) returnTo(p int, now time.Time) {
	old := c.cur
	oe := c.has[old]
	defends := oe.bound || oe.defendUntil.After(now)
	reason := fmt.Sprintf("preferred home agent %v answers again", c.has[p].ha.Address)
	if defends {
		reason += fmt.Sprintf("; deregistering at %v first, which defends our home address until then", oe.ha.Address)
	}
	c.switchTo(p, reason)
	c.switchNotBefore = time.Time{}
	if defends {
		c.start(old, purposeCleanup, target{}, now, "deregistration before returning to the preferred home agent")
		oe.att.blocking = true
	}
}

// returnPending reports whether a deregistration started by returnTo is
// still outstanding.
func (c *Core) returnPending() bool {
	for _, o := range c.has {
		if o.att != nil && o.att.purpose == purposeCleanup && o.att.blocking {
			return true
		}
	}
	return false
}

// defender returns another home agent than i that may hold our binding
// now (and so defend the home address on the home link), or -1.
func (c *Core) defender(i int, now time.Time) int {
	for j, o := range c.has {
		if j != i && (o.bound || o.defendUntil.After(now) || (o.att != nil && o.att.purpose == purposeCleanup)) {
			return j
		}
	}
	return -1
}

// allowedAt returns the earliest time the rate limit allows a BU.
func (c *Core) allowedAt() time.Time {
	if c.nsends < MaxUpdateRate {
		return time.Time{}
	}
	return c.sends[0].Add(time.Second)
}

func (c *Core) recordSend(now time.Time) {
	if c.nsends < MaxUpdateRate {
		c.sends[c.nsends] = now
		c.nsends++
		return
	}
	copy(c.sends[:], c.sends[1:])
	c.sends[MaxUpdateRate-1] = now
}

// pump runs the due attempts: timeouts first, then transmissions within the
// rate limit. The current home agent goes first.
func (c *Core) pump(now time.Time, acts *[]Action) {
	for progressed := true; progressed; {
		progressed = false
		for k := range c.has {
			i := (c.cur + k) % len(c.has)
			e := c.has[i]
			a := e.att
			if a == nil || a.due.After(now) {
				continue
			}
			if !a.txPending {
				if c.timeout(i, now, acts) {
					progressed = true
					continue
				}
				a.txPending = true
				a.reasonNext = fmt.Sprintf("retransmission %d (%s)", a.count, a.reason)
			}
			if at := c.allowedAt(); at.After(now) {
				if a.due.Before(at) {
					a.due = at
					c.counters.RateDeferred++
				}
				continue
			}
			c.transmit(i, now, acts)
			progressed = true
		}
	}
}

// timeout handles the expiry of the retransmission timer of home agent i's
// attempt; it reports true when the attempt was replaced or dropped.
func (c *Core) timeout(i int, now time.Time, acts *[]Action) bool {
	e := c.has[i]
	a := e.att
	switch a.purpose {
	case purposeRegister:
		if i == c.cur && !a.tgt.home && a.count == v6FallbackAfter && e.bound && e.bindTgt != a.tgt &&
			!e.bindTgt.home && c.usable(e.bindTgt) {
			// A move that three BUs did not complete while the old
			// binding's care-of address is still there: the new path does
			// not reach the home agent (or its answers do not come back).
			// Go back to the old one, with a BU, since the home agent may
			// have taken one of ours (unsure), and leave the new address
			// alone for PathHold.
			c.avoid(a.tgt, now)
			e.att = nil
			c.note = fmt.Sprintf("no answer to %d binding updates from %v (%s); back to %v (%s), %v tried again in %v",
				a.count, a.tgt.coa, a.tgt.uplink, e.bindTgt.coa, e.bindTgt.uplink, a.tgt.coa, c.cfg.PathHold)
			c.reconcile(now, acts)
			return true
		}
		if i == c.cur && !a.tgt.home && a.tgt.coa.Is6() && a.count == v6FallbackAfter {
			// RFC 5555 4.4.1: after three unanswered BUs from the IPv6
			// care-of address, try the IPv4 one.
			c.suspect[a.tgt] = now.Add(c.cfg.FatalHold)
			if t, ok := c.target(i); ok && !t.home && t.coa.Is4() {
				c.note = fmt.Sprintf("no answer to %d binding updates from %v; trying the IPv4 care-of address %v",
					a.count, a.tgt.coa, t.coa)
				c.reconcile(now, acts)
				return true
			}
			delete(c.suspect, a.tgt)
		}
		if i == c.cur && a.lastWait >= MaxBindackTimeout && a.count >= c.cfg.FailoverAfter {
			if j := c.nextUsable(i, now); j >= 0 {
				c.switchTo(j, fmt.Sprintf("home agent %v did not answer %d binding updates; trying %v",
					e.ha.Address, a.count, c.has[j].ha.Address))
				c.reconcile(now, acts)
				return true
			}
		}
	case purposeHomeDereg:
		if a.count >= c.cfg.DeregAttempts {
			e.att = nil
			e.bound = false
			c.enterHome(a.tgt.uplink, "no answer to the deregistration", acts)
			return true
		}
	case purposeCleanup:
		if a.count >= cleanupAttempts {
			// Given up: its binding, if any, runs out by itself
			// (defendUntil keeps the time).
			e.att = nil
			e.bound = false
			return true
		}
	}
	return false
}

func (c *Core) enterHome(uplink, reason string, acts *[]Action) {
	c.atHome = true
	c.homeUplink = uplink
	c.tunnelSet = false
	*acts = append(*acts, ClearTunnel{Reason: reason}, AtHome{Uplink: uplink, Reason: reason})
}

// transmit sends the attempt of home agent i now.
func (c *Core) transmit(i int, now time.Time, acts *[]Action) {
	e := c.has[i]
	a := e.att
	t := a.tgt
	if a.purpose == purposeCleanup || a.purpose == purposeProbe {
		var ok bool
		t, ok = c.target(i)
		if !ok || (a.purpose == purposeProbe && t.home) {
			e.att = nil
			return
		}
	}
	if !c.usable(t) {
		e.att = nil
		return
	}
	// A probe is a deregistration: it shows the home agent is alive
	// without registering there while another home agent still holds our
	// binding (its duplicate address detection would fail, 134).
	dereg := a.purpose == purposeHomeDereg || a.purpose == purposeCleanup || a.purpose == purposeProbe
	sb := c.buildBU(e, t, dereg)
	sb.BU.Sequence = e.seq
	sb.Reason = a.reasonNext
	e.lastSeq = e.seq
	e.seq++
	if (a.purpose == purposeRegister && t != e.bindTgt) || a.purpose == purposeHomeDereg {
		e.unsure = true
	}
	if a.purpose == purposeRegister {
		if until := now.Add(sb.BU.Lifetime); until.After(e.defendUntil) {
			e.defendUntil = until
		}
	}
	rec := sentBU{seq: sb.BU.Sequence, at: now, lifetime: sb.BU.Lifetime, flags: sb.BU.Flags, udp: sb.UDP, tgt: t}
	for _, o := range sb.BU.Options {
		if _, ok := o.(mh.IPv4HomeAddress); ok {
			rec.ipv4HoA = true
		}
	}
	if len(a.sent) == maxSentKept {
		copy(a.sent, a.sent[1:])
		a.sent = a.sent[:maxSentKept-1]
	}
	a.sent = append(a.sent, rec)
	a.count++
	if a.count > 1 {
		c.counters.Retransmissions++
	}
	a.txPending = false
	a.lastWait = a.wait
	a.due = now.Add(a.wait)
	if !a.fixedWait {
		a.wait = min(2*a.wait, MaxBindackTimeout)
	}
	e.lastSent = now
	c.recordSend(now)
	c.counters.BUSent++
	*acts = append(*acts, sb)
}

// buildBU builds the BU to e from t (without the sequence number).
func (c *Core) buildBU(e *entry, t target, dereg bool) SendBU {
	flags := mh.BUFlagA | mh.BUFlagH | mh.BUFlagR
	lifetime := c.cfg.Lifetime
	if dereg {
		lifetime = 0
	}
	sb := SendBU{Uplink: t.uplink, To: e.ha.Address}
	var opts []mh.Option
	switch {
	case t.home:
		sb.From = c.cfg.HomeAddress
		opts = append(opts, mh.AlternateCareOfAddress{Addr: c.cfg.HomeAddress})
	case t.coa.Is6():
		sb.From = t.coa
		sb.HomeAddressOption = true
		opts = append(opts, mh.AlternateCareOfAddress{Addr: t.coa})
	default:
		sb.From = t.coa
		sb.UDP = true
		sb.ToIPv4 = e.ha.IPv4
		opts = append(opts, mh.IPv4CareOfAddress{Addr: t.coa})
		if c.cfg.ForceUDP && !e.noForceUDP {
			flags |= mh.BUFlagF
		}
	}
	if !dereg {
		if !c.cfg.Implicit {
			for _, p := range c.cfg.Prefixes {
				opts = append(opts, mh.MobileNetworkPrefix{Prefix: p})
			}
		}
		if c.cfg.IPv4HomeAddress.IsValid() {
			// With configured IPv4 mobile network prefixes, the first
			// option asks for the address and each prefix has an option of
			// its own with P set (RFC 5555 3.1.1: "a second option");
			// without, P on the address option asks for a dynamic prefix.
			withPfx := c.cfg.RequestIPv4Prefix && len(c.cfg.IPv4Prefixes) > 0
			o := mh.IPv4HomeAddress{
				PrefixLen: uint8(c.cfg.IPv4HomePrefixLen),
				P:         c.cfg.RequestIPv4Prefix && !withPfx,
				Addr:      c.cfg.IPv4HomeAddress,
			}
			if e.ipv4.IsValid() {
				o.Addr, o.PrefixLen = e.ipv4.Addr(), uint8(e.ipv4.Bits())
			}
			opts = append(opts, o)
			if withPfx {
				for _, p := range c.cfg.IPv4Prefixes {
					opts = append(opts, mh.IPv4HomeAddress{PrefixLen: uint8(p.Bits()), P: true, Addr: p.Addr()})
				}
			}
		}
	}
	sb.BU = mh.BindingUpdate{Flags: flags, Lifetime: lifetime, Options: opts}
	return sb
}

// handleBA validates and dispatches a BA (RFC 6275 11.7.3).
func (c *Core) handleBA(now time.Time, info BAInfo, acts *[]Action) {
	i := c.haByAddr(info.From)
	if i < 0 || c.stopped != "" {
		c.counters.BAIgnored++
		return
	}
	e := c.has[i]
	a := e.att
	if a == nil || a.count == 0 {
		c.counters.BAIgnored++
		return
	}
	if c.cfg.Auth != nil {
		if err := c.cfg.Auth.VerifyBA(info); err != nil {
			c.counters.BAAuthFailed++
			return
		}
	}
	ba := info.BA
	if ba.Status == mh.StatusSequenceOutOfWindow {
		next := ba.Sequence + 1
		if a.resyncs > 0 && next-a.resyncFrom < e.seq-a.resyncFrom {
			// A late 135 for a BU sent before the last resync: going back
			// would reuse sequence numbers already sent.
			c.counters.BAIgnored++
			return
		}
		c.counters.Resyncs++
		c.lastStatus = ba.Status.String()
		e.seq = next
		a.resyncFrom = next
		a.resyncs++
		if a.resyncs <= maxImmediateResyncs {
			a.txPending = true
			a.due = now
			a.reasonNext = "resend after sequence number resync (" + a.reason + ")"
		}
		return
	}
	s, ok := a.find(ba.Sequence)
	if !ok {
		c.counters.BAIgnored++
		return
	}
	c.lastStatus = ba.Status.String()
	switch a.purpose {
	case purposeHomeDereg:
		if ba.Status.Accepted() || ba.Status == mh.StatusNotHomeAgentForThisMN {
			c.counters.BAAccepted++
			e.att = nil
			e.bound = false
			e.defendUntil = time.Time{}
			c.enterHome(a.tgt.uplink, "deregistered: "+ba.Status.String(), acts)
		} else {
			c.counters.BARejected++
			c.note = fmt.Sprintf("home agent %v rejected the deregistration: %v", e.ha.Address, ba.Status)
		}
		return
	case purposeCleanup:
		if ba.Status.Accepted() || ba.Status == mh.StatusNotHomeAgentForThisMN {
			c.counters.BAAccepted++
			e.defendUntil = time.Time{}
		} else {
			c.counters.BARejected++
		}
		e.att = nil
		e.bound = false
		return
	case purposeProbe:
		if !ba.Status.Accepted() && ba.Status != mh.StatusNotHomeAgentForThisMN {
			c.counters.BARejected++
			c.rejected(i, s, ba, now)
			return
		}
		// Any authentic answer to the deregistration shows the home
		// agent alive; it holds no binding of ours now.
		c.counters.BAAccepted++
		e.att = nil
		e.bound = false
		e.acked = true
		e.defendUntil = time.Time{}
		if i == c.pref && i != c.cur {
			c.returnTo(i, now)
		}
		return
	}
	if !ba.Status.Accepted() {
		c.counters.BARejected++
		c.rejected(i, s, ba, now)
		return
	}
	c.counters.BAAccepted++
	e.acked = true
	if ba.Flags&mh.BAFlagR == 0 {
		// RFC 3963 5.3: no mobile router support; deregister there first.
		e.bound = false
		e.holdUntil = now.Add(c.cfg.FatalHold)
		e.failReason = fmt.Sprintf("home agent %v accepted without R: it does not support mobile routers", e.ha.Address)
		c.note = e.failReason
		c.start(i, purposeCleanup, target{}, now, "deregistration at a home agent without NEMO support")
		return
	}
	granted := min(ba.Lifetime, s.lifetime)
	if granted < mh.LifetimeUnit {
		e.att = nil
		e.waitUntil = now.Add(c.nextBackoff(e))
		e.failReason = fmt.Sprintf("home agent %v granted lifetime %v", e.ha.Address, ba.Lifetime)
		c.note = e.failReason
		return
	}
	c.accept(i, s, ba, granted, now, acts)
}

// accept records an accepted registration at home agent i.
func (c *Core) accept(i int, s sentBU, ba mh.BindingAck, granted time.Duration, now time.Time, acts *[]Action) {
	e := c.has[i]
	e.att = nil
	e.bound = true
	e.bindTgt = s.tgt
	e.unsure = false
	e.defendUntil = s.at.Add(granted)
	e.expires = s.at.Add(granted)
	e.refreshAt = s.at.Add(granted * refreshPercent / 100)
	e.refreshReason = "refresh"
	e.backoff, e.id144, e.failReason = 0, 0, ""
	e.waitUntil, e.holdUntil = time.Time{}, time.Time{}
	e.nat, e.keepalive = false, 0
	var nd *mh.NATDetection
	var ack *mh.IPv4AddressAck
	for _, o := range ba.Options {
		switch o := o.(type) {
		case mh.BindingRefreshAdvice:
			if o.Interval > 0 {
				if t := s.at.Add(o.Interval); t.Before(e.refreshAt) {
					e.refreshAt = t
					e.refreshReason = "refresh (binding refresh advice)"
				}
			}
		case mh.NATDetection:
			nd = &o
		case mh.IPv4AddressAck:
			// The first acknowledges the address option (they come in
			// the order of the options); the rest acknowledge prefixes.
			if ack == nil {
				ack = &o
			} else if !o.Status.Success() {
				c.note = fmt.Sprintf("home agent %v refused IPv4 prefix %v/%d: %v", e.ha.Address, o.Addr, o.PrefixLen, o.Status)
			}
		}
	}
	switch {
	case !s.udp:
		e.encap = EncapIP6IP6
	default:
		e.encap = EncapIP6IP4
		if s.flags&mh.BUFlagF != 0 {
			e.encap = EncapUDP
		}
		if nd != nil {
			if nd.F {
				e.encap = EncapUDP
			}
			if nd.Refresh != mh.NATRefreshNotNeeded {
				e.nat = true
				e.encap = EncapUDP
				ka := NATKATimeout
				if nd.Refresh != 0 {
					ka = time.Duration(nd.Refresh) * time.Second
				}
				if c.cfg.NATKeepalive > 0 && c.cfg.NATKeepalive < ka {
					ka = c.cfg.NATKeepalive
				}
				e.keepalive = ka
				if t := now.Add(ka); t.Before(e.refreshAt) {
					e.refreshAt = t
					e.refreshReason = "NAT keepalive"
				}
			}
		}
	}
	if s.ipv4HoA {
		e.ipv4 = netip.Prefix{}
		switch {
		case ack == nil:
			c.note = fmt.Sprintf("home agent %v sent no IPv4 Address Acknowledgement: IPv6 binding only", e.ha.Address)
		case !ack.Status.Success():
			c.note = fmt.Sprintf("home agent %v refused the IPv4 home address: %v; IPv6 binding only", e.ha.Address, ack.Status)
		default:
			bits := int(ack.PrefixLen)
			if bits < 1 || bits > 32 {
				bits = 32
			}
			if a := ack.Addr.Unmap(); a.Is4() && !a.IsUnspecified() {
				e.ipv4 = netip.PrefixFrom(a, bits)
			} else {
				c.note = fmt.Sprintf("home agent %v acknowledged an unusable IPv4 home address %v", e.ha.Address, ack.Addr)
			}
		}
	}
	if floor := now.Add(minRefreshDelay); e.refreshAt.Before(floor) {
		e.refreshAt = floor
	}
	if i != c.cur {
		c.switchTo(i, fmt.Sprintf("preferred home agent %v answers again", e.ha.Address))
		c.switchNotBefore = time.Time{}
	}
	for j, o := range c.has {
		if j != i && o.bound && (o.att == nil || o.att.purpose != purposeCleanup) {
			c.start(j, purposeCleanup, target{}, now, "deregistration at the previous home agent")
		}
	}
	t := SetTunnel{
		Uplink:       s.tgt.uplink,
		Local:        s.tgt.coa,
		Remote:       e.ha.Address,
		Encap:        e.encap,
		HomeAddress:  c.cfg.HomeAddress,
		HomeAgent:    e.ha.Address,
		Prefixes:     c.cfg.Prefixes,
		IPv4Prefixes: c.cfg.IPv4Prefixes,

		IPv4HomeAddress: e.ipv4,
		NATKeepalive:    e.keepalive,
		Reason:          "registered " + s.tgt.coa.String() + " with " + e.ha.Address.String(),
	}
	if s.udp {
		t.Remote = e.ha.IPv4
		if e.encap == EncapUDP {
			t.UDPRemote = netip.AddrPortFrom(e.ha.IPv4, DSMIPv6Port)
		}
	}
	if !c.tunnelSet || !sameTunnel(c.tunnel, t) {
		c.tunnel, c.tunnelSet = t, true
		*acts = append(*acts, t)
	}
}

// nextBackoff returns the next rejection backoff of e.
func (c *Core) nextBackoff(e *entry) time.Duration {
	if e.backoff == 0 {
		e.backoff = MaxBindackTimeout
	} else {
		e.backoff = min(2*e.backoff, c.cfg.MaxRetryBackoff)
	}
	return e.backoff
}

// rejected handles a rejecting BA (>= 128, not 135) for a registration or
// probe at home agent i.
func (c *Core) rejected(i int, s sentBU, ba mh.BindingAck, now time.Time) {
	e := c.has[i]
	a := e.att
	d := Classify(ba.Status, c.cfg.Implicit)
	reason := fmt.Sprintf("home agent %v rejected the binding update: %v", e.ha.Address, ba.Status)
	if ba.Status == mh.StatusIDMismatch && s.flags&mh.BUFlagF != 0 && !hasReplayProtection(ba) {
		// RFC 5555 4.4.2: 144 without RFC 4285 options: F refused.
		e.noForceUDP = true
		reason += " (UDP encapsulation refused; retrying without F)"
		e.id144 = 0
	}
	if ba.Status == mh.StatusDADFailed {
		if j := c.defender(i, now); j >= 0 {
			// Not a duplicate: another home agent of ours may still hold
			// our binding and defend the home address (RFC 6275 10.3.1).
			// RFC 6275 11.7.1 forbids the home address only after a real
			// duplicate; here the other home agent is tried again.
			d = NextHomeAgent
			reason += fmt.Sprintf(" (home agent %v may still defend our home address)", c.has[j].ha.Address)
		}
	}
	if d == ResendNow {
		e.id144++
		if e.id144 <= 1 {
			a.txPending = true
			a.due = now
			a.reasonNext = "resend after " + ba.Status.String()
			c.note = reason
			return
		}
		d = RetrySame
	}
	e.att = nil
	switch d {
	case RetrySame:
		b := c.nextBackoff(e)
		e.waitUntil = now.Add(b)
		e.failReason = fmt.Sprintf("%s (retry in %v)", reason, b)
	case NextHomeAgent:
		b := c.nextBackoff(e)
		e.holdUntil = now.Add(b)
		e.failReason = fmt.Sprintf("%s (not used for %v)", reason, b)
	case FatalHomeAgent:
		e.holdUntil = now.Add(c.cfg.FatalHold)
		e.failReason = fmt.Sprintf("%s (fatal; not used for %v)", reason, c.cfg.FatalHold)
	case StopAll:
		e.failReason = reason + " (the home address must not be used again)"
		c.stopped = e.failReason
		for _, o := range c.has {
			o.att = nil
		}
	}
	c.note = e.failReason
}

func hasReplayProtection(ba mh.BindingAck) bool {
	for _, o := range ba.Options {
		if o.OptionType() == mh.OptReplayProtection {
			return true
		}
	}
	return false
}

// stateString derives Status.State.
func (c *Core) stateString(now time.Time) string {
	e := c.has[c.cur]
	switch {
	case c.stopped != "":
		return "failed: " + c.stopped
	case c.atHome:
		return "at home"
	case e.att != nil && e.att.purpose == purposeHomeDereg:
		return "deregistering"
	case e.bound && now.Before(e.expires):
		return "registered"
	case e.att != nil && e.att.purpose == purposeRegister:
		return "registering"
	case (c.held(c.cur, now) || e.waitUntil.After(now)) && e.failReason != "":
		return "failed: " + e.failReason
	}
	if _, ok := c.target(c.cur); !ok {
		return "no care-of address"
	}
	return "registering"
}
