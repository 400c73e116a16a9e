package mrd

import (
	"net/netip"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/ndp"
)

var (
	home   = netip.MustParsePrefix("2001:db8:1::/64")
	fn2    = netip.MustParsePrefix("2001:db8:f2::/64")
	rtrLL  = netip.MustParseAddr("fe80::1")
	coaFN2 = netip.MustParseAddr("2001:db8:f2::a")
)

func ra(lifetime time.Duration, interval time.Duration, prefixes ...netip.Prefix) ndp.RouterAdvertisement {
	r := ndp.RouterAdvertisement{RouterLifetime: lifetime}
	for _, p := range prefixes {
		r.Options = append(r.Options, ndp.PrefixInformation{Prefix: p, OnLink: true, Autonomous: true,
			ValidLifetime: time.Hour, PreferredLifetime: time.Hour})
	}
	if interval > 0 {
		r.Options = append(r.Options, ndp.AdvertisementInterval{Interval: interval})
	}
	return r
}

func TestCareOfAddressNeedsALiveRouter(t *testing.T) {
	now := time.Unix(1000, 0)
	v := newUplinkView("fn2", "mr-fn2", 10, true)
	v.up = true
	v.addrs[coaFN2] = addrState{prefix: fn2}
	if got := v.coa6(home); got.IsValid() {
		t.Fatalf("care-of address %v offered before any router advertised its prefix", got)
	}
	v.handleRA(now, rtrLL, ra(30*time.Minute, 3*time.Second, fn2), home)
	if got := v.coa6(home); got != coaFN2 {
		t.Fatalf("coa6 = %v, want %v", got, coaFN2)
	}
	// Three missed Advertisement Intervals (plus half of one) and the
	// router is gone, whatever its lifetime says (RFC 6275 11.5.1).
	dl, ok := v.deadline()
	if !ok || dl != now.Add(10500*time.Millisecond) {
		t.Fatalf("deadline = %v %v", dl, ok)
	}
	if v.expire(now.Add(10 * time.Second)) {
		t.Fatal("router expired early")
	}
	if !v.expire(now.Add(11 * time.Second)) {
		t.Fatal("router not expired after missed advertisements")
	}
	if got := v.coa6(home); got.IsValid() {
		t.Fatalf("care-of address %v still offered after the router went silent", got)
	}
}

func TestCareOfAddressSkipsTentativeAndHome(t *testing.T) {
	now := time.Unix(1000, 0)
	v := newUplinkView("x", "x", 0, true)
	v.up = true
	v.handleRA(now, rtrLL, ra(time.Hour, 0, fn2, home), home)
	v.addrs[coaFN2] = addrState{prefix: fn2, tentative: true}
	v.addrs[netip.MustParseAddr("2001:db8:1::5")] = addrState{prefix: home}
	if got := v.coa6(home); got.IsValid() {
		t.Fatalf("coa6 = %v: tentative and home-prefix addresses are no care-of addresses", got)
	}
	v.addrs[coaFN2] = addrState{prefix: fn2, deprecated: true}
	b := netip.MustParseAddr("2001:db8:f2::b")
	v.addrs[b] = addrState{prefix: fn2}
	if got := v.coa6(home); got != b {
		t.Fatalf("coa6 = %v, want the non-deprecated %v", got, b)
	}
	v.linkDown()
	if got := v.toUplink(home); got.Up || got.CoA6.IsValid() || got.AtHome {
		t.Fatalf("after link down: %+v", got)
	}
}

func TestAtHome(t *testing.T) {
	now := time.Unix(1000, 0)
	v := newUplinkView("home", "mr-home", 0, true)
	v.up = true
	if v.atHome() {
		t.Fatal("at home without a router and without home_link")
	}
	v.homeLink = true
	if !v.atHome() {
		t.Fatal("configured home link that is up is not home before the first RA")
	}
	// A router that advertises something else overrules the configuration.
	v.handleRA(now, rtrLL, ra(time.Hour, 0, fn2), home)
	if v.atHome() {
		t.Fatal("home link advertising a foreign prefix counts as home")
	}
	v.handleRA(now, netip.MustParseAddr("fe80::2"), ra(0, 0, home), home)
	if !v.atHome() {
		t.Fatal("home prefix advertised but not at home")
	}
	// A router leaving (lifetime 0, nothing advertised) is forgotten.
	v.handleRA(now, netip.MustParseAddr("fe80::2"), ndp.RouterAdvertisement{}, home)
	if v.atHome() {
		t.Fatal("still home after the home router left")
	}
}

func TestAutoconfPrefix(t *testing.T) {
	now := time.Unix(1000, 0)
	v := newUplinkView("fn2", "mr-fn2", 0, true)
	v.up = true
	v.handleRA(now, rtrLL, ra(time.Hour, 0, fn2), home)
	p, ok := v.autoconfPrefix(home)
	if !ok || p != fn2 {
		t.Fatalf("autoconfPrefix = %v %v", p, ok)
	}
	v.addrs[coaFN2] = addrState{prefix: fn2}
	if _, ok := v.autoconfPrefix(home); ok {
		t.Fatal("autoconf wanted although the prefix has an address")
	}
}
