package dataplane

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// Errors the Fake returns, in the spirit of the kernel's errnos.
var (
	// ErrFakeNoDevice is the Fake's ENODEV.
	ErrFakeNoDevice = errors.New("fake netops: no such device")
	// ErrFakeExists is the Fake's EEXIST.
	ErrFakeExists = errors.New("fake netops: object exists")
	// ErrFakeNotFound is the Fake's ESRCH/ENOENT.
	ErrFakeNotFound = errors.New("fake netops: no such object")
)

// Fake is an in-memory NetOps that behaves like the kernel in the ways the
// backends rely on (a link must exist before a route uses it, deleting a
// link deletes its routes, duplicate rules are refused silently) and renders
// its state as sorted `ip` command text. It is safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	devices map[string]int // foreign devices: name → index
	links   map[string]Link
	routes  map[routeKey]KernelRoute
	rules   []KernelRule
	proxy   map[proxyKey]ProxyNeigh
	sysctl  map[string]string
	sysInit map[string]string
	nextIdx int
	ops     []string
	// Unsupported lists link kinds LinkAdd refuses, as a kernel without
	// the module does.
	Unsupported map[string]bool
	// Err, when set, is called with each mutating operation's rendered
	// command before it is applied; a non-nil result fails the operation.
	Err func(op string) error
}

// NewFake returns an empty Fake that has the named foreign devices (an
// uplink, the home link, …).
func NewFake(devices ...string) *Fake {
	f := &Fake{
		devices:     make(map[string]int),
		links:       make(map[string]Link),
		routes:      make(map[routeKey]KernelRoute),
		proxy:       make(map[proxyKey]ProxyNeigh),
		sysctl:      make(map[string]string),
		sysInit:     make(map[string]string),
		nextIdx:     1,
		Unsupported: make(map[string]bool),
	}
	for _, d := range devices {
		f.AddDevice(d)
	}
	return f
}

// AddDevice adds a foreign device (not ours, never rendered).
func (f *Fake) AddDevice(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextIdx++
	f.devices[name] = f.nextIdx
}

// SetSysctlInitial presets a sysctl's value (the "boot" value).
func (f *Fake) SetSysctlInitial(key, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sysctl[key] = value
	f.sysInit[key] = value
}

// Ops returns the mutating operations applied so far and clears the log.
func (f *Fake) Ops() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ops := f.ops
	f.ops = nil
	return ops
}

// InjectLink adds a link directly (to simulate leftovers or foreign links).
func (f *Fake) InjectLink(l Link) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.links[l.Name] = l
}

// InjectRoute adds a route directly (dev is not checked).
func (f *Fake) InjectRoute(r KernelRoute) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r = r.normalize()
	f.routes[r.key()] = r
}

// InjectRule adds a rule directly.
func (f *Fake) InjectRule(r KernelRule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, r.normalize())
}

// InjectProxy adds a proxy entry directly.
func (f *Fake) InjectProxy(p ProxyNeigh) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.proxy[p.key()] = p
}

// Render returns the state as sorted `ip` commands, one a line, each line
// ending in a newline; foreign devices and unchanged sysctls are left out.
func (f *Fake) Render() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var lines []string
	for _, l := range f.links {
		lines = append(lines, renderLink("add", l))
		if l.Up {
			lines = append(lines, "ip link set "+l.Name+" up")
		}
	}
	for _, r := range f.routes {
		lines = append(lines, renderRoute("add", r))
	}
	for _, r := range f.rules {
		lines = append(lines, renderRule("add", r))
	}
	for _, p := range f.proxy {
		lines = append(lines, renderProxy("add", p))
	}
	for k, v := range f.sysctl {
		if f.sysInit[k] != v && !(f.sysInit[k] == "" && v == "0") {
			lines = append(lines, renderSysctl(k, v))
		}
	}
	slices.Sort(lines)
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

func famFlag(a netip.Addr) string {
	if a.Is4() {
		return "-4"
	}
	return "-6"
}

func renderLink(verb string, l Link) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ip link %s %s", verb, l.Name)
	if l.MTU > 0 {
		fmt.Fprintf(&b, " mtu %d", l.MTU)
	}
	if l.Alias != "" {
		fmt.Fprintf(&b, " alias %q", l.Alias)
	}
	fmt.Fprintf(&b, " type %s mode any local %v remote %v", l.Kind, l.Local, l.Remote)
	if l.Dev != "" {
		fmt.Fprintf(&b, " dev %s", l.Dev)
	}
	switch l.Kind {
	case KindIP6Tnl:
		fmt.Fprintf(&b, " encaplimit none hoplimit %d", tunnelHopLimit)
	case KindSit:
		fmt.Fprintf(&b, " ttl %d", tunnelHopLimit)
	}
	return b.String()
}

