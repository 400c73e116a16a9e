package ha

import (
	"net/netip"
	"slices"
	"time"

	"github.com/nemo-mobility/nemo/mh"
)

// BURequest is one received Binding Update, already parsed and
// checksum-verified by the shell.
type BURequest struct {
	// Src and Dst are the IPv6 header addresses as on the wire (for a
	// UDP-encapsulated Binding Update, those of the inner IPv6 header).
	Src, Dst netip.Addr
	// HomeAddr is the address from the Home Address option, or Src when
	// the packet had none.
	HomeAddr netip.Addr
	// HadHAO reports whether the packet carried a Home Address option.
	HadHAO bool
	// BU is the parsed message.
	BU mh.BindingUpdate
	// Raw is the Mobility Header as received, for the Authenticator. The
	// core does not keep it.
	Raw []byte
	// UDP is valid when the Binding Update came UDP-encapsulated over
	// IPv4 (RFC 5555): the outer source address and port as observed.
	UDP netip.AddrPort
}

// Core is the home agent's protocol core: the binding cache and Binding
// Update processing. It does no I/O and keeps no goroutine; it is owned by
// one goroutine (the daemon's event loop), which calls every method.
type Core struct {
	cfg     Config
	routers map[netip.Addr]*RouterConfig
	pool    *pool
	cache   map[netip.Addr]*entry
	heap    deadlines
	ctr     Counters

	beTokens float64
	beLast   time.Time
}

// entry is one binding cache slot.
type entry struct {
	b       Binding
	hidx    int32    // index in Core.heap
	pending *pending // while StateDADPending
}

// pending is a first registration waiting for DAD.
type pending struct {
	req  BURequest
	auth AuthResult
	path path
}

// path is where a Binding Update came from and how to tunnel back.
type path struct {
	coa    netip.Addr
	udp    netip.AddrPort // normalised outer source, valid over UDP
	nat    bool
	forced bool
	encap  Encap
	ok     bool // the care-of address is usable
}

// buOpts is what the core needs from a Binding Update's options.
type buOpts struct {
	altCoA netip.Addr
	v4CoA  netip.Addr
	nonce  bool
	nMNP   int
	nV4HoA int
}

func scanOptions(opts []mh.Option) buOpts {
	var o buOpts
	for _, op := range opts {
		switch v := op.(type) {
		case mh.AlternateCareOfAddress:
			if !o.altCoA.IsValid() {
				o.altCoA = v.Addr
			}
		case mh.IPv4CareOfAddress:
			if !o.v4CoA.IsValid() {
				o.v4CoA = v.Addr
			}
		case mh.NonceIndices:
			o.nonce = true
		case mh.MobileNetworkPrefix:
			o.nMNP++
		case mh.IPv4HomeAddress:
			o.nV4HoA++
		}
	}
	return o
}

// New returns a core with an empty binding cache.
func New(cfg Config) (*Core, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Core{cache: make(map[netip.Addr]*entry)}
	c.setConfig(cfg)
	return c, nil
}

// setConfig installs a validated cfg, deep-copying the router table so
// that later changes to the caller's slices do not reach the core.
func (c *Core) setConfig(cfg Config) {
	cfg = cfg.withDefaults()
	rs := make([]RouterConfig, len(cfg.Routers))
	c.routers = make(map[netip.Addr]*RouterConfig, len(rs))
	reserved := []netip.Addr{cfg.IPv4Address}
	for i, r := range cfg.Routers {
		r.Prefixes = slices.Clone(r.Prefixes)
		r.IPv4Prefixes = slices.Clone(r.IPv4Prefixes)
		rs[i] = r
		c.routers[r.HomeAddress] = &rs[i]
		reserved = append(reserved, r.IPv4HomeAddress)
	}
	cfg.Routers = rs
	c.cfg = cfg
	c.pool = newPool(cfg.IPv4Pool, reserved)
	c.beTokens = float64(cfg.BERate)
	c.beLast = time.Time{}
}

