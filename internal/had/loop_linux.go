package had

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"time"

	"github.com/nemo-mobility/nemo/config"
	"github.com/nemo-mobility/nemo/dataplane"
	"github.com/nemo-mobility/nemo/ha"
	"github.com/nemo-mobility/nemo/internal/ctl"
	"github.com/nemo-mobility/nemo/internal/ipsec"
	"github.com/nemo-mobility/nemo/mh"
	"github.com/nemo-mobility/nemo/mnha"
	"github.com/nemo-mobility/nemo/transport"
)

// Options configure Run.
type Options struct {
	Config *config.HA
	Logger *slog.Logger
	// Reload re-reads the configuration on SIGHUP (nil: reload disabled).
	Reload func() (*config.HA, error)
	// HUP delivers reload requests (SIGHUP).
	HUP <-chan struct{}
}

type dadResult struct {
	hoa netip.Addr
	ok  bool
	err error
}

type daemon struct {
	cfg    *config.HA
	log    *slog.Logger
	core   *ha.Core
	dp     dataplane.Backend
	dpKind string
	sender *transport.IPv6Sender
	dadC   chan dadResult
	ctl    *ctl.Relay
	// dpBase means the data plane's base state must be (re)installed;
	// dpPending holds the home addresses whose bindings changed since the
	// last data-plane update (each is one group: the update costs what
	// changed, not the whole cache).
	dpBase    bool
	dpPending map[netip.Addr]struct{}
	// discardLog rate-limits the log of silently discarded BUs.
	discardLog *rateLog
	// outbox holds the BAs and BEs to send after the next data-plane
	// update.
	outbox []ha.Action
	// udp is the port-4191 socket (nil without DSMIPv6); udpDrops counts
	// datagrams that were neither signalling nor data.
	udp      *transport.UDP4
	udpDrops uint64
	// mn signs the BAs of authenticated registrations (nil: insecure).
	mn *mnha.Authenticator
	// limit bounds the BUs processed per source and in total.
	limit *limiter
	// stateDirty means the binding cache changed since the last save;
	// saving means a save is running in the background (savedC reports
	// its end); saveGap is the pause before the next one.
	stateDirty, saveArmed, saving bool
	lastSave                      time.Time
	saveGap                       time.Duration
	savedC                        chan saveResult
	// journal holds the home addresses whose bindings changed since the
	// last save; the next save appends their state to the journal of
	// generation journalGen, which holds journalRecords records. fullSave
	// asks for a whole snapshot instead (anything may have changed, or a
	// save failed).
	journal        map[netip.Addr]struct{}
	journalGen     uint64
	journalRecords int
	fullSave       bool
	// ann schedules the unsolicited NAs of new bindings; na sends them.
	ann *announcer
	na  *transport.NASender
	// proxied are the home addresses the ND proxy answers for, nd the
	// proxy.
	proxied *proxySet
	nd      *transport.NDProxy
}

