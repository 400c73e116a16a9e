package mrouter

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/mh"
)

func TestFirstRegistrationShapeAndSchedule(t *testing.T) {
	h := newHarness(t, baseConfig())
	acts := h.uplink(Uplink{Name: "wan", Priority: 10, Up: true, CoA6: coaWAN})
	s := sends(acts)
	if len(s) != 1 {
		t.Fatalf("UplinkUpdate gave %d SendBU, want 1 at once: %v", len(s), acts)
	}
	bu := s[0]
	if bu.From != coaWAN || bu.To != ha1 || bu.Uplink != "wan" || !bu.HomeAddressOption || bu.UDP {
		t.Errorf("addressing: %+v", bu)
	}
	if bu.BU.Flags != mh.BUFlagA|mh.BUFlagH|mh.BUFlagR {
		t.Errorf("flags %v, want A|H|R", bu.BU.Flags)
	}
	if bu.BU.Lifetime != 600*time.Second {
		t.Errorf("lifetime %v", bu.BU.Lifetime)
	}
	if bu.BU.Sequence != initSeq {
		t.Errorf("sequence %d, want the random initial %d", bu.BU.Sequence, initSeq)
	}
	if alt, ok := opt[mh.AlternateCareOfAddress](bu.BU); !ok || alt.Addr != coaWAN {
		t.Errorf("Alternate CoA option %v %v, want %v", alt, ok, coaWAN)
	}
	if got := mnps(bu.BU); !slices.Equal(got, []netip.Prefix{mnp1, mnp2}) {
		t.Errorf("MNP options %v", got)
	}
	if _, ok := opt[mh.IPv4HomeAddress](bu.BU); ok {
		t.Error("IPv4 Home Address option without an IPv4 home address configured")
	}
	if st := h.c.Status(h.now); st.State != "registering" || st.CareOf != coaWAN || st.Uplink != "wan" {
		t.Errorf("status %+v", st)
	}
	// No BA: 1.5 s, doubling to 32 s, then 32 s for ever (one home agent).
	h.advance(400 * time.Second)
	want := []time.Duration{0, 1500, 4500, 10500, 22500, 46500, 78500, 110500, 142500, 174500, 206500, 238500, 270500, 302500, 334500, 366500, 398500}
	got := sendOffsets(h.sent)
	if len(got) != len(want) {
		t.Fatalf("send offsets %v, want %d sends", got, len(want))
	}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("send %d at %v, want %v (all: %v)", i, got[i], want[i]*time.Millisecond, got)
		}
		if seq := h.sent[i].BU.Sequence; seq != initSeq+uint16(i) {
			t.Fatalf("send %d sequence %d, want %d (fresh each time)", i, seq, initSeq+uint16(i))
		}
		if h.sent[i].From != coaWAN || len(mnps(h.sent[i].BU)) != 2 {
			t.Fatalf("retransmission %d differs: %+v", i, h.sent[i])
		}
	}
	if !strings.Contains(h.sent[3].Reason, "retransmission") {
		t.Errorf("reason %q", h.sent[3].Reason)
	}
	if n := h.c.Status(h.now).Counters.Retransmissions; n != uint64(len(want)-1) {
		t.Errorf("retransmission counter %d", n)
	}
}

func TestSequenceWrapAround(t *testing.T) {
	cfg := baseConfig()
	cfg.Rand = func() uint32 { return 65534 }
	h := newHarness(t, cfg)
	h.uplink(Uplink{Name: "wan", Up: true, CoA6: coaWAN})
	h.advance(11 * time.Second)
	var seqs []uint16
	for _, s := range h.sent {
		seqs = append(seqs, s.BU.Sequence)
	}
	if want := []uint16{65534, 65535, 0, 1}; !slices.Equal(seqs, want) {
		t.Fatalf("sequences %v, want %v", seqs, want)
	}
	// A BA for the wrapped sequence number is matched.
	if acts := h.accept(); count[SetTunnel](acts) != 1 {
		t.Fatalf("BA for seq %d not accepted: %v", h.lastSend().BU.Sequence, acts)
	}
}

func TestRegisteredTunnelAndRefresh(t *testing.T) {
	h := newHarness(t, baseConfig())
	h.uplink(Uplink{Name: "wan", Up: true, CoA6: coaWAN})
	h.now = h.now.Add(200 * time.Millisecond)
	acts := h.accept()
	tun, ok := find[SetTunnel](acts)
	if !ok {
		t.Fatalf("no SetTunnel after accept: %v", acts)
	}
	want := SetTunnel{Uplink: "wan", Local: coaWAN, Remote: ha1, Encap: EncapIP6IP6, HomeAddress: hoa, HomeAgent: ha1}
	if !sameTunnel(tun, want) || !slices.Equal(tun.Prefixes, []netip.Prefix{mnp1, mnp2}) ||
		!slices.Equal(tun.IPv4Prefixes, []netip.Prefix{mnp4}) {
		t.Errorf("tunnel %+v", tun)
	}
	st := h.c.Status(h.now)
	if st.State != "registered" || st.LifetimeLeft != 600*time.Second-200*time.Millisecond ||
		st.Encap != EncapIP6IP6 || st.LastStatus != "0 accepted" || st.Sequence != initSeq {
		t.Errorf("status %+v", st)
	}
	// Refresh at 80 % of 600 s from the BU, with the 1 s timer, same shape.
	h.advance(479 * time.Second)
	if len(h.sent) != 1 {
		t.Fatalf("early refresh: %v", sendOffsets(h.sent))
	}
	h.advance(time.Second)
	if len(h.sent) != 2 || h.sent[1].at.Sub(t0) != 480*time.Second {
		t.Fatalf("refresh at %v", sendOffsets(h.sent))
	}
	r := h.sent[1]
	if r.BU.Flags != mh.BUFlagA|mh.BUFlagH|mh.BUFlagR || len(mnps(r.BU)) != 2 || r.BU.Lifetime != 600*time.Second ||
		r.BU.Sequence != initSeq+1 || r.Reason != "refresh" {
		t.Errorf("refresh BU %+v", r)
	}
	h.advance(time.Second)
	if len(h.sent) != 3 || h.sent[2].at.Sub(h.sent[1].at) != time.Second {
		t.Fatalf("re-registration timer: %v", sendOffsets(h.sent))
	}
	// Same tunnel again: no new SetTunnel.
	if acts := h.accept(); count[SetTunnel](acts) != 0 {
		t.Errorf("unchanged tunnel re-emitted: %v", acts)
	}
}

func TestLostBAAndStaleBA(t *testing.T) {
	h := newHarness(t, baseConfig())
	h.uplink(Uplink{Name: "wan", Up: true, CoA6: coaWAN})
	h.advance(2 * time.Second) // first BU lost, retransmitted at 1.5 s
	if len(h.sent) != 2 {
		t.Fatalf("sends %v", sendOffsets(h.sent))
	}
	// A sequence number never sent is ignored.
	if acts := h.ba(ha1, mh.BindingAck{Flags: mh.BAFlagR, Sequence: initSeq + 7, Lifetime: 600 * time.Second}); len(acts) != 0 {
		t.Fatalf("BA with a foreign sequence acted on: %v", acts)
	}
	// A BA from someone else is ignored.
	if acts := h.ba(coaLTE, mh.BindingAck{Flags: mh.BAFlagR, Sequence: initSeq + 1, Lifetime: 600 * time.Second}); len(acts) != 0 {
		t.Fatalf("BA from a stranger acted on: %v", acts)
	}
	// The late BA for the first transmission is for the same binding: accepted,
	// lifetime counted from the first transmission.
	acts := h.ba(ha1, mh.BindingAck{Flags: mh.BAFlagR, Sequence: initSeq, Lifetime: 600 * time.Second})
	if count[SetTunnel](acts) != 1 {
		t.Fatalf("late BA not accepted: %v", acts)
	}
	if left := h.c.Status(h.now).LifetimeLeft; left != 598*time.Second {
		t.Errorf("lifetime left %v, want 598s", left)
	}
	// After a move, a BA for the old attempt is stale.
	h.uplink(Uplink{Name: "lte", Priority: 20, Up: true, CoA6: coaLTE})
	old := h.sent[1].BU.Sequence
	if acts := h.ba(ha1, mh.BindingAck{Flags: mh.BAFlagR, Sequence: old, Lifetime: 600 * time.Second}); count[SetTunnel](acts) != 0 {
		t.Fatalf("stale BA moved the tunnel: %v", acts)
	}
	if n := h.c.Status(h.now).Counters.BAIgnored; n != 3 {
		t.Errorf("ignored counter %d, want 3", n)
	}
}

