package ndp

import (
	"cmp"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"
)

// HomeAgentsList is the Home Agents List a home agent keeps for one home
// link (RFC 6275 10.1, 10.5.1), learned from the Router Advertisements of
// the home agents on that link (its own included, if the caller feeds them).
//
// It is a plain data structure: the caller passes the time in, nothing runs
// in the background, and it is not safe for concurrent use (one event loop
// owns it). The zero value is an empty list ready to use.
type HomeAgentsList struct {
	entries map[netip.Addr]*haEntry
}

type haEntry struct {
	preference   uint16
	mobileRouter bool
	expires      time.Time
	// addrs maps each global address to the time it expires (the zero
	// time for an infinite lifetime).
	addrs map[netip.Addr]time.Time
}

// HomeAgent is one entry of the Home Agents List, as returned by Ordered
// and Shuffled.
type HomeAgent struct {
	// LinkLocal is the home agent's link-local address (the RA's IPv6
	// source, without zone): the key of the entry.
	LinkLocal netip.Addr
	// Addresses are the global addresses the home agent announced in
	// Prefix Information options with the R flag, still valid at the time
	// asked; sorted, or shuffled by Shuffled.
	Addresses []netip.Addr
	// Preference comes from the Home Agent Information option, else 0.
	Preference uint16
	// MobileRouter is the Home Agent Information option's R flag (RFC
	// 3963 7.3): the home agent supports mobile routers.
	MobileRouter bool
	// Expires is when the entry's lifetime (Home Agent Lifetime, else
	// Router Lifetime) runs out.
	Expires time.Time
}

// Update applies a valid Router Advertisement received at now from the
// link-local address src, following RFC 6275 10.5.1:
//
//   - H clear: the sender's entry is deleted.
//   - Preference from the Home Agent Information option, else 0; lifetime
//     from its Home Agent Lifetime, else the Router Lifetime.
//   - Lifetime 0: the entry is deleted (and none is created), so an RA with
//     H set, Router Lifetime 0 and no Home Agent Information option gives
//     no entry.
//   - Otherwise the entry is created or its preference, lifetime and R flag
//     reset, and the router addresses of the Prefix Information options
//     with R set that are global unicast addresses are added to it, each
//     valid for its option's Valid Lifetime (RFC 6275 7.2: the address
//     "conforms to the same lifetime values as the advertised prefix"); a
//     Valid Lifetime of 0 removes the address.
//
// Validating the RA as RFC 4861 6.1.2 asks (hop limit 255, link-local
// source) is the caller's job. It reports whether the list changed in a way
// visible to Ordered (entry added or removed, address added or removed,
// preference or R flag changed); a plain lifetime refresh is not a change.
func (l *HomeAgentsList) Update(now time.Time, src netip.Addr, ra RouterAdvertisement) bool {
	key := src.WithZone("")
	old, present := l.entries[key]
	if !ra.HomeAgent {
		return l.Remove(key)
	}
	var pref uint16
	lifetime := ra.RouterLifetime
	var mr bool
	if hai, ok := ra.HomeAgentInfo(); ok {
		pref, lifetime, mr = hai.Preference, hai.Lifetime, hai.MobileRouter
	}
	if lifetime <= 0 {
		return l.Remove(key)
	}
	if l.entries == nil {
		l.entries = make(map[netip.Addr]*haEntry)
	}
	changed := !present
	e := old
	if !present {
		e = &haEntry{addrs: make(map[netip.Addr]time.Time)}
		l.entries[key] = e
	} else if e.preference != pref || e.mobileRouter != mr {
		changed = true
	}
	e.preference, e.mobileRouter, e.expires = pref, mr, now.Add(lifetime)
	for _, p := range ra.Prefixes() {
		a, ok := p.Router()
		if !ok || !a.IsGlobalUnicast() || a.Is4In6() {
			continue
		}
		_, had := e.addrs[a]
		switch {
		case p.ValidLifetime <= 0:
			if had {
				delete(e.addrs, a)
				changed = true
			}
		case p.ValidLifetime >= InfiniteLifetime:
			e.addrs[a] = time.Time{}
			changed = changed || !had
		default:
			e.addrs[a] = now.Add(p.ValidLifetime)
			changed = changed || !had
		}
	}
	return changed
}

// Remove deletes the entry of the home agent with link-local address src and
// reports whether there was one.
func (l *HomeAgentsList) Remove(src netip.Addr) bool {
	key := src.WithZone("")
	if _, ok := l.entries[key]; !ok {
		return false
	}
	delete(l.entries, key)
	return true
}

