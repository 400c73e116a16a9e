package ha

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/mh"
)

func TestFirstRegistrationImplicit(t *testing.T) {
	c := newCore(t, nil)
	acts := c.HandleBU(t0, bu(mr1, coa1, 7, mrReg, 400*time.Second))
	if len(acts) != 3 {
		t.Fatalf("want InstallBinding, SendBA, BindingsChanged; got %#v", acts)
	}
	ib, ok := acts[0].(InstallBinding)
	if !ok {
		t.Fatalf("first action %T, want InstallBinding", acts[0])
	}
	if _, ok := acts[2].(BindingsChanged); !ok {
		t.Fatalf("last action %T, want BindingsChanged", acts[2])
	}
	b := ib.Binding
	if b.HomeAddress != mr1 || b.CareOf != coa1 || b.Encap != EncapIP6IP6 || b.State != StateValid ||
		b.Explicit || !slices.Equal(b.Prefixes, []netip.Prefix{mr1MNP}) || !b.Router() || b.UDP.IsValid() {
		t.Fatalf("installed binding %+v", b)
	}
	if ib.Previous.HomeAddress.IsValid() {
		t.Fatalf("Previous set on a first registration: %+v", ib.Previous)
	}
	if !b.Expires.Equal(at(400*time.Second)) || b.Lifetime != 400*time.Second || !b.Registered.Equal(t0) {
		t.Fatalf("times: %+v", b)
	}
	ba := wantStatus(t, acts, mh.StatusAccepted)
	if ba.To != coa1 || ba.RoutingHome != mr1 || ba.Via.IsValid() || ba.HomeAddress != mr1 || ba.CareOf != coa1 {
		t.Fatalf("BA addressing %+v", ba)
	}
	if ba.BA.Sequence != 7 || ba.BA.Lifetime != 400*time.Second || ba.BA.Flags != mh.BAFlagR || len(ba.BA.Options) != 0 {
		t.Fatalf("BA %+v", ba.BA)
	}
	if got := c.Counters()[CtrRegistered]; got != 1 {
		t.Fatalf("registered counter %d", got)
	}
}

func TestBAWithoutAFlag(t *testing.T) {
	// A home agent answers every processed home registration, A or not.
	c := newCore(t, nil)
	wantStatus(t, c.HandleBU(t0, bu(mr1, coa1, 1, mh.BUFlagH|mh.BUFlagR, 40*time.Second)), mh.StatusAccepted)
	wantStatus(t, c.HandleBU(t0, bu(mr1, coa1, 1, mh.BUFlagH|mh.BUFlagR, 40*time.Second)), mh.StatusSequenceOutOfWindow)
	wantStatus(t, c.HandleBU(t0, bu(mr1, coa1, 2, mh.BUFlagH|mh.BUFlagR, 0)), mh.StatusAccepted)
}

func TestPlainMobileNodeNoRFlag(t *testing.T) {
	c := newCore(t, nil)
	ba := wantStatus(t, c.HandleBU(t0, bu(mr3, coa1, 1, homeReg, 40*time.Second,
		mh.MobileNetworkPrefix{Prefix: mr1MNP})), mh.StatusAccepted)
	if ba.BA.Flags&mh.BAFlagR != 0 {
		t.Fatal("BA has R for a BU without R")
	}
	b, _ := c.Lookup(mr3)
	if len(b.Prefixes) != 0 || b.Router() {
		t.Fatalf("MNP options of a non-R BU must be ignored: %+v", b)
	}
}

func TestLifetimeGrant(t *testing.T) {
	for _, tc := range []struct {
		max, req, want time.Duration
	}{
		{3600 * time.Second, 400 * time.Second, 400 * time.Second},
		{600 * time.Second, 1000 * time.Second, 600 * time.Second},
		{602 * time.Second, 1000 * time.Second, 600 * time.Second}, // 4 s units
		{0, mh.MaxLifetime, mh.MaxLifetime},
		{3600 * time.Second, 4 * time.Second, 4 * time.Second},
	} {
		c := newCore(t, func(cfg *Config) { cfg.MaxLifetime = tc.max })
		ba := wantStatus(t, c.HandleBU(t0, bu(mr1, coa1, 1, mrReg, tc.req)), mh.StatusAccepted)
		if ba.BA.Lifetime != tc.want {
			t.Errorf("max %v, requested %v: granted %v, want %v", tc.max, tc.req, ba.BA.Lifetime, tc.want)
		}
		if b, _ := c.Lookup(mr1); !b.Expires.Equal(t0.Add(tc.want)) {
			t.Errorf("expires %v, want %v", b.Expires.Sub(t0), tc.want)
		}
	}
}

