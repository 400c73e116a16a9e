package ndp

import (
	"errors"
	"net/netip"
	"testing"
)

func TestHomeAgentsAnycast(t *testing.T) {
	for _, tc := range []struct{ prefix, want string }{
		// /64: EUI-64 format, universal/local bit 0 (RFC 2526 figure 1).
		{"2001:db8:1::/64", "2001:db8:1::fdff:ffff:ffff:fffe"},
		{"2001:db8:1:2::/64", "2001:db8:1:2:fdff:ffff:ffff:fffe"},
		// Host bits in the prefix are ignored.
		{"2001:db8:1::1/64", "2001:db8:1::fdff:ffff:ffff:fffe"},
		// Other lengths: all ones after the prefix, last 7 bits 0x7E.
		{"2001:db8:1::/48", "2001:db8:1:ffff:ffff:ffff:ffff:fffe"},
		{"2001:db8:1:2::/80", "2001:db8:1:2:0:ffff:ffff:fffe"},
		{"2001:db8:1:2::/120", "2001:db8:1:2::fe"},
		{"2001:db8:1:2::/121", "2001:db8:1:2::7e"},
		{"2001:db8:1:2::80/121", "2001:db8:1:2::fe"},
		{"2001:db8::/63", "2001:db8:0:1:ffff:ffff:ffff:fffe"},
		{"::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"},
	} {
		got, err := HomeAgentsAnycast(netip.MustParsePrefix(tc.prefix))
		if err != nil {
			t.Errorf("HomeAgentsAnycast(%s): %v", tc.prefix, err)
			continue
		}
		if want := netip.MustParseAddr(tc.want); got != want {
			t.Errorf("HomeAgentsAnycast(%s) = %v, want %v", tc.prefix, got, want)
		}
		// The last 7 bits are always the anycast ID.
		if a := got.As16(); a[15]&0x7f != HomeAgentsAnycastID {
			t.Errorf("HomeAgentsAnycast(%s) = %v: anycast ID %#x", tc.prefix, got, a[15]&0x7f)
		}
	}
}

func TestHomeAgentsAnycastErrors(t *testing.T) {
	for _, p := range []netip.Prefix{
		{},
		netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("::ffff:192.0.2.0/120"),
		netip.MustParsePrefix("2001:db8::/122"),
		netip.MustParsePrefix("2001:db8::1/128"),
	} {
		if a, err := HomeAgentsAnycast(p); !errors.Is(err, ErrBadValue) || a.IsValid() {
			t.Errorf("HomeAgentsAnycast(%v) = %v, %v; want ErrBadValue", p, a, err)
		}
	}
}
