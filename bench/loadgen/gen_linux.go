package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nemo-mobility/nemo/mh"
	"github.com/nemo-mobility/nemo/mnha"
	"github.com/nemo-mobility/nemo/mrouter"
	"github.com/nemo-mobility/nemo/transport"
)

// router is one simulated mobile router.
type router struct {
	hoa    netip.Addr
	signer *mnha.Signer
	seq    uint16
	gen    int // care-of generation
	// sentAt is when the outstanding BU left (UnixNano), 0 when none.
	sentAt atomic.Int64
}

// gen sends BUs for the routers and matches the BAs.
type gen struct {
	routers []router
	sender  *transport.IPv6Sender
	sig     *transport.Listener[transport.Received]

	mu      sync.Mutex
	lat     []time.Duration // of the current phase
	refused map[mh.Status]int
	badAuth int
	// slots bounds the outstanding BUs in a windowed phase.
	slots atomic.Pointer[chan struct{}]
	done  atomic.Int64 // BAs matched in the current phase
	// lastAt is when the last BA was matched (UnixNano).
	lastAt atomic.Int64
}

func newGen(n int) (*gen, error) {
	g := &gen{routers: make([]router, n), refused: map[mh.Status]int{}}
	rnd := rand.NewChaCha8([32]byte{1})
	var rmu sync.Mutex
	for i := range g.routers {
		s, err := mnha.NewSigner(mnha.SignerConfig{
			SA:   mnha.SA{SPI: spi(i), Key: key(i), NAI: nai(i), HomeAddress: hoa(i)},
			Rand: lockedReader{&rmu, rnd},
		})
		if err != nil {
			return nil, err
		}
		g.routers[i].hoa, g.routers[i].signer = hoa(i), s
		g.routers[i].seq = uint16(i * 7)
	}
	return g, nil
}

type lockedReader struct {
	mu *sync.Mutex
	r  *rand.ChaCha8
}

func (l lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

// send signs and sends one BU for router i from its current care-of
// address with the given lifetime (0: a deregistration from a foreign
// link, RFC 6275 11.7.2).
func (g *gen) send(i int, lifetime time.Duration) error {
	r := &g.routers[i]
	r.seq++
	src := coa(i, r.gen)
	bu := mh.BindingUpdate{Sequence: r.seq, Flags: mh.BUFlagA | mh.BUFlagH | mh.BUFlagR, Lifetime: lifetime}
	bu, err := r.signer.SignBU(haAddr, src, false, bu)
	if err != nil {
		return err
	}
	pkt, err := mh.BuildPacket(mh.Packet{Src: src, Dst: haAddr, HomeAddress: r.hoa, Message: bu})
	if err != nil {
		return err
	}
	r.sentAt.Store(time.Now().UnixNano())
	return g.sender.Send(pkt)
}

// receive matches BAs until ctx ends.
func (g *gen) receive(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case p, ok := <-g.sig.Packets():
			if !ok {
				return
			}
			g.onPacket(p)
		}
	}
}

func (g *gen) onPacket(p transport.Received) {
	now := time.Now().UnixNano()
	pkt, raw, err := mh.ParseSignal(p.Src, p.Dst, p.NextHeader, p.Data)
	if err != nil {
		return
	}
	ba, ok := pkt.Message.(mh.BindingAck)
	if !ok {
		return
	}
	i, ok := index(pkt.RoutingHome)
	if !ok || i >= len(g.routers) {
		return
	}
	r := &g.routers[i]
	if err := r.signer.VerifyBA(mrouter.BAInfo{From: pkt.Src, BA: ba, Raw: raw}); err != nil {
		g.mu.Lock()
		g.badAuth++
		g.mu.Unlock()
		return
	}
	if ba.Sequence != r.seq {
		return
	}
	at := r.sentAt.Swap(0)
	if at == 0 {
		return // a duplicate, or already reaped
	}
	g.mu.Lock()
	g.lat = append(g.lat, time.Duration(now-at))
	if ba.Status >= mh.StatusReasonUnspecified {
		g.refused[ba.Status]++
	}
	g.mu.Unlock()
	g.done.Add(1)
	g.lastAt.Store(now)
	g.release()
}

// release frees one window slot (closed-loop phases).
func (g *gen) release() {
	if p := g.slots.Load(); p != nil && *p != nil {
		select {
		case <-*p:
		default:
		}
	}
}

