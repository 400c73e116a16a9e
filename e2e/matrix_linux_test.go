package e2e

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/testbed"
)

// cell is one outer path of the TESTBED.md matrix.
type cell struct {
	outer    string   // home, v6, v4, v4nat
	up, down []string // uplink changes that bring the router there
	state    string
	coa      netip.Prefix
	encap    string
	nat      bool
}

// TestMatrix walks the whole matrix of TESTBED.md in one testbed:
// inner IPv6 and IPv4 traffic (ping and a 1 MB TCP transfer, content
// checked) × at home, from an IPv6 care-of address (FN2), from an IPv4
// care-of address without NAT (FN3, IPv6 off on that uplink) and from
// behind NAT (FN1), with the moves home → FN2 → FN1 → FN3 → home → FN2.
// Every cell checks both status tables and that NAT is detected exactly
// behind the NAT. It prints one line per cell:
//
//	matrix inner=<v4|v6> outer=<home|v6|v4|v4nat>: pass|fail: reason
func TestMatrix(t *testing.T) {
	bin := binaries(t)
	tb := testbed.NewT(t, testbed.Options{Uplinks: []string{"home"}})
	s, err := New(tb, bin, Settings{FN3IPv4Only: true}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StartHA(); err != nil {
		t.Fatal(err)
	}
	if err := s.StartMR(); err != nil {
		t.Fatal(err)
	}
	cells := []cell{
		{outer: "home", state: "at home", encap: "none"},
		{outer: "v6", up: []string{"fn2"}, down: []string{"home"}, state: "registered", coa: testbed.FN2Prefix6, encap: "ip6ip6"},
		{outer: "v4nat", up: []string{"fn1"}, down: []string{"fn2"}, state: "registered", coa: testbed.FN1Prefix4, encap: "udp", nat: true},
		{outer: "v4", up: []string{"fn3"}, down: []string{"fn1"}, state: "registered", coa: testbed.FN3Prefix4, encap: "ip6ip4"},
		{outer: "home", up: []string{"home"}, down: []string{"fn3"}, state: "at home", encap: "none"},
		{outer: "v6", up: []string{"fn2"}, down: []string{"home"}, state: "registered", coa: testbed.FN2Prefix6, encap: "ip6ip6"},
	}
	var lines []string
	seen := map[string]bool{}
	report := func(inner, outer string, err error) {
		line := fmt.Sprintf("matrix inner=%s outer=%s: pass", inner, outer)
		if err != nil {
			line = fmt.Sprintf("matrix inner=%s outer=%s: fail: %v", inner, outer, err)
			t.Error(line)
		}
		if !seen[inner+outer] || err != nil {
			lines = append(lines, line)
		}
		seen[inner+outer] = true
	}
	defer func() {
		// One line per cell, for the reader of the CI log.
		fmt.Println(strings.Join(lines, "\n"))
	}()
	for i, c := range cells {
		name := c.outer
		if i > 0 {
			name = fmt.Sprintf("%s (move %d)", c.outer, i)
		}
		r, err := s.Move(name, c.up, c.down, c.state, c.coa, testbed.CN6)
		if err == nil {
			err = checkCell(s, c, r)
		}
		if err != nil {
			report("v6", c.outer, err)
			report("v4", c.outer, err)
			t.Fatalf("cell %s: %v", c.outer, err)
		}
		if r.Handover != nil {
			t.Logf("move to %s: care-of %v, from %s: BU %s, BA %s; ping gap %v (%d/%d)", c.outer, r.Handover.CareOf,
				r.Handover.Start, r.Handover.ToBU, r.Handover.ToBA, r.Gap, r.Ping.Received, r.Ping.Sent)
		} else {
			t.Logf("move to %s: state after %v; ping gap %v (%d/%d)", c.outer, r.Took, r.Gap, r.Ping.Received, r.Ping.Sent)
		}
		report("v6", c.outer, cellTraffic(s, testbed.CN6, testbed.MNN6, c.outer != "home"))
		report("v4", c.outer, cellTraffic(s, testbed.CN4, testbed.MNN4, c.outer != "home"))
	}
}

// checkCell compares both status tables with what the cell expects.
func checkCell(s *Scenario, c cell, r MoveResult) error {
	st := r.Status.Binding
	if st.Encap != c.encap {
		return fmt.Errorf("mobile router encapsulation %s, want %s", st.Encap, c.encap)
	}
	if st.NATDetected != c.nat {
		return fmt.Errorf("mobile router NAT detected = %v, want %v", st.NATDetected, c.nat)
	}
	br, err := s.Bindings()
	if err != nil {
		return err
	}
	var valid []BindingRowView
	for _, b := range br.Bindings {
		if b.State == "valid" {
			valid = append(valid, BindingRowView{b.CareOf, b.NAT, b.Encap, b.IPv4HomeAddress})
		}
	}
	if c.outer == "home" {
		if len(valid) != 0 {
			return fmt.Errorf("home agent still holds a valid binding at home: %+v", valid)
		}
		return nil
	}
	if len(valid) != 1 {
		return fmt.Errorf("home agent holds %d valid bindings, want 1", len(valid))
	}
	b := valid[0]
	if b.CareOf != st.CareOf || !c.coa.Contains(b.CareOf) || b.NAT != c.nat || b.Encap != c.encap {
		return fmt.Errorf("home agent binding %+v, mobile router care-of %v; want care-of in %v, nat %v, encap %s", b, st.CareOf, c.coa, c.nat, c.encap)
	}
	if b.IPv4HomeAddress != testbed.MRHome4 {
		return fmt.Errorf("home agent binding has IPv4 home address %v, want %v", b.IPv4HomeAddress, testbed.MRHome4)
	}
	return nil
}

// BindingRowView is the part of a binding a cell compares.
type BindingRowView struct {
	CareOf          netip.Addr
	NAT             bool
	Encap           string
	IPv4HomeAddress netip.Addr
}

// cellTraffic: ping and a 1 MB content-checked TCP transfer MNN→CN to dst
// (the family of the cell); away from home, the home agent's tunnel must
// carry it both ways.
func cellTraffic(s *Scenario, dst, src netip.Addr, viaTunnel bool) error {
	var before [2]uint64
	if viaTunnel {
		tx, rx, err := s.tunnelCounters()
		if err != nil {
			return err
		}
		before = [2]uint64{tx, rx}
	}
	pr, err := s.TB.Ping(testbed.NodeMNN, dst.String(), 10, 50*time.Millisecond)
	if err != nil {
		return fmt.Errorf("ping: %v", err)
	}
	if pr.Received < 9 {
		return fmt.Errorf("ping: %d of %d replies", pr.Received, pr.Sent)
	}
	tr, err := s.TB.TCPTransfer(testbed.NodeMNN, testbed.NodeCN, dst.String(), 1<<20)
	if err != nil {
		return fmt.Errorf("1 MB TCP: %v", err)
	}
	if tr.Peer.Addr() != src {
		return fmt.Errorf("CN saw the transfer from %v, want %v", tr.Peer.Addr(), src)
	}
	if viaTunnel {
		tx, rx, err := s.tunnelCounters()
		if err != nil {
			return err
		}
		if rx-before[1] < 10 || tx-before[0] < 10 {
			return fmt.Errorf("the home agent's tunnel did not carry the traffic: tx +%d rx +%d", tx-before[0], rx-before[1])
		}
	}
	return nil
}

func (s *Scenario) tunnelCounters() (tx, rx uint64, err error) {
	r, err := s.Bindings()
	if err != nil {
		return 0, 0, err
	}
	for _, b := range r.Bindings {
		if b.HomeAddress == testbed.MRHome6 && b.State == "valid" {
			return b.TxPackets, b.RxPackets, nil
		}
	}
	return 0, 0, fmt.Errorf("no valid binding for %v", testbed.MRHome6)
}
