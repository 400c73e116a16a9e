// Command demo is `make demo`: it builds the namespace testbed, runs the
// real ha and mrouter in it, moves the mobile router between its uplinks
// while the mobile network node pings the correspondent, shows the status
// tables after every move, prints the figures, and removes everything,
// also on Ctrl-C or failure. It needs root and the testbed's tools (radvd,
// dnsmasq, nftables, iproute2).
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nemo-mobility/nemo/e2e"
	"github.com/nemo-mobility/nemo/internal/mrd"
	"github.com/nemo-mobility/nemo/testbed"
)

func main() {
	verbose := flag.Bool("v", false, "log every testbed step")
	dataplane := flag.String("dataplane", "userspace", "data plane: userspace, kernel or auto")
	flag.Parse()
	if err := run(*verbose, *dataplane); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func say(format string, args ...any) {
	fmt.Printf("\n\033[1m== "+format+"\033[0m\n", args...)
}

func run(verbose bool, dataplane string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the demo builds network namespaces: run it as root")
	}
	for _, tool := range testbed.RequiredTools {
		if _, err := lookPath(tool); err != nil {
			return fmt.Errorf("%s is not installed (run .ci/run, or apt-get install radvd dnsmasq nftables iproute2 procps)", tool)
		}
	}
	say("building mrouter and ha")
	dir, err := os.MkdirTemp("", "nemo-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := e2e.Build(dir)
	if err != nil {
		return err
	}
	logf := func(string, ...any) {}
	if verbose {
		logf = func(f string, a ...any) { fmt.Printf("   "+f+"\n", a...) }
	}
	say("building the testbed (CN, CORE, home link with HA, AR1/FN1 v4+NAT, AR2/FN2 v6, AR3/FN3 dual stack, MR, MNN)")
	tb, err := testbed.New(testbed.Options{Uplinks: []string{"home"}, Logf: logf, HandleSignals: true, RunDir: dir + "/run"})
	if err != nil {
		return err
	}
	defer func() {
		say("tearing down: daemons stop, namespaces go")
		tb.Close()
	}()
	s, err := e2e.New(tb, bin, e2e.Settings{Dataplane: dataplane}, logf)
	if err != nil {
		return err
	}
	if err := s.StartHA(); err != nil {
		return err
	}
	if err := s.StartMR(); err != nil {
		return err
	}
	if _, _, err := s.WaitState("at home", netip.Prefix{}, 15*time.Second); err != nil {
		return err
	}
	say("the mobile router is at home")
	fmt.Print(s.StatusTable())
	pr, err := tb.Ping(testbed.NodeMNN, testbed.CN6.String(), 5, 100*time.Millisecond)
	if err != nil {
		return err
	}
	fmt.Printf("ping MNN %v → CN %v: %d/%d replies\n", testbed.MNN6, testbed.CN6, pr.Received, pr.Sent)

	type move struct {
		name     string
		up, down []string
		state    string
		coa      netip.Prefix
		mbb      bool
	}
	// The moves of TESTBED.md (FN2 → FN1 → FN3 → home → FN2), plus a
	// make-before-break switch: FN3 → FN2 with FN2 registered before FN3
	// goes (FN2 has the higher priority).
	moves := []move{
		{"home → FN2 (IPv6 only)", []string{"fn2"}, []string{"home"}, "registered", testbed.FN2Prefix6, false},
		{"FN2 → FN1 (IPv4 behind NAT)", []string{"fn1"}, []string{"fn2"}, "registered", testbed.FN1Prefix4, false},
		{"FN1 → FN3 (dual stack)", []string{"fn3"}, []string{"fn1"}, "registered", testbed.FN3Prefix6, false},
		{"FN3 → FN2 (make before break)", []string{"fn2"}, []string{"fn3"}, "registered", testbed.FN2Prefix6, true},
		{"FN2 → home", []string{"home"}, []string{"fn2"}, "at home", netip.Prefix{}, false},
		{"home → FN2 again", []string{"fn2"}, []string{"home"}, "registered", testbed.FN2Prefix6, false},
	}
	var results []e2e.MoveResult
	for _, m := range moves {
		say("move %s, with a 20/s ping from MNN to CN running", m.name)
		var r e2e.MoveResult
		var err error
		if m.mbb {
			r, err = s.MoveBeforeBreak(m.name, m.up, m.down, m.coa, testbed.CN6)
		} else {
			r, err = s.Move(m.name, m.up, m.down, m.state, m.coa, testbed.CN6)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		results = append(results, r)
		fmt.Print(s.StatusTable())
		fmt.Println()
		fmt.Print(s.BindingsTable())
		fmt.Printf("ping stream: %d/%d replies, longest gap %v\n", r.Ping.Received, r.Ping.Sent, r.Gap)
		p4, err := tb.Ping(testbed.NodeMNN, testbed.CN4.String(), 5, 100*time.Millisecond)
		if err != nil {
			return err
		}
		fmt.Printf("IPv4 from the mobile network too: ping MNN %v → CN %v: %d/%d replies\n", testbed.MNN4, testbed.CN4, p4.Received, p4.Sent)
	}
	say("figures")
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MOVE\tCARE-OF ADDRESS\tUSABLE→BU\tUSABLE→BA\tUPLINK CHANGE→STATE\tPING LOST\tLONGEST GAP")
	for _, r := range results {
		coa, bu, ba := "-", "-", "-"
		if h := r.Handover; h != nil {
			coa, bu, ba = h.CareOf.String(), round(h.ToBUNs), round(h.ToBANs)
			if h.Start == mrd.HandoverFromLeftHome {
				bu, ba = bu+" (h)", ba+" (h)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%d/%d\t%v\n", r.Name, coa, bu, ba, r.Took.Round(time.Millisecond), r.Ping.Sent-r.Ping.Received, r.Ping.Sent, r.Gap)
	}
	tw.Flush()
	fmt.Println(strings.TrimSpace(`
USABLE→BA on a first registration includes the home agent's 1 s duplicate
address detection for the home address (RFC 6275 10.3.1); on a move with a
binding in place it is one round trip. (h): leaving home, the figures start
when the home link is lost (the router stays at home while it works, even
with a care-of address usable). On FN1 the gap is dominated by the DHCPv4
exchange after the uplink comes up (the care-of address is usable only with
the lease, and dnsmasq first pings a new address for 3 s before offering
it: RFC 2131 4.4.1 says a server should probe); the make-before-break switch
keeps the old tunnel until the new binding is acknowledged.`))
	return nil
}

func round(ns int64) string { return time.Duration(ns).Round(10 * time.Microsecond).String() }
