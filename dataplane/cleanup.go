package dataplane

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ProxyScope names the proxy neighbour entries Cleanup may remove: those
// on Dev (the home link) whose address is inside Prefix (the home prefix,
// or an IPv4 home subnet).
type ProxyScope struct {
	// Dev is the home interface.
	Dev string
	// Prefix is the home prefix.
	Prefix netip.Prefix
}

// Cleanup removes what a crashed run left behind: links named LinkPrefix…
// whose alias marks them as owner's, every route and rule with protocol
// RouteProtocol, and the proxy entries inside the given scopes. Foreign
// objects are left alone. Sysctls are not restored (their earlier values
// died with the crashed process). Daemons call it before their first Set.
func Cleanup(ops NetOps, owner string, proxy []ProxyScope) error {
	var errs []error
	rules, err := ops.RuleList()
	if err != nil {
		errs = append(errs, err)
	}
	for _, r := range rules {
		if r.Protocol == RouteProtocol {
			if err := ops.RuleDel(r); err != nil {
				errs = append(errs, err)
			}
		}
	}
	routes, err := ops.RouteList()
	if err != nil {
		errs = append(errs, err)
	}
	for _, r := range routes {
		if r.Protocol == RouteProtocol {
			if err := ops.RouteDel(r); err != nil {
				errs = append(errs, err)
			}
		}
	}
	links, err := ops.LinkList()
	if err != nil {
		errs = append(errs, err)
	}
	for _, l := range links {
		if ownedBy(l, owner) || unmarkedTunnel(l) || (l.Name == probeLink && l.Alias == LinkAlias("probe", "probe")) {
			if err := ops.LinkDel(l.Name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(proxy) > 0 {
		entries, err := ops.NeighProxyList()
		if err != nil {
			errs = append(errs, err)
		}
		for _, p := range entries {
			for _, s := range proxy {
				if p.Dev == s.Dev && s.Prefix.Contains(p.Addr) {
					if err := ops.NeighProxyDel(p); err != nil {
						errs = append(errs, err)
					}
					break
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("dataplane: cleanup: %w", err)
	}
	return nil
}

// unmarkedTunnel reports whether l is a tunnel link of ours whose alias
// was never set: NetlinkOps.LinkAdd sets it right after creating the link
// where the kernel ignores it in the create request, and a crash in between
// leaves the link named like ours (LinkName) but unmarked.
func unmarkedTunnel(l Link) bool {
	if l.Alias != "" {
		return false
	}
	var k string
	switch l.Kind {
	case KindIP6Tnl:
		k = "6"
	case KindSit:
		k = "4"
	default:
		return false
	}
	hash, ok := strings.CutPrefix(l.Name, LinkPrefix+k)
	return ok && len(hash) == 8 && strings.Trim(hash, "0123456789abcdef") == ""
}

// Backend kinds Probe returns.
const (
	// KindKernel selects the kernel backend.
	KindKernel = "kernel"
	// KindUserspace selects the userspace backend.
	KindUserspace = "userspace"
)

// probeLink is the name of the throw-away link Probe creates.
const probeLink = LinkPrefix + "probe"

// Probe decides for dataplane = "auto": it creates a throw-away ip6tnl
// link (and, when ipv4 is true, a sit link) through ops and deletes it
// again. If that works it returns KindKernel, else KindUserspace; reason
// says why, for the daemon's log.
func Probe(ops NetOps, ipv4 bool) (kind, reason string) {
	try := []struct {
		kind          string
		local, remote netip.Addr
	}{
		{KindIP6Tnl, netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")},
	}
	if ipv4 {
		try = append(try, struct {
			kind          string
			local, remote netip.Addr
		}{KindSit, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")})
	}
	for _, t := range try {
		l := Link{Name: probeLink, Kind: t.kind, Alias: LinkAlias("probe", "probe"), Local: t.local, Remote: t.remote}
		if err := ops.LinkAdd(l); err != nil {
			return KindUserspace, fmt.Sprintf("kernel cannot create %s links (%v); using the userspace data plane", t.kind, err)
		}
		if err := ops.LinkDel(probeLink); err != nil {
			return KindUserspace, fmt.Sprintf("could not delete the %s probe link (%v); using the userspace data plane", t.kind, err)
		}
	}
	if ipv4 {
		return KindKernel, "kernel created ip6tnl and sit links; using the kernel data plane"
	}
	return KindKernel, "kernel created an ip6tnl link; using the kernel data plane"
}
