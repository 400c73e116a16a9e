package mh

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// Mobility option layout (RFC 6275 6.2.1): every option but Pad1 is a TLV
// whose Length excludes the two header bytes.
//
//	 0                   1                   2
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+- - - - - - - - -
//	|  Option Type  | Option Length |   Option Data...
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+- - - - - - - - -
const (
	optHeaderLen = 2   // Type and Length
	maxOptData   = 255 // Length is one byte
)

// Option data lengths (the Length byte) of the fixed-size options.
const (
	lenBRA           = 2  // RFC 6275 6.2.4: Refresh Interval
	lenAltCoA        = 16 // RFC 6275 6.2.5
	lenNonceIndices  = 4  // RFC 6275 6.2.6
	lenBAD           = 12 // RFC 6275 6.2.7: 96-bit authenticator
	lenMNP           = 18 // RFC 3963 4.3: Reserved, Prefix Length, Prefix
	lenReplay        = 8  // RFC 4285 6: 64-bit timestamp
	lenIPv4Opt       = 6  // RFC 5555 3.1.1, 3.1.2, 3.2.1, 3.2.2
	lenBIDNoCoA      = 4  // RFC 5648 4.3
	lenBIDIPv4       = 8  // RFC 5648 4.3
	lenBIDIPv6       = 20 // RFC 5648 4.3
	minLenMNID       = 1  // RFC 4283 3: Subtype then Identifier
	minLenAuth       = 5  // RFC 4285 5: Subtype, SPI(4), then Authentication Data
	maxIPv6PrefixLen = 128
	maxIPv4PrefixLen = 32
)

// Offsets inside the option data (after Type and Length).
//
// Mobile Network Prefix (RFC 3963 4.3):
//
//	|     Type      |    Length     |   Reserved    | Prefix Length |
//	|                    Mobile Network Prefix (16)                 |
const (
	mnpOffPrefixLen = 1
	mnpOffPrefix    = 2
)

// IPv4 Home Address (RFC 5555 3.1.1); Prefix-len is the top 6 bits of the
// first data byte, P the next bit:
//
//	|   Type        |   Length      |Prefix-len |P|    Reserved     |
//	|                     IPv4 home address                         |
//
// IPv4 Address Acknowledgement (RFC 5555 3.2.1):
//
//	|     Type      |    Length     |   Status      |Pref-len   |Res|
//	|                      IPv4 home address                        |
//
// NAT Detection (RFC 5555 3.2.2):
//
//	|     Type      |    Length     |F|          Reserved           |
//	|                      Refresh time                             |
//
// IPv4 Care-of Address (RFC 5555 3.1.2):
//
//	|   Type        |   Length      |         Reserved              |
//	|                     IPv4 Care-of address                      |
const (
	v4OffPrefixByte  = 0    // IPv4 HoA: Prefix-len|P
	v4PrefixShift    = 2    // Prefix-len sits in the top 6 bits
	v4HoAFlagP       = 0x02 // P: mask in the Prefix-len byte (0x0200 of the word)
	v4AckOffStatus   = 0
	v4AckOffPrefix   = 1
	natOffFlags      = 0
	natFlagF         = 0x80 // F: mask in the first data byte (0x8000 of the word)
	natOffRefresh    = 2
	v4OffAddr        = 2 // the IPv4 address in all four options
	authOffSubtype   = 0
	authOffSPI       = 1
	authOffData      = 5
	bidOffBID        = 0
	bidOffStatus     = 2
	bidOffFlags      = 3
	bidFlagH         = 0x80 // RFC 5648 4.3
	bidPriorityMask  = 0x7F // RFC 6089 4.1 BID-PRI
	bidOffCoA        = 4
	niOffHome        = 0
	niOffCareOf      = 2
	mnidOffSubtype   = 0
	mnidOffIdentifer = 1
)

// Binding Identifier (RFC 5648 4.3, RFC 6089 4.1):
//
//	                                |   Type = 35   |     Length    |
//	|       Binding ID (BID)        |     Status    |H|   BID-PRI   |
//	:                 IPv4 or IPv6 care-of address (CoA)            :

// align is an alignment rule xn+y (RFC 6275 6.2).
type align struct{ x, y int }

var noAlign = align{1, 0}

