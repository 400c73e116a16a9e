// Package e2e runs the real mrouter and ha binaries in the namespace
// testbed (package testbed): the end-to-end tests and `make demo` share the
// scenario code here.
package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/nemo-mobility/nemo/internal/had"
	"github.com/nemo-mobility/nemo/internal/mrd"
	"github.com/nemo-mobility/nemo/testbed"
)

// Binaries are the built daemons.
type Binaries struct {
	MRouter, HA string
}

// ModuleRoot is the repository root (where go.mod is).
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), ".."))
}

// Build compiles both daemons into dir.
func Build(dir string) (Binaries, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goBin, "build", "-o", dir+"/", "./cmd/mrouter", "./cmd/ha")
	cmd.Dir = ModuleRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return Binaries{}, fmt.Errorf("go build: %v\n%s", err, out)
	}
	return Binaries{MRouter: filepath.Join(dir, "mrouter"), HA: filepath.Join(dir, "ha")}, nil
}

// Settings vary the scenario's configuration.
type Settings struct {
	// Dataplane is "userspace" (default), "kernel" or "auto".
	Dataplane string
	// Mode is "explicit" (default) or "implicit".
	Mode string
	// Lifetime is the mobile router's requested lifetime (default 60s).
	Lifetime string
	// Insecure runs without RFC 4285 authentication (insecure = true on
	// the home agent, no [auth] on the mobile router).
	Insecure bool
	// FN3IPv4Only turns IPv6 off on the mobile router's FN3 uplink, so FN3
	// gives it only an IPv4 care-of address without NAT.
	FN3IPv4Only bool
	// NATKeepalive is the home agent's NAT Detection refresh time
	// (default 110s).
	NATKeepalive string
	// TunnelProbe and PathHold are the mobile router's tunnel_probe and
	// path_hold ("": the defaults).
	TunnelProbe, PathHold string
}

// The testbed mobile router's RFC 4285 identity.
const (
	TestNAI = "mr1@example.net"
	TestSPI = 4096
	TestKey = "6e656d6f2d746573746265642d6b6579" // 16 bytes
)

// Scenario is a testbed with the two daemons configured for it.
type Scenario struct {
	TB      *testbed.Testbed
	Bin     Binaries
	Set     Settings
	HAConf  string
	MRConf  string
	HASock  string
	MRSock  string
	HAProc  *testbed.Proc
	MRProc  *testbed.Proc
	Logf    func(string, ...any)
	started time.Time
}

