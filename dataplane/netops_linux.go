package dataplane

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ip6TnlIgnEncapLimit is IP6_TNL_F_IGN_ENCAP_LIMIT (linux/ip6_tunnel.h):
// "encaplimit none", no Tunnel Encapsulation Limit option (RFC 2473
// section 4.1) in front of the inner packet.
const ip6TnlIgnEncapLimit = 0x1

// sitPMTUDisc turns on path MTU discovery on sit links (the iproute2
// default).
const sitPMTUDisc = 1

// NetlinkOps implements NetOps with github.com/vishvananda/netlink in the
// network namespace that was current for the calling thread when it was
// made. Sysctls are read and written from a thread switched into that
// namespace.
type NetlinkOps struct {
	h  *netlink.Handle
	ns netns.NsHandle

	// idx caches interface indexes for idxTTL: a home agent adds a route
	// and a proxy entry per binding, and a netlink dump per lookup cost as
	// much as the operation itself.
	idxMu sync.Mutex
	idx   map[string]cachedIndex
}

type cachedIndex struct {
	i  int
	at time.Time
}

// idxTTL bounds how long a cached interface index is trusted (an interface
// deleted and re-created gets a new one).
const idxTTL = time.Second

var _ NetOps = (*NetlinkOps)(nil)

// NewNetOps returns a NetlinkOps for the calling thread's network
// namespace. A caller that switched namespaces with netns.Set must still
// hold runtime.LockOSThread.
func NewNetOps() (*NetlinkOps, error) {
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("dataplane: current netns: %w", err)
	}
	// Only rtnetlink: the handle would otherwise open xfrm and netfilter
	// sockets it never uses (and qemu-user cannot open).
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("dataplane: netlink handle: %w", err)
	}
	return &NetlinkOps{h: h, ns: ns}, nil
}

// Close releases the netlink socket and the namespace handle.
func (o *NetlinkOps) Close() error {
	o.h.Close()
	return o.ns.Close()
}

func (o *NetlinkOps) index(name string) (int, error) {
	now := time.Now()
	o.idxMu.Lock()
	c, ok := o.idx[name]
	o.idxMu.Unlock()
	if ok && now.Sub(c.at) < idxTTL {
		return c.i, nil
	}
	l, err := o.h.LinkByName(name)
	if err != nil {
		o.forget(name)
		return 0, fmt.Errorf("link %s: %w", name, err)
	}
	o.idxMu.Lock()
	if o.idx == nil {
		o.idx = make(map[string]cachedIndex)
	}
	o.idx[name] = cachedIndex{l.Attrs().Index, now}
	o.idxMu.Unlock()
	return l.Attrs().Index, nil
}

// forget drops name's cached index (the link was deleted or changed).
func (o *NetlinkOps) forget(name string) {
	o.idxMu.Lock()
	delete(o.idx, name)
	o.idxMu.Unlock()
}

func ipOf(a netip.Addr) net.IP {
	if !a.IsValid() {
		return nil
	}
	return net.IP(a.AsSlice())
}

func addrOf(ip net.IP) netip.Addr {
	if ip4 := ip.To4(); ip4 != nil && len(ip) == net.IPv4len {
		return netip.AddrFrom4([4]byte(ip4))
	}
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	return a.Unmap()
}

func ipNetOf(p netip.Prefix) *net.IPNet {
	if !p.IsValid() {
		return nil
	}
	bits := 128
	if p.Addr().Is4() {
		bits = 32
	}
	return &net.IPNet{IP: ipOf(p.Addr()), Mask: net.CIDRMask(p.Bits(), bits)}
}

func prefixOf(n *net.IPNet) netip.Prefix {
	if n == nil {
		return netip.Prefix{}
	}
	a := addrOf(n.IP)
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a, ones)
}

