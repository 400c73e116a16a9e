package ndp

import (
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// haRA builds a home agent RA: H set, router lifetime rl, an optional HAI
// option and one PIO with R for each router address (valid 1 day).
func haRA(rl time.Duration, hai *HomeAgentInformation, routerAddrs ...string) RouterAdvertisement {
	ra := RouterAdvertisement{HomeAgent: true, RouterLifetime: rl}
	for _, a := range routerAddrs {
		ra.Options = append(ra.Options, PrefixInformation{
			Prefix: netip.PrefixFrom(addr(a), 64), OnLink: true, Autonomous: true, RouterAddress: true,
			ValidLifetime: 24 * time.Hour, PreferredLifetime: time.Hour,
		})
	}
	if hai != nil {
		ra.Options = append(ra.Options, *hai)
	}
	return ra
}

func TestHomeAgentsListLifetimeAndPreferenceSources(t *testing.T) {
	var l HomeAgentsList
	// No HAI: preference 0, lifetime = router lifetime.
	if !l.Update(t0, addr("fe80::1%eth0"), haRA(1800*time.Second, nil, "2001:db8:1::1")) {
		t.Error("new entry not reported as a change")
	}
	// HAI: preference and lifetime from the option, not the router lifetime.
	l.Update(t0, addr("fe80::2"), haRA(1800*time.Second, &HomeAgentInformation{Preference: 10, Lifetime: 60 * time.Second, MobileRouter: true}, "2001:db8:1::2"))
	// H set, router lifetime 0 (not a default router) but a HAI: an entry.
	l.Update(t0, addr("fe80::3"), haRA(0, &HomeAgentInformation{Preference: 5, Lifetime: 100 * time.Second}, "2001:db8:1::3"))
	// H set, router lifetime 0, no HAI: lifetime 0, no entry.
	if l.Update(t0, addr("fe80::4"), haRA(0, nil, "2001:db8:1::4")) {
		t.Error("RA with lifetime 0 and no entry reported a change")
	}
	// H clear: never an entry.
	ra := haRA(1800*time.Second, nil, "2001:db8:1::5")
	ra.HomeAgent = false
	l.Update(t0, addr("fe80::5"), ra)

	want := []HomeAgent{
		{LinkLocal: addr("fe80::2"), Addresses: []netip.Addr{addr("2001:db8:1::2")}, Preference: 10, MobileRouter: true, Expires: t0.Add(60 * time.Second)},
		{LinkLocal: addr("fe80::3"), Addresses: []netip.Addr{addr("2001:db8:1::3")}, Preference: 5, Expires: t0.Add(100 * time.Second)},
		{LinkLocal: addr("fe80::1"), Addresses: []netip.Addr{addr("2001:db8:1::1")}, Preference: 0, Expires: t0.Add(1800 * time.Second)},
	}
	if got := l.Ordered(t0); !reflect.DeepEqual(got, want) {
		t.Errorf("Ordered:\n got %+v\nwant %+v", got, want)
	}
	if l.Len() != 3 {
		t.Errorf("Len() = %d", l.Len())
	}
}

func TestHomeAgentsListRemoval(t *testing.T) {
	for _, tc := range []struct {
		name string
		ra   RouterAdvertisement
	}{
		{"H clear", RouterAdvertisement{HomeAgent: false, RouterLifetime: 1800 * time.Second}},
		{"router lifetime 0, no HAI", haRA(0, nil)},
		{"HAI lifetime 0", haRA(1800*time.Second, &HomeAgentInformation{Preference: 3})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l HomeAgentsList
			l.Update(t0, addr("fe80::1"), haRA(1800*time.Second, nil, "2001:db8:1::1"))
			l.Update(t0, addr("fe80::2"), haRA(1800*time.Second, nil, "2001:db8:1::2"))
			// The zone of the source does not matter: the list is per link.
			if !l.Update(t0.Add(time.Second), addr("fe80::1%eth1"), tc.ra) {
				t.Error("removal not reported as a change")
			}
			got := l.Ordered(t0.Add(time.Second))
			if len(got) != 1 || got[0].LinkLocal != addr("fe80::2") {
				t.Errorf("after removal: %+v", got)
			}
		})
	}
	var l HomeAgentsList
	if l.Remove(addr("fe80::1")) {
		t.Error("Remove on an empty list reported a removal")
	}
}