// New writes the daemons' configuration files into the testbed's run dir.
func New(tb *testbed.Testbed, bin Binaries, set Settings, logf func(string, ...any)) (*Scenario, error) {
	if set.Dataplane == "" {
		set.Dataplane = "userspace"
	}
	if set.Mode == "" {
		set.Mode = "explicit"
	}
	if set.Lifetime == "" {
		set.Lifetime = "60s"
	}
	if set.NATKeepalive == "" {
		set.NATKeepalive = "110s"
	}
	s := &Scenario{TB: tb, Bin: bin, Set: set, Logf: logf,
		HAConf: filepath.Join(tb.RunDir(), "ha.toml"), MRConf: filepath.Join(tb.RunDir(), "mrouter.toml"),
		HASock: filepath.Join(tb.RunDir(), "ha.sock"), MRSock: filepath.Join(tb.RunDir(), "mrouter.sock"),
	}
	if err := os.WriteFile(s.HAConf, []byte(s.haConfig()), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(s.MRConf, []byte(s.mrConfig()), 0o600); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Scenario) haConfig() string {
	insecure, key := "false", fmt.Sprintf("nai = %q\nspi = %d\nkey = %q\n", TestNAI, TestSPI, TestKey)
	if s.Set.Insecure {
		insecure, key = "true", ""
	}
	return fmt.Sprintf(`# home agent of the namespace testbed
[ha]
address = %q
ipv4_address = %q
home_prefix = %q
home_interface = %q
max_lifetime = "5m"
insecure = %s
dataplane = %q
state_dir = %q

[dsmipv6]
enabled = true
nat_keepalive = %q

[[mobile_router]]
home_address = %q
prefixes = [%q]
ipv4_home_address = %q
ipv4_prefixes = [%q]
%s
[status]
socket = %q

[log]
level = "debug"
`, testbed.HA6, testbed.HA4, testbed.HomePrefix6, testbed.IfHAHome, insecure, s.Set.Dataplane, filepath.Join(s.TB.RunDir(), "ha-state"), s.Set.NATKeepalive,
		testbed.MRHome6, testbed.MNP6, testbed.MRHome4, testbed.MNP4, key, s.HASock)
}

func (s *Scenario) mrConfig() string {
	auth := fmt.Sprintf("\n[auth]\nnai = %q\nspi = %d\nkey = %q\n", TestNAI, TestSPI, TestKey)
	if s.Set.Insecure {
		auth = ""
	}
	check := ""
	if s.Set.TunnelProbe != "" {
		check += fmt.Sprintf("tunnel_probe = %q\n", s.Set.TunnelProbe)
	}
	if s.Set.PathHold != "" {
		check += fmt.Sprintf("path_hold = %q\n", s.Set.PathHold)
	}
	return fmt.Sprintf(`# mobile router of the namespace testbed
[mrouter]
home_address = %q
home_prefix = %q
home_link = %q
mode = %q
lifetime = %q
dataplane = %q
ipv4_home_address = %q
request_ipv4_prefix = true
%s
[[home_agent]]
address = %q
ipv4_address = %q

[mobile_network]
interfaces = [%q]
prefixes = [%q]
ipv4_prefixes = [%q]

[[uplink]]
name = "home"
interface = %q
priority = 40

[[uplink]]
name = "fn2"
interface = %q
priority = 30

[[uplink]]
name = "fn3"
interface = %q
priority = 20
ipv6 = %t
dhcpv4 = true

[[uplink]]
name = "fn1"
interface = %q
priority = 10
ipv6 = false
dhcpv4 = true

[status]
socket = %q

[log]
level = "debug"
%s`, testbed.MRHome6, testbed.HomePrefix6, testbed.IfMRHome, s.Set.Mode, s.Set.Lifetime, s.Set.Dataplane, testbed.MRHome4, check,
		testbed.HA6, testbed.HA4, testbed.IfMRLAN, testbed.MNP6, testbed.MNP4,
		testbed.IfMRHome, testbed.IfMRFN2, testbed.IfMRFN3, !s.Set.FN3IPv4Only, testbed.IfMRFN1, s.MRSock, auth)
}

// StartHA starts the home agent in the HA namespace and waits until its
// control socket answers.
func (s *Scenario) StartHA() error {
	p, err := s.TB.Start(testbed.NodeHA, []string{s.Bin.HA, "run", "-c", s.HAConf}, nil)
	if err != nil {
		return err
	}
	s.HAProc = p
	return s.waitSocket(p, func() error { _, err := s.Bindings(); return err })
}

// StartMR starts the mobile router in the MR namespace and waits until its
// control socket answers.
func (s *Scenario) StartMR() error {
	p, err := s.TB.Start(testbed.NodeMR, []string{s.Bin.MRouter, "run", "-c", s.MRConf}, nil)
	if err != nil {
		return err
	}
	s.MRProc = p
	return s.waitSocket(p, func() error { _, err := s.Status(); return err })
}

func (s *Scenario) waitSocket(p *testbed.Proc, probe func() error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p.Exited() {
			return fmt.Errorf("%s exited at start:\n%s", filepath.Base(p.Argv()[0]), p.Log())
		}
		err := probe()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer on its control socket: %v\n%s", filepath.Base(p.Argv()[0]), err, p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Status asks the mobile router for its status (through the real CLI).
func (s *Scenario) Status() (mrd.StatusReport, error) {
	var r mrd.StatusReport
	out, err := s.TB.Exec(testbed.NodeMR, s.Bin.MRouter, "status", "--json", "-s", s.MRSock)
	if err != nil {
		return r, fmt.Errorf("mrouter status: %v: %s", err, out)
	}
	return r, json.Unmarshal([]byte(out), &r)
}

// Bindings asks the home agent for its binding cache (through the real CLI).
func (s *Scenario) Bindings() (had.BindingsReport, error) {
	var r had.BindingsReport
	out, err := s.TB.Exec(testbed.NodeHA, s.Bin.HA, "bindings", "--json", "-s", s.HASock)
	if err != nil {
		return r, fmt.Errorf("ha bindings: %v: %s", err, out)
	}
	return r, json.Unmarshal([]byte(out), &r)
}

// StatusTable and BindingsTable are the human tables, for the demo.
func (s *Scenario) StatusTable() string {
	out, _ := s.TB.Exec(testbed.NodeMR, s.Bin.MRouter, "status", "-s", s.MRSock)
	return out
}

// BindingsTable returns `ha bindings` as a table.
func (s *Scenario) BindingsTable() string {
	out, _ := s.TB.Exec(testbed.NodeHA, s.Bin.HA, "bindings", "-s", s.HASock)
	return out
}

// ErrTimeout is returned by the Wait helpers.
var ErrTimeout = errors.New("timed out")

// WaitState waits until the mobile router reports state (and, when coaIn is
// valid, a care-of address inside it). It returns how long it took.
func (s *Scenario) WaitState(state string, coaIn netip.Prefix, timeout time.Duration) (mrd.StatusReport, time.Duration, error) {
	start := time.Now()
	var last mrd.StatusReport
	var lastErr error
	for time.Since(start) < timeout {
		r, err := s.Status()
		if err == nil {
			last = r
			if r.Binding.State == state && (!coaIn.IsValid() || coaIn.Contains(r.Binding.CareOf)) {
				return r, time.Since(start), nil
			}
		}
		lastErr = err
		if s.MRProc != nil && s.MRProc.Exited() {
			return last, time.Since(start), fmt.Errorf("mrouter exited:\n%s", tail(s.MRProc.Log(), 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return last, time.Since(start), fmt.Errorf("%w waiting for mobile router state %q (care-of in %v): last state %q care-of %v (err %v)",
		ErrTimeout, state, coaIn, last.Binding.State, last.Binding.CareOf, lastErr)
}

// WaitBinding waits until the home agent holds a valid binding whose
// care-of address lies in coaIn (or, with an invalid coaIn, until it holds
// no valid binding).
func (s *Scenario) WaitBinding(coaIn netip.Prefix, timeout time.Duration) (had.BindingsReport, error) {
	start := time.Now()
	var last had.BindingsReport
	for time.Since(start) < timeout {
		r, err := s.Bindings()
		if err == nil {
			last = r
			valid := 0
			match := false
			for _, b := range r.Bindings {
				if b.State == "valid" {
					valid++
					if coaIn.IsValid() && coaIn.Contains(b.CareOf) {
						match = true
					}
				}
			}
			if match || (!coaIn.IsValid() && valid == 0) {
				return r, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return last, fmt.Errorf("%w waiting for the home agent's binding (care-of in %v): %+v", ErrTimeout, coaIn, last.Bindings)
}

// Leftovers lists the kernel objects of ours still present in a node's
// namespace: tunnel/TUN links named nemo*, rules and routes with our
// protocol marker (78), proxy neighbour entries, and the home address.
func (s *Scenario) Leftovers(node string) []string {
	var left []string
	// marked lists the lines of an ip listing that carry our protocol
	// marker (iproute2 ignores the proto selector of "ip rule show", so
	// filter here, for routes too).
	marked := func(what string, args ...string) {
		out, err := s.TB.IP(node, args...)
		if err != nil {
			left = append(left, fmt.Sprintf("%s: ip %v: %v", what, args, err))
			return
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, " proto 78") {
				left = append(left, what+": "+strings.TrimSpace(l))
			}
		}
	}
	// Links: only ours are named nemo*.
	out, _ := s.TB.IP(node, "-o", "link", "show")
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, ": nemo") {
			left = append(left, "link: "+strings.TrimSpace(l))
		}
	}
	marked("rule6", "-6", "rule", "show")
	marked("rule4", "-4", "rule", "show")
	marked("route6", "-6", "route", "show", "table", "all")
	marked("route4", "-4", "route", "show", "table", "all")
	for _, fam := range []string{"-6", "-4"} {
		out, err := s.TB.IP(node, fam, "neigh", "show", "proxy")
		if err != nil {
			left = append(left, "proxy: "+err.Error())
		}
		for _, l := range strings.Split(out, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				left = append(left, "proxy: "+l)
			}
		}
	}
	addrs, _ := s.TB.IP(node, "-6", "-o", "addr", "show")
	if strings.Contains(addrs, testbed.MRHome6.String()+"/") {
		left = append(left, "home address still configured")
	}
	return left
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// MoveResult is one move's figures.
type MoveResult struct {
	Name string
	// Took is from the first uplink change to the mobile router reaching
	// the wanted state.
	Took time.Duration
	// Handover is the daemon's own measurement for a move to a new
	// care-of address (nil for a return home).
	Handover *mrd.Handover
	// Ping is the 20-per-second ping stream MNN→CN across the move.
	Ping testbed.PingResult
	// Gap is the longest run of lost pings times the interval.
	Gap time.Duration
	// Status is the mobile router's status after the move.
	Status mrd.StatusReport
}

// PingInterval is the interval of the ping stream run across a move.
const PingInterval = 50 * time.Millisecond

// PingStream starts count pings from MNN to dst, one every PingInterval,
// in the background; wait returns their result once they are done.
func (s *Scenario) PingStream(dst netip.Addr, count int) (wait func() (testbed.PingResult, error)) {
	return s.PingStreamEvery(dst, count, PingInterval)
}

// PingStreamEvery is PingStream with one ping every interval.
func (s *Scenario) PingStreamEvery(dst netip.Addr, count int, interval time.Duration) (wait func() (testbed.PingResult, error)) {
	type out struct {
		r   testbed.PingResult
		err error
	}
	c := make(chan out, 1)
	go func() {
		r, err := s.TB.Ping(testbed.NodeMNN, dst.String(), count, interval)
		c <- out{r, err}
	}()
	return func() (testbed.PingResult, error) {
		o := <-c
		return o.r, o.err
	}
}

// Move brings the up uplinks up, then the down uplinks down, while a
// 20-per-second ping stream runs from MNN to CN, and waits for the mobile
// router to reach state with a care-of address in coaIn (any when invalid).
func (s *Scenario) Move(name string, up, down []string, state string, coaIn netip.Prefix, dst netip.Addr) (MoveResult, error) {
	return s.move(name, up, down, state, coaIn, dst, false)
}

// MoveBeforeBreak brings the up uplinks up, waits until the mobile router
// has registered the new care-of address (the old tunnel carrying traffic
// meanwhile), and only then takes the down uplinks down: a
// make-before-break handover, which should lose nothing.
func (s *Scenario) MoveBeforeBreak(name string, up, down []string, coaIn netip.Prefix, dst netip.Addr) (MoveResult, error) {
	return s.move(name, up, down, "registered", coaIn, dst, true)
}

func (s *Scenario) move(name string, up, down []string, state string, coaIn netip.Prefix, dst netip.Addr, mbb bool) (MoveResult, error) {
	res := MoveResult{Name: name}
	wait := s.PingStream(dst, 120) // 6 s at 20/s
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	for _, u := range up {
		if err := s.TB.Uplink(u, true); err != nil {
			return res, err
		}
	}
	if !mbb {
		for _, u := range down {
			if err := s.TB.Uplink(u, false); err != nil {
				return res, err
			}
		}
	}
	st, _, err := s.WaitState(state, coaIn, 20*time.Second)
	res.Took = time.Since(start)
	res.Status = st
	if err != nil {
		wait()
		return res, err
	}
	if mbb {
		for _, u := range down {
			if err := s.TB.Uplink(u, false); err != nil {
				return res, err
			}
		}
	}
	if h := st.Handover; h != nil && h.At.After(start) {
		res.Handover = h
	}
	pr, err := wait()
	if err != nil {
		return res, fmt.Errorf("ping stream: %w", err)
	}
	res.Ping = pr
	res.Gap = time.Duration(pr.LongestLossRun) * PingInterval
	return res, nil
}
