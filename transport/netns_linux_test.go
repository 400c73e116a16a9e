package transport

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/internal/testutil"
	"github.com/vishvananda/netns"
)

// testNS is a network namespace made for one test.
type testNS struct {
	name string
	h    netns.NsHandle
}

// pair is two namespaces joined by a veth pair: "a" in A, "b" in B.
type pair struct {
	A, B         testNS
	AddrA, AddrB netip.Addr // 2001:db8:1::1 and ::2, configured with nodad
	V4A, V4B     netip.Addr // 192.0.2.1 and .2
	MACA, MACB   net.HardwareAddr
	IdxA, IdxB   int
}

// run runs a command and fails the test if it fails.
func run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newNS makes a namespace with a name unique to this run and removes it
// when the test ends. DAD is off inside it so that link-local addresses
// are usable at once.
func newNS(t testing.TB, tag string) testNS {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "ip")
	var r [3]byte
	rand.Read(r[:])
	name := fmt.Sprintf("nemo-tr-%d-%s-%s", os.Getpid(), tag, hex.EncodeToString(r[:]))
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("open namespace %s: %v", name, err)
	}
	t.Cleanup(func() { h.Close() })
	for _, k := range []string{"all", "default"} {
		run(t, "ip", "netns", "exec", name, "sysctl", "-qw",
			"net.ipv6.conf."+k+".accept_dad=0", "net.ipv6.conf."+k+".router_solicitations=0")
	}
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	return testNS{name: name, h: h}
}

// exec runs a command inside the namespace.
func (n testNS) exec(t testing.TB, args ...string) string {
	t.Helper()
	return run(t, append([]string{"ip", "netns", "exec", n.name}, args...)...)
}

// do runs fn on a thread inside the namespace.
func (n testNS) do(t testing.TB, fn func() error) {
	t.Helper()
	if err := InNetNS(n.h, fn); err != nil {
		t.Fatal(err)
	}
}

func newPair(t testing.TB) *pair {
	t.Helper()
	p := &pair{
		A: newNS(t, "a"), B: newNS(t, "b"),
		AddrA: netip.MustParseAddr("2001:db8:1::1"), AddrB: netip.MustParseAddr("2001:db8:1::2"),
		V4A: netip.MustParseAddr("192.0.2.1"), V4B: netip.MustParseAddr("192.0.2.2"),
		MACA: net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}, MACB: net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b},
	}
	run(t, "ip", "-n", p.A.name, "link", "add", "name", devA, "address", p.MACA.String(), "type", "veth",
		"peer", "name", devB, "address", p.MACB.String(), "netns", p.B.name)
	for _, s := range []struct {
		ns          testNS
		dev         string
		addr, addr4 netip.Addr
	}{{p.A, devA, p.AddrA, p.V4A}, {p.B, devB, p.AddrB, p.V4B}} {
		run(t, "ip", "-n", s.ns.name, "addr", "add", s.addr.String()+"/64", "dev", s.dev, "nodad")
		run(t, "ip", "-n", s.ns.name, "addr", "add", s.addr4.String()+"/24", "dev", s.dev)
		run(t, "ip", "-n", s.ns.name, "link", "set", s.dev, "up")
	}
	// Packets sent before the kernel's link watcher has marked the veth
	// running are dropped: wait for that.
	p.A.waitUp(t, devA)
	p.B.waitUp(t, devB)
	p.A.do(t, func() (err error) { p.IdxA, err = ifIndexByName(devA); return })
	p.B.do(t, func() (err error) { p.IdxB, err = ifIndexByName(devB); return })
	return p
}

// linkLocal returns the link-local address the kernel gave dev in n.
func (n testNS) linkLocal(t testing.TB, dev string) netip.Addr {
	t.Helper()
	var ll netip.Addr
	n.do(t, func() error {
		l, err := linkInfo(dev)
		ll = l.linkLocal
		return err
	})
	if !ll.IsValid() {
		t.Fatalf("%s has no link-local address", dev)
	}
	return ll
}

// The veth ends: devA in namespace A, devB in B. (Names like "a" would
// be read by ip(8) as abbreviations of keywords.)
const (
	devA = "veth-a"
	devB = "veth-b"
)

// waitUp waits until dev's operational state is up.
func (n testNS) waitUp(t testing.TB, dev string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out := n.exec(t, "cat", "/sys/class/net/"+dev+"/operstate")
		if strings.TrimSpace(out) == "up" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s in %s not up: %s", dev, n.name, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
