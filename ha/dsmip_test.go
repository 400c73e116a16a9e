package ha

import (
	"net/netip"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/mh"
)

var (
	privCoA  = netip.MustParseAddr("192.0.2.10")             // behind the NAT
	natOuter = netip.MustParseAddrPort("198.51.100.7:40000") // the NAT's public side
)

func natOpt(t *testing.T, ba SendBA) mh.NATDetection {
	t.Helper()
	nd, n := option[mh.NATDetection](ba.BA.Options)
	if n != 1 {
		t.Fatalf("BA for a UDP BU must carry one NAT Detection option, has %d: %#v", n, ba.BA.Options)
	}
	return nd
}

func TestNATDetected(t *testing.T) {
	c := newCore(t, nil)
	acts := c.HandleBU(t0, udpBU(mr1, privCoA, natOuter, 1, mrReg, 400*time.Second))
	ba := wantStatus(t, acts, 0)
	if ba.Via != natOuter || ba.To != mr1 || ba.RoutingHome.IsValid() || ba.CareOf != privCoA {
		t.Fatalf("BA addressing %+v", ba)
	}
	if nd := natOpt(t, ba); nd.Refresh != uint32(NATKeepaliveTimeout/time.Second) || nd.F {
		t.Fatalf("NAT detection %+v", nd)
	}
	ib, _ := find[InstallBinding](acts)
	b := ib.Binding
	if !b.NAT || b.Encap != EncapUDP || b.UDP != natOuter || b.CareOf != privCoA {
		t.Fatalf("binding %+v", b)
	}
	if c.Counters()[CtrNATDetected] != 1 {
		t.Fatal("nat_detected not counted")
	}

	// NAT rebinding: new port, then a new public address. The binding
	// follows without being removed.
	for i, outer := range []netip.AddrPort{
		netip.MustParseAddrPort("198.51.100.7:40001"),
		netip.MustParseAddrPort("203.0.113.9:5555"),
	} {
		acts = c.HandleBU(at(time.Duration(i+1)*time.Second), udpBU(mr1, privCoA, outer, uint16(2+i), mrReg, 400*time.Second))
		ba = wantStatus(t, acts, 0)
		if ba.Via != outer {
			t.Fatalf("BA via %v, want %v", ba.Via, outer)
		}
		if count[RemoveBinding](acts) != 0 {
			t.Fatalf("rebinding dropped the binding: %#v", acts)
		}
		ib, ok := find[InstallBinding](acts)
		if !ok || ib.Binding.UDP != outer || !ib.Previous.UDP.IsValid() || ib.Previous.UDP == outer {
			t.Fatalf("rebinding install: %#v", acts)
		}
	}
	if c.Counters()[CtrMoved] != 2 {
		t.Fatalf("moved %d", c.Counters()[CtrMoved])
	}
	// A NAT Detection option in a refusal sent over UDP too.
	ba = wantStatus(t, c.HandleBU(at(5*time.Second), udpBU(mr1, privCoA, natOuter, 1, mrReg, 400*time.Second)), 135)
	if ba.Via != natOuter {
		t.Fatalf("135 via %v", ba.Via)
	}
	natOpt(t, ba)
}

func TestNATConfiguredKeepalive(t *testing.T) {
	c := newCore(t, func(cfg *Config) { cfg.NATKeepalive = 25 * time.Second })
	ba := wantStatus(t, c.HandleBU(t0, udpBU(mr1, privCoA, natOuter, 1, mrReg, 400*time.Second)), 0)
	if nd := natOpt(t, ba); nd.Refresh != 25 {
		t.Fatalf("refresh %d", nd.Refresh)
	}
}

func TestNoNAT(t *testing.T) {
	public := netip.MustParseAddr("198.51.100.20")
	outer := netip.AddrPortFrom(public, 4191)
	for _, tc := range []struct {
		name      string
		force     bool
		flags     mh.BUFlags
		wantEncap Encap
		wantF     bool
	}{
		{"protocol 41", false, mrReg, EncapIP6IP4, false},
		{"F from the mobile router", false, mrReg | mh.BUFlagF, EncapUDP, true},
		{"forced by configuration", true, mrReg, EncapUDP, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCore(t, func(cfg *Config) { cfg.ForceUDP = tc.force })
			acts := c.HandleBU(t0, udpBU(mr1, public, outer, 1, tc.flags, 400*time.Second))
			ba := wantStatus(t, acts, 0)
			nd := natOpt(t, ba)
			if nd.Refresh != mh.NATRefreshNotNeeded || nd.F != tc.wantF {
				t.Fatalf("NAT detection %+v", nd)
			}
			ib, _ := find[InstallBinding](acts)
			if ib.Binding.NAT || ib.Binding.Encap != tc.wantEncap || ib.Binding.CareOf != public || ib.Binding.UDP != outer {
				t.Fatalf("binding %+v", ib.Binding)
			}
			// v4-mapped outer addresses are the same thing.
			mapped := netip.AddrPortFrom(netip.AddrFrom16(public.As16()), 4191)
			acts = c.HandleBU(at(time.Second), udpBU(mr1, public, mapped, 2, tc.flags, 400*time.Second))
			if ba := wantStatus(t, acts, 0); ba.Via != outer {
				t.Fatalf("mapped outer: via %v", ba.Via)
			}
			if count[InstallBinding](acts) != 0 {
				t.Fatal("v4-mapped outer source looked like a move")
			}
		})
	}
}