func nlFamily(is4 bool) int {
	if is4 {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

func (o *NetlinkOps) nlLink(l Link) (netlink.Link, error) {
	attrs := netlink.NewLinkAttrs()
	attrs.Name, attrs.Alias, attrs.MTU = l.Name, l.Alias, l.MTU
	dev := 0
	if l.Dev != "" {
		i, err := o.index(l.Dev)
		if err != nil {
			return nil, err
		}
		dev = i
	}
	switch l.Kind {
	case KindIP6Tnl:
		return &netlink.Ip6tnl{LinkAttrs: attrs, Link: uint32(dev), Local: ipOf(l.Local), Remote: ipOf(l.Remote),
			Ttl: tunnelHopLimit, Flags: ip6TnlIgnEncapLimit}, nil
	case KindSit:
		return &netlink.Sittun{LinkAttrs: attrs, Link: uint32(dev), Local: ipOf(l.Local), Remote: ipOf(l.Remote),
			Ttl: tunnelHopLimit, PMtuDisc: sitPMTUDisc}, nil
	}
	return nil, fmt.Errorf("link %s kind %q: %w", l.Name, l.Kind, ErrUnsupported)
}

// LinkAdd implements NetOps.
func (o *NetlinkOps) LinkAdd(l Link) error {
	o.forget(l.Name)
	nl, err := o.nlLink(l)
	if err != nil {
		return err
	}
	if err := o.h.LinkAdd(nl); err != nil {
		return fmt.Errorf("link add %s type %s: %w", l.Name, l.Kind, err)
	}
	// Some kernels ignore IFLA_IFALIAS in a create request (Debian's 6.1
	// does, found in the VM of test/vm): set it afterwards. Cleanup also
	// recognises our tunnel links by name and kind while the alias is
	// missing (a crash in between).
	got, err := o.h.LinkByName(l.Name)
	if err != nil {
		return fmt.Errorf("link add %s: reading it back: %w", l.Name, err)
	}
	if got.Attrs().Alias != l.Alias {
		if err := o.h.LinkSetAlias(got, l.Alias); err != nil {
			o.h.LinkDel(got)
			return fmt.Errorf("link add %s: setting alias %q: %w", l.Name, l.Alias, err)
		}
	}
	return nil
}

// LinkChange implements NetOps.
func (o *NetlinkOps) LinkChange(l Link) error {
	nl, err := o.nlLink(l)
	if err != nil {
		return err
	}
	idx, err := o.index(l.Name)
	if err != nil {
		return err
	}
	nl.Attrs().Index = idx
	if err := o.h.LinkModify(nl); err != nil {
		return fmt.Errorf("link change %s: %w", l.Name, err)
	}
	return nil
}

// LinkDel implements NetOps.
func (o *NetlinkOps) LinkDel(name string) error {
	o.forget(name)
	l, err := o.h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link del %s: %w", name, err)
	}
	if err := o.h.LinkDel(l); err != nil {
		return fmt.Errorf("link del %s: %w", name, err)
	}
	return nil
}

// LinkSetUp implements NetOps.
func (o *NetlinkOps) LinkSetUp(name string, mtu int) error {
	l, err := o.h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link set %s: %w", name, err)
	}
	if mtu > 0 && l.Attrs().MTU != mtu {
		if err := o.h.LinkSetMTU(l, mtu); err != nil {
			return fmt.Errorf("link set %s mtu %d: %w", name, mtu, err)
		}
	}
	if err := o.h.LinkSetUp(l); err != nil {
		return fmt.Errorf("link set %s up: %w", name, err)
	}
	return nil
}

// LinkList implements NetOps.
func (o *NetlinkOps) LinkList() ([]Link, error) {
	links, err := o.h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("link list: %w", err)
	}
	names := make(map[int]string, len(links))
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	out := make([]Link, 0, len(links))
	for _, l := range links {
		a := l.Attrs()
		x := Link{Name: a.Name, Kind: l.Type(), Alias: a.Alias, MTU: a.MTU, Up: a.Flags&net.FlagUp != 0}
		switch t := l.(type) {
		case *netlink.Ip6tnl:
			x.Local, x.Remote, x.Dev = addrOf(t.Local), addrOf(t.Remote), names[int(t.Link)]
		case *netlink.Sittun:
			x.Local, x.Remote, x.Dev = addrOf(t.Local), addrOf(t.Remote), names[int(t.Link)]
		case *netlink.Tuntap:
			x.Kind = KindTun
		}
		if s := a.Statistics; s != nil {
			x.Stats = LinkStats{RxPackets: s.RxPackets, RxBytes: s.RxBytes, TxPackets: s.TxPackets,
				TxBytes: s.TxBytes, RxDropped: s.RxDropped, TxErrors: s.TxErrors}
		}
		out = append(out, x)
	}
	return out, nil
}

// LinkIndex implements NetOps.
func (o *NetlinkOps) LinkIndex(name string) (int, error) { return o.index(name) }

func (o *NetlinkOps) nlRoute(r KernelRoute) (*netlink.Route, error) {
	r = r.normalize()
	is4 := r.Dst.Addr().Is4()
	nr := &netlink.Route{
		Family:   nlFamily(is4),
		Dst:      ipNetOf(r.Dst),
		Gw:       ipOf(r.Via),
		Src:      ipOf(r.Src),
		Table:    r.Table,
		Priority: r.Metric,
		Protocol: netlink.RouteProtocol(r.Protocol),
	}
	if r.Dev != "" {
		i, err := o.index(r.Dev)
		if err != nil {
			return nil, err
		}
		nr.LinkIndex = i
	}
	if is4 && !r.Via.IsValid() {
		nr.Scope = netlink.SCOPE_LINK // as `ip route add … dev X` does
	}
	return nr, nil
}

