package mrouter

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/mh"
)

var (
	hoa      = netip.MustParseAddr("2001:db8:1::100")
	homePfx  = netip.MustParsePrefix("2001:db8:1::/64")
	ha1      = netip.MustParseAddr("2001:db8:1::1")
	ha1v4    = netip.MustParseAddr("192.0.2.1")
	ha2      = netip.MustParseAddr("2001:db8:1::2")
	ha2v4    = netip.MustParseAddr("192.0.2.2")
	mnp1     = netip.MustParsePrefix("2001:db8:a::/64")
	mnp2     = netip.MustParsePrefix("2001:db8:b::/64")
	mnp4     = netip.MustParsePrefix("198.18.5.0/24")
	coaWAN   = netip.MustParseAddr("2001:db8:f2::10")
	coaLTE   = netip.MustParseAddr("2001:db8:f3::10")
	coaWLAN  = netip.MustParseAddr("2001:db8:f4::10")
	coa4     = netip.MustParseAddr("198.51.100.10")
	coa4LTE  = netip.MustParseAddr("203.0.113.77")
	t0       = time.Unix(100000, 0)
	initSeq  = uint16(1000)
	homeLink = Uplink{Name: "wan", Priority: 10, Up: true, AtHome: true}
)

func baseConfig() Config {
	return Config{
		HomeAddress:  hoa,
		HomePrefix:   homePfx,
		HomeAgents:   []HomeAgent{{Address: ha1, IPv4: ha1v4}},
		Prefixes:     []netip.Prefix{mnp1, mnp2},
		IPv4Prefixes: []netip.Prefix{mnp4},
		Lifetime:     600 * time.Second,
		Rand:         func() uint32 { return uint32(initSeq) },
	}
}

func twoHAConfig() Config {
	cfg := baseConfig()
	cfg.HomeAgents = []HomeAgent{{Address: ha1, IPv4: ha1v4, Preferred: true}, {Address: ha2, IPv4: ha2v4}}
	return cfg
}

// sent is a SendBU with the time the core emitted it.
type sent struct {
	at time.Time
	SendBU
}

// harness drives a Core on a fake clock and records everything it emits.
type harness struct {
	t    *testing.T
	c    *Core
	now  time.Time
	all  []Action
	sent []sent
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	c, err := New(cfg, t0)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &harness{t: t, c: c, now: t0}
}

func (h *harness) record(acts []Action) []Action {
	for _, a := range acts {
		if s, ok := a.(SendBU); ok {
			h.sent = append(h.sent, sent{at: h.now, SendBU: s})
		}
	}
	h.all = append(h.all, acts...)
	return acts
}

func (h *harness) uplink(u Uplink) []Action { return h.record(h.c.UplinkUpdate(h.now, u)) }
func (h *harness) gone(name string) []Action {
	return h.record(h.c.UplinkGone(h.now, name))
}
func (h *harness) ba(from netip.Addr, ba mh.BindingAck) []Action {
	return h.record(h.c.HandleBA(h.now, BAInfo{From: from, BA: ba}))
}

// accept answers the latest BU with an accepting BA carrying R.
func (h *harness) accept(opts ...mh.Option) []Action {
	h.t.Helper()
	last := h.lastSend()
	return h.ba(last.To, mh.BindingAck{Status: mh.StatusAccepted, Flags: mh.BAFlagR,
		Sequence: last.BU.Sequence, Lifetime: last.BU.Lifetime, Options: opts})
}

func (h *harness) lastSend() sent {
	h.t.Helper()
	if len(h.sent) == 0 {
		h.t.Fatal("no BU sent")
	}
	return h.sent[len(h.sent)-1]
}

// advance moves the clock by d, calling Tick at every deadline on the way.
func (h *harness) advance(d time.Duration) []Action {
	h.t.Helper()
	end := h.now.Add(d)
	var out []Action
	for ticked := false; ; ticked = true {
		dl, ok := h.c.NextDeadline()
		if !ok || dl.After(end) {
			break
		}
		if !dl.After(h.now) && ticked {
			h.t.Fatalf("deadline %v does not advance past %v", dl.Sub(t0), h.now.Sub(t0))
		}
		if dl.After(h.now) {
			h.now = dl
		}
		out = append(out, h.record(h.c.Tick(h.now))...)
	}
	h.now = end
	out = append(out, h.record(h.c.Tick(h.now))...)
	return out
}

func sends(acts []Action) []SendBU {
	var out []SendBU
	for _, a := range acts {
		if s, ok := a.(SendBU); ok {
			out = append(out, s)
		}
	}
	return out
}

func find[T Action](acts []Action) (T, bool) {
	for _, a := range acts {
		if v, ok := a.(T); ok {
			return v, true
		}
	}
	var zero T
	return zero, false
}

func count[T Action](acts []Action) int {
	n := 0
	for _, a := range acts {
		if _, ok := a.(T); ok {
			n++
		}
	}
	return n
}

func mnps(bu mh.BindingUpdate) []netip.Prefix {
	var out []netip.Prefix
	for _, o := range bu.Options {
		if p, ok := o.(mh.MobileNetworkPrefix); ok {
			out = append(out, p.Prefix)
		}
	}
	return out
}

func opt[T mh.Option](bu mh.BindingUpdate) (T, bool) {
	for _, o := range bu.Options {
		if v, ok := o.(T); ok {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// sendOffsets returns the send times relative to the first one.
func sendOffsets(s []sent) []time.Duration {
	var out []time.Duration
	for _, x := range s {
		out = append(out, x.at.Sub(s[0].at))
	}
	return out
}

// checkRate fails when more than MaxUpdateRate BUs lie in a one-second
// window.
func checkRate(t testing.TB, s []sent) {
	t.Helper()
	for i := MaxUpdateRate; i < len(s); i++ {
		if d := s[i].at.Sub(s[i-MaxUpdateRate].at); d < time.Second {
			t.Fatalf("BUs %d..%d within %v (more than %d per second)", i-MaxUpdateRate, i, d, MaxUpdateRate)
		}
	}
}

func newPCG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)) }
