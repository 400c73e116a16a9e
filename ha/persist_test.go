package ha

import (
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/mh"
)

// saveAndLoad passes bindings through JSON, as a state file would: the
// times lose their monotonic reading.
func saveAndLoad(t *testing.T, bs []Binding) []Binding {
	t.Helper()
	data, err := json.Marshal(bs)
	if err != nil {
		t.Fatal(err)
	}
	var out []Binding
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRestore(t *testing.T) {
	a := newCore(t, func(cfg *Config) { cfg.AllowUnlisted = true })
	wantStatus(t, a.HandleBU(t0, bu(mr1, coa1, 1, mrReg, 100*time.Second)), 0)
	wantStatus(t, a.HandleBU(t0, udpBU(mr2, privCoA, natOuter, 1, mrReg, 1000*time.Second,
		mh.MobileNetworkPrefix{Prefix: mr2MNP}, v4opt("0.0.0.0", 32, false))), 0)
	wantStatus(t, a.HandleBU(t0, bu(mn9, coa2, 1, homeReg, 1000*time.Second, v4opt("0.0.0.0", 32, false))), 0)
	wantStatus(t, a.HandleBU(t0, bu(mr3, coa2, 1, homeReg, 0)), 133) // nothing saved for it
	saved := saveAndLoad(t, a.Snapshot())
	if len(saved) != 3 {
		t.Fatalf("snapshot %d bindings", len(saved))
	}

	// Restart 200 s later: mr1 has expired meanwhile.
	now := time.Now().Add(200 * time.Second)
	b := newCore(t, func(cfg *Config) { cfg.AllowUnlisted = true })
	acts := b.Restore(now, saved)
	if count[InstallBinding](acts) != 2 || count[BindingsChanged](acts) != 1 {
		t.Fatalf("restore actions %#v", acts)
	}
	if _, ok := b.Lookup(mr1); ok {
		t.Fatal("expired binding restored")
	}
	r2, ok := b.Lookup(mr2)
	if !ok || r2.State != StateValid || r2.UDP != natOuter || r2.Encap != EncapUDP || !r2.NAT ||
		!slices.Equal(r2.Prefixes, []netip.Prefix{mr2MNP}) || !r2.Explicit || r2.IPv4HomeAddress != mr2V4 {
		t.Fatalf("restored mr2 %+v", r2)
	}
	// The deadline is rebased on the monotonic clock: about 800 s left.
	left := r2.Expires.Sub(now)
	if left < 795*time.Second || left > 805*time.Second {
		t.Fatalf("remaining lifetime %v", left)
	}
	if d, ok := b.NextDeadline(); !ok || !d.Equal(r2.Expires) {
		t.Fatalf("deadline %v", d)
	}
	// The pool lease came back: nobody else gets mn9's address.
	r9, _ := b.Lookup(mn9)
	if !v4Pool.Contains(r9.IPv4HomeAddress) {
		t.Fatalf("mn9 IPv4 %v", r9.IPv4HomeAddress)
	}
	acks := ipv4Acks(t, wantStatus(t, b.HandleBU(now, bu(mr1, coa1, 1, mrReg, 40*time.Second, v4opt(r9.IPv4HomeAddress.String(), 32, false))), 0))
	if acks[0].Status != mh.IPv4AckIncorrectHoA {
		t.Fatalf("restored lease not held: %+v", acks)
	}
	// The sequence number survives: an old BU meets 135.
	wantStatus(t, b.HandleBU(now, udpBU(mr2, privCoA, natOuter, 1, mrReg, 40*time.Second)), 135)
	// Expiry still works on restored bindings.
	b.Tick(now.Add(801 * time.Second))
	if _, ok := b.Lookup(mr2); ok {
		t.Fatal("restored binding never expired")
	}
}

func TestRestoreDropsDisallowed(t *testing.T) {
	a := newCore(t, func(cfg *Config) { cfg.AllowUnlisted = true })
	register(t, a, t0, mr1, coa1, 1, mrReg)
	register(t, a, t0, mn9, coa2, 1, homeReg)
	saved := a.Snapshot()
	saved = append(saved, Binding{HomeAddress: mr3, State: StateDeleting, Flags: homeReg, Expires: at(time.Hour)})
	// A corrupt entry: IPv6 encapsulation to an IPv4 care-of address.
	saved = append(saved, Binding{HomeAddress: hostAddr(1), CareOf: privCoA, Encap: EncapIP6IP6,
		State: StateValid, Flags: homeReg, Expires: at(time.Hour)})
	b := newCore(t, nil) // mn9 is no longer allowed
	acts := b.Restore(at(time.Second), saved)
	if count[InstallBinding](acts) != 1 || b.Len() != 1 {
		t.Fatalf("restore: %#v", acts)
	}
	if _, ok := b.Lookup(mr1); !ok {
		t.Fatal("mr1 not restored")
	}
	if b.Counters()[CtrReconfigDrop] != 2 {
		t.Fatalf("reconfig_drop %d", b.Counters()[CtrReconfigDrop])
	}
}

func TestReconfigure(t *testing.T) {
	cfg := testConfig()
	cfg.Routers[0].Prefixes = []netip.Prefix{netip.MustParsePrefix("2001:db8:100::/40")}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p1 := netip.MustParsePrefix("2001:db8:101::/48")
	p2 := netip.MustParsePrefix("2001:db8:1ff::/48")
	register(t, c, t0, mr1, coa1, 1, mrReg, mh.MobileNetworkPrefix{Prefix: p1}, mh.MobileNetworkPrefix{Prefix: p2})
	register(t, c, t0, mr2, coa2, 1, mrReg) // implicit
	register(t, c, t0, mr3, coa2, 1, homeReg)

	// Invalid configuration: error, nothing changes.
	bad := cfg
	bad.MaxLifetime = time.Second
	if _, err := c.Reconfigure(at(time.Second), bad); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("invalid config accepted: %v", err)
	}
	if c.cfg.MaxLifetime != 3600*time.Second {
		t.Fatal("failed Reconfigure changed the configuration")
	}

	// mr1's allowed prefix shrinks, mr2's configured prefix changes, mr3
	// disappears, and the lifetime cap drops to 100 s.
	newMR2 := netip.MustParsePrefix("2001:db8:202::/48")
	cfg2 := testConfig()
	cfg2.MaxLifetime = 100 * time.Second
	cfg2.Routers = []RouterConfig{
		{HomeAddress: mr1, Prefixes: []netip.Prefix{netip.MustParsePrefix("2001:db8:100::/44")}},
		{HomeAddress: mr2, Prefixes: []netip.Prefix{newMR2}},
	}
	acts, err := c.Reconfigure(at(10*time.Second), cfg2)
	if err != nil {
		t.Fatal(err)
	}
	var installs []InstallBinding
	var removes []RemoveBinding
	for _, a := range acts {
		switch v := a.(type) {
		case InstallBinding:
			installs = append(installs, v)
		case RemoveBinding:
			removes = append(removes, v)
		}
	}
	if len(installs) != 2 || len(removes) != 1 || count[BindingsChanged](acts) != 1 {
		t.Fatalf("reconfigure actions %#v", acts)
	}
	if installs[0].Binding.HomeAddress != mr1 || !slices.Equal(installs[0].Binding.Prefixes, []netip.Prefix{p1}) ||
		!slices.Equal(installs[0].Previous.Prefixes, []netip.Prefix{p1, p2}) {
		t.Fatalf("mr1 trimmed: %+v", installs[0])
	}
	if installs[1].Binding.HomeAddress != mr2 || !slices.Equal(installs[1].Binding.Prefixes, []netip.Prefix{newMR2}) {
		t.Fatalf("mr2 implicit: %+v", installs[1])
	}
	if removes[0].Binding.HomeAddress != mr3 {
		t.Fatalf("removed %+v", removes[0])
	}
	b, _ := c.Lookup(mr2)
	if !b.Expires.Equal(at(110 * time.Second)) {
		t.Fatalf("lifetime not capped: %v", b.Expires.Sub(t0))
	}
	if d, _ := c.NextDeadline(); !d.Equal(at(110 * time.Second)) {
		t.Fatalf("heap not updated: %v", d.Sub(t0))
	}
	// Unchanged configuration: no actions.
	if acts, _ := c.Reconfigure(at(11*time.Second), cfg2); len(acts) != 0 {
		t.Fatalf("no-op reconfigure: %#v", acts)
	}
	// NEMO off removes the routers.
	cfg2.NEMO = false
	acts, _ = c.Reconfigure(at(12*time.Second), cfg2)
	if count[RemoveBinding](acts) != 2 || c.Len() != 0 {
		t.Fatalf("NEMO off: %#v", acts)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
	}{
		{"no home prefix", func(c *Config) { c.HomePrefix = netip.Prefix{} }},
		{"IPv4 home prefix", func(c *Config) { c.HomePrefix = netip.MustParsePrefix("192.0.2.0/24") }},
		{"unmasked home prefix", func(c *Config) { c.HomePrefix = netip.MustParsePrefix("2001:db8:0:1::5/64") }},
		{"address outside", func(c *Config) { c.Address = coa1 }},
		{"lifetime below a unit", func(c *Config) { c.MaxLifetime = 3 * time.Second }},
		{"lifetime too long", func(c *Config) { c.MaxLifetime = mh.MaxLifetime + 4*time.Second }},
		{"negative max bindings", func(c *Config) { c.MaxBindings = -1 }},
		{"fractional keepalive", func(c *Config) { c.NATKeepalive = 1500 * time.Millisecond }},
		{"IPv6 pool", func(c *Config) { c.IPv4Pool = homePfx }},
		{"router outside home", func(c *Config) { c.Routers[0].HomeAddress = coa1 }},
		{"router is the HA", func(c *Config) { c.Routers[0].HomeAddress = haAddr }},
		{"duplicate router", func(c *Config) { c.Routers[1].HomeAddress = mr1 }},
		{"prefix overlaps home", func(c *Config) { c.Routers[0].Prefixes = []netip.Prefix{netip.MustParsePrefix("2001:db8::/32")} }},
		{"link-local prefix", func(c *Config) { c.Routers[0].Prefixes = []netip.Prefix{netip.MustParsePrefix("fe80::/64")} }},
		{"unmasked prefix", func(c *Config) { c.Routers[0].Prefixes = []netip.Prefix{netip.MustParsePrefix("2001:db8:100::1/48")} }},
		{"prefixes of two routers overlap", func(c *Config) { c.Routers[1].Prefixes = []netip.Prefix{netip.MustParsePrefix("2001:db8:100:5::/64")} }},
		{"prefixes of one router overlap", func(c *Config) {
			c.Routers[0].Prefixes = append(c.Routers[0].Prefixes, netip.MustParsePrefix("2001:db8:100::/56"))
		}},
		{"duplicate IPv4 HoA", func(c *Config) { c.Routers[0].IPv4HomeAddress = mr2V4 }},
		{"IPv4 HoA is the HA's", func(c *Config) { c.Routers[0].IPv4HomeAddress = haV4 }},
		{"IPv4 prefix in pool", func(c *Config) { c.Routers[0].IPv4Prefixes = []netip.Prefix{v4Pool} }},
		{"IPv4 HoA inside an IPv4 prefix", func(c *Config) { c.Routers[0].IPv4HomeAddress = netip.MustParseAddr("198.51.100.130") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.mod(&cfg)
			_, err := New(cfg)
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("New accepted it: %v", err)
			}
		})
	}
	if err := testConfig().Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
}