// Run runs the home agent until ctx is done, then removes every tunnel,
// route and proxy entry it installed and returns.
func Run(ctx context.Context, o Options) error {
	cfg, log := o.Config, o.Logger
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	// Optional IPsec ([mobile_router.ipsec]): refused with the reason
	// (the kernel's or this build's) before anything is changed.
	var ipsecSections []ipsec.Section
	for i, r := range cfg.MobileRouters {
		ipsecSections = append(ipsecSections, ipsec.Section{File: cfg.File, Key: fmt.Sprintf("mobile_router[%d].ipsec", i), Config: r.IPsec})
	}
	if err := ipsec.Require(ipsecSections); err != nil {
		return err
	}
	ops, err := dataplane.NewNetOps()
	if err != nil {
		return err
	}
	// Proxy entries carry no owner marker: ours are those on the home
	// interface for home addresses (IPv6 home prefix, static IPv4 home
	// addresses, the dynamic IPv4 pool).
	scope := []dataplane.ProxyScope{{Dev: cfg.Agent.HomeInterface, Prefix: cfg.Agent.HomePrefix}}
	for _, r := range cfg.MobileRouters {
		if r.IPv4HomeAddress.IsValid() {
			scope = append(scope, dataplane.ProxyScope{Dev: cfg.Agent.HomeInterface, Prefix: netip.PrefixFrom(r.IPv4HomeAddress, 32)})
		}
	}
	if cfg.DSMIPv6.IPv4Pool.IsValid() {
		scope = append(scope, dataplane.ProxyScope{Dev: cfg.Agent.HomeInterface, Prefix: cfg.DSMIPv6.IPv4Pool})
	}
	if err := dataplane.Cleanup(ops, Owner, scope); err != nil {
		log.Warn("cleaning up a previous run's leftovers", "err", err)
	}
	// Port 4191: BUs from IPv4 care-of addresses and UDP-encapsulated data
	// (RFC 5555).
	var udp *transport.UDP4
	var udpC <-chan transport.Datagram
	if cfg.DSMIPv6.Enabled && cfg.Agent.IPv4Address.IsValid() {
		udp, err = transport.ListenUDP4(ctx, transport.UDP4Config{Local: netip.AddrPortFrom(cfg.Agent.IPv4Address, cfg.DSMIPv6.Port), Queue: 1024})
		if err != nil {
			return fmt.Errorf("opening UDP port %d: %w", cfg.DSMIPv6.Port, err)
		}
		defer udp.Close()
		udpC = udp.Packets()
	}
	dp, kind, err := openDataplane(ops, cfg, log, udp)
	if err != nil {
		return err
	}
	defer func() {
		if err := dp.Close(); err != nil {
			log.Error("removing the data plane", "err", err)
		}
	}()
	// The home addresses of valid bindings are defended on the home link
	// from user space (RFC 6275 10.4.1): kernel proxy entries cost a
	// linear search each, in the kernel's multicast group list.
	proxied := newProxySet()
	nd, err := transport.ListenNDProxy(transport.NDProxyConfig{Interface: cfg.Agent.HomeInterface, Lookup: proxied.lookup})
	if err != nil {
		return fmt.Errorf("neighbour discovery proxy on %s: %w", cfg.Agent.HomeInterface, err)
	}
	defer nd.Close()
	auth, mn, err := authenticator(cfg)
	if err != nil {
		return err
	}
	cc := CoreConfig(cfg)
	cc.Auth = auth
	core, err := ha.New(cc)
	if err != nil {
		return fmt.Errorf("home agent core: %w", err)
	}
	sender, err := transport.OpenSender(transport.SenderConfig{})
	if err != nil {
		return fmt.Errorf("opening the raw send socket: %w", err)
	}
	defer sender.Close()
	sig, err := transport.ListenSignal(ctx, transport.SignalConfig{Queue: 1024})
	if err != nil {
		return fmt.Errorf("opening the signalling sockets: %w", err)
	}
	defer sig.Close()

	d := &daemon{
		cfg: cfg, log: log, core: core, dp: dp, dpKind: kind, sender: sender,
		udp:  udp,
		dadC: make(chan dadResult, 64), ctl: ctl.NewRelay(), discardLog: newRateLog(10 * time.Second),
		ann:     newAnnouncer(),
		proxied: proxied,
		nd:      nd,
		saveGap: saveEvery,
		savedC:  make(chan saveResult, 1),
		journal: map[netip.Addr]struct{}{},
		na:      transport.OpenNASender(cfg.Agent.HomeInterface),
		mn:      mn,
		limit:   newLimiter(cfg.RateLimit.PerSource, cfg.RateLimit.Total),
		// Forwarding and proxy_ndp go on at start, not with the first
		// binding: the home agent also routes for routers at home.
		dpBase:    true,
		dpPending: map[netip.Addr]struct{}{},
	}
	if mn == nil {
		log.Warn("no mobile router has an MN-HA key: every Binding Update is accepted without authentication (insecure = true)")
	}
	// Bindings saved by the previous run come back before the first BU,
	// with their tunnels and routes, so traffic resumes at once; those that
	// expired meanwhile are dropped.
	saved, err := loadState(cfg.Agent.StateDir)
	if err != nil {
		log.Warn("ignoring the saved binding cache", "err", err)
		// Whatever is there is replaced by a whole snapshot at the first save.
		d.fullSave = true
	} else {
		d.journalGen = saved.Gen
		if saved.Torn {
			log.Warn("the binding journal's last record was cut short (a crash while saving); ignored it", "dir", cfg.Agent.StateDir)
		}
		if len(saved.Bindings) > 0 {
			acts := core.Restore(time.Now(), saved.Bindings)
			log.Info("binding cache restored", "saved", len(saved.Bindings), "journal_records", saved.Replayed, "restored", core.Len())
			d.apply(ctx, acts)
		}
		d.journalRecords = saved.Replayed
	}
	// Loading a big configuration (100,000 routers: 18 MB of TOML) leaves
	// hundreds of megabytes of garbage: collect it and give it back now,
	// not whenever the heap next grows.
	debug.FreeOSMemory()
	srv, err := ctl.Listen(cfg.Status.Socket, d.ctl.Handler)
	if err != nil {
		return err
	}
	go srv.Serve(ctx)
	defer srv.Close()

	log.Info("home agent started", "address", cfg.Agent.Address, "home_prefix", cfg.Agent.HomePrefix,
		"home_interface", cfg.Agent.HomeInterface, "mobile_routers", len(cfg.MobileRouters), "dataplane", kind)

	defer d.na.Close()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	annTimer := time.NewTimer(time.Hour)
	defer annTimer.Stop()
	saveTimer := time.NewTimer(time.Hour)
	defer saveTimer.Stop()
	for {
		// A burst of packets costs one data-plane update, and every BA
		// leaves only after the forwarding it acknowledges is in place.
		if d.dpBase || len(d.dpPending) > 0 {
			d.syncDataplane()
		}
		d.flush()
		d.announceDue(annTimer)
		if d.stateDirty && !d.saveArmed && !d.saving {
			// Coalesce: at most one write per saveGap.
			saveTimer.Reset(max(0, d.saveGap-time.Since(d.lastSave)))
			d.saveArmed = true
		}
		arm(timer, core)
		select {
		case <-ctx.Done():
			d.save()
			log.Info("home agent stopping: removing tunnels, routes and proxy entries")
			return nil
		case <-saveTimer.C:
			d.saveArmed = false
			d.saveInBackground()
		case r := <-d.savedC:
			d.saved(r)
		case p, ok := <-sig.Packets():
			if !ok {
				return fmt.Errorf("signalling sockets closed: %v", sig.Err())
			}
			d.onSignal(ctx, p)
		case dg, ok := <-udpC:
			if !ok {
				return fmt.Errorf("UDP port %d closed: %v", cfg.DSMIPv6.Port, udp.Err())
			}
			d.onDatagram(ctx, dg)
		case r := <-d.dadC:
			if r.err != nil && !r.ok {
				log.Warn("duplicate address detection", "home_address", r.hoa, "err", r.err)
			}
			d.apply(ctx, core.HandleDADResult(time.Now(), r.hoa, r.ok))
		case <-timer.C:
			d.apply(ctx, core.Tick(time.Now()))
		case <-annTimer.C:
		case c := <-d.ctl.C():
			c.Reply(d.control(c.Command))
		case <-o.HUP:
			d.doReload(ctx, o.Reload)
		}
	drain:
		for i := 0; i < maxBatch; i++ {
			select {
			case p, ok := <-sig.Packets():
				if !ok {
					break drain
				}
				d.onSignal(ctx, p)
			case dg, ok := <-udpC:
				if !ok {
					break drain
				}
				d.onDatagram(ctx, dg)
			default:
				break drain
			}
		}
	}
}

