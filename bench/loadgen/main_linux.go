package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/nemo-mobility/nemo/transport"
)

// opts are the command-line settings.
type opts struct {
	haBin           string
	n, window       int
	prefixes        int
	lifetime        time.Duration
	refreshLifetime time.Duration
	refreshFor      time.Duration
	moves, dad      int
	timeout         time.Duration
	jsonOut, logDir string
	skipRestart     bool
	scaleOnly       bool
	configOnly      bool
}

// report is everything measured.
type report struct {
	N               int           `json:"n"`
	ConfigBytes     int64         `json:"config_bytes"`
	ConfigCheck     time.Duration `json:"config_check_ns"`
	StartEmpty      time.Duration `json:"startup_ns"`
	RSSZero         int64         `json:"rss_zero_kib"`
	RSSFull         int64         `json:"rss_full_kib"`
	HeapZero        uint64        `json:"heap_live_zero_bytes"`
	HeapFull        uint64        `json:"heap_live_full_bytes"`
	GoroutinesZero  int           `json:"goroutines_zero"`
	GoroutinesFull  int           `json:"goroutines_full"`
	Held            int           `json:"bindings_held"`
	StateBytes      int64         `json:"state_bytes"`
	StartSaved      time.Duration `json:"startup_saved_ns"`
	RSSRestored     int64         `json:"rss_restored_kib"`
	HeldRestored    int           `json:"bindings_restored"`
	Phases          []phaseResult `json:"phases"`
	RefreshRate     float64       `json:"refresh_per_s"`
	RefreshHACPUPct float64       `json:"refresh_ha_cpu_pct"`
}

func main() {
	var o opts
	flag.StringVar(&o.haBin, "ha", "bin/ha", "the ha `binary`")
	flag.IntVar(&o.n, "n", 10000, "mobile routers")
	flag.IntVar(&o.window, "window", 32, "outstanding BUs in the closed-loop phases")
	flag.IntVar(&o.prefixes, "prefixes", 1, "mobile network prefixes per router (0 or 1)")
	flag.DurationVar(&o.lifetime, "lifetime", 20*time.Minute, "lifetime of the registrations")
	flag.DurationVar(&o.refreshLifetime, "refresh-lifetime", 60*time.Second, "lifetime whose refreshes the steady phase plays (rate n/lifetime)")
	flag.DurationVar(&o.refreshFor, "refresh-for", 10*time.Second, "length of the steady refresh phase")
	flag.IntVar(&o.moves, "moves", 5000, "routers that move to a new care-of address")
	flag.IntVar(&o.dad, "dad", 5, "first registrations measured with DAD on (one at a time)")
	flag.DurationVar(&o.timeout, "timeout", 3*time.Second, "a BU unanswered this long is lost")
	flag.StringVar(&o.jsonOut, "json", "", "also write the figures to this `file`")
	flag.StringVar(&o.logDir, "dir", "", "working `directory` (config, state, log); default a temporary one")
	flag.BoolVar(&o.skipRestart, "no-restart", false, "skip the restart with saved state")
	flag.BoolVar(&o.configOnly, "config-only", false, "only write ha.toml and time `ha config check`")
	flag.BoolVar(&o.scaleOnly, "scale", false, "only register all, measure RSS, restart with the saved state")
	flag.Parse()
	if err := runBench(o); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// ha is one running home agent.
type ha struct {
	cmd  *exec.Cmd
	sock string
	log  *os.File
}

func startHA(bin, ns, cfg, sock, logPath string) (*ha, time.Duration, error) {
	_ = os.Remove(sock)
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, 0, err
	}
	cmd := exec.Command("ip", "netns", "exec", ns, bin, "run", "-c", cfg)
	cmd.Stdout, cmd.Stderr = lf, lf
	start := time.Now()
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, 0, err
	}
	h := &ha{cmd: cmd, sock: sock, log: lf}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return h, time.Since(start), nil
		}
		select {
		case <-exited:
			lf.Close()
			return nil, 0, fmt.Errorf("ha exited at start; see %s", logPath)
		case <-time.After(2 * time.Millisecond):
		}
		if time.Since(start) > 10*time.Minute {
			h.stop()
			return nil, 0, errors.New("ha did not open its control socket in 10 minutes")
		}
	}
}

// stop sends SIGTERM (the home agent saves its cache and cleans up) and
// waits.
func (h *ha) stop() {
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for h.cmd.ProcessState == nil {
			if err := syscall.Kill(h.cmd.Process.Pid, 0); err != nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		_ = h.cmd.Process.Kill()
	}
	h.log.Close()
}

func (h *ha) pid() int { return h.cmd.Process.Pid }

// haRuntime is what the home agent's status says of its process: the
// heap live at its last collection, and its goroutines.
type haRuntime struct {
	Goroutines    int    `json:"goroutines"`
	HeapLiveBytes uint64 `json:"heap_live_bytes"`
}

