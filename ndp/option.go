package ndp

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Neighbor Discovery options (RFC 4861 section 4.6):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |    Length     |              ...              |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                              ...                              ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Length counts the whole option, header included, in units of 8 octets;
// 0 is invalid (RFC 4861 section 4.6: "Nodes MUST silently discard an ND
// packet that contains an option with length zero").
const (
	optTypeOffset   = 0
	optLengthOffset = 1
	optHeaderLen    = 2 // Type and Length
	optUnit         = 8 // Length unit, octets
	optMaxUnits     = 255
)

// OptionType is a Neighbor Discovery option Type (IANA "IPv6 Neighbor
// Discovery Option Formats").
type OptionType uint8

// Option types this package decodes; any other type is kept as RawOption.
const (
	OptSourceLinkLayerAddress OptionType = 1 // RFC 4861 4.6.1
	OptTargetLinkLayerAddress OptionType = 2 // RFC 4861 4.6.1 (kept raw)
	OptPrefixInformation      OptionType = 3 // RFC 4861 4.6.2, RFC 6275 7.2
	OptRedirectedHeader       OptionType = 4 // RFC 4861 4.6.3 (kept raw)
	OptMTU                    OptionType = 5 // RFC 4861 4.6.4
	OptAdvertisementInterval  OptionType = 7 // RFC 6275 7.3
	OptHomeAgentInformation   OptionType = 8 // RFC 6275 7.4, RFC 3963 7.3
)

// Option is one Neighbor Discovery option. The concrete types are
// SourceLinkLayerAddress, PrefixInformation, MTU, AdvertisementInterval,
// HomeAgentInformation and RawOption, always used as values.
type Option interface {
	// OptionType reports the option's Type byte.
	OptionType() OptionType
}

// OptionType implements Option.
func (SourceLinkLayerAddress) OptionType() OptionType { return OptSourceLinkLayerAddress }

// OptionType implements Option.
func (PrefixInformation) OptionType() OptionType { return OptPrefixInformation }

// OptionType implements Option.
func (MTU) OptionType() OptionType { return OptMTU }

// OptionType implements Option.
func (AdvertisementInterval) OptionType() OptionType { return OptAdvertisementInterval }

// OptionType implements Option.
func (HomeAgentInformation) OptionType() OptionType { return OptHomeAgentInformation }

// OptionType implements Option.
func (o RawOption) OptionType() OptionType { return o.Type }

// SourceLinkLayerAddress is option type 1 (RFC 4861 4.6.1):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |    Length     |    Link-Layer Address ...
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The option does not carry the address length, so Addr is the option's
// whole data: 6 bytes for Ethernet (Length 1). Marshalling pads Addr with
// zeros to a multiple of 8 octets; an address that needs padding therefore
// comes back from a parse with the padding attached.
type SourceLinkLayerAddress struct {
	Addr net.HardwareAddr
}

const llaAddrOffset = 2

// PrefixInformation is option type 3 (RFC 4861 4.6.2) with the Router
// Address flag of RFC 6275 7.2:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |    Length     | Prefix Length |L|A|R|Reserved1|
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         Valid Lifetime                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       Preferred Lifetime                      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                           Reserved2                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+                            Prefix                             +
//	|                   (16 octets, not masked)                     |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Prefix holds the full 16-byte Prefix field as sent, with the Prefix Length:
// it is NOT masked, because with R set the field is the router's complete
// global address. Use Masked for the prefix itself and Router for the
// address. Reserved1 bits other than L, A and R are not kept.
type PrefixInformation struct {
	Prefix        netip.Prefix // netip.PrefixFrom(field, length), unmasked
	OnLink        bool         // L
	Autonomous    bool         // A
	RouterAddress bool         // R (RFC 6275 7.2): Prefix holds the router's address
	// Lifetimes are whole seconds on the wire; marshalling rounds down and
	// clamps to [0, InfiniteLifetime]. InfiniteLifetime (0xffffffff s)
	// means infinity.
	ValidLifetime     time.Duration
	PreferredLifetime time.Duration
}