func TestResync135(t *testing.T) {
	h := newHarness(t, baseConfig())
	h.uplink(Uplink{Name: "wan", Up: true, CoA6: coaWAN})
	h.now = h.now.Add(10 * time.Millisecond)
	acts := h.ba(ha1, mh.BindingAck{Status: mh.StatusSequenceOutOfWindow, Sequence: 40000})
	s := sends(acts)
	if len(s) != 1 || s[0].BU.Sequence != 40001 {
		t.Fatalf("135 gave %v, want an immediate BU with sequence 40001", s)
	}
	if st := h.c.Status(h.now); st.Counters.Resyncs != 1 || !strings.HasPrefix(st.LastStatus, "135") {
		t.Errorf("status %+v", st)
	}
	// More 135s resend at once but stay within the rate limit.
	for i := 0; i < 5; i++ {
		h.now = h.now.Add(10 * time.Millisecond)
		h.ba(ha1, mh.BindingAck{Status: mh.StatusSequenceOutOfWindow, Sequence: 50000})
	}
	// The first 50000 resyncs and resends 50001; the late duplicates must
	// not take the counter back to 50001 again.
	var seqs []uint16
	for _, s := range h.sent {
		seqs = append(seqs, s.BU.Sequence)
	}
	if want := []uint16{initSeq, 40001, 50001}; !slices.Equal(seqs, want) {
		t.Fatalf("sequences %v, want %v", seqs, want)
	}
	checkRate(t, h.sent)
	if acts := h.ba(ha1, mh.BindingAck{Flags: mh.BAFlagR, Sequence: 50002, Lifetime: time.Minute}); count[SetTunnel](acts) != 0 {
		t.Fatal("BA for a sequence number not yet sent accepted")
	}
	h.advance(7 * time.Second)
	if last := h.lastSend(); last.BU.Sequence != 50002 || len(h.sent) != 4 {
		t.Fatalf("after resync: %d sends, last sequence %d, want 50002", len(h.sent), last.BU.Sequence)
	}
	if acts := h.accept(); count[SetTunnel](acts) != 1 {
		t.Fatal("BA after resync not accepted")
	}
}

func TestReRegistrationMoveMakeBeforeBreak(t *testing.T) {
	h := newHarness(t, baseConfig())
	h.uplink(Uplink{Name: "wan", Priority: 10, Up: true, CoA6: coaWAN})
	h.accept()
	h.advance(10 * time.Second)
	acts := h.uplink(Uplink{Name: "lte", Priority: 20, Up: true, CoA6: coaLTE})
	s := sends(acts)
	if len(s) != 1 || s[0].From != coaLTE || s[0].Uplink != "lte" || !s[0].HomeAddressOption {
		t.Fatalf("move gave %v", acts)
	}
	if alt, _ := opt[mh.AlternateCareOfAddress](s[0].BU); alt.Addr != coaLTE {
		t.Errorf("Alt-CoA %v", alt)
	}
	if count[SetTunnel](acts)+count[ClearTunnel](acts) != 0 {
		t.Fatalf("tunnel touched before the BA: %v", acts)
	}
	// Until the BA, the status shows what is registered: the old address.
	if st := h.c.Status(h.now); st.State != "registered" || st.CareOf != coaWAN {
		t.Errorf("status during move %+v", st)
	}
	// Re-registration: 1 s initial timer.
	before := len(h.sent)
	h.advance(3500 * time.Millisecond)
	got := sendOffsets(h.sent[before-1:])
	if want := []time.Duration{0, time.Second, 3 * time.Second}; !slices.Equal(got, want) {
		t.Fatalf("re-registration schedule %v, want %v", got, want)
	}
	if count[SetTunnel](h.all) != 1 {
		t.Fatal("old tunnel replaced before the BA")
	}
	acts = h.accept()
	tun, ok := find[SetTunnel](acts)
	if !ok || tun.Local != coaLTE || tun.Uplink != "lte" {
		t.Fatalf("BA did not move the tunnel: %v", acts)
	}
	if count[ClearTunnel](h.all) != 0 {
		t.Fatal("ClearTunnel during a move")
	}
	if st := h.c.Status(h.now); st.Counters.Moves != 1 {
		t.Errorf("moves %d", st.Counters.Moves)
	}
}

func TestFallbackWhenUplinkDown(t *testing.T) {
	h := newHarness(t, baseConfig())
	h.uplink(Uplink{Name: "wan", Priority: 10, Up: true, CoA6: coaWAN})
	h.uplink(Uplink{Name: "lte", Priority: 20, Up: true, CoA6: coaLTE})
	h.now = h.now.Add(2 * time.Second) // leave the rate window
	h.accept()
	if st := h.c.Status(h.now); st.CareOf != coaLTE {
		t.Fatalf("registered %v, want the higher-priority %v", st.CareOf, coaLTE)
	}
	h.now = h.now.Add(time.Minute)
	acts := h.uplink(Uplink{Name: "lte", Priority: 20, Up: false, CoA6: coaLTE})
	s := sends(acts)
	if len(s) != 1 || s[0].From != coaWAN {
		t.Fatalf("fallback gave %v", acts)
	}
	h.accept()
	// Address gone on the remaining uplink, then the uplink itself: nothing
	// can be sent, and no BU leaves without a care-of address.
	h.now = h.now.Add(time.Minute)
	n := len(h.sent)
	h.gone("wan")
	h.advance(time.Hour)
	if len(h.sent) != n {
		t.Fatalf("BU sent without any uplink: %+v", h.sent[n:])
	}
	if st := h.c.Status(h.now); st.State != "no care-of address" {
		t.Errorf("state %q", st.State)
	}
}

func TestCoASelection(t *testing.T) {
	cases := []struct {
		name       string
		preferIPv4 bool
		ups        []Uplink
		want       netip.Addr
		udp        bool
	}{
		{"v6 before v4 on one uplink", false, []Uplink{{Name: "a", Up: true, CoA6: coaWAN, CoA4: coa4}}, coaWAN, false},
		{"PreferIPv4", true, []Uplink{{Name: "a", Up: true, CoA6: coaWAN, CoA4: coa4}}, coa4, true},
		{"v6 before v4 at equal priority", false, []Uplink{{Name: "a", Up: true, CoA4: coa4}, {Name: "b", Up: true, CoA6: coaLTE}}, coaLTE, false},
		{"priority beats family", false, []Uplink{{Name: "a", Priority: 5, Up: true, CoA4: coa4}, {Name: "b", Up: true, CoA6: coaLTE}}, coa4, true},
		{"down uplink ignored", false, []Uplink{{Name: "a", Priority: 5, CoA6: coaWAN}, {Name: "b", Up: true, CoA6: coaLTE}}, coaLTE, false},
		{"link-local is no CoA", false, []Uplink{{Name: "a", Priority: 5, Up: true, CoA6: netip.MustParseAddr("fe80::1")}, {Name: "b", Up: true, CoA4: coa4}}, coa4, true},
		{"name breaks ties", false, []Uplink{{Name: "b", Up: true, CoA6: coaLTE}, {Name: "a", Up: true, CoA6: coaWAN}}, coaWAN, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			cfg.PreferIPv4 = tc.preferIPv4
			h := newHarness(t, cfg)
			for _, u := range tc.ups {
				h.uplink(u)
			}
			h.now = h.now.Add(2 * time.Second)
			h.accept()
			st := h.c.Status(h.now)
			if st.CareOf != tc.want || (st.Encap != EncapIP6IP6) == !tc.udp {
				t.Fatalf("registered %v (%v), want %v", st.CareOf, st.Encap, tc.want)
			}
		})
	}
	// Without an IPv4 address for the home agent an IPv4 CoA is useless.
	cfg := baseConfig()
	cfg.HomeAgents = []HomeAgent{{Address: ha1}}
	h := newHarness(t, cfg)
	if acts := h.uplink(Uplink{Name: "a", Up: true, CoA4: coa4}); len(sends(acts)) != 0 {
		t.Fatalf("BU from an IPv4 CoA to a home agent without IPv4: %v", acts)
	}
}