// TestStatusCodes walks every refusal and silent discard of HandleBU.
func TestStatusCodes(t *testing.T) {
	linkLocal := netip.MustParseAddr("fe80::1")
	mcast := netip.MustParseAddr("ff02::1")
	manyMNPs := make([]mh.Option, MaxPrefixesPerBinding+1)
	for i := range manyMNPs {
		manyMNPs[i] = mh.MobileNetworkPrefix{Prefix: netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0, byte(i)}), 64)}
	}
	type tc struct {
		name    string
		mod     func(*Config)
		setup   func(t *testing.T, c *Core)
		req     BURequest
		status  mh.Status // when discard is 0
		discard Counter
		counter Counter // incremented counter for a refusal
	}
	cases := []tc{
		{name: "131 not our address", req: func() BURequest {
			r := bu(mr1, coa1, 1, mrReg, 40*time.Second)
			r.Dst = netip.MustParseAddr("2001:db8:0:1::2")
			return r
		}(), status: 131, counter: CtrRejectNotHA},
		{name: "140 NEMO off", mod: func(c *Config) { c.NEMO = false },
			req: bu(mr1, coa1, 1, mrReg, 40*time.Second), status: 140, counter: CtrRejectMRNotPermitted},
		{name: "140 R without H", req: bu(mr1, coa1, 1, mh.BUFlagA|mh.BUFlagR, 40*time.Second),
			status: 140, counter: CtrRejectMRNotPermitted},
		{name: "132 outside home prefix", req: bu(netip.MustParseAddr("2001:db8:0:2::100"), coa1, 1, homeReg, 40*time.Second),
			status: 132, counter: CtrRejectNotHomeSubnet},
		{name: "132 outside home prefix, router", req: bu(netip.MustParseAddr("2001:db8:0:2::100"), coa1, 1, mrReg, 40*time.Second),
			status: 132, counter: CtrRejectNotHomeSubnet},
		{name: "129 router not configured", mod: func(c *Config) { c.AllowUnlisted = true },
			req: bu(mn9, coa1, 1, mrReg, 40*time.Second), status: 129, counter: CtrRejectPolicy},
		{name: "129 unlisted node", req: bu(mn9, coa1, 1, homeReg, 40*time.Second), status: 129, counter: CtrRejectPolicy},
		{name: "129 home agent's own address", mod: func(c *Config) { c.AllowUnlisted = true },
			req: bu(haAddr, coa1, 1, homeReg, 40*time.Second), status: 129, counter: CtrRejectPolicy},
		{name: "129 subnet-router anycast", mod: func(c *Config) { c.AllowUnlisted = true },
			req: bu(homePfx.Addr(), coa1, 1, homeReg, 40*time.Second), status: 129, counter: CtrRejectPolicy},
		{name: "129 home agents anycast", mod: func(c *Config) { c.AllowUnlisted = true },
			req: bu(netip.MustParseAddr("2001:db8:0:1:fdff:ffff:ffff:fffe"), coa1, 1, homeReg, 40*time.Second), status: 129, counter: CtrRejectPolicy},
		{name: "130 cache full", mod: func(c *Config) { c.MaxBindings = 1 },
			setup: func(t *testing.T, c *Core) { register(t, c, t0, mr2, coa2, 1, mrReg) },
			req:   bu(mr1, coa1, 1, mrReg, 40*time.Second), status: 130, counter: CtrRejectNoRoom},
		{name: "130 too many prefixes", mod: func(c *Config) {
			c.Routers[0].Prefixes = []netip.Prefix{netip.MustParsePrefix("2001:db8:100::/40")}
		}, req: bu(mr1, coa1, 1, mrReg, 40*time.Second, manyMNPs...), status: 130, counter: CtrRejectNoRoom},
		{name: "141 prefix overlaps home prefix", req: bu(mr1, coa1, 1, mrReg, 40*time.Second,
			mh.MobileNetworkPrefix{Prefix: netip.MustParsePrefix("2001:db8::/32")}), status: 141, counter: CtrRejectInvalidPrefix},
		{name: "141 link-local prefix", req: bu(mr1, coa1, 1, mrReg, 40*time.Second,
			mh.MobileNetworkPrefix{Prefix: mr1MNP}, mh.MobileNetworkPrefix{Prefix: netip.MustParsePrefix("fe80::/64")}), status: 141, counter: CtrRejectInvalidPrefix},
		{name: "142 other router's prefix", req: bu(mr1, coa1, 1, mrReg, 40*time.Second,
			mh.MobileNetworkPrefix{Prefix: mr1MNP}, mh.MobileNetworkPrefix{Prefix: mr2MNP}), status: 142, counter: CtrRejectPrefixNotAuthed},
		{name: "142 wider than allowed", req: bu(mr1, coa1, 1, mrReg, 40*time.Second,
			mh.MobileNetworkPrefix{Prefix: netip.MustParsePrefix("2001:db8:100::/47")}), status: 142, counter: CtrRejectPrefixNotAuthed},
		{name: "143 implicit, nothing configured", req: bu(mr3, coa1, 1, mrReg, 40*time.Second), status: 143, counter: CtrRejectNoPrefixes},
		{name: "133 dereg without binding", req: bu(mr1, coa1, 1, mrReg, 0), status: 133, counter: CtrRejectNotHAForMN},
		{name: "133 dereg from home without binding", req: BURequest{Src: mr1, Dst: haAddr, HomeAddr: mr1,
			BU: mh.BindingUpdate{Sequence: 1, Flags: mrReg}}, status: 133, counter: CtrRejectNotHAForMN},
		{name: "135 stale sequence", setup: func(t *testing.T, c *Core) { register(t, c, t0, mr1, coa1, 100, mrReg) },
			req: bu(mr1, coa2, 100, mrReg, 40*time.Second), status: 135, counter: CtrRejectSequence},
		{name: "139 H cleared", setup: func(t *testing.T, c *Core) { register(t, c, t0, mr1, coa1, 100, mrReg) },
			req: bu(mr1, coa2, 101, mh.BUFlagA, 40*time.Second), status: 139, counter: CtrRejectTypeChange},
		{name: "139 R cleared", setup: func(t *testing.T, c *Core) { register(t, c, t0, mr1, coa1, 100, mrReg) },
			req: bu(mr1, coa2, 101, homeReg, 40*time.Second), status: 139, counter: CtrRejectTypeChange},
		{name: "139 R set", setup: func(t *testing.T, c *Core) { register(t, c, t0, mr1, coa1, 100, homeReg) },
			req: bu(mr1, coa2, 101, mrReg, 40*time.Second), status: 139, counter: CtrRejectTypeChange},
		{name: "0 R ignored on deregistration", setup: func(t *testing.T, c *Core) { register(t, c, t0, mr1, coa1, 100, mrReg) },
			req: bu(mr1, coa2, 101, homeReg, 0), status: 0, counter: CtrDeregistered},
		{name: "144 from authenticator", mod: func(c *Config) {
			c.Auth = AuthFunc(func(time.Time, *BURequest) AuthResult { return AuthResult{Verdict: AuthReject, Status: 144} })
		}, req: bu(mr1, coa1, 1, mrReg, 40*time.Second), status: 144, counter: CtrRejectAuth},
		{name: "145 from authenticator", mod: func(c *Config) {
			c.Auth = AuthFunc(func(time.Time, *BURequest) AuthResult { return AuthResult{Verdict: AuthReject, Status: 145} })
		}, req: bu(mr1, coa1, 1, mrReg, 40*time.Second), status: 145, counter: CtrRejectAuth},
		{name: "146 from authenticator", mod: func(c *Config) {
			c.Auth = AuthFunc(func(time.Time, *BURequest) AuthResult { return AuthResult{Verdict: AuthReject, Status: 146} })
		}, req: bu(mr1, coa1, 1, mrReg, 40*time.Second), status: 146, counter: CtrRejectAuth},
		{name: "128 for an accepting status from a reject verdict", mod: func(c *Config) {
			c.Auth = AuthFunc(func(time.Time, *BURequest) AuthResult { return AuthResult{Verdict: AuthReject} })
		}, req: bu(mr1, coa1, 1, mrReg, 40*time.Second), status: 128, counter: CtrRejectAuth},

		// Silent discards.
		{name: "discard multicast home address", req: bu(mcast, coa1, 1, homeReg, 40*time.Second), discard: CtrDiscardHomeAddress},
		{name: "discard link-local home address", req: bu(linkLocal, coa1, 1, homeReg, 40*time.Second), discard: CtrDiscardHomeAddress},
		{name: "discard multicast source", req: bu(mr1, mcast, 1, mrReg, 40*time.Second), discard: CtrDiscardSource},
		{name: "discard link-local care-of", req: bu(mr1, coa1, 1, mrReg, 40*time.Second,
			mh.AlternateCareOfAddress{Addr: linkLocal}), discard: CtrDiscardCareOf},
		{name: "discard H with nonce indices", req: bu(mr1, coa1, 1, mrReg, 40*time.Second,
			mh.NonceIndices{Home: 1, CareOf: 2}), discard: CtrDiscardNonce},
		{name: "discard registration without HAO", req: func() BURequest {
			r := bu(mr1, mr1, 1, mrReg, 40*time.Second, mh.AlternateCareOfAddress{Addr: coa1})
			r.HadHAO = false
			return r
		}(), discard: CtrDiscardNoHAO},
		{name: "discard correspondent registration", req: bu(mr1, coa1, 1, mh.BUFlagA, 40*time.Second), discard: CtrDiscardNotHome},
		{name: "discard authenticator says so", mod: func(c *Config) {
			c.Auth = AuthFunc(func(time.Time, *BURequest) AuthResult { return AuthResult{Verdict: AuthDiscard} })
		}, req: bu(mr1, coa1, 1, mrReg, 40*time.Second), discard: CtrDiscardAuth},
		{name: "discard care-of is a bound home address", setup: func(t *testing.T, c *Core) { register(t, c, t0, mr2, coa2, 1, mrReg) },
			req: bu(mr1, mr2, 1, mrReg, 40*time.Second), discard: CtrDiscardCareOfIsHoA},
		{name: "discard UDP without IPv4 CoA option", req: BURequest{Src: mr1, Dst: haAddr, HomeAddr: mr1,
			BU:  mh.BindingUpdate{Sequence: 1, Flags: mrReg, Lifetime: 40 * time.Second},
			UDP: netip.MustParseAddrPort("198.51.100.7:4000")}, discard: CtrDiscardCareOf},
		{name: "discard UDP from a broadcast source", req: udpBU(mr1, netip.MustParseAddr("192.0.2.10"),
			netip.MustParseAddrPort("255.255.255.255:4000"), 1, mrReg, 40*time.Second), discard: CtrDiscardUDPSource},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCore(t, tc.mod)
			if tc.setup != nil {
				tc.setup(t, c)
			}
			before := c.Snapshot()
			acts := c.HandleBU(at(time.Second), tc.req)
			if tc.discard != 0 {
				wantDiscard(t, acts, tc.discard)
				if got := c.Counters()[tc.discard]; got != 1 {
					t.Fatalf("counter %v = %d", tc.discard, got)
				}
			} else {
				ba := wantStatus(t, acts, tc.status)
				if got := c.Counters()[tc.counter]; got != 1 {
					t.Fatalf("counter %v = %d", tc.counter, got)
				}
				if !tc.status.Accepted() {
					if len(acts) != 1 {
						t.Fatalf("a refusal must only answer: %#v", acts)
					}
					if ba.BA.Lifetime != 0 || ba.BA.Flags != 0 {
						t.Fatalf("refusal BA %+v", ba.BA)
					}
					if tc.status != 135 && ba.BA.Sequence != tc.req.BU.Sequence {
						t.Fatalf("BA sequence %d, want the BU's %d", ba.BA.Sequence, tc.req.BU.Sequence)
					}
				}
			}
			if tc.discard != 0 || !tc.status.Accepted() {
				after := c.Snapshot()
				if len(before) != len(after) {
					t.Fatalf("refusal changed the cache: %v → %v", before, after)
				}
				for i := range before {
					if !bindingEqual(before[i], after[i]) {
						t.Fatalf("refusal changed a binding:\n%+v\n%+v", before[i], after[i])
					}
				}
			}
		})
	}
}

