package had

import (
	"log/slog"
	"net/netip"
	"time"
)

// rateLog logs at most one line per peer per interval and, whatever the
// number of peers (a flood from random sources), at most globalRate lines a
// second in all; it counts what it suppressed, so a flood cannot grow the
// log without bound.
type rateLog struct {
	every time.Duration
	last  map[netip.Addr]time.Time
	quiet map[netip.Addr]int
	all   bucket
	// dropped counts lines suppressed by the global limit since the last
	// line logged.
	dropped int
}

// globalRate and globalBurst bound the log lines of all peers together.
const (
	globalRate  = 5
	globalBurst = 20
)

func newRateLog(every time.Duration) *rateLog {
	return &rateLog{every: every, last: map[netip.Addr]time.Time{}, quiet: map[netip.Addr]int{}}
}

// maxPeers bounds the memory a spoofed-source flood can make us use.
const maxPeers = 4096

func (r *rateLog) log(l *slog.Logger, peer netip.Addr, msg string, args ...any) {
	now := time.Now()
	if t, ok := r.last[peer]; ok && now.Sub(t) < r.every {
		r.quiet[peer]++
		return
	}
	if !r.all.take(now, globalRate, globalBurst) {
		r.dropped++
		return
	}
	if len(r.last) >= maxPeers {
		clear(r.last)
		clear(r.quiet)
	}
	if n := r.quiet[peer]; n > 0 {
		args = append(args, "suppressed", n)
	}
	if r.dropped > 0 {
		args = append(args, "suppressed_all_peers", r.dropped)
		r.dropped = 0
	}
	r.last[peer] = now
	r.quiet[peer] = 0
	l.Info(msg, args...)
}
