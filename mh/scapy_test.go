package mh

import (
	"encoding/hex"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/internal/testutil"
)

// scapyScript builds one packet per line, hex-encoded, in the order of
// scapyWant. scapy computes the MH checksums itself (with the HAO and RH2
// pseudo-header rules), so this is an independent check of ours too.
// scapy's default olen for Nonce Indices and BAD is 16; the RFC says 4 and
// 12, so they are set explicitly. Its BA flags field is "KRP" (3 bits).
const scapyScript = `
from scapy.layers.inet6 import *
from scapy.all import raw
hoa, ha, coa = '2001:db8:1::100', '2001:db8:1::1', '2001:db8:f1::5'
cookie, token = bytes(range(1, 9)), bytes(range(0xa1, 0xa9))
pkts = [
  IPv6(src=coa, dst=ha)/IPv6ExtHdrDestOpt(options=[HAO(hoa=hoa)])/
    MIP6MH_BU(seq=0x1234, flags='AHR', mhtime=105, options=[
      MIP6OptAltCoA(acoa=coa), MIP6OptMobNetPrefix(plen=64, prefix='2001:db8:1:100::')]),
  IPv6(src=coa, dst='2001:db8:c::10')/IPv6ExtHdrDestOpt(options=[HAO(hoa=hoa)])/
    MIP6MH_BU(seq=7, flags='A', mhtime=105, options=[
      MIP6OptNonceIndices(olen=4, hni=0x0102, coni=0x0304),
      MIP6OptBindingAuthData(olen=12, authenticator=0xb0b1b2b3b4b5b6b7b8b9babb)]),
  IPv6(src=ha, dst=coa)/IPv6ExtHdrRouting(type=2, segleft=1, addresses=[hoa])/
    MIP6MH_BA(status=0, flags='R', seq=0x1234, mhtime=100, options=[MIP6OptBRAdvice(rinter=50)]),
  IPv6(src=coa, dst=ha)/IPv6ExtHdrDestOpt(options=[HAO(hoa=hoa)])/
    MIP6MH_BU(seq=8, flags='AH', mhtime=10, options=[
      MIP6OptMNID(id=b'mr@example.net'), MIP6OptReplayProtection(timestamp=0xe123456789abcdef),
      MIP6OptMsgAuth(subtype=1, mspi=256, authdata=bytes(range(0xc0, 0xcc)))]),
  IPv6(src=hoa, dst=ha)/MIP6MH_BRR(),
  IPv6(src=hoa, dst='2001:db8:c::10')/MIP6MH_HoTI(cookie=cookie),
  IPv6(src=coa, dst='2001:db8:c::10')/MIP6MH_CoTI(cookie=cookie),
  IPv6(src='2001:db8:c::10', dst=hoa)/MIP6MH_HoT(index=0x1234, cookie=cookie, token=token),
  IPv6(src='2001:db8:c::10', dst=coa)/MIP6MH_CoT(index=0xfedc, cookie=cookie, token=token),
  IPv6(src=ha, dst=coa)/MIP6MH_BE(status=2, ha=hoa),
]
for p in pkts:
    print(raw(p).hex())
`

var scapyWant = []Packet{
	{Src: coa, Dst: haAddr, HomeAddress: hoa, Message: BindingUpdate{Sequence: 0x1234, Flags: BUFlagA | BUFlagH | BUFlagR,
		Lifetime: 420 * time.Second, Options: []Option{AlternateCareOfAddress{Addr: coa}, MobileNetworkPrefix{Prefix: mnp}}}},
	{Src: coa, Dst: cn, HomeAddress: hoa, Message: BindingUpdate{Sequence: 7, Flags: BUFlagA, Lifetime: 420 * time.Second,
		Options: []Option{NonceIndices{Home: 0x0102, CareOf: 0x0304}, BindingAuthData{Authenticator: authBAD}}}},
	{Src: haAddr, Dst: coa, RoutingHome: hoa, Message: BindingAck{Status: StatusAccepted, Flags: BAFlagR, Sequence: 0x1234,
		Lifetime: 400 * time.Second, Options: []Option{BindingRefreshAdvice{Interval: 200 * time.Second}}}},
	{Src: coa, Dst: haAddr, HomeAddress: hoa, Message: BindingUpdate{Sequence: 8, Flags: BUFlagA | BUFlagH, Lifetime: 40 * time.Second,
		Options: []Option{
			MobileNodeIdentifier{Subtype: MNIDSubtypeNAI, Identifier: []byte("mr@example.net")},
			ReplayProtection{Timestamp: 0xe123456789abcdef},
			Authentication{Subtype: AuthSubtypeMNHA, SPI: 256, Data: authData},
		}}},
	{Src: hoa, Dst: haAddr, Message: BindingRefreshRequest{}},
	{Src: hoa, Dst: cn, Message: HomeTestInit{Cookie: cookie}},
	{Src: coa, Dst: cn, Message: CareOfTestInit{Cookie: cookie}},
	{Src: cn, Dst: hoa, Message: HomeTest{NonceIndex: 0x1234, Cookie: cookie, KeygenToken: token}},
	{Src: cn, Dst: coa, Message: CareOfTest{NonceIndex: 0xfedc, Cookie: cookie, KeygenToken: token}},
	{Src: haAddr, Dst: coa, Message: BindingError{Status: BEUnrecognizedMHType, HomeAddress: hoa}},
}

func TestScapyPacketsParse(t *testing.T) {
	py := testutil.Python(t)
	out, err := exec.Command(py, "-c", scapyScript).CombinedOutput()
	if err != nil {
		t.Fatalf("scapy: %v\n%s", err, out)
	}
	lines := strings.Fields(string(out))
	if len(lines) != len(scapyWant) {
		t.Fatalf("scapy printed %d packets, want %d:\n%s", len(lines), len(scapyWant), out)
	}
	for i, line := range lines {
		b, err := hex.DecodeString(line)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		p, _, err := ParsePacket(b)
		if err != nil {
			t.Errorf("packet %d (%T): %v\n%x", i, scapyWant[i].Message, err, b)
			continue
		}
		want := scapyWant[i]
		want.HopLimit, want.NextHeader = 64, ProtoMH
		if !reflect.DeepEqual(p, want) {
			t.Errorf("packet %d:\n got %+v\nwant %+v", i, p, want)
		}
	}
}