// maxBatch bounds the packets handled between two data-plane updates.
const maxBatch = 256

// flush sends the queued Binding Acknowledgements and Errors.
func (d *daemon) flush() {
	for _, a := range d.outbox {
		switch a := a.(type) {
		case ha.SendBA:
			d.sendBA(a)
		case ha.SendBE:
			d.sendBE(a)
		}
	}
	clear(d.outbox)
	d.outbox = d.outbox[:0]
}

func openDataplane(ops dataplane.NetOps, cfg *config.HA, log *slog.Logger, udp *transport.UDP4) (dataplane.Backend, string, error) {
	kind := string(cfg.Agent.Dataplane)
	reason := "configured"
	if cfg.Agent.Dataplane == config.DataplaneAuto {
		kind, reason = dataplane.Probe(ops, cfg.DSMIPv6.Enabled)
	}
	log.Info("data plane chosen", "backend", kind, "reason", reason)
	switch kind {
	case "kernel":
		// UDP-encapsulated tunnels (behind NAT) go through an embedded
		// userspace path fed by the port-4191 socket.
		kopts := dataplane.KernelOptions{Owner: Owner, TUNName: "nemo-ha0"}
		if udp != nil {
			kopts.UDP = udpSender{udp}
		}
		return dataplane.NewKernel(ops, kopts), kind, nil
	default:
		// About eight bindings per shard: a change copies a few entries.
		opts := dataplane.UserspaceOptions{Owner: Owner, TUNName: "nemo-ha0", TableShards: len(cfg.MobileRouters) / 8}
		if udp != nil {
			opts.UDP = udpSender{udp}
		}
		u, err := dataplane.NewUserspace(ops, opts)
		if err != nil {
			return nil, "", fmt.Errorf("userspace data plane: %w", err)
		}
		return u, "userspace", nil
	}
}