func TestHomeAgentsListExpiry(t *testing.T) {
	var l HomeAgentsList
	l.Update(t0, addr("fe80::1"), haRA(30*time.Second, nil, "2001:db8:1::1"))
	l.Update(t0, addr("fe80::2"), haRA(1800*time.Second, &HomeAgentInformation{Lifetime: 60 * time.Second}, "2001:db8:1::2"))

	if next, ok := l.NextExpiry(); !ok || !next.Equal(t0.Add(30*time.Second)) {
		t.Errorf("NextExpiry = %v, %v", next, ok)
	}
	// Just before: both alive, nothing expires.
	if gone := l.Expire(t0.Add(30*time.Second - time.Nanosecond)); gone != nil {
		t.Errorf("Expire before the lifetime removed %v", gone)
	}
	// At the lifetime the entry is gone from Ordered even before Expire.
	if got := l.Ordered(t0.Add(30 * time.Second)); len(got) != 1 || got[0].LinkLocal != addr("fe80::2") {
		t.Errorf("Ordered at expiry: %+v", got)
	}
	if gone := l.Expire(t0.Add(30 * time.Second)); !reflect.DeepEqual(gone, []netip.Addr{addr("fe80::1")}) {
		t.Errorf("Expire removed %v", gone)
	}
	// A refresh extends the lifetime.
	l.Update(t0.Add(50*time.Second), addr("fe80::2"), haRA(1800*time.Second, &HomeAgentInformation{Lifetime: 60 * time.Second}))
	if gone := l.Expire(t0.Add(100 * time.Second)); gone != nil {
		t.Errorf("refreshed entry expired: %v", gone)
	}
	if gone := l.Expire(t0.Add(110 * time.Second)); !reflect.DeepEqual(gone, []netip.Addr{addr("fe80::2")}) {
		t.Errorf("Expire removed %v", gone)
	}
	if _, ok := l.NextExpiry(); ok || l.Len() != 0 {
		t.Errorf("empty list: Len %d, NextExpiry ok %v", l.Len(), ok)
	}
}

// TestHomeAgentsListAddresses: addresses accumulate across RAs (RFC 6275
// 10.5.1 "add"), only PIOs with R and global addresses count, and each
// address lives as long as its PIO's valid lifetime.
func TestHomeAgentsListAddresses(t *testing.T) {
	var l HomeAgentsList
	ll := addr("fe80::1")
	ra := haRA(time.Hour, nil, "2001:db8:1::1")
	ra.Options = append(ra.Options,
		// R clear: a prefix, not an address.
		PrefixInformation{Prefix: netip.MustParsePrefix("2001:db8:9::/64"), OnLink: true, ValidLifetime: time.Hour},
		// R set on a link-local: not global.
		PrefixInformation{Prefix: netip.PrefixFrom(addr("fe80::1"), 64), RouterAddress: true, ValidLifetime: time.Hour},
		// R set, short valid lifetime.
		PrefixInformation{Prefix: netip.PrefixFrom(addr("2001:db8:2::1"), 64), RouterAddress: true, ValidLifetime: 10 * time.Second},
		// R set, infinite.
		PrefixInformation{Prefix: netip.PrefixFrom(addr("2001:db8:3::1"), 64), RouterAddress: true, ValidLifetime: InfiniteLifetime},
	)
	l.Update(t0, ll, ra)
	addrsAt := func(at time.Time) []netip.Addr {
		o := l.Ordered(at)
		if len(o) != 1 {
			t.Fatalf("Ordered(%v) = %+v", at, o)
		}
		return o[0].Addresses
	}
	want := []netip.Addr{addr("2001:db8:1::1"), addr("2001:db8:2::1"), addr("2001:db8:3::1")}
	if got := addrsAt(t0); !reflect.DeepEqual(got, want) {
		t.Errorf("addresses = %v, want %v", got, want)
	}
	// A later RA with another address adds it and is a change; the same RA
	// again is not.
	if !l.Update(t0.Add(time.Second), ll, haRA(time.Hour, nil, "2001:db8:4::1")) {
		t.Error("new address not reported as a change")
	}
	if l.Update(t0.Add(2*time.Second), ll, haRA(time.Hour, nil, "2001:db8:4::1")) {
		t.Error("identical refresh reported as a change")
	}
	// After 10 s the short-lived address is gone, from Ordered and after
	// Expire; the infinite one stays.
	want = []netip.Addr{addr("2001:db8:1::1"), addr("2001:db8:3::1"), addr("2001:db8:4::1")}
	if got := addrsAt(t0.Add(10 * time.Second)); !reflect.DeepEqual(got, want) {
		t.Errorf("after 10 s: %v, want %v", got, want)
	}
	if next, _ := l.NextExpiry(); !next.Equal(t0.Add(10 * time.Second)) {
		t.Errorf("NextExpiry = %v, want the short address's expiry", next)
	}
	l.Expire(t0.Add(10 * time.Second))
	if got := addrsAt(t0.Add(10 * time.Second)); !reflect.DeepEqual(got, want) {
		t.Errorf("after Expire: %v, want %v", got, want)
	}
	// Valid lifetime 0 withdraws an address.
	ra0 := haRA(time.Hour, nil)
	ra0.Options = append(ra0.Options, PrefixInformation{Prefix: netip.PrefixFrom(addr("2001:db8:4::1"), 64), RouterAddress: true})
	if !l.Update(t0.Add(11*time.Second), ll, ra0) {
		t.Error("withdrawal not reported as a change")
	}
	want = want[:2]
	if got := addrsAt(t0.Add(11 * time.Second)); !reflect.DeepEqual(got, want) {
		t.Errorf("after withdrawal: %v, want %v", got, want)
	}
	// A preference change is a change.
	if !l.Update(t0.Add(12*time.Second), ll, haRA(time.Hour, &HomeAgentInformation{Preference: 1, Lifetime: time.Hour})) {
		t.Error("preference change not reported")
	}
}

