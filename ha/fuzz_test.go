package ha

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/mh"
)

// fuzzReader hands out bytes, zeros once exhausted.
type fuzzReader struct {
	b []byte
}

func (r *fuzzReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *fuzzReader) u16() uint16 { return uint16(r.byte())<<8 | uint16(r.byte()) }

var (
	fuzzHoAs = []netip.Addr{mr1, mr2, mr3, mn9, hostAddr(1), hostAddr(2), haAddr,
		netip.MustParseAddr("2001:db8:0:2::1"), netip.MustParseAddr("fe80::1"), homePfx.Addr()}
	fuzzCoAs = []netip.Addr{coa1, coa2, mr1, mr2, netip.MustParseAddr("fe80::2"),
		netip.MustParseAddr("ff05::1"), netip.MustParseAddr("::ffff:192.0.2.1")}
	fuzzPrefixes = []netip.Prefix{mr1MNP, mr2MNP, netip.MustParsePrefix("2001:db8:100:1::/64"),
		netip.MustParsePrefix("2001:db8:100::/47"), netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("fe80::/64"), netip.MustParsePrefix("2001:db8:300::/48"), netip.MustParsePrefix("2001:db8:201::/48")}
	fuzzV4 = []netip.Addr{netip.IPv4Unspecified(), mr2V4, netip.MustParseAddr("203.0.113.1"),
		netip.MustParseAddr("203.0.113.6"), netip.MustParseAddr("224.0.0.1"), netip.MustParseAddr("192.0.2.99"),
		mr2V4Pfx.Addr(), netip.MustParseAddr("198.51.100.0")}
	fuzzOuter = []netip.AddrPort{natOuter, netip.MustParseAddrPort("192.0.2.10:4191"),
		netip.MustParseAddrPort("198.51.100.7:40001"), netip.MustParseAddrPort("[::ffff:192.0.2.10]:4191"),
		netip.MustParseAddrPort("0.0.0.0:1")}
)

// decodeBU builds a Binding Update request from fuzz bytes.
func decodeBU(r *fuzzReader) BURequest {
	hoa := fuzzHoAs[int(r.byte())%len(fuzzHoAs)]
	src := fuzzCoAs[int(r.byte())%len(fuzzCoAs)]
	seq := r.u16()
	flags := mh.BUFlags(r.u16())
	life := time.Duration(r.byte()) * 16 * mh.LifetimeUnit / 16
	if b := r.byte(); b&1 != 0 {
		life = time.Duration(int(b)*97) * mh.LifetimeUnit
	}
	shape := r.byte()
	req := BURequest{Src: src, Dst: haAddr, HomeAddr: hoa, HadHAO: true,
		BU: mh.BindingUpdate{Sequence: seq, Flags: flags, Lifetime: life}}
	if shape&1 != 0 { // no HAO: from the home address
		req.Src, req.HadHAO = hoa, false
	}
	if shape&2 != 0 {
		req.Dst = mr1
	}
	nOpts := int(r.byte() % 6)
	for i := 0; i < nOpts; i++ {
		k := r.byte()
		v := int(r.byte())
		var o mh.Option
		switch k % 7 {
		case 0:
			o = mh.AlternateCareOfAddress{Addr: fuzzCoAs[v%len(fuzzCoAs)]}
		case 1, 2:
			o = mh.MobileNetworkPrefix{Prefix: fuzzPrefixes[v%len(fuzzPrefixes)]}
		case 3:
			o = mh.IPv4HomeAddress{Addr: fuzzV4[v%len(fuzzV4)], PrefixLen: uint8(v>>3) % 34, P: k&0x80 != 0}
		case 4:
			o = mh.IPv4CareOfAddress{Addr: fuzzV4[v%len(fuzzV4)]}
		case 5:
			o = mh.NonceIndices{Home: 1, CareOf: 2}
		case 6:
			o = mh.RawOption{Type: mh.OptionType(v), Data: []byte{byte(k)}}
		}
		req.BU.Options = append(req.BU.Options, o)
	}
	if shape&4 != 0 {
		req.UDP = fuzzOuter[int(shape>>3)%len(fuzzOuter)]
		req.Src, req.HadHAO = hoa, false
		if shape&0x80 != 0 {
			req.BU.Options = append(req.BU.Options, mh.IPv4CareOfAddress{Addr: netip.MustParseAddr("192.0.2.10")})
		}
	}
	return req
}

func FuzzHandleBU(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x01, 0, 0, 0, 0, 0x01, 0xc4, 0x00, 0x10, 0x00, 0x00})
	f.Fuzz(fuzzHandleBU)
}

