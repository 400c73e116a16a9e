// Package attack builds the packets of the hostile-input suite (issue 5):
// Binding Updates without authentication, signed with a wrong key or by
// another identity, malformed in each way RFC 6275 sections 6.1, 6.2 and
// 9.2 name, spoofed Binding Acknowledgements and Binding Errors, and
// garbage for the DSMIPv6 UDP port. The packets are whole IPv6 packets for
// a raw IPPROTO_RAW socket; cmd/nemo-attack sends them from the testbed's
// attacker namespace, listens for what comes back, and floods.
//
// Everything here is pure: no sockets, no clock of its own.
package attack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/nemo-mobility/nemo/mh"
	"github.com/nemo-mobility/nemo/mnha"
)

// Sentinel errors; errors returned here wrap them.
var (
	// ErrTemplate is returned for a packet that is not a Binding Update
	// with a Home Address option laid out as mh.BuildPacket lays it out.
	ErrTemplate = errors.New("attack: not a mutable binding update")
	// ErrLine is returned by ParseLine for a malformed line.
	ErrLine = errors.New("attack: bad line")
)

// The layout of a packet built by mh.BuildPacket with a Home Address option
// and no routing header:
//
//	+------------------------+  0
//	| IPv6 header (40)       |
//	+------------------------+ 40
//	| Destination Options    |  Next Header, Hdr Ext Len=2, PadN(2),
//	|  with the HAO (24)     |  Type 0xC9, Len 16, Home Address
//	+------------------------+ 64
//	| Mobility Header        |  Payload Proto, Header Len, MH Type,
//	|                        |  Reserved, Checksum, message data, options
//	+------------------------+
const (
	ipv6OffPayloadLen = 4
	ipv6OffNextHeader = 6
	ipv6OffSrc        = 8
	ipv6OffDst        = 24
	addrLen           = 16
	protoDestOpts     = 60
	destOptsLen       = 24
	rh2Len            = 24 // type 2 routing header (RFC 6275 6.4)
	haoOffAddr        = 8  // within the Destination Options header
	// MHOffset is where the Mobility Header starts in such a packet.
	MHOffset = mh.IPv6HeaderLen + destOptsLen
	// buBodyLen is the Binding Update's fixed part after the 6-byte MH
	// header: Sequence, Flags, Lifetime (RFC 6275 6.1.7).
	mhHeaderLen = 6
	buBodyLen   = 6
	buOptsStart = mhHeaderLen + buBodyLen
	optHdrLen   = 2
)

// BU describes a Binding Update sent to the home agent with a Home Address
// option.
type BU struct {
	// Src is the outer source (the claimed care-of address), Dst the home
	// agent, HomeAddress the Home Address option's address.
	Src, Dst, HomeAddress netip.Addr
	// Sequence, Flags and Lifetime are the message's fields; Flags 0
	// means A|H|R.
	Sequence uint16
	Flags    mh.BUFlags
	Lifetime time.Duration
	// Prefixes become Mobile Network Prefix options.
	Prefixes []netip.Prefix
	// SA, when set, signs the message (RFC 4285: MN-ID, timestamp, MN-HA
	// authenticator) with its NAI, SPI and Key over SA.HomeAddress, which
	// should equal HomeAddress. Nil sends it unauthenticated.
	SA *mnha.SA
	// Now is the signer's clock for the timestamp (zero: time.Now).
	Now time.Time
}

// Message returns the Binding Update message, signed when b.SA is set.
func (b BU) Message() (mh.BindingUpdate, error) {
	flags := b.Flags
	if flags == 0 {
		flags = mh.BUFlagA | mh.BUFlagH | mh.BUFlagR
	}
	m := mh.BindingUpdate{Sequence: b.Sequence, Flags: flags, Lifetime: b.Lifetime}
	for _, p := range b.Prefixes {
		m.Options = append(m.Options, mh.MobileNetworkPrefix{Prefix: p})
	}
	if b.SA == nil {
		return m, nil
	}
	cfg := mnha.SignerConfig{SA: *b.SA}
	if !b.Now.IsZero() {
		now := b.Now
		cfg.Clock = func() time.Time { return now }
	}
	s, err := mnha.NewSigner(cfg)
	if err != nil {
		return mh.BindingUpdate{}, fmt.Errorf("attack: signer: %w", err)
	}
	return s.SignBU(b.Dst, b.Src, false, m)
}

// Packet returns the whole IPv6 packet.
func (b BU) Packet() ([]byte, error) {
	m, err := b.Message()
	if err != nil {
		return nil, err
	}
	return mh.BuildPacket(mh.Packet{Src: b.Src, Dst: b.Dst, HomeAddress: b.HomeAddress, Message: m})
}

// Mutation is one way of breaking a Binding Update (see Mutate).
type Mutation string