// bindingEqual compares everything but LastStatus.
func bindingEqual(a, b Binding) bool {
	a.LastStatus, b.LastStatus = 0, 0
	return forwardingEqual(&a, &b) && a.Sequence == b.Sequence && a.Flags == b.Flags &&
		a.Expires.Equal(b.Expires) && a.Lifetime == b.Lifetime && a.Explicit == b.Explicit && a.Identity == b.Identity
}

func TestSequenceWindow(t *testing.T) {
	c := newCore(t, nil)
	register(t, c, t0, mr1, coa1, 65535, mrReg)
	// Wrap-around: 0 is newer than 65535.
	ba := wantStatus(t, c.HandleBU(at(time.Second), bu(mr1, coa1, 0, mrReg, 40*time.Second)), mh.StatusAccepted)
	if ba.BA.Sequence != 0 {
		t.Fatalf("BA echoes %d", ba.BA.Sequence)
	}
	wantStatus(t, c.HandleBU(at(time.Second), bu(mr1, coa1, 15, mrReg, 40*time.Second)), mh.StatusAccepted)
	// 32783 is 32768 after 15: not newer (RFC 6275 9.5.1 example).
	ba = wantStatus(t, c.HandleBU(at(2*time.Second), bu(mr1, coa2, 32783, mrReg, 40*time.Second)), mh.StatusSequenceOutOfWindow)
	if ba.BA.Sequence != 15 {
		t.Fatalf("135 carries %d, want the last accepted 15", ba.BA.Sequence)
	}
	for _, s := range []uint16{0, 14, 15, 65535} {
		ba = wantStatus(t, c.HandleBU(at(2*time.Second), bu(mr1, coa2, s, mrReg, 40*time.Second)), mh.StatusSequenceOutOfWindow)
		if ba.BA.Sequence != 15 {
			t.Fatalf("seq %d: 135 carries %d", s, ba.BA.Sequence)
		}
	}
	if b, _ := c.Lookup(mr1); b.CareOf != coa1 || b.Sequence != 15 || b.LastStatus != 135 {
		t.Fatalf("135 changed the binding: %+v", b)
	}
	// 32782 is 32767 after 15: newer.
	wantStatus(t, c.HandleBU(at(3*time.Second), bu(mr1, coa2, 32782, mrReg, 40*time.Second)), mh.StatusAccepted)
	// The mobile router resynchronises with BA.seq+1 after a 135.
	c2 := newCore(t, nil)
	register(t, c2, t0, mr1, coa1, 500, mrReg)
	ba = wantStatus(t, c2.HandleBU(t0, bu(mr1, coa1, 3, mrReg, 40*time.Second)), 135)
	wantStatus(t, c2.HandleBU(t0, bu(mr1, coa1, ba.BA.Sequence+1, mrReg, 40*time.Second)), 0)
}

