package dataplane

import (
	"errors"
	"fmt"
)

// Sysctl keys (paths below /proc/sys).
const (
	sysctlForward6  = "net/ipv6/conf/all/forwarding"
	sysctlForward4  = "net/ipv4/ip_forward"
	sysctlProxyNDPf = "net/ipv6/conf/%s/proxy_ndp"
)

// kstate is a set of kernel objects: what a backend wants or has made.
type kstate struct {
	links  map[string]Link
	routes map[routeKey]KernelRoute
	rules  map[KernelRule]struct{}
	proxy  map[proxyKey]ProxyNeigh
	sysctl map[string]string
}

func newKstate() kstate {
	return kstate{
		links:  make(map[string]Link),
		routes: make(map[routeKey]KernelRoute),
		rules:  make(map[KernelRule]struct{}),
		proxy:  make(map[proxyKey]ProxyNeigh),
		sysctl: make(map[string]string),
	}
}

// desiredState turns cfg into kernel objects. devFor returns the device a
// route naming a tunnel points at; links are the tunnel links to create
// (none for the userspace backend).
func desiredState(cfg Config, links []Link, devFor func(id string) string) (kstate, error) {
	s := newKstate()
	for _, l := range links {
		s.links[l.Name] = l
	}
	for _, r := range cfg.Routes {
		dev := r.Dev
		if r.Tunnel != "" {
			dev = devFor(r.Tunnel)
		}
		kr := KernelRoute{Dst: r.Dst, Dev: dev, Via: r.Via, Src: r.Src, Table: r.Table, Metric: r.Metric, Protocol: RouteProtocol}.normalize()
		if _, dup := s.routes[kr.key()]; dup {
			return kstate{}, fmt.Errorf("%w: two routes for %v in table %d with metric %d", ErrInvalidConfig, kr.Dst, kr.Table, kr.Metric)
		}
		s.routes[kr.key()] = kr
	}
	for _, r := range cfg.Rules {
		s.rules[KernelRule{Rule: r, Protocol: RouteProtocol}.normalize()] = struct{}{}
	}
	for _, p := range cfg.Proxy {
		if _, dup := s.proxy[p.key()]; dup {
			return kstate{}, fmt.Errorf("%w: duplicate proxy entry %v dev %s", ErrInvalidConfig, p.Addr, p.Dev)
		}
		s.proxy[p.key()] = p
	}
	if cfg.Forwarding {
		s.sysctl[sysctlForward6] = "1"
		s.sysctl[sysctlForward4] = "1"
	}
	if cfg.ProxyNDP != "" {
		s.sysctl[fmt.Sprintf(sysctlProxyNDPf, cfg.ProxyNDP)] = "1"
	}
	return s, nil
}

// reconciler moves the kernel from what it made (cur) to a wanted state,
// adding and replacing before deleting. cur records only operations that
// succeeded, so a failed apply is retried by the next one.
type reconciler struct {
	ops  NetOps
	cur  kstate
	orig map[string]string // sysctl values before we first changed them
}

func newReconciler(ops NetOps) *reconciler {
	return &reconciler{ops: ops, cur: newKstate(), orig: make(map[string]string)}
}

// apply converges to want. It attempts every operation and returns the
// joined errors.
func (r *reconciler) apply(want kstate) error { return r.applyDelta(r.cur, want) }

// applyDelta moves the part of the kernel state that old describes to
// want: it adds and replaces what want has, then deletes what old has and
// want does not. Objects outside old and want are left alone, so one
// group's state (a binding's routes and proxy entry) changes without
// looking at the rest. old may be r.cur itself (then everything not in
// want goes).
func (r *reconciler) applyDelta(old, want kstate) error {
	var errs []error
	cur := &r.cur

	// Phase 1: add and replace.
	for name, l := range want.links {
		old, ok := cur.links[name]
		switch {
		case !ok:
			if err := r.ops.LinkAdd(l); err != nil {
				errs = append(errs, err)
				continue
			}
			cur.links[name] = Link{Name: name, Kind: l.Kind, Alias: l.Alias, Dev: l.Dev, Local: l.Local, Remote: l.Remote}
			old = cur.links[name]
		case old.Local != l.Local || old.Remote != l.Remote || old.Dev != l.Dev:
			if err := r.ops.LinkChange(l); err != nil {
				errs = append(errs, err)
				continue
			}
			old.Local, old.Remote, old.Dev = l.Local, l.Remote, l.Dev
			cur.links[name] = old
		}
		if !old.Up || old.MTU != l.MTU {
			if err := r.ops.LinkSetUp(name, l.MTU); err != nil {
				errs = append(errs, err)
				continue
			}
			old.Up, old.MTU = true, l.MTU
			cur.links[name] = old
		}
	}
	for k, rt := range want.routes {
		if old, ok := cur.routes[k]; ok && old == rt {
			continue
		}
		if err := r.ops.RouteReplace(rt); err != nil {
			errs = append(errs, err)
			continue
		}
		cur.routes[k] = rt
	}
	for rl := range want.rules {
		if _, ok := cur.rules[rl]; ok {
			continue
		}
		if err := r.ops.RuleAdd(rl); err != nil {
			errs = append(errs, err)
			continue
		}
		cur.rules[rl] = struct{}{}
	}
	for k, p := range want.proxy {
		if old, ok := cur.proxy[k]; ok && old == p {
			continue
		}
		if err := r.ops.NeighProxySet(p); err != nil {
			errs = append(errs, err)
			continue
		}
		cur.proxy[k] = p
	}
	for k, v := range want.sysctl {
		if cur.sysctl[k] == v {
			continue
		}
		if _, saved := r.orig[k]; !saved {
			o, err := r.ops.SysctlGet(k)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			r.orig[k] = o
		}
		if err := r.ops.SysctlSet(k, v); err != nil {
			errs = append(errs, err)
			continue
		}
		cur.sysctl[k] = v
	}

	// Phase 2: delete what is no longer wanted.
	for k := range old.proxy {
		p, ok := cur.proxy[k]
		if _, keep := want.proxy[k]; keep || !ok {
			continue
		}
		if err := r.ops.NeighProxyDel(p); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(cur.proxy, k)
	}
	for rl := range old.rules {
		_, ok := cur.rules[rl]
		if _, keep := want.rules[rl]; keep || !ok {
			continue
		}
		if err := r.ops.RuleDel(rl); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(cur.rules, rl)
	}
	for k := range old.routes {
		rt, ok := cur.routes[k]
		if _, keep := want.routes[k]; keep || !ok {
			continue
		}
		if err := r.ops.RouteDel(rt); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(cur.routes, k)
	}
	for name := range old.links {
		_, ok := cur.links[name]
		if _, keep := want.links[name]; keep || !ok {
			continue
		}
		if err := r.ops.LinkDel(name); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(cur.links, name)
	}
	for k := range old.sysctl {
		_, ok := cur.sysctl[k]
		if _, keep := want.sysctl[k]; keep || !ok {
			continue
		}
		if err := r.ops.SysctlSet(k, r.orig[k]); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(cur.sysctl, k)
		delete(r.orig, k)
	}
	return errors.Join(errs...)
}