// The mutations of the hostile suite.
const (
	// TruncatedPacket cuts the IPv6 payload in the middle of the last
	// option; Header Len still claims the whole message.
	TruncatedPacket Mutation = "truncated-packet"
	// OptionPastEnd makes the last option's Length run 8 bytes past the
	// end of the Mobility Header.
	OptionPastEnd Mutation = "option-past-end"
	// WrongLengthMNP gives the Mobile Network Prefix option (fixed
	// length 18, RFC 3963 4.3) a Length of 10.
	WrongLengthMNP Mutation = "wrong-length-mnp"
	// WrongLengthReplay gives the Replay Protection option (fixed length
	// 8, RFC 4285 6) a Length of 4.
	WrongLengthReplay Mutation = "wrong-length-replay"
	// Misaligned moves every option but the last one byte off its
	// alignment rule (RFC 6275 6.2) with a Pad1 in front and no other
	// padding; the last (the Authentication option, which must end the
	// message) keeps the place that ends the message on 8n. The message
	// is otherwise well formed (and re-signed): RFC 6275 puts the
	// alignment rule on the sender only.
	Misaligned Mutation = "misaligned-options"
	// HugeHeaderLen sets Header Len to 255 (2048 bytes).
	HugeHeaderLen Mutation = "huge-header-len"
	// ShortHeaderLen sets Header Len to 0, less than a Binding Update's
	// minimum (RFC 6275 9.2).
	ShortHeaderLen Mutation = "short-header-len"
	// WrongPayloadProto sets Payload Proto to 6 instead of 59 (RFC 6275
	// 9.2).
	WrongPayloadProto Mutation = "wrong-payload-proto"
	// UnknownMHType sets the MH Type to 42, which RFC 6275 9.2 answers
	// with a Binding Error, status 2.
	UnknownMHType Mutation = "unknown-mh-type"
)

// Mutations lists every Mutation.
var Mutations = []Mutation{
	TruncatedPacket, OptionPastEnd, WrongLengthMNP, WrongLengthReplay, Misaligned,
	HugeHeaderLen, ShortHeaderLen, WrongPayloadProto, UnknownMHType,
}

// unknownMHType is an MH Type value no RFC assigns to Binding Updates and
// the home agent does not know.
const unknownMHType = 42

// Mutate returns a broken copy of pkt, a packet built by BU.Packet (with a
// Home Address option). The MH checksum is recomputed so that every
// mutation reaches the receiver's parser; key, when not nil, re-signs the
// MN-HA authenticator of a mutation that keeps the message well formed
// (Misaligned).
func Mutate(pkt []byte, m Mutation, key []byte) ([]byte, error) {
	if len(pkt) < MHOffset+buOptsStart || pkt[ipv6OffNextHeader] != protoDestOpts || pkt[mh.IPv6HeaderLen] != mh.ProtoMH {
		return nil, fmt.Errorf("%w: %d bytes, not IPv6 + HAO + MH", ErrTemplate, len(pkt))
	}
	b := append([]byte(nil), pkt...)
	msg := b[MHOffset:]
	opts, err := optionOffsets(msg)
	if err != nil {
		return nil, err
	}
	find := func(t mh.OptionType) (int, error) {
		for _, o := range opts {
			if msg[o] == byte(t) {
				return o, nil
			}
		}
		return 0, fmt.Errorf("%w: no option %d", ErrTemplate, t)
	}
	switch m {
	case TruncatedPacket:
		last := opts[len(opts)-1]
		cut := last + optHdrLen + int(msg[last+1])/2
		if MHOffset+cut > len(b) {
			return nil, fmt.Errorf("%w: last option runs past the packet", ErrTemplate)
		}
		b = b[:MHOffset+cut]
	case OptionPastEnd:
		last := opts[len(opts)-1]
		msg[last+1] += 8
	case WrongLengthMNP:
		o, err := find(mh.OptMobileNetworkPrefix)
		if err != nil {
			return nil, err
		}
		msg[o+1] = 10
	case WrongLengthReplay:
		o, err := find(mh.OptReplayProtection)
		if err != nil {
			return nil, err
		}
		msg[o+1] = 4
	case Misaligned:
		nb, err := misalign(msg)
		if err != nil {
			return nil, err
		}
		b = append(b[:MHOffset], nb...)
		msg = b[MHOffset:]
		if key != nil {
			src, hoa := addrAt(b, ipv6OffSrc), addrAt(b, mh.IPv6HeaderLen+haoOffAddr)
			if err := mh.SignMNHA(key, src, hoa, msg); err != nil {
				return nil, fmt.Errorf("attack: re-signing: %w", err)
			}
		}
	case HugeHeaderLen:
		msg[mh.OffHeaderLen] = 255
	case ShortHeaderLen:
		msg[mh.OffHeaderLen] = 0
	case WrongPayloadProto:
		msg[mh.OffPayloadProto] = 6
	case UnknownMHType:
		msg[mh.OffType] = unknownMHType
	default:
		return nil, fmt.Errorf("%w: unknown mutation %q", ErrTemplate, m)
	}
	binary.BigEndian.PutUint16(b[ipv6OffPayloadLen:], uint16(len(b)-mh.IPv6HeaderLen))
	fixChecksum(b)
	return b, nil
}