// optInfo reports an option's alignment, data length and whether it must be
// the last option, validating what cannot be encoded.
func optInfo(o Option) (a align, n int, last bool, err error) {
	switch o := o.(type) {
	case BindingRefreshAdvice:
		if o.Interval < 0 {
			return a, 0, false, errorf(ErrBadLifetime, "binding refresh advice interval %v", o.Interval)
		}
		return align{2, 0}, lenBRA, false, nil
	case AlternateCareOfAddress:
		if err := checkIPv6(o.Addr, "alternate care-of address"); err != nil {
			return a, 0, false, err
		}
		return align{8, 6}, lenAltCoA, false, nil
	case NonceIndices:
		return align{2, 0}, lenNonceIndices, false, nil
	case BindingAuthData:
		return align{8, 2}, lenBAD, true, nil
	case MobileNetworkPrefix:
		if !o.Prefix.IsValid() {
			return a, 0, false, errorf(ErrBadAddress, "mobile network prefix %v is not valid", o.Prefix)
		}
		if err := checkIPv6(o.Prefix.Addr(), "mobile network prefix"); err != nil {
			return a, 0, false, err
		}
		return align{8, 4}, lenMNP, false, nil
	case MobileNodeIdentifier:
		if n := minLenMNID + len(o.Identifier); n > maxOptData {
			return a, 0, false, errorf(ErrTooLong, "mobile node identifier of %d bytes", len(o.Identifier))
		}
		return noAlign, minLenMNID + len(o.Identifier), false, nil
	case Authentication:
		if n := minLenAuth + len(o.Data); n > maxOptData {
			return a, 0, false, errorf(ErrTooLong, "authentication data of %d bytes", len(o.Data))
		}
		return align{4, 1}, minLenAuth + len(o.Data), true, nil
	case ReplayProtection:
		return align{8, 2}, lenReplay, false, nil
	case IPv4HomeAddress:
		if o.PrefixLen > maxIPv4PrefixLen {
			return a, 0, false, errorf(ErrBadOption, "IPv4 home address prefix length %d", o.PrefixLen)
		}
		if err := checkIPv4(o.Addr, "IPv4 home address"); err != nil {
			return a, 0, false, err
		}
		return align{4, 0}, lenIPv4Opt, false, nil
	case IPv4AddressAck:
		if o.PrefixLen > maxIPv4PrefixLen {
			return a, 0, false, errorf(ErrBadOption, "IPv4 address acknowledgement prefix length %d", o.PrefixLen)
		}
		if err := checkIPv4(o.Addr, "IPv4 address acknowledgement"); err != nil {
			return a, 0, false, err
		}
		return align{4, 0}, lenIPv4Opt, false, nil
	case NATDetection:
		return align{4, 0}, lenIPv4Opt, false, nil
	case IPv4CareOfAddress:
		if err := checkIPv4(o.Addr, "IPv4 care-of address"); err != nil {
			return a, 0, false, err
		}
		return align{4, 0}, lenIPv4Opt, false, nil
	case BindingIdentifier:
		if o.Priority > bidPriorityMask {
			return a, 0, false, errorf(ErrBadOption, "binding identifier priority %d exceeds 7 bits", o.Priority)
		}
		switch {
		case !o.CareOf.IsValid():
			return align{2, 0}, lenBIDNoCoA, false, nil
		case o.CareOf.Zone() != "":
			return a, 0, false, errorf(ErrBadAddress, "binding identifier care-of address %v has a zone", o.CareOf)
		case o.CareOf.Is4():
			return align{8, 2}, lenBIDIPv4, false, nil
		default:
			return align{8, 2}, lenBIDIPv6, false, nil
		}
	case RawOption:
		switch {
		case o.Type == OptPad1:
			if len(o.Data) != 0 {
				return a, 0, false, errorf(ErrBadOption, "Pad1 with %d data bytes", len(o.Data))
			}
			return noAlign, -1, false, nil // no Length byte
		case o.Type != OptPadN && isDecoded(o.Type):
			return a, 0, false, errorf(ErrBadOption, "raw %v: use the typed option", o.Type)
		case len(o.Data) > maxOptData:
			return a, 0, false, errorf(ErrTooLong, "raw %v with %d data bytes", o.Type, len(o.Data))
		}
		return noAlign, len(o.Data), false, nil
	case nil:
		return a, 0, false, errorf(ErrBadOption, "nil option")
	default:
		return a, 0, false, errorf(ErrBadOption, "unsupported option type %T", o)
	}
}