// phaseResult is one phase's figures.
type phaseResult struct {
	Name     string        `json:"name"`
	Sent     int           `json:"sent"`
	Answered int           `json:"answered"`
	Refused  int           `json:"refused"`
	Lost     int           `json:"lost"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	Rate     float64       `json:"ba_per_s"`
	Target   float64       `json:"target_per_s,omitempty"`
	Window   int           `json:"window,omitempty"`
	P50      time.Duration `json:"p50_ns"`
	P99      time.Duration `json:"p99_ns"`
	Max      time.Duration `json:"max_ns"`
	HACPU    time.Duration `json:"ha_cpu_ns"`
	GenCPU   time.Duration `json:"loadgen_cpu_ns"`
}

// phase sends one BU for each router in ids. With window > 0 at most
// window BUs are outstanding (closed loop: the rate is what the home
// agent sustains); otherwise they leave at rate per second (open loop).
// A BU unanswered after timeout counts as lost (and frees its slot).
func (g *gen) phase(name string, ids []int, lifetime time.Duration, window int, rate float64, timeout time.Duration, hapid int) phaseResult {
	g.mu.Lock()
	g.lat = g.lat[:0]
	clear(g.refused)
	g.mu.Unlock()
	g.done.Store(0)
	var slots chan struct{}
	if window > 0 {
		slots = make(chan struct{}, window)
	}
	g.slots.Store(&slots)
	g.lastAt.Store(0)
	res := phaseResult{Name: name, Window: window, Target: rate}
	ha0, gen0 := procCPU(hapid), selfCPU()
	start := time.Now()
	stopReap := make(chan struct{})
	reaped := atomic.Int64{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // frees the slots of BUs whose BA never came
		defer wg.Done()
		t := time.NewTicker(timeout / 4)
		defer t.Stop()
		for {
			select {
			case <-stopReap:
				return
			case <-t.C:
			}
			lim := time.Now().Add(-timeout).UnixNano()
			for _, i := range ids {
				r := &g.routers[i]
				if at := r.sentAt.Load(); at != 0 && at < lim && r.sentAt.CompareAndSwap(at, 0) {
					reaped.Add(1)
					g.release()
				}
			}
		}
	}()
	for k, i := range ids {
		if window > 0 {
			slots <- struct{}{}
		} else if rate > 0 {
			due := start.Add(time.Duration(float64(k) / rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		}
		if err := g.send(i, lifetime); err != nil {
			continue
		}
		res.Sent++
	}
	// Wait for the last answers.
	deadline := time.Now().Add(timeout + timeout/2)
	for time.Now().Before(deadline) && int(g.done.Load())+int(reaped.Load()) < res.Sent {
		time.Sleep(2 * time.Millisecond)
	}
	close(stopReap)
	wg.Wait()
	g.mu.Lock()
	lat := slices.Clone(g.lat)
	for _, n := range g.refused {
		res.Refused += n
	}
	g.mu.Unlock()
	res.Answered = len(lat)
	res.Lost = res.Sent - res.Answered
	// The elapsed time ends at the last answer, not at the timeout.
	res.Elapsed = time.Since(start)
	if last := g.lastAt.Load(); last > start.UnixNano() {
		res.Elapsed = time.Duration(last - start.UnixNano())
	}
	if res.Elapsed > 0 {
		res.Rate = float64(res.Answered) / res.Elapsed.Seconds()
	}
	res.P50, res.P99, res.Max = percentiles(lat)
	res.HACPU, res.GenCPU = procCPU(hapid)-ha0, selfCPU()-gen0
	return res
}

func percentiles(lat []time.Duration) (p50, p99, maxv time.Duration) {
	if len(lat) == 0 {
		return 0, 0, 0
	}
	slices.Sort(lat)
	q := func(f float64) time.Duration { return lat[min(len(lat)-1, int(f*float64(len(lat))))] }
	return q(0.50), q(0.99), lat[len(lat)-1]
}

func (r phaseResult) String() string {
	mode := fmt.Sprintf("window %d", r.Window)
	if r.Window == 0 {
		mode = fmt.Sprintf("%.0f/s", r.Target)
	}
	return fmt.Sprintf("%-22s %-12s %7d %7d %5d %5d %9.0f %9s %9s %9s %7.2f %7.2f",
		r.Name, mode, r.Sent, r.Answered, r.Refused, r.Lost, r.Rate,
		ms(r.P50), ms(r.P99), ms(r.Max), r.HACPU.Seconds(), r.GenCPU.Seconds())
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/1e6) }

const phaseHeader = "PHASE                  MODE            SENT  ANSWER  REFU  LOST  BA_PER_S       P50       P99       MAX  HA_CPU  LG_CPU"