func TestReturnHomeAndLeaveAgain(t *testing.T) {
	h := newHarness(t, baseConfig())
	h.uplink(Uplink{Name: "lte", Priority: 5, Up: true, CoA6: coaLTE})
	h.accept()
	h.advance(time.Minute)
	acts := h.uplink(homeLink)
	s := sends(acts)
	if len(s) != 1 {
		t.Fatalf("home: %v", acts)
	}
	d := s[0]
	if d.From != hoa || d.To != ha1 || d.Uplink != "wan" || d.HomeAddressOption || d.UDP {
		t.Errorf("deregistration addressing %+v", d)
	}
	if d.BU.Lifetime != 0 || d.BU.Flags != mh.BUFlagA|mh.BUFlagH|mh.BUFlagR {
		t.Errorf("deregistration lifetime %v flags %v", d.BU.Lifetime, d.BU.Flags)
	}
	if len(mnps(d.BU)) != 0 {
		t.Error("MNP options in the deregistration")
	}
	if alt, ok := opt[mh.AlternateCareOfAddress](d.BU); !ok || alt.Addr != hoa {
		t.Errorf("deregistration Alt-CoA %v %v, want the home address", alt, ok)
	}
	if count[ClearTunnel](acts)+count[AtHome](acts) != 0 {
		t.Fatal("acted as home before the BA")
	}
	if st := h.c.Status(h.now); st.State != "deregistering" {
		t.Errorf("state %q", st.State)
	}
	h.now = h.now.Add(5 * time.Millisecond)
	acts = h.ba(ha1, mh.BindingAck{Status: mh.StatusAccepted, Sequence: d.BU.Sequence})
	if _, ok := find[ClearTunnel](acts); !ok {
		t.Fatalf("no ClearTunnel: %v", acts)
	}
	if ah, ok := find[AtHome](acts); !ok || ah.Uplink != "wan" {
		t.Fatalf("no AtHome: %v", acts)
	}
	if st := h.c.Status(h.now); st.State != "at home" || st.CareOf != hoa {
		t.Errorf("status %+v", st)
	}
	n := len(h.sent)
	h.advance(time.Hour)
	if len(h.sent) != n {
		t.Fatal("BUs sent while at home")
	}
	// Leave home: LeftHome and a first registration (1.5 s timer).
	h.uplink(Uplink{Name: "wan", Priority: 10, Up: false})
	acts = h.all[len(h.all)-3:]
	if _, ok := find[LeftHome](acts); !ok {
		t.Fatalf("no LeftHome: %v", acts)
	}
	if last := h.lastSend(); last.From != coaLTE || last.BU.Lifetime == 0 {
		t.Fatalf("after leaving home: %+v", last)
	}
	start := len(h.sent) - 1
	h.advance(2 * time.Second)
	if got := sendOffsets(h.sent[start:]); !slices.Equal(got, []time.Duration{0, 1500 * time.Millisecond}) {
		t.Fatalf("first registration after home: %v", got)
	}
}

func TestReturnHomeGivesUpAndStartupAtHome(t *testing.T) {
	// At start the router cannot know whether a binding exists: on the home
	// link it deregisters; 133 (no binding) counts as done.
	h := newHarness(t, baseConfig())
	s := sends(h.uplink(homeLink))
	if len(s) != 1 || s[0].BU.Lifetime != 0 {
		t.Fatalf("start at home: %v", s)
	}
	acts := h.ba(ha1, mh.BindingAck{Status: mh.StatusNotHomeAgentForThisMN, Sequence: s[0].BU.Sequence})
	if _, ok := find[AtHome](acts); !ok {
		t.Fatalf("133 on deregistration: %v", acts)
	}

	// No answer: DeregAttempts BUs, 1 s doubling, then at home anyway.
	h = newHarness(t, baseConfig())
	h.uplink(homeLink)
	acts = h.advance(time.Minute)
	if got := sendOffsets(h.sent); !slices.Equal(got, []time.Duration{0, 1 * time.Second, 3 * time.Second, 7 * time.Second, 15 * time.Second}) {
		t.Fatalf("deregistration schedule %v", got)
	}
	if _, ok := find[AtHome](acts); !ok {
		t.Fatalf("no AtHome after the deregistration gave up: %v", acts)
	}
	if ct, _ := find[ClearTunnel](acts); ct != (ClearTunnel{Reason: "no answer to the deregistration"}) {
		t.Errorf("got %#v", ct)
	}
}

func TestIPv4CareOfAddress(t *testing.T) {
	cfg := baseConfig()
	cfg.ForceUDP = true
	cfg.IPv4HomeAddress = netip.IPv4Unspecified()
	cfg.RequestIPv4Prefix = true
	h := newHarness(t, cfg)
	s := sends(h.uplink(Uplink{Name: "wlan", Up: true, CoA4: coa4}))
	if len(s) != 1 {
		t.Fatal("no BU from the IPv4 CoA")
	}
	bu := s[0]
	if !bu.UDP || bu.From != coa4 || bu.ToIPv4 != ha1v4 || bu.To != ha1 || bu.HomeAddressOption {
		t.Errorf("addressing %+v", bu)
	}
	if bu.BU.Flags != mh.BUFlagA|mh.BUFlagH|mh.BUFlagR|mh.BUFlagF {
		t.Errorf("flags %v, want A|H|R|F", bu.BU.Flags)
	}
	if _, ok := opt[mh.AlternateCareOfAddress](bu.BU); ok {
		t.Error("Alt-CoA in a BU over IPv4")
	}
	if o, ok := opt[mh.IPv4CareOfAddress](bu.BU); !ok || o.Addr != coa4 {
		t.Errorf("IPv4 CoA option %v %v", o, ok)
	}
	// The address option first (P clear), then one option per configured
	// IPv4 mobile network prefix with P set (RFC 5555 3.1.1).
	var v4 []mh.IPv4HomeAddress
	for _, o := range bu.BU.Options {
		if o, ok := o.(mh.IPv4HomeAddress); ok {
			v4 = append(v4, o)
		}
	}
	if len(v4) != 1+len(cfg.IPv4Prefixes) || v4[0].Addr != netip.IPv4Unspecified() || v4[0].P != (len(cfg.IPv4Prefixes) == 0) || v4[0].PrefixLen != 32 {
		t.Fatalf("IPv4 HoA options %+v", v4)
	}
	for i, p := range cfg.IPv4Prefixes {
		if o := v4[1+i]; !o.P || o.Addr != p.Addr() || int(o.PrefixLen) != p.Bits() {
			t.Errorf("IPv4 prefix option %d = %+v, want P and %v", i, o, p)
		}
	}
	if len(mnps(bu.BU)) != 2 {
		t.Error("MNP options missing over IPv4")
	}
	// Without ForceUDP: no F.
	h2 := newHarness(t, baseConfig())
	if s := sends(h2.uplink(Uplink{Name: "wlan", Up: true, CoA4: coa4})); s[0].BU.Flags&mh.BUFlagF != 0 {
		t.Error("F without ForceUDP")
	}
}

func TestNATDetection(t *testing.T) {
	const all1 = mh.NATRefreshNotNeeded
	cases := []struct {
		name      string
		forceUDP  bool
		cfgKA     time.Duration
		nd        *mh.NATDetection
		encap     Encap
		nat       bool
		refreshIn time.Duration // from the BA (sent at the same instant)
	}{
		{"NAT with refresh time", false, 0, &mh.NATDetection{Refresh: 20}, EncapUDP, true, 20 * time.Second},
		{"NAT refresh 0 means 110 s", false, 0, &mh.NATDetection{Refresh: 0}, EncapUDP, true, 110 * time.Second},
		{"configured keepalive is shorter", false, 25 * time.Second, &mh.NATDetection{Refresh: 0}, EncapUDP, true, 25 * time.Second},
		{"configured keepalive is longer", false, 300 * time.Second, &mh.NATDetection{Refresh: 60}, EncapUDP, true, 60 * time.Second},
		{"no NAT", false, 0, &mh.NATDetection{Refresh: all1}, EncapIP6IP4, false, 480 * time.Second},
		{"no NAT but HA forces UDP", false, 0, &mh.NATDetection{F: true, Refresh: all1}, EncapUDP, false, 480 * time.Second},
		{"we forced UDP", true, 0, &mh.NATDetection{Refresh: all1}, EncapUDP, false, 480 * time.Second},
		{"option missing", false, 0, nil, EncapIP6IP4, false, 480 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			cfg.ForceUDP = tc.forceUDP
			cfg.NATKeepalive = tc.cfgKA
			h := newHarness(t, cfg)
			h.uplink(Uplink{Name: "wlan", Up: true, CoA4: coa4})
			var opts []mh.Option
			if tc.nd != nil {
				opts = append(opts, *tc.nd)
			}
			tun, ok := find[SetTunnel](h.accept(opts...))
			if !ok {
				t.Fatal("no tunnel")
			}
			if tun.Encap != tc.encap || tun.Local != coa4 || tun.Remote != ha1v4 || tun.HomeAgent != ha1 {
				t.Errorf("tunnel %+v", tun)
			}
			if wantUDP := tc.encap == EncapUDP; tun.UDPRemote.IsValid() != wantUDP ||
				(wantUDP && tun.UDPRemote != netip.AddrPortFrom(ha1v4, 4191)) {
				t.Errorf("UDP remote %v", tun.UDPRemote)
			}
			if st := h.c.Status(h.now); st.NATDetected != tc.nat || st.Encap != tc.encap {
				t.Errorf("status NAT %v encap %v", st.NATDetected, st.Encap)
			}
			h.advance(tc.refreshIn - time.Millisecond)
			if len(h.sent) != 1 {
				t.Fatalf("refresh too early: %v", sendOffsets(h.sent))
			}
			h.advance(time.Millisecond)
			if len(h.sent) != 2 || !h.sent[1].UDP {
				t.Fatalf("no refresh (keepalive) at %v: %v", tc.refreshIn, sendOffsets(h.sent))
			}
		})
	}
}

