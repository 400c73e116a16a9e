// Command soak is `make soak DURATION=1h`: it builds the namespace testbed,
// runs the real ha and mrouter in it and moves the mobile router every 30 s
// (home → FN2 → FN3 → home …) with a ping stream across each move and a
// 1 MB TCP transfer after it. Every sample it prints, for both daemons,
// their goroutines and live heap (from their status), threads, open file
// descriptors and RSS, and the kernel objects of their
// namespaces (links, rules, routes, global addresses, proxy neighbour
// entries). At the end it prints the first and last samples side by side
// and exits 1 if a move failed or a figure grew. It needs root and the
// testbed's tools.
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nemo-mobility/nemo/e2e"
	"github.com/nemo-mobility/nemo/testbed"
)

func main() {
	duration := flag.Duration("duration", time.Hour, "how long to run")
	every := flag.Duration("every", 30*time.Second, "time between moves")
	dataplane := flag.String("dataplane", "userspace", "data plane: userspace, kernel or auto")
	verbose := flag.Bool("v", false, "log every testbed step")
	flag.Parse()
	if err := run(*duration, *every, *dataplane, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "soak failed:", err)
		os.Exit(1)
	}
}

// sample is one reading of the figures.
type sample struct {
	at      time.Duration
	moves   int
	failed  int
	maxGap  time.Duration
	figures map[string]int // name → value
}

// order of the figures in the table.
var order = []string{
	"mr.goroutines", "mr.heap_kb", "mr.threads", "mr.fds", "mr.rss_kb",
	"ha.goroutines", "ha.heap_kb", "ha.threads", "ha.fds", "ha.rss_kb",
	"mr.links", "mr.rules", "mr.routes", "mr.addrs", "ha.links", "ha.rules", "ha.routes", "ha.proxy",
}

func run(duration, every time.Duration, dataplane string, verbose bool) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the soak builds network namespaces: run it as root")
	}
	for _, tool := range testbed.RequiredTools {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is not installed (make deps)", tool)
		}
	}
	dir, err := os.MkdirTemp("", "nemo-soak-")
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
	tb, err := testbed.New(testbed.Options{Uplinks: []string{"home"}, Logf: logf, HandleSignals: true, RunDir: dir + "/run"})
	if err != nil {
		return err
	}
	defer tb.Close()
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
	type move struct {
		name     string
		up, down []string
		state    string
		coa      netip.Prefix
	}
	moves := []move{
		{"home→FN2", []string{"fn2"}, []string{"home"}, "registered", testbed.FN2Prefix6},
		{"FN2→FN3", []string{"fn3"}, []string{"fn2"}, "registered", testbed.FN3Prefix6},
		{"FN3→home", []string{"home"}, []string{"fn3"}, "at home", netip.Prefix{}},
	}
	fmt.Printf("soak: %v, a move every %v, data plane %s; figures after each move\n", duration, every, dataplane)
	// Fixed-width columns: the table is printed a line at a time.
	fmt.Printf("%8s %5s %6s %8s", "elapsed", "moves", "failed", "max_gap")
	for _, k := range order {
		fmt.Printf(" %*s", len(k), k)
	}
	fmt.Println()
	var samples []sample
	start := time.Now()
	cur := sample{}
	for i := 0; ; i++ {
		smp, err := measure(s)
		if err != nil {
			return err
		}
		smp.at, smp.moves, smp.failed, smp.maxGap = time.Since(start).Round(time.Second), cur.moves, cur.failed, cur.maxGap
		samples = append(samples, smp)
		fmt.Printf("%8v %5d %6d %8v", smp.at, smp.moves, smp.failed, smp.maxGap.Round(10*time.Millisecond))
		for _, k := range order {
			fmt.Printf(" %*d", len(k), smp.figures[k])
		}
		fmt.Println()
		if time.Since(start) >= duration {
			break
		}
		next := time.Now().Add(every)
		m := moves[i%len(moves)]
		r, err := s.Move(m.name, m.up, m.down, m.state, m.coa, testbed.CN6)
		cur.moves++
		if err != nil {
			cur.failed++
			fmt.Printf("move %s failed: %v\n", m.name, err)
		} else {
			cur.maxGap = max(cur.maxGap, r.Gap)
			if tr, err := tb.TCPTransfer(testbed.NodeMNN, testbed.NodeCN, testbed.CN6.String(), 1<<20); err != nil || tr.Bytes != 1<<20 {
				cur.failed++
				fmt.Printf("after %s: 1 MB TCP failed: %v\n", m.name, err)
			}
		}
		time.Sleep(time.Until(next))
	}
	// Kernel objects differ between home and away: the last sample is
	// compared with the first one taken at the same point of the cycle
	// after a first full cycle of warm-up (the mobile router opens its
	// per-uplink sockets the first time each uplink comes up).
	last := samples[len(samples)-1]
	first := samples[0]
	for _, smp := range samples {
		if smp.moves >= len(moves) && smp.moves%len(moves) == last.moves%len(moves) {
			first = smp
			break
		}
	}
	fmt.Printf("\nfirst and last samples at the same point of the move cycle, after a warm-up cycle (after %d and %d moves):\n", first.moves, last.moves)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "figure\tstart (%v)\tend (%v)\n", first.at, last.at)
	grew := false
	for _, k := range order {
		mark := ""
		// RSS and the live heap move with the garbage collector and the Go
		// runtime keeps the threads it made: those are reported, not
		// judged. Goroutines, file descriptors and kernel objects must not
		// grow.
		if !strings.HasSuffix(k, "rss_kb") && !strings.HasSuffix(k, "heap_kb") && !strings.HasSuffix(k, "threads") && last.figures[k] > first.figures[k] {
			mark, grew = "  GREW", true
		}
		fmt.Fprintf(tw, "%s\t%d\t%d%s\n", k, first.figures[k], last.figures[k], mark)
	}
	tw.Flush()
	fmt.Printf("moves %d, failed %d, longest traffic gap %v\n", last.moves, last.failed, last.maxGap)
	if last.failed > 0 || grew {
		return fmt.Errorf("%d failed moves; figures grew: %v", last.failed, grew)
	}
	return nil
}

