package config

import (
	"net/netip"
)

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func mustAddr(s string) netip.Addr     { return netip.MustParseAddr(s) }

func parseAddrLoose(s string) (netip.Addr, error) { return netip.ParseAddr(s) }

// docRanges are the documentation and benchmarking ranges the project may
// use (RFC 3849, RFC 5737, RFC 2544).
var docRanges = []netip.Prefix{
	mustPrefix("2001:db8::/32"),
	mustPrefix("192.0.2.0/24"),
	mustPrefix("198.51.100.0/24"),
	mustPrefix("203.0.113.0/24"),
	mustPrefix("198.18.0.0/15"),
}

func isDocAddr(a netip.Addr) bool {
	if a.IsUnspecified() {
		return true
	}
	for _, p := range docRanges {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
