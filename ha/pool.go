package ha

import (
	"encoding/binary"
	"net/netip"
)

// pool hands out dynamic IPv4 home addresses (RFC 5555 section 2.5) from
// one prefix. A lease lasts as long as the binding holding it. The network
// and broadcast addresses (for prefixes up to /30), the home agent's own
// IPv4 address and statically assigned addresses are never handed out.
type pool struct {
	first, last uint32                // usable range, inclusive
	next        uint32                // where the next search starts
	free        int                   // usable addresses neither leased nor reserved
	leases      map[uint32]netip.Addr // address → IPv6 home address
	reserved    map[uint32]struct{}
}

func v4u32(a netip.Addr) uint32 { b := a.As4(); return binary.BigEndian.Uint32(b[:]) }

func u32v4(u uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], u)
	return netip.AddrFrom4(b)
}

// newPool returns nil when p is not valid.
func newPool(p netip.Prefix, reserved []netip.Addr) *pool {
	if !p.IsValid() {
		return nil
	}
	first := v4u32(p.Addr())
	last := first | (1<<(32-p.Bits()) - 1)
	if p.Bits() <= 30 {
		first++
		last--
	}
	pl := &pool{first: first, last: last, next: first,
		leases: make(map[uint32]netip.Addr), reserved: make(map[uint32]struct{})}
	pl.free = int(last - first + 1)
	for _, a := range reserved {
		if a.IsValid() && a.Is4() {
			if u := v4u32(a); u >= first && u <= last {
				if _, dup := pl.reserved[u]; !dup {
					pl.reserved[u] = struct{}{}
					pl.free--
				}
			}
		}
	}
	return pl
}

func (pl *pool) contains(a netip.Addr) bool {
	if pl == nil || !a.Is4() {
		return false
	}
	u := v4u32(a)
	return u >= pl.first && u <= pl.last
}

// holder returns the home address holding a, if any.
func (pl *pool) holder(a netip.Addr) (netip.Addr, bool) {
	if !pl.contains(a) {
		return netip.Addr{}, false
	}
	h, ok := pl.leases[v4u32(a)]
	return h, ok
}

// take leases a (inside the pool, not reserved, free or already held by
// hoa) to hoa.
func (pl *pool) take(a, hoa netip.Addr) bool {
	if !pl.contains(a) {
		return false
	}
	u := v4u32(a)
	if _, r := pl.reserved[u]; r {
		return false
	}
	if h, ok := pl.leases[u]; ok {
		return h == hoa
	}
	pl.leases[u] = hoa
	pl.free--
	return true
}

// alloc leases some free address to hoa.
func (pl *pool) alloc(hoa netip.Addr) (netip.Addr, bool) {
	if pl == nil || pl.free <= 0 {
		return netip.Addr{}, false
	}
	u := pl.next
	for {
		_, leased := pl.leases[u]
		_, res := pl.reserved[u]
		if !leased && !res {
			break
		}
		if u == pl.last {
			u = pl.first
		} else {
			u++
		}
	}
	pl.leases[u] = hoa
	pl.free--
	if u == pl.last {
		pl.next = pl.first
	} else {
		pl.next = u + 1
	}
	return u32v4(u), true
}

// release ends hoa's lease of a, if it holds one.
func (pl *pool) release(a, hoa netip.Addr) {
	if !pl.contains(a) {
		return
	}
	u := v4u32(a)
	if h, ok := pl.leases[u]; ok && h == hoa {
		delete(pl.leases, u)
		pl.free++
	}
}
