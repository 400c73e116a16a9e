package had

import (
	"net/netip"
	"time"
)

// Unsolicited Neighbor Advertisements for a new binding's home address
// (RFC 6275 10.4.1: the home agent "SHOULD" send them, and RFC 4861 7.2.6
// allows up to MAX_NEIGHBOR_ADVERTISEMENT = 3, at least a second apart).
const (
	announceCount = 3
	announceEvery = time.Second
)

// announcement is one home address still to be announced.
type announcement struct {
	hoa, v4 netip.Addr // v4: the IPv4 home address, announced by ARP
	router  bool
	due     time.Time
	left    int
	gen     uint64
}

// announcer schedules the announcements of every new binding from the
// event loop, with no goroutine or timer per binding. New home addresses
// wait in fresh for the loop's next pass (after the data-plane update that
// installs their proxy entries); the repeats all come announceEvery after
// the previous one, so a FIFO queue is in due order.
type announcer struct {
	fresh []announcement
	q     []announcement
	head  int
	live  map[netip.Addr]uint64 // home address → generation still wanted
	gen   uint64
}

func newAnnouncer() *announcer { return &announcer{live: make(map[netip.Addr]uint64)} }

// start schedules announceCount announcements of hoa, the first at now,
// replacing those still due for it.
func (a *announcer) start(now time.Time, hoa, v4 netip.Addr, router bool) {
	a.gen++
	a.live[hoa] = a.gen
	a.fresh = append(a.fresh, announcement{hoa: hoa, v4: v4, router: router, due: now, left: announceCount, gen: a.gen})
}

// stop cancels the announcements still due for hoa: they must stop the
// moment its binding goes, or a late one would steal the address back
// from a router that returned home.
func (a *announcer) stop(hoa netip.Addr) { delete(a.live, hoa) }

// due calls send for every announcement due at now (the fresh ones
// included) and schedules the next of each.
func (a *announcer) due(now time.Time, send func(announcement)) {
	one := func(x announcement) {
		if a.live[x.hoa] != x.gen {
			return // cancelled or replaced
		}
		send(x)
		if x.left--; x.left > 0 {
			x.due = now.Add(announceEvery)
			a.q = append(a.q, x)
		} else {
			delete(a.live, x.hoa)
		}
	}
	for a.head < len(a.q) && !a.q[a.head].due.After(now) {
		x := a.q[a.head]
		a.q[a.head] = announcement{}
		a.head++
		one(x)
	}
	for i, x := range a.fresh {
		a.fresh[i] = announcement{}
		one(x)
	}
	a.fresh = a.fresh[:0]
	if a.head == len(a.q) {
		a.q, a.head = a.q[:0], 0
	} else if a.head > 1024 && a.head > len(a.q)/2 {
		n := copy(a.q, a.q[a.head:])
		clear(a.q[n:])
		a.q, a.head = a.q[:n], 0
	}
}

// next returns when the next announcement is due (ok false: none; the
// zero time: now).
func (a *announcer) next() (time.Time, bool) {
	if len(a.fresh) > 0 {
		return time.Time{}, true
	}
	if a.head == len(a.q) {
		return time.Time{}, false
	}
	return a.q[a.head].due, true
}
