package dataplane

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"strings"
)

// Markers identifying the objects this package makes (see the package
// documentation).
const (
	// LinkPrefix starts the name of every link this package creates.
	LinkPrefix = "nemo"
	// RouteProtocol is the rtm_protocol of our routes and the
	// FRA_PROTOCOL of our rules: 78 (0x4e, ASCII "N").
	RouteProtocol uint8 = 0x4e
	// MainTable is the kernel's main routing table.
	MainTable = 254
	// defaultMetric6 is the kernel's metric for an IPv6 route given none.
	defaultMetric6 = 1024
	// maxLinkName is IFNAMSIZ-1.
	maxLinkName = 15
	// tunnelHopLimit is the outer hop limit / TTL of kernel tunnel links.
	tunnelHopLimit = 64
)

// Link kinds NetOps creates or reports.
const (
	// KindIP6Tnl is an ip6tnl link (IPv6 outer).
	KindIP6Tnl = "ip6tnl"
	// KindSit is a sit link (IPv4 outer).
	KindSit = "sit"
	// KindTun is a TUN device (reported, not created, by NetOps).
	KindTun = "tun"
)

// Link is a network interface as NetOps creates and lists it.
type Link struct {
	// Name is the interface name.
	Name string
	// Kind is KindIP6Tnl, KindSit, KindTun or another kernel kind.
	Kind string
	// Alias is the interface alias; ours is "nemo:<owner>:<id>".
	Alias string
	// Local and Remote are the tunnel endpoints.
	Local, Remote netip.Addr
	// Dev is the underlying device the tunnel is bound to, if any.
	Dev string
	// MTU is the link MTU (0 when creating: the kernel's default).
	MTU int
	// Up reports (when listing) whether the link is administratively up.
	Up bool
	// Stats holds the link counters when listing.
	Stats LinkStats
}

// LinkStats are a link's kernel counters.
type LinkStats struct {
	// RxPackets, RxBytes, TxPackets, TxBytes, RxDropped and TxErrors
	// mirror the kernel's rtnl_link_stats64 fields.
	RxPackets, RxBytes, TxPackets, TxBytes, RxDropped, TxErrors uint64
}

// KernelRoute is a route as the kernel holds it.
type KernelRoute struct {
	// Dst, Via, Src, Table and Metric are as in Route, with defaults
	// filled in (Table 254, IPv6 metric 1024).
	Dst      netip.Prefix
	Dev      string
	Via      netip.Addr
	Src      netip.Addr
	Table    int
	Metric   int
	Protocol uint8
}

// RuleAction is what a kernel rule does with a matching packet (the
// fib_rule_hdr action).
type RuleAction uint8

// Rule actions.
const (
	// ActionLookup looks up Rule.Table (FR_ACT_TO_TBL); the zero value.
	ActionLookup RuleAction = iota
	// ActionGoto continues at the rule with priority KernelRule.Goto
	// (FR_ACT_GOTO).
	ActionGoto
	// ActionNop does nothing (FR_ACT_NOP); a goto target.
	ActionNop
	// ActionBlackhole drops the packet silently (FR_ACT_BLACKHOLE).
	ActionBlackhole
)

// KernelRule is a rule as the kernel holds it.
type KernelRule struct {
	Rule
	// Protocol is the FRA_PROTOCOL marker.
	Protocol uint8
	// Action is what the rule does; ActionLookup uses Rule.Table, the
	// others ignore it. Rules listed by NetlinkOps report ActionGoto for a
	// goto rule and ActionLookup otherwise (the netlink library does not
	// decode the action); deleting such a listed rule still matches it.
	Action RuleAction
	// Goto is the target priority of an ActionGoto rule.
	Goto int
}