// bindings asks the running ha how many bindings it holds (the real CLI),
// and its runtime figures.
func (h *ha) bindings(bin string) (int, haRuntime, error) {
	out, err := exec.Command(bin, "bindings", "--json", "-s", h.sock).Output()
	if err != nil {
		return 0, haRuntime{}, fmt.Errorf("ha bindings: %w", err)
	}
	var r struct {
		Bindings []struct {
			State string `json:"state"`
		} `json:"bindings"`
		Runtime haRuntime `json:"runtime"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return 0, haRuntime{}, err
	}
	n := 0
	for _, b := range r.Bindings {
		if b.State == "valid" {
			n++
		}
	}
	return n, r.Runtime, nil
}

func runBench(o opts) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (network namespaces, raw sockets)")
	}
	bin, err := filepath.Abs(o.haBin)
	if err != nil {
		return err
	}
	dir := o.logDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "loadgen-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	t, err := newTopo()
	if err != nil {
		return err
	}
	defer t.Close()
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	var cur atomic.Pointer[ha]
	go func() {
		<-sigc
		if h := cur.Load(); h != nil {
			_ = h.cmd.Process.Kill()
		}
		t.Close()
		os.Exit(1)
	}()

	rep := report{N: o.n}
	hc := haConfig{n: o.n, prefixes: o.prefixes, stateDir: filepath.Join(dir, "state"), sock: filepath.Join(dir, "ha.sock"),
		logLevel: "warn", maxLife: "6h", rateTotal: 10_000_000, rate: 20}
	cfgPath := filepath.Join(dir, "ha.toml")
	if err := os.WriteFile(cfgPath, hc.render(), 0o600); err != nil {
		return err
	}
	if fi, err := os.Stat(cfgPath); err == nil {
		rep.ConfigBytes = fi.Size()
	}
	start := time.Now()
	if out, err := exec.Command(bin, "config", "check", "-c", cfgPath).CombinedOutput(); err != nil {
		return fmt.Errorf("config check: %v: %s", err, out)
	}
	rep.ConfigCheck = time.Since(start)
	fmt.Printf("# loadgen: %d routers, config %d bytes (config check %v)\n", o.n, rep.ConfigBytes, rep.ConfigCheck.Round(time.Millisecond))
	if o.configOnly {
		return nil
	}

	// The load generator's sockets live in its namespace.
	g, err := newGen(o.n)
	if err != nil {
		return err
	}
	lgns, err := netns.GetFromName(t.lgNS)
	if err != nil {
		return err
	}
	defer lgns.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err = transport.InNetNS(lgns, func() error {
		var err error
		if g.sender, err = transport.OpenSender(transport.SenderConfig{}); err != nil {
			return err
		}
		g.sig, err = transport.ListenSignal(ctx, transport.SignalConfig{Queue: 8192})
		return err
	})
	if err != nil {
		return err
	}
	defer g.sender.Close()
	defer g.sig.Close()
	go g.receive(ctx)

	logPath := filepath.Join(dir, "ha.log")
	h, took, err := startHA(bin, t.haNS, cfgPath, hc.sock, logPath)
	if err != nil {
		return err
	}
	defer func() {
		if h != nil {
			h.stop()
		}
	}()
	cur.Store(h)
	rep.StartEmpty = took
	time.Sleep(500 * time.Millisecond) // let the start-up garbage go
	rep.RSSZero = rss(h.pid())
	if _, rt, err := h.bindings(bin); err == nil {
		rep.HeapZero, rep.GoroutinesZero = rt.HeapLiveBytes, rt.Goroutines
	}
	fmt.Printf("# ha started in %v, VmRSS %d KiB with 0 bindings\n", took.Round(time.Millisecond), rep.RSSZero)

	all := make([]int, o.n)
	for i := range all {
		all[i] = i
	}
	add := func(r phaseResult) {
		rep.Phases = append(rep.Phases, r)
		fmt.Println(r)
	}
	fmt.Println(phaseHeader)
	full := g.phase("register (full rate)", all, o.lifetime, o.window, 0, o.timeout, h.pid())
	add(full)
	if !o.scaleOnly {
		add(g.phase("deregister", all, 0, o.window, 0, o.timeout, h.pid()))
		half := max(full.Rate/2, 1)
		add(g.phase("register (half rate)", all, o.lifetime, 0, half, o.timeout, h.pid()))
	}
	time.Sleep(3 * time.Second) // the unsolicited NAs end 2 s after a registration
	rep.RSSFull = rss(h.pid())
	var rt haRuntime
	if rep.Held, rt, err = h.bindings(bin); err != nil {
		return err
	}
	rep.HeapFull, rep.GoroutinesFull = rt.HeapLiveBytes, rt.Goroutines
	if o.scaleOnly {
		o.moves, o.dad, o.refreshFor = 0, 0, 0
	}
	// Steady refreshes: n/refreshLifetime per second, for refreshFor.
	rate := float64(o.n) / o.refreshLifetime.Seconds()
	if cnt := min(o.n, int(rate*o.refreshFor.Seconds())); cnt > 0 {
		r := g.phase("refresh (steady)", all[:cnt], o.lifetime, 0, rate, o.timeout, h.pid())
		add(r)
		rep.RefreshRate = rate
		if r.Elapsed > 0 {
			rep.RefreshHACPUPct = 100 * r.HACPU.Seconds() / r.Elapsed.Seconds()
		}
	}
	if mv := all[:min(o.moves, o.n)]; len(mv) > 0 {
		for _, i := range mv {
			g.routers[i].gen++
		}
		add(g.phase("move (new CoA)", mv, o.lifetime, o.window, 0, o.timeout, h.pid()))
	}

	if !o.skipRestart {
		h.stop()
		h = nil
		// The snapshot and any journal left (the home agent compacts
		// them into one snapshot at exit).
		if ents, err := os.ReadDir(hc.stateDir); err == nil {
			for _, e := range ents {
				if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
					rep.StateBytes += fi.Size()
				}
			}
		}
		h2, took, err := startHA(bin, t.haNS, cfgPath, hc.sock, logPath)
		if err != nil {
			return err
		}
		h = h2
		cur.Store(h)
		rep.StartSaved = took
		time.Sleep(time.Second)
		rep.RSSRestored = rss(h.pid())
		if rep.HeldRestored, _, err = h.bindings(bin); err != nil {
			return err
		}
	}
	if !o.scaleOnly {
		add(g.phase("deregister (all)", all, 0, o.window, 0, o.timeout, h.pid()))
	}

	// First registrations with DAD on, one at a time.
	if o.dad > 0 {
		h.stop()
		h = nil
		hc.dad = true
		if err := os.WriteFile(cfgPath, hc.render(), 0o600); err != nil {
			return err
		}
		if h, _, err = startHA(bin, t.haNS, cfgPath, hc.sock, logPath); err != nil {
			return err
		}
		cur.Store(h)
		var ds []phaseResult
		for k := range min(o.dad, o.n) {
			ds = append(ds, g.phase("register with DAD", all[k:k+1], o.lifetime, 1, 0, o.timeout, h.pid()))
		}
		add(mergeSerial("register with DAD", ds))
	}
	printSummary(rep)
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(o.jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// mergeSerial folds one-BU phases into one row (latencies: p50 and max of
// the single latencies).
func mergeSerial(name string, ps []phaseResult) phaseResult {
	m := phaseResult{Name: name, Window: 1}
	var lat []time.Duration
	for _, p := range ps {
		m.Sent += p.Sent
		m.Answered += p.Answered
		m.Refused += p.Refused
		m.Lost += p.Lost
		m.Elapsed += p.Elapsed
		m.HACPU += p.HACPU
		m.GenCPU += p.GenCPU
		if p.Answered > 0 {
			lat = append(lat, p.P50)
		}
	}
	if m.Elapsed > 0 {
		m.Rate = float64(m.Answered) / m.Elapsed.Seconds()
	}
	m.P50, m.P99, m.Max = percentiles(lat)
	return m
}

func printSummary(r report) {
	fmt.Println()
	fmt.Printf("%-44s %s\n", "FIGURE", "VALUE")
	row := func(k, f string, a ...any) { fmt.Printf("%-44s "+f+"\n", append([]any{k}, a...)...) }
	row("routers configured", "%d", r.N)
	row("ha.toml size", "%.1f MiB (%d B/router)", float64(r.ConfigBytes)/(1<<20), r.ConfigBytes/int64(max(r.N, 1)))
	row("ha config check (load+validate)", "%v", r.ConfigCheck.Round(time.Millisecond))
	row("ha start-up, empty cache", "%v", r.StartEmpty.Round(time.Millisecond))
	row("bindings held", "%d", r.Held)
	row("VmRSS at 0 bindings", "%d KiB", r.RSSZero)
	row("VmRSS at N bindings", "%d KiB", r.RSSFull)
	if r.Held > 0 {
		row("RSS per binding (RSS(N)-RSS(0))/N", "%.0f B", float64(r.RSSFull-r.RSSZero)*1024/float64(r.Held))
		row("live heap at 0 / at N bindings", "%.1f MiB / %.1f MiB", float64(r.HeapZero)/(1<<20), float64(r.HeapFull)/(1<<20))
		row("live heap per binding", "%.0f B", (float64(r.HeapFull)-float64(r.HeapZero))/float64(r.Held))
		row("goroutines at 0 / at N bindings", "%d / %d", r.GoroutinesZero, r.GoroutinesFull)
	}
	row("steady refresh load", "%.0f BU/s -> ha CPU %.1f%% of one core", r.RefreshRate, r.RefreshHACPUPct)
	if r.StartSaved > 0 {
		row("saved state at exit (state_dir)", "%.1f MiB", float64(r.StateBytes)/(1<<20))
		row("ha start-up with saved state", "%v (%d bindings restored)", r.StartSaved.Round(time.Millisecond), r.HeldRestored)
		row("VmRSS after restore", "%d KiB", r.RSSRestored)
	}
}

// rss returns VmRSS of pid in KiB (0 when unknown).
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// procCPU returns the user+system CPU time of pid (/proc/pid/stat).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+2:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// selfCPU returns this process's user+system CPU time (getrusage).
func selfCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