func renderRoute(verb string, r KernelRoute) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ip %s route %s %v", famFlag(r.Dst.Addr()), verb, r.Dst)
	if r.Via.IsValid() {
		fmt.Fprintf(&b, " via %v", r.Via)
	}
	fmt.Fprintf(&b, " dev %s", r.Dev)
	if r.Src.IsValid() {
		fmt.Fprintf(&b, " src %v", r.Src)
	}
	fmt.Fprintf(&b, " table %d metric %d", r.Table, r.Metric)
	if r.Protocol != 0 {
		fmt.Fprintf(&b, " proto %d", r.Protocol)
	}
	return b.String()
}

func renderRule(verb string, r KernelRule) string {
	var b strings.Builder
	flag := "-6"
	if r.family() == IPv4 {
		flag = "-4"
	}
	fmt.Fprintf(&b, "ip %s rule %s pref %d", flag, verb, r.Priority)
	if r.From.IsValid() {
		fmt.Fprintf(&b, " from %v", r.From)
	} else {
		b.WriteString(" from all")
	}
	if r.To.IsValid() {
		fmt.Fprintf(&b, " to %v", r.To)
	}
	if r.IIF != "" {
		fmt.Fprintf(&b, " iif %s", r.IIF)
	}
	if r.Mark != 0 {
		fmt.Fprintf(&b, " fwmark %#x/%#x", r.Mark, r.Mask)
	}
	switch r.Action {
	case ActionGoto:
		fmt.Fprintf(&b, " goto %d", r.Goto)
	case ActionNop:
		b.WriteString(" nop")
	case ActionBlackhole:
		b.WriteString(" blackhole")
	default:
		fmt.Fprintf(&b, " lookup %d", r.Table)
	}
	if r.Protocol != 0 {
		fmt.Fprintf(&b, " proto %d", r.Protocol)
	}
	return b.String()
}

func renderProxy(verb string, p ProxyNeigh) string {
	s := fmt.Sprintf("ip %s neigh %s proxy %v dev %s", famFlag(p.Addr), verb, p.Addr, p.Dev)
	if p.Router {
		s += " router"
	}
	return s
}

func renderSysctl(key, value string) string {
	return "sysctl -w " + strings.ReplaceAll(key, "/", ".") + "=" + value
}

// do logs op and consults Err; it must be called with f.mu held.
func (f *Fake) do(op string) error {
	if f.Err != nil {
		if err := f.Err(op); err != nil {
			return err
		}
	}
	f.ops = append(f.ops, op)
	return nil
}

func (f *Fake) devExists(name string) bool {
	if _, ok := f.devices[name]; ok {
		return true
	}
	_, ok := f.links[name]
	return ok
}

// LinkAdd implements NetOps.
func (f *Fake) LinkAdd(l Link) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Unsupported[l.Kind] {
		return fmt.Errorf("link add %s: %w (unknown device type %s)", l.Name, ErrUnsupported, l.Kind)
	}
	if f.devExists(l.Name) {
		return fmt.Errorf("link add %s: %w", l.Name, ErrFakeExists)
	}
	if l.Dev != "" && !f.devExists(l.Dev) {
		return fmt.Errorf("link add %s dev %s: %w", l.Name, l.Dev, ErrFakeNoDevice)
	}
	if err := f.do(renderLink("add", l)); err != nil {
		return err
	}
	l.Up = false
	f.links[l.Name] = l
	return nil
}

// LinkChange implements NetOps.
func (f *Fake) LinkChange(l Link) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	old, ok := f.links[l.Name]
	if !ok || old.Kind != l.Kind {
		return fmt.Errorf("link change %s: %w", l.Name, ErrFakeNoDevice)
	}
	if l.Dev != "" && !f.devExists(l.Dev) {
		return fmt.Errorf("link change %s dev %s: %w", l.Name, l.Dev, ErrFakeNoDevice)
	}
	if err := f.do(renderLink("change", l)); err != nil {
		return err
	}
	old.Local, old.Remote, old.Dev = l.Local, l.Remote, l.Dev
	f.links[l.Name] = old
	return nil
}

// LinkDel implements NetOps; the link's routes go with it.
func (f *Fake) LinkDel(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.links[name]; !ok {
		return fmt.Errorf("link del %s: %w", name, ErrFakeNoDevice)
	}
	if err := f.do("ip link del " + name); err != nil {
		return err
	}
	delete(f.links, name)
	for k, r := range f.routes {
		if r.Dev == name {
			delete(f.routes, k)
		}
	}
	return nil
}