// listOf builds a list with the given (link-local, preference, addresses).
func listOf(t *testing.T, spec haSpec) *HomeAgentsList {
	t.Helper()
	var l HomeAgentsList
	for _, s := range spec {
		l.Update(t0, addr(s.ll), haRA(time.Hour, &HomeAgentInformation{Preference: s.pref, Lifetime: time.Hour, MobileRouter: s.mr}, s.as...))
	}
	return &l
}

type haSpec = []struct {
	ll   string
	pref uint16
	mr   bool
	as   []string
}

func TestHomeAgentsListShuffled(t *testing.T) {
	l := listOf(t, haSpec{
		{"fe80::1", 5, false, []string{"2001:db8:1::1"}},
		{"fe80::2", 5, false, []string{"2001:db8:1::2"}},
		{"fe80::3", 5, false, []string{"2001:db8:1::3"}},
		{"fe80::4", 9, false, []string{"2001:db8:1::4", "2001:db8:2::4", "2001:db8:3::4"}},
		{"fe80::5", 1, false, []string{"2001:db8:1::5"}},
	})
	// Ordered is deterministic: preference, then link-local address.
	var order []string
	for _, h := range l.Ordered(t0) {
		order = append(order, h.LinkLocal.String())
	}
	if want := []string{"fe80::4", "fe80::1", "fe80::2", "fe80::3", "fe80::5"}; !slices.Equal(order, want) {
		t.Errorf("Ordered = %v, want %v", order, want)
	}

	// The same seed gives the same order; preferences never get mixed.
	a := l.Shuffled(t0, rand.New(rand.NewPCG(1, 2)))
	b := l.Shuffled(t0, rand.New(rand.NewPCG(1, 2)))
	if !reflect.DeepEqual(a, b) {
		t.Errorf("same seed, different results:\n%+v\n%+v", a, b)
	}
	// Across seeds, every permutation of the three preference-5 agents
	// shows up, the order of preferences never changes, and fe80::4's
	// addresses are shuffled too.
	perms := map[string]bool{}
	firstAddr := map[netip.Addr]bool{}
	for seed := range uint64(200) {
		s := l.Shuffled(t0, rand.New(rand.NewPCG(seed, 7)))
		prefs := []uint16{s[0].Preference, s[1].Preference, s[2].Preference, s[3].Preference, s[4].Preference}
		if !slices.Equal(prefs, []uint16{9, 5, 5, 5, 1}) {
			t.Fatalf("seed %d: preferences %v", seed, prefs)
		}
		perms[s[1].LinkLocal.String()+s[2].LinkLocal.String()+s[3].LinkLocal.String()] = true
		firstAddr[s[0].Addresses[0]] = true
		if len(s[0].Addresses) != 3 {
			t.Fatalf("seed %d: addresses %v", seed, s[0].Addresses)
		}
	}
	if len(perms) != 6 {
		t.Errorf("saw %d of 6 permutations of equal-preference agents", len(perms))
	}
	if len(firstAddr) != 3 {
		t.Errorf("saw %d of 3 addresses first for the multi-address agent", len(firstAddr))
	}
	// Shuffled does not disturb the list: Ordered is unchanged.
	order = order[:0]
	for _, h := range l.Ordered(t0) {
		order = append(order, h.LinkLocal.String())
	}
	if want := []string{"fe80::4", "fe80::1", "fe80::2", "fe80::3", "fe80::5"}; !slices.Equal(order, want) {
		t.Errorf("Ordered after Shuffled = %v", order)
	}
	// A nil source works (global randomness).
	if s := l.Shuffled(t0, nil); len(s) != 5 {
		t.Errorf("Shuffled(nil) = %+v", s)
	}
}

