package mh

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nemo-mobility/nemo/internal/testutil"
)

// tsharkExpect lists, per golden case, the tshark fields and the values it
// must decode from the packet we build (several occurrences joined by ",").
// Wireshark 4.0 shows lifetimes in 4-second units and booleans as 1/0.
var tsharkExpect = map[string]map[string]string{
	"BRR":               {"mip6.mhtype": "0"},
	"BRR with BID (2n)": {"mip6.mhtype": "0", "mip6.bi.bid": "7", "mip6.bi.h_flag": "0"},
	"HoTI":              {"mip6.mhtype": "1", "mip6.hoti.cookie": "0x0102030405060708"},
	"CoTI":              {"mip6.mhtype": "2", "mip6.coti.cookie": "0x0102030405060708"},
	"HoT": {"mip6.mhtype": "3", "mip6.hot.nindex": "4660", "mip6.hot.cookie": "0x0102030405060708",
		"mip6.hot.token": "0xa1a2a3a4a5a6a7a8"},
	"CoT": {"mip6.mhtype": "4", "mip6.cot.nindex": "65244", "mip6.cot.cookie": "0x0102030405060708",
		"mip6.hot.token": "0xa1a2a3a4a5a6a7a8"}, // Wireshark files the CoT token under hot.token
	"BU without options": {"mip6.mhtype": "5", "mip6.bu.seqnr": "28464", "mip6.bu.a_flag": "1", "mip6.bu.h_flag": "1",
		"mip6.bu.l_flag": "0", "mip6.bu.k_flag": "0", "mip6.nemo.bu.r_flag": "1", "mip6.bu.f_flag": "0", "mip6.bu.lifetime": "105"},
	"BU Alt-CoA (worked example: PadN(2), 8n+6)": {"mip6.bu.seqnr": "1", "mip6.nemo.bu.r_flag": "0", "mip6.bu.lifetime": "1",
		"mip6.acoa.acoa": "2001:db8:f1::5"},
	"BU one MNP (worked example: no padding, 8n+4)": {"mip6.nemo.mnp.pfl": "64", "mip6.nemo.mnp.mnp": "2001:db8:1:100::"},
	"BU Alt-CoA and two MNPs (as UMIP lays them out)": {"mip6.bu.lifetime": "21599", "mip6.acoa.acoa": "2001:db8:f1::5",
		"mip6.nemo.mnp.pfl": "64,56", "mip6.nemo.mnp.mnp": "2001:db8:1:100::,2001:db8:1:200::"},
	"BU MESG-ID and AUTH (worked example: PadN(6), Pad1, AUTH at 8n+5)": {"mip6.auth.subtype": "1",
		"mip6.auth.mobility_spi": "256"},
	"BU IPv4 CoA only (worked example: option then PadN(4))": {"mip6.bu.f_flag": "1", "mip6.bu.lifetime": "100",
		"mip6.ipv4coa.addr": "198.51.100.7"},
	"BU IPv4 HoA (P, dynamic) and IPv4 CoA": {"mip6.ipv4ha.preflen": "24,32", "mip6.ipv4ha.p_flag": "1,0",
		"mip6.ipv4ha.ha": "0.0.0.0,192.0.2.10", "mip6.ipv4coa.addr": "198.51.100.7"},
	"BU CN: Nonce Indices and BAD (BAD last, 8n+2, no trailing padding)": {"mip6.bu.h_flag": "0", "mip6.ni.hni": "258",
		"mip6.ni.cni": "772", "mip6.bad.auth": "b0b1b2b3b4b5b6b7b8b9babb"},
	"BU MN-ID (NAI) then AUTH (no padding needed)": {"mip6.mnid.subtype": "1", "mip6.mnid.identifier": "mr@example.net",
		"mip6.auth.subtype": "1", "mip6.auth.mobility_spi": "4096"},
	"BU MN-ID ending at 8n+7 (final Pad1)": {"mip6.bu.lifetime": "0", "mip6.mnid.identifier": "mr@a.net"},
	"BU BID without CoA (2n) and with IPv6 CoA (8n+2)": {"mip6.bi.bid": "1,2", "mip6.bi.h_flag": "1,0",
		"mip6.bi.coa_ipv6": "2001:db8:f1::5"},
	"BU BID with IPv4 CoA (8n+2)": {"mip6.bi.bid": "3", "mip6.bi.coa_ipv4": "198.51.100.7"},
	"BU unknown option kept raw":  {"mip6.mobility_opt": "99", "mip6.bu.seqnr": "12"},
	"BA without options": {"mip6.mhtype": "6", "mip6.ba.status": "0", "mip6.nemo.ba.r_flag": "1", "mip6.ba.k_flag": "0",
		"mip6.ba.seqnr": "28464", "mip6.ba.lifetime": "21599"},
	"BA IPv4 Ack, NAT Detection and BRA (DSMIPv6)": {"mip6.ipv4aa.sts": "0", "mip6.natd.f_flag": "1",
		"mip6.natd.refresh_t": "110", "mip6.bra.interval": "50", "mip6.ipv4ha.ha": "192.0.2.10", "mip6.ipv4ha.preflen": "32"},
	"BA rejected, IPv4 Ack failure, NAT refresh not needed": {"mip6.ba.status": "135", "mip6.ba.seqnr": "65535",
		"mip6.nemo.ba.r_flag": "0", "mip6.ipv4aa.sts": "132", "mip6.natd.f_flag": "0", "mip6.natd.refresh_t": "4294967295"},
	"BE": {"mip6.mhtype": "7", "mip6.be.status": "1", "mip6.be.haddr": "2001:db8:1::100"},
}