// Counters returns a snapshot of the counters.
func (c *Core) Counters() Counters { return c.ctr }

// Len returns the number of binding cache entries in any state.
func (c *Core) Len() int { return len(c.cache) }

// NextDeadline returns when Tick has work next: the earliest expiry,
// deferred deletion or DAD deadline. The shell keeps one timer armed for
// it. ok is false when the cache is empty.
func (c *Core) NextDeadline() (t time.Time, ok bool) { return c.heap.min() }

// Lookup returns the entry for a home address.
func (c *Core) Lookup(hoa netip.Addr) (Binding, bool) {
	if e := c.cache[hoa]; e != nil {
		return e.b, true
	}
	return Binding{}, false
}

// Bindings returns every entry (all states), sorted by home address, for
// `ha bindings`.
func (c *Core) Bindings() []Binding { return c.collect(false) }

// Snapshot returns the valid bindings sorted by home address, for saving
// (issue 10). Restore takes them back.
func (c *Core) Snapshot() []Binding { return c.collect(true) }

func (c *Core) collect(validOnly bool) []Binding {
	out := make([]Binding, 0, len(c.cache))
	for _, e := range c.cache {
		if !validOnly || e.b.State == StateValid {
			out = append(out, e.b)
		}
	}
	slices.SortFunc(out, func(a, b Binding) int { return a.HomeAddress.Compare(b.HomeAddress) })
	return out
}

func (c *Core) discard(reason Counter, req *BURequest) []Action {
	c.ctr[reason]++
	return []Action{Discarded{Reason: reason, Peer: req.Src, HomeAddress: req.HomeAddr}}
}

// HandleBU processes one Binding Update (RFC 6275 sections 9.5.1, 10.3.1,
// 10.3.2; RFC 3963 section 6; RFC 5555 section 4.5) and returns what to
// do. The checks run in the order of PROTOCOL.md section 2.3; see the
// package documentation for the statuses and the choices made.
func (c *Core) HandleBU(now time.Time, req BURequest) []Action {
	c.ctr[CtrBUReceived]++
	hoa := req.HomeAddr
	// Step 4: a unicast routable home address, and a source we may answer.
	if !unicast6(hoa) {
		return c.discard(CtrDiscardHomeAddress, &req)
	}
	if !unicast6(req.Src) {
		return c.discard(CtrDiscardSource, &req)
	}
	if req.UDP.IsValid() {
		outer := netip.AddrPortFrom(req.UDP.Addr().Unmap(), req.UDP.Port())
		if !unicast4(outer.Addr()) || outer.Port() == 0 {
			return c.discard(CtrDiscardUDPSource, &req)
		}
		req.UDP = outer
	}
	opts := scanOptions(req.BU.Options)
	p := c.pathOf(&req, &opts)

	// Step 5: authentication (RFC 4285 order inside the Authenticator).
	var ar AuthResult
	if c.cfg.Auth != nil {
		ar = c.cfg.Auth.Check(now, &req)
		switch ar.Verdict {
		case AuthAccept:
		case AuthReject:
			st := ar.Status
			if st.Accepted() {
				st = mh.StatusReasonUnspecified
			}
			c.ctr[CtrRejectAuth]++
			return c.refuse(nil, &req, &ar, &p, st, req.BU.Sequence)
		default:
			return c.discard(CtrDiscardAuth, &req)
		}
	}

	// Step 6: the care-of address.
	if !p.ok {
		return c.discard(CtrDiscardCareOf, &req)
	}
	if p.coa != hoa {
		if o := c.cache[p.coa]; o != nil && o.b.State == StateValid {
			return c.discard(CtrDiscardCareOfIsHoA, &req)
		}
	}
	flags := req.BU.Flags
	home := flags&mh.BUFlagH != 0
	router := flags&mh.BUFlagR != 0
	// Step 7.
	if home && opts.nonce {
		return c.discard(CtrDiscardNonce, &req)
	}
	e := c.cache[hoa]
	if e != nil && e.b.State == StateDADPending {
		return c.discard(CtrDiscardDADPending, &req)
	}
	dereg := req.BU.Lifetime < mh.LifetimeUnit || p.coa == hoa
	// A registration over IPv6 MUST carry a Home Address option (RFC 6275
	// section 10.3.1); only a deregistration from home may omit it.
	if !dereg && !req.UDP.IsValid() && !req.HadHAO {
		return c.discard(CtrDiscardNoHAO, &req)
	}
	// H clear and no binding: a correspondent registration. This node
	// offers no route optimisation, so the return routability checks of
	// RFC 6275 section 9.5.1 cannot pass: silent discard. (R with H clear
	// is answered with 140 below, RFC 3963 section 6.2.)
	if !home && e == nil && (!router || dereg) {
		return c.discard(CtrDiscardNotHome, &req)
	}
	// Step 8: sequence number.
	if e != nil && !mh.SeqNewer(req.BU.Sequence, e.b.Sequence) {
		c.ctr[CtrRejectSequence]++
		return c.refuse(e, &req, &ar, &p, mh.StatusSequenceOutOfWindow, e.b.Sequence)
	}
	// Step 9: registration type change.
	if e != nil && (!home || (!dereg && e.b.State == StateValid && router != e.b.Router())) {
		c.ctr[CtrRejectTypeChange]++
		return c.refuse(e, &req, &ar, &p, mh.StatusRegistrationTypeChange, req.BU.Sequence)
	}
	if dereg {
		return c.deregister(now, e, &req, &ar, &p)
	}
	return c.register(now, e, &req, &ar, &p, false)
}