// InfiniteLifetime is the Prefix Information lifetime that means infinity
// (all ones, RFC 4861 4.6.2).
const InfiniteLifetime = time.Duration(0xffffffff) * time.Second

// Prefix Information layout.
const (
	pioUnits           = 4 // Length, in 8-octet units
	pioLen             = pioUnits * optUnit
	pioPrefixLenOffset = 2
	pioFlagsOffset     = 3
	pioValidOffset     = 4
	pioPreferredOffset = 8
	pioReserved2Offset = 12
	pioPrefixOffset    = 16
	pioFlagL           = 0x80 // on-link
	pioFlagA           = 0x40 // autonomous address configuration
	pioFlagR           = 0x20 // router address (RFC 6275 7.2)
	ipv6Len            = 16
	ipv6Bits           = 128
	secondsMax32       = 0xffffffff
	millisecondsMax32  = 0xffffffff
	secondsMax16       = 0xffff
)

// Masked returns the advertised prefix with the host bits cleared.
func (p PrefixInformation) Masked() netip.Prefix { return p.Prefix.Masked() }

// Router returns the router's complete address when the R flag is set.
func (p PrefixInformation) Router() (netip.Addr, bool) {
	if !p.RouterAddress || !p.Prefix.IsValid() {
		return netip.Addr{}, false
	}
	return p.Prefix.Addr(), true
}

// MTU is option type 5 (RFC 4861 4.6.4):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |    Length     |           Reserved            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                              MTU                              |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type MTU struct {
	MTU uint32
}

// AdvertisementInterval is option type 7 (RFC 6275 7.3):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |    Length     |           Reserved            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                     Advertisement Interval                    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Length MUST be 1. The interval is the sender's MaxRtrAdvInterval.
type AdvertisementInterval struct {
	// Interval is whole milliseconds on the wire; marshalling rounds down
	// and clamps to the 32-bit field.
	Interval time.Duration
}

// HomeAgentInformation is option type 8 (RFC 6275 7.4) with the Mobile
// Router Support flag of RFC 3963 7.3:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |    Length     |R|         Reserved            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Home Agent Preference     |      Home Agent Lifetime      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Length MUST be 1. Preference is unsigned, larger is better. A Lifetime of
// 0 MUST NOT be sent, but is parsed (the Home Agents List treats it as
// "remove").
type HomeAgentInformation struct {
	MobileRouter bool   // R: the home agent supports mobile routers (RFC 3963)
	Preference   uint16 // unsigned, larger is preferred
	// Lifetime is whole seconds on the wire; marshalling rounds down and
	// clamps to [0, 65535 s].
	Lifetime time.Duration
}

// Fixed-length (Length 1) option layouts: MTU, Advertisement Interval and
// Home Agent Information.
const (
	oneUnitLen          = optUnit
	mtuValueOffset      = 4
	advIntervalOffset   = 4
	haiFlagsOffset      = 2
	haiPreferenceOffset = 4
	haiLifetimeOffset   = 6
	haiFlagMobileRouter = 0x8000 // R (RFC 3963 7.3)
)

// MaxHomeAgentLifetime is the largest Home Agent Lifetime the 16-bit field
// carries (65535 s, "18.2 hours" in RFC 6275 7.4).
const MaxHomeAgentLifetime = secondsMax16 * time.Second

// RawOption is any option this package does not decode (and types 2 and 4).
// Data is everything after the Type and Length bytes; it survives a round
// trip byte for byte. len(Data)+2 must be a multiple of 8.
type RawOption struct {
	Type OptionType
	Data []byte
}

// decoded reports whether parseOptions decodes type t into a struct (and so
// never returns it as a RawOption).
func decoded(t OptionType) bool {
	switch t {
	case OptSourceLinkLayerAddress, OptPrefixInformation, OptMTU,
		OptAdvertisementInterval, OptHomeAgentInformation:
		return true
	}
	return false
}