func arm(t *time.Timer, core *ha.Core) {
	wait := time.Hour
	if next, ok := core.NextDeadline(); ok {
		wait = max(time.Until(next), 0)
	}
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
	t.Reset(wait)
}

func (d *daemon) control(cmd string) (any, error) {
	switch cmd {
	case "bindings", "status":
		st := d.dp.Stats()
		r := report(time.Now(), d.core.Bindings(), d.core.Counters(), st, d.dpKind)
		// The data plane's drops of packets no tunnel owns.
		r.Counters["dataplane_drop_unknown_peer"] = st.DropUnknownPeer
		r.Counters["dataplane_drop_malformed"] = st.DropMalformed
		r.Counters["dataplane_drop_no_route"] = st.DropNoRoute
		r.Counters["rate_limited_source"] = d.limit.droppedSource
		r.Counters["rate_limited_total"] = d.limit.droppedTotal
		r.Counters["udp_dropped"] = d.udpDrops
		answered, ignored, malformed, sendErrors := d.nd.Counters()
		r.Counters["nd_proxy_answered"] = answered
		r.Counters["nd_proxy_not_ours"] = ignored
		r.Counters["nd_proxy_malformed"] = malformed
		r.Counters["nd_proxy_send_errors"] = sendErrors
		if d.mn != nil {
			for reason, n := range d.mn.Counters() {
				r.Counters["auth_"+mnha.Reason(reason).String()] = n
			}
		}
		return r, nil
	}
	return nil, fmt.Errorf("unknown command %q", cmd)
}

func (d *daemon) onSignal(ctx context.Context, r transport.Received) {
	now := time.Now()
	pkt, raw, err := mh.ParseSignal(r.Src, r.Dst, r.NextHeader, r.Data)
	if err != nil {
		var se *mh.StatusError
		switch {
		case errors.Is(err, mh.ErrNotMobility) && pkt.HomeAddress.IsValid():
			// A data packet with a Home Address option (RFC 6275 9.3.1).
			d.apply(ctx, d.core.HandleHAOWithoutMH(now, r.Src, pkt.HomeAddress))
		case errors.As(err, &se) && se.BEStatus == mh.BEUnrecognizedMHType:
			hoa := pkt.HomeAddress
			d.apply(ctx, d.core.HandleUnknownMHType(now, r.Src, hoa))
		default:
			d.discardLog.log(d.log, r.Src, "dropped signalling packet", "from", r.Src, "err", err)
		}
		return
	}
	bu, ok := pkt.Message.(mh.BindingUpdate)
	if !ok {
		return // a home agent acts only on Binding Updates
	}
	req := ha.BURequest{Src: pkt.Src, Dst: pkt.Dst, HomeAddr: pkt.Src, BU: bu, Raw: raw}
	if pkt.HomeAddress.IsValid() {
		req.HomeAddr, req.HadHAO = pkt.HomeAddress, true
	}
	b, ok := d.core.Lookup(req.HomeAddr)
	known := ok && b.State == ha.StateValid && b.CareOf == req.Src
	if !d.limit.allow(now, req.Src, known) {
		d.discardLog.log(d.log, req.Src, "binding update rate-limited", "from", req.Src, "home_address", req.HomeAddr)
		return
	}
	d.apply(ctx, d.core.HandleBU(now, req))
}

