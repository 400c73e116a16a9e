// Package testbed builds the reference testbed of TESTBED.md in network
// namespaces on one machine: a correspondent (CN), an internet router
// (CORE), a home link (a bridge in its own namespace) with the home agent
// (HA), three access routers (AR1: IPv4-only behind NAT with DHCP; AR2:
// IPv6-only with radvd; AR3: dual stack, radvd and DHCP, no NAT), the mobile
// router (MR) with one uplink per network, and a mobile network node (MNN).
//
// Every link is a veth pair created directly inside the namespaces (never in
// the root namespace), every address comes from the documentation or
// benchmarking ranges, and Close removes every namespace and every process
// the harness started, also when a test fails (NewT registers t.Cleanup),
// panics, or the user hits Ctrl-C (Options.HandleSignals). Namespaces left
// by a run that was killed outright are removed by SweepStale, which New
// calls first.
//
// The daemons under test are started with Start, which captures their output
// in a log file, and stopped with Proc.Stop (SIGTERM, then SIGKILL) or
// Proc.Kill. Ping and TCPTransfer use nbtool, a small helper that is this
// package's ToolMain: any binary that links this package turns into nbtool
// when re-executed with NBTOOL_EXEC=1 in its environment, so tests need no
// extra build step (Options.ToolPath overrides it, e.g. with cmd/nbtool).
//
// Duplicate address detection is turned off in every namespace so that
// static and SLAAC addresses are usable at once. The home bridge has
// multicast snooping off, so that a proxy-NDP home agent hears Neighbor
// Solicitations for a home address whose owner joined the group before it
// left. Uplink changes only the MR's end of a veth: the access router's end
// stays administratively up and sees the carrier go, as with a pulled cable.
//
// The package shells out to iproute2's ip, sysctl, radvd, dnsmasq and nft
// (and dumpcap for captures); it needs root and Linux.
package testbed

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Sentinel errors. Errors returned by this package wrap them with context.
var (
	// ErrUnsupported is returned by New on a system other than Linux.
	ErrUnsupported = errors.New("testbed: only supported on Linux")
	// ErrClosed is returned by methods called after Close.
	ErrClosed = errors.New("testbed: closed")
	// ErrUnknownNode is returned for a node or uplink name the testbed
	// does not have.
	ErrUnknownNode = errors.New("testbed: unknown node")
	// ErrTimeout is returned when a command or a wait runs out of time.
	ErrTimeout = errors.New("testbed: timeout")
	// ErrCommand is returned when an external command fails.
	ErrCommand = errors.New("testbed: command failed")
	// ErrTransfer is returned when a TCP transfer's content check fails.
	ErrTransfer = errors.New("testbed: transfer failed")
)

// Options configure New. The zero value is usable.
type Options struct {
	// Prefix is prepended to every namespace name. The default is
	// "nb<pid>-" for the first testbed of a process and "nb<pid>s<n>-" for
	// the next ones; SweepStale recognises those names.
	Prefix string
	// RunDir holds configuration files, logs, DHCP lease files and
	// captures. The default is a new temporary directory, removed by
	// Close unless KeepRunDir is set. A given RunDir is never removed.
	RunDir string
	// KeepRunDir keeps a default RunDir after Close.
	KeepRunDir bool
	// Logf, if set, receives a line for every step (testing.T.Logf fits).
	Logf func(format string, args ...any)
	// NoNAT leaves AR1 without its masquerade rule; CORE then routes the
	// FN1 prefix to AR1 instead.
	NoNAT bool
	// Uplinks are brought up at the end of New ("home", "fn1", "fn2",
	// "fn3"); all uplinks are down otherwise.
	Uplinks []string
	// ToolPath is the nbtool binary used by Ping and TCPTransfer. The
	// default re-executes the current binary (see ToolMain).
	ToolPath string
	// ExecTimeout bounds each Exec; default 20 s.
	ExecTimeout time.Duration
	// StopGrace is how long Proc.Stop waits after SIGTERM before SIGKILL;
	// default 5 s.
	StopGrace time.Duration
	// HandleSignals makes SIGINT and SIGTERM close every live testbed of
	// the process and then terminate it with that signal.
	HandleSignals bool
	// SecondHA adds a second home agent host, NodeHA2, on the home link
	// (see ha2.go).
	SecondHA bool
}

