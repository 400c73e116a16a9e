package dhcpv4

import (
	"net/netip"
	"testing"

	dhcp "github.com/insomniacslk/dhcp/dhcpv4"
)

// FuzzParseReply feeds arbitrary packets through dhcp.FromBytes and
// ParseReply, checks the lease invariants and that parse→marshal→parse
// gives the same Reply.
func FuzzParseReply(f *testing.F) {
	f.Add(serverMsg(f, dhcp.MessageTypeAck, ackMods()...).ToBytes())
	f.Add(serverMsg(f, dhcp.MessageTypeNak).ToBytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := dhcp.FromBytes(b)
		if err != nil {
			return
		}
		r, err := ParseReply(m)
		if err != nil {
			if r != (Reply{}) {
				t.Fatalf("half-filled reply on error %v: %+v", err, r)
			}
			return
		}
		if r.Type != ReplyNak {
			l := r.Lease
			if !l.Addr.IsValid() || !l.Addr.Addr().Is4() || l.Addr.Bits() < 1 || l.Addr.Bits() > 31 || l.Server != r.Server || !r.Server.IsValid() {
				t.Fatalf("bad lease %+v", r)
			}
			if !l.Infinite() && !(0 < l.T1 && l.T1 < l.T2 && l.T2 < l.LeaseTime) {
				t.Fatalf("inconsistent timers %+v", l)
			}
			if l.Router.IsValid() && (!l.Router.Is4() || l.Router == netip.IPv4Unspecified()) {
				t.Fatalf("bad router %v", l.Router)
			}
		} else if r.Lease != (Lease{}) {
			t.Fatalf("NAK with lease %+v", r)
		}
		m2, err := dhcp.FromBytes(m.ToBytes())
		if err != nil {
			t.Fatalf("re-parse of our marshal: %v", err)
		}
		r2, err := ParseReply(m2)
		if err != nil || r2 != r {
			t.Fatalf("round trip: %+v, %v; want %+v", r2, err, r)
		}
	})
}
