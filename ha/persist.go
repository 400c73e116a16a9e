package ha

import (
	"net/netip"
	"slices"
	"time"

	"github.com/nemo-mobility/nemo/mh"
)

// Reconfigure installs a new configuration (SIGHUP). Valid bindings that
// the new configuration still allows are kept: their prefixes are cut to
// what is still authorised (implicit-mode bindings take the new
// configured set), an IPv4 home address no longer theirs is dropped, and
// lifetimes are capped by the new MaxLifetime. Bindings no longer allowed
// at all are removed at once. Pending DAD registrations are checked again
// when their result comes. On error the old configuration stays.
func (c *Core) Reconfigure(now time.Time, cfg Config) ([]Action, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c.setConfig(cfg)
	var acts []Action
	changed := false
	for _, hoa := range c.sortedKeys() {
		e := c.cache[hoa]
		if e.b.State != StateValid {
			continue
		}
		nb, ok := c.readmit(now, &e.b)
		if !ok {
			acts = append(acts, RemoveBinding{Binding: e.b})
			c.drop(e)
			c.ctr[CtrReconfigDrop]++
			changed = true
			continue
		}
		if !forwardingEqual(&e.b, &nb) {
			acts = append(acts, InstallBinding{Binding: nb, Previous: e.b})
		}
		if !forwardingEqual(&e.b, &nb) || !nb.Expires.Equal(e.b.Expires) {
			changed = true
		}
		e.b = nb
		c.schedule(e)
	}
	if changed {
		acts = append(acts, BindingsChanged{})
	}
	return acts, nil
}

func (c *Core) sortedKeys() []netip.Addr {
	keys := make([]netip.Addr, 0, len(c.cache))
	for k := range c.cache {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, netip.Addr.Compare)
	return keys
}

// Restore loads saved bindings (from Snapshot) into the cache at start-up
// and returns an InstallBinding for each, so forwarding resumes before
// the next refresh (issue 10). It drops bindings that have expired, are
// not valid, or that the current configuration no longer allows (trimmed
// like Reconfigure), and skips home addresses already in the cache. Saved
// times carry no monotonic reading; they are rebased on now. Call it once,
// before the first HandleBU.
func (c *Core) Restore(now time.Time, saved []Binding) []Action {
	var acts []Action
	dropped := false
	for i := range saved {
		b := saved[i]
		if _, dup := c.cache[b.HomeAddress]; dup {
			continue
		}
		if b.State != StateValid || !b.Expires.After(now) {
			c.ctr[CtrExpired]++
			dropped = true
			continue
		}
		// Rebase on now's monotonic clock.
		b.Expires = now.Add(b.Expires.Sub(now))
		if !b.Registered.IsZero() {
			b.Registered = now.Add(b.Registered.Sub(now))
		}
		b.Prefixes = slices.Clone(b.Prefixes)
		b.IPv4Prefixes = slices.Clone(b.IPv4Prefixes)
		nb, ok := c.readmit(now, &b)
		if !ok || (c.cfg.MaxBindings > 0 && len(c.cache) >= c.cfg.MaxBindings) {
			c.pool.release(nb.IPv4HomeAddress, nb.HomeAddress)
			c.ctr[CtrReconfigDrop]++
			dropped = true
			continue
		}
		e := &entry{b: nb, hidx: -1}
		c.cache[nb.HomeAddress] = e
		c.schedule(e)
		acts = append(acts, InstallBinding{Binding: nb})
	}
	// A restored care-of address that is another restored binding's home
	// address would loop; drop such bindings (HandleBU refuses them too).
	for i := 0; i < len(acts); i++ {
		ib := acts[i].(InstallBinding)
		if o := c.cache[ib.Binding.CareOf]; o != nil && o.b.HomeAddress != ib.Binding.HomeAddress {
			e := c.cache[ib.Binding.HomeAddress]
			c.pool.release(e.b.IPv4HomeAddress, e.b.HomeAddress)
			c.drop(e)
			c.ctr[CtrReconfigDrop]++
			dropped = true
			acts = slices.Delete(acts, i, i+1)
			i--
		}
	}
	if dropped {
		acts = append(acts, BindingsChanged{})
	}
	return acts
}

// readmit checks a valid binding against the current configuration and
// returns it adjusted (prefixes, IPv4 state, lifetime), or false when the
// configuration no longer allows it. It takes the binding's pool lease.
func (c *Core) readmit(now time.Time, b *Binding) (Binding, bool) {
	nb := *b
	hoa := b.HomeAddress
	if !unicast6(hoa) || !c.cfg.HomePrefix.Contains(hoa) || hoa == c.cfg.Address ||
		reservedAnycast(c.cfg.HomePrefix, hoa) || b.Flags&mh.BUFlagH == 0 {
		return nb, false
	}
	rc := c.routers[hoa]
	if b.Router() && (!c.cfg.NEMO || rc == nil) {
		return nb, false
	}
	if !b.Router() && rc == nil && !c.cfg.AllowUnlisted {
		return nb, false
	}
	switch b.Encap {
	case EncapIP6IP6:
		if !unicast6(b.CareOf) || b.CareOf == hoa || b.UDP.IsValid() {
			return nb, false
		}
	case EncapIP6IP4, EncapUDP:
		if !unicast4(b.CareOf) || !unicast4(b.UDP.Addr()) || b.UDP.Port() == 0 {
			return nb, false
		}
	default:
		return nb, false
	}

	// IPv6 mobile network prefixes.
	switch {
	case !b.Router():
		nb.Prefixes, nb.Explicit = nil, false
	case !b.Explicit:
		nb.Prefixes = rc.Prefixes
	default:
		var keep []netip.Prefix
		for _, p := range b.Prefixes {
			if badMNP(p, c.cfg.HomePrefix) == "" && coveredBy(p, rc.Prefixes) && !containsPrefix(keep, p) {
				keep = append(keep, p)
			}
		}
		if len(keep) != len(b.Prefixes) {
			nb.Prefixes = keep
		}
	}

	// IPv4 home address and prefixes.
	var static netip.Addr
	var allowed4 []netip.Prefix
	if rc != nil {
		static, allowed4 = rc.IPv4HomeAddress, rc.IPv4Prefixes
	}
	if a := b.IPv4HomeAddress; a.IsValid() {
		if !(a == static || (!static.IsValid() && c.pool.take(a, hoa))) {
			nb.IPv4HomeAddress = netip.Addr{}
		}
	}
	var keep4 []netip.Prefix
	for _, p := range b.IPv4Prefixes {
		if containsPrefix(allowed4, p) && !containsPrefix(keep4, p) {
			keep4 = append(keep4, p)
		}
	}
	if len(keep4) != len(b.IPv4Prefixes) {
		nb.IPv4Prefixes = keep4
	}

	// Lifetime cap.
	if limit := now.Add(c.cfg.MaxLifetime); nb.Expires.After(limit) {
		nb.Expires = limit
	}
	if nb.Lifetime > c.cfg.MaxLifetime {
		nb.Lifetime = c.cfg.MaxLifetime
	}
	return nb, true
}