func TestIPv4HomeAddressAck(t *testing.T) {
	assigned := netip.MustParsePrefix("203.0.113.5/32")
	t.Run("success", func(t *testing.T) {
		cfg := baseConfig()
		cfg.IPv4HomeAddress = netip.IPv4Unspecified()
		h := newHarness(t, cfg)
		// From an IPv6 CoA too, the IPv4 HoA option is there.
		s := sends(h.uplink(Uplink{Name: "wan", Up: true, CoA6: coaWAN}))
		if o, ok := opt[mh.IPv4HomeAddress](s[0].BU); !ok || o.Addr != netip.IPv4Unspecified() || o.P {
			t.Fatalf("IPv4 HoA option %+v %v", o, ok)
		}
		tun, _ := find[SetTunnel](h.accept(mh.IPv4AddressAck{Status: mh.IPv4AckSuccess, PrefixLen: 32, Addr: assigned.Addr()}))
		if tun.IPv4HomeAddress != assigned || tun.Encap != EncapIP6IP6 {
			t.Fatalf("tunnel %+v", tun)
		}
		if st := h.c.Status(h.now); st.IPv4HomeAddress != assigned {
			t.Errorf("status IPv4 HoA %v", st.IPv4HomeAddress)
		}
		// The refresh asks for the assigned address.
		h.advance(481 * time.Second)
		if o, _ := opt[mh.IPv4HomeAddress](h.lastSend().BU); o.Addr != assigned.Addr() || o.PrefixLen != 32 {
			t.Errorf("refresh IPv4 HoA option %+v", o)
		}
	})
	t.Run("failure keeps the IPv6 binding", func(t *testing.T) {
		cfg := baseConfig()
		cfg.IPv4HomeAddress = netip.MustParseAddr("203.0.113.9")
		h := newHarness(t, cfg)
		h.uplink(Uplink{Name: "wan", Up: true, CoA6: coaWAN})
		tun, ok := find[SetTunnel](h.accept(mh.IPv4AddressAck{Status: mh.IPv4AckDynamicNotAvailable}))
		if !ok || tun.IPv4HomeAddress.IsValid() {
			t.Fatalf("tunnel %+v %v", tun, ok)
		}
		st := h.c.Status(h.now)
		if st.State != "registered" || st.IPv4HomeAddress.IsValid() || !strings.Contains(st.Note, "132") {
			t.Errorf("status %+v", st)
		}
		h.advance(481 * time.Second)
		if o, _ := opt[mh.IPv4HomeAddress](h.lastSend().BU); o.Addr != cfg.IPv4HomeAddress {
			t.Errorf("refresh IPv4 HoA option %+v", o)
		}
	})
	t.Run("no ack", func(t *testing.T) {
		cfg := baseConfig()
		cfg.IPv4HomeAddress = netip.IPv4Unspecified()
		h := newHarness(t, cfg)
		h.uplink(Uplink{Name: "wan", Up: true, CoA6: coaWAN})
		h.accept()
		if st := h.c.Status(h.now); st.State != "registered" || !strings.Contains(st.Note, "no IPv4 Address Acknowledgement") {
			t.Errorf("status %+v", st)
		}
	})
}

func TestBindingRefreshAdviceAndShortLifetime(t *testing.T) {
	h := newHarness(t, baseConfig())
	h.uplink(Uplink{Name: "wan", Up: true, CoA6: coaWAN})
	sentAt := h.now
	h.now = h.now.Add(500 * time.Millisecond)
	last := h.lastSend()
	h.ba(ha1, mh.BindingAck{Flags: mh.BAFlagR, Sequence: last.BU.Sequence, Lifetime: 100 * time.Second,
		Options: []mh.Option{mh.BindingRefreshAdvice{Interval: 40 * time.Second}}})
	// RFC 6275 11.7.3: the granted lifetime counts from when the BU was sent.
	if left := h.c.Status(h.now).LifetimeLeft; left != 99500*time.Millisecond {
		t.Errorf("lifetime left %v, want 99.5s", left)
	}
	h.advance(40*time.Second - 500*time.Millisecond)
	if len(h.sent) != 2 || h.sent[1].at.Sub(sentAt) != 40*time.Second || h.sent[1].Reason != "refresh (binding refresh advice)" {
		t.Fatalf("BRA refresh: %v %q", sendOffsets(h.sent), h.lastSend().Reason)
	}

	// Granted lifetime shorter, no BRA: refresh at 80 % of the granted.
	h = newHarness(t, baseConfig())
	h.uplink(Uplink{Name: "wan", Up: true, CoA6: coaWAN})
	h.now = h.now.Add(500 * time.Millisecond)
	h.ba(ha1, mh.BindingAck{Flags: mh.BAFlagR, Sequence: initSeq, Lifetime: 100 * time.Second})
	h.advance(80*time.Second - 500*time.Millisecond)
	if len(h.sent) != 2 || h.sent[1].at.Sub(t0) != 80*time.Second {
		t.Fatalf("refresh of a shortened lifetime at %v", sendOffsets(h.sent))
	}
	// The binding expires at 100 s after the BU if the refresh is lost.
	h.advance(20*time.Second - time.Millisecond)
	if st := h.c.Status(h.now); st.State != "registered" {
		t.Fatalf("state %q just before expiry", st.State)
	}
	h.advance(time.Millisecond)
	if st := h.c.Status(h.now); st.State != "registering" || st.LifetimeLeft != 0 {
		t.Fatalf("after expiry %+v", st)
	}
	// A granted lifetime of 0 is no registration.
	h = newHarness(t, baseConfig())
	h.uplink(Uplink{Name: "wan", Up: true, CoA6: coaWAN})
	if acts := h.ba(ha1, mh.BindingAck{Flags: mh.BAFlagR, Sequence: initSeq}); count[SetTunnel](acts) != 0 {
		t.Fatal("tunnel for a zero lifetime")
	}
}

func TestBRRAndICMPError(t *testing.T) {
	h := newHarness(t, baseConfig())
	h.uplink(Uplink{Name: "wan", Up: true, CoA6: coaWAN})
	h.accept()
	h.now = h.now.Add(time.Minute)
	if s := sends(h.record(h.c.HandleBRR(h.now, coaLTE))); len(s) != 0 {
		t.Fatal("BRR from a stranger answered")
	}
	s := sends(h.record(h.c.HandleBRR(h.now, ha1)))
	if len(s) != 1 || s[0].Reason != "binding refresh request" || s[0].BU.Lifetime == 0 {
		t.Fatalf("BRR: %v", s)
	}
	h.accept()
	h.now = h.now.Add(time.Minute)
	if s := sends(h.record(h.c.ICMPError(h.now, ha1))); len(s) != 1 {
		t.Fatalf("ICMP error: %v", s)
	}
	// While the refresh is outstanding, more errors add nothing.
	if s := sends(h.record(h.c.ICMPError(h.now.Add(time.Millisecond), ha1))); len(s) != 0 {
		t.Fatal("ICMP error storm")
	}
}

func TestAcceptedWithoutR(t *testing.T) {
	h := newHarness(t, twoHAConfig())
	h.uplink(Uplink{Name: "wan", Up: true, CoA6: coaWAN})
	h.now = h.now.Add(100 * time.Millisecond)
	acts := h.ba(ha1, mh.BindingAck{Status: mh.StatusAccepted, Sequence: initSeq, Lifetime: 600 * time.Second})
	s := sends(acts)
	if len(s) != 1 || s[0].To != ha1 || s[0].BU.Lifetime != 0 || len(mnps(s[0].BU)) != 0 ||
		s[0].BU.Flags&mh.BUFlagR == 0 || !s[0].HomeAddressOption {
		t.Fatalf("no deregistration at the non-NEMO home agent: %v", acts)
	}
	if count[SetTunnel](acts) != 0 {
		t.Fatal("tunnel to a home agent without NEMO support")
	}
	// The next home agent no sooner than 1.5 s after the last BU to the first.
	h.advance(1399 * time.Millisecond)
	if h.lastSend().To == ha2 {
		t.Fatal("next home agent tried too soon")
	}
	h.advance(time.Millisecond)
	last := h.lastSend()
	if last.To != ha2 || last.at.Sub(t0) != 1500*time.Millisecond || last.BU.Lifetime == 0 {
		t.Fatalf("next home agent: %+v at %v", last, last.at.Sub(t0))
	}
	st := h.c.Status(h.now)
	if st.HomeAgent != ha2 || !strings.Contains(st.Note, "without R") || st.Counters.Failovers != 1 {
		t.Errorf("status %+v", st)
	}
	if acts := h.accept(); count[SetTunnel](acts) != 1 {
		t.Fatal("second home agent not used")
	}
	// Single home agent without NEMO: deregister, then failed.
	h = newHarness(t, baseConfig())
	h.uplink(Uplink{Name: "wan", Up: true, CoA6: coaWAN})
	h.ba(ha1, mh.BindingAck{Status: mh.StatusAccepted, Sequence: initSeq, Lifetime: 600 * time.Second})
	if st := h.c.Status(h.now); !strings.HasPrefix(st.State, "failed: ") || !strings.Contains(st.State, "does not support mobile routers") {
		t.Errorf("state %q", st.State)
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		s                  mh.Status
		explicit, implicit Disposition
	}{
		{128, RetrySame, RetrySame},
		{129, NextHomeAgent, NextHomeAgent},
		{130, NextHomeAgent, NextHomeAgent},
		{131, NextHomeAgent, NextHomeAgent},
		{132, NextHomeAgent, NextHomeAgent},
		{133, NextHomeAgent, NextHomeAgent},
		{134, StopAll, StopAll},
		{135, Resync, Resync},
		{136, RetrySame, RetrySame},
		{139, RetrySame, RetrySame},
		{140, NextHomeAgent, NextHomeAgent},
		{141, NextHomeAgent, FatalHomeAgent},
		{142, NextHomeAgent, FatalHomeAgent},
		{143, FatalHomeAgent, NextHomeAgent},
		{144, ResendNow, ResendNow},
		{145, RetrySame, RetrySame},
		{146, FatalHomeAgent, FatalHomeAgent},
		{174, RetrySame, RetrySame},
		{250, RetrySame, RetrySame},
	}
	for _, tc := range cases {
		if got := Classify(tc.s, false); got != tc.explicit {
			t.Errorf("explicit %v: %v, want %v", tc.s, got, tc.explicit)
		}
		if got := Classify(tc.s, true); got != tc.implicit {
			t.Errorf("implicit %v: %v, want %v", tc.s, got, tc.implicit)
		}
	}
}

