package mh

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// hx decodes hex fragments (spaces allowed) into bytes.
func hx(parts ...string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(strings.Join(parts, ""), " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

var (
	hoa      = netip.MustParseAddr("2001:db8:1::100")
	haAddr   = netip.MustParseAddr("2001:db8:1::1")
	coa      = netip.MustParseAddr("2001:db8:f1::5")
	mnp      = netip.MustParsePrefix("2001:db8:1:100::/64")
	mnp2     = netip.MustParsePrefix("2001:db8:1:200::/56")
	v4HoA    = netip.MustParseAddr("192.0.2.10")
	v4CoA    = netip.MustParseAddr("198.51.100.7")
	v4Any    = netip.MustParseAddr("0.0.0.0")
	cn       = netip.MustParseAddr("2001:db8:c::10")
	hexHoA   = "20010db8 00010000 00000000 00000100"
	hexCoA   = "20010db8 00f10000 00000000 00000005"
	hexMNP   = "20010db8 00010100 00000000 00000000"
	hexMNP2  = "20010db8 00010200 00000000 00000000"
	cookie   = [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	token    = [8]byte{0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8}
	authBAD  = [12]byte{0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb}
	authData = []byte{0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb}
)

type goldenCase struct {
	name string
	msg  Message
	wire []byte
}

// goldenCases covers every message type and every option, with the
// padding worked examples of PROTOCOL.md 1.5.
var goldenCases = []goldenCase{
	{
		name: "BRR",
		msg:  BindingRefreshRequest{},
		wire: hx(
			"3b",   // Payload Proto 59
			"00",   // Header Len 0: 8 bytes
			"00",   // MH Type 0 BRR
			"00",   // Reserved
			"0000", // Checksum (left 0)
			"0000", // Reserved
		),
	},
	{
		name: "BRR with BID (2n)",
		msg:  BindingRefreshRequest{Options: []Option{BindingIdentifier{BID: 7}}},
		wire: hx(
			"3b 01 00 00 0000", // proto, Header Len 1 (16 bytes), BRR, reserved, checksum
			"0000",             // Reserved
			"23 04",            // BID option, length 4, at offset 8 (2n)
			"0007",             // BID 7
			"00",               // Status
			"00",               // H=0, BID-PRI 0
			"01 00",            // PadN(2) to 16
		),
	},
	{
		name: "HoTI",
		msg:  HomeTestInit{Cookie: cookie},
		wire: hx(
			"3b 01 01 00 0000",  // proto, Header Len 1, HoTI, reserved, checksum
			"0000",              // Reserved
			"01020304 05060708", // Home Init Cookie
		),
	},
	{
		name: "CoTI",
		msg:  CareOfTestInit{Cookie: cookie},
		wire: hx(
			"3b 01 02 00 0000",  // proto, Header Len 1, CoTI, reserved, checksum
			"0000",              // Reserved
			"01020304 05060708", // Care-of Init Cookie
		),
	},
	{
		name: "HoT",
		msg:  HomeTest{NonceIndex: 0x1234, Cookie: cookie, KeygenToken: token},
		wire: hx(
			"3b 02 03 00 0000",  // proto, Header Len 2 (24), HoT, reserved, checksum
			"1234",              // Home Nonce Index
			"01020304 05060708", // Home Init Cookie
			"a1a2a3a4 a5a6a7a8", // Home Keygen Token
		),
	},
	{
		name: "CoT",
		msg:  CareOfTest{NonceIndex: 0xfedc, Cookie: cookie, KeygenToken: token},
		wire: hx(
			"3b 02 04 00 0000",  // proto, Header Len 2, CoT, reserved, checksum
			"fedc",              // Care-of Nonce Index
			"01020304 05060708", // Care-of Init Cookie
			"a1a2a3a4 a5a6a7a8", // Care-of Keygen Token
		),
	},
	{
		name: "BU without options",
		msg:  BindingUpdate{Sequence: 0x6f30, Flags: BUFlagA | BUFlagH | BUFlagR, Lifetime: 420 * time.Second},
		wire: hx(
			"3b 01 05 00 0000", // proto, Header Len 1 (16), BU, reserved, checksum
			"6f30",             // Sequence 28464
			"c400",             // Flags A|H|R
			"0069",             // Lifetime 105 units = 420 s
			"01 02 0000",       // PadN(4): a BU needs 16 bytes
		),
	},
	{
		name: "BU Alt-CoA (worked example: PadN(2), 8n+6)",
		msg: BindingUpdate{Sequence: 1, Flags: BUFlagA | BUFlagH, Lifetime: 4 * time.Second,
			Options: []Option{AlternateCareOfAddress{Addr: coa}}},
		wire: hx(
			"3b 03 05 00 0000", // proto, Header Len 3 (32), BU, reserved, checksum
			"0001 c000 0001",   // Sequence 1, Flags A|H, Lifetime 1 unit
			"01 00",            // PadN(2) at 12
			"03 10", hexCoA,    // Alternate CoA at 14 (8n+6), length 16
		),
	},
	{
		name: "BU one MNP (worked example: no padding, 8n+4)",
		msg: BindingUpdate{Sequence: 2, Flags: BUFlagA | BUFlagH | BUFlagR, Lifetime: 8 * time.Second,
			Options: []Option{MobileNetworkPrefix{Prefix: mnp}}},
		wire: hx(
			"3b 03 05 00 0000",       // proto, Header Len 3 (32), BU
			"0002 c400 0002",         // Sequence 2, A|H|R, Lifetime 2 units
			"06 12", "00 40", hexMNP, // MNP at 12 (8n+4), length 18, reserved, /64, prefix
		),
	},
	{
		name: "BU Alt-CoA and two MNPs (as UMIP lays them out)",
		msg: BindingUpdate{Sequence: 3, Flags: BUFlagA | BUFlagH | BUFlagR, Lifetime: 86396 * time.Second,
			Options: []Option{AlternateCareOfAddress{Addr: coa}, MobileNetworkPrefix{Prefix: mnp}, MobileNetworkPrefix{Prefix: mnp2}}},
		wire: hx(
			"3b 09 05 00 0000", // proto, Header Len 9 (80), BU
			"0003 c400 545f",   // Sequence 3, A|H|R, Lifetime 21599 units
			"01 00",            // PadN(2) at 12
			"03 10", hexCoA,    // Alt-CoA at 14
			"01 02 0000",             // PadN(4) at 32
			"06 12", "00 40", hexMNP, // MNP at 36 (8n+4)
			"01 02 0000",              // PadN(4) at 56
			"06 12", "00 38", hexMNP2, // MNP /56 at 60
		),
	},
	{
		name: "BU MESG-ID and AUTH (worked example: PadN(6), Pad1, AUTH at 8n+5)",
		msg: BindingUpdate{Sequence: 4, Flags: BUFlagA | BUFlagH, Lifetime: 40 * time.Second,
			Options: []Option{
				ReplayProtection{Timestamp: 0xe1234567_89abcdef},
				Authentication{Subtype: AuthSubtypeMNHA, SPI: 256, Data: authData},
			}},
		wire: hx(
			"3b 05 05 00 0000",           // proto, Header Len 5 (48), BU
			"0004 c000 000a",             // Sequence 4, A|H, Lifetime 10 units
			"01 04 00000000",             // PadN(6) at 12
			"0a 08 e1234567 89abcdef",    // MESG-ID at 18 (8n+2), timestamp
			"00",                         // Pad1 at 28
			"09 11 01 00000100",          // AUTH at 29 (8n+5), length 17, MN-HA, SPI 256
			"c0c1c2c3 c4c5c6c7 c8c9cacb", // authenticator, ends at 48
		),
	},
	{
		name: "BU IPv4 CoA only (worked example: option then PadN(4))",
		msg: BindingUpdate{Sequence: 5, Flags: BUFlagA | BUFlagH | BUFlagF, Lifetime: 400 * time.Second,
			Options: []Option{IPv4CareOfAddress{Addr: v4CoA}}},
		wire: hx(
			"3b 02 05 00 0000",    // proto, Header Len 2 (24), BU
			"0005 c100 0064",      // Sequence 5, A|H|F, Lifetime 100 units
			"20 06 0000 c6336407", // IPv4 CoA at 12 (4n), reserved, 198.51.100.7
			"01 02 0000",          // PadN(4) at 20
		),
	},
	{
		name: "BU IPv4 HoA (P, dynamic) and IPv4 CoA",
		msg: BindingUpdate{Sequence: 6, Flags: BUFlagA | BUFlagH | BUFlagR, Lifetime: 400 * time.Second,
			Options: []Option{
				IPv4HomeAddress{PrefixLen: 24, P: true, Addr: v4Any},
				IPv4HomeAddress{PrefixLen: 32, Addr: v4HoA},
				IPv4CareOfAddress{Addr: v4CoA},
			}},
		wire: hx(
			"3b 04 05 00 0000",     // proto, Header Len 4 (40), BU
			"0006 c400 0064",       // Sequence 6, A|H|R, Lifetime 100 units
			"1d 06 62 00 00000000", // IPv4 HoA at 12: prefix 24<<2 | P(0x02) = 0x62, 0.0.0.0
			"1d 06 80 00 c000020a", // IPv4 HoA at 20: prefix 32<<2 = 0x80, 192.0.2.10
			"20 06 0000 c6336407",  // IPv4 CoA at 28
			"01 02 0000",           // PadN(4) at 36
		),
	},
	{
		name: "BU CN: Nonce Indices and BAD (BAD last, 8n+2, no trailing padding)",
		msg: BindingUpdate{Sequence: 7, Flags: BUFlagA, Lifetime: 420 * time.Second,
			Options: []Option{NonceIndices{Home: 0x0102, CareOf: 0x0304}, BindingAuthData{Authenticator: authBAD}}},
		wire: hx(
			"3b 03 05 00 0000",                 // proto, Header Len 3 (32), BU
			"0007 8000 0069",                   // Sequence 7, A, Lifetime 105 units
			"04 04 0102 0304",                  // Nonce Indices at 12 (2n): home, care-of
			"05 0c b0b1b2b3 b4b5b6b7 b8b9babb", // BAD at 18 (8n+2), ends at 32
		),
	},
	{
		name: "BU MN-ID (NAI) then AUTH (no padding needed)",
		msg: BindingUpdate{Sequence: 8, Flags: BUFlagA | BUFlagH, Lifetime: 40 * time.Second,
			Options: []Option{
				MobileNodeIdentifier{Subtype: MNIDSubtypeNAI, Identifier: []byte("mr@example.net")},
				Authentication{Subtype: AuthSubtypeMNHA, SPI: 0x1000, Data: authData},
			}},
		wire: hx(
			"3b 05 05 00 0000", // proto, Header Len 5 (48), BU
			"0008 c000 000a",   // Sequence 8, A|H, Lifetime 10 units
			"08 0f 01",         // MN-ID at 12, length 15, subtype NAI
			hex.EncodeToString([]byte("mr@example.net")), // identifier, ends at 29
			"09 11 01 00001000",                          // AUTH at 29 (8n+5), MN-HA, SPI 4096
			"c0c1c2c3 c4c5c6c7 c8c9cacb",                 // authenticator
		),
	},
	{
		name: "BU MN-ID ending at 8n+7 (final Pad1)",
		msg: BindingUpdate{Sequence: 9, Flags: BUFlagA | BUFlagH,
			Options: []Option{MobileNodeIdentifier{Subtype: MNIDSubtypeNAI, Identifier: []byte("mr@a.net")}}},
		wire: hx(
			"3b 02 05 00 0000",                     // proto, Header Len 2 (24), BU
			"0009 c000 0000",                       // Sequence 9, A|H, Lifetime 0 (deregistration)
			"08 09 01",                             // MN-ID at 12, length 9, NAI
			hex.EncodeToString([]byte("mr@a.net")), // identifier, ends at 23
			"00",                                   // Pad1 at 23
		),
	},
	{
		name: "BU BID without CoA (2n) and with IPv6 CoA (8n+2)",
		msg: BindingUpdate{Sequence: 10, Flags: BUFlagA | BUFlagH, Lifetime: 40 * time.Second,
			Options: []Option{
				BindingIdentifier{BID: 1, H: true, Priority: 3},
				BindingIdentifier{BID: 2, Priority: 127, CareOf: coa},
			}},
		wire: hx(
			"3b 04 05 00 0000",         // proto, Header Len 4 (40), BU
			"000a c000 000a",           // Sequence 10, A|H, Lifetime 10 units
			"23 04 0001 00 83",         // BID at 12 (2n): BID 1, status 0, H|PRI 3
			"23 14 0002 00 7f", hexCoA, // BID at 18 (8n+2): BID 2, PRI 127, CoA at 24
		),
	},
	{
		name: "BU BID with IPv4 CoA (8n+2)",
		msg: BindingUpdate{Sequence: 11, Flags: BUFlagA | BUFlagH, Lifetime: 40 * time.Second,
			Options: []Option{BindingIdentifier{BID: 3, Status: 0, CareOf: v4CoA}}},
		wire: hx(
			"3b 03 05 00 0000",          // proto, Header Len 3 (32), BU
			"000b c000 000a",            // Sequence 11, A|H, Lifetime 10 units
			"01 04 00000000",            // PadN(6) at 12
			"23 08 0003 00 00 c6336407", // BID at 18: BID 3, IPv4 CoA at 24
			"01 02 0000",                // PadN(4) at 28
		),
	},
	{
		name: "BU unknown option kept raw",
		msg: BindingUpdate{Sequence: 12, Flags: BUFlagA | BUFlagH | 0x0040, Lifetime: 40 * time.Second,
			Options: []Option{RawOption{Type: 0x63, Data: []byte{0xde, 0xad, 0xbe}}}},
		wire: hx(
			"3b 02 05 00 0000", // proto, Header Len 2 (24), BU
			"000c c040 000a",   // Sequence 12, A|H|0x0040 (kept), Lifetime 10 units
			"63 03 deadbe",     // option 99, length 3, at 12 (no alignment)
			"01 05 0000000000", // PadN(7) at 17
		),
	},
	{
		name: "BA without options",
		msg:  BindingAck{Status: StatusAccepted, Flags: BAFlagR, Sequence: 0x6f30, Lifetime: 86396 * time.Second},
		wire: hx(
			"3b 01 06 00 0000", // proto, Header Len 1 (16), BA, reserved, checksum
			"00",               // Status 0
			"40",               // Flags R
			"6f30",             // Sequence
			"545f",             // Lifetime 21599 units
			"01 02 0000",       // PadN(4)
		),
	},
	{
		name: "BA IPv4 Ack, NAT Detection and BRA (DSMIPv6)",
		msg: BindingAck{Status: StatusAccepted, Flags: BAFlagR, Sequence: 6, Lifetime: 400 * time.Second,
			Options: []Option{
				IPv4AddressAck{Status: IPv4AckSuccess, PrefixLen: 32, Addr: v4HoA},
				NATDetection{F: true, Refresh: 110},
				BindingRefreshAdvice{Interval: 200 * time.Second},
			}},
		wire: hx(
			"3b 03 06 00 0000",     // proto, Header Len 3 (32), BA
			"00 40 0006 0064",      // Status 0, R, Sequence 6, Lifetime 100 units
			"1e 06 00 80 c000020a", // IPv4 Ack at 12: status 0, prefix 32<<2, 192.0.2.10
			"1f 06 8000 0000006e",  // NAT Detection at 20: F, refresh 110 s
			"02 02 0032",           // BRA at 28 (2n): 50 units = 200 s
		),
	},
	{
		name: "BA rejected, IPv4 Ack failure, NAT refresh not needed",
		msg: BindingAck{Status: StatusSequenceOutOfWindow, Sequence: 0xffff,
			Options: []Option{
				IPv4AddressAck{Status: IPv4AckDynamicNotAvailable, Addr: v4Any},
				NATDetection{Refresh: NATRefreshNotNeeded},
			}},
		wire: hx(
			"3b 03 06 00 0000",     // proto, Header Len 3 (32), BA
			"87 00 ffff 0000",      // Status 135, no flags, Sequence 65535, Lifetime 0
			"1e 06 84 00 00000000", // IPv4 Ack at 12: status 132, prefix 0, 0.0.0.0
			"1f 06 0000 ffffffff",  // NAT Detection at 20: F=0, refresh all ones
			"01 02 0000",           // PadN(4) at 28
		),
	},
	{
		name: "BE",
		msg:  BindingError{Status: BEUnknownBindingForHoA, HomeAddress: hoa},
		wire: hx(
			"3b 02 07 00 0000", // proto, Header Len 2 (24), BE, reserved, checksum
			"01",               // Status 1
			"00",               // Reserved
			hexHoA,             // Home Address
		),
	},
}

func TestGoldenMarshal(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Marshal(tc.msg)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if !bytes.Equal(got, tc.wire) {
				t.Fatalf("Marshal:\n got %x\nwant %x", got, tc.wire)
			}
			prefix := []byte{0xaa, 0xbb, 0xcc}
			app, err := AppendMessage(append([]byte(nil), prefix...), tc.msg)
			if err != nil {
				t.Fatalf("AppendMessage: %v", err)
			}
			if !bytes.Equal(app[:3], prefix) || !bytes.Equal(app[3:], tc.wire) {
				t.Fatalf("AppendMessage: got %x", app)
			}
		})
	}
}

func TestGoldenParse(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.wire)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tc.msg) {
				t.Fatalf("Parse:\n got %#v\nwant %#v", got, tc.msg)
			}
		})
	}
}