// RouteReplace implements NetOps.
func (o *NetlinkOps) RouteReplace(r KernelRoute) error {
	nr, err := o.nlRoute(r)
	if err != nil {
		return fmt.Errorf("route replace %v: %w", r.Dst, err)
	}
	if err := o.h.RouteReplace(nr); err != nil {
		return fmt.Errorf("route replace %v dev %s table %d: %w", r.Dst, r.Dev, r.Table, err)
	}
	return nil
}

// RouteDel implements NetOps.
func (o *NetlinkOps) RouteDel(r KernelRoute) error {
	nr, err := o.nlRoute(r)
	if err != nil {
		// The device is gone: delete by destination, table and metric.
		r = r.normalize()
		nr = &netlink.Route{Family: nlFamily(r.Dst.Addr().Is4()), Dst: ipNetOf(r.Dst), Table: r.Table,
			Priority: r.Metric, Protocol: netlink.RouteProtocol(r.Protocol)}
	}
	nr.Scope = netlink.SCOPE_NOWHERE // match any scope (what `ip route del` sends)
	if err := o.h.RouteDel(nr); err != nil {
		return fmt.Errorf("route del %v table %d: %w", r.Dst, r.Table, err)
	}
	return nil
}

// RouteList implements NetOps.
func (o *NetlinkOps) RouteList() ([]KernelRoute, error) {
	names, err := o.linkNames()
	if err != nil {
		return nil, err
	}
	var out []KernelRoute
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rs, err := o.h.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
		if err != nil {
			return nil, fmt.Errorf("route list: %w", err)
		}
		for _, r := range rs {
			dst := prefixOf(r.Dst)
			if !dst.IsValid() {
				if fam == netlink.FAMILY_V4 {
					dst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
				} else {
					dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
				}
			}
			out = append(out, KernelRoute{Dst: dst, Dev: names[r.LinkIndex], Via: addrOf(r.Gw), Src: addrOf(r.Src),
				Table: r.Table, Metric: r.Priority, Protocol: uint8(r.Protocol)})
		}
	}
	return out, nil
}

func (o *NetlinkOps) linkNames() (map[int]string, error) {
	links, err := o.h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("link list: %w", err)
	}
	names := make(map[int]string, len(links))
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	return names, nil
}

func nlRule(r KernelRule) *netlink.Rule {
	r = r.normalize()
	nr := netlink.NewRule()
	nr.Priority = r.Priority
	nr.Family = nlFamily(r.family() == IPv4)
	nr.Src = ipNetOf(r.From)
	nr.Dst = ipNetOf(r.To)
	nr.IifName = r.IIF
	nr.Protocol = r.Protocol
	switch r.Action {
	case ActionLookup:
		nr.Table = r.Table
	case ActionGoto:
		nr.Goto = r.Goto
	case ActionNop:
		nr.Type = unix.FR_ACT_NOP
	case ActionBlackhole:
		nr.Type = unix.FR_ACT_BLACKHOLE
	}
	if r.Mark != 0 {
		nr.Mark = r.Mark
		m := r.Mask
		nr.Mask = &m
	}
	return nr
}

// RuleAdd implements NetOps.
func (o *NetlinkOps) RuleAdd(r KernelRule) error {
	if err := o.h.RuleAdd(nlRule(r)); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("rule add pref %d: %w", r.Priority, err)
	}
	return nil
}

// RuleDel implements NetOps.
func (o *NetlinkOps) RuleDel(r KernelRule) error {
	if err := o.h.RuleDel(nlRule(r)); err != nil {
		return fmt.Errorf("rule del pref %d: %w", r.Priority, err)
	}
	return nil
}

// RuleList implements NetOps.
func (o *NetlinkOps) RuleList() ([]KernelRule, error) {
	var out []KernelRule
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rs, err := o.h.RuleList(fam)
		if err != nil {
			return nil, fmt.Errorf("rule list: %w", err)
		}
		for _, r := range rs {
			f := IPv6
			if fam == netlink.FAMILY_V4 {
				f = IPv4
			}
			kr := KernelRule{Rule: Rule{Priority: r.Priority, Family: f, From: prefixOf(r.Src), To: prefixOf(r.Dst), IIF: r.IifName,
				Table: r.Table, Mark: r.Mark}, Protocol: r.Protocol}
			if r.Mask != nil {
				kr.Mask = *r.Mask
			}
			if r.Goto > 0 {
				kr.Action, kr.Goto = ActionGoto, r.Goto
			}
			out = append(out, kr)
		}
	}
	return out, nil
}