func TestLostBA(t *testing.T) {
	c := newCore(t, nil)
	register(t, c, t0, mr1, coa1, 10, mrReg)
	// The BA for a move to coa2 is lost; the router retransmits with a new
	// sequence number and gets a BA again.
	acts := c.HandleBU(at(time.Second), bu(mr1, coa2, 11, mrReg, 400*time.Second))
	wantStatus(t, acts, 0)
	ib, ok := find[InstallBinding](acts)
	if !ok || ib.Binding.CareOf != coa2 || ib.Previous.CareOf != coa1 {
		t.Fatalf("move: %#v", acts)
	}
	acts = c.HandleBU(at(2*time.Second), bu(mr1, coa2, 12, mrReg, 400*time.Second))
	ba := wantStatus(t, acts, 0)
	if ba.BA.Sequence != 12 {
		t.Fatalf("BA seq %d", ba.BA.Sequence)
	}
	if count[InstallBinding](acts) != 0 {
		t.Fatalf("a refresh that changes no forwarding must not reinstall: %#v", acts)
	}
	if count[BindingsChanged](acts) != 1 {
		t.Fatal("a refresh changes the saved expiry: want BindingsChanged")
	}
	b, _ := c.Lookup(mr1)
	if !b.Registered.Equal(t0) || !b.Expires.Equal(at(402*time.Second)) {
		t.Fatalf("refresh times %+v", b)
	}
	cs := c.Counters()
	if cs[CtrRegistered] != 1 || cs[CtrMoved] != 1 || cs[CtrRefreshed] != 1 {
		t.Fatalf("counters %v", cs.Map())
	}
}

