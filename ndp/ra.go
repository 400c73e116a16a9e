package ndp

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// RouterAdvertisement is ICMPv6 type 134 (RFC 4861 4.2) with the Home Agent
// flag of RFC 6275 7.1, the Default Router Preference of RFC 4191 2.2 and
// the Proxy flag of RFC 4389 4:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |     Code      |          Checksum             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Cur Hop Limit |M|O|H|Prf|P|Rsv|       Router Lifetime         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         Reachable Time                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                          Retrans Timer                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   Options ...
//	+-+-+-+-+-+-+-+-+-+-+-+-
//
// The two reserved flag bits are not kept.
type RouterAdvertisement struct {
	CurHopLimit      uint8
	Managed          bool       // M
	Other            bool       // O
	HomeAgent        bool       // H (RFC 6275 7.1)
	RouterPreference Preference // Prf (RFC 4191)
	Proxy            bool       // P (RFC 4389)
	// RouterLifetime is whole seconds on the wire (16 bits); marshalling
	// rounds down and clamps.
	RouterLifetime time.Duration
	// ReachableTime and RetransTimer are whole milliseconds on the wire
	// (32 bits); marshalling rounds down and clamps. 0 means unspecified.
	ReachableTime time.Duration
	RetransTimer  time.Duration
	// Options in wire order.
	Options []Option
}

// Router Advertisement layout.
const (
	raCurHopLimitOffset    = 4
	raFlagsOffset          = 5
	raRouterLifetimeOffset = 6
	raReachableTimeOffset  = 8
	raRetransTimerOffset   = 12
	raOptionsOffset        = 16
	raFlagManaged          = 0x80 // M
	raFlagOther            = 0x40 // O
	raFlagHomeAgent        = 0x20 // H (RFC 6275 7.1)
	raPrfMask              = 0x18 // Prf (RFC 4191 2.2)
	raPrfShift             = 3
	raFlagProxy            = 0x04 // P (RFC 4389 4)
)

// Preference is the 2-bit Default Router Preference (RFC 4191 2.1), kept
// as its wire value.
type Preference uint8

// Router preferences. PreferenceReserved is kept as received; RFC 4191 2.2
// says a receiver treats it as PreferenceMedium.
const (
	PreferenceMedium   Preference = 0 // 00
	PreferenceHigh     Preference = 1 // 01
	PreferenceReserved Preference = 2 // 10
	PreferenceLow      Preference = 3 // 11
)

// ICMPType implements Message.
func (RouterAdvertisement) ICMPType() ICMPType { return TypeRouterAdvertisement }

// ParseRouterAdvertisement parses b, an ICMPv6 Router Advertisement starting
// at the Type byte. The Checksum is not checked.
func ParseRouterAdvertisement(b []byte) (RouterAdvertisement, error) {
	if err := checkHeader(b, TypeRouterAdvertisement, raOptionsOffset); err != nil {
		return RouterAdvertisement{}, fmt.Errorf("ndp: parse router advertisement: %w", err)
	}
	opts, err := parseOptions(b[raOptionsOffset:], raOptionsOffset)
	if err != nil {
		return RouterAdvertisement{}, fmt.Errorf("ndp: parse router advertisement: %w", err)
	}
	f := b[raFlagsOffset]
	return RouterAdvertisement{
		CurHopLimit:      b[raCurHopLimitOffset],
		Managed:          f&raFlagManaged != 0,
		Other:            f&raFlagOther != 0,
		HomeAgent:        f&raFlagHomeAgent != 0,
		RouterPreference: Preference(f & raPrfMask >> raPrfShift),
		Proxy:            f&raFlagProxy != 0,
		RouterLifetime:   time.Duration(binary.BigEndian.Uint16(b[raRouterLifetimeOffset:])) * time.Second,
		ReachableTime:    time.Duration(binary.BigEndian.Uint32(b[raReachableTimeOffset:])) * time.Millisecond,
		RetransTimer:     time.Duration(binary.BigEndian.Uint32(b[raRetransTimerOffset:])) * time.Millisecond,
		Options:          opts,
	}, nil
}

// MarshalBinary encodes the Router Advertisement with a zero checksum.
func (ra RouterAdvertisement) MarshalBinary() ([]byte, error) { return marshal(ra) }

// AppendBinary appends the encoding of the Router Advertisement (zero
// checksum) to b. On error b is returned with its original length.
func (ra RouterAdvertisement) AppendBinary(b []byte) ([]byte, error) {
	if ra.RouterPreference > PreferenceLow {
		return b, fmt.Errorf("ndp: marshal router advertisement: router preference %d: %w", ra.RouterPreference, ErrBadValue)
	}
	orig := len(b)
	var f byte
	if ra.Managed {
		f |= raFlagManaged
	}
	if ra.Other {
		f |= raFlagOther
	}
	if ra.HomeAgent {
		f |= raFlagHomeAgent
	}
	f |= byte(ra.RouterPreference) << raPrfShift
	if ra.Proxy {
		f |= raFlagProxy
	}
	b = appendHeader(b, TypeRouterAdvertisement)
	b = append(b, ra.CurHopLimit, f)
	b = binary.BigEndian.AppendUint16(b, seconds16(ra.RouterLifetime))
	b = binary.BigEndian.AppendUint32(b, millis32(ra.ReachableTime))
	b = binary.BigEndian.AppendUint32(b, millis32(ra.RetransTimer))
	b, err := appendOptions(b, ra.Options)
	if err != nil {
		return b[:orig], fmt.Errorf("ndp: marshal router advertisement: %w", err)
	}
	return b, nil
}

// Prefixes returns the Prefix Information options in wire order.
func (ra RouterAdvertisement) Prefixes() []PrefixInformation { return prefixes(ra.Options) }

// RouterAddresses returns the complete router addresses announced by the
// Prefix Information options with the R flag set (RFC 6275 7.2).
func (ra RouterAdvertisement) RouterAddresses() []netip.Addr {
	var out []netip.Addr
	for _, p := range ra.Prefixes() {
		if a, ok := p.Router(); ok {
			out = append(out, a)
		}
	}
	return out
}

// HomeAgentInfo returns the first Home Agent Information option.
func (ra RouterAdvertisement) HomeAgentInfo() (HomeAgentInformation, bool) {
	for _, o := range ra.Options {
		if h, ok := o.(HomeAgentInformation); ok {
			return h, true
		}
	}
	return HomeAgentInformation{}, false
}

// AdvInterval returns the interval of the first Advertisement Interval
// option.
func (ra RouterAdvertisement) AdvInterval() (time.Duration, bool) {
	for _, o := range ra.Options {
		if a, ok := o.(AdvertisementInterval); ok {
			return a.Interval, true
		}
	}
	return 0, false
}

// SourceLLA returns the address of the first Source Link-Layer Address
// option.
func (ra RouterAdvertisement) SourceLLA() (net.HardwareAddr, bool) {
	for _, o := range ra.Options {
		if s, ok := o.(SourceLinkLayerAddress); ok {
			return s.Addr, true
		}
	}
	return nil, false
}

// LinkMTU returns the value of the first MTU option.
func (ra RouterAdvertisement) LinkMTU() (uint32, bool) {
	for _, o := range ra.Options {
		if m, ok := o.(MTU); ok {
			return m.MTU, true
		}
	}
	return 0, false
}

func prefixes(opts []Option) []PrefixInformation {
	var out []PrefixInformation
	for _, o := range opts {
		if p, ok := o.(PrefixInformation); ok {
			out = append(out, p)
		}
	}
	return out
}
