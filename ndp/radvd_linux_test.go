package ndp

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"

	mdndp "github.com/mdlayher/ndp"
	"golang.org/x/net/ipv6"

	"github.com/nemo-mobility/nemo/internal/testutil"
)

// radvdConf configures radvd as a NEMO home agent on veth0. Every value is
// distinct from its default so the test can tell it was carried.
const radvdConf = `
interface veth0 {
	AdvSendAdvert on;
	MinRtrAdvInterval 1;
	MaxRtrAdvInterval 3;
	AdvDefaultLifetime 1200;
	AdvCurHopLimit 61;
	AdvManagedFlag off;
	AdvOtherConfigFlag on;
	AdvReachableTime 30000;
	AdvRetransTimer 1000;
	AdvDefaultPreference high;
	AdvLinkMTU 1400;
	AdvSourceLLAddress on;
	AdvIntervalOpt on;
	AdvHomeAgentFlag on;
	AdvHomeAgentInfo on;
	HomeAgentPreference 10;
	HomeAgentLifetime 1800;
	AdvMobRtrSupportFlag on;
	prefix 2001:db8:1::1/64 {
		AdvOnLink on;
		AdvAutonomous on;
		AdvRouterAddr on;
		AdvValidLifetime 86400;
		AdvPreferredLifetime 14400;
	};
};
`

// routerMAC is the MAC address given to radvd's interface.
const routerMAC = "02:00:5e:00:53:01"