func TestTsharkDecodesWhatWeBuild(t *testing.T) {
	tshark := testutil.RequireTool(t, "tshark")
	type pkt struct {
		name   string
		b      []byte
		expect map[string]string
	}
	var pkts []pkt
	for _, tc := range goldenCases {
		exp, ok := tsharkExpect[tc.name]
		if !ok {
			t.Fatalf("no tshark expectations for golden case %q", tc.name)
		}
		exp = maps(exp)
		// Signalling from the care-of address: HAO for requests, RH2 for
		// answers, as on the wire.
		p := Packet{Src: coa, Dst: haAddr, HomeAddress: hoa, Message: tc.msg}
		exp["ipv6.opt.mipv6.home_address"] = "2001:db8:1::100"
		if tc.msg.MHType() == TypeBA || tc.msg.MHType() == TypeBE {
			p = Packet{Src: haAddr, Dst: coa, RoutingHome: hoa, Message: tc.msg}
			exp["ipv6.routing.mipv6.home_address"] = "2001:db8:1::100"
			exp["ipv6.routing.segleft"] = "1"
			delete(exp, "ipv6.opt.mipv6.home_address")
		}
		b := mustBuild(t, p)
		exp["mip6.csum"] = fmt.Sprintf("0x%04x", binary.BigEndian.Uint16(b[len(b)-mhLen(t, tc.msg)+OffChecksum:]))
		exp["mip6.hlen"] = fmt.Sprint(int(tc.wire[OffHeaderLen]))
		pkts = append(pkts, pkt{tc.name, b, exp})
	}
	// DSMIPv6 over IPv4/UDP 4191: BU from the HoA (no HAO) and the BA.
	udpCases := []struct {
		name string
		src  netip.AddrPort
		dst  netip.AddrPort
		p    Packet
		exp  map[string]string
	}{
		{"UDP BU", netip.MustParseAddrPort("198.18.0.5:40000"), netip.MustParseAddrPort("203.0.113.1:4191"),
			Packet{Src: hoa, Dst: haAddr, Message: BindingUpdate{Sequence: 77, Flags: BUFlagA | BUFlagH | BUFlagR | BUFlagF,
				Options: []Option{IPv4HomeAddress{PrefixLen: 32, Addr: v4HoA}, IPv4CareOfAddress{Addr: netip.MustParseAddr("198.18.0.5")},
					MobileNetworkPrefix{Prefix: mnp}}}},
			map[string]string{"udp.dstport": "4191", "ip.src": "198.18.0.5", "ipv6.src": "2001:db8:1::100", "mip6.bu.seqnr": "77",
				"mip6.bu.f_flag": "1", "mip6.ipv4ha.ha": "192.0.2.10", "mip6.ipv4coa.addr": "198.18.0.5",
				"mip6.nemo.mnp.mnp": "2001:db8:1:100::", "ip.checksum.status": "1", "udp.checksum.status": "1"}},
		{"UDP BA", netip.MustParseAddrPort("203.0.113.1:4191"), netip.MustParseAddrPort("198.51.100.9:40001"),
			Packet{Src: haAddr, Dst: hoa, Message: BindingAck{Sequence: 77, Flags: BAFlagR,
				Options: []Option{IPv4AddressAck{PrefixLen: 32, Addr: v4HoA}, NATDetection{Refresh: 110}}}},
			map[string]string{"udp.srcport": "4191", "ip.dst": "198.51.100.9", "mip6.ba.seqnr": "77",
				"mip6.ipv4aa.sts": "0", "mip6.natd.f_flag": "0", "mip6.natd.refresh_t": "110",
				"ip.checksum.status": "1", "udp.checksum.status": "1"}},
	}
	for _, u := range udpCases {
		inner := mustBuild(t, u.p)
		b, err := BuildUDP4(u.src, u.dst, inner)
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, pkt{u.name, b, u.exp})
	}

	var fields []string
	for _, p := range pkts {
		for f := range p.expect {
			if !slices.Contains(fields, f) {
				fields = append(fields, f)
			}
		}
	}
	slices.Sort(fields)
	file := filepath.Join(t.TempDir(), "ours.pcap")
	var raw [][]byte
	for _, p := range pkts {
		raw = append(raw, p.b)
	}
	writePcap(t, file, raw)
	args := []string{"-r", file, "-d", fmt.Sprintf("udp.port==%d,ipv6", DSMIPv6Port),
		"-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
		"-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,", "-E", "separator=/t"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command(tshark, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != len(pkts) {
		t.Fatalf("tshark printed %d lines for %d packets:\n%s", len(lines), len(pkts), out)
	}
	checked := 0
	for i, line := range lines {
		cols := strings.Split(line, "\t")
		if len(cols) != len(fields) {
			t.Fatalf("line %d: %d columns, want %d", i, len(cols), len(fields))
		}
		for j, f := range fields {
			want, ok := pkts[i].expect[f]
			if !ok {
				continue
			}
			checked++
			if cols[j] != want {
				t.Errorf("%s: tshark %s = %q, want %q", pkts[i].name, f, cols[j], want)
			}
		}
	}
	t.Logf("tshark agreed on %d field values in %d packets", checked, len(pkts))
}

// mhLen returns the marshalled length of m.
func mhLen(t *testing.T, m Message) int {
	t.Helper()
	b, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

func maps(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// Wireshark 4.0 shows only the first 10 bytes of a 12-byte MN-HA
// authenticator (its length arithmetic is off by two); the SPI and subtype
// still agree, and what it shows is a prefix of ours.
func TestTsharkAuthDataPrefix(t *testing.T) {
	tshark := testutil.RequireTool(t, "tshark")
	msg := BindingUpdate{Options: []Option{Authentication{Subtype: AuthSubtypeMNHA, SPI: 0x1234, Data: authData}}}
	file := filepath.Join(t.TempDir(), "auth.pcap")
	writePcap(t, file, [][]byte{mustBuild(t, Packet{Src: coa, Dst: haAddr, HomeAddress: hoa, Message: msg})})
	out, err := exec.Command(tshark, "-r", file, "-T", "fields", "-e", "mip6.auth.mobility_spi", "-e", "mip6.auth.auth_data").Output()
	if err != nil {
		t.Fatal(err)
	}
	cols := strings.Split(strings.TrimSpace(string(out)), "\t")
	if len(cols) != 2 || cols[0] != "4660" || len(cols[1]) < 16 || !strings.HasPrefix("c0c1c2c3c4c5c6c7c8c9cacb", cols[1]) {
		t.Errorf("tshark: %q", out)
	}
}