func (d *daemon) apply(ctx context.Context, acts []ha.Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case ha.SendBA, ha.SendBE:
			d.outbox = append(d.outbox, a)
		case ha.StartDAD:
			d.startDAD(ctx, a)
		case ha.InstallBinding:
			b := a.Binding
			d.dpPending[b.HomeAddress] = struct{}{}
			d.log.Info("binding installed", "home_address", b.HomeAddress, "care_of", b.CareOf, "encap", b.Encap,
				"prefixes", b.Prefixes, "lifetime", b.Lifetime, "new", !a.Previous.HomeAddress.IsValid())
			if !a.Previous.HomeAddress.IsValid() || a.Previous.CareOf != b.CareOf || a.Previous.IPv4HomeAddress != b.IPv4HomeAddress {
				d.ann.start(time.Now(), b.HomeAddress, b.IPv4HomeAddress, b.Router())
			}
		case ha.RemoveBinding:
			d.ann.stop(a.Binding.HomeAddress)
			d.dpPending[a.Binding.HomeAddress] = struct{}{}
			d.journal[a.Binding.HomeAddress] = struct{}{}
			d.stateDirty = true
			// Interception stops (RFC 6275 10.3.2) with the data-plane
			// update that precedes the BA.
			d.log.Info("binding removed", "home_address", a.Binding.HomeAddress, "care_of", a.Binding.CareOf)
		case ha.BindingsChanged:
			d.stateDirty = true
			if a.HomeAddress.IsValid() {
				d.journal[a.HomeAddress] = struct{}{}
			} else {
				d.fullSave = true
			}
		case ha.Discarded:
			d.discardLog.log(d.log, a.Peer, "binding update discarded", "reason", a.Reason.String(), "from", a.Peer, "home_address", a.HomeAddress)
		}
	}
}

func (d *daemon) sendBA(a ha.SendBA) {
	if d.mn != nil && a.Identity != "" {
		signed, err := d.mn.SignBA(a)
		if err != nil {
			d.log.Error("cannot authenticate BA", "to", a.To, "err", err)
			return
		}
		a = signed
	}
	log := d.log.With("to", a.To, "status", a.BA.Status.String(), "seq", a.BA.Sequence, "lifetime", a.BA.Lifetime)
	if a.Via.IsValid() {
		// RFC 5555 4.2: the BA goes back the way the BU came, to the
		// outer source as observed (the NAT's public side), from 4191.
		pkt, err := mh.BuildPacket(mh.Packet{Src: d.cfg.Agent.Address, Dst: a.To, Message: a.BA})
		if err == nil && d.udp == nil {
			err = errors.New("no UDP socket")
		}
		if err == nil {
			err = d.udp.Send(a.Via, pkt)
		}
		if err != nil {
			log.Warn("sending BA over UDP failed", "via", a.Via, "err", err)
			return
		}
		d.logBA(log, a, "sent binding acknowledgement over UDP", "via", a.Via)
		return
	}
	pkt, err := mh.BuildPacket(mh.Packet{Src: d.cfg.Agent.Address, Dst: a.To, RoutingHome: a.RoutingHome, Message: a.BA})
	if err != nil {
		log.Error("cannot build BA", "err", err)
		return
	}
	if err := d.sender.Send(pkt); err != nil {
		log.Warn("sending BA failed", "err", err)
		return
	}
	d.logBA(log, a, "sent binding acknowledgement")
}

// logBA logs a sent BA: acceptances at debug level (a fleet refreshes all
// the time), refusals at info but rate-limited, so a flood of forged BUs
// (each drawing a 146) cannot grow the log without bound.
func (d *daemon) logBA(log *slog.Logger, a ha.SendBA, msg string, args ...any) {
	args = append(args, "home_address", a.HomeAddress)
	if a.BA.Status.Accepted() {
		log.Debug(msg, args...)
		return
	}
	d.discardLog.log(log, a.To, msg, args...)
}

