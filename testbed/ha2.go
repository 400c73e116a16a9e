package testbed

import "net/netip"

// The second home agent (Options.SecondHA): a host of its own on the home
// link, next to HA, for home agent failover. It is built like HA (proxy
// NDP on its home interface, forwarding, default routes via CORE) but runs
// no radvd: HA's router advertisements serve the home link.
const (
	// NodeHA2 is the second home agent's node (only with SecondHA).
	NodeHA2 = "ha2"
	// IfHA2Home is HA2 on the home link; IfSWHA2 its bridge port.
	IfHA2Home = "ha2-home"
	IfSWHA2   = "sw-ha2"
)

// HA26 and HA24 are the second home agent's addresses on the home link.
var (
	HA26 = netip.MustParseAddr("2001:db8:1::2")
	HA24 = netip.MustParseAddr("198.51.100.2")
)

// addSecondHA builds NodeHA2 once the rest of the testbed stands; Close
// removes its namespace with the others.
func (tb *Testbed) addSecondHA() error {
	if err := tb.addNS(NodeHA2); err != nil {
		return err
	}
	if err := tb.sysctl(NodeHA2,
		"net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
		"net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
		"net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"); err != nil {
		return err
	}
	if err := tb.ipBatch(NodeHA2, []string{
		"link add " + IfHA2Home + " type veth peer name " + IfSWHA2 + " netns " + tb.NS(NodeSW),
	}); err != nil {
		return err
	}
	if err := tb.ipBatch(NodeSW, []string{
		"link set " + IfSWHA2 + " master " + IfSWBridge,
		"link set " + IfSWHA2 + " up",
	}); err != nil {
		return err
	}
	if err := tb.sysctl(NodeHA2,
		"net.ipv6.conf."+IfHA2Home+".proxy_ndp=1",
		"net.ipv6.conf."+IfHA2Home+".accept_ra=0"); err != nil {
		return err
	}
	return tb.ipBatch(NodeHA2, []string{
		"link set lo up",
		"addr add " + netip.PrefixFrom(HA26, 64).String() + " dev " + IfHA2Home + " nodad",
		"addr add " + netip.PrefixFrom(HA24, 24).String() + " dev " + IfHA2Home,
		"link set " + IfHA2Home + " up",
		"route add ::/0 via " + CoreHome6.String() + " dev " + IfHA2Home,
		"route add 0.0.0.0/0 via " + CoreHome4.String() + " dev " + IfHA2Home,
	})
}
