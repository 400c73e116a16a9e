package ha

import (
	"net/netip"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/mh"
)

// Addresses from the documentation ranges only.
var (
	haAddr   = netip.MustParseAddr("2001:db8:0:1::1")
	homePfx  = netip.MustParsePrefix("2001:db8:0:1::/64")
	mr1      = netip.MustParseAddr("2001:db8:0:1::100")
	mr1MNP   = netip.MustParsePrefix("2001:db8:100::/48")
	mr2      = netip.MustParseAddr("2001:db8:0:1::200")
	mr2MNP   = netip.MustParsePrefix("2001:db8:200::/48")
	mr3      = netip.MustParseAddr("2001:db8:0:1::300") // configured, no prefixes
	mn9      = netip.MustParseAddr("2001:db8:0:1::900") // not configured
	coa1     = netip.MustParseAddr("2001:db8:ff::10")
	coa2     = netip.MustParseAddr("2001:db8:fe::20")
	mr2V4    = netip.MustParseAddr("192.0.2.200")
	mr2V4Pfx = netip.MustParsePrefix("198.51.100.128/28")
	v4Pool   = netip.MustParsePrefix("203.0.113.0/29")
	haV4     = netip.MustParseAddr("192.0.2.1")
)

const homeReg = mh.BUFlagA | mh.BUFlagH
const mrReg = mh.BUFlagA | mh.BUFlagH | mh.BUFlagR

// t0 carries a monotonic reading, as the shell's time.Now() would.
var t0 = time.Now()

func at(d time.Duration) time.Time { return t0.Add(d) }

func testConfig() Config {
	return Config{
		Address:     haAddr,
		HomePrefix:  homePfx,
		MaxLifetime: 3600 * time.Second,
		NEMO:        true,
		Routers: []RouterConfig{
			{HomeAddress: mr1, Prefixes: []netip.Prefix{mr1MNP}},
			{HomeAddress: mr2, Prefixes: []netip.Prefix{mr2MNP}, IPv4HomeAddress: mr2V4, IPv4Prefixes: []netip.Prefix{mr2V4Pfx}},
			{HomeAddress: mr3},
		},
		IPv4Address: haV4,
		IPv4Pool:    v4Pool,
	}
}

func newCore(t testing.TB, mod func(*Config)) *Core {
	t.Helper()
	cfg := testConfig()
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// bu is a Binding Update from a care-of address with a Home Address
// option, as a mobile router away from home sends it.
func bu(hoa, coa netip.Addr, seq uint16, flags mh.BUFlags, life time.Duration, opts ...mh.Option) BURequest {
	return BURequest{
		Src: coa, Dst: haAddr, HomeAddr: hoa, HadHAO: true,
		BU: mh.BindingUpdate{Sequence: seq, Flags: flags, Lifetime: life, Options: opts},
	}
}

// udpBU is a DSMIPv6 Binding Update over UDP/IPv4 with an IPv4 Care-of
// Address option, observed from outer.
func udpBU(hoa netip.Addr, v4coa netip.Addr, outer netip.AddrPort, seq uint16, flags mh.BUFlags, life time.Duration, opts ...mh.Option) BURequest {
	opts = append([]mh.Option{mh.IPv4CareOfAddress{Addr: v4coa}}, opts...)
	return BURequest{
		Src: hoa, Dst: haAddr, HomeAddr: hoa,
		BU:  mh.BindingUpdate{Sequence: seq, Flags: flags, Lifetime: life, Options: opts},
		UDP: outer,
	}
}

func find[T Action](acts []Action) (T, bool) {
	for _, a := range acts {
		if v, ok := a.(T); ok {
			return v, true
		}
	}
	var zero T
	return zero, false
}

func count[T Action](acts []Action) int {
	n := 0
	for _, a := range acts {
		if _, ok := a.(T); ok {
			n++
		}
	}
	return n
}

func mustBA(t *testing.T, acts []Action) SendBA {
	t.Helper()
	if n := count[SendBA](acts); n != 1 {
		t.Fatalf("want exactly one SendBA, got %d in %#v", n, acts)
	}
	ba, _ := find[SendBA](acts)
	return ba
}

func wantStatus(t *testing.T, acts []Action, st mh.Status) SendBA {
	t.Helper()
	ba := mustBA(t, acts)
	if ba.BA.Status != st {
		t.Fatalf("BA status = %d, want %d (actions %#v)", ba.BA.Status, st, acts)
	}
	return ba
}

func wantDiscard(t *testing.T, acts []Action, reason Counter) {
	t.Helper()
	if len(acts) != 1 {
		t.Fatalf("want one Discarded action, got %#v", acts)
	}
	d, ok := acts[0].(Discarded)
	if !ok || d.Reason != reason {
		t.Fatalf("want Discarded(%v), got %#v", reason, acts[0])
	}
}

func option[T mh.Option](opts []mh.Option) (T, int) {
	var out T
	n := 0
	for _, o := range opts {
		if v, ok := o.(T); ok {
			if n == 0 {
				out = v
			}
			n++
		}
	}
	return out, n
}

// register makes a valid binding for hoa at coa with seq at time now.
func register(t *testing.T, c *Core, now time.Time, hoa, coa netip.Addr, seq uint16, flags mh.BUFlags, opts ...mh.Option) {
	t.Helper()
	wantStatus(t, c.HandleBU(now, bu(hoa, coa, seq, flags, 400*time.Second, opts...)), mh.StatusAccepted)
	if b, ok := c.Lookup(hoa); !ok || b.State != StateValid {
		t.Fatalf("after registration: %+v %v", b, ok)
	}
}