// TestRejectionBehaviour drives each rejecting status through the core with
// two home agents and checks where the next BU goes, and when.
func TestRejectionBehaviour(t *testing.T) {
	statuses := []mh.Status{128, 129, 130, 131, 132, 133, 134, 136, 137, 138, 139, 140, 141, 142, 143, 144, 145, 146, 174}
	for _, implicit := range []bool{false, true} {
		for _, st := range statuses {
			cfg := twoHAConfig()
			cfg.Implicit = implicit
			h := newHarness(t, cfg)
			h.uplink(Uplink{Name: "wan", Up: true, CoA6: coaWAN})
			h.now = h.now.Add(100 * time.Millisecond)
			acts := h.ba(ha1, mh.BindingAck{Status: st, Sequence: initSeq})
			state := h.c.Status(h.now)
			if !strings.Contains(state.Note, st.String()) || !strings.HasPrefix(state.LastStatus, st.String()[:3]) {
				t.Errorf("implicit=%v %v: note %q last %q", implicit, st, state.Note, state.LastStatus)
			}
			d := Classify(st, implicit)
			switch d {
			case ResendNow:
				s := sends(acts)
				if len(s) != 1 || s[0].To != ha1 || s[0].BU.Sequence != initSeq+1 {
					t.Errorf("%v: resend %v", st, s)
				}
				// A second 144 in a row backs off.
				h.ba(ha1, mh.BindingAck{Status: st, Sequence: initSeq + 1})
				h.advance(31 * time.Second)
				if len(h.sent) != 2 {
					t.Errorf("%v twice: %v", st, sendOffsets(h.sent))
				}
				h.advance(2 * time.Second)
				if len(h.sent) != 3 || h.lastSend().To != ha1 {
					t.Errorf("%v twice then retry: %v", st, sendOffsets(h.sent))
				}
			case RetrySame:
				h.advance(32*time.Second - time.Millisecond)
				if len(h.sent) != 1 {
					t.Errorf("implicit=%v %v: retried before the 32 s backoff", implicit, st)
				}
				if !strings.HasPrefix(state.State, "failed: ") {
					t.Errorf("%v: state %q", st, state.State)
				}
				h.advance(time.Millisecond)
				if len(h.sent) != 2 || h.lastSend().To != ha1 {
					t.Errorf("implicit=%v %v: no retry at the same home agent after 32 s", implicit, st)
				}
				// Second rejection: 64 s.
				h.ba(ha1, mh.BindingAck{Status: st, Sequence: h.lastSend().BU.Sequence})
				h.advance(64*time.Second - time.Millisecond)
				if len(h.sent) != 2 {
					t.Errorf("%v: second backoff too short", st)
				}
				h.advance(time.Millisecond)
				if len(h.sent) != 3 {
					t.Errorf("%v: second backoff not 64 s", st)
				}
			case NextHomeAgent, FatalHomeAgent:
				h.advance(2 * time.Second)
				if len(h.sent) != 2 || h.lastSend().To != ha2 || h.lastSend().at.Sub(t0) != 1500*time.Millisecond {
					t.Errorf("implicit=%v %v (%v): next BU %+v", implicit, st, d, h.lastSend())
					continue
				}
				// ha2 also rejects with the same status: the first home agent
				// comes back after its hold only.
				h.ba(ha2, mh.BindingAck{Status: st, Sequence: h.lastSend().BU.Sequence})
				hold := 32 * time.Second
				if d == FatalHomeAgent {
					hold = DefaultFatalHold
				}
				h.advance(hold - 3*time.Second)
				if len(h.sent) != 2 {
					t.Errorf("implicit=%v %v: BU during the hold: %+v", implicit, st, h.lastSend())
				}
				if s := h.c.Status(h.now).State; !strings.HasPrefix(s, "failed: ") {
					t.Errorf("%v: state %q with both held", st, s)
				}
				h.advance(2 * time.Second)
				if len(h.sent) != 3 || h.lastSend().To != ha1 {
					t.Errorf("implicit=%v %v: after the hold: %v", implicit, st, sendOffsets(h.sent))
				}
			case StopAll:
				h.advance(24 * time.Hour)
				if len(h.sent) != 1 {
					t.Errorf("%v: BUs after stop", st)
				}
				if s := h.c.Status(h.now).State; !strings.Contains(s, "must not be used again") {
					t.Errorf("%v: state %q", st, s)
				}
				h.uplink(Uplink{Name: "lte", Priority: 30, Up: true, CoA6: coaLTE})
				if len(h.sent) != 1 {
					t.Errorf("%v: BU after stop on a move", st)
				}
			default:
				t.Errorf("%v: unexpected disposition %v", st, d)
			}
		}
	}
}

func TestForceUDPRefused144(t *testing.T) {
	cfg := baseConfig()
	cfg.ForceUDP = true
	h := newHarness(t, cfg)
	h.uplink(Uplink{Name: "wlan", Up: true, CoA4: coa4})
	s := sends(h.ba(ha1, mh.BindingAck{Status: mh.StatusIDMismatch, Sequence: initSeq}))
	if len(s) != 1 || s[0].BU.Flags&mh.BUFlagF != 0 || s[0].BU.Flags != mh.BUFlagA|mh.BUFlagH|mh.BUFlagR {
		t.Fatalf("after F refused: %v", s)
	}
	// With a Replay Protection option, 144 is the RFC 4285 timestamp
	// mismatch: F stays.
	h = newHarness(t, cfg)
	h.uplink(Uplink{Name: "wlan", Up: true, CoA4: coa4})
	s = sends(h.ba(ha1, mh.BindingAck{Status: mh.StatusIDMismatch, Sequence: initSeq,
		Options: []mh.Option{mh.ReplayProtection{Timestamp: 1}}}))
	if len(s) != 1 || s[0].BU.Flags&mh.BUFlagF == 0 {
		t.Fatalf("after timestamp mismatch: %v", s)
	}
}

func TestHAFailoverAndReturnToPreferred(t *testing.T) {
	h := newHarness(t, twoHAConfig())
	h.uplink(Uplink{Name: "wan", Up: true, CoA6: coaWAN})
	h.advance(78 * time.Second)
	got := sendOffsets(h.sent)
	want := []time.Duration{0, 1500, 4500, 10500, 22500, 46500}
	if len(got) != len(want) {
		t.Fatalf("sends to ha1 %v", got)
	}
	for i := range want {
		if got[i] != want[i]*time.Millisecond || h.sent[i].To != ha1 {
			t.Fatalf("send %d: %v to %v", i, got[i], h.sent[i].To)
		}
	}
	// The 32 s timer of the 6th (>= FailoverAfter) BU expires at 78.5 s:
	// the next home agent gets the BU at once.
	h.advance(time.Second)
	last := h.lastSend()
	if last.To != ha2 || last.at.Sub(t0) != 78500*time.Millisecond {
		t.Fatalf("failover: %+v at %v", last, last.at.Sub(t0))
	}
	if st := h.c.Status(h.now); st.HomeAgent != ha2 || st.Counters.Failovers != 1 || !strings.Contains(st.Note, "did not answer") {
		t.Errorf("status %+v", st)
	}
	// First registration timer at the new home agent.
	h.advance(1500 * time.Millisecond)
	if l := h.lastSend(); l.To != ha2 || l.at.Sub(last.at) != 1500*time.Millisecond {
		t.Fatalf("ha2 retransmission %v", l.at.Sub(last.at))
	}
	tun, _ := find[SetTunnel](h.accept())
	if tun.Remote != ha2 {
		t.Fatalf("tunnel %+v", tun)
	}
	// Probe of the preferred home agent every ProbeInterval: a
	// deregistration (lifetime 0), which registers nothing there while
	// ha2 holds the binding.
	n := len(h.sent)
	h.advance(DefaultProbeInterval)
	if len(h.sent) != n+1 || h.lastSend().To != ha1 || h.lastSend().BU.Lifetime != 0 {
		t.Fatalf("no probe of ha1: %+v", h.sent[n:])
	}
	h.advance(DefaultProbeInterval)
	if len(h.sent) != n+2 || h.lastSend().To != ha1 {
		t.Fatalf("probes: %v", sendOffsets(h.sent[n:]))
	}
	// ha1 answers (133: it holds no binding of ours): ha2, which defends
	// our home address on the home link, is deregistered first; nothing
	// goes to ha1 until ha2 answers (ha1's DAD would fail, 134).
	h.now = h.now.Add(50 * time.Millisecond)
	probe := h.lastSend()
	acts := h.ba(ha1, mh.BindingAck{Status: mh.StatusNotHomeAgentForThisMN, Sequence: probe.BU.Sequence})
	s := sends(acts)
	if len(s) != 1 || s[0].To != ha2 || s[0].BU.Lifetime != 0 {
		t.Fatalf("no deregistration at ha2 first: %v", s)
	}
	if _, ok := find[SetTunnel](acts); ok {
		t.Fatalf("tunnel changed before ha1 registered: %v", acts)
	}
	if st := h.c.Status(h.now); st.HomeAgent != ha1 || st.State != "registering" {
		t.Errorf("status while ha2 deregisters: %+v", st)
	}
	h.now = h.now.Add(20 * time.Millisecond)
	acts = h.accept() // ha2's deregistration BA
	s = sends(acts)
	if len(s) != 1 || s[0].To != ha1 || s[0].BU.Lifetime == 0 {
		t.Fatalf("no registration at ha1 after ha2's deregistration: %v", s)
	}
	h.now = h.now.Add(time.Second) // ha1's DAD
	acts = h.accept()
	tun, ok := find[SetTunnel](acts)
	if !ok || tun.Remote != ha1 {
		t.Fatalf("no return to ha1: %v", acts)
	}
	if len(sends(acts)) != 0 {
		t.Fatalf("BUs after the return: %v", sends(acts))
	}
	if st := h.c.Status(h.now); st.HomeAgent != ha1 || st.State != "registered" {
		t.Errorf("status %+v", st)
	}
	checkRate(t, h.sent)
}

