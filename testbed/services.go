package testbed

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Service names accepted by Service and RestartService.
const (
	SvcRadvdCore  = "radvd-core"  // CORE's router advertisements on the home link
	SvcRadvdHA    = "radvd-ha"    // the home agent's advertisements (H flag, HA info)
	SvcRadvdAR2   = "radvd-ar2"   // FN2's advertisements
	SvcRadvdAR3   = "radvd-ar3"   // FN3's advertisements
	SvcDnsmasqAR1 = "dnsmasq-ar1" // FN1's DHCPv4 server
	SvcDnsmasqAR3 = "dnsmasq-ar3" // FN3's DHCPv4 server
)

// NATTable and NATChain name AR1's nftables masquerade rule.
const (
	NATTable = "nemo_nat"
	NATChain = "postrouting"
)

// radvd configurations. The advertisement intervals are short so that
// tests do not wait (RFC 6275 7.5 allows MinRtrAdvInterval down to 0.03 s
// on links with mobile nodes).
const radvdCoreConf = `interface ` + IfCoreHome + ` {
	AdvSendAdvert on;
	MinRtrAdvInterval 1;
	MaxRtrAdvInterval 3;
	AdvDefaultLifetime 30;
	AdvIntervalOpt on;
	prefix 2001:db8:1::/64 {
		AdvOnLink on;
		AdvAutonomous on;
	};
};
`

// The home agent's advertisements: H flag, no default router (lifetime 0),
// Home Agent Information option, NEMO support flag, Advertisement Interval
// option, and the prefix with the R flag carrying the HA's address.
const radvdHAConf = `interface ` + IfHAHome + ` {
	AdvSendAdvert on;
	MinRtrAdvInterval 1;
	MaxRtrAdvInterval 3;
	AdvDefaultLifetime 0;
	AdvHomeAgentFlag on;
	AdvHomeAgentInfo on;
	HomeAgentLifetime 1800;
	HomeAgentPreference 10;
	AdvMobRtrSupportFlag on;
	AdvIntervalOpt on;
	prefix 2001:db8:1::1/64 {
		AdvOnLink on;
		AdvAutonomous on;
		AdvRouterAddr on;
	};
};
`

const radvdARConf = `interface %s {
	AdvSendAdvert on;
	MinRtrAdvInterval 1;
	MaxRtrAdvInterval 3;
	AdvDefaultLifetime 30;
	AdvIntervalOpt on;
	prefix %s {
		AdvOnLink on;
		AdvAutonomous on;
	};
};
`

// AR1's NAT: masquerade the private FN1 network out of the public side.
const nftAR1 = `table ip ` + NATTable + ` {
	chain ` + NATChain + ` {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "` + IfAR1Core + `" ip saddr 198.18.1.0/24 counter masquerade
	}
}
`

// LeaseFile returns the dnsmasq lease file of an access router ("ar1" or
// "ar3").
func (tb *Testbed) LeaseFile(node string) string {
	return filepath.Join(tb.runDir, "dnsmasq-"+node+".leases")
}

func (tb *Testbed) writeConf(name, text string) (string, error) {
	path := filepath.Join(tb.runDir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return "", fmt.Errorf("testbed: writing %s: %w", name, err)
	}
	return path, nil
}

func (tb *Testbed) radvdArgv(name, conf string) []string {
	return []string{"radvd", "--nodaemon", "--config", conf,
		"--pidfile", filepath.Join(tb.runDir, name+".pid"), "--logmethod", "stderr"}
}

func (tb *Testbed) dnsmasqArgv(node, ifname string, first, last, mask string) []string {
	return []string{"dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
		"--no-resolv", "--no-hosts", "--port=0", "--log-facility=-", "--log-dhcp",
		"--user=root", "--group=root", "--bind-interfaces", "--interface=" + ifname,
		"--dhcp-authoritative",
		"--dhcp-range=" + first + "," + last + "," + mask + ",2m",
		"--dhcp-leasefile=" + tb.LeaseFile(node),
		"--pid-file=" + filepath.Join(tb.runDir, "dnsmasq-"+node+".pid")}
}

