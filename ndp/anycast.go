package ndp

import (
	"fmt"
	"net/netip"
)

// Reserved subnet anycast addresses (RFC 2526 section 2):
//
//	EUI-64 interface identifiers (here: every /64):
//	|              64 bits            |      57 bits     |   7 bits   |
//	|           subnet prefix         | 1111110111...111 | anycast ID |
//
//	other prefix lengths n (n <= 121):
//	|              n bits             |    121-n bits    |   7 bits   |
//	|           subnet prefix         | 1111111...111111 | anycast ID |
const (
	// HomeAgentsAnycastID is the Mobile IPv6 Home-Agents anycast ID
	// (RFC 2526 section 3).
	HomeAgentsAnycastID = 0x7e
	anycastIDBits       = 7
	eui64PrefixBits     = 64
	// eui64ULByte and eui64ULBit locate the universal/local bit of an
	// EUI-64 interface identifier (bit 6 of the first IID byte, RFC 4291
	// appendix A), which RFC 2526 requires to be 0.
	eui64ULByte = 8
	eui64ULBit  = 0x02
)

// HomeAgentsAnycast returns the Mobile IPv6 Home-Agents anycast address of
// the IPv6 prefix p (RFC 2526, RFC 6275 10.5): for a /64,
// prefix::FDFF:FFFF:FFFF:FFFE; for any other length up to /121, every bit
// after the prefix set except the last one (anycast ID 0x7E in the last 7
// bits). Host bits in p are ignored.
//
// For prefixes shorter than /64 in EUI-64 address space RFC 2526 would keep
// a 64-bit interface identifier and leave the subnet bits to the caller; this
// function instead treats the whole suffix as the interface identifier
// field, as the project digest (PROTOCOL.md 2.6) specifies. Home links are
// /64 in practice.
func HomeAgentsAnycast(p netip.Prefix) (netip.Addr, error) {
	if !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() {
		return netip.Addr{}, fmt.Errorf("ndp: home-agents anycast of %v: not an IPv6 prefix: %w", p, ErrBadValue)
	}
	bits := p.Bits()
	if bits > ipv6Bits-anycastIDBits {
		return netip.Addr{}, fmt.Errorf("ndp: home-agents anycast of %v: prefix longer than /%d: %w", p, ipv6Bits-anycastIDBits, ErrBadValue)
	}
	a := p.Masked().Addr().As16()
	// Set every bit after the prefix, then put the anycast ID in the last 7.
	for i := bits; i < ipv6Bits; i++ {
		a[i/8] |= 0x80 >> (i % 8)
	}
	a[ipv6Len-1] = a[ipv6Len-1]&^(1<<anycastIDBits-1) | HomeAgentsAnycastID
	if bits == eui64PrefixBits {
		a[eui64ULByte] &^= eui64ULBit
	}
	return netip.AddrFrom16(a), nil
}
