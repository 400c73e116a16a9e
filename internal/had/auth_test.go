package had

import (
	"net/netip"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/config"
	"github.com/nemo-mobility/nemo/ha"
	"github.com/nemo-mobility/nemo/mh"
	"github.com/nemo-mobility/nemo/mnha"
	"github.com/nemo-mobility/nemo/mrouter"
)

const testHA = `
[ha]
address = "2001:db8:1::1"
home_prefix = "2001:db8:1::/64"
home_interface = "ha-home"

[[mobile_router]]
nai = "mr1@example.net"
home_address = "2001:db8:1::100"
prefixes = ["2001:db8:1:100::/64"]
spi = 4096
key = "6e656d6f2d746573746265642d6b6579"
`

// The daemon's authenticator accepts what the mobile router's signer sends,
// over the real packet path: sign, build the packet, parse it as the
// signalling socket delivers it, check.
func TestAuthenticatorAcceptsSignedPacket(t *testing.T) {
	cfg, err := config.ParseHA("ha.toml", []byte(testHA))
	if err != nil {
		t.Fatal(err)
	}
	auth, mn, err := authenticator(cfg)
	if err != nil || auth == nil || mn == nil {
		t.Fatalf("authenticator: %v %v %v", auth, mn, err)
	}
	hoa := netip.MustParseAddr("2001:db8:1::100")
	coa := netip.MustParseAddr("2001:db8:f2::a")
	haAddr := netip.MustParseAddr("2001:db8:1::1")
	signer, err := mnha.NewSigner(mnha.SignerConfig{SA: mnha.SA{SPI: 4096, Key: cfg.MobileRouters[0].Key.Bytes(), NAI: "mr1@example.net", HomeAddress: hoa}})
	if err != nil {
		t.Fatal(err)
	}
	sb := mrouter.SendBU{From: coa, To: haAddr, HomeAddressOption: true, BU: mh.BindingUpdate{
		Sequence: 9, Flags: mh.BUFlagA | mh.BUFlagH | mh.BUFlagR, Lifetime: time.Minute,
		Options: []mh.Option{mh.AlternateCareOfAddress{Addr: coa}, mh.MobileNetworkPrefix{Prefix: netip.MustParsePrefix("2001:db8:1:100::/64")}},
	}}
	signed, err := signer.Sign(sb)
	if err != nil {
		t.Fatal(err)
	}
	pkt, err := mh.BuildPacket(mh.Packet{Src: coa, Dst: haAddr, HomeAddress: hoa, Message: signed.BU})
	if err != nil {
		t.Fatal(err)
	}
	// The protocol-60 socket delivers the packet from the Destination
	// Options header on.
	p, raw, err := mh.ParseSignal(coa, haAddr, mh.ProtoDestOpts, pkt[mh.IPv6HeaderLen:])
	if err != nil {
		t.Fatal(err)
	}
	req := ha.BURequest{Src: p.Src, Dst: p.Dst, HomeAddr: p.HomeAddress, HadHAO: true, BU: p.Message.(mh.BindingUpdate), Raw: raw}
	res := auth.Check(time.Now(), &req)
	if res.Verdict != ha.AuthAccept || res.Identity != "mr1@example.net" {
		t.Fatalf("signed BU refused: verdict %v status %v identity %q", res.Verdict, res.Status, res.Identity)
	}
	// The same packet again is a replay (RFC 4285 section 6).
	if res := auth.Check(time.Now(), &req); res.Verdict != ha.AuthReject || res.Status != mh.StatusIDMismatch {
		t.Fatalf("replayed BU: verdict %v status %v, want reject 144", res.Verdict, res.Status)
	}
}