func TestHomeAgentsListReplyAddresses(t *testing.T) {
	l := listOf(t, haSpec{
		{"fe80::1", 5, true, []string{"2001:db8:1::1"}},
		{"fe80::2", 9, false, []string{"2001:db8:1::2"}},
		{"fe80::3", 1, true, []string{"2001:db8:1::3"}},
		{"fe80::4", 7, true, nil}, // MR-capable but no global address
	})
	r := rand.New(rand.NewPCG(3, 4))
	got, flagR := l.ReplyAddresses(t0, r, false)
	if want := []netip.Addr{addr("2001:db8:1::2"), addr("2001:db8:1::1"), addr("2001:db8:1::3")}; !slices.Equal(got, want) || flagR {
		t.Errorf("plain request: %v R=%v, want %v R=false", got, flagR, want)
	}
	got, flagR = l.ReplyAddresses(t0, r, true)
	if want := []netip.Addr{addr("2001:db8:1::1"), addr("2001:db8:1::3")}; !slices.Equal(got, want) || !flagR {
		t.Errorf("R request: %v R=%v, want %v R=true", got, flagR, want)
	}
	// No MR-capable agent: plain agents, R clear (RFC 3963 7.2 MAY).
	plain := listOf(t, haSpec{{"fe80::1", 0, false, []string{"2001:db8:1::1"}}})
	got, flagR = plain.ReplyAddresses(t0, r, true)
	if !slices.Equal(got, []netip.Addr{addr("2001:db8:1::1")}) || flagR {
		t.Errorf("R request, no MR agents: %v R=%v", got, flagR)
	}
	var empty HomeAgentsList
	if got, flagR := empty.ReplyAddresses(t0, r, true); got != nil || flagR {
		t.Errorf("empty list: %v %v", got, flagR)
	}
}

// TestHomeAgentsListReplyTruncation: with more addresses than fit in 1280
// bytes, the reply keeps the most preferred ones.
func TestHomeAgentsListReplyTruncation(t *testing.T) {
	var l HomeAgentsList
	// 100 home agents, one address each, preference = index.
	for i := range 100 {
		ll := netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 14: byte(i >> 8), 15: byte(i)})
		ga := netip.AddrFrom16([16]byte{0: 0x20, 1: 0x01, 2: 0x0d, 3: 0xb8, 14: byte(i >> 8), 15: byte(i)})
		ra := haRA(time.Hour, &HomeAgentInformation{Preference: uint16(i), Lifetime: time.Hour}, ga.String())
		l.Update(t0, ll, ra)
	}
	got, _ := l.ReplyAddresses(t0, rand.New(rand.NewPCG(5, 6)), false)
	if len(got) != MaxDHAADReplyAddresses {
		t.Fatalf("%d addresses, want %d", len(got), MaxDHAADReplyAddresses)
	}
	for i, a := range got {
		if want := 99 - i; int(a.As16()[15]) != want {
			t.Fatalf("address %d = %v, want preference %d", i, a, want)
		}
	}
	b, err := DHAADReply{Addresses: got}.MarshalBinary()
	if err != nil || 40+len(b) > 1280 {
		t.Errorf("reply packet is %d bytes, %v", 40+len(b), err)
	}
}
