package dataplane

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/nemo-mobility/nemo/internal/testutil"
)

// TestNetlinkOpsAndCleanup installs routes, a rule, proxy entries and
// sysctls through the real netlink NetOps in a fresh namespace, checks them
// with `ip`, then removes them with Cleanup as after a crash and checks
// that a foreign route and rule survive.
func TestNetlinkOpsAndCleanup(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "ip")
	ns := newNetns(t, "N")
	ipCmd(t, "link", "add", "home0", "netns", ns, "type", "veth", "peer", "name", "peer0", "netns", ns)
	ipCmd(t, "-n", ns, "link", "set", "home0", "up")
	ipCmd(t, "-n", ns, "link", "set", "peer0", "up")
	ipCmd(t, "-n", ns, "route", "add", "198.51.100.0/24", "dev", "home0", "proto", "static")
	ipCmd(t, "-n", ns, "-6", "rule", "add", "pref", "2000", "from", "2001:db8:9::/64", "lookup", "2000")

	var (
		ops *NetlinkOps
		err error
	)
	inNetns(t, ns, func() { ops, err = NewNetOps() })
	if err != nil {
		t.Fatal(err)
	}
	defer ops.Close()

	kind, reason := Probe(ops, true)
	t.Logf("Probe: %s (%s)", kind, reason)
	if kind == KindUserspace && !strings.Contains(reason, "ip6tnl") && !strings.Contains(reason, "sit") {
		t.Errorf("userspace chosen with reason %q", reason)
	}
	if out := ipCmd(t, "-n", ns, "link", "show"); strings.Contains(out, probeLink) {
		t.Errorf("Probe left its link:\n%s", out)
	}

	cfg := Config{
		Routes: []Route{
			{Dst: mnp, Dev: "home0", Table: 1000},
			{Dst: mnp4, Dev: "home0", Table: 1000},
			{Dst: netip.PrefixFrom(hoa, 128), Dev: "home0", Via: netip.MustParseAddr("fe80::2")},
		},
		Rules:      []Rule{{Priority: 1000, From: mnp, Table: 1000}, {Priority: 1001, From: mnp4, Table: 1000}},
		Proxy:      []ProxyNeigh{{Addr: hoa, Dev: "home0", Router: true}, {Addr: netip.MustParseAddr("192.0.2.5"), Dev: "home0"}},
		Forwarding: true,
		ProxyNDP:   "home0",
	}
	want, err := desiredState(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := newReconciler(ops)
	if err := rec.apply(want); err != nil {
		t.Fatal(err)
	}
	// Idempotent against the real kernel too.
	if err := rec.apply(want); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-6", "route", "show", "table", "1000"}, "2001:db8:1:100::/64 dev home0 proto 78"},
		{[]string{"-4", "route", "show", "table", "1000"}, "192.0.2.16/28 dev home0 proto 78"},
		{[]string{"-6", "route", "show"}, "2001:db8:1::100 via fe80::2 dev home0 proto 78"},
		{[]string{"-6", "rule", "show"}, "1000:\tfrom 2001:db8:1:100::/64 lookup 1000 proto 78"},
		{[]string{"-4", "rule", "show"}, "1001:\tfrom 192.0.2.16/28 lookup 1000 proto 78"},
		{[]string{"-6", "neigh", "show", "proxy"}, "2001:db8:1::100 dev home0"},
		{[]string{"-4", "neigh", "show", "proxy"}, "192.0.2.5 dev home0"},
	} {
		if out := ipCmd(t, append([]string{"-n", ns}, c.args...)...); !strings.Contains(out, c.want) {
			t.Errorf("`ip %s` lacks %q:\n%s", strings.Join(c.args, " "), c.want, out)
		}
	}
	if v, err := ops.SysctlGet("net/ipv6/conf/home0/proxy_ndp"); err != nil || v != "1" {
		t.Errorf("proxy_ndp = %q, %v", v, err)
	}

	// A "crash": forget the reconciler; Cleanup must find our objects by
	// their markers.
	if err := Cleanup(ops, "ha", []ProxyScope{{Dev: "home0", Prefix: homePfx}, {Dev: "home0", Prefix: netip.MustParsePrefix("192.0.2.0/24")}}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-6", "route", "show", "table", "all"}, {"-4", "route", "show", "table", "all"},
		{"-6", "rule", "show"}, {"-4", "rule", "show"},
		{"-6", "neigh", "show", "proxy"}, {"-4", "neigh", "show", "proxy"},
	} {
		out := ipCmd(t, append([]string{"-n", ns}, args...)...)
		for _, bad := range []string{"proto 78", "2001:db8:1::100", "192.0.2.5", "lookup 1000"} {
			if strings.Contains(out, bad) {
				t.Errorf("after Cleanup `ip %s` still shows %q:\n%s", strings.Join(args, " "), bad, out)
			}
		}
	}
	if out := ipCmd(t, "-n", ns, "-4", "route", "show"); !strings.Contains(out, "198.51.100.0/24 dev home0 proto static") {
		t.Errorf("Cleanup removed a foreign route:\n%s", out)
	}
	if out := ipCmd(t, "-n", ns, "-6", "rule", "show"); !strings.Contains(out, "from 2001:db8:9::/64 lookup 2000") {
		t.Errorf("Cleanup removed a foreign rule:\n%s", out)
	}
}