// isDecoded reports whether Parse returns t as a typed option.
func isDecoded(t OptionType) bool {
	switch t {
	case OptBindingRefreshAdvice, OptAlternateCareOfAddress, OptNonceIndices,
		OptBindingAuthData, OptMobileNetworkPrefix, OptMobileNodeIdentifier,
		OptAuthentication, OptReplayProtection, OptIPv4HomeAddress,
		OptIPv4AddressAck, OptNATDetection, OptIPv4CareOfAddress,
		OptBindingIdentifier:
		return true
	}
	return false
}

func checkIPv6(a netip.Addr, what string) error {
	switch {
	case !a.IsValid():
		return errorf(ErrBadAddress, "%s missing", what)
	case !a.Is6():
		return errorf(ErrBadAddress, "%s %v is not IPv6", what, a)
	case a.Zone() != "":
		return errorf(ErrBadAddress, "%s %v has a zone", what, a)
	}
	return nil
}

func checkIPv4(a netip.Addr, what string) error {
	if !a.Is4() {
		return errorf(ErrBadAddress, "%s %v is not IPv4", what, a)
	}
	return nil
}

// padLen is the padding that puts an option with alignment a at offset off.
func padLen(a align, off int) int {
	return ((a.y-off)%a.x + a.x) % a.x
}

// lastPad is the padding before an option of total size sz that must be
// last: the smallest that both meets its alignment and ends the MH on an
// 8-byte boundary, so that no padding follows it (RFC 6275 6.2.7, RFC 4285
// 5; digest 1.5). If no such padding exists, alignment alone decides.
func lastPad(a align, off, sz int) int {
	for p := 0; p < 8; p++ {
		if (off+p-a.y)%a.x == 0 && (off+p+sz)%8 == 0 {
			return p
		}
	}
	return padLen(a, off)
}

// appendPad appends n bytes of padding: Pad1 for one, PadN otherwise.
func appendPad(b []byte, n int) []byte {
	switch {
	case n == 0:
		return b
	case n == 1:
		return append(b, byte(OptPad1))
	}
	b = append(b, byte(OptPadN), byte(n-optHeaderLen))
	for range n - optHeaderLen {
		b = append(b, 0)
	}
	return b
}

// optionsLayout walks opts as laid out from MH offset off and returns the
// offset after the final padding (a multiple of 8). With dst non-nil, it
// also appends the padded options to *dst.
func optionsLayout(opts []Option, off int, dst *[]byte) (int, error) {
	mustBeLast := OptionType(0) // type of a must-be-last option seen so far
	for i, o := range opts {
		a, n, last, err := optInfo(o)
		if err != nil {
			return 0, err
		}
		t := o.OptionType()
		if mustBeLast != 0 && (mustBeLast == OptBindingAuthData || t != OptAuthentication) {
			return 0, errorf(ErrOptionOrder, "%v after %v", t, mustBeLast)
		}
		if last {
			mustBeLast = t
		}
		sz := optHeaderLen + n
		if n < 0 { // Pad1
			sz = 1
		}
		pad := padLen(a, off)
		if last && i == len(opts)-1 {
			pad = lastPad(a, off, sz)
		}
		if dst != nil {
			*dst = appendPad(*dst, pad)
			*dst = appendOption(*dst, o, n)
		}
		off += pad + sz
	}
	end := (off + 7) &^ 7
	if dst != nil {
		*dst = appendPad(*dst, end-off)
	}
	return end, nil
}