// LinkSetUp implements NetOps.
func (f *Fake) LinkSetUp(name string, mtu int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.links[name]
	if !ok {
		if _, ok := f.devices[name]; ok {
			return f.do("ip link set " + name + " up")
		}
		return fmt.Errorf("link set %s: %w", name, ErrFakeNoDevice)
	}
	op := "ip link set " + name + " up"
	if mtu > 0 {
		op = fmt.Sprintf("ip link set %s mtu %d up", name, mtu)
	}
	if err := f.do(op); err != nil {
		return err
	}
	l.Up = true
	if mtu > 0 {
		l.MTU = mtu
	}
	f.links[name] = l
	return nil
}

// LinkList implements NetOps; foreign devices are listed with Kind "".
func (f *Fake) LinkList() ([]Link, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Link
	for name := range f.devices {
		out = append(out, Link{Name: name, Up: true})
	}
	for _, l := range f.links {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Link) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// LinkIndex implements NetOps.
func (f *Fake) LinkIndex(name string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i, ok := f.devices[name]; ok {
		return i, nil
	}
	if _, ok := f.links[name]; ok {
		return 1000 + len(name), nil
	}
	return 0, fmt.Errorf("link %s: %w", name, ErrFakeNoDevice)
}

// RouteReplace implements NetOps.
func (f *Fake) RouteReplace(r KernelRoute) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r = r.normalize()
	if !f.devExists(r.Dev) {
		return fmt.Errorf("route %v dev %s: %w", r.Dst, r.Dev, ErrFakeNoDevice)
	}
	if err := f.do(renderRoute("replace", r)); err != nil {
		return err
	}
	f.routes[r.key()] = r
	return nil
}

// RouteDel implements NetOps.
func (f *Fake) RouteDel(r KernelRoute) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r = r.normalize()
	if _, ok := f.routes[r.key()]; !ok {
		return fmt.Errorf("route del %v: %w", r.Dst, ErrFakeNotFound)
	}
	if err := f.do(renderRoute("del", r)); err != nil {
		return err
	}
	delete(f.routes, r.key())
	return nil
}

// RouteList implements NetOps.
func (f *Fake) RouteList() ([]KernelRoute, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]KernelRoute, 0, len(f.routes))
	for _, r := range f.routes {
		out = append(out, r)
	}
	return out, nil
}

// RuleAdd implements NetOps.
func (f *Fake) RuleAdd(r KernelRule) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r = r.normalize()
	if slices.Contains(f.rules, r) {
		return nil
	}
	if err := f.do(renderRule("add", r)); err != nil {
		return err
	}
	f.rules = append(f.rules, r)
	return nil
}

// RuleDel implements NetOps.
func (f *Fake) RuleDel(r KernelRule) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r = r.normalize()
	i := slices.Index(f.rules, r)
	if i < 0 {
		return fmt.Errorf("rule del pref %d: %w", r.Priority, ErrFakeNotFound)
	}
	if err := f.do(renderRule("del", r)); err != nil {
		return err
	}
	f.rules = slices.Delete(f.rules, i, i+1)
	return nil
}

// RuleList implements NetOps.
func (f *Fake) RuleList() ([]KernelRule, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.rules), nil
}

// NeighProxySet implements NetOps.
func (f *Fake) NeighProxySet(p ProxyNeigh) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.devExists(p.Dev) {
		return fmt.Errorf("proxy %v dev %s: %w", p.Addr, p.Dev, ErrFakeNoDevice)
	}
	if err := f.do(renderProxy("replace", p)); err != nil {
		return err
	}
	f.proxy[p.key()] = p
	return nil
}

// NeighProxyDel implements NetOps.
func (f *Fake) NeighProxyDel(p ProxyNeigh) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.proxy[p.key()]; !ok {
		return fmt.Errorf("proxy del %v: %w", p.Addr, ErrFakeNotFound)
	}
	if err := f.do(renderProxy("del", p)); err != nil {
		return err
	}
	delete(f.proxy, p.key())
	return nil
}

// NeighProxyList implements NetOps.
func (f *Fake) NeighProxyList() ([]ProxyNeigh, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]ProxyNeigh, 0, len(f.proxy))
	for _, p := range f.proxy {
		out = append(out, p)
	}
	return out, nil
}

// SysctlGet implements NetOps; unknown keys read "0".
func (f *Fake) SysctlGet(key string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.sysctl[key]; ok {
		return v, nil
	}
	return "0", nil
}

// SysctlSet implements NetOps.
func (f *Fake) SysctlSet(key, value string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.do(renderSysctl(key, value)); err != nil {
		return err
	}
	f.sysctl[key] = value
	return nil
}
