package mnha

import (
	"net/netip"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/ha"
	"github.com/nemo-mobility/nemo/mh"
)

// TestWithHACore runs the Authenticator inside the real home agent core:
// a legitimate registration is installed and its BA verifies at the
// mobile router; another identity claiming that home address, a replay of
// the registration and a forged BU change nothing.
func TestWithHACore(t *testing.T) {
	a := newAuth(t, Config{}, testSA(), otherSA())
	core, err := ha.New(ha.Config{
		Address: haAddr, HomePrefix: netip.MustParsePrefix("2001:db8:1::/64"), NEMO: true,
		Routers: []ha.RouterConfig{
			{HomeAddress: homeAddr, Prefixes: []netip.Prefix{netip.MustParsePrefix("2001:db8:100::/48")}},
			{HomeAddress: otherHoA},
		},
		Auth: a,
	})
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t0}
	s := newSigner(t, testSA(), clk)
	legit := sendBU(t, s, homeBU(10))
	acts := core.HandleBU(t0, legit)
	ba, installed := baOf(t, acts)
	if !installed || ba.BA.Status != mh.StatusAccepted {
		t.Fatalf("legitimate registration: %#v", acts)
	}
	signed, err := a.SignBA(ba)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.VerifyBA(baInfo(t, signed)); err != nil {
		t.Fatalf("the mobile router refuses the core's BA: %v", err)
	}
	before := core.Snapshot()

	// mr2 (authentic, its own key) claims mr1's home address.
	mr2 := newSigner(t, otherSA(), clk)
	sb, err := mr2.SignBU(haAddr, coaAddr, false, homeBU(11))
	if err != nil {
		t.Fatal(err)
	}
	pkt, err := mh.BuildPacket(mh.Packet{Src: coaAddr, Dst: haAddr, HomeAddress: homeAddr, Message: sb})
	if err != nil {
		t.Fatal(err)
	}
	hijack := receiveBU(t, pkt, netip.AddrPort{})
	// mr2's Signer covers its own home address; the packet claims mr1's,
	// so this is a forgery from the HA's point of view: 146.
	if ba, inst := baOf(t, core.HandleBU(t0, hijack)); inst || ba.BA.Status != mh.StatusAuthFail {
		t.Fatalf("hijack with mr2's signer: %+v installed=%v", ba, inst)
	}
	// Signed correctly over mr1's home address with mr2's key: 129.
	forged := craft(t, otherSA().Key, otherSA().SPI, otherSA().NAI, ptr(NTPTime(t0)), homeAddr, homeAddr)
	if ba, inst := baOf(t, core.HandleBU(t0, forged)); inst || ba.BA.Status != mh.StatusAdministrativelyProhibited {
		t.Fatalf("hijack signed over mr1's address: %+v installed=%v", ba, inst)
	}
	// The captured legitimate BU, replayed later.
	if ba, inst := baOf(t, core.HandleBU(t0.Add(2*time.Second), legit)); inst || ba.BA.Status != mh.StatusIDMismatch {
		t.Fatalf("replay: %+v installed=%v", ba, inst)
	}
	after := core.Snapshot()
	if len(before) != 1 || len(after) != 1 || before[0].CareOf != after[0].CareOf ||
		before[0].Sequence != after[0].Sequence || after[0].Identity != testSA().NAI {
		t.Fatalf("binding changed:\nbefore %+v\nafter  %+v", before, after)
	}
}

// baOf returns the SendBA among acts and whether a binding was installed.
func baOf(t *testing.T, acts []ha.Action) (ha.SendBA, bool) {
	t.Helper()
	var ba ha.SendBA
	found, inst := false, false
	for _, a := range acts {
		switch v := a.(type) {
		case ha.SendBA:
			ba, found = v, true
		case ha.InstallBinding:
			inst = true
		}
	}
	if !found {
		t.Fatalf("no SendBA in %#v", acts)
	}
	return ba, inst
}
