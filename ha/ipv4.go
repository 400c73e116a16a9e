package ha

import (
	"net/netip"

	"github.com/nemo-mobility/nemo/mh"
)

// failedAcks returns one IPv4 Address Acknowledgement with status 128 for
// every IPv4 Home Address option in opts: the option MUST be in the BA iff
// the Binding Update had one (RFC 5555 section 4.2), and no IPv4 binding
// was made. Nil when there is none.
func (c *Core) failedAcks(opts []mh.Option) []mh.Option {
	var acks []mh.Option
	for _, op := range opts {
		if o, ok := op.(mh.IPv4HomeAddress); ok {
			if acks == nil {
				acks = make([]mh.Option, 0, 2)
			}
			acks = append(acks, mh.IPv4AddressAck{Status: mh.IPv4AckFailure, Addr: ackAddr(o.Addr)})
			c.ctr[CtrIPv4Refused]++
		}
	}
	return acks
}

func ackAddr(a netip.Addr) netip.Addr {
	if a.Is4() {
		return a
	}
	return netip.IPv4Unspecified()
}

// ipv4 processes the IPv4 Home Address options of an accepted
// registration (RFC 5555 sections 3.1.1, 3.2.1, 4.4.2.1, 4.5): it sets
// nb.IPv4HomeAddress and nb.IPv4Prefixes to what is granted (the options
// replace the previous IPv4 state; none removes it), moves pool leases
// accordingly, and returns one IPv4 Address Acknowledgement per option, in
// order. old is the binding being refreshed, or nil.
func (c *Core) ipv4(nb *Binding, old *Binding, rc *RouterConfig, opts []mh.Option) []mh.Option {
	var oldAddr netip.Addr
	var oldPfx []netip.Prefix
	if old != nil {
		oldAddr, oldPfx = old.IPv4HomeAddress, old.IPv4Prefixes
	}
	var acks []mh.Option
	var pfx []netip.Prefix
	for _, op := range opts {
		o, ok := op.(mh.IPv4HomeAddress)
		if !ok {
			continue
		}
		ack := c.ipv4One(nb, o, rc, oldAddr, oldPfx, &pfx)
		if ack.Status < 128 {
			c.ctr[CtrIPv4Assigned]++
		} else {
			c.ctr[CtrIPv4Refused]++
			ack.PrefixLen = 0
		}
		if acks == nil {
			acks = make([]mh.Option, 0, 2)
		}
		acks = append(acks, ack)
	}
	if oldAddr.IsValid() && oldAddr != nb.IPv4HomeAddress {
		c.pool.release(oldAddr, nb.HomeAddress)
	}
	if len(pfx) > 0 && old != nil && prefixSetEqual(pfx, oldPfx) {
		pfx = oldPfx // unchanged: keep the slice already handed out
	}
	nb.IPv4Prefixes = pfx
	return acks
}

func prefixSetEqual(a, b []netip.Prefix) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func containsPrefix(ps []netip.Prefix, p netip.Prefix) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

// ipv4One answers one IPv4 Home Address option.
func (c *Core) ipv4One(nb *Binding, o mh.IPv4HomeAddress, rc *RouterConfig, oldAddr netip.Addr, oldPfx []netip.Prefix, granted *[]netip.Prefix) mh.IPv4AddressAck {
	hoa := nb.HomeAddress
	fail := func(st mh.IPv4AckStatus) mh.IPv4AddressAck {
		return mh.IPv4AddressAck{Status: st, Addr: ackAddr(o.Addr)}
	}
	// Prefix-len 0 is an error (section 3.1.1); so is anything but IPv4.
	if !o.Addr.Is4() || o.PrefixLen == 0 || o.PrefixLen > 32 {
		return fail(mh.IPv4AckInvalidAddress)
	}
	// A prefix request: P set, or (P being ignored on refreshes) the
	// address and length of a prefix this binding already holds.
	var want netip.Prefix
	if !o.Addr.IsUnspecified() {
		want = netip.PrefixFrom(o.Addr, int(o.PrefixLen)).Masked()
	}
	if o.P || (want.IsValid() && o.PrefixLen < 32 && containsPrefix(oldPfx, want)) {
		if rc == nil || len(rc.IPv4Prefixes) == 0 {
			return fail(mh.IPv4AckPrefixUnauthorized)
		}
		var pick netip.Prefix
		if want.IsValid() {
			if containsPrefix(rc.IPv4Prefixes, want) && !containsPrefix(*granted, want) {
				pick = want
			}
		} else {
			// Dynamic: the requested length if configured, else any.
			for _, q := range rc.IPv4Prefixes {
				if !containsPrefix(*granted, q) && (!pick.IsValid() || (q.Bits() == int(o.PrefixLen) && pick.Bits() != int(o.PrefixLen))) {
					pick = q
				}
			}
		}
		if !pick.IsValid() {
			return fail(mh.IPv4AckPrefixUnauthorized)
		}
		*granted = append(*granted, pick)
		return mh.IPv4AddressAck{Status: mh.IPv4AckSuccess, PrefixLen: uint8(pick.Bits()), Addr: pick.Addr()}
	}

	// An address request. One IPv4 home address per binding.
	if nb.IPv4HomeAddress.IsValid() {
		return fail(mh.IPv4AckAdministrativelyProhibited)
	}
	var static netip.Addr
	if rc != nil {
		static = rc.IPv4HomeAddress
	}
	a := o.Addr
	switch {
	case a.IsUnspecified():
		// Dynamic assignment (section 2.5): the static address if there
		// is one, the address already leased, or a new lease.
		switch {
		case static.IsValid():
			a = static
		case oldAddr.IsValid() && c.pool.take(oldAddr, hoa):
			a = oldAddr
		default:
			var ok bool
			if a, ok = c.pool.alloc(hoa); !ok {
				return fail(mh.IPv4AckDynamicNotAvailable)
			}
		}
	case !unicast4(a):
		return fail(mh.IPv4AckInvalidAddress)
	case a == static:
	case c.pool.contains(a):
		// A pool address: it must not be someone else's, and a router
		// with a static address gets no pool address.
		if static.IsValid() || !c.pool.take(a, hoa) {
			return fail(mh.IPv4AckIncorrectHoA)
		}
	case c.pool == nil && !static.IsValid() && (rc == nil || len(rc.IPv4Prefixes) == 0):
		// No IPv4 home address service for this node at all.
		return fail(mh.IPv4AckAdministrativelyProhibited)
	default:
		// Not allocated to this mobile node (section 4.5 MUST check).
		return fail(mh.IPv4AckIncorrectHoA)
	}
	nb.IPv4HomeAddress = a
	return mh.IPv4AddressAck{Status: mh.IPv4AckSuccess, PrefixLen: 32, Addr: a}
}