// NetOps is the narrow kernel interface both backends use. Methods are
// safe for use by one goroutine at a time.
type NetOps interface {
	// LinkAdd creates a tunnel link (Kind KindIP6Tnl or KindSit) with
	// l.Alias set atomically.
	LinkAdd(l Link) error
	// LinkChange changes the endpoints and device of an existing tunnel
	// link of the same kind.
	LinkChange(l Link) error
	// LinkDel deletes the named link.
	LinkDel(name string) error
	// LinkSetUp sets the named link up, with the MTU when mtu > 0.
	LinkSetUp(name string, mtu int) error
	// LinkList lists all links.
	LinkList() ([]Link, error)
	// LinkIndex returns the interface index of the named link.
	LinkIndex(name string) (int, error)
	// RouteReplace adds r or replaces the route with its key (family,
	// Dst, Table, Metric).
	RouteReplace(r KernelRoute) error
	// RouteDel deletes r.
	RouteDel(r KernelRoute) error
	// RouteList lists the routes of all tables, both families.
	RouteList() ([]KernelRoute, error)
	// RuleAdd adds r; an identical existing rule is not an error.
	RuleAdd(r KernelRule) error
	// RuleDel deletes r.
	RuleDel(r KernelRule) error
	// RuleList lists the rules of both families.
	RuleList() ([]KernelRule, error)
	// NeighProxySet adds or replaces a proxy neighbour entry.
	NeighProxySet(p ProxyNeigh) error
	// NeighProxyDel deletes a proxy neighbour entry.
	NeighProxyDel(p ProxyNeigh) error
	// NeighProxyList lists the proxy neighbour entries of both families.
	NeighProxyList() ([]ProxyNeigh, error)
	// SysctlGet reads a sysctl by its /proc/sys path ("net/ipv4/ip_forward").
	SysctlGet(key string) (string, error)
	// SysctlSet writes a sysctl.
	SysctlSet(key, value string) error
}

// LinkName returns the kernel link name for tunnel id and link kind:
// LinkPrefix, one letter for the kind ("6" ip6tnl, "4" sit) and eight hex
// digits of an FNV-1a hash of the ID (13 characters, under IFNAMSIZ). A
// change of kind changes the name, so a new link can be made before the old
// one is deleted.
func LinkName(id, kind string) string {
	h := fnv.New32a()
	h.Write([]byte(id))
	k := "x"
	switch kind {
	case KindIP6Tnl:
		k = "6"
	case KindSit:
		k = "4"
	}
	return fmt.Sprintf("%s%s%08x", LinkPrefix, k, h.Sum32())
}

// LinkAlias returns the alias marking a link made for owner and id.
func LinkAlias(owner, id string) string {
	return LinkPrefix + ":" + owner + ":" + id
}

// ownedBy reports whether l carries the marker of owner.
func ownedBy(l Link, owner string) bool {
	return strings.HasPrefix(l.Name, LinkPrefix) && strings.HasPrefix(l.Alias, LinkPrefix+":"+owner+":")
}

// normalize fills in the kernel's defaults so that desired and listed
// routes compare equal.
func (r KernelRoute) normalize() KernelRoute {
	r.Dst = r.Dst.Masked()
	if r.Table == 0 {
		r.Table = MainTable
	}
	if r.Metric == 0 && r.Dst.Addr().Is6() {
		r.Metric = defaultMetric6
	}
	return r
}

// routeKey identifies a kernel route: a replace with the same key
// overwrites it.
type routeKey struct {
	dst    netip.Prefix
	table  int
	metric int
}

func (r KernelRoute) key() routeKey { return routeKey{r.Dst, r.Table, r.Metric} }

// proxyKey identifies a proxy entry.
type proxyKey struct {
	addr netip.Addr
	dev  string
}

func (p ProxyNeigh) key() proxyKey { return proxyKey{p.Addr, p.Dev} }

// normalize fills in defaults of a rule.
func (r KernelRule) normalize() KernelRule {
	if r.From.IsValid() {
		r.From = r.From.Masked()
		r.Family = familyOf(r.From.Addr())
	}
	if r.To.IsValid() {
		r.To = r.To.Masked()
		r.Family = familyOf(r.To.Addr())
	}
	if r.Mark != 0 && r.Mask == 0 {
		r.Mask = 0xffffffff
	}
	return r
}