// measure reads the daemons' process figures and the kernel objects of the
// MR and HA namespaces.
func measure(s *e2e.Scenario) (sample, error) {
	f := map[string]int{}
	for name, p := range map[string]*testbed.Proc{"mr": s.MRProc, "ha": s.HAProc} {
		th, rss, err := procStatus(p.Pid())
		if err != nil {
			return sample{}, err
		}
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.Pid()))
		if err != nil {
			return sample{}, err
		}
		f[name+".threads"], f[name+".rss_kb"], f[name+".fds"] = th, rss, len(fds)
	}
	st, err := s.Status()
	if err != nil {
		return sample{}, err
	}
	bs, err := s.Bindings()
	if err != nil {
		return sample{}, err
	}
	f["mr.goroutines"], f["mr.heap_kb"] = st.Runtime.Goroutines, int(st.Runtime.HeapLiveBytes/1024)
	f["ha.goroutines"], f["ha.heap_kb"] = bs.Runtime.Goroutines, int(bs.Runtime.HeapLiveBytes/1024)
	count := func(node string, args ...string) (int, error) {
		out, err := s.TB.IP(node, args...)
		if err != nil {
			return 0, err
		}
		n := 0
		for _, l := range strings.Split(out, "\n") {
			if strings.TrimSpace(l) != "" {
				n++
			}
		}
		return n, nil
	}
	for _, c := range []struct {
		key, node string
		args      [][]string
	}{
		{"mr.links", testbed.NodeMR, [][]string{{"-o", "link", "show"}}},
		{"mr.rules", testbed.NodeMR, [][]string{{"-6", "rule", "show"}, {"-4", "rule", "show"}}},
		{"mr.routes", testbed.NodeMR, [][]string{{"-6", "route", "show", "table", "all"}, {"-4", "route", "show", "table", "all"}}},
		{"mr.addrs", testbed.NodeMR, [][]string{{"-o", "addr", "show", "scope", "global"}}},
		{"ha.links", testbed.NodeHA, [][]string{{"-o", "link", "show"}}},
		{"ha.rules", testbed.NodeHA, [][]string{{"-6", "rule", "show"}, {"-4", "rule", "show"}}},
		{"ha.routes", testbed.NodeHA, [][]string{{"-6", "route", "show", "table", "all"}, {"-4", "route", "show", "table", "all"}}},
		{"ha.proxy", testbed.NodeHA, [][]string{{"-6", "neigh", "show", "proxy"}, {"-4", "neigh", "show", "proxy"}}},
	} {
		for _, a := range c.args {
			n, err := count(c.node, a...)
			if err != nil {
				return sample{}, err
			}
			f[c.key] += n
		}
	}
	return sample{figures: f}, nil
}

// procStatus reads Threads and VmRSS (kB) from /proc/<pid>/status.
func procStatus(pid int) (threads, rssKB int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.Atoi(fields[0])
		switch k {
		case "Threads":
			threads = n
		case "VmRSS":
			rssKB = n
		}
	}
	return threads, rssKB, nil
}