func TestExplicitMode(t *testing.T) {
	c := newCore(t, func(cfg *Config) {
		cfg.Routers[0].Prefixes = []netip.Prefix{netip.MustParsePrefix("2001:db8:100::/40")}
	})
	p1 := netip.MustParsePrefix("2001:db8:101::/48")
	p2 := netip.MustParsePrefix("2001:db8:102::/48")
	acts := c.HandleBU(t0, bu(mr1, coa1, 1, mrReg, 40*time.Second,
		mh.MobileNetworkPrefix{Prefix: p2}, mh.MobileNetworkPrefix{Prefix: p1}, mh.MobileNetworkPrefix{Prefix: p2}))
	wantStatus(t, acts, 0)
	ib, _ := find[InstallBinding](acts)
	if !ib.Binding.Explicit || !slices.Equal(ib.Binding.Prefixes, []netip.Prefix{p1, p2}) {
		t.Fatalf("explicit prefixes %v", ib.Binding.Prefixes)
	}
	// The list replaces the stored set.
	acts = c.HandleBU(at(time.Second), bu(mr1, coa1, 2, mrReg, 40*time.Second, mh.MobileNetworkPrefix{Prefix: p1}))
	wantStatus(t, acts, 0)
	ib, ok := find[InstallBinding](acts)
	if !ok || !slices.Equal(ib.Binding.Prefixes, []netip.Prefix{p1}) || !slices.Equal(ib.Previous.Prefixes, []netip.Prefix{p1, p2}) {
		t.Fatalf("replacement: %#v", acts)
	}
	// A refused prefix leaves the stored set alone.
	wantStatus(t, c.HandleBU(at(2*time.Second), bu(mr1, coa1, 3, mrReg, 40*time.Second, mh.MobileNetworkPrefix{Prefix: mr2MNP})), 142)
	if b, _ := c.Lookup(mr1); !slices.Equal(b.Prefixes, []netip.Prefix{p1}) || b.Sequence != 2 {
		t.Fatalf("after 142: %+v", b)
	}
	// Switching to implicit mode takes the configured prefix.
	acts = c.HandleBU(at(3*time.Second), bu(mr1, coa1, 4, mrReg, 40*time.Second))
	ib, _ = find[InstallBinding](acts)
	if ib.Binding.Explicit || !slices.Equal(ib.Binding.Prefixes, []netip.Prefix{netip.MustParsePrefix("2001:db8:100::/40")}) {
		t.Fatalf("implicit: %+v", ib.Binding)
	}
}

func TestDADDeferral(t *testing.T) {
	c := newCore(t, func(cfg *Config) { cfg.DAD = true })
	acts := c.HandleBU(t0, bu(mr1, coa1, 5, mrReg|mh.BUFlagL, 400*time.Second))
	if len(acts) != 1 {
		t.Fatalf("first registration: want only StartDAD, got %#v", acts)
	}
	sd, ok := acts[0].(StartDAD)
	if !ok || sd.HomeAddress != mr1 || sd.LinkLocal != netip.MustParseAddr("fe80::100") {
		t.Fatalf("StartDAD %#v", acts[0])
	}
	if b, _ := c.Lookup(mr1); b.State != StateDADPending {
		t.Fatalf("state %v", b.State)
	}
	// Retransmissions during DAD are ignored.
	wantDiscard(t, c.HandleBU(at(500*time.Millisecond), bu(mr1, coa1, 6, mrReg, 400*time.Second)), CtrDiscardDADPending)
	// A result for another address is ignored.
	if acts := c.HandleDADResult(at(time.Second), mr2, true); acts != nil {
		t.Fatalf("stray DAD result: %#v", acts)
	}
	acts = c.HandleDADResult(at(time.Second), mr1, true)
	ba := wantStatus(t, acts, 0)
	if ba.BA.Sequence != 5 || ba.To != coa1 || ba.RoutingHome != mr1 || ba.BA.Lifetime != 400*time.Second {
		t.Fatalf("deferred BA %+v", ba)
	}
	b, _ := c.Lookup(mr1)
	if b.State != StateValid || !b.Expires.Equal(at(401*time.Second)) || b.LinkLocal() != sd.LinkLocal {
		t.Fatalf("after DAD %+v", b)
	}
	if count[InstallBinding](acts) != 1 {
		t.Fatalf("want InstallBinding: %#v", acts)
	}
	// A move of an existing binding needs no DAD: the BA comes at once.
	wantStatus(t, c.HandleBU(at(2*time.Second), bu(mr1, coa2, 7, mrReg, 400*time.Second)), 0)
	if c.Counters()[CtrDADStarted] != 1 {
		t.Fatal("DAD ran for a move")
	}
}

func TestDADFailure(t *testing.T) {
	c := newCore(t, func(cfg *Config) { cfg.DAD = true })
	c.HandleBU(t0, bu(mr1, coa1, 5, mrReg, 400*time.Second))
	acts := c.HandleDADResult(at(time.Second), mr1, false)
	ba := wantStatus(t, acts, mh.StatusDADFailed)
	if len(acts) != 1 || ba.BA.Sequence != 5 {
		t.Fatalf("134: %#v", acts)
	}
	b, _ := c.Lookup(mr1)
	if b.State != StateDeleting || b.LastStatus != 134 {
		t.Fatalf("after 134: %+v", b)
	}
	// The same BU again meets the sequence check.
	wantStatus(t, c.HandleBU(at(2*time.Second), bu(mr1, coa1, 5, mrReg, 400*time.Second)), 135)
	c.Tick(at(11 * time.Second))
	if _, ok := c.Lookup(mr1); ok {
		t.Fatal("entry survived MaxDeleteBCETimeout")
	}
}