func (tb *Testbed) startServices() error {
	type rconf struct{ name, node, text string }
	radvds := []rconf{
		{SvcRadvdCore, NodeCore, radvdCoreConf},
		{SvcRadvdHA, NodeHA, radvdHAConf},
		{SvcRadvdAR2, NodeAR2, fmt.Sprintf(radvdARConf, IfAR2FN2, FN2Prefix6)},
		{SvcRadvdAR3, NodeAR3, fmt.Sprintf(radvdARConf, IfAR3FN3, FN3Prefix6)},
	}
	for _, r := range radvds {
		conf, err := tb.writeConf(r.name+".conf", r.text)
		if err != nil {
			return err
		}
		// Check the configuration first, for a clear error.
		if _, err := tb.exec(tb.buildCtx(), r.node, tb.opts.ExecTimeout, "radvd", "--configtest", "--config", conf); err != nil {
			return fmt.Errorf("testbed: radvd configuration %s: %w", r.name, err)
		}
		tb.services[r.name] = &service{node: r.node, argv: tb.radvdArgv(r.name, conf)}
	}
	tb.services[SvcDnsmasqAR1] = &service{node: NodeAR1, argv: tb.dnsmasqArgv(NodeAR1, IfAR1FN1,
		FN1PoolStart.String(), FN1PoolEnd.String(), "255.255.255.0")}
	tb.services[SvcDnsmasqAR3] = &service{node: NodeAR3, argv: tb.dnsmasqArgv(NodeAR3, IfAR3FN3,
		FN3PoolStart.String(), FN3PoolEnd.String(), "255.255.255.128")}
	for _, node := range []string{NodeAR1, NodeAR3} {
		if err := os.WriteFile(tb.LeaseFile(node), nil, 0o644); err != nil {
			return fmt.Errorf("testbed: lease file: %w", err)
		}
	}

	if !tb.opts.NoNAT {
		conf, err := tb.writeConf("nft-ar1.conf", nftAR1)
		if err != nil {
			return err
		}
		if _, err := tb.exec(tb.buildCtx(), NodeAR1, tb.opts.ExecTimeout, "nft", "-f", conf); err != nil {
			return fmt.Errorf("testbed: AR1 NAT rules: %w", err)
		}
	}

	names := tb.ServiceNames()
	for _, name := range names {
		s := tb.services[name]
		p, err := tb.Start(s.node, s.argv, nil)
		if err != nil {
			return err
		}
		s.proc = p
	}
	// A daemon that dislikes its configuration or environment exits at
	// once: give them a moment and check.
	time.Sleep(300 * time.Millisecond)
	for _, name := range names {
		if p := tb.services[name].proc; p.Exited() {
			return fmt.Errorf("testbed: %s exited at start (%v): %w:\n%s", name, p.Wait(), ErrCommand, p.Log())
		}
	}
	return nil
}

// ServiceNames returns the names of the testbed's own services.
func (tb *Testbed) ServiceNames() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	names := make([]string, 0, len(tb.services))
	for n := range tb.services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Service returns the running process of one of the testbed's services
// (SvcRadvdCore, SvcDnsmasqAR1, ...), or nil for an unknown name. Stop it
// to simulate a failed server; RestartService starts it again.
func (tb *Testbed) Service(name string) *Proc {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	s := tb.services[name]
	if s == nil {
		return nil
	}
	return s.proc
}

// RestartService stops a service (if it still runs) and starts it again
// with the same command line.
func (tb *Testbed) RestartService(name string) (*Proc, error) {
	tb.mu.Lock()
	s := tb.services[name]
	var old *Proc
	if s != nil {
		old = s.proc
	}
	tb.mu.Unlock()
	if s == nil {
		return nil, fmt.Errorf("service %q: %w", name, ErrUnknownNode)
	}
	if old != nil {
		if err := old.Stop(); err != nil {
			return nil, err
		}
	}
	p, err := tb.Start(s.node, s.argv, nil)
	if err != nil {
		return nil, err
	}
	tb.mu.Lock()
	s.proc = p
	tb.mu.Unlock()
	return p, nil
}
