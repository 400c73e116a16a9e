package mrd

import "time"

// tunnelProbes is how many unanswered probes mean that the tunnel's path is
// lost, as MAX_UNICAST_SOLICIT for neighbour unreachability detection (RFC
// 4861 7.3.3).
const tunnelProbes = 3

// tunnelCheck watches the installed tunnel's packet counters, as neighbour
// unreachability detection watches a neighbour (RFC 4861 7.3), with the
// home agent as the neighbour and the tunnel as the link. Anything received
// from the tunnel confirms the path; while packets go in and nothing comes
// out, one probe is sent per period (an ICMPv6 echo request from the home
// address to the home agent, through the tunnel, which the home agent
// answers through the tunnel), and when tunnelProbes periods pass with
// probes out and still nothing received, the path is lost. An idle tunnel
// costs nothing: no traffic in, no probe. A tunnel that receives costs
// nothing either. It is not safe for concurrent use.
type tunnelCheck struct {
	period time.Duration
	next   time.Time // zero: not running
	rx, tx uint64
	sent   int
	// lost is set once the loss was reported: quiet until something is
	// received again, the tunnel changes or quiet passes.
	lost      bool
	lostUntil time.Time
	quiet     time.Duration
	// heard is when the received counter last moved (or the check
	// started): the start of the silence a loss reports.
	heard time.Time
	// probes and losses are totals, for the status.
	probes, losses uint64
}

// tunnelVerdict is what one tick of the check asks for.
type tunnelVerdict struct {
	probe     bool          // send a probe now
	lost      bool          // the path is lost: tell the core
	recovered bool          // traffic came back after a loss
	silent    time.Duration // with lost: how long nothing was received
}

// start (re)starts the check on a newly installed tunnel whose counters are
// rx and tx now. period 0 keeps it stopped. After a loss the check is quiet
// for the quiet time (the core's PathHold), unless something is received.
func (c *tunnelCheck) start(now time.Time, period, quiet time.Duration, rx, tx uint64) {
	c.period, c.quiet = period, quiet
	c.rx, c.tx, c.sent, c.lost, c.heard = rx, tx, 0, false, now
	c.next = time.Time{}
	if period > 0 {
		c.next = now.Add(period)
	}
}

// stop ends the check (no tunnel).
func (c *tunnelCheck) stop() { c.next, c.sent, c.lost = time.Time{}, 0, false }

// deadline reports when tick is next due.
func (c *tunnelCheck) deadline() (time.Time, bool) { return c.next, !c.next.IsZero() }

// tick runs the check at now with the tunnel's counters.
func (c *tunnelCheck) tick(now time.Time, rx, tx uint64) tunnelVerdict {
	var v tunnelVerdict
	if c.next.IsZero() {
		return v
	}
	c.next = now.Add(c.period)
	if rx != c.rx {
		v.recovered = c.lost
		c.rx, c.tx, c.sent, c.lost, c.heard = rx, tx, 0, false, now
		return v
	}
	sending := tx != c.tx
	c.tx = tx
	if c.lost && !now.Before(c.lostUntil) {
		c.lost = false
	}
	switch {
	case c.lost, !sending && c.sent == 0:
		// Reported already, or idle.
	case c.sent == tunnelProbes:
		c.sent, c.lost, c.lostUntil = 0, true, now.Add(c.quiet)
		c.losses++
		v.lost, v.silent = true, now.Sub(c.heard)
	default:
		c.sent++
		c.probes++
		v.probe = true
	}
	return v
}