func TestFOverIPv6Ignored(t *testing.T) {
	c := newCore(t, nil)
	acts := c.HandleBU(t0, bu(mr1, coa1, 1, mrReg|mh.BUFlagF, 40*time.Second, mh.IPv4CareOfAddress{Addr: privCoA}))
	ba := wantStatus(t, acts, 0)
	if _, n := option[mh.NATDetection](ba.BA.Options); n != 0 || ba.Via.IsValid() {
		t.Fatalf("BA over IPv6 got DSMIPv6 bits: %+v", ba)
	}
	if ib, _ := find[InstallBinding](acts); ib.Binding.Encap != EncapIP6IP6 || ib.Binding.CareOf != coa1 {
		t.Fatalf("binding %+v", ib.Binding)
	}
}

func v4opt(addr string, plen uint8, p bool) mh.IPv4HomeAddress {
	return mh.IPv4HomeAddress{Addr: netip.MustParseAddr(addr), PrefixLen: plen, P: p}
}

func ipv4Acks(t *testing.T, ba SendBA) []mh.IPv4AddressAck {
	t.Helper()
	var out []mh.IPv4AddressAck
	for _, o := range ba.BA.Options {
		if a, ok := o.(mh.IPv4AddressAck); ok {
			out = append(out, a)
		}
	}
	return out
}

func TestIPv4HomeAddressPool(t *testing.T) {
	c := newCore(t, nil)
	// mr1 has no static address: the pool gives the first usable one.
	acts := c.HandleBU(t0, udpBU(mr1, privCoA, natOuter, 1, mrReg, 400*time.Second, v4opt("0.0.0.0", 32, false)))
	acks := ipv4Acks(t, wantStatus(t, acts, 0))
	// 203.0.113.0 is the network address: .1 comes first.
	want := mh.IPv4AddressAck{Status: 0, PrefixLen: 32, Addr: netip.MustParseAddr("203.0.113.1")}
	if len(acks) != 1 || acks[0] != want {
		t.Fatalf("acks %+v, want %+v", acks, want)
	}
	if b, _ := c.Lookup(mr1); b.IPv4HomeAddress != want.Addr {
		t.Fatalf("binding IPv4 HoA %v", b.IPv4HomeAddress)
	}
	// A refresh names the address it got; and 0.0.0.0 again gives the same.
	acks = ipv4Acks(t, wantStatus(t, c.HandleBU(at(time.Second), udpBU(mr1, privCoA, natOuter, 2, mrReg, 400*time.Second, v4opt("203.0.113.1", 32, false))), 0))
	if len(acks) != 1 || acks[0] != want {
		t.Fatalf("refresh acks %+v", acks)
	}
	acks = ipv4Acks(t, wantStatus(t, c.HandleBU(at(time.Second), udpBU(mr1, privCoA, natOuter, 3, mrReg, 400*time.Second, v4opt("0.0.0.0", 32, false))), 0))
	if len(acks) != 1 || acks[0] != want {
		t.Fatalf("repeated dynamic request acks %+v", acks)
	}
	// Another node (unlisted, allowed) may not claim it: 130.
	c.cfg.AllowUnlisted = true
	acks = ipv4Acks(t, wantStatus(t, c.HandleBU(t0, bu(mn9, coa2, 1, homeReg, 40*time.Second, v4opt("203.0.113.1", 32, false))), 0))
	if len(acks) != 1 || acks[0].Status != mh.IPv4AckIncorrectHoA || acks[0].PrefixLen != 0 || acks[0].Addr != want.Addr {
		t.Fatalf("someone else's address: %+v", acks)
	}
	if b, _ := c.Lookup(mn9); b.IPv4HomeAddress.IsValid() {
		t.Fatal("IPv4 binding made on failure")
	}
	// A BU without the option removes mr1's IPv4 binding and frees the
	// address for others.
	acts = c.HandleBU(at(2*time.Second), udpBU(mr1, privCoA, natOuter, 4, mrReg, 400*time.Second))
	if acks := ipv4Acks(t, wantStatus(t, acts, 0)); len(acks) != 0 {
		t.Fatalf("Ack without an IPv4 HoA option: %+v", acks)
	}
	ib, ok := find[InstallBinding](acts)
	if !ok || ib.Binding.IPv4HomeAddress.IsValid() || ib.Previous.IPv4HomeAddress != want.Addr {
		t.Fatalf("IPv4 removal: %#v", acts)
	}
	acks = ipv4Acks(t, wantStatus(t, c.HandleBU(at(3*time.Second), bu(mn9, coa2, 2, homeReg, 40*time.Second, v4opt("203.0.113.1", 32, false))), 0))
	if len(acks) != 1 || acks[0] != want {
		t.Fatalf("freed address not available: %+v", acks)
	}
	// mr1 asking for it back now gets 130.
	acks = ipv4Acks(t, wantStatus(t, c.HandleBU(at(4*time.Second), udpBU(mr1, privCoA, natOuter, 5, mrReg, 400*time.Second, v4opt("203.0.113.1", 32, false))), 0))
	if len(acks) != 1 || acks[0].Status != mh.IPv4AckIncorrectHoA {
		t.Fatalf("taken address: %+v", acks)
	}
}

