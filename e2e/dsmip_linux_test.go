package e2e

import (
	"net/netip"
	"testing"
	"time"

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

func TestDSMIPv6BehindNAT(t *testing.T) {
	bin := binaries(t)
	tb := testbed.NewT(t, testbed.Options{})
	s, err := New(tb, bin, Settings{}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StartHA(); err != nil {
		t.Fatal(err)
	}
	if err := s.StartMR(); err != nil {
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
}
