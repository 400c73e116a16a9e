package mrd

import (
	"net/netip"
	"sort"
	"time"

	"github.com/nemo-mobility/nemo/mrouter"
	"github.com/nemo-mobility/nemo/ndp"
)

// addrState is one address the kernel reports on an uplink.
type addrState struct {
	prefix     netip.Prefix
	tentative  bool // DAD still running and not optimistic: not usable yet
	deprecated bool
	dadFailed  bool
}

// router is what the router advertisements of one router (keyed by its
// link-local address) told us.
type router struct {
	lastRA   time.Time
	lifetime time.Duration // router lifetime (0: not a default router)
	interval time.Duration // Advertisement Interval option (RFC 6275 7.3), 0 if absent
	home     bool          // advertised the home prefix
	agent    bool          // H flag
	prefixes []netip.Prefix
}

// missedRAs is how many advertisement intervals may pass without an RA
// before the router counts as gone (RFC 6275 11.5.1 leaves the number to
// us; three tolerates two lost RAs on a lossy radio link).
const missedRAs = 3

// fallbackLiveness is how long a router that announced neither an
// Advertisement Interval nor a router lifetime is believed present.
const fallbackLiveness = 30 * time.Minute

// alive reports until when the router counts as present.
func (r *router) until() time.Time {
	switch {
	case r.interval > 0:
		return r.lastRA.Add(missedRAs*r.interval + r.interval/2)
	case r.lifetime > 0:
		return r.lastRA.Add(r.lifetime)
	default:
		return r.lastRA.Add(fallbackLiveness)
	}
}

// uplinkView is everything the daemon knows about one configured uplink. It
// is pure data: the netlink and socket plumbing feeds it, and toUplink turns
// it into the core's view.
type uplinkView struct {
	name     string
	ifname   string
	priority int
	ipv6     bool
	// homeLink is set for the uplink configured as attached to the home
	// link ([mrouter] home_link).
	homeLink bool
	// dhcp runs the DHCPv4 client on the uplink, with its routes in
	// dhcpTable.
	dhcp      bool
	dhcpTable int

	index   int
	up      bool // administratively up and carrier present
	addrs   map[netip.Addr]addrState
	routers map[netip.Addr]*router
	// coa4 is the IPv4 care-of address from our DHCPv4 client.
	coa4 netip.Addr
}

func newUplinkView(name, ifname string, priority int, ipv6 bool) *uplinkView {
	return &uplinkView{
		name: name, ifname: ifname, priority: priority, ipv6: ipv6,
		addrs:   map[netip.Addr]addrState{},
		routers: map[netip.Addr]*router{},
	}
}

// linkDown forgets everything learned on the link: a link that went down
// may come back on another network.
func (v *uplinkView) linkDown() {
	v.up = false
	clear(v.routers)
}

// handleRA records one router advertisement from src (link-local).
func (v *uplinkView) handleRA(now time.Time, src netip.Addr, ra ndp.RouterAdvertisement, home netip.Prefix) {
	r := &router{lastRA: now, lifetime: ra.RouterLifetime, agent: ra.HomeAgent}
	if iv, ok := ra.AdvInterval(); ok {
		r.interval = iv
	}
	for _, p := range ra.Prefixes() {
		m := p.Prefix.Masked()
		if m == home {
			r.home = true
		}
		if p.Autonomous && p.ValidLifetime > 0 {
			r.prefixes = append(r.prefixes, m)
		}
	}
	if ra.RouterLifetime == 0 && len(r.prefixes) == 0 && !r.home && !r.agent {
		// A router leaving (lifetime 0, nothing advertised).
		delete(v.routers, src)
		return
	}
	v.routers[src] = r
}

// expire drops routers that went silent and reports whether any did.
func (v *uplinkView) expire(now time.Time) bool {
	changed := false
	for k, r := range v.routers {
		if !now.Before(r.until()) {
			delete(v.routers, k)
			changed = true
		}
	}
	return changed
}

// deadline is the next time expire has work to do.
func (v *uplinkView) deadline() (time.Time, bool) {
	var d time.Time
	for _, r := range v.routers {
		if u := r.until(); d.IsZero() || u.Before(d) {
			d = u
		}
	}
	return d, !d.IsZero()
}

// atHome reports whether the uplink is on the home link: a live router on
// it advertises the home prefix, or it is the configured home link and no
// router on it has said otherwise yet (so a return home need not wait for
// the next router advertisement).
func (v *uplinkView) atHome() bool {
	if !v.up {
		return false
	}
	for _, r := range v.routers {
		if r.home {
			return true
		}
	}
	return v.homeLink && len(v.routers) == 0
}

// advertised reports whether a live router advertises a prefix holding a.
func (v *uplinkView) advertised(a netip.Addr) bool {
	for _, r := range v.routers {
		for _, p := range r.prefixes {
			if p.Contains(a) {
				return true
			}
		}
	}
	return false
}

// coa6 picks the IPv6 care-of address: a usable global address inside a
// prefix a live router advertises, preferring non-deprecated ones, then the
// lowest address (stable across calls). Addresses from the home prefix are
// never care-of addresses.
func (v *uplinkView) coa6(home netip.Prefix) netip.Addr {
	if !v.up || !v.ipv6 {
		return netip.Addr{}
	}
	var cands []netip.Addr
	for a, st := range v.addrs {
		if !a.Is6() || !a.IsGlobalUnicast() || st.tentative || st.dadFailed || home.Contains(a) {
			continue
		}
		if !v.advertised(a) {
			continue
		}
		cands = append(cands, a)
	}
	sort.Slice(cands, func(i, j int) bool {
		di, dj := v.addrs[cands[i]].deprecated, v.addrs[cands[j]].deprecated
		if di != dj {
			return !di
		}
		return cands[i].Less(cands[j])
	})
	if len(cands) == 0 {
		return netip.Addr{}
	}
	return cands[0]
}

// autoconfPrefix returns an advertised autonomous /64 for which the link has
// no address yet, for the daemon to configure one itself (where nothing
// else does SLAAC on the uplink).
func (v *uplinkView) autoconfPrefix(home netip.Prefix) (netip.Prefix, bool) {
	if !v.up || !v.ipv6 {
		return netip.Prefix{}, false
	}
	for _, r := range v.routers {
		for _, p := range r.prefixes {
			if p.Bits() != 64 || p == home {
				continue
			}
			has := false
			for a := range v.addrs {
				if p.Contains(a) {
					has = true
					break
				}
			}
			if !has {
				return p, true
			}
		}
	}
	return netip.Prefix{}, false
}

// toUplink is the core's view of the uplink.
func (v *uplinkView) toUplink(home netip.Prefix) mrouter.Uplink {
	u := mrouter.Uplink{Name: v.ifname, Priority: v.priority, Up: v.up, AtHome: v.atHome()}
	u.CoA6 = v.coa6(home)
	if v.up {
		u.CoA4 = v.coa4
	}
	return u
}