func TestIPv4PoolExhaustion(t *testing.T) {
	c := newCore(t, func(cfg *Config) { cfg.AllowUnlisted = true })
	// 203.0.113.0/29: .1 to .6 usable.
	got := map[netip.Addr]bool{}
	for i := 0; i < 7; i++ {
		acks := ipv4Acks(t, wantStatus(t, c.HandleBU(t0, bu(hostAddr(i), coa1, 1, homeReg, 40*time.Second, v4opt("0.0.0.0", 32, false))), 0))
		if len(acks) != 1 {
			t.Fatalf("acks %+v", acks)
		}
		if i < 6 {
			if acks[0].Status != 0 || !v4Pool.Contains(acks[0].Addr) || got[acks[0].Addr] ||
				acks[0].Addr == v4Pool.Addr() || acks[0].Addr == netip.MustParseAddr("203.0.113.7") {
				t.Fatalf("allocation %d: %+v (have %v)", i, acks[0], got)
			}
			got[acks[0].Addr] = true
		} else if acks[0].Status != mh.IPv4AckDynamicNotAvailable || acks[0].PrefixLen != 0 {
			t.Fatalf("exhausted pool: %+v", acks[0])
		}
	}
	// Expiry returns the addresses.
	c.Tick(at(40 * time.Second))
	acks := ipv4Acks(t, wantStatus(t, c.HandleBU(at(41*time.Second), bu(hostAddr(9), coa1, 1, homeReg, 40*time.Second, v4opt("0.0.0.0", 32, false))), 0))
	if acks[0].Status != 0 {
		t.Fatalf("after expiry %+v", acks[0])
	}
}

