package had

import (
	"net/netip"
	"time"
)

// bucket is a token bucket: rate tokens a second, at most burst.
type bucket struct {
	tokens float64
	last   time.Time
}

func (b *bucket) take(now time.Time, rate, burst float64) bool {
	if b.last.IsZero() {
		b.tokens = burst
	} else {
		b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// limiter bounds the Binding Updates the home agent processes: per source
// address, and in total for sources that hold no binding. Binding Updates
// from a registered binding's care-of address are held only to their own
// per-source rate, so a flood from spoofed or unknown sources exhausts the
// shared budget without starving the refreshes of routers already
// registered (issue 5).
type limiter struct {
	perSource, total float64
	perSrc           map[netip.Addr]*bucket
	all              bucket
	// Counters.
	droppedSource, droppedTotal uint64
}

// maxSources bounds the per-source table; a spoofed flood with random
// sources resets it rather than growing it without bound.
const maxSources = 65536

func newLimiter(perSource, total int) *limiter {
	return &limiter{perSource: float64(perSource), total: float64(total), perSrc: map[netip.Addr]*bucket{}}
}

// allow decides on one Binding Update from src; known reports that src is
// the care-of address of a registered binding.
func (l *limiter) allow(now time.Time, src netip.Addr, known bool) bool {
	if l.perSource > 0 {
		b := l.perSrc[src]
		if b == nil {
			if len(l.perSrc) >= maxSources {
				clear(l.perSrc)
			}
			b = &bucket{}
			l.perSrc[src] = b
		}
		// A burst of twice the rate lets a router retransmit and resync.
		if !b.take(now, l.perSource, 2*l.perSource) {
			l.droppedSource++
			return false
		}
	}
	if known || l.total <= 0 {
		return true
	}
	if !l.all.take(now, l.total, l.total) {
		l.droppedTotal++
		return false
	}
	return true
}