func TestConfigIsCopied(t *testing.T) {
	cfg := testConfig()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Routers[0].Prefixes[0] = mr2MNP // the caller reuses its slice
	ib, _ := find[InstallBinding](c.HandleBU(t0, bu(mr1, coa1, 1, mrReg, 40*time.Second)))
	if !slices.Equal(ib.Binding.Prefixes, []netip.Prefix{mr1MNP}) {
		t.Fatalf("core saw the caller's change: %v", ib.Binding.Prefixes)
	}
}

func TestPool(t *testing.T) {
	hoa := mr1
	for _, tc := range []struct {
		prefix string
		size   int
	}{{"203.0.113.0/29", 6}, {"203.0.113.0/30", 2}, {"203.0.113.4/31", 2}, {"203.0.113.9/32", 1}} {
		pl := newPool(netip.MustParsePrefix(tc.prefix), nil)
		seen := map[netip.Addr]bool{}
		for {
			a, ok := pl.alloc(hoa)
			if !ok {
				break
			}
			if seen[a] || !netip.MustParsePrefix(tc.prefix).Contains(a) {
				t.Fatalf("%s: bad allocation %v", tc.prefix, a)
			}
			seen[a] = true
		}
		if len(seen) != tc.size {
			t.Fatalf("%s: %d addresses, want %d", tc.prefix, len(seen), tc.size)
		}
	}
	pl := newPool(v4Pool, []netip.Addr{netip.MustParseAddr("203.0.113.2"), haV4})
	if pl.take(netip.MustParseAddr("203.0.113.2"), hoa) {
		t.Fatal("reserved address taken")
	}
	if !pl.take(netip.MustParseAddr("203.0.113.1"), hoa) || !pl.take(netip.MustParseAddr("203.0.113.1"), hoa) {
		t.Fatal("take not idempotent for the holder")
	}
	if pl.take(netip.MustParseAddr("203.0.113.1"), mr2) {
		t.Fatal("held address taken by another")
	}
	a, _ := pl.alloc(mr2)
	if a != netip.MustParseAddr("203.0.113.3") {
		t.Fatalf("alloc skipped wrong: %v", a)
	}
	pl.release(netip.MustParseAddr("203.0.113.1"), mr2) // not the holder: no effect
	if h, _ := pl.holder(netip.MustParseAddr("203.0.113.1")); h != hoa {
		t.Fatal("release by a non-holder freed the address")
	}
	var nilPool *pool
	if _, ok := nilPool.alloc(hoa); ok || nilPool.take(a, hoa) || nilPool.contains(a) {
		t.Fatal("nil pool hands out addresses")
	}
	nilPool.release(a, hoa)
}
