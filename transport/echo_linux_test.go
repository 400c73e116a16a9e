package transport

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// snmp6 reads one counter of /proc/net/snmp6 inside n.
func (n testNS) snmp6(t *testing.T, name string) int {
	t.Helper()
	for _, l := range strings.Split(n.exec(t, "cat", "/proc/net/snmp6"), "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && f[0] == name {
			v, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("no %s in /proc/net/snmp6", name)
	return 0
}

// TestEchoSender: an echo request from an address on lo (as the mobile
// router's home address away from home) follows the policy rule for that
// source, B answers it (so the checksum the kernel filled is right), and
// the reply reaches A's kernel while the sender's socket reads nothing.
func TestEchoSender(t *testing.T) {
	p := newPair(t)
	src := netip.MustParseAddr("2001:db8:99::7")
	p.A.exec(t, "ip", "-6", "addr", "add", src.String()+"/128", "dev", "lo")
	p.A.exec(t, "ip", "-6", "rule", "add", "from", src.String(), "lookup", "100")
	p.A.exec(t, "ip", "-6", "route", "add", "default", "via", p.AddrB.String(), "dev", devA, "table", "100")
	p.B.exec(t, "ip", "-6", "route", "add", src.String()+"/128", "via", p.AddrA.String())
	var e *EchoSender
	p.A.do(t, func() (err error) { e, err = OpenEchoSender(0x4e4d); return })
	defer e.Close()
	before := p.A.snmp6(t, "Icmp6InEchoReplies")
	for i := range 3 {
		seq, err := e.Send(src, p.AddrB)
		if err != nil {
			t.Fatal(err)
		}
		if seq != uint16(i+1) {
			t.Errorf("sequence %d, want %d", seq, i+1)
		}
	}
	deadline := time.Now().Add(3 * time.Second)
	for p.A.snmp6(t, "Icmp6InEchoReplies")-before < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d echo replies reached A, want 3 (B: Icmp6InEchos %d)", p.A.snmp6(t, "Icmp6InEchoReplies")-before, p.B.snmp6(t, "Icmp6InEchos"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := e.Send(netip.MustParseAddr("192.0.2.1"), p.AddrB); err == nil {
		t.Error("IPv4 source accepted")
	}
}