// Testbed is one running instance of the reference testbed. Its methods are
// safe for concurrent use.
type Testbed struct {
	opts      Options
	prefix    string
	runDir    string
	ownDir    bool
	tool      string
	logf      func(string, ...any)
	ctx       context.Context // the build context; cancelled by Close
	cancel    context.CancelFunc
	buildDone chan struct{} // closed when New has finished building
	mu        sync.Mutex
	closed    bool
	made      []string // namespaces created, in order
	procs     []*Proc
	services  map[string]*service
	seq       int
	once      sync.Once
	closeErr  error
}

type service struct {
	node string
	argv []string
	proc *Proc
}

var (
	liveMu  sync.Mutex
	live    = map[*Testbed]bool{}
	created int // testbeds created by this process, for default prefixes
)

// New builds the testbed. On failure everything it made is removed again.
func New(opts Options) (*Testbed, error) {
	return NewContext(context.Background(), opts)
}

// NewContext is New with a context: cancelling ctx while the testbed is
// being built stops the build and removes what was made. The context has no
// effect once NewContext has returned.
func NewContext(ctx context.Context, opts Options) (*Testbed, error) {
	if runtime.GOOS != "linux" {
		return nil, ErrUnsupported
	}
	if opts.ExecTimeout <= 0 {
		opts.ExecTimeout = 20 * time.Second
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = 5 * time.Second
	}
	for _, u := range opts.Uplinks {
		if _, ok := uplinkIf[u]; !ok {
			return nil, fmt.Errorf("uplink %q: %w", u, ErrUnknownNode)
		}
	}
	tb := &Testbed{opts: opts, logf: opts.Logf, services: map[string]*service{}, buildDone: make(chan struct{})}
	tb.ctx, tb.cancel = context.WithCancel(ctx)
	if tb.logf == nil {
		tb.logf = func(string, ...any) {}
	}
	liveMu.Lock()
	n := created
	created++
	liveMu.Unlock()
	tb.prefix = opts.Prefix
	if tb.prefix == "" {
		tb.prefix = fmt.Sprintf("nb%d-", os.Getpid())
		if n > 0 {
			tb.prefix = fmt.Sprintf("nb%ds%d-", os.Getpid(), n)
		}
	}
	if opts.HandleSignals {
		installSignalHandler()
	}
	liveMu.Lock()
	live[tb] = true
	liveMu.Unlock()

	if removed, err := SweepStale(tb.prefix); err != nil {
		tb.logf("testbed: sweeping stale namespaces: %v", err)
	} else if len(removed) > 0 {
		tb.logf("testbed: removed stale namespaces %v", removed)
	}
	if removed, err := SweepStale(""); err == nil && len(removed) > 0 {
		tb.logf("testbed: removed stale namespaces %v", removed)
	}

	err := tb.build()
	close(tb.buildDone)
	if err != nil {
		if cerr := tb.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, err
	}
	return tb, nil
}

// NS returns the network namespace name of a node ("cn", "core", "sw",
// "ha", "ar1", "ar2", "ar3", "mr", "mnn", "attacker"), or "" for an
// unknown node.
func (tb *Testbed) NS(node string) string {
	if !slices.Contains(Nodes, node) && !(node == NodeHA2 && tb.opts.SecondHA) {
		return ""
	}
	return tb.prefix + node
}

// Prefix returns the namespace name prefix of this testbed.
func (tb *Testbed) Prefix() string { return tb.prefix }

// RunDir returns the directory that holds configuration, logs, leases and
// captures.
func (tb *Testbed) RunDir() string { return tb.runDir }