// syncDataplane brings the data plane up to date with the binding cache:
// the base state if it changed, and one group per changed binding. What
// failed stays pending and is retried at the next update.
func (d *daemon) syncDataplane() {
	if d.dpBase {
		if err := d.dp.Set(baseConfig(d.cfg)); err != nil {
			d.log.Error("data plane base update failed; retrying at the next change", "err", err)
		} else {
			d.dpBase = false
		}
	}
	if len(d.dpPending) == 0 {
		return
	}
	changes := make([]dataplane.GroupChange, 0, len(d.dpPending))
	for hoa := range d.dpPending {
		c := dataplane.GroupChange{ID: hoa.String()}
		b, ok := d.core.Lookup(hoa)
		if ok {
			c.Config = bindingConfig(d.cfg, b)
		} else {
			c.Delete = true
		}
		// The proxy follows the binding: it answers for valid ones only
		// (a binding waiting for its DAD must not be defended yet).
		if ok && b.State == ha.StateValid {
			d.proxied.set(hoa, b.Router())
		} else {
			d.proxied.del(hoa)
		}
		changes = append(changes, c)
	}
	clear(d.dpPending)
	if err := d.dp.Update(changes); err != nil {
		d.log.Error("data plane update failed; retrying at the next change", "err", err)
		for _, id := range dataplane.FailedGroups(err) {
			if hoa, perr := netip.ParseAddr(id); perr == nil {
				d.dpPending[hoa] = struct{}{}
			}
		}
	}
}

// announceDue sends the unsolicited Neighbor Advertisements of RFC 6275
// 10.4.1 that are due: for a binding's home address, to all nodes,
// Override set, Router set for a mobile router (RFC 3963 6.3), so the home
// link's neighbours send its traffic to the home agent at once; and a
// gratuitous ARP for its IPv4 home address (RFC 5555 4.5: the home agent
// answers ARP for it now). Then it arms t for the next.
func (d *daemon) announceDue(t *time.Timer) {
	now := time.Now()
	d.ann.due(now, func(x announcement) {
		if err := d.na.Send(x.hoa, transport.NAOptions{Override: true, Router: x.router}); err != nil {
			d.discardLog.log(d.log, x.hoa, "unsolicited neighbour advertisement", "home_address", x.hoa, "err", err)
		}
		if x.v4.IsValid() {
			if err := transport.SendGratuitousARP(d.cfg.Agent.HomeInterface, x.v4); err != nil {
				d.discardLog.log(d.log, x.hoa, "gratuitous ARP", "ipv4_home_address", x.v4, "err", err)
			}
		}
	})
	if at, ok := d.ann.next(); ok {
		t.Reset(max(0, at.Sub(now)))
	}
}

func (d *daemon) startDAD(ctx context.Context, a ha.StartDAD) {
	go func() {
		err := transport.DAD(ctx, d.cfg.Agent.HomeInterface, a.HomeAddress, time.Second)
		ok := err == nil
		if errors.Is(err, transport.ErrDuplicateAddress) {
			ok = false
		} else if err != nil {
			// DAD could not run (no link-local address yet, say): do not
			// refuse the router for our own trouble.
			ok = true
		}
		select {
		case d.dadC <- dadResult{hoa: a.HomeAddress, ok: ok, err: err}:
		case <-ctx.Done():
		}
	}()
}

func (d *daemon) doReload(ctx context.Context, reload func() (*config.HA, error)) {
	if reload == nil {
		return
	}
	cfg, err := reload()
	if err != nil {
		d.log.Error("reload refused: configuration invalid; keeping the running one", "err", err)
		return
	}
	auth, mn, err := authenticator(cfg)
	if err != nil {
		d.log.Error("reload refused", "err", err)
		return
	}
	cc := CoreConfig(cfg)
	cc.Auth = auth
	acts, err := d.core.Reconfigure(time.Now(), cc)
	if err != nil {
		d.log.Error("reload refused", "err", err)
		return
	}
	if cfg.Agent.HomeInterface != d.cfg.Agent.HomeInterface {
		d.na.Close()
		d.na = transport.OpenNASender(cfg.Agent.HomeInterface)
	}
	d.cfg = cfg
	d.mn = mn
	d.limit.perSource, d.limit.total = float64(cfg.RateLimit.PerSource), float64(cfg.RateLimit.Total)
	// Addresses and the home interface may have changed: every binding's
	// group is rendered again.
	d.dpBase = true
	for _, b := range d.core.Bindings() {
		d.dpPending[b.HomeAddress] = struct{}{}
	}
	d.log.Info("configuration reloaded", "mobile_routers", len(cfg.MobileRouters))
	d.apply(ctx, acts)
}

