package transport

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/internal/testutil"
)

func listenICMP(t *testing.T, n testNS, cfg ICMPv6Config) *Listener[ICMPv6Packet] {
	t.Helper()
	var l *Listener[ICMPv6Packet]
	n.do(t, func() (err error) { l, err = ListenICMPv6(t.Context(), cfg); return })
	t.Cleanup(func() { l.Close() })
	return l
}

// neigh returns B's neighbour entry for a, as ip(8) prints it.
func neigh(t *testing.T, n testNS, a netip.Addr) string {
	return strings.TrimSpace(n.exec(t, "ip", "-6", "neigh", "show", a.String(), "dev", devB))
}

func TestSendNA(t *testing.T) {
	p := newPair(t)
	target := netip.MustParseAddr("2001:db8:1::77")
	old := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99}
	proxied := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x77}
	p.B.exec(t, "ip", "-6", "neigh", "add", target.String(), "lladdr", old.String(), "dev", devB, "nud", "stale")
	l := listenICMP(t, p.B, ICMPv6Config{Device: devB, Types: []uint8{icmpNeighborAdvert}})
	llA := p.A.linkLocal(t, devA)

	// O=0 with another link-layer address: RFC 4861 7.2.5 says keep the
	// cached one. Then O=1 (and R=1): replace it, and mark a router.
	for _, tc := range []struct {
		opt     NAOptions
		flags   byte
		wantMAC net.HardwareAddr
		wantRtr bool
	}{
		{NAOptions{LinkAddr: proxied}, 0, old, false},
		{NAOptions{LinkAddr: proxied, Override: true, Router: true}, 0xA0, proxied, true},
	} {
		p.A.do(t, func() error { return SendNA(devA, target, tc.opt) })
		got := recvOne(t, l.Packets())
		want := []byte{icmpNeighborAdvert, 0}
		if got.Src != llA || got.Dst != allNodes || got.HopLimit != 255 || got.IfIndex != p.IdxB ||
			len(got.Data) != 32 || !bytes.Equal(got.Data[:2], want) || got.Data[4] != tc.flags ||
			!bytes.Equal(got.Data[8:24], target.AsSlice()) ||
			!bytes.Equal(got.Data[24:], append([]byte{ndOptTargetLLA, 1}, proxied...)) {
			t.Errorf("NA %+v: got %+v (data %x)", tc.opt, got, got.Data)
		}
		// Let B's kernel process it (the raw copy comes first).
		time.Sleep(100 * time.Millisecond)
		e := neigh(t, p.B, target)
		if !strings.Contains(e, "lladdr "+tc.wantMAC.String()) || strings.Contains(e, " router") != tc.wantRtr {
			t.Errorf("after NA %+v B's neighbour entry is %q", tc.opt, e)
		}
	}

	// The interface's own address is the default TLLA.
	p.A.do(t, func() error { return SendNA(devA, target, NAOptions{Override: true}) })
	if got := recvOne(t, l.Packets()); !bytes.Equal(got.Data[26:], p.MACA) {
		t.Errorf("default TLLA %x, want %s", got.Data[26:], p.MACA)
	}
	p.A.do(t, func() error {
		if err := SendNA(devA, netip.MustParseAddr("ff02::1"), NAOptions{}); !errors.Is(err, ErrBadAddress) {
			t.Errorf("multicast target: err = %v", err)
		}
		return nil
	})
}

func TestSendRS(t *testing.T) {
	p := newPair(t)
	// Only routers join ff02::2; a host's kernel drops the RS before any
	// raw socket sees it.
	p.B.exec(t, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
	l := listenICMP(t, p.B, ICMPv6Config{Device: devB, Types: []uint8{icmpRouterSolicit}})
	llA := p.A.linkLocal(t, devA)

	p.A.do(t, func() error { return SendRS(devA) })
	got := recvOne(t, l.Packets())
	wantData := append([]byte{icmpRouterSolicit, 0}, got.Data[2:4]...) // checksum checked by the kernel
	wantData = append(wantData, 0, 0, 0, 0, ndOptSourceLLA, 1)
	wantData = append(wantData, p.MACA...)
	if got.Src != llA || got.Dst != allRouters || got.HopLimit != 255 || !bytes.Equal(got.Data, wantData) {
		t.Errorf("RS: %+v, data %x, want from %s data %x", got, got.Data, llA, wantData)
	}

	// Without a link-local address: from ::, and no SLLA option
	// (RFC 4861 4.1).
	p.A.exec(t, "ip", "-6", "addr", "flush", "dev", devA, "scope", "link")
	p.A.do(t, func() error { return SendRS(devA) })
	got = recvOne(t, l.Packets())
	if !got.Src.IsUnspecified() || len(got.Data) != rsLen || got.Data[0] != icmpRouterSolicit {
		t.Errorf("RS from ::: %+v, data %x", got, got.Data)
	}
}

func TestDAD(t *testing.T) {
	p := newPair(t)
	ctx := t.Context()
	free := netip.MustParseAddr("2001:db8:1::55")

	p.A.do(t, func() error {
		if err := DAD(ctx, devA, free, 500*time.Millisecond); err != nil {
			t.Errorf("DAD for a free address: %v", err)
		}
		return nil
	})

	// B owns AddrB (configured with nodad): its kernel defends it.
	p.A.do(t, func() error {
		err := DAD(ctx, devA, p.AddrB, time.Second)
		var dup *DuplicateError
		if !errors.Is(err, ErrDuplicateAddress) || !errors.As(err, &dup) {
			t.Fatalf("DAD for B's address: err = %v, want a duplicate", err)
		}
		// Linux answers from the defended address itself.
		if dup.Addr != p.AddrB || dup.From != p.AddrB || dup.Probe ||
			!bytes.Equal(dup.LinkAddr, p.MACB) {
			t.Errorf("duplicate: %+v", dup)
		}
		return nil
	})

	// Two nodes probing for the same address at once: the one listening
	// when the other's probe arrives sees a duplicate (RFC 4862 5.4.3).
	contested := netip.MustParseAddr("2001:db8:1::66")
	errB := make(chan error, 1)
	go func() {
		errB <- InNetNS(p.B.h, func() error { return DAD(ctx, devB, contested, 2*time.Second) })
	}()
	time.Sleep(300 * time.Millisecond)
	p.A.do(t, func() error { DAD(ctx, devA, contested, 100*time.Millisecond); return nil })
	err := <-errB
	var dup *DuplicateError
	if !errors.As(err, &dup) || !dup.Probe || !dup.From.IsUnspecified() {
		t.Errorf("B's DAD while A probes: err = %v", err)
	}

	// Cancellation.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	p.A.do(t, func() error {
		if err := DAD(cctx, devA, free, time.Second); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled DAD: err = %v", err)
		}
		return nil
	})
}