func (tb *Testbed) ns(node string) (string, error) {
	ns := tb.NS(node)
	if ns == "" {
		return "", fmt.Errorf("node %q: %w", node, ErrUnknownNode)
	}
	return ns, nil
}

// buildCtx returns the context New's commands run under.
func (tb *Testbed) buildCtx() context.Context {
	select {
	case <-tb.buildDone:
		return context.Background()
	default:
		return tb.ctx
	}
}

func (tb *Testbed) build() error {
	start := time.Now()
	if err := tb.setupRunDir(); err != nil {
		return err
	}
	tool, err := tb.resolveTool()
	if err != nil {
		return err
	}
	tb.tool = tool
	for _, node := range Nodes {
		if err := tb.addNS(node); err != nil {
			return err
		}
	}
	steps := []func() error{
		tb.baseSysctls,
		tb.makeLinks,
		tb.linkSysctls,
		tb.addAddresses,
		tb.setLinksUp,
		tb.addRoutes,
		tb.startServices,
	}
	if tb.opts.SecondHA {
		steps = append(steps, tb.addSecondHA)
	}
	for _, step := range steps {
		if err := tb.buildCtx().Err(); err != nil {
			return fmt.Errorf("testbed: build interrupted: %w", err)
		}
		if err := step(); err != nil {
			return err
		}
	}
	for _, u := range tb.opts.Uplinks {
		if err := tb.Uplink(u, true); err != nil {
			return err
		}
	}
	tb.logf("testbed: %s* built in %v (run dir %s)", tb.prefix, time.Since(start).Round(time.Millisecond), tb.runDir)
	return nil
}

func (tb *Testbed) setupRunDir() error {
	if tb.opts.RunDir != "" {
		if err := os.MkdirAll(tb.opts.RunDir, 0o755); err != nil {
			return fmt.Errorf("testbed: run dir: %w", err)
		}
		abs, err := filepath.Abs(tb.opts.RunDir)
		if err != nil {
			return fmt.Errorf("testbed: run dir: %w", err)
		}
		tb.runDir = abs
		return nil
	}
	dir, err := os.MkdirTemp("", runDirPrefix+tb.prefix)
	if err != nil {
		return fmt.Errorf("testbed: run dir: %w", err)
	}
	// radvd and dnsmasq read files from here; MkdirTemp makes it 0700,
	// which is fine for root, but keep it traversable for dropped
	// privileges.
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("testbed: run dir: %w", err)
	}
	tb.runDir = dir
	tb.ownDir = !tb.opts.KeepRunDir
	return nil
}

func (tb *Testbed) resolveTool() (string, error) {
	if tb.opts.ToolPath != "" {
		return tb.opts.ToolPath, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("testbed: locating nbtool: %w", err)
	}
	return exe, nil
}

func (tb *Testbed) addNS(node string) error {
	name := tb.NS(node)
	tb.mu.Lock()
	// Record before creating: Close then removes it even if "ip netns add"
	// half-succeeded.
	tb.made = append(tb.made, name)
	tb.mu.Unlock()
	_, err := tb.run(tb.buildCtx(), tb.opts.ExecTimeout, "ip", "netns", "add", name)
	return err
}

// ipBatch runs several ip commands (one per line, without the leading
// "ip") against a node's namespace in one process.
func (tb *Testbed) ipBatch(node string, lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	ns, err := tb.ns(node)
	if err != nil {
		return err
	}
	_, err = runCmdIn(tb.buildCtx(), tb.opts.ExecTimeout, nil, strings.Join(lines, "\n")+"\n", "ip", "-n", ns, "-batch", "-")
	return err
}

// batches collects ip command lines per node and runs them node by node.
type batches map[string][]string

func (b batches) add(node string, args ...string) { b[node] = append(b[node], strings.Join(args, " ")) }

