package config

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// TestCrossOverlapsMatchesPairwise compares the sweep with the pairwise
// check it replaced, on random nested and disjoint prefixes of both
// families.
func TestCrossOverlapsMatchesPairwise(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		routers := make([]MobileRouter, 2+r.IntN(12))
		for i := range routers {
			for range r.IntN(4) {
				var p netip.Prefix
				if r.IntN(3) == 0 {
					a := netip.AddrFrom4([4]byte{198, 51, 100, byte(r.IntN(256))})
					p = netip.PrefixFrom(a, 24+r.IntN(9))
				} else {
					a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(r.IntN(4)), 6: byte(r.IntN(4))})
					p = netip.PrefixFrom(a, 40+r.IntN(25))
				}
				routers[i].Prefixes = append(routers[i].Prefixes, p)
			}
		}
		got := crossOverlaps(routers, func(m MobileRouter) []netip.Prefix { return m.Prefixes })
		want := map[int][]overlap{}
		for i, m := range routers {
			for k, q := range m.Prefixes {
				for j := range i {
					for l, o := range routers[j].Prefixes {
						if q.Overlaps(o) {
							want[i] = append(want[i], overlap{k: k, other: j, otherK: l, p: q, otherP: o})
						}
					}
				}
			}
		}
		for i := range routers {
			if !slices.Equal(got[i], want[i]) {
				t.Fatalf("trial %d router %d: sweep %v, pairwise %v (routers %v)", trial, i, got[i], want[i], routers)
			}
		}
	}
}