// Expire deletes the entries whose lifetime has run out at now, and the
// addresses whose Valid Lifetime has, and returns the link-local addresses
// of the deleted entries in ascending order.
func (l *HomeAgentsList) Expire(now time.Time) []netip.Addr {
	var gone []netip.Addr
	for k, e := range l.entries {
		if !now.Before(e.expires) {
			delete(l.entries, k)
			gone = append(gone, k)
			continue
		}
		for a, exp := range e.addrs {
			if !exp.IsZero() && !now.Before(exp) {
				delete(e.addrs, a)
			}
		}
	}
	slices.SortFunc(gone, netip.Addr.Compare)
	return gone
}

// NextExpiry returns the earliest time at which an entry or an address will
// expire, for arming the caller's timer; ok is false when nothing will.
func (l *HomeAgentsList) NextExpiry() (t time.Time, ok bool) {
	consider := func(x time.Time) {
		if !x.IsZero() && (!ok || x.Before(t)) {
			t, ok = x, true
		}
	}
	for _, e := range l.entries {
		consider(e.expires)
		for _, exp := range e.addrs {
			consider(exp)
		}
	}
	return t, ok
}

// Len returns the number of entries, expired ones included until Expire
// removes them.
func (l *HomeAgentsList) Len() int { return len(l.entries) }

// Ordered returns the entries still alive at now, by decreasing preference;
// equal preferences are ordered by ascending link-local address and each
// entry's addresses are sorted, so the result is deterministic. It does not
// modify the list. For a DHAAD Reply use Shuffled or ReplyAddresses, which
// randomise ties as RFC 6275 10.5.1 asks.
func (l *HomeAgentsList) Ordered(now time.Time) []HomeAgent {
	var out []HomeAgent
	for k, e := range l.entries {
		if !now.Before(e.expires) {
			continue
		}
		h := HomeAgent{LinkLocal: k, Preference: e.preference, MobileRouter: e.mobileRouter, Expires: e.expires}
		for a, exp := range e.addrs {
			if exp.IsZero() || now.Before(exp) {
				h.Addresses = append(h.Addresses, a)
			}
		}
		slices.SortFunc(h.Addresses, netip.Addr.Compare)
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b HomeAgent) int {
		if c := cmp.Compare(b.Preference, a.Preference); c != 0 {
			return c
		}
		return a.LinkLocal.Compare(b.LinkLocal)
	})
	return out
}

// Shuffled is Ordered with ties randomised as RFC 6275 10.5.1 asks for each
// DHAAD Reply: home agents of equal preference in a random order, and each
// home agent's addresses in a random order. The randomness comes from r
// (inject a seeded *rand.Rand for a deterministic result); a nil r uses the
// math/rand/v2 global source.
func (l *HomeAgentsList) Shuffled(now time.Time, r *rand.Rand) []HomeAgent {
	out := l.Ordered(now)
	shuffle := rand.Shuffle
	if r != nil {
		shuffle = r.Shuffle
	}
	for i := 0; i < len(out); {
		j := i + 1
		for j < len(out) && out[j].Preference == out[i].Preference {
			j++
		}
		run := out[i:j]
		shuffle(len(run), func(x, y int) { run[x], run[y] = run[y], run[x] })
		i = j
	}
	for _, h := range out {
		shuffle(len(h.Addresses), func(x, y int) { h.Addresses[x], h.Addresses[y] = h.Addresses[y], h.Addresses[x] })
	}
	return out
}

// ReplyAddresses builds the Home Agent Addresses of a DHAAD Reply at now
// (RFC 6275 10.5.1, RFC 3963 7.2): the global addresses of the live entries
// in Shuffled order, cut to MaxDHAADReplyAddresses so the reply fits the
// minimum IPv6 MTU (the cut keeps the most preferred). When mobileRouter
// (the request's R flag) is set, only home agents that support mobile
// routers are listed and the reply's R flag is set; if there are none, the
// plain home agents are listed with R clear, which RFC 3963 7.2 allows.
func (l *HomeAgentsList) ReplyAddresses(now time.Time, r *rand.Rand, mobileRouter bool) (addrs []netip.Addr, flagR bool) {
	all := l.Shuffled(now, r)
	list := all
	if mobileRouter {
		var mr []HomeAgent
		for _, h := range all {
			if h.MobileRouter && len(h.Addresses) > 0 {
				mr = append(mr, h)
			}
		}
		if len(mr) > 0 {
			list, flagR = mr, true
		}
	}
	for _, h := range list {
		for _, a := range h.Addresses {
			if len(addrs) == MaxDHAADReplyAddresses {
				return addrs, flagR
			}
			addrs = append(addrs, a)
		}
	}
	return addrs, flagR
}