// parseOptions decodes the options area b, which starts at offset base of
// the enclosing message (for error messages). It returns nil for an empty
// area.
func parseOptions(b []byte, base int) ([]Option, error) {
	var opts []Option
	for off := 0; off < len(b); {
		if len(b)-off < optHeaderLen {
			return nil, fmt.Errorf("option header at offset %d: %d bytes left: %w", base+off, len(b)-off, ErrTruncated)
		}
		t := OptionType(b[off+optTypeOffset])
		units := int(b[off+optLengthOffset])
		if units == 0 {
			return nil, fmt.Errorf("option type %d at offset %d: length 0: %w", t, base+off, ErrBadOptionLength)
		}
		n := units * optUnit
		if n > len(b)-off {
			return nil, fmt.Errorf("option type %d at offset %d: length %d octets, %d left: %w", t, base+off, n, len(b)-off, ErrTruncated)
		}
		o, err := parseOption(t, b[off:off+n])
		if err != nil {
			return nil, fmt.Errorf("option type %d at offset %d: %w", t, base+off, err)
		}
		opts = append(opts, o)
		off += n
	}
	return opts, nil
}

// parseOption decodes one whole option o (header included, length already
// checked to be a non-zero multiple of 8 that fits).
func parseOption(t OptionType, o []byte) (Option, error) {
	fixed := func(want int) error {
		if len(o) != want {
			return fmt.Errorf("length %d octets, want %d: %w", len(o), want, ErrBadOptionLength)
		}
		return nil
	}
	switch t {
	case OptSourceLinkLayerAddress:
		return SourceLinkLayerAddress{Addr: net.HardwareAddr(clone(o[llaAddrOffset:]))}, nil
	case OptPrefixInformation:
		if err := fixed(pioLen); err != nil {
			return nil, err
		}
		bits := int(o[pioPrefixLenOffset])
		if bits > ipv6Bits {
			return nil, fmt.Errorf("prefix length %d: %w", bits, ErrBadValue)
		}
		addr := netip.AddrFrom16([ipv6Len]byte(o[pioPrefixOffset : pioPrefixOffset+ipv6Len]))
		f := o[pioFlagsOffset]
		return PrefixInformation{
			Prefix:            netip.PrefixFrom(addr, bits),
			OnLink:            f&pioFlagL != 0,
			Autonomous:        f&pioFlagA != 0,
			RouterAddress:     f&pioFlagR != 0,
			ValidLifetime:     time.Duration(binary.BigEndian.Uint32(o[pioValidOffset:])) * time.Second,
			PreferredLifetime: time.Duration(binary.BigEndian.Uint32(o[pioPreferredOffset:])) * time.Second,
		}, nil
	case OptMTU:
		if err := fixed(oneUnitLen); err != nil {
			return nil, err
		}
		return MTU{MTU: binary.BigEndian.Uint32(o[mtuValueOffset:])}, nil
	case OptAdvertisementInterval:
		if err := fixed(oneUnitLen); err != nil {
			return nil, err
		}
		ms := binary.BigEndian.Uint32(o[advIntervalOffset:])
		return AdvertisementInterval{Interval: time.Duration(ms) * time.Millisecond}, nil
	case OptHomeAgentInformation:
		if err := fixed(oneUnitLen); err != nil {
			return nil, err
		}
		return HomeAgentInformation{
			MobileRouter: binary.BigEndian.Uint16(o[haiFlagsOffset:])&haiFlagMobileRouter != 0,
			Preference:   binary.BigEndian.Uint16(o[haiPreferenceOffset:]),
			Lifetime:     time.Duration(binary.BigEndian.Uint16(o[haiLifetimeOffset:])) * time.Second,
		}, nil
	default:
		return RawOption{Type: t, Data: clone(o[optHeaderLen:])}, nil
	}
}

// appendOptions appends the encoding of opts to b. On error it returns b
// with its original length.
func appendOptions(b []byte, opts []Option) ([]byte, error) {
	orig := len(b)
	for i, o := range opts {
		var err error
		b, err = appendOption(b, o)
		if err != nil {
			return b[:orig], fmt.Errorf("option %d: %w", i, err)
		}
	}
	return b, nil
}