// TestReturnWhenLeftHomeAgentIsSilent: the home agent the router leaves
// does not answer its deregistration; after cleanupAttempts BUs the
// router registers at the preferred one anyway.
func TestReturnWhenLeftHomeAgentIsSilent(t *testing.T) {
	h := newHarness(t, twoHAConfig())
	h.uplink(Uplink{Name: "wan", Up: true, CoA6: coaWAN})
	h.advance(80 * time.Second) // ha1 silent: failover to ha2
	if h.lastSend().To != ha2 {
		t.Fatalf("no failover: %+v", h.lastSend())
	}
	h.accept()
	h.advance(DefaultProbeInterval)
	probe := h.lastSend()
	if probe.To != ha1 || probe.BU.Lifetime != 0 {
		t.Fatalf("probe %+v", probe)
	}
	acts := h.ba(ha1, mh.BindingAck{Status: mh.StatusNotHomeAgentForThisMN, Sequence: probe.BU.Sequence})
	if s := sends(acts); len(s) != 1 || s[0].To != ha2 {
		t.Fatalf("no deregistration at ha2: %v", s)
	}
	n := len(h.sent)
	h.advance(10 * time.Second)
	var toHA2, toHA1 int
	for _, x := range h.sent[n:] {
		switch x.To {
		case ha2:
			toHA2++
			if toHA1 > 0 {
				t.Fatalf("BU to ha2 after the registration at ha1 began: %v", sendOffsets(h.sent[n:]))
			}
		case ha1:
			toHA1++
			if x.BU.Lifetime == 0 {
				t.Fatalf("deregistration to ha1: %+v", x)
			}
		}
	}
	if toHA2 != cleanupAttempts-1 || toHA1 == 0 {
		t.Fatalf("after the silent deregistration: %d more to ha2, %d to ha1", toHA2, toHA1)
	}
}

// TestDADFailedWhileAnotherHomeAgentDefends: a 134 from a home agent while
// another of ours still holds the binding is not a duplicate address: the
// router does not stop, it goes back to the home agent that holds it.
func TestDADFailedWhileAnotherHomeAgentDefends(t *testing.T) {
	h := newHarness(t, twoHAConfig())
	h.uplink(Uplink{Name: "wan", Up: true, CoA6: coaWAN})
	h.advance(80 * time.Second)
	h.accept() // at ha2
	h.c.has[0].att = nil
	// ha1 comes back and is registered directly (as the old probe did):
	// its DAD fails because ha2 defends the home address.
	h.c.start(0, purposeRegister, target{uplink: "wan", coa: coaWAN}, h.now, "test")
	h.advance(10 * time.Millisecond)
	bu := h.lastSend()
	if bu.To != ha1 || bu.BU.Lifetime == 0 {
		t.Fatalf("no registration at ha1: %+v", bu)
	}
	h.ba(ha1, mh.BindingAck{Status: mh.StatusDADFailed, Sequence: bu.BU.Sequence})
	st := h.c.Status(h.now)
	if strings.HasPrefix(st.State, "failed: ") && strings.Contains(st.State, "must not be used again") {
		t.Fatalf("stopped: %+v", st)
	}
	if !strings.Contains(st.Note, "may still defend") {
		t.Errorf("note %q", st.Note)
	}
	// A real duplicate (no other binding anywhere) still stops.
	h2 := newHarness(t, baseConfig())
	h2.uplink(Uplink{Name: "wan", Up: true, CoA6: coaWAN})
	bu = h2.lastSend()
	h2.ba(ha1, mh.BindingAck{Status: mh.StatusDADFailed, Sequence: bu.BU.Sequence})
	if st := h2.c.Status(h2.now); !strings.Contains(st.State, "must not be used again") {
		t.Errorf("a real duplicate: state %q", st.State)
	}
}

func TestBindingErrors(t *testing.T) {
	h := newHarness(t, twoHAConfig())
	h.uplink(Uplink{Name: "wan", Up: true, CoA6: coaWAN})
	h.accept()
	h.now = h.now.Add(time.Minute)
	s := sends(h.record(h.c.HandleBE(h.now, ha1, mh.BindingError{Status: mh.BEUnknownBindingForHoA, HomeAddress: hoa})))
	if len(s) != 1 || s[0].To != ha1 || s[0].BU.Lifetime == 0 {
		t.Fatalf("BE 1: %v", s)
	}
	start := len(h.sent) - 1
	h.advance(1600 * time.Millisecond)
	if got := sendOffsets(h.sent[start:]); !slices.Equal(got, []time.Duration{0, 1500 * time.Millisecond}) {
		t.Fatalf("BE 1 re-registration is a first registration: %v", got)
	}
	h.accept()
	// BE for another home address is ignored.
	h.now = h.now.Add(time.Minute)
	if s := sends(h.record(h.c.HandleBE(h.now, ha1, mh.BindingError{Status: 1, HomeAddress: coaLTE}))); len(s) != 0 {
		t.Fatal("BE for someone else's home address acted on")
	}
	// BE 2 for an acknowledged binding (Binding Errors are not
	// authenticated): ignored, the binding stays (RFC 6275 11.3.6).
	n := len(h.sent)
	h.record(h.c.HandleBE(h.now, ha1, mh.BindingError{Status: mh.BEUnrecognizedMHType}))
	h.advance(2 * time.Second)
	if st := h.c.Status(h.now); len(h.sent) != n || st.State != "registered" || st.Counters.BEIgnored != 1 {
		t.Fatalf("BE 2 for an acknowledged binding acted on: state %q, %d new BUs, ignored %d", st.State, len(h.sent)-n, st.Counters.BEIgnored)
	}

	// The same after a forged BE 1 made the router register afresh: this
	// home agent has accepted our BUs before, so BE 2 is forged too.
	h.record(h.c.HandleBE(h.now, ha1, mh.BindingError{Status: mh.BEUnknownBindingForHoA, HomeAddress: hoa}))
	h.record(h.c.HandleBE(h.now, ha1, mh.BindingError{Status: mh.BEUnrecognizedMHType}))
	h.advance(2 * time.Second)
	if l := h.lastSend(); l.To != ha1 {
		t.Fatalf("BE 1 then BE 2 from a home agent that accepted us moved us away: %+v", l)
	}

	// BE 2 while a first registration awaits its answer: this home agent
	// does not understand BUs: use the next.
	h2 := newHarness(t, twoHAConfig())
	h2.uplink(Uplink{Name: "wan", Up: true, CoA6: coaWAN})
	h2.record(h2.c.HandleBE(h2.now, ha1, mh.BindingError{Status: mh.BEUnrecognizedMHType}))
	h2.advance(2 * time.Second)
	if l := h2.lastSend(); l.To != ha2 {
		t.Fatalf("BE 2: %+v", l)
	}
	if st := h2.c.Status(h2.now); !strings.Contains(st.Note, "does not recognise") {
		t.Errorf("note %q", st.Note)
	}
}