// TestListenRAFromRadvd runs a real radvd in B and receives its
// advertisements in A; a Router Solicitation from A must draw a unicast
// answer (AdvRASolicitedUnicast).
func TestListenRAFromRadvd(t *testing.T) {
	radvd := testutil.RequireTool(t, "radvd")
	p := newPair(t)
	p.B.exec(t, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
	dir := t.TempDir()
	conf := filepath.Join(dir, "radvd.conf")
	if err := os.WriteFile(conf, []byte(`interface `+devB+` {
	AdvSendAdvert on;
	MinRtrAdvInterval 60;
	MaxRtrAdvInterval 100;
	AdvRASolicitedUnicast on;
	prefix 2001:db8:1::/64 {};
};
`), 0o644); err != nil {
		t.Fatal(err)
	}
	l := func() *Listener[ICMPv6Packet] {
		var l *Listener[ICMPv6Packet]
		p.A.do(t, func() (err error) { l, err = ListenRA(t.Context(), devA); return })
		t.Cleanup(func() { l.Close() })
		return l
	}()
	log := filepath.Join(dir, "radvd.log")
	cmd := exec.Command("ip", "netns", "exec", p.B.name, radvd, "-n", "-C", conf,
		"-p", filepath.Join(dir, "radvd.pid"), "-m", "logfile", "-l", log, "-d", "1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(log)
			t.Logf("radvd log:\n%s", b)
		}
	})
	llA, llB := p.A.linkLocal(t, devA), p.B.linkLocal(t, devB)

	check := func(what string, ra ICMPv6Packet, dst netip.Addr) {
		t.Helper()
		if len(ra.Data) < 16 || ra.Data[0] != icmpRouterAdvert || ra.Data[1] != 0 {
			t.Errorf("%s: not an RA: %x", what, ra.Data)
		}
		if !ra.Src.IsLinkLocalUnicast() || ra.Src != llB || ra.Dst != dst || ra.HopLimit != 255 || ra.IfIndex != p.IdxA {
			t.Errorf("%s: %+v, want from %s to %s with hop limit 255 on %d", what, ra, llB, dst, p.IdxA)
		}
	}
	check("initial RA", recvOne(t, l.Packets()), allNodes)

	p.A.do(t, func() error { return SendRS(devA) })
	check("solicited RA", recvOne(t, l.Packets()), llA)
}

// TestNASenderReuse sends several advertisements through one NASender:
// one socket, the interface looked up once, every message on the wire.
func TestNASenderReuse(t *testing.T) {
	p := newPair(t)
	l := listenICMP(t, p.B, ICMPv6Config{Device: devB, Types: []uint8{icmpNeighborAdvert}})
	var n *NASender
	p.A.do(t, func() error { n = OpenNASender(devA); return nil })
	defer n.Close()
	for i := range 5 {
		target := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 15: byte(i + 1)})
		// The socket is opened (in A's namespace) by the first Send.
		p.A.do(t, func() error { return n.Send(target, NAOptions{Override: true, Router: true}) })
		got := recvOne(t, l.Packets())
		if !bytes.Equal(got.Data[8:24], target.AsSlice()) || got.Data[4] != 0xA0 || !bytes.Equal(got.Data[26:], p.MACA) {
			t.Errorf("NA %d: data %x", i, got.Data)
		}
	}
	first := n.learnt
	p.A.do(t, func() error { return n.Send(netip.MustParseAddr("2001:db8:1::99"), NAOptions{}) })
	recvOne(t, l.Packets())
	if n.learnt != first {
		t.Errorf("interface looked up again within %v", naLinkRefresh)
	}
}