func TestIPv4AckStatuses(t *testing.T) {
	noPool := func(cfg *Config) { cfg.IPv4Pool = netip.Prefix{} }
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		hoa  netip.Addr
		opts []mh.Option
		want []mh.IPv4AddressAck
	}{
		{"static on dynamic request", nil, mr2, []mh.Option{v4opt("0.0.0.0", 32, false)},
			[]mh.IPv4AddressAck{{Status: 0, PrefixLen: 32, Addr: mr2V4}}},
		{"static confirmed", nil, mr2, []mh.Option{v4opt("192.0.2.200", 32, false)},
			[]mh.IPv4AddressAck{{Status: 0, PrefixLen: 32, Addr: mr2V4}}},
		{"prefix-len overridden to 32", nil, mr2, []mh.Option{v4opt("192.0.2.200", 24, false)},
			[]mh.IPv4AddressAck{{Status: 0, PrefixLen: 32, Addr: mr2V4}}},
		{"address and prefix", nil, mr2, []mh.Option{v4opt("0.0.0.0", 32, false), v4opt("0.0.0.0", 28, true)},
			[]mh.IPv4AddressAck{{Status: 0, PrefixLen: 32, Addr: mr2V4}, {Status: 0, PrefixLen: 28, Addr: mr2V4Pfx.Addr()}}},
		{"named prefix", nil, mr2, []mh.Option{v4opt("198.51.100.128", 28, true)},
			[]mh.IPv4AddressAck{{Status: 0, PrefixLen: 28, Addr: mr2V4Pfx.Addr()}}},
		{"129 second address", nil, mr2, []mh.Option{v4opt("0.0.0.0", 32, false), v4opt("0.0.0.0", 32, false)},
			[]mh.IPv4AddressAck{{Status: 0, PrefixLen: 32, Addr: mr2V4}, {Status: 129, Addr: netip.IPv4Unspecified()}}},
		{"129 no IPv4 service", noPool, mr1, []mh.Option{v4opt("192.0.2.99", 32, false)},
			[]mh.IPv4AddressAck{{Status: 129, Addr: netip.MustParseAddr("192.0.2.99")}}},
		{"130 another router's static address", nil, mr1, []mh.Option{v4opt("192.0.2.200", 32, false)},
			[]mh.IPv4AddressAck{{Status: 130, Addr: mr2V4}}},
		{"130 not this router's", nil, mr2, []mh.Option{v4opt("192.0.2.99", 32, false)},
			[]mh.IPv4AddressAck{{Status: 130, Addr: netip.MustParseAddr("192.0.2.99")}}},
		{"130 pool address for a router with a static one", nil, mr2, []mh.Option{v4opt("203.0.113.3", 32, false)},
			[]mh.IPv4AddressAck{{Status: 130, Addr: netip.MustParseAddr("203.0.113.3")}}},
		{"131 multicast", nil, mr1, []mh.Option{v4opt("224.0.0.1", 32, false)},
			[]mh.IPv4AddressAck{{Status: 131, Addr: netip.MustParseAddr("224.0.0.1")}}},
		{"131 prefix-len 0", nil, mr1, []mh.Option{v4opt("0.0.0.0", 0, false)},
			[]mh.IPv4AddressAck{{Status: 131, Addr: netip.IPv4Unspecified()}}},
		{"132 no pool", noPool, mr1, []mh.Option{v4opt("0.0.0.0", 32, false)},
			[]mh.IPv4AddressAck{{Status: 132, Addr: netip.IPv4Unspecified()}}},
		{"133 prefix without configured prefixes", nil, mr1, []mh.Option{v4opt("0.0.0.0", 24, true)},
			[]mh.IPv4AddressAck{{Status: 133, Addr: netip.IPv4Unspecified()}}},
		{"133 prefix not this router's", nil, mr2, []mh.Option{v4opt("198.51.100.0", 28, true)},
			[]mh.IPv4AddressAck{{Status: 133, Addr: netip.MustParseAddr("198.51.100.0")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCore(t, tc.mod)
			acts := c.HandleBU(t0, udpBU(tc.hoa, privCoA, natOuter, 1, mrReg, 400*time.Second, tc.opts...))
			acks := ipv4Acks(t, wantStatus(t, acts, 0))
			if len(acks) != len(tc.want) {
				t.Fatalf("acks %+v, want %+v", acks, tc.want)
			}
			for i := range acks {
				if acks[i] != tc.want[i] {
					t.Fatalf("ack %d = %+v, want %+v", i, acks[i], tc.want[i])
				}
			}
			b, _ := c.Lookup(tc.hoa)
			var wantAddr netip.Addr
			var wantPfx []netip.Prefix
			for i, o := range tc.opts {
				if tc.want[i].Status >= 128 {
					continue
				}
				if o.(mh.IPv4HomeAddress).P {
					wantPfx = append(wantPfx, netip.PrefixFrom(tc.want[i].Addr, int(tc.want[i].PrefixLen)))
				} else {
					wantAddr = tc.want[i].Addr
				}
			}
			if b.IPv4HomeAddress != wantAddr || !prefixSetEqual(b.IPv4Prefixes, wantPfx) {
				t.Fatalf("binding IPv4 state %v %v, want %v %v", b.IPv4HomeAddress, b.IPv4Prefixes, wantAddr, wantPfx)
			}
		})
	}
}

func TestIPv4AckOnRefusalAndDeregistration(t *testing.T) {
	c := newCore(t, nil)
	// 142 with an IPv4 HoA option: the Ack is there, with 128.
	ba := wantStatus(t, c.HandleBU(t0, udpBU(mr2, privCoA, natOuter, 1, mrReg, 400*time.Second,
		mh.MobileNetworkPrefix{Prefix: mr1MNP}, v4opt("0.0.0.0", 32, false))), 142)
	acks := ipv4Acks(t, ba)
	if len(acks) != 1 || acks[0].Status != mh.IPv4AckFailure || acks[0].PrefixLen != 0 {
		t.Fatalf("refusal acks %+v", acks)
	}
	natOpt(t, ba)
	wantStatus(t, c.HandleBU(t0, udpBU(mr2, privCoA, natOuter, 2, mrReg, 400*time.Second, v4opt("0.0.0.0", 32, false))), 0)
	acts := c.HandleBU(t0, udpBU(mr2, privCoA, natOuter, 3, mrReg, 0, v4opt("192.0.2.200", 32, false)))
	acks = ipv4Acks(t, wantStatus(t, acts, 0))
	if len(acks) != 1 || acks[0].Status != mh.IPv4AckFailure {
		t.Fatalf("dereg acks %+v", acks)
	}
	if rb, ok := find[RemoveBinding](acts); !ok || rb.Binding.IPv4HomeAddress != mr2V4 {
		t.Fatalf("dereg removes the IPv4 binding too: %#v", acts)
	}
}