func (o *NetlinkOps) nlProxy(p ProxyNeigh) (*netlink.Neigh, error) {
	i, err := o.index(p.Dev)
	if err != nil {
		return nil, err
	}
	flags := netlink.NTF_PROXY
	if p.Router {
		flags |= netlink.NTF_ROUTER
	}
	return &netlink.Neigh{LinkIndex: i, Family: nlFamily(p.Addr.Is4()), State: netlink.NUD_PERMANENT,
		Flags: flags, IP: ipOf(p.Addr)}, nil
}

// NeighProxySet implements NetOps.
func (o *NetlinkOps) NeighProxySet(p ProxyNeigh) error {
	n, err := o.nlProxy(p)
	if err != nil {
		return fmt.Errorf("neigh replace proxy %v: %w", p.Addr, err)
	}
	if err := o.h.NeighSet(n); err != nil {
		return fmt.Errorf("neigh replace proxy %v dev %s: %w", p.Addr, p.Dev, err)
	}
	return nil
}

// NeighProxyDel implements NetOps.
func (o *NetlinkOps) NeighProxyDel(p ProxyNeigh) error {
	n, err := o.nlProxy(p)
	if err != nil {
		return fmt.Errorf("neigh del proxy %v: %w", p.Addr, err)
	}
	if err := o.h.NeighDel(n); err != nil {
		return fmt.Errorf("neigh del proxy %v dev %s: %w", p.Addr, p.Dev, err)
	}
	return nil
}

// NeighProxyList implements NetOps.
func (o *NetlinkOps) NeighProxyList() ([]ProxyNeigh, error) {
	names, err := o.linkNames()
	if err != nil {
		return nil, err
	}
	var out []ProxyNeigh
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		// The kernel dumps the proxy table only for a request whose
		// ndm_flags is exactly NTF_PROXY, and answers with NTF_PROXY plus
		// the entry's own flags (NTF_ROUTER); netlink's NeighProxyList
		// drops every answer whose flags are not exactly NTF_PROXY, hiding
		// router entries. So the dump is parsed here, without that filter.
		var msgs [][]byte
		err := o.inNS(func() error {
			req := nl.NewNetlinkRequest(unix.RTM_GETNEIGH, unix.NLM_F_DUMP)
			req.AddData(&netlink.Ndmsg{Family: uint8(fam), Flags: netlink.NTF_PROXY})
			var err error
			msgs, err = req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWNEIGH)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("neigh proxy list: %w", err)
		}
		for _, m := range msgs {
			n, err := netlink.NeighDeserialize(m)
			if err != nil || n.Family != fam || n.Flags&netlink.NTF_PROXY == 0 {
				continue
			}
			out = append(out, ProxyNeigh{Addr: addrOf(n.IP), Dev: names[n.LinkIndex], Router: n.Flags&netlink.NTF_ROUTER != 0})
		}
	}
	return out, nil
}

// inNS runs f on a thread switched into o's namespace.
func (o *NetlinkOps) inNS(f func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	if err := netns.Set(o.ns); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	ferr := f()
	if err := netns.Set(orig); err != nil {
		// Leave the thread locked: the runtime ends it with the goroutine.
		return errors.Join(ferr, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

func sysctlPath(key string) (string, error) {
	if key == "" || strings.Contains(key, "..") || strings.HasPrefix(key, "/") {
		return "", fmt.Errorf("%w: sysctl key %q", ErrInvalidConfig, key)
	}
	return "/proc/sys/" + key, nil
}

// SysctlGet implements NetOps.
func (o *NetlinkOps) SysctlGet(key string) (string, error) {
	p, err := sysctlPath(key)
	if err != nil {
		return "", err
	}
	var v string
	err = o.inNS(func() error {
		b, err := os.ReadFile(p)
		v = strings.TrimSpace(string(b))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("sysctl %s: %w", key, err)
	}
	return v, nil
}

// SysctlSet implements NetOps.
func (o *NetlinkOps) SysctlSet(key, value string) error {
	p, err := sysctlPath(key)
	if err != nil {
		return err
	}
	err = o.inNS(func() error { return os.WriteFile(p, []byte(value), 0o644) })
	if err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
	}
	return nil
}