func TestDADTimeoutAndReconfiguredMeanwhile(t *testing.T) {
	c := newCore(t, func(cfg *Config) { cfg.DAD = true })
	c.HandleBU(t0, bu(mr1, coa1, 5, mrReg, 400*time.Second))
	if d, ok := c.NextDeadline(); !ok || !d.Equal(at(DefaultDADTimeout)) {
		t.Fatalf("DAD deadline %v %v", d, ok)
	}
	if acts := c.Tick(at(DefaultDADTimeout)); len(acts) != 0 {
		t.Fatalf("DAD timeout must not answer: %#v", acts)
	}
	if c.Counters()[CtrDADTimeout] != 1 {
		t.Fatal("no dad_timeout count")
	}
	if acts := c.HandleDADResult(at(DefaultDADTimeout+time.Second), mr1, true); acts != nil {
		t.Fatalf("late DAD result answered: %#v", acts)
	}
	// A fresh BU starts DAD again; the router is removed from the
	// configuration while DAD runs: the result is then refused.
	c.HandleBU(at(6*time.Second), bu(mr1, coa1, 6, mrReg, 400*time.Second))
	cfg := testConfig()
	cfg.DAD = true
	cfg.Routers = cfg.Routers[1:]
	if _, err := c.Reconfigure(at(6*time.Second), cfg); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, c.HandleDADResult(at(7*time.Second), mr1, true), 129)
	if b, _ := c.Lookup(mr1); b.State != StateDeleting {
		t.Fatalf("refused after DAD: %+v", b)
	}
}

func TestDeregistration(t *testing.T) {
	c := newCore(t, nil)
	register(t, c, t0, mr1, coa1, 10, mrReg)
	// A refresh sent from the visited link just before the router went
	// home is delayed...
	late := bu(mr1, coa1, 11, mrReg, 400*time.Second)
	// ...and the deregistration from home (no HAO, CoA = HoA) arrives first.
	dereg := BURequest{Src: mr1, Dst: haAddr, HomeAddr: mr1,
		BU: mh.BindingUpdate{Sequence: 12, Flags: mrReg, Lifetime: 0,
			Options: []mh.Option{mh.MobileNetworkPrefix{Prefix: mr2MNP}}}} // ignored
	acts := c.HandleBU(at(10*time.Second), dereg)
	if len(acts) != 3 {
		t.Fatalf("dereg: want RemoveBinding, SendBA, BindingsChanged; got %#v", acts)
	}
	rb, ok := acts[0].(RemoveBinding)
	if !ok || rb.Binding.CareOf != coa1 || !slices.Equal(rb.Binding.Prefixes, []netip.Prefix{mr1MNP}) {
		t.Fatalf("RemoveBinding first (proxy ND stops at once): %#v", acts[0])
	}
	ba := wantStatus(t, acts, 0)
	if ba.BA.Lifetime != 0 || ba.BA.Sequence != 12 || ba.To != mr1 || ba.RoutingHome.IsValid() || ba.BA.Flags != mh.BAFlagR {
		t.Fatalf("dereg BA %+v", ba)
	}
	b, _ := c.Lookup(mr1)
	if b.State != StateDeleting || len(b.Prefixes) != 0 {
		t.Fatalf("after dereg %+v", b)
	}
	if d, _ := c.NextDeadline(); !d.Equal(at(10*time.Second + MaxDeleteBCETimeout)) {
		t.Fatalf("deletion deadline %v", d.Sub(t0))
	}
	if got := c.Snapshot(); len(got) != 0 {
		t.Fatalf("a deregistered entry must not be saved: %v", got)
	}
	// The delayed BU meets the sequence check.
	ba = wantStatus(t, c.HandleBU(at(11*time.Second), late), 135)
	if ba.BA.Sequence != 12 {
		t.Fatalf("135 carries %d", ba.BA.Sequence)
	}
	// The deregistration BA was lost: the retransmission gets 0 again.
	dereg.BU.Sequence = 13
	acts = c.HandleBU(at(12*time.Second), dereg)
	wantStatus(t, acts, 0)
	if count[RemoveBinding](acts) != 0 {
		t.Fatalf("second dereg removed again: %#v", acts)
	}
	// Deleted MaxDeleteBCETimeout after the last deregistration.
	c.Tick(at(21 * time.Second))
	if _, ok := c.Lookup(mr1); !ok {
		t.Fatal("deleted too early")
	}
	if acts := c.Tick(at(22 * time.Second)); len(acts) != 0 {
		t.Fatalf("deferred delete acts: %#v", acts)
	}
	if _, ok := c.Lookup(mr1); ok {
		t.Fatal("entry not deleted")
	}
	// Without an entry any sequence number is accepted.
	wantStatus(t, c.HandleBU(at(23*time.Second), bu(mr1, coa2, 1, mrReg, 40*time.Second)), 0)
}

func TestDeregistrationWithLifetimeZeroFromCareOf(t *testing.T) {
	c := newCore(t, nil)
	register(t, c, t0, mr1, coa1, 10, mrReg)
	ba := wantStatus(t, c.HandleBU(at(time.Second), bu(mr1, coa1, 11, mrReg, 0)), 0)
	if ba.To != coa1 || ba.RoutingHome != mr1 {
		t.Fatalf("BA to the care-of address with RH2: %+v", ba)
	}
	// Re-registration inside the 10 s window is a first registration.
	acts := c.HandleBU(at(2*time.Second), bu(mr1, coa2, 12, mrReg, 40*time.Second))
	wantStatus(t, acts, 0)
	if ib, ok := find[InstallBinding](acts); !ok || ib.Previous.HomeAddress.IsValid() {
		t.Fatalf("re-registration: %#v", acts)
	}
}