// saveEvery bounds how often the binding cache is written: every change
// is saved, changes within this window together. A save that takes long
// (a big cache, a slow disk) stretches the window to saveSlack times its
// duration, so saving never takes more than a fraction of the time.
const (
	saveEvery = 250 * time.Millisecond
	saveSlack = 4
)

// saveResult is the end of a background save.
type saveResult struct {
	err  error
	took time.Duration
}

// compactAfter is the journal's size, in records beyond twice the cache,
// past which the next save writes a whole snapshot instead.
const compactAfter = 1024

// saveInBackground hands the changed bindings (or, when the journal has
// grown past the cache, a copy of the whole cache) to a goroutine that
// encodes and writes them: the event loop never waits for the disk, and
// copies only what changed.
func (d *daemon) saveInBackground() {
	if d.saving || !d.stateDirty {
		return
	}
	dir := d.cfg.Agent.StateDir
	d.saving, d.stateDirty = true, false
	var write func() error
	if d.fullSave || d.journalRecords+len(d.journal) > 2*d.core.Len()+compactAfter {
		gen, bs := d.startSnapshot()
		write = func() error { return saveState(dir, gen, bs) }
	} else {
		recs := d.journalRecordsDue()
		d.journalRecords += len(recs)
		gen := d.journalGen
		write = func() error { return appendJournal(dir, gen, recs) }
	}
	go func() {
		start := time.Now()
		err := write()
		d.savedC <- saveResult{err: err, took: time.Since(start)}
	}()
}

// startSnapshot copies the whole cache for a new journal generation and
// forgets what the old journal was waiting for: the snapshot holds it.
func (d *daemon) startSnapshot() (uint64, []ha.Binding) {
	d.journalGen++
	d.fullSave, d.journalRecords = false, 0
	clear(d.journal)
	return d.journalGen, d.core.Snapshot()
}

// journalRecordsDue turns the changed home addresses into journal records
// and forgets them.
func (d *daemon) journalRecordsDue() []journalRecord {
	recs := make([]journalRecord, 0, len(d.journal))
	for hoa := range d.journal {
		if b, ok := d.core.Lookup(hoa); ok && b.State == ha.StateValid {
			recs = append(recs, journalRecord{Set: &b})
		} else {
			recs = append(recs, journalRecord{Del: hoa})
		}
	}
	clear(d.journal)
	return recs
}

// saved records the end of a background save.
func (d *daemon) saved(r saveResult) {
	d.saving = false
	d.lastSave = time.Now()
	d.saveGap = max(saveEvery, saveSlack*r.took)
	if r.err != nil {
		// Try again, with a whole snapshot: the records that failed are
		// no longer pending.
		d.stateDirty, d.fullSave = true, true
		d.log.Error("saving the binding cache", "dir", d.cfg.Agent.StateDir, "err", r.err)
	}
}

// save writes the binding cache now if it changed (at exit), after a
// background save still running.
func (d *daemon) save() {
	if d.saving {
		d.saved(<-d.savedC)
	}
	if !d.stateDirty && d.journalRecords == 0 {
		return
	}
	// At exit a whole snapshot: the next start reads one file.
	gen, bs := d.startSnapshot()
	if err := saveState(d.cfg.Agent.StateDir, gen, bs); err != nil {
		d.log.Error("saving the binding cache", "dir", d.cfg.Agent.StateDir, "err", err)
	}
	d.stateDirty = false
	d.lastSave = time.Now()
}

func (d *daemon) sendBE(a ha.SendBE) {
	pkt, err := mh.BuildPacket(mh.Packet{Src: d.cfg.Agent.Address, Dst: a.To, Message: a.BE})
	if err == nil {
		err = d.sender.Send(pkt)
	}
	if err != nil {
		d.log.Warn("sending binding error", "to", a.To, "err", err)
		return
	}
	d.discardLog.log(d.log, a.To, "sent binding error", "to", a.To, "status", a.BE.Status, "home_address", a.BE.HomeAddress)
}