// pathOf determines the care-of address and encapsulation (RFC 6275
// section 9.5.1, RFC 5555 sections 4.2, 4.5); p.ok reports whether the
// care-of address is usable.
func (c *Core) pathOf(req *BURequest, o *buOpts) path {
	if req.UDP.IsValid() {
		p := path{coa: o.v4CoA, udp: req.UDP}
		p.nat = !o.v4CoA.IsValid() || o.v4CoA != req.UDP.Addr()
		p.forced = req.BU.Flags&mh.BUFlagF != 0 || c.cfg.ForceUDP
		p.encap = EncapIP6IP4
		if p.nat || p.forced {
			p.encap = EncapUDP
		}
		p.ok = unicast4(o.v4CoA)
		return p
	}
	// Over IPv6 an IPv4 Care-of Address option and the F flag have no
	// meaning (RFC 5555 section 4.4.1 sends them over IPv4 only); they are
	// ignored.
	p := path{coa: req.Src, encap: EncapIP6IP6}
	if o.altCoA.IsValid() {
		p.coa = o.altCoA
	}
	p.ok = unicast6(p.coa)
	return p
}

// register runs RFC 6275 section 10.3.1 and RFC 3963 section 6.2 for a
// valid registration. afterDAD is set when DAD for a first registration
// has just succeeded; e is then its pending entry.
func (c *Core) register(now time.Time, e *entry, req *BURequest, ar *AuthResult, p *path, afterDAD bool) []Action {
	hoa := req.HomeAddr
	flags := req.BU.Flags
	home := flags&mh.BUFlagH != 0
	router := flags&mh.BUFlagR != 0
	refuse := func(ctr Counter, st mh.Status) []Action {
		c.ctr[ctr]++
		return c.refuse(e, req, ar, p, st, req.BU.Sequence)
	}
	// Step 10: acting as home agent for this destination?
	if home && req.Dst != c.cfg.Address {
		return refuse(CtrRejectNotHA, mh.StatusHomeRegistrationNotSupported)
	}
	// Step 11: mobile router operation.
	if router && (!home || !c.cfg.NEMO) {
		return refuse(CtrRejectMRNotPermitted, mh.StatusMobileRouterNotPermitted)
	}
	// Step 12: home subnet (for a mobile router, the prefix this home
	// agent serves, RFC 3963 section 6.2: the same prefix here).
	if !c.cfg.HomePrefix.Contains(hoa) {
		return refuse(CtrRejectNotHomeSubnet, mh.StatusNotHomeSubnet)
	}
	// Step 13: local policy and resources.
	rc := c.routers[hoa]
	if hoa == c.cfg.Address || reservedAnycast(c.cfg.HomePrefix, hoa) ||
		(rc == nil && (router || !c.cfg.AllowUnlisted)) {
		return refuse(CtrRejectPolicy, mh.StatusAdministrativelyProhibited)
	}
	if e == nil && c.cfg.MaxBindings > 0 && len(c.cache) >= c.cfg.MaxBindings {
		return refuse(CtrRejectNoRoom, mh.StatusInsufficientResources)
	}
	// Step 15 (before DAD, so a refused prefix never costs a DAD run).
	var old *Binding
	if e != nil && e.b.State == StateValid {
		old = &e.b
	}
	prefixes, explicit, st, ctr := c.mobileNetwork(rc, req, router, old)
	if st != 0 {
		return refuse(ctr, st)
	}
	// Step 14: DAD before a first registration.
	if c.cfg.DAD && !afterDAD && (e == nil || e.b.State == StateDeleting) {
		return c.startDAD(now, e, req, ar, p)
	}
	return c.accept(now, e, req, ar, p, rc, prefixes, explicit)
}