func (tb *Testbed) runBatches(b batches) error {
	for _, node := range Nodes {
		if err := tb.ipBatch(node, b[node]); err != nil {
			return err
		}
	}
	return nil
}

// ipn runs "ip -n <ns> args...".
func (tb *Testbed) ipn(node string, args ...string) (string, error) {
	ns, err := tb.ns(node)
	if err != nil {
		return "", err
	}
	out, err := tb.run(tb.buildCtx(), tb.opts.ExecTimeout, "ip", append([]string{"-n", ns}, args...)...)
	if err == nil {
		out = dropNetnsNoise(out)
	}
	return out, err
}

// netnsNoise is a line ip(8) prints, on success, when some namespace on
// the machine is created or deleted while it lists links (its lookup of a
// veth peer's namespace races with that): other tests' testbeds make it
// appear in any listing, where it would count as an object.
const netnsNoise = "Error: Peer netns reference is invalid."

// dropNetnsNoise removes those lines from a successful ip(8) output.
func dropNetnsNoise(out string) string {
	if !strings.Contains(out, netnsNoise) {
		return out
	}
	lines := strings.SplitAfter(out, "\n")
	kept := lines[:0]
	for _, l := range lines {
		if strings.TrimSpace(l) != netnsNoise {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "")
}

// sysctl sets keys (in "key=value" form) inside a node's namespace.
func (tb *Testbed) sysctl(node string, kv ...string) error {
	if len(kv) == 0 {
		return nil
	}
	_, err := tb.exec(tb.buildCtx(), node, tb.opts.ExecTimeout, append([]string{"sysctl", "-q", "-w"}, kv...)...)
	return err
}

// Sysctl sets one sysctl ("net.ipv6.conf.mr-fn3.disable_ipv6", "1") inside
// a node's namespace.
func (tb *Testbed) Sysctl(node, key, value string) error {
	return tb.sysctl(node, key+"="+value)
}

func (tb *Testbed) baseSysctls() error {
	for _, node := range Nodes {
		kv := []string{
			"net.ipv6.conf.all.accept_dad=0",
			"net.ipv6.conf.default.accept_dad=0",
			"net.ipv4.conf.all.rp_filter=0",
			"net.ipv4.conf.default.rp_filter=0",
		}
		switch node {
		case NodeCore, NodeHA, NodeAR3, NodeMR:
			kv = append(kv, "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
		case NodeAR1:
			kv = append(kv, "net.ipv4.ip_forward=1")
		case NodeAR2:
			kv = append(kv, "net.ipv4.ip_forward=0", "net.ipv6.conf.all.forwarding=1")
		default:
			kv = append(kv, "net.ipv4.ip_forward=0", "net.ipv6.conf.all.forwarding=0")
		}
		switch node {
		case NodeAR1, NodeSW:
			// AR1 is IPv4-only; the switch needs no addresses at all.
			kv = append(kv, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
		}
		if err := tb.sysctl(node, kv...); err != nil {
			return err
		}
	}
	return nil
}

type veth struct{ a, ifa, b, ifb string }

var veths = []veth{
	{NodeCN, IfCNCore, NodeCore, IfCoreCN},
	{NodeCore, IfCoreHome, NodeSW, IfSWCore},
	{NodeHA, IfHAHome, NodeSW, IfSWHA},
	{NodeMR, IfMRHome, NodeSW, IfSWMR},
	{NodeCore, IfCoreAR1, NodeAR1, IfAR1Core},
	{NodeCore, IfCoreAR2, NodeAR2, IfAR2Core},
	{NodeCore, IfCoreAR3, NodeAR3, IfAR3Core},
	{NodeAR1, IfAR1FN1, NodeMR, IfMRFN1},
	{NodeAR2, IfAR2FN2, NodeMR, IfMRFN2},
	{NodeAR3, IfAR3FN3, NodeMR, IfMRFN3},
	{NodeMR, IfMRLAN, NodeMNN, IfMNNLAN},
	{NodeCore, IfCoreAtk, NodeAttacker, IfAtkCore},
}

func (tb *Testbed) makeLinks() error {
	// Both ends are created inside the namespaces: the root namespace never
	// sees them.
	b := batches{}
	for _, v := range veths {
		b.add(v.a, "link", "add", v.ifa, "type", "veth", "peer", "name", v.ifb, "netns", tb.NS(v.b))
	}
	if err := tb.runBatches(b); err != nil {
		return err
	}
	b = batches{}
	b.add(NodeSW, "link", "add", IfSWBridge, "type", "bridge", "stp_state", "0", "mcast_snooping", "0")
	for _, port := range []string{IfSWCore, IfSWHA, IfSWMR} {
		b.add(NodeSW, "link", "set", port, "master", IfSWBridge)
	}
	return tb.runBatches(b)
}

func (tb *Testbed) linkSysctls() error {
	set := map[string][]string{
		NodeCore: {"net.ipv6.conf." + IfCoreAR1 + ".disable_ipv6=1"},
		NodeHA: {
			"net.ipv6.conf." + IfHAHome + ".proxy_ndp=1",
			"net.ipv6.conf." + IfHAHome + ".accept_ra=0",
		},
		NodeMR: {
			"net.ipv6.conf." + IfMRFN1 + ".disable_ipv6=1",
			"net.ipv6.conf." + IfMRLAN + ".accept_ra=0",
		},
		NodeMNN: {"net.ipv6.conf." + IfMNNLAN + ".accept_ra=0"},
	}
	for _, ifname := range []string{IfMRHome, IfMRFN2, IfMRFN3} {
		set[NodeMR] = append(set[NodeMR],
			"net.ipv6.conf."+ifname+".accept_ra=2",
			"net.ipv6.conf."+ifname+".autoconf=1")
	}
	for _, node := range Nodes {
		if err := tb.sysctl(node, set[node]...); err != nil {
			return err
		}
	}
	return nil
}

type ifAddr struct {
	node, ifname string
	prefix       netip.Prefix
}

func pfx(a netip.Addr, bits int) netip.Prefix { return netip.PrefixFrom(a, bits) }

func addressPlan() []ifAddr {
	return []ifAddr{
		{NodeCN, IfCNCore, pfx(CN6, 64)},
		{NodeCN, IfCNCore, pfx(CN4, 26)},
		{NodeCore, IfCoreCN, pfx(CoreCN6, 64)},
		{NodeCore, IfCoreCN, pfx(CoreCN4, 26)},
		{NodeCore, IfCoreHome, pfx(CoreHome6, 64)},
		{NodeCore, IfCoreHome, pfx(CoreHome4, 24)},
		{NodeHA, IfHAHome, pfx(HA6, 64)},
		{NodeHA, IfHAHome, pfx(HA4, 24)},
		{NodeCore, IfCoreAR1, pfx(CoreAR14, AR1Link4.Bits())},
		{NodeAR1, IfAR1Core, pfx(AR1Public4, AR1Link4.Bits())},
		{NodeCore, IfCoreAR2, pfx(CoreAR26, 64)},
		{NodeAR2, IfAR2Core, pfx(AR2Core6, 64)},
		{NodeCore, IfCoreAR3, pfx(CoreAR36, 64)},
		{NodeCore, IfCoreAR3, pfx(CoreAR34, AR3Transit4.Bits())},
		{NodeAR3, IfAR3Core, pfx(AR3Core6, 64)},
		{NodeAR3, IfAR3Core, pfx(AR3Core4, AR3Transit4.Bits())},
		{NodeAR1, IfAR1FN1, pfx(AR1FN14, FN1Prefix4.Bits())},
		{NodeAR2, IfAR2FN2, pfx(AR2FN26, 64)},
		{NodeAR3, IfAR3FN3, pfx(AR3FN36, 64)},
		{NodeAR3, IfAR3FN3, pfx(AR3FN34, FN3Prefix4.Bits())},
		{NodeMR, IfMRLAN, pfx(MRLAN6, 64)},
		{NodeMR, IfMRLAN, pfx(MRLAN4, MNP4.Bits())},
		{NodeMNN, IfMNNLAN, pfx(MNN6, 64)},
		{NodeMNN, IfMNNLAN, pfx(MNN4, MNP4.Bits())},
		{NodeCore, IfCoreAtk, pfx(CoreAtk6, AttackerPrefix6.Bits())},
		{NodeCore, IfCoreAtk, pfx(CoreAtk4, AttackerPrefix4.Bits())},
		{NodeAttacker, IfAtkCore, pfx(Attacker6, AttackerPrefix6.Bits())},
		{NodeAttacker, IfAtkCore, pfx(Attacker4, AttackerPrefix4.Bits())},
	}
}

func (tb *Testbed) addAddresses() error {
	b := batches{}
	for _, a := range addressPlan() {
		if a.prefix.Addr().Is6() {
			b.add(a.node, "addr", "add", a.prefix.String(), "dev", a.ifname, "nodad")
		} else {
			b.add(a.node, "addr", "add", a.prefix.String(), "dev", a.ifname)
		}
	}
	return tb.runBatches(b)
}

func (tb *Testbed) setLinksUp() error {
	b := batches{}
	for _, node := range Nodes {
		b.add(node, "link", "set", "lo", "up")
	}
	b.add(NodeSW, "link", "set", IfSWBridge, "up")
	for _, v := range veths {
		for _, end := range [][2]string{{v.a, v.ifa}, {v.b, v.ifb}} {
			if end[0] == NodeMR && end[1] != IfMRLAN {
				continue // uplinks start down
			}
			b.add(end[0], "link", "set", end[1], "up")
		}
	}
	return tb.runBatches(b)
}

func (tb *Testbed) addRoutes() error {
	type route struct {
		node string
		args []string
	}
	// ip -batch takes no family option: the addresses carry it, and
	// "default" is spelled out per family.
	r6 := func(node, dst string, via netip.Addr, dev string) route {
		if dst == "default" {
			dst = "::/0"
		}
		return route{node, []string{"route", "add", dst, "via", via.String(), "dev", dev}}
	}
	r4 := func(node, dst string, via netip.Addr, dev string) route {
		if dst == "default" {
			dst = "0.0.0.0/0"
		}
		return route{node, []string{"route", "add", dst, "via", via.String(), "dev", dev}}
	}
	routes := []route{
		r6(NodeCN, "default", CoreCN6, IfCNCore),
		r4(NodeCN, "default", CoreCN4, IfCNCore),
		// RFC 3963 5.8: CORE reaches the mobile network prefixes through
		// the mobile router's home address; the home agent takes them over
		// by proxy neighbour discovery / proxy ARP while it is away.
		r6(NodeCore, MNP6.String(), MRHome6, IfCoreHome),
		r4(NodeCore, MNP4.String(), MRHome4, IfCoreHome),
		r6(NodeCore, FN2Prefix6.String(), AR2Core6, IfCoreAR2),
		r6(NodeCore, FN3Prefix6.String(), AR3Core6, IfCoreAR3),
		r4(NodeCore, FN3Prefix4.String(), AR3Core4, IfCoreAR3),
		r6(NodeHA, "default", CoreHome6, IfHAHome),
		r4(NodeHA, "default", CoreHome4, IfHAHome),
		r4(NodeAR1, "default", CoreAR14, IfAR1Core),
		r6(NodeAR2, "default", CoreAR26, IfAR2Core),
		r6(NodeAR3, "default", CoreAR36, IfAR3Core),
		r4(NodeAR3, "default", CoreAR34, IfAR3Core),
		r6(NodeMNN, "default", MRLAN6, IfMNNLAN),
		r4(NodeMNN, "default", MRLAN4, IfMNNLAN),
		r6(NodeAttacker, "default", CoreAtk6, IfAtkCore),
		r6(NodeCore, AttackerRemote6.String(), Attacker6, IfCoreAtk),
		r4(NodeAttacker, "default", CoreAtk4, IfAtkCore),
	}
	if tb.opts.NoNAT {
		routes = append(routes, r4(NodeCore, FN1Prefix4.String(), AR1Public4, IfCoreAR1))
	}
	b := batches{}
	for _, r := range routes {
		b.add(r.node, r.args...)
	}
	return tb.runBatches(b)
}

// Uplink brings one of the MR's uplinks ("home", "fn1", "fn2", "fn3") up or
// down. Only the MR's end changes: the access router's end stays up and sees
// the carrier come and go.
func (tb *Testbed) Uplink(name string, up bool) error {
	ifname, ok := uplinkIf[name]
	if !ok {
		return fmt.Errorf("uplink %q: %w", name, ErrUnknownNode)
	}
	return tb.SetLink(NodeMR, ifname, up)
}

// SetLink sets any interface of the testbed administratively up or down.
func (tb *Testbed) SetLink(node, ifname string, up bool) error {
	if err := tb.checkOpen(); err != nil {
		return err
	}
	state := "down"
	if up {
		state = "up"
	}
	_, err := tb.ipn(node, "link", "set", ifname, state)
	return err
}

func (tb *Testbed) checkOpen() error {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if tb.closed {
		return ErrClosed
	}
	return nil
}

// Close stops every process the testbed started (SIGTERM, then SIGKILL),
// kills anything else still running in its namespaces, deletes the
// namespaces (which removes every link in them) and removes the default run
// directory. It is idempotent and safe to call from several goroutines;
// every call returns the first call's result.
func (tb *Testbed) Close() error {
	tb.once.Do(func() {
		tb.closeErr = tb.close()
	})
	return tb.closeErr
}

func (tb *Testbed) close() error {
	// A Close during New (a signal) cuts the build short and waits for
	// it, so that everything it made is known.
	tb.cancel()
	<-tb.buildDone
	tb.mu.Lock()
	tb.closed = true
	procs := slices.Clone(tb.procs)
	made := slices.Clone(tb.made)
	tb.mu.Unlock()

	var (
		errs  []error
		errMu sync.Mutex
		wg    sync.WaitGroup
	)
	// Stop every process at once with a short grace: this is teardown.
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.stop(min(tb.opts.StopGrace, 2*time.Second)); err != nil {
				errMu.Lock()
				errs = append(errs, err)
				errMu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, ns := range slices.Backward(made) {
		if err := removeNS(ns); err != nil {
			errs = append(errs, err)
		}
	}
	liveMu.Lock()
	delete(live, tb)
	liveMu.Unlock()
	if tb.ownDir && tb.runDir != "" {
		if err := os.RemoveAll(tb.runDir); err != nil {
			errs = append(errs, fmt.Errorf("testbed: removing run dir: %w", err))
		}
	}
	if len(errs) == 0 {
		tb.logf("testbed: %s* removed", tb.prefix)
	}
	return errors.Join(errs...)
}

// WaitFor polls cond every 50 ms until it returns true or timeout passes.
func (tb *Testbed) WaitFor(cond func() bool, timeout time.Duration) error {
	return WaitFor(cond, timeout)
}

// WaitFor polls cond every 50 ms until it returns true or timeout passes,
// then returns an error wrapping ErrTimeout.
func WaitFor(cond func() bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("condition not met within %v: %w", timeout, ErrTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logName makes a file name for a process log in the run dir.
func (tb *Testbed) logName(node, argv0 string) string {
	tb.mu.Lock()
	tb.seq++
	n := tb.seq
	tb.mu.Unlock()
	base := filepath.Base(argv0)
	base = strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' {
			return '_'
		}
		return r
	}, base)
	return filepath.Join(tb.runDir, fmt.Sprintf("%02d-%s-%s.log", n, node, base))
}