// appendOption appends option o, whose data length optInfo gave as n.
func appendOption(b []byte, o Option, n int) []byte {
	if n < 0 {
		return append(b, byte(OptPad1))
	}
	b = append(b, byte(o.OptionType()), byte(n))
	switch o := o.(type) {
	case BindingRefreshAdvice:
		b = binary.BigEndian.AppendUint16(b, LifetimeUnits(o.Interval))
	case AlternateCareOfAddress:
		a := o.Addr.As16()
		b = append(b, a[:]...)
	case NonceIndices:
		b = binary.BigEndian.AppendUint16(b, o.Home)
		b = binary.BigEndian.AppendUint16(b, o.CareOf)
	case BindingAuthData:
		b = append(b, o.Authenticator[:]...)
	case MobileNetworkPrefix:
		p := o.Prefix.Masked()
		a := p.Addr().As16()
		b = append(b, 0, byte(p.Bits()))
		b = append(b, a[:]...)
	case MobileNodeIdentifier:
		b = append(b, o.Subtype)
		b = append(b, o.Identifier...)
	case Authentication:
		b = append(b, o.Subtype)
		b = binary.BigEndian.AppendUint32(b, o.SPI)
		b = append(b, o.Data...)
	case ReplayProtection:
		b = binary.BigEndian.AppendUint64(b, o.Timestamp)
	case IPv4HomeAddress:
		f := o.PrefixLen << v4PrefixShift
		if o.P {
			f |= v4HoAFlagP
		}
		a := o.Addr.As4()
		b = append(b, f, 0)
		b = append(b, a[:]...)
	case IPv4AddressAck:
		a := o.Addr.As4()
		b = append(b, byte(o.Status), o.PrefixLen<<v4PrefixShift)
		b = append(b, a[:]...)
	case NATDetection:
		var f byte
		if o.F {
			f = natFlagF
		}
		b = append(b, f, 0)
		b = binary.BigEndian.AppendUint32(b, o.Refresh)
	case IPv4CareOfAddress:
		a := o.Addr.As4()
		b = append(b, 0, 0)
		b = append(b, a[:]...)
	case BindingIdentifier:
		b = binary.BigEndian.AppendUint16(b, o.BID)
		f := o.Priority & bidPriorityMask
		if o.H {
			f |= bidFlagH
		}
		b = append(b, byte(o.Status), f)
		switch n {
		case lenBIDIPv4:
			a := o.CareOf.As4()
			b = append(b, a[:]...)
		case lenBIDIPv6:
			a := o.CareOf.As16()
			b = append(b, a[:]...)
		}
	case RawOption:
		b = append(b, o.Data...)
	}
	return b
}

// nextOption reads the option at opts[i:]. It returns the type, the data
// (aliasing opts; nil for Pad1) and the index of the next option.
func nextOption(opts []byte, i int) (t OptionType, data []byte, next int, err error) {
	t = OptionType(opts[i])
	if t == OptPad1 {
		return t, nil, i + 1, nil
	}
	if i+optHeaderLen > len(opts) {
		return t, nil, 0, errorf(ErrTruncated, "%v at option offset %d has no length byte: %w", t, i, ErrBadOption)
	}
	end := i + optHeaderLen + int(opts[i+1])
	if end > len(opts) {
		return t, nil, 0, errorf(ErrTruncated, "%v at option offset %d (length %d) runs past the end: %w", t, i, opts[i+1], ErrBadOption)
	}
	return t, opts[i+optHeaderLen : end], end, nil
}

// checkOptionLen validates the data length of a decoded option type.
func checkOptionLen(t OptionType, data []byte) error {
	n := len(data)
	var ok bool
	switch t {
	case OptBindingRefreshAdvice:
		ok = n == lenBRA
	case OptAlternateCareOfAddress:
		ok = n == lenAltCoA
	case OptNonceIndices:
		ok = n == lenNonceIndices
	case OptBindingAuthData:
		ok = n == lenBAD
	case OptMobileNetworkPrefix:
		ok = n == lenMNP
		if ok && data[mnpOffPrefixLen] > maxIPv6PrefixLen {
			return errorf(ErrBadOption, "mobile network prefix length %d", data[mnpOffPrefixLen])
		}
	case OptMobileNodeIdentifier:
		ok = n >= minLenMNID
	case OptAuthentication:
		ok = n >= minLenAuth
	case OptReplayProtection:
		ok = n == lenReplay
	case OptIPv4HomeAddress:
		ok = n == lenIPv4Opt
		if ok && data[v4OffPrefixByte]>>v4PrefixShift > maxIPv4PrefixLen {
			return errorf(ErrBadOption, "IPv4 home address prefix length %d", data[v4OffPrefixByte]>>v4PrefixShift)
		}
	case OptIPv4AddressAck:
		ok = n == lenIPv4Opt
		if ok && data[v4AckOffPrefix]>>v4PrefixShift > maxIPv4PrefixLen {
			return errorf(ErrBadOption, "IPv4 address acknowledgement prefix length %d", data[v4AckOffPrefix]>>v4PrefixShift)
		}
	case OptNATDetection, OptIPv4CareOfAddress:
		ok = n == lenIPv4Opt
	case OptBindingIdentifier:
		ok = n == lenBIDNoCoA || n == lenBIDIPv4 || n == lenBIDIPv6
	default:
		return nil
	}
	if !ok {
		return errorf(ErrBadOption, "%v with length %d", t, n)
	}
	return nil
}