func TestExpiry(t *testing.T) {
	c := newCore(t, nil)
	if _, ok := c.NextDeadline(); ok {
		t.Fatal("deadline on an empty cache")
	}
	wantStatus(t, c.HandleBU(t0, bu(mr1, coa1, 1, mrReg, 40*time.Second)), 0)
	wantStatus(t, c.HandleBU(at(5*time.Second), bu(mr2, coa2, 1, mrReg, 20*time.Second)), 0)
	d, ok := c.NextDeadline()
	if !ok || !d.Equal(at(25*time.Second)) {
		t.Fatalf("next deadline %v", d.Sub(t0))
	}
	if acts := c.Tick(at(24 * time.Second)); len(acts) != 0 {
		t.Fatalf("early tick: %#v", acts)
	}
	acts := c.Tick(at(25 * time.Second))
	if len(acts) != 2 {
		t.Fatalf("expiry: %#v", acts)
	}
	if rb, ok := acts[0].(RemoveBinding); !ok || rb.Binding.HomeAddress != mr2 {
		t.Fatalf("expiry removes mr2: %#v", acts[0])
	}
	if _, ok := acts[1].(BindingsChanged); !ok {
		t.Fatal("expiry must be saved")
	}
	// A refresh pushes mr1's deadline.
	wantStatus(t, c.HandleBU(at(30*time.Second), bu(mr1, coa1, 2, mrReg, 40*time.Second)), 0)
	if d, _ := c.NextDeadline(); !d.Equal(at(70 * time.Second)) {
		t.Fatalf("after refresh %v", d.Sub(t0))
	}
	if acts := c.Tick(at(40 * time.Second)); len(acts) != 0 {
		t.Fatalf("refreshed binding expired at its old deadline: %#v", acts)
	}
	c.Tick(at(70 * time.Second))
	if c.Len() != 0 || c.Counters()[CtrExpired] != 2 {
		t.Fatalf("len %d, expired %d", c.Len(), c.Counters()[CtrExpired])
	}
	if _, ok := c.NextDeadline(); ok {
		t.Fatal("deadline left after the last expiry")
	}
}

func TestTickOrderManyBindings(t *testing.T) {
	c := newCore(t, func(cfg *Config) { cfg.AllowUnlisted = true; cfg.MaxLifetime = 0 })
	const n = 500
	for i := 0; i < n; i++ {
		// Lifetimes in a scrambled order.
		life := time.Duration(4*(1+(i*7919)%n)) * time.Second
		wantStatus(t, c.HandleBU(t0, bu(hostAddr(i), coa1, 1, homeReg, life)), 0)
	}
	for i := 0; i < n; i += 3 {
		wantStatus(t, c.HandleBU(at(time.Second), bu(hostAddr(i), coa2, 2, homeReg, 8*time.Second)), 0)
	}
	var last time.Time
	removed := 0
	for {
		d, ok := c.NextDeadline()
		if !ok {
			break
		}
		if d.Before(last) {
			t.Fatalf("deadlines out of order: %v after %v", d.Sub(t0), last.Sub(t0))
		}
		last = d
		for _, a := range c.Tick(d) {
			if rb, ok := a.(RemoveBinding); ok {
				removed++
				if !rb.Binding.Expires.Equal(d) {
					t.Fatalf("removed %v at %v, expires %v", rb.Binding.HomeAddress, d.Sub(t0), rb.Binding.Expires.Sub(t0))
				}
			}
		}
	}
	if removed != n || c.Len() != 0 {
		t.Fatalf("removed %d of %d, %d left", removed, n, c.Len())
	}
}

func hostAddr(i int) netip.Addr {
	a := homePfx.Addr().As16()
	a[12], a[13], a[14], a[15] = 0x10, byte(i>>16), byte(i>>8), byte(i)
	return netip.AddrFrom16(a)
}

func TestAuthenticatorHook(t *testing.T) {
	var seen []uint16
	auth := AuthFunc(func(now time.Time, req *BURequest) AuthResult {
		seen = append(seen, req.BU.Sequence)
		return AuthResult{Verdict: AuthAccept, Identity: "mr1@example.com",
			AckOptions: []mh.Option{mh.MobileNodeIdentifier{Subtype: mh.MNIDSubtypeNAI, Identifier: []byte("mr1@example.com")}}}
	})
	c := newCore(t, func(cfg *Config) { cfg.Auth = auth; cfg.DAD = true })
	c.HandleBU(t0, bu(mr1, coa1, 1, mrReg, 40*time.Second))
	ba := wantStatus(t, c.HandleDADResult(at(time.Second), mr1, true), 0)
	if ba.Identity != "mr1@example.com" {
		t.Fatalf("identity %q", ba.Identity)
	}
	if id, n := option[mh.MobileNodeIdentifier](ba.BA.Options); n != 1 || string(id.Identifier) != "mr1@example.com" {
		t.Fatalf("AckOptions not in BA: %#v", ba.BA.Options)
	}
	// 135 goes through authentication first and carries the options too.
	ba = wantStatus(t, c.HandleBU(at(2*time.Second), bu(mr1, coa1, 1, mrReg, 40*time.Second)), 135)
	if _, n := option[mh.MobileNodeIdentifier](ba.BA.Options); n != 1 {
		t.Fatal("135 without MN-ID")
	}
	if b, _ := c.Lookup(mr1); b.Identity != "mr1@example.com" {
		t.Fatalf("binding identity %q", b.Identity)
	}
	if !slices.Equal(seen, []uint16{1, 1}) {
		t.Fatalf("authenticator calls %v", seen)
	}
	// An authentication refusal does not touch the entry.
	c.cfg.Auth = AuthFunc(func(time.Time, *BURequest) AuthResult {
		return AuthResult{Verdict: AuthReject, Status: mh.StatusAuthFail}
	})
	wantStatus(t, c.HandleBU(at(3*time.Second), bu(mr1, coa2, 2, mrReg, 40*time.Second)), 146)
	if b, _ := c.Lookup(mr1); b.LastStatus != 135 || b.CareOf != coa1 {
		t.Fatalf("146 changed the entry: %+v", b)
	}
}