func TestRateLimitDefers(t *testing.T) {
	h := newHarness(t, baseConfig())
	coas := []netip.Addr{coaWAN, coaLTE, coaWLAN, netip.MustParseAddr("2001:db8:f5::10")}
	for i, a := range coas {
		h.now = t0.Add(time.Duration(i) * 100 * time.Millisecond)
		h.uplink(Uplink{Name: "u", Up: true, CoA6: a})
	}
	if len(h.sent) != 3 {
		t.Fatalf("%d BUs in 300 ms", len(h.sent))
	}
	if d, _ := h.c.NextDeadline(); d != t0.Add(time.Second) {
		t.Fatalf("deferred to %v, want 1s", d.Sub(t0))
	}
	h.advance(time.Second)
	if len(h.sent) != 4 || h.sent[3].From != coas[3] || h.sent[3].at != t0.Add(time.Second) {
		t.Fatalf("deferred BU: %+v", h.sent[3:])
	}
	if n := h.c.Status(h.now).Counters.RateDeferred; n != 1 {
		t.Errorf("deferred counter %d", n)
	}
	checkRate(t, h.sent)
}

// TestRateCapUnderUplinkStorm flaps uplinks at random for simulated hours,
// answering some BUs, and checks the 3-per-second cap and that every BU
// leaves from an address the uplink has at that moment.
func TestRateCapUnderUplinkStorm(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		cfg := twoHAConfig()
		h := newHarness(t, cfg)
		r := newPCG(seed)
		names := []string{"wan", "lte", "wlan"}
		addrs6 := []netip.Addr{coaWAN, coaLTE, coaWLAN}
		addrs4 := []netip.Addr{coa4, coa4LTE, {}}
		state := map[string]Uplink{}
		for step := 0; step < 20000; step++ {
			h.advance(time.Duration(r.IntN(400)) * time.Millisecond)
			k := r.IntN(3)
			u := Uplink{Name: names[k], Priority: r.IntN(3), Up: r.IntN(4) != 0, AtHome: r.IntN(15) == 0}
			if r.IntN(3) != 0 {
				u.CoA6 = addrs6[k]
			}
			if r.IntN(2) == 0 {
				u.CoA4 = addrs4[k]
			}
			n := len(h.sent)
			h.uplink(u)
			state[u.Name] = u
			for _, s := range h.sent[n:] {
				checkSource(t, state, s.SendBU)
			}
			if r.IntN(3) == 0 && len(h.sent) > 0 {
				last := h.lastSend()
				h.ba(last.To, mh.BindingAck{Flags: mh.BAFlagR, Sequence: last.BU.Sequence, Lifetime: last.BU.Lifetime})
			}
		}
		checkRate(t, h.sent)
		if len(h.sent) < 1000 {
			t.Errorf("seed %d: only %d BUs: the storm did not exercise the cap", seed, len(h.sent))
		}
	}
}

// checkSource fails when s does not leave from a usable address.
func checkSource(t testing.TB, ups map[string]Uplink, s SendBU) {
	t.Helper()
	u, ok := ups[s.Uplink]
	if !ok || !u.Up {
		t.Fatalf("BU on uplink %q that is not up: %+v", s.Uplink, s)
	}
	switch {
	case s.From == hoa:
		if !u.AtHome || s.HomeAddressOption || s.UDP || s.BU.Lifetime != 0 {
			t.Fatalf("BU from the home address off the home link: %+v", s)
		}
	case s.UDP:
		if s.From != u.CoA4 || s.HomeAddressOption || !s.ToIPv4.IsValid() {
			t.Fatalf("UDP BU from %v, uplink has %v: %+v", s.From, u.CoA4, s)
		}
	default:
		if s.From != u.CoA6 || !s.HomeAddressOption || u.AtHome {
			t.Fatalf("BU from %v, uplink has %v: %+v", s.From, u.CoA6, s)
		}
	}
	if s.BU.Flags&(mh.BUFlagA|mh.BUFlagH|mh.BUFlagR) != mh.BUFlagA|mh.BUFlagH|mh.BUFlagR {
		t.Fatalf("BU flags %v", s.BU.Flags)
	}
}

func TestImplicitMode(t *testing.T) {
	cfg := baseConfig()
	cfg.Implicit = true
	h := newHarness(t, cfg)
	s := sends(h.uplink(Uplink{Name: "wan", Up: true, CoA6: coaWAN}))
	if len(mnps(s[0].BU)) != 0 || s[0].BU.Flags&mh.BUFlagR == 0 {
		t.Fatalf("implicit BU %+v", s[0].BU)
	}
}

type denyAuth struct{ calls int }

func (d *denyAuth) VerifyBA(BAInfo) error { d.calls++; return errors.New("bad authenticator") }

func TestAuthHook(t *testing.T) {
	cfg := baseConfig()
	a := &denyAuth{}
	cfg.Auth = a
	h := newHarness(t, cfg)
	h.uplink(Uplink{Name: "wan", Up: true, CoA6: coaWAN})
	if acts := h.accept(); count[SetTunnel](acts) != 0 || a.calls != 1 {
		t.Fatalf("unauthenticated BA accepted: %v (calls %d)", acts, a.calls)
	}
	if acts := h.ba(ha1, mh.BindingAck{Status: 135, Sequence: 5}); len(sends(acts)) != 0 {
		t.Fatal("unauthenticated 135 acted on")
	}
	if n := h.c.Status(h.now).Counters.BAAuthFailed; n != 2 {
		t.Errorf("auth failures %d", n)
	}
}