// decodeOption builds the typed option from data already validated by
// checkOptionLen. Byte slices are copied, never aliased.
func decodeOption(t OptionType, data []byte) Option {
	be := binary.BigEndian
	switch t {
	case OptBindingRefreshAdvice:
		return BindingRefreshAdvice{Interval: LifetimeFromUnits(be.Uint16(data))}
	case OptAlternateCareOfAddress:
		return AlternateCareOfAddress{Addr: netip.AddrFrom16([16]byte(data))}
	case OptNonceIndices:
		return NonceIndices{Home: be.Uint16(data[niOffHome:]), CareOf: be.Uint16(data[niOffCareOf:])}
	case OptBindingAuthData:
		return BindingAuthData{Authenticator: [12]byte(data)}
	case OptMobileNetworkPrefix:
		a := netip.AddrFrom16([16]byte(data[mnpOffPrefix:]))
		p, _ := a.Prefix(int(data[mnpOffPrefixLen])) // length checked
		return MobileNetworkPrefix{Prefix: p}
	case OptMobileNodeIdentifier:
		return MobileNodeIdentifier{Subtype: data[mnidOffSubtype], Identifier: clone(data[mnidOffIdentifer:])}
	case OptAuthentication:
		return Authentication{
			Subtype: data[authOffSubtype],
			SPI:     be.Uint32(data[authOffSPI:]),
			Data:    clone(data[authOffData:]),
		}
	case OptReplayProtection:
		return ReplayProtection{Timestamp: be.Uint64(data)}
	case OptIPv4HomeAddress:
		return IPv4HomeAddress{
			PrefixLen: data[v4OffPrefixByte] >> v4PrefixShift,
			P:         data[v4OffPrefixByte]&v4HoAFlagP != 0,
			Addr:      netip.AddrFrom4([4]byte(data[v4OffAddr:])),
		}
	case OptIPv4AddressAck:
		return IPv4AddressAck{
			Status:    IPv4AckStatus(data[v4AckOffStatus]),
			PrefixLen: data[v4AckOffPrefix] >> v4PrefixShift,
			Addr:      netip.AddrFrom4([4]byte(data[v4OffAddr:])),
		}
	case OptNATDetection:
		return NATDetection{F: data[natOffFlags]&natFlagF != 0, Refresh: be.Uint32(data[natOffRefresh:])}
	case OptIPv4CareOfAddress:
		return IPv4CareOfAddress{Addr: netip.AddrFrom4([4]byte(data[v4OffAddr:]))}
	case OptBindingIdentifier:
		o := BindingIdentifier{
			BID:      be.Uint16(data[bidOffBID:]),
			Status:   Status(data[bidOffStatus]),
			H:        data[bidOffFlags]&bidFlagH != 0,
			Priority: data[bidOffFlags] & bidPriorityMask,
		}
		switch len(data) {
		case lenBIDIPv4:
			o.CareOf = netip.AddrFrom4([4]byte(data[bidOffCoA:]))
		case lenBIDIPv6:
			o.CareOf = netip.AddrFrom16([16]byte(data[bidOffCoA:]))
		}
		return o
	}
	return RawOption{Type: t, Data: clone(data)}
}

// clone copies b; an empty b gives nil.
func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// LifetimeUnits converts d to the 16-bit count of 4-second units used by the
// BU and BA Lifetime and the Binding Refresh Advice interval: rounded down,
// clamped to 0..0xFFFF (a negative d gives 0; Marshal refuses one).
func LifetimeUnits(d time.Duration) uint16 {
	switch {
	case d <= 0:
		return 0
	case d >= MaxLifetime:
		return 0xFFFF
	}
	return uint16(d / LifetimeUnit)
}

// LifetimeFromUnits converts a 16-bit count of 4-second units to a duration.
func LifetimeFromUnits(u uint16) time.Duration { return time.Duration(u) * LifetimeUnit }
