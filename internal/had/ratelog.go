package had

import (
	"log/slog"
	"net/netip"
	"time"
)

// rateLog logs at most one line per peer per interval, and counts what it
// suppressed, so a flood cannot grow the log without bound.
type rateLog struct {
	every time.Duration
	last  map[netip.Addr]time.Time
	quiet map[netip.Addr]int
}

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
	if len(r.last) >= maxPeers {
		clear(r.last)
		clear(r.quiet)
	}
	if n := r.quiet[peer]; n > 0 {
		args = append(args, "suppressed", n)
	}
	r.last[peer] = now
	r.quiet[peer] = 0
	l.Info(msg, args...)
}