func TestStateChanged(t *testing.T) {
	h := newHarness(t, baseConfig())
	h.uplink(Uplink{Name: "wan", Up: true, CoA6: coaWAN})
	h.accept()
	h.uplink(homeLink)
	h.ba(ha1, mh.BindingAck{Sequence: h.lastSend().BU.Sequence})
	var got []string
	for _, a := range h.all {
		if sc, ok := a.(StateChanged); ok {
			got = append(got, sc.To)
		}
	}
	if want := []string{"registering", "registered", "deregistering", "at home"}; !slices.Equal(got, want) {
		t.Fatalf("states %v, want %v", got, want)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	mod := func(f func(*Config)) Config { c := baseConfig(); f(&c); return c }
	cases := map[string]Config{
		"no home address":      mod(func(c *Config) { c.HomeAddress = netip.Addr{} }),
		"v4 home address":      mod(func(c *Config) { c.HomeAddress = coa4 }),
		"outside home prefix":  mod(func(c *Config) { c.HomeAddress = coaWAN }),
		"no home agent":        mod(func(c *Config) { c.HomeAgents = nil }),
		"v4 home agent":        mod(func(c *Config) { c.HomeAgents = []HomeAgent{{Address: ha1v4}} }),
		"bad HA IPv4":          mod(func(c *Config) { c.HomeAgents = []HomeAgent{{Address: ha1, IPv4: ha2}} }),
		"v4 MNP":               mod(func(c *Config) { c.Prefixes = []netip.Prefix{mnp4} }),
		"v6 IPv4 MNP":          mod(func(c *Config) { c.IPv4Prefixes = []netip.Prefix{mnp1} }),
		"tiny lifetime":        mod(func(c *Config) { c.Lifetime = time.Second }),
		"v6 IPv4 HoA":          mod(func(c *Config) { c.IPv4HomeAddress = hoa }),
		"P without IPv4 HoA":   mod(func(c *Config) { c.RequestIPv4Prefix = true }),
		"IPv4 prefix len":      mod(func(c *Config) { c.IPv4HomeAddress = coa4; c.IPv4HomePrefixLen = 33 }),
		"negative keepalive":   mod(func(c *Config) { c.NATKeepalive = -time.Second }),
		"short probe interval": mod(func(c *Config) { c.ProbeInterval = time.Second }),
		"negative failover":    mod(func(c *Config) { c.FailoverAfter = -1 }),
	}
	for name, cfg := range cases {
		if c, err := New(cfg, t0); !errors.Is(err, ErrInvalidConfig) || c != nil {
			t.Errorf("%s: %v %v", name, c, err)
		}
	}
	cfg := baseConfig()
	cfg.Lifetime = 10*time.Second + time.Millisecond
	c, err := New(cfg, t0)
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.Lifetime != 8*time.Second {
		t.Errorf("lifetime not rounded to 4 s units: %v", c.cfg.Lifetime)
	}
}

func TestIPv6ToIPv4Fallback(t *testing.T) {
	h := newHarness(t, baseConfig())
	h.uplink(Uplink{Name: "wan", Up: true, CoA6: coaWAN, CoA4: coa4})
	h.advance(10 * time.Second)
	if len(h.sent) != 3 || h.lastSend().UDP {
		t.Fatalf("before fallback: %v", sendOffsets(h.sent))
	}
	// RFC 5555 4.4.1: three unanswered BUs from the IPv6 CoA, then IPv4.
	h.advance(500 * time.Millisecond)
	last := h.lastSend()
	if len(h.sent) != 4 || !last.UDP || last.From != coa4 || last.at.Sub(t0) != 10500*time.Millisecond {
		t.Fatalf("fallback: %+v at %v", last, last.at.Sub(t0))
	}
	if st := h.c.Status(h.now); !strings.Contains(st.Note, "IPv4 care-of address") {
		t.Errorf("note %q", st.Note)
	}
	if tun, _ := find[SetTunnel](h.accept(mh.NATDetection{Refresh: mh.NATRefreshNotNeeded})); tun.Encap != EncapIP6IP4 {
		t.Fatalf("tunnel %+v", tun)
	}
	// A new IPv6 address on the uplink is tried again.
	h.now = h.now.Add(time.Minute)
	s := sends(h.uplink(Uplink{Name: "wan", Up: true, CoA6: coaLTE, CoA4: coa4}))
	if len(s) != 1 || s[0].From != coaLTE {
		t.Fatalf("new IPv6 CoA: %v", s)
	}
}

// TestReturnToOldCareOfAfterUnansweredMove: registered from wan, the router
// moves to lte (its BU may well have reached the home agent and moved the
// binding there: only the BA was lost), loses lte too, and wan comes back
// with the same care-of address. The binding is no longer known to point at
// wan, so a BU must go from wan; without it the home agent keeps tunnelling
// to lte while the router reports itself registered at wan.
func TestReturnToOldCareOfAfterUnansweredMove(t *testing.T) {
	h := newHarness(t, baseConfig())
	h.uplink(Uplink{Name: "wan", Priority: 20, Up: true, CoA6: coaWAN})
	h.accept()
	h.now = h.now.Add(time.Minute)
	h.uplink(Uplink{Name: "lte", Priority: 10, Up: true, CoA6: coaLTE})
	acts := h.uplink(Uplink{Name: "wan", Priority: 20, Up: false})
	if s := sends(acts); len(s) != 1 || s[0].From != coaLTE {
		t.Fatalf("move to lte sent %v", s)
	}
	// The BA is lost; lte goes down before the retransmission.
	h.now = h.now.Add(200 * time.Millisecond)
	h.uplink(Uplink{Name: "lte", Priority: 10, Up: false})
	h.now = h.now.Add(2 * time.Second)
	n := len(h.sent)
	acts = h.uplink(Uplink{Name: "wan", Priority: 20, Up: true, CoA6: coaWAN})
	s := sends(acts)
	if len(s) != 1 || s[0].From != coaWAN || s[0].BU.Lifetime == 0 {
		t.Fatalf("back on wan after a BU from lte: sent %v (all since: %v)", s, h.sent[n:])
	}
	h.accept()
	if st := h.c.Status(h.now); st.State != "registered" || st.CareOf != coaWAN {
		t.Errorf("status %+v", st)
	}
	// Back where the binding surely is, nothing more is sent.
	n = len(h.sent)
	h.uplink(Uplink{Name: "lte", Priority: 10, Up: true, CoA6: coaLTE})
	h.advance(10 * time.Second)
	if len(h.sent) != n {
		t.Errorf("BUs after the binding was confirmed: %v", h.sent[n:])
	}
}

// TestFlapBackBeforeAnyBU: the binding's uplink goes down and comes back
// with the same care-of address before any BU left from elsewhere: the
// binding still points there, so nothing is sent.
func TestFlapBackBeforeAnyBU(t *testing.T) {
	h := newHarness(t, baseConfig())
	h.uplink(Uplink{Name: "wan", Priority: 20, Up: true, CoA6: coaWAN})
	h.accept()
	h.now = h.now.Add(time.Minute)
	n := len(h.sent)
	h.uplink(Uplink{Name: "wan", Priority: 20, Up: false})
	h.advance(3 * time.Second)
	h.uplink(Uplink{Name: "wan", Priority: 20, Up: true, CoA6: coaWAN})
	h.advance(time.Second)
	if len(h.sent) != n {
		t.Errorf("BUs for a flap that changed nothing: %v", h.sent[n:])
	}
}

// TestTunnelLostMovesAndReturns: the tunnel through wan stops carrying
// anything back while wan stays up with its address (the shell's probes go
// unanswered). The router moves to lte at once, make before break, passes
// over wan for PathHold, then tries wan again; a return that three BUs do
// not complete goes back to lte without touching the tunnel.
func TestTunnelLostMovesAndReturns(t *testing.T) {
	cfg := baseConfig()
	cfg.PathHold = 20 * time.Second
	h := newHarness(t, cfg)
	h.uplink(Uplink{Name: "wan", Priority: 20, Up: true, CoA4: coa4})
	h.uplink(Uplink{Name: "lte", Priority: 10, Up: true, CoA6: coaLTE})
	if s := h.lastSend(); s.From != coa4 || !s.UDP {
		t.Fatalf("first registration from %v (udp %v), want %v", s.From, s.UDP, coa4)
	}
	h.accept(mh.NATDetection{Refresh: mh.NATRefreshNotNeeded})
	h.advance(5 * time.Second)

	acts := h.record(h.c.TunnelLost(h.now))
	s := sends(acts)
	if len(s) != 1 || s[0].From != coaLTE || s[0].BU.Lifetime == 0 {
		t.Fatalf("tunnel lost on wan: sent %v, want a BU from lte", s)
	}
	if count[SetTunnel](acts)+count[ClearTunnel](acts) != 0 {
		t.Fatalf("tunnel changed before the BA: %v", acts)
	}
	st := h.c.Status(h.now)
	if !strings.Contains(st.Note, "unanswered") || st.Counters.TunnelLost != 1 || st.Counters.PathsAvoided != 1 {
		t.Errorf("status after TunnelLost: note %q counters %+v", st.Note, st.Counters)
	}
	if tun, ok := find[SetTunnel](h.accept()); !ok || tun.Local != coaLTE {
		t.Fatalf("BA from lte: tunnel %+v %v", tun, ok)
	}
	// wan is passed over for PathHold, then tried again.
	n := len(h.sent)
	h.advance(cfg.PathHold - 100*time.Millisecond)
	for _, x := range h.sent[n:] {
		if x.From == coa4 {
			t.Fatalf("BU from wan %v after TunnelLost, inside PathHold", x.at.Sub(t0))
		}
	}
	h.advance(200 * time.Millisecond)
	if s := h.lastSend(); s.From != coa4 {
		t.Fatalf("after PathHold: last BU from %v, want wan %v", s.From, coa4)
	}
	if tun, ok := find[SetTunnel](h.accept(mh.NATDetection{Refresh: mh.NATRefreshNotNeeded})); !ok || tun.Local != coa4 {
		t.Fatalf("back on wan: tunnel %+v %v", tun, ok)
	}

	// Lost again; this time wan is still dead when it is tried again.
	h.advance(5 * time.Second)
	h.record(h.c.TunnelLost(h.now))
	h.accept()
	h.advance(cfg.PathHold)
	n = len(h.sent)
	tunnels := count[SetTunnel](h.all)
	h.advance(7*time.Second + 100*time.Millisecond)
	var fromWan, fromLTE int
	for _, x := range h.sent[n-1:] {
		switch x.From {
		case coa4:
			fromWan++
		case coaLTE:
			fromLTE++
		}
	}
	if fromWan != 3 || fromLTE != 1 || h.lastSend().From != coaLTE {
		t.Fatalf("unanswered return to wan: %d BUs from wan, %d from lte (want 3 and then 1 back on lte): %v", fromWan, fromLTE, h.sent[n-1:])
	}
	if count[SetTunnel](h.all) != tunnels || count[ClearTunnel](h.all) != 0 {
		t.Fatal("the tunnel left lte during the unanswered return")
	}
	if st := h.c.Status(h.now); !strings.Contains(st.Note, "back to") {
		t.Errorf("note %q", st.Note)
	}
	h.accept()
	if st := h.c.Status(h.now); st.State != "registered" || st.CareOf != coaLTE {
		t.Errorf("status %+v", st)
	}
}

// TestTunnelLostSingleUplink: with nowhere else to go, a lost tunnel makes
// the router refresh its binding at once (a NAT that lost its mapping gets
// a new one from the BU; a dead home agent starts the retransmissions).
func TestTunnelLostSingleUplink(t *testing.T) {
	h := newHarness(t, baseConfig())
	h.uplink(Uplink{Name: "wan", Priority: 20, Up: true, CoA4: coa4})
	h.accept(mh.NATDetection{Refresh: 30})
	h.advance(5 * time.Second)
	n := len(h.sent)
	h.record(h.c.TunnelLost(h.now))
	if len(h.sent) != n+1 || h.lastSend().From != coa4 || h.lastSend().at != h.now {
		t.Fatalf("TunnelLost with one uplink: sent %v, want one refresh from %v now", h.sent[n:], coa4)
	}
	if st := h.c.Status(h.now); st.Counters.PathsAvoided != 0 || !strings.Contains(st.Note, "no other uplink") {
		t.Errorf("status %+v", st)
	}
	h.accept(mh.NATDetection{Refresh: 30})
	// At home or unregistered it changes nothing.
	h2 := newHarness(t, baseConfig())
	h2.uplink(homeLink)
	if s := sends(h2.record(h2.c.TunnelLost(h2.now))); len(s) != 0 {
		t.Fatalf("at home: %v", s)
	}
}