func appendOption(b []byte, o Option) ([]byte, error) {
	switch o := o.(type) {
	case SourceLinkLayerAddress:
		if len(o.Addr) == 0 {
			return b, fmt.Errorf("source link-layer address: empty: %w", ErrBadValue)
		}
		n := roundUp(optHeaderLen + len(o.Addr))
		if n/optUnit > optMaxUnits {
			return b, fmt.Errorf("source link-layer address: %d bytes: %w", len(o.Addr), ErrBadOptionLength)
		}
		b = append(b, byte(OptSourceLinkLayerAddress), byte(n/optUnit))
		b = append(b, o.Addr...)
		return appendZeros(b, n-optHeaderLen-len(o.Addr)), nil
	case PrefixInformation:
		if !o.Prefix.IsValid() || !o.Prefix.Addr().Is6() {
			return b, fmt.Errorf("prefix information: prefix %v is not IPv6: %w", o.Prefix, ErrBadValue)
		}
		var f byte
		if o.OnLink {
			f |= pioFlagL
		}
		if o.Autonomous {
			f |= pioFlagA
		}
		if o.RouterAddress {
			f |= pioFlagR
		}
		b = append(b, byte(OptPrefixInformation), pioUnits, byte(o.Prefix.Bits()), f)
		b = binary.BigEndian.AppendUint32(b, seconds32(o.ValidLifetime))
		b = binary.BigEndian.AppendUint32(b, seconds32(o.PreferredLifetime))
		b = appendZeros(b, pioPrefixOffset-pioReserved2Offset)
		a := o.Prefix.Addr().As16()
		return append(b, a[:]...), nil
	case MTU:
		b = append(b, byte(OptMTU), 1, 0, 0)
		return binary.BigEndian.AppendUint32(b, o.MTU), nil
	case AdvertisementInterval:
		b = append(b, byte(OptAdvertisementInterval), 1, 0, 0)
		return binary.BigEndian.AppendUint32(b, millis32(o.Interval)), nil
	case HomeAgentInformation:
		var f uint16
		if o.MobileRouter {
			f |= haiFlagMobileRouter
		}
		b = append(b, byte(OptHomeAgentInformation), 1)
		b = binary.BigEndian.AppendUint16(b, f)
		b = binary.BigEndian.AppendUint16(b, o.Preference)
		return binary.BigEndian.AppendUint16(b, seconds16(o.Lifetime)), nil
	case RawOption:
		if decoded(o.Type) {
			return b, fmt.Errorf("raw option of decoded type %d: use its struct: %w", o.Type, ErrBadValue)
		}
		n := optHeaderLen + len(o.Data)
		if n%optUnit != 0 || n/optUnit > optMaxUnits {
			return b, fmt.Errorf("raw option type %d: %d data bytes, want 8n-2 (at most %d): %w",
				o.Type, len(o.Data), optMaxUnits*optUnit-optHeaderLen, ErrBadOptionLength)
		}
		b = append(b, byte(o.Type), byte(n/optUnit))
		return append(b, o.Data...), nil
	case nil:
		return b, fmt.Errorf("nil option: %w", ErrBadValue)
	default:
		return b, fmt.Errorf("unsupported option type %T: %w", o, ErrBadValue)
	}
}

func roundUp(n int) int { return (n + optUnit - 1) / optUnit * optUnit }

func appendZeros(b []byte, n int) []byte {
	for range n {
		b = append(b, 0)
	}
	return b
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// seconds32 converts d to whole seconds clamped to a 32-bit field.
func seconds32(d time.Duration) uint32 { return uint32(clampUnits(d, time.Second, secondsMax32)) }

// seconds16 converts d to whole seconds clamped to a 16-bit field.
func seconds16(d time.Duration) uint16 { return uint16(clampUnits(d, time.Second, secondsMax16)) }

// millis32 converts d to whole milliseconds clamped to a 32-bit field.
func millis32(d time.Duration) uint32 {
	return uint32(clampUnits(d, time.Millisecond, millisecondsMax32))
}

func clampUnits(d, unit time.Duration, max int64) int64 {
	if d <= 0 {
		return 0
	}
	n := int64(d / unit)
	if n > max {
		return max
	}
	return n
}