// fuzzHandleBU plays a sequence of events decoded from data against a core
// and checks the invariants after each.
func fuzzHandleBU(t *testing.T, data []byte) {
	r := &fuzzReader{b: data}
	mode := r.byte()
	cfg := testConfig()
	cfg.DAD = mode&1 != 0
	cfg.AllowUnlisted = mode&2 != 0
	cfg.ForceUDP = mode&4 != 0
	cfg.NEMO = mode&8 == 0
	cfg.MaxBindings = int(mode>>4) % 8
	cfg.MaxLifetime = 600 * time.Second
	cfg.Routers[0].Prefixes = []netip.Prefix{netip.MustParsePrefix("2001:db8:100::/47")}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	for steps := 0; len(r.b) > 0 && steps < 200; steps++ {
		now = now.Add(time.Duration(r.byte()) * 250 * time.Millisecond)
		var acts []Action
		op := r.byte()
		switch op % 8 {
		case 0, 1, 2, 3:
			req := decodeBU(r)
			acts = c.HandleBU(now, req)
			checkBUActions(t, c, &req, acts)
		case 4:
			acts = c.HandleDADResult(now, fuzzHoAs[int(r.byte())%len(fuzzHoAs)], op&0x80 == 0)
		case 5:
			acts = c.Tick(now)
			if d, ok := c.NextDeadline(); ok && !d.After(now) {
				t.Fatalf("deadline %v not after the tick", d.Sub(now))
			}
		case 6:
			acts = c.HandleHAOWithoutMH(now, fuzzCoAs[int(r.byte())%len(fuzzCoAs)], fuzzHoAs[int(r.byte())%len(fuzzHoAs)])
		case 7:
			// Restart: a fresh core restores the snapshot.
			c2, err := New(c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			snap := c.Snapshot()
			c2.Restore(now, snap)
			got := c2.Snapshot()
			live := 0
			for _, b := range snap {
				if b.Expires.After(now) {
					live++
				}
			}
			if len(got) > live {
				t.Fatalf("restore made %d bindings of %d live", len(got), live)
			}
			for _, g := range got {
				o, _ := c.Lookup(g.HomeAddress)
				if !forwardingEqual(&o, &g) || o.Sequence != g.Sequence || !o.Expires.Equal(g.Expires) {
					t.Fatalf("restored\n%+v\nfrom\n%+v", g, o)
				}
			}
			checkInvariants(t, c2)
		}
		for _, a := range acts {
			if ib, ok := a.(InstallBinding); ok && ib.Binding.State != StateValid {
				t.Fatalf("installing a %v binding", ib.Binding.State)
			}
		}
		checkInvariants(t, c)
	}
}

// checkBUActions checks what HandleBU answered.
func checkBUActions(t *testing.T, c *Core, req *BURequest, acts []Action) {
	t.Helper()
	nBA, nDiscard, nDAD := count[SendBA](acts), count[Discarded](acts), count[StartDAD](acts)
	if nBA+nDiscard+nDAD != 1 {
		t.Fatalf("want exactly one of BA, discard, DAD: %#v", acts)
	}
	ba, ok := find[SendBA](acts)
	if !ok {
		return
	}
	st := ba.BA.Status
	if st != mh.StatusSequenceOutOfWindow && ba.BA.Sequence != req.BU.Sequence {
		t.Fatalf("BA seq %d, BU seq %d (status %d)", ba.BA.Sequence, req.BU.Sequence, st)
	}
	if st.Accepted() {
		if ba.BA.Lifetime > req.BU.Lifetime || ba.BA.Lifetime > c.cfg.MaxLifetime || ba.BA.Lifetime%mh.LifetimeUnit != 0 {
			t.Fatalf("granted %v for %v (max %v)", ba.BA.Lifetime, req.BU.Lifetime, c.cfg.MaxLifetime)
		}
	} else if ba.BA.Flags != 0 {
		t.Fatalf("refusal with flags %x", ba.BA.Flags)
	}
	if ba.BA.Flags&mh.BAFlagR != 0 && req.BU.Flags&mh.BUFlagR == 0 {
		t.Fatal("BA R without BU R")
	}
	_, nNAT := option[mh.NATDetection](ba.BA.Options)
	if req.UDP.IsValid() != (nNAT == 1) || nNAT > 1 || req.UDP.IsValid() != ba.Via.IsValid() {
		t.Fatalf("UDP %v: %d NAT Detection options, via %v", req.UDP, nNAT, ba.Via)
	}
	_, nHoA := option[mh.IPv4HomeAddress](req.BU.Options)
	if _, nAck := option[mh.IPv4AddressAck](ba.BA.Options); nAck != nHoA {
		t.Fatalf("%d IPv4 HoA options, %d acks", nHoA, nAck)
	}
	if ba.RoutingHome.IsValid() && (ba.To == req.HomeAddr || ba.RoutingHome != req.HomeAddr) {
		t.Fatalf("RH2 %v to %v", ba.RoutingHome, ba.To)
	}
}

// checkInvariants checks the cache, the heap and the pool agree.
func checkInvariants(t *testing.T, c *Core) {
	t.Helper()
	if err := invariantError(c); err != nil {
		t.Fatal(err)
	}
}

func invariantError(c *Core) error {
	if len(c.heap) != len(c.cache) {
		return fmt.Errorf("heap %d, cache %d", len(c.heap), len(c.cache))
	}
	if c.cfg.MaxBindings > 0 && len(c.cache) > c.cfg.MaxBindings {
		return fmt.Errorf("%d entries, max %d", len(c.cache), c.cfg.MaxBindings)
	}
	for i, e := range c.heap {
		if int(e.hidx) != i {
			return fmt.Errorf("heap index %d stored as %d", i, e.hidx)
		}
		if i > 0 && e.b.Expires.Before(c.heap[(i-1)/2].b.Expires) {
			return fmt.Errorf("heap order broken at %d", i)
		}
		if c.cache[e.b.HomeAddress] != e {
			return fmt.Errorf("heap entry %v not in the cache", e.b.HomeAddress)
		}
	}
	var valid []*Binding
	v4 := map[netip.Addr]netip.Addr{}
	for hoa, e := range c.cache {
		b := &e.b
		if b.HomeAddress != hoa {
			return fmt.Errorf("key %v holds %v", hoa, b.HomeAddress)
		}
		if (e.pending != nil) != (b.State == StateDADPending) {
			return fmt.Errorf("%v: pending %v in state %v", hoa, e.pending != nil, b.State)
		}
		if b.State != StateValid {
			if len(b.Prefixes) != 0 || len(b.IPv4Prefixes) != 0 || b.IPv4HomeAddress.IsValid() {
				return fmt.Errorf("%v: %v entry forwards %+v", hoa, b.State, b)
			}
			continue
		}
		valid = append(valid, b)
		if !c.cfg.HomePrefix.Contains(hoa) || hoa == c.cfg.Address || b.Flags&mh.BUFlagH == 0 {
			return fmt.Errorf("%v: not a home registration for this home agent: %+v", hoa, b)
		}
		rc := c.routers[hoa]
		if b.Router() && (rc == nil || !c.cfg.NEMO) {
			return fmt.Errorf("%v: router binding without configuration", hoa)
		}
		for _, p := range b.Prefixes {
			if rc == nil || !coveredBy(p, rc.Prefixes) {
				return fmt.Errorf("%v: prefix %v not allowed", hoa, p)
			}
		}
		switch b.Encap {
		case EncapIP6IP6:
			if !unicast6(b.CareOf) || b.UDP.IsValid() || b.NAT {
				return fmt.Errorf("%v: bad IPv6 path %+v", hoa, b)
			}
		case EncapIP6IP4, EncapUDP:
			if !unicast4(b.CareOf) || !unicast4(b.UDP.Addr()) || (b.NAT && b.Encap != EncapUDP) {
				return fmt.Errorf("%v: bad IPv4 path %+v", hoa, b)
			}
		default:
			return fmt.Errorf("%v: encap %v", hoa, b.Encap)
		}
		if a := b.IPv4HomeAddress; a.IsValid() {
			if o, dup := v4[a]; dup {
				return fmt.Errorf("IPv4 HoA %v bound to %v and %v", a, o, hoa)
			}
			v4[a] = hoa
			static := rc != nil && rc.IPv4HomeAddress == a
			if h, ok := c.pool.holder(a); !static && (!ok || h != hoa) {
				return fmt.Errorf("%v: IPv4 HoA %v neither static nor leased", hoa, a)
			}
		}
		for _, p := range b.IPv4Prefixes {
			if rc == nil || !containsPrefix(rc.IPv4Prefixes, p) {
				return fmt.Errorf("%v: IPv4 prefix %v not allowed", hoa, p)
			}
		}
	}
	for i, a := range valid {
		for _, b := range valid[i+1:] {
			for _, p := range a.Prefixes {
				for _, q := range b.Prefixes {
					if p.Overlaps(q) {
						return fmt.Errorf("%v and %v both route %v/%v", a.HomeAddress, b.HomeAddress, p, q)
					}
				}
			}
		}
	}
	if c.pool != nil {
		for u, hoa := range c.pool.leases {
			if v4[u32v4(u)] != hoa {
				return fmt.Errorf("lease %v → %v leaked", u32v4(u), hoa)
			}
		}
		if want := int(c.pool.last-c.pool.first+1) - len(c.pool.reserved) - len(c.pool.leases); c.pool.free != want {
			return fmt.Errorf("pool free %d, want %d", c.pool.free, want)
		}
	}
	return nil
}
