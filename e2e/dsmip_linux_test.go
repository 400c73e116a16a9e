package e2e

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/internal/testutil"
	"github.com/nemo-mobility/nemo/testbed"
)

// trafficV4 checks inner IPv4 from the mobile network: ping and a 1 MB TCP
// transfer MNN→CN, content checked.
func trafficV4(t *testing.T, s *Scenario, where string) {
	t.Helper()
	pr, err := s.TB.Ping(testbed.NodeMNN, testbed.CN4.String(), 10, 50*time.Millisecond)
	if err != nil {
		t.Fatalf("%s: ping MNN→CN (IPv4): %v", where, err)
	}
	if pr.Received < 9 {
		s.dumpState(t)
		t.Fatalf("%s: ping MNN→CN (IPv4): %d of %d replies", where, pr.Received, pr.Sent)
	}
	tr, err := s.TB.TCPTransfer(testbed.NodeMNN, testbed.NodeCN, testbed.CN4.String(), 1<<20)
	if err != nil {
		t.Fatalf("%s: 1 MB TCP MNN→CN (IPv4): %v", where, err)
	}
	if tr.Peer.Addr() != testbed.MNN4 {
		t.Errorf("%s: CN saw the IPv4 transfer from %v, want %v", where, tr.Peer.Addr(), testbed.MNN4)
	}
	t.Logf("%s: IPv4 ping %d/%d; 1 MB TCP in %v", where, pr.Received, pr.Sent, tr.Duration)
}

// TestDSMIPv6BehindNAT: registration from an IPv4 care-of address behind
// the nftables NAT of FN1, data in UDP both ways, the options on the wire
// as tshark decodes them, recovery after the NAT forgets its mappings, and
// the DHCP lease given back when the mobile router stops.
func TestDSMIPv6BehindNAT(t *testing.T) {
	tshark := testutil.RequireTool(t, "tshark")
	testutil.RequireTool(t, "conntrack")
	bin := binaries(t)
	tb := testbed.NewT(t, testbed.Options{})
	s, err := New(tb, bin, Settings{NATKeepalive: "8s"}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StartHA(); err != nil {
		t.Fatal(err)
	}
	if err := s.StartMR(); err != nil {
		t.Fatal(err)
	}
	// The signalling as it crosses the internet, after the NAT.
	capt, err := tb.Capture(testbed.NodeCore, testbed.IfCoreAR1, "udp port 4191")
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.Uplink("fn1", true); err != nil {
		t.Fatal(err)
	}
	st, took, err := s.WaitState("registered", testbed.FN1Prefix4, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("FN1: registered from %v after %v: encap %s nat %v ipv4 home %v", st.Binding.CareOf, took, st.Binding.Encap, st.Binding.NATDetected, st.Binding.IPv4HomeAddress)
	if !st.Binding.NATDetected || st.Binding.Encap != "udp" {
		t.Fatalf("behind NAT: nat=%v encap=%s, want NAT detected and UDP encapsulation", st.Binding.NATDetected, st.Binding.Encap)
	}
	br, err := s.WaitBinding(netip.PrefixFrom(st.Binding.CareOf, 32), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	b := br.Bindings[0]
	if !b.NAT || b.UDP.Addr() != testbed.AR1Public4 || b.IPv4HomeAddress != testbed.MRHome4 {
		t.Fatalf("home agent binding %+v: want NAT via %v and IPv4 home address %v", b, testbed.AR1Public4, testbed.MRHome4)
	}
	traffic(t, s, "FN1 (NAT)", true)
	trafficV4(t, s, "FN1 (NAT)")

	// tshark decodes our BU and BA on UDP 4191 with the DSMIPv6 options
	// carrying the values we set.
	pcap, err := capt.Stop()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tshark, "-r", pcap, "-d", "udp.port==4191,ipv6", "-Y", "mip6.mhtype", "-T", "fields",
		"-E", "separator=|", "-e", "mip6.mhtype", "-e", "mip6.ipv4coa.addr", "-e", "mip6.ipv4ha.ha", "-e", "mip6.ipv4ha.p_flag",
		"-e", "mip6.natd.refresh_t", "-e", "mip6.natd.f_flag", "-e", "mip6.ipv4aa.sts", "-e", "mip6.nemo.bu.r_flag").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	var sawBU, sawBA bool
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(l, "|")
		if len(f) < 8 {
			continue
		}
		switch f[0] {
		case "5": // BU: IPv4 CoA option = the private care-of address, IPv4 HoA options
			if f[1] == st.Binding.CareOf.String() && strings.Contains(f[2], testbed.MRHome4.String()) && strings.Contains(f[2], testbed.MNP4.Addr().String()) {
				sawBU = true
			}
		case "6": // BA: NAT Detection with our refresh time, IPv4 Address Acks with status 0
			if f[4] == "8" && strings.HasPrefix(f[6], "0") {
				sawBA = true
			}
		}
	}
	if !sawBU || !sawBA {
		t.Fatalf("tshark did not decode the expected BU (%v) and BA (%v) on UDP 4191:\n%s", sawBU, sawBA, out)
	}

	// The NAT forgets every mapping while traffic flows: traffic must come
	// back by itself, at the latest with the next keepalive (8 s here).
	wait := s.PingStream(testbed.CN6, 300)
	time.Sleep(2 * time.Second)
	if out, err := tb.Exec(testbed.NodeAR1, "conntrack", "-F"); err != nil {
		t.Fatalf("conntrack -F: %v: %s", err, out)
	}
	pr, err := wait()
	if err != nil {
		t.Fatal(err)
	}
	gap := time.Duration(pr.LongestLossRun) * PingInterval
	t.Logf("conntrack flushed on the NAT: %d/%d pings answered, longest gap %v", pr.Received, pr.Sent, gap)
	if lost := pr.Sent - pr.Received; pr.Received < pr.Sent/2 || lost > 8*20 {
		t.Fatalf("traffic did not recover after the NAT flush: %d/%d", pr.Received, pr.Sent)
	}
	traffic(t, s, "FN1 after the NAT flush", true)

	// Stopping the mobile router gives the lease back (dnsmasq's file).
	if ips, _ := tb.LeaseIPs(testbed.NodeAR1); !containsAddr(ips, st.Binding.CareOf) {
		t.Fatalf("lease %v not in dnsmasq's lease file before the stop: %v", st.Binding.CareOf, ips)
	}
	if err := s.MRProc.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := tb.WaitFor(func() bool { ips, _ := tb.LeaseIPs(testbed.NodeAR1); return !containsAddr(ips, st.Binding.CareOf) }, 5*time.Second); err != nil {
		ips, _ := tb.LeaseIPs(testbed.NodeAR1)
		t.Fatalf("the lease was not released: dnsmasq still lists %v", ips)
	}
	t.Logf("mobile router stopped: lease %v released (gone from dnsmasq's lease file)", st.Binding.CareOf)
}

func containsAddr(as []netip.Addr, a netip.Addr) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}
