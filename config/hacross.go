package config

import (
	"cmp"
	"net/netip"
	"slices"
)

// checkHA runs the checks across mobile routers: unique identities,
// addresses and SPIs, prefixes disjoint from each other and from the home
// agent's own. A home agent may list 100,000 routers, so every check is a
// map lookup or a sorted sweep, never a comparison of every pair.
func checkHA(c *HA, mrs []*table, p *problems) {
	a := c.Agent
	nai := make(map[string]int, len(c.MobileRouters))
	hoa := make(map[netip.Addr]int, len(c.MobileRouters))
	hoa4 := make(map[netip.Addr]int)
	type spiUse struct {
		router int
		name   string
	}
	spis := make(map[uint32]spiUse)
	ov6 := crossOverlaps(c.MobileRouters, func(m MobileRouter) []netip.Prefix { return m.Prefixes })
	ov4 := crossOverlaps(c.MobileRouters, func(m MobileRouter) []netip.Prefix { return m.IPv4Prefixes })
	type owned struct {
		a      netip.Addr
		router int
	}
	var v4homes []owned
	for i, m := range c.MobileRouters {
		if m.IPv4HomeAddress.IsValid() {
			v4homes = append(v4homes, owned{m.IPv4HomeAddress, i})
		}
	}
	slices.SortFunc(v4homes, func(x, y owned) int {
		return cmp.Or(x.a.Compare(y.a), cmp.Compare(x.router, y.router))
	})

	for i, m := range c.MobileRouters {
		t := mrs[i]
		if j, dup := nai[m.NAI]; dup && m.NAI != "" {
			p.add(t.key("nai"), ErrConflict, nil, "%q is also mobile_router[%d].nai", m.NAI, j)
		} else if m.NAI != "" {
			nai[m.NAI] = i
		}
		if j, dup := hoa[m.HomeAddress]; dup && m.HomeAddress.IsValid() {
			p.add(t.key("home_address"), ErrConflict, nil, "%s is also mobile_router[%d].home_address", m.HomeAddress, j)
		} else if m.HomeAddress.IsValid() {
			hoa[m.HomeAddress] = i
		}
		if j, dup := hoa4[m.IPv4HomeAddress]; dup && m.IPv4HomeAddress.IsValid() {
			p.add(t.key("ipv4_home_address"), ErrConflict, nil, "%s is also mobile_router[%d].ipv4_home_address", m.IPv4HomeAddress, j)
		} else if m.IPv4HomeAddress.IsValid() {
			hoa4[m.IPv4HomeAddress] = i
		}
		// IPsec SPIs: inbound SAs are found by destination (the home
		// agent) and SPI alone, so every SPI must be unique on the home
		// agent.
		if ip := m.IPsec; ip.Enabled {
			own := [2]spiUse{{i, "spi_mr_to_ha"}, {i, "spi_ha_to_mr"}}
			vals := [2]uint32{ip.SPIMRToHA, ip.SPIHAToMR}
			for n, spi := range vals {
				if spi == 0 {
					continue
				}
				if o, dup := spis[spi]; dup && o.router != i {
					p.add(joinKey(t.key("ipsec"), own[n].name), ErrConflict, nil, "SPI %d is also %s", spi, joinKey(mrs[o.router].key("ipsec"), o.name))
				}
			}
			for n, spi := range vals {
				if _, seen := spis[spi]; !seen && spi != 0 {
					spis[spi] = own[n]
				}
			}
		}
		checkDisjoint(p, t.key("prefixes"), m.Prefixes, a.HomePrefix, "ha.home_prefix")
		checkDisjoint(p, t.key("ipv4_prefixes"), m.IPv4Prefixes, c.DSMIPv6.IPv4Pool, "dsmipv6.ipv4_pool")
		for _, o := range ov6[i] {
			p.add(indexKey(t.key("prefixes"), o.k), ErrConflict, nil, "%s overlaps %s %s", o.p, indexKey(mrs[o.other].key("prefixes"), o.otherK), o.otherP)
		}
		for k, q := range m.IPv4Prefixes {
			key := indexKey(t.key("ipv4_prefixes"), k)
			for _, o := range ov4[i] {
				if o.k == k {
					p.add(key, ErrConflict, nil, "%s overlaps %s %s", o.p, indexKey(mrs[o.other].key("ipv4_prefixes"), o.otherK), o.otherP)
				}
			}
			if !q.IsValid() {
				continue
			}
			if a.IPv4Address.IsValid() && q.Contains(a.IPv4Address) {
				p.add(key, ErrConflict, nil, "%s contains ha.ipv4_address %s", q, a.IPv4Address)
			}
			// The other routers' IPv4 home addresses inside q.
			qm := q.Masked()
			from, _ := slices.BinarySearchFunc(v4homes, qm.Addr(), func(x owned, a netip.Addr) int { return x.a.Compare(a) })
			for _, h := range v4homes[from:] {
				if !qm.Contains(h.a) {
					break
				}
				if h.router != i {
					p.add(key, ErrConflict, nil, "%s contains mobile_router[%d].ipv4_home_address %s", q, h.router, h.a)
				}
			}
		}
	}
}

// overlap is prefix k of a router overlapping prefix otherK of an earlier
// router other.
type overlap struct {
	k, other, otherK int
	p, otherP        netip.Prefix
}

// crossOverlaps finds every prefix that overlaps a prefix of an earlier
// router, by router: a sweep over the prefixes sorted by start address,
// shorter first, with the chain of prefixes that contain the current one
// on a stack (two prefixes overlap only if one contains the other).
func crossOverlaps(routers []MobileRouter, list func(MobileRouter) []netip.Prefix) map[int][]overlap {
	type entry struct {
		p         netip.Prefix // as written
		m         netip.Prefix // masked
		router, k int
	}
	var es []entry
	for i, r := range routers {
		for k, p := range list(r) {
			if p.IsValid() {
				es = append(es, entry{p, p.Masked(), i, k})
			}
		}
	}
	slices.SortFunc(es, func(x, y entry) int {
		return cmp.Or(x.m.Addr().Compare(y.m.Addr()), cmp.Compare(x.m.Bits(), y.m.Bits()), cmp.Compare(x.router, y.router), cmp.Compare(x.k, y.k))
	})
	out := make(map[int][]overlap)
	var stack []entry
	for _, e := range es {
		for len(stack) > 0 {
			top := stack[len(stack)-1]
			if top.m.Addr().Is4() == e.m.Addr().Is4() && top.m.Contains(e.m.Addr()) {
				break
			}
			stack = stack[:len(stack)-1]
		}
		for _, o := range stack {
			if o.router == e.router {
				continue
			}
			later, earlier := e, o
			if o.router > e.router {
				later, earlier = o, e
			}
			out[later.router] = append(out[later.router], overlap{k: later.k, other: earlier.router, otherK: earlier.k, p: later.p, otherP: earlier.p})
		}
		stack = append(stack, e)
	}
	for _, ovs := range out {
		slices.SortFunc(ovs, func(x, y overlap) int {
			return cmp.Or(cmp.Compare(x.k, y.k), cmp.Compare(x.other, y.other), cmp.Compare(x.otherK, y.otherK))
		})
	}
	return out
}