// mobileNetwork returns the IPv6 mobile network prefixes of a
// registration (RFC 3963 section 6.2) or the status refusing it.
func (c *Core) mobileNetwork(rc *RouterConfig, req *BURequest, router bool, old *Binding) ([]netip.Prefix, bool, mh.Status, Counter) {
	if !router {
		return nil, false, 0, 0
	}
	var buf [MaxPrefixesPerBinding]netip.Prefix
	list := buf[:0]
	for _, op := range req.BU.Options {
		m, ok := op.(mh.MobileNetworkPrefix)
		if !ok {
			continue
		}
		if len(list) == MaxPrefixesPerBinding {
			return nil, true, mh.StatusInsufficientResources, CtrRejectNoRoom
		}
		if badMNP(m.Prefix, c.cfg.HomePrefix) != "" {
			return nil, true, mh.StatusInvalidPrefix, CtrRejectInvalidPrefix
		}
		list = append(list, m.Prefix)
	}
	if len(list) == 0 {
		// Implicit mode: the configured prefixes.
		if len(rc.Prefixes) == 0 {
			return nil, false, mh.StatusForwardingSetupFailed, CtrRejectNoPrefixes
		}
		return rc.Prefixes, false, 0, 0
	}
	// Explicit mode: every prefix must be in the Prefix Table.
	for _, p := range list {
		if !coveredBy(p, rc.Prefixes) {
			return nil, true, mh.StatusNotAuthorizedForPrefix, CtrRejectPrefixNotAuthed
		}
	}
	slices.SortFunc(list, comparePrefix)
	list = slices.Compact(list)
	// The list replaces the stored set; reuse the stored slice when
	// nothing changed, so a refresh does not allocate.
	if old != nil && old.Explicit && slices.Equal(old.Prefixes, list) {
		return old.Prefixes, true, 0, 0
	}
	return slices.Clone(list), true, 0, 0
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// coveredBy reports whether p lies inside one of allowed.
func coveredBy(p netip.Prefix, allowed []netip.Prefix) bool {
	for _, a := range allowed {
		if a.Bits() <= p.Bits() && a.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// startDAD parks a first registration until HandleDADResult.
func (c *Core) startDAD(now time.Time, e *entry, req *BURequest, ar *AuthResult, p *path) []Action {
	hoa := req.HomeAddr
	if e == nil {
		e = &entry{hidx: -1}
		c.cache[hoa] = e
	}
	e.b = Binding{
		HomeAddress: hoa, CareOf: p.coa, UDP: p.udp, NAT: p.nat, Encap: p.encap,
		State: StateDADPending, Sequence: req.BU.Sequence, Flags: req.BU.Flags,
		Expires: now.Add(c.cfg.DADTimeout), Identity: ar.Identity, LastStatus: e.b.LastStatus,
	}
	kept := *req
	kept.Raw = nil
	e.pending = &pending{req: kept, auth: *ar, path: *p}
	c.schedule(e)
	c.ctr[CtrDADStarted]++
	return []Action{StartDAD{HomeAddress: hoa, LinkLocal: e.b.LinkLocal()}}
}

// HandleDADResult answers the first registration that waited for DAD of
// hoa: ok means no other node uses the home address nor, when StartDAD
// named one, the derived link-local address (RFC 6275 section 10.3.1).
// The registration's checks run again (the configuration may have changed
// meanwhile); on success the binding is installed and the BA sent, on
// failure the BA carries 134. A result for an address with no pending
// registration is ignored.
func (c *Core) HandleDADResult(now time.Time, hoa netip.Addr, ok bool) []Action {
	e := c.cache[hoa]
	if e == nil || e.b.State != StateDADPending || e.pending == nil {
		return nil
	}
	pd := e.pending
	e.pending = nil
	var acts []Action
	if ok {
		acts = c.register(now, e, &pd.req, &pd.auth, &pd.path, true)
	} else {
		c.ctr[CtrRejectDAD]++
		acts = c.refuse(e, &pd.req, &pd.auth, &pd.path, mh.StatusDADFailed, pd.req.BU.Sequence)
	}
	if e.b.State == StateDADPending {
		// Refused: keep the sequence number for MaxDeleteBCETimeout.
		c.toDeleting(now, e)
	}
	return acts
}

func (c *Core) toDeleting(now time.Time, e *entry) {
	e.b.State = StateDeleting
	e.b.Expires = now.Add(MaxDeleteBCETimeout)
	e.b.Prefixes, e.b.IPv4Prefixes, e.b.IPv4HomeAddress = nil, nil, netip.Addr{}
	c.schedule(e)
}

func (c *Core) schedule(e *entry) {
	if e.hidx < 0 {
		c.heap.push(e)
	} else {
		c.heap.fix(e)
	}
}

func (c *Core) drop(e *entry) {
	if e.hidx >= 0 {
		c.heap.remove(e)
	}
	delete(c.cache, e.b.HomeAddress)
}

// accept creates or updates the binding and answers with status 0.
func (c *Core) accept(now time.Time, e *entry, req *BURequest, ar *AuthResult, p *path, rc *RouterConfig, prefixes []netip.Prefix, explicit bool) []Action {
	hoa := req.HomeAddr
	granted := min(req.BU.Lifetime, c.cfg.MaxLifetime).Truncate(mh.LifetimeUnit)
	var prev Binding
	isNew := e == nil || e.b.State != StateValid
	if !isNew {
		prev = e.b
	}
	if e == nil {
		e = &entry{hidx: -1}
		c.cache[hoa] = e
	}
	nb := Binding{
		HomeAddress: hoa, CareOf: p.coa, UDP: p.udp, NAT: p.nat, Encap: p.encap,
		State: StateValid, Explicit: explicit, LastStatus: mh.StatusAccepted,
		Sequence: req.BU.Sequence, Flags: req.BU.Flags, Lifetime: granted,
		Registered: now, Expires: now.Add(granted), Prefixes: prefixes,
		Identity: ar.Identity,
	}
	if !isNew {
		nb.Registered = prev.Registered
	}
	var old *Binding
	if !isNew {
		old = &prev
	}
	acks := c.ipv4(&nb, old, rc, req.BU.Options)
	e.b = nb
	c.schedule(e)

	switch {
	case isNew:
		c.ctr[CtrRegistered]++
	case prev.CareOf != nb.CareOf || prev.UDP != nb.UDP:
		c.ctr[CtrMoved]++
	default:
		c.ctr[CtrRefreshed]++
	}
	if p.nat {
		c.ctr[CtrNATDetected]++
	}

	acts := make([]Action, 0, 3)
	if isNew || !forwardingEqual(&prev, &nb) {
		acts = append(acts, InstallBinding{Binding: nb, Previous: prev})
	}
	var baFlags mh.BAFlags
	if nb.Router() {
		baFlags = mh.BAFlagR
	}
	acts = append(acts, c.sendBA(req, ar, p, mh.StatusAccepted, baFlags, req.BU.Sequence, granted, acks), BindingsChanged{HomeAddress: hoa})
	return acts
}

// deregister runs RFC 6275 section 10.3.2 and RFC 3963 section 6.7.
func (c *Core) deregister(now time.Time, e *entry, req *BURequest, ar *AuthResult, p *path) []Action {
	if e == nil {
		c.ctr[CtrRejectNotHAForMN]++
		return c.refuse(nil, req, ar, p, mh.StatusNotHomeAgentForThisMN, req.BU.Sequence)
	}
	var acts []Action
	if e.b.State == StateValid {
		acts = append(acts, RemoveBinding{Binding: e.b})
		c.pool.release(e.b.IPv4HomeAddress, e.b.HomeAddress)
	}
	e.b.Sequence = req.BU.Sequence
	e.b.Flags = req.BU.Flags
	e.b.LastStatus = mh.StatusAccepted
	e.b.Lifetime = 0
	c.toDeleting(now, e)
	c.ctr[CtrDeregistered]++
	var baFlags mh.BAFlags
	if req.BU.Flags&mh.BUFlagR != 0 && c.cfg.NEMO {
		baFlags = mh.BAFlagR
	}
	acts = append(acts, c.sendBA(req, ar, p, mh.StatusAccepted, baFlags, req.BU.Sequence, 0, c.failedAcks(req.BU.Options)))
	if len(acts) > 1 {
		acts = append(acts, BindingsChanged{HomeAddress: e.b.HomeAddress})
	}
	return acts
}

// refuse answers with a failure status and changes nothing but the
// entry's LastStatus (when the Binding Update was authentic).
func (c *Core) refuse(e *entry, req *BURequest, ar *AuthResult, p *path, st mh.Status, seq uint16) []Action {
	if e != nil {
		e.b.LastStatus = st
	}
	return []Action{c.sendBA(req, ar, p, st, 0, seq, 0, c.failedAcks(req.BU.Options))}
}

// sendBA builds the Binding Acknowledgement and where it goes
// (RFC 6275 section 9.5.4, RFC 5555 sections 4.2, 4.5).
func (c *Core) sendBA(req *BURequest, ar *AuthResult, p *path, st mh.Status, flags mh.BAFlags, seq uint16, lifetime time.Duration, acks []mh.Option) SendBA {
	n := len(acks) + len(ar.AckOptions)
	if req.UDP.IsValid() {
		n++
	}
	var opts []mh.Option
	if n > 0 {
		opts = make([]mh.Option, 0, n)
		opts = append(opts, acks...)
		if req.UDP.IsValid() {
			// NAT Detection MUST be present whenever the Binding Update came
			// in UDP (RFC 5555 section 4.2).
			refresh := uint32(mh.NATRefreshNotNeeded)
			if p.nat {
				refresh = uint32(c.cfg.NATKeepalive / time.Second)
			}
			opts = append(opts, mh.NATDetection{F: p.forced, Refresh: refresh})
		}
		opts = append(opts, ar.AckOptions...)
	}
	s := SendBA{
		To: req.Src, Via: req.UDP, HomeAddress: req.HomeAddr, CareOf: p.coa,
		Identity: ar.Identity,
		BA:       mh.BindingAck{Status: st, Flags: flags, Sequence: seq, Lifetime: lifetime, Options: opts},
	}
	if req.HadHAO && req.Src != req.HomeAddr {
		s.RoutingHome = req.HomeAddr
	}
	return s
}

// Tick handles every deadline up to now: expired bindings are removed,
// deregistered entries deleted MaxDeleteBCETimeout after, and first
// registrations whose DAD result never came dropped.
func (c *Core) Tick(now time.Time) []Action {
	var acts []Action
	for len(c.heap) > 0 && !c.heap[0].b.Expires.After(now) {
		e := c.heap[0]
		switch e.b.State {
		case StateValid:
			acts = append(acts, RemoveBinding{Binding: e.b}, BindingsChanged{HomeAddress: e.b.HomeAddress})
			c.pool.release(e.b.IPv4HomeAddress, e.b.HomeAddress)
			c.drop(e)
			c.ctr[CtrExpired]++
		case StateDADPending:
			e.pending = nil
			c.ctr[CtrDADTimeout]++
			c.toDeleting(now, e)
		default:
			c.drop(e)
		}
	}
	return acts
}

// HandleHAOWithoutMH handles a packet with a Home Address option (hoa)
// from src whose next header is not ESP, AH or MH: unless a valid binding
// for hoa has src as its care-of address, it answers with a Binding Error
// status 1 (RFC 6275 section 9.3.1), rate-limited.
func (c *Core) HandleHAOWithoutMH(now time.Time, src, hoa netip.Addr) []Action {
	if !unicast6(src) {
		return nil
	}
	if e := c.cache[hoa]; e != nil && e.b.State == StateValid && e.b.CareOf == src {
		return nil
	}
	if !hoa.IsValid() {
		hoa = netip.IPv6Unspecified()
	}
	return c.sendBE(now, src, mh.BEUnknownBindingForHoA, hoa)
}

// HandleUnknownMHType answers a Mobility Header of unknown type from src
// (hoa from its Home Address option, or the zero Addr) with a Binding
// Error status 2 (RFC 6275 section 9.2), rate-limited.
func (c *Core) HandleUnknownMHType(now time.Time, src, hoa netip.Addr) []Action {
	if !unicast6(src) {
		return nil
	}
	if !hoa.IsValid() {
		hoa = netip.IPv6Unspecified()
	}
	return c.sendBE(now, src, mh.BEUnrecognizedMHType, hoa)
}

func (c *Core) sendBE(now time.Time, to netip.Addr, st mh.BEStatus, hoa netip.Addr) []Action {
	rate := float64(c.cfg.BERate)
	if !c.beLast.IsZero() {
		if d := now.Sub(c.beLast); d > 0 {
			c.beTokens = min(rate, c.beTokens+d.Seconds()*rate)
		}
	}
	if c.beLast.IsZero() || now.After(c.beLast) {
		c.beLast = now
	}
	if c.beTokens < 1 {
		c.ctr[CtrBERateLimited]++
		return nil
	}
	c.beTokens--
	c.ctr[CtrBESent]++
	return []Action{SendBE{To: to, BE: mh.BindingError{Status: st, HomeAddress: hoa}}}
}

// reservedAnycast reports whether a is the Subnet-Router anycast address
// of home or one of its reserved subnet anycast addresses (RFC 2526).
func reservedAnycast(home netip.Prefix, a netip.Addr) bool {
	if a == home.Addr() {
		return true
	}
	b := a.As16()
	if home.Bits() == 64 {
		// EUI-64 format: interface identifier FDFF:FFFF:FFFF:FF80 and up.
		return b[8] == 0xfd && b[9] == 0xff && b[10] == 0xff && b[11] == 0xff &&
			b[12] == 0xff && b[13] == 0xff && b[14] == 0xff && b[15] >= 0x80
	}
	if home.Bits() > 120 {
		return false
	}
	// Otherwise every bit between the prefix and the 7-bit anycast ID is 1.
	for i := home.Bits(); i < 121; i++ {
		if b[i/8]&(0x80>>(i%8)) == 0 {
			return false
		}
	}
	return true
}