// optionOffsets returns the MH offsets of every option other than padding.
func optionOffsets(msg []byte) ([]int, error) {
	n := (int(msg[mh.OffHeaderLen]) + 1) * 8
	if n > len(msg) || msg[mh.OffType] != byte(mh.TypeBU) {
		return nil, fmt.Errorf("%w: not a whole binding update", ErrTemplate)
	}
	var offs []int
	for i := buOptsStart; i < n; {
		if msg[i] == byte(mh.OptPad1) {
			i++
			continue
		}
		if i+optHdrLen > n {
			return nil, fmt.Errorf("%w: option header cut at %d", ErrTemplate, i)
		}
		if i+optHdrLen+int(msg[i+1]) > n {
			return nil, fmt.Errorf("%w: option at %d runs past the message", ErrTemplate, i)
		}
		if msg[i] != byte(mh.OptPadN) {
			offs = append(offs, i)
		}
		i += optHdrLen + int(msg[i+1])
	}
	if len(offs) == 0 {
		return nil, fmt.Errorf("%w: no options", ErrTemplate)
	}
	return offs, nil
}

// misalign rebuilds the option area of msg with a Pad1 in front of every
// option and no other padding, then pads the end to 8 bytes with PadN (or
// Pad1s) placed before the last option so that it stays last.
func misalign(msg []byte) ([]byte, error) {
	offs, err := optionOffsets(msg)
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), msg[:buOptsStart]...)
	var last []byte
	for k, o := range offs {
		opt := msg[o : o+optHdrLen+int(msg[o+1])]
		if k == len(offs)-1 {
			last = opt
			break
		}
		out = append(out, byte(mh.OptPad1))
		out = append(out, opt...)
	}
	// Pad so that the last option ends on 8n.
	for (len(out)+len(last))%8 != 0 {
		out = append(out, byte(mh.OptPad1))
	}
	out = append(out, last...)
	out[mh.OffHeaderLen] = byte(len(out)/8 - 1)
	return out, nil
}

func addrAt(b []byte, off int) netip.Addr {
	return netip.AddrFrom16([addrLen]byte(b[off : off+addrLen]))
}

// fixChecksum recomputes the MH checksum of a packet with a Home Address
// option (RFC 6275 6.1.1: the home address is the pseudo-header source).
func fixChecksum(b []byte) {
	if len(b) < MHOffset+mh.OffChecksum+2 {
		return
	}
	hoa, dst := addrAt(b, mh.IPv6HeaderLen+haoOffAddr), addrAt(b, ipv6OffDst)
	mh.SetChecksum(hoa, dst, b[MHOffset:])
}

// SetSource rewrites the outer IPv6 source of a packet with a Home Address
// option in place. The MH checksum does not change: its pseudo-header uses
// the home address.
func SetSource(pkt []byte, src netip.Addr) error {
	if len(pkt) < MHOffset || pkt[ipv6OffNextHeader] != protoDestOpts || !src.Is6() {
		return fmt.Errorf("%w: cannot set source %v", ErrTemplate, src)
	}
	a := src.As16()
	copy(pkt[ipv6OffSrc:], a[:])
	return nil
}

// BA returns a Binding Acknowledgement packet from src (spoofing the home
// agent) to the mobile router's care-of address coa, with a type 2 routing
// header carrying its home address hoa, as a home agent sends it. With sa
// set it carries RFC 4285 options signed with sa's key (a wrong key makes
// it a forgery the mobile router must reject); a zero authenticator
// otherwise.
func BA(src, coa, hoa netip.Addr, ba mh.BindingAck, sa *mnha.SA, ts uint64) ([]byte, error) {
	if sa != nil {
		ba.Options = append(ba.Options,
			mh.MobileNodeIdentifier{Subtype: mh.MNIDSubtypeNAI, Identifier: []byte(sa.NAI)},
			mh.ReplayProtection{Timestamp: ts},
			mh.Authentication{Subtype: mh.AuthSubtypeMNHA, SPI: sa.SPI, Data: make([]byte, mh.MNHAAuthLen)})
	}
	pkt, err := mh.BuildPacket(mh.Packet{Src: src, Dst: coa, RoutingHome: hoa, Message: ba})
	if err != nil || sa == nil {
		return pkt, err
	}
	// The routing header precedes the MH; the authenticator
	// covers the care-of and home addresses and the MH (RFC 4285 5.1).
	msg := pkt[mh.IPv6HeaderLen+rh2Len:]
	if err := mh.SignMNHA(sa.Key, coa, hoa, msg); err != nil {
		return nil, fmt.Errorf("attack: signing BA: %w", err)
	}
	mh.SetChecksum(src, hoa, msg)
	return pkt, nil
}

// BE returns a Binding Error packet from src to dst.
func BE(src, dst netip.Addr, be mh.BindingError) ([]byte, error) {
	return mh.BuildPacket(mh.Packet{Src: src, Dst: dst, Message: be})
}
