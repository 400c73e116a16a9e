package transport

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestNDProxy: A proxies an address on its link; B's duplicate address
// detection for it finds A's answer, and B's kernel resolves it to A's
// link-layer address. Addresses A does not proxy get no answer.
func TestNDProxy(t *testing.T) {
	p := newPair(t)
	target := netip.MustParseAddr("2001:db8:1::100")
	other := netip.MustParseAddr("2001:db8:1::200")
	var nd *NDProxy
	p.A.do(t, func() (err error) {
		nd, err = ListenNDProxy(NDProxyConfig{Interface: devA, Lookup: func(a netip.Addr) (bool, bool) { return true, a == target }})
		return err
	})
	defer nd.Close()

	// DAD for the proxied address fails on A's (multicast) answer.
	p.B.do(t, func() error {
		err := DAD(context.Background(), devB, target, 500*time.Millisecond)
		var dup *DuplicateError
		if !errors.As(err, &dup) || !strings.EqualFold(dup.LinkAddr.String(), p.MACA.String()) {
			a, i, m, e := nd.Counters()
			t.Errorf("DAD for the proxied address: %v (proxy answered %d ignored %d malformed %d send errors %d)", err, a, i, m, e)
		}
		if err := DAD(context.Background(), devB, other, 500*time.Millisecond); err != nil {
			t.Errorf("DAD for an address nobody proxies: %v", err)
		}
		return nil
	})

	// Address resolution: B sends to the target, its kernel solicits, A
	// answers with its own link-layer address.
	p.B.do(t, func() error {
		c, err := net.DialUDP("udp6", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(target, 9)))
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("x"))
		return err
	})
	deadline := time.Now().Add(3 * time.Second)
	for {
		e := neigh(t, p.B, target)
		if strings.Contains(e, "lladdr "+p.MACA.String()) && strings.Contains(e, " router") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B's neighbour entry for the proxied address: %q", e)
		}
		time.Sleep(50 * time.Millisecond)
	}
	answered, ignored, malformed, sendErrors := nd.Counters()
	if answered < 2 || ignored < 1 || malformed != 0 || sendErrors != 0 {
		t.Errorf("counters: answered %d ignored %d malformed %d send errors %d", answered, ignored, malformed, sendErrors)
	}
}