func TestBindingErrors(t *testing.T) {
	c := newCore(t, nil)
	register(t, c, t0, mr1, coa1, 1, mrReg)
	if acts := c.HandleHAOWithoutMH(t0, coa1, mr1); len(acts) != 0 {
		t.Fatalf("HAO matching the binding: %#v", acts)
	}
	acts := c.HandleHAOWithoutMH(t0, coa2, mr1)
	be, ok := find[SendBE](acts)
	if !ok || be.To != coa2 || be.BE.Status != mh.BEUnknownBindingForHoA || be.BE.HomeAddress != mr1 {
		t.Fatalf("BE 1: %#v", acts)
	}
	acts = c.HandleUnknownMHType(t0, coa2, netip.Addr{})
	be, ok = find[SendBE](acts)
	if !ok || be.BE.Status != mh.BEUnrecognizedMHType || be.BE.HomeAddress != netip.IPv6Unspecified() {
		t.Fatalf("BE 2: %#v", acts)
	}
	if acts := c.HandleUnknownMHType(t0, netip.MustParseAddr("ff02::1"), netip.Addr{}); len(acts) != 0 {
		t.Fatal("BE to a multicast source")
	}
	// Rate limit: DefaultBERate in a burst, then one per 1/rate seconds.
	sent := 2
	for i := 0; i < 20; i++ {
		sent += len(c.HandleUnknownMHType(t0, coa2, netip.Addr{}))
	}
	if sent != DefaultBERate {
		t.Fatalf("burst sent %d, want %d", sent, DefaultBERate)
	}
	if c.Counters()[CtrBERateLimited] != 20+2-DefaultBERate {
		t.Fatalf("rate-limited %d", c.Counters()[CtrBERateLimited])
	}
	if n := len(c.HandleUnknownMHType(at(50*time.Millisecond), coa2, netip.Addr{})); n != 0 {
		t.Fatal("refilled too fast")
	}
	if n := len(c.HandleUnknownMHType(at(time.Second/DefaultBERate+time.Millisecond), coa2, netip.Addr{})); n != 1 {
		t.Fatal("not refilled after 1/rate")
	}
}

func TestBindingsAndSnapshotSorted(t *testing.T) {
	c := newCore(t, func(cfg *Config) { cfg.DAD = true })
	c.HandleBU(t0, bu(mr2, coa2, 1, mrReg, 40*time.Second))
	c.HandleBU(t0, bu(mr1, coa1, 1, mrReg, 40*time.Second))
	c.HandleDADResult(t0, mr2, true)
	all := c.Bindings()
	if len(all) != 2 || all[0].HomeAddress != mr1 || all[1].HomeAddress != mr2 ||
		all[0].State != StateDADPending || all[1].State != StateValid {
		t.Fatalf("Bindings %+v", all)
	}
	if s := c.Snapshot(); len(s) != 1 || s[0].HomeAddress != mr2 {
		t.Fatalf("Snapshot %+v", s)
	}
}

func TestCounterNames(t *testing.T) {
	seen := map[string]bool{}
	for i := Counter(0); i < numCounters; i++ {
		n := i.String()
		if n == "" || n == "unknown" || seen[n] {
			t.Fatalf("counter %d name %q", i, n)
		}
		seen[n] = true
	}
	for c, want := range map[Counter]string{CtrBUReceived: "bu_received", CtrDiscardNoHAO: "discard_no_hao",
		CtrRejectAuth: "reject_auth", CtrRejectNotHAForMN: "reject_not_ha_for_mn", CtrReconfigDrop: "reconfig_drop"} {
		if c.String() != want {
			t.Errorf("%d is %q, want %q", c, c.String(), want)
		}
	}
	var cs Counters
	cs[CtrRejectSequence] = 3
	if m := cs.Map(); len(m) != int(numCounters) || m["reject_sequence"] != 3 {
		t.Fatalf("Map %v", m)
	}
	if StateValid.String() != "valid" || StateDeleting.String() != "deleting" || EncapUDP.String() != "udp" {
		t.Fatal("state/encap names")
	}
}

func TestReservedAnycast(t *testing.T) {
	for _, tc := range []struct {
		prefix, addr string
		want         bool
	}{
		{"2001:db8:0:1::/64", "2001:db8:0:1::", true},
		{"2001:db8:0:1::/64", "2001:db8:0:1:fdff:ffff:ffff:ff80", true},
		{"2001:db8:0:1::/64", "2001:db8:0:1:fdff:ffff:ffff:fffe", true},
		{"2001:db8:0:1::/64", "2001:db8:0:1:fdff:ffff:ffff:ff7f", false},
		{"2001:db8:0:1::/64", "2001:db8:0:1:ffff:ffff:ffff:fffe", false},
		{"2001:db8:0:1::/64", "2001:db8:0:1::100", false},
		{"2001:db8:0:100::/56", "2001:db8:0:1ff:ffff:ffff:ffff:ff80", true},
		{"2001:db8:0:100::/56", "2001:db8:0:1ff:ffff:ffff:ffff:fffe", true},
		{"2001:db8:0:100::/56", "2001:db8:0:1fe:ffff:ffff:ffff:fffe", false},
		{"2001:db8:0:100::/56", "2001:db8:0:100::", true},
	} {
		if got := reservedAnycast(netip.MustParsePrefix(tc.prefix), netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("%s in %s: %v, want %v", tc.addr, tc.prefix, got, tc.want)
		}
	}
}
