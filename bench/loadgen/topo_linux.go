package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
)

// Addresses of the topology (documentation ranges only).
var (
	haAddr     = netip.MustParseAddr("2001:db8:1::1")
	homePrefix = netip.MustParsePrefix("2001:db8:1::/64")
	linkHA     = netip.MustParseAddr("2001:db8:ff::1")
	linkLG     = netip.MustParseAddr("2001:db8:ff::2")
	coaSpace   = netip.MustParsePrefix("2001:db8:f0::/48")
	macHA      = "02:00:5e:00:53:01"
	macLG      = "02:00:5e:00:53:02"
)

// topo is the two namespaces: the home agent's (veth0 and the home link,
// home0, one end of a veth pair: no dummy module here) and the load generator's (veth0, the care-of space local).
type topo struct {
	haNS, lgNS string
}

func run(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func newTopo() (*topo, error) {
	id := fmt.Sprintf("%d", os.Getpid())
	t := &topo{haNS: "lgha-" + id, lgNS: "lgmr-" + id}
	va, vb := "lgva"+id, "lgvb"+id
	cmds := [][]string{
		{"ip", "netns", "add", t.haNS},
		{"ip", "netns", "add", t.lgNS},
		{"ip", "link", "add", va, "type", "veth", "peer", "name", vb},
		{"ip", "link", "set", va, "netns", t.haNS, "name", "veth0"},
		{"ip", "link", "set", vb, "netns", t.lgNS, "name", "veth0"},
	}
	for _, ns := range []string{t.haNS, t.lgNS} {
		cmds = append(cmds,
			[]string{"ip", "-n", ns, "link", "set", "lo", "up"},
			[]string{"ip", "-n", ns, "link", "set", "veth0", "up"},
		)
	}
	cmds = append(cmds,
		[]string{"ip", "-n", t.haNS, "-6", "addr", "add", linkHA.String() + "/64", "dev", "veth0", "nodad"},
		[]string{"ip", "-n", t.haNS, "link", "add", "home0", "type", "veth", "peer", "name", "home0p"},
		[]string{"ip", "-n", t.haNS, "link", "set", "home0p", "up"},
		[]string{"ip", "-n", t.haNS, "link", "set", "home0", "up"},
		[]string{"ip", "-n", t.haNS, "-6", "addr", "add", haAddr.String() + "/64", "dev", "home0", "nodad"},
		[]string{"ip", "-n", t.haNS, "-6", "route", "add", coaSpace.String(), "via", linkLG.String()},
		[]string{"ip", "-n", t.lgNS, "-6", "addr", "add", linkLG.String() + "/64", "dev", "veth0", "nodad"},
		[]string{"ip", "-n", t.lgNS, "-6", "route", "add", homePrefix.String(), "via", linkHA.String()},
		[]string{"ip", "-n", t.lgNS, "-6", "route", "add", "local", coaSpace.String(), "dev", "lo"},
		// The kernels answer every BU and BA with a Parameter Problem (no
		// CONFIG_IPV6_MIP6); keep that cost as on a real deployment.
	)
	for _, c := range cmds {
		if err := run(c...); err != nil {
			t.Close()
			return nil, err
		}
	}
	// Static neighbour entries both ways: the first measured BUs must not
	// wait for neighbour discovery on a link that has just come up.
	for _, c := range [][]string{
		{"ip", "-n", t.haNS, "link", "set", "veth0", "address", macHA},
		{"ip", "-n", t.lgNS, "link", "set", "veth0", "address", macLG},
		{"ip", "-n", t.haNS, "-6", "neigh", "replace", linkLG.String(), "lladdr", macLG, "dev", "veth0", "nud", "permanent"},
		{"ip", "-n", t.lgNS, "-6", "neigh", "replace", linkHA.String(), "lladdr", macHA, "dev", "veth0", "nud", "permanent"},
	} {
		if err := run(c...); err != nil {
			t.Close()
			return nil, err
		}
	}
	return t, nil
}

// Close removes both namespaces (and with them the veth pair).
func (t *topo) Close() {
	for _, ns := range []string{t.haNS, t.lgNS} {
		_ = run("ip", "netns", "del", ns)
	}
}

// hoa returns router i's home address: 2001:db8:1::1:0:0 + i.
func hoa(i int) netip.Addr {
	b := homePrefix.Addr().As16()
	b[9] = 1
	b[12], b[13], b[14], b[15] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
	return netip.AddrFrom16(b)
}

// index is the inverse of hoa.
func index(a netip.Addr) (int, bool) {
	b := a.As16()
	if !homePrefix.Contains(a) || b[9] != 1 {
		return 0, false
	}
	return int(b[12])<<24 | int(b[13])<<16 | int(b[14])<<8 | int(b[15]), true
}

// coa returns router i's care-of address in generation g (a move takes
// the next generation): 2001:db8:f0:g::1:0:0 + i.
func coa(i, g int) netip.Addr {
	b := coaSpace.Addr().As16()
	b[6], b[7] = byte(g>>8), byte(g)
	b[9] = 1
	b[12], b[13], b[14], b[15] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
	return netip.AddrFrom16(b)
}

// mnp returns router i's mobile network prefix: 2001:db8:8000::/64 + i.
func mnp(i int) netip.Prefix {
	b := [16]byte{0x20, 0x01, 0x0d, 0xb8}
	v := 0x80000000 + uint32(i)
	b[4], b[5], b[6], b[7] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	return netip.PrefixFrom(netip.AddrFrom16(b), 64)
}

func nai(i int) string { return fmt.Sprintf("mr%d@loadgen.example", i) }

func spi(i int) uint32 { return 1000 + uint32(i) }

// key is router i's MN-HA key: derived, so both ends agree without storing.
func key(i int) []byte {
	s := sha256.Sum256([]byte(nai(i)))
	return s[:16]
}

// haConfig is the ha.toml text.
type haConfig struct {
	n, prefixes     int
	dad             bool
	stateDir, sock  string
	logLevel        string
	maxLife         string
	rateTotal, rate int
}

func (c haConfig) render() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `[ha]
address = %q
home_prefix = %q
home_interface = "home0"
max_lifetime = %q
dataplane = "userspace"
state_dir = %q
dad = %v

[rate_limit]
per_source = %d
total = %d

[log]
level = %q

[status]
socket = %q
`, haAddr, homePrefix, c.maxLife, c.stateDir, c.dad, c.rate, c.rateTotal, c.logLevel, c.sock)
	for i := range c.n {
		fmt.Fprintf(&b, "\n[[mobile_router]]\nnai = %q\nhome_address = %q\n", nai(i), hoa(i))
		if c.prefixes > 0 {
			fmt.Fprintf(&b, "prefixes = [%q]\n", mnp(i))
		}
		fmt.Fprintf(&b, "spi = %d\nkey = %q\n", spi(i), hex.EncodeToString(key(i)))
	}
	return []byte(b.String())
}