// TestRadvdRouterAdvertisement runs radvd as a real peer in one namespace,
// receives its Router Advertisement on a raw ICMPv6 socket (mdlayher/ndp's
// Conn) in another, and checks every field, the checksum, a byte-exact
// re-encoding and the resulting Home Agents List entry.
func TestRadvdRouterAdvertisement(t *testing.T) {
	testutil.RequireRoot(t)
	radvd := testutil.RequireTool(t, "radvd")
	testutil.RequireTool(t, "ip")

	nsR := newNetns(t, "ndpr") // router / home agent running radvd
	nsH := newNetns(t, "ndph") // host that listens

	run(t, "ip", "-n", nsR, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", nsH)
	nsRun(t, nsR, "sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1")
	nsRun(t, nsR, "sysctl", "-q", "-w", "net.ipv6.conf.veth0.accept_dad=0")
	nsRun(t, nsH, "sysctl", "-q", "-w", "net.ipv6.conf.veth1.accept_dad=0")
	// The host must not act on the RA (no SLAAC, no default route): the
	// test only observes it.
	nsRun(t, nsH, "sysctl", "-q", "-w", "net.ipv6.conf.veth1.accept_ra=0")
	run(t, "ip", "-n", nsR, "link", "set", "veth0", "address", routerMAC)
	run(t, "ip", "-n", nsR, "addr", "add", "2001:db8:1::1/64", "dev", "veth0", "nodad")
	run(t, "ip", "-n", nsR, "link", "set", "veth0", "up")
	run(t, "ip", "-n", nsH, "link", "set", "veth1", "up")

	// Open the listening socket before radvd starts, so the first RA is
	// not missed.
	var conn *mdndp.Conn
	var ifi *net.Interface
	err := inNetns(t, nsH, func() error {
		var err error
		if ifi, err = net.InterfaceByName("veth1"); err != nil {
			return err
		}
		conn, _, err = mdndp.Listen(ifi, mdndp.Unspecified)
		return err
	})
	if err != nil {
		t.Fatalf("listen in %s: %v", nsH, err)
	}
	t.Cleanup(func() { conn.Close() })
	var f ipv6.ICMPFilter
	f.SetAll(true)
	f.Accept(ipv6.ICMPTypeRouterAdvertisement)
	if err := conn.SetICMPFilter(&f); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	conf := filepath.Join(dir, "radvd.conf")
	if err := os.WriteFile(conf, []byte(radvdConf), 0o644); err != nil {
		t.Fatal(err)
	}
	logf := filepath.Join(dir, "radvd.log")
	cmd := exec.Command("ip", "netns", "exec", nsR, radvd, "-n", "-d", "1",
		"-C", conf, "-p", filepath.Join(dir, "radvd.pid"), "-m", "logfile", "-l", logf)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		// ip netns exec execs radvd, so this is radvd's own pid.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			log, _ := os.ReadFile(logf)
			t.Logf("radvd output:\n%s\nradvd log:\n%s", stderr.String(), log)
		}
	})

	// Wait for one RA from radvd's link-local address.
	buf := make([]byte, 1500)
	deadline := time.Now().Add(20 * time.Second)
	if err := conn.SetReadDeadline(deadline); err != nil {
		t.Fatal(err)
	}
	var (
		msg []byte
		cm  *ipv6.ControlMessage
		src netip.Addr
	)
	for {
		select {
		case err := <-exited:
			t.Fatalf("radvd exited early: %v", err)
		default:
		}
		n, c, from, err := conn.ReadRaw(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("no Router Advertisement from radvd within 20 s")
			}
			t.Fatal(err)
		}
		if len(buf[:n]) > 0 && buf[0] == byte(TypeRouterAdvertisement) && from.IsLinkLocalUnicast() {
			msg, cm, src = bytes.Clone(buf[:n]), c, from
			break
		}
	}

	// IP-level facts RFC 4861 6.1.2 asks a receiver to check.
	if cm == nil || cm.HopLimit != 255 {
		t.Errorf("hop limit: control message %+v, want 255", cm)
	}
	dst, _ := netip.AddrFromSlice(cm.Dst)
	if dst != netip.MustParseAddr("ff02::1") {
		t.Errorf("destination %v, want ff02::1", dst)
	}
	// Checksum computed by the sender's kernel, verified by our code.
	if err := VerifyChecksum(src.WithZone(""), dst, msg); err != nil {
		t.Errorf("VerifyChecksum on radvd's RA from %v: %v", src, err)
	}

	ra, err := ParseRouterAdvertisement(msg)
	if err != nil {
		t.Fatalf("parse radvd RA %x: %v", msg, err)
	}
	mac, _ := net.ParseMAC(routerMAC)
	checks := []struct {
		name      string
		got, want any
	}{
		{"CurHopLimit", ra.CurHopLimit, uint8(61)},
		{"Managed", ra.Managed, false},
		{"Other", ra.Other, true},
		{"HomeAgent", ra.HomeAgent, true},
		{"RouterPreference", ra.RouterPreference, PreferenceHigh},
		{"RouterLifetime", ra.RouterLifetime, 1200 * time.Second},
		{"ReachableTime", ra.ReachableTime, 30 * time.Second},
		{"RetransTimer", ra.RetransTimer, time.Second},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if a, ok := ra.SourceLLA(); !ok || !bytes.Equal(a, mac) {
		t.Errorf("SourceLLA = %v, %v; want %v", a, ok, mac)
	}
	if m, ok := ra.LinkMTU(); !ok || m != 1400 {
		t.Errorf("LinkMTU = %v, %v; want 1400", m, ok)
	}
	if d, ok := ra.AdvInterval(); !ok || d != 3*time.Second {
		t.Errorf("AdvInterval = %v, %v; want 3s (MaxRtrAdvInterval)", d, ok)
	}
	wantHAI := HomeAgentInformation{MobileRouter: true, Preference: 10, Lifetime: 1800 * time.Second}
	if h, ok := ra.HomeAgentInfo(); !ok || h != wantHAI {
		t.Errorf("HomeAgentInfo = %+v, %v; want %+v", h, ok, wantHAI)
	}
	wantPIO := PrefixInformation{
		Prefix: netip.PrefixFrom(netip.MustParseAddr("2001:db8:1::1"), 64),
		OnLink: true, Autonomous: true, RouterAddress: true,
		ValidLifetime: 86400 * time.Second, PreferredLifetime: 14400 * time.Second,
	}
	if p := ra.Prefixes(); len(p) != 1 || p[0] != wantPIO {
		t.Errorf("Prefixes = %+v, want [%+v]", p, wantPIO)
	}
	if got := ra.RouterAddresses(); len(got) != 1 || got[0] != netip.MustParseAddr("2001:db8:1::1") {
		t.Errorf("RouterAddresses = %v, want the full address 2001:db8:1::1", got)
	}

	// Our encoding of what we parsed is radvd's message byte for byte
	// (the checksum aside).
	out, err := ra.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(msg) || !bytes.Equal(out[:2], msg[:2]) || !bytes.Equal(out[4:], msg[4:]) {
		t.Errorf("re-encoding differs:\n radvd %x\n ours  %x", msg, out)
	}

	// And the Home Agents List learns the home agent from it.
	var l HomeAgentsList
	now := time.Now()
	l.Update(now, src, ra)
	want := []HomeAgent{{
		LinkLocal:    src.WithZone(""),
		Addresses:    []netip.Addr{netip.MustParseAddr("2001:db8:1::1")},
		Preference:   10,
		MobileRouter: true,
		Expires:      now.Add(1800 * time.Second),
	}}
	if got := l.Ordered(now); !reflect.DeepEqual(got, want) {
		t.Errorf("Home Agents List = %+v, want %+v", got, want)
	}
	if addrs, r := l.ReplyAddresses(now, nil, true); len(addrs) != 1 || !r {
		t.Errorf("ReplyAddresses(R) = %v, %v", addrs, r)
	}
}
