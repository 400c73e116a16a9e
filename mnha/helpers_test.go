package mnha

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/ha"
	"github.com/nemo-mobility/nemo/mh"
	"github.com/nemo-mobility/nemo/mrouter"
)

var (
	haAddr   = netip.MustParseAddr("2001:db8:1::1")
	homeAddr = netip.MustParseAddr("2001:db8:1::100")
	coaAddr  = netip.MustParseAddr("2001:db8:2::100")
	otherHoA = netip.MustParseAddr("2001:db8:1::200")
	coa4     = netip.MustParseAddr("198.51.100.7")
	nat4     = netip.MustParseAddrPort("203.0.113.9:40000")
	t0       = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
)

func testSA() SA {
	return SA{SPI: 0x1000, Key: []byte("0123456789abcdef"), NAI: "mr1@example.net", HomeAddress: homeAddr}
}

func otherSA() SA {
	return SA{SPI: 0x2000, Key: []byte("fedcba9876543210"), NAI: "mr2@example.net", HomeAddress: otherHoA}
}

// fakeClock is an injected clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// counterRand yields 0x01 0x02 0x03 ... so timestamps are reproducible.
type counterRand struct{ n byte }

func (r *counterRand) Read(p []byte) (int, error) {
	for i := range p {
		r.n++
		p[i] = r.n
	}
	return len(p), nil
}

func newSigner(t testing.TB, sa SA, clk *fakeClock) *Signer {
	t.Helper()
	s, err := NewSigner(SignerConfig{SA: sa, Clock: clk.now, Rand: &counterRand{}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newAuth(t testing.TB, cfg Config, sas ...SA) *Authenticator {
	t.Helper()
	st, err := NewStore(sas...)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAuthenticator(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// homeBU is a NEMO home registration as mrouter builds it from coaAddr.
func homeBU(seq uint16) mh.BindingUpdate {
	return mh.BindingUpdate{
		Sequence: seq, Flags: mh.BUFlagA | mh.BUFlagH | mh.BUFlagR,
		Lifetime: 600 * time.Second,
		Options: []mh.Option{
			mh.AlternateCareOfAddress{Addr: coaAddr},
			mh.MobileNetworkPrefix{Prefix: netip.MustParsePrefix("2001:db8:100::/48")},
		},
	}
}

// sendBU signs bu with s as the shell does and turns the packet into the
// BURequest the home agent's shell would hand to its core.
func sendBU(t testing.TB, s *Signer, bu mh.BindingUpdate) ha.BURequest {
	t.Helper()
	sb, err := s.Sign(mrouter.SendBU{From: coaAddr, To: haAddr, HomeAddressOption: true, BU: bu})
	if err != nil {
		t.Fatal(err)
	}
	pkt, err := mh.BuildPacket(mh.Packet{Src: sb.From, Dst: sb.To, HomeAddress: homeAddr, Message: sb.BU})
	if err != nil {
		t.Fatal(err)
	}
	return receiveBU(t, pkt, netip.AddrPort{})
}

// receiveBU parses an IPv6 packet as the home agent's shell does.
func receiveBU(t testing.TB, pkt []byte, udp netip.AddrPort) ha.BURequest {
	t.Helper()
	p, raw, err := mh.ParsePacket(pkt)
	if err != nil {
		t.Fatal(err)
	}
	bu, ok := p.Message.(mh.BindingUpdate)
	if !ok {
		t.Fatalf("parsed %T", p.Message)
	}
	req := ha.BURequest{Src: p.Src, Dst: p.Dst, HomeAddr: p.Src, BU: bu, Raw: bytes.Clone(raw), UDP: udp}
	if p.HomeAddress.IsValid() {
		req.HomeAddr, req.HadHAO = p.HomeAddress, true
	}
	return req
}

// answer builds the home agent's Binding Acknowledgement for req with the
// AuthResult's options, signs it and returns what the mobile router's
// shell would hand its core.
func answer(t testing.TB, a *Authenticator, req ha.BURequest, r ha.AuthResult, st mh.Status) mrouter.BAInfo {
	t.Helper()
	s := ha.SendBA{
		To: req.Src, HomeAddress: req.HomeAddr, CareOf: CareOf(req.Src, req.UDP.IsValid(), req.BU.Options),
		Identity: r.Identity,
		BA:       mh.BindingAck{Status: st, Sequence: req.BU.Sequence, Lifetime: req.BU.Lifetime, Options: r.AckOptions},
	}
	if req.HadHAO {
		s.RoutingHome = req.HomeAddr
	}
	s, err := a.SignBA(s)
	if err != nil {
		t.Fatal(err)
	}
	return baInfo(t, s)
}

// baInfo sends s as the home agent's shell does and parses it as the
// mobile router's shell does.
func baInfo(t testing.TB, s ha.SendBA) mrouter.BAInfo {
	t.Helper()
	pkt, err := mh.BuildPacket(mh.Packet{Src: haAddr, Dst: s.To, RoutingHome: s.RoutingHome, Message: s.BA})
	if err != nil {
		t.Fatal(err)
	}
	p, raw, err := mh.ParsePacket(pkt)
	if err != nil {
		t.Fatal(err)
	}
	return mrouter.BAInfo{From: p.Src, BA: p.Message.(mh.BindingAck), Raw: bytes.Clone(raw)}
}

// timestampOf returns the replay protection option's timestamp in opts.
func timestampOf(t testing.TB, opts []mh.Option) uint64 {
	t.Helper()
	for _, o := range opts {
		if r, ok := o.(mh.ReplayProtection); ok {
			return r.Timestamp
		}
	}
	t.Fatal("no replay protection option")
	return 0
}
