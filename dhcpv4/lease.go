package dhcpv4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"

	dhcp "github.com/insomniacslk/dhcp/dhcpv4"
)

// Sentinel errors returned (wrapped with context) by ParseReply.
var (
	// ErrNotReply: the message is not a BOOTREPLY or carries no DHCP
	// message type we accept from a server (OFFER, ACK, NAK).
	ErrNotReply = errors.New("dhcpv4: not a DHCP server reply")
	// ErrBadOption: an option we rely on has the wrong length or value.
	ErrBadOption = errors.New("dhcpv4: malformed option")
	// ErrMissingOption: a field RFC 2131 Table 3 makes mandatory is absent.
	ErrMissingOption = errors.New("dhcpv4: required option missing")
	// ErrBadAddress: yiaddr is not a usable unicast IPv4 address.
	ErrBadAddress = errors.New("dhcpv4: unusable offered address")
)

// InfiniteLease is the lease time a server gives as 0xffffffff
// (RFC 2132 section 9.2): the lease never expires and T1/T2 never fire.
const InfiniteLease = time.Duration(math.MaxInt64)

// Wire value of an infinite lease time (RFC 2132 section 9.2).
const infiniteLeaseSeconds = 0xffffffff

// Default renewal (T1) and rebinding (T2) fractions of the lease time when
// the server sends neither option (RFC 2131 section 4.4.5).
const (
	defaultT1Num, defaultT1Den = 1, 2 // 0.5
	defaultT2Num, defaultT2Den = 7, 8 // 0.875
)

// Lengths of the fixed-size options we read (RFC 2132).
const (
	optLenAddr   = 4 // options 1, 3 (per entry), 54
	optLenSecond = 4 // options 51, 58, 59
	optLenType   = 1 // option 53
)

// Lease is an IPv4 address lease as granted by a DHCP server.
type Lease struct {
	// Addr is the leased address (yiaddr) with the subnet mask's length.
	Addr netip.Prefix
	// Router is the first router of option 3; invalid when none was sent.
	Router netip.Addr
	// Server is the server identifier (option 54).
	Server netip.Addr
	// LeaseTime is option 51; InfiniteLease for 0xffffffff.
	LeaseTime time.Duration
	// T1 and T2 are the renewal and rebinding times, measured from Start.
	// They are the server's options 58/59, or 0.5 and 0.875 of LeaseTime
	// when absent or inconsistent (RFC 2131 4.4.5). Zero for an infinite
	// lease.
	T1, T2 time.Duration
	// Start is when the client sent the request that this lease answers
	// (RFC 2131 4.4.1): T1, T2 and expiry count from it. ParseReply leaves
	// it zero; the state machine fills it in.
	Start time.Time
}

// Infinite reports whether the lease never expires.
func (l Lease) Infinite() bool { return l.LeaseTime == InfiniteLease }

// Expiry is the time the lease ends; zero for an infinite lease.
func (l Lease) Expiry() time.Time {
	if l.Infinite() {
		return time.Time{}
	}
	return l.Start.Add(l.LeaseTime)
}

// RenewAt is the time of T1; zero for an infinite lease.
func (l Lease) RenewAt() time.Time {
	if l.Infinite() {
		return time.Time{}
	}
	return l.Start.Add(l.T1)
}

// RebindAt is the time of T2; zero for an infinite lease.
func (l Lease) RebindAt() time.Time {
	if l.Infinite() {
		return time.Time{}
	}
	return l.Start.Add(l.T2)
}

// ReplyType is the DHCP message type of a server reply.
type ReplyType uint8

// Server reply types (RFC 2132 section 9.6).
const (
	ReplyOffer ReplyType = ReplyType(dhcp.MessageTypeOffer)
	ReplyAck   ReplyType = ReplyType(dhcp.MessageTypeAck)
	ReplyNak   ReplyType = ReplyType(dhcp.MessageTypeNak)
)

// String returns the RFC name of the reply type.
func (t ReplyType) String() string {
	switch t {
	case ReplyOffer:
		return "DHCPOFFER"
	case ReplyAck:
		return "DHCPACK"
	case ReplyNak:
		return "DHCPNAK"
	}
	return fmt.Sprintf("ReplyType(%d)", uint8(t))
}

// Reply is what the state machine needs from a server's reply.
type Reply struct {
	// Type is OFFER, ACK or NAK.
	Type ReplyType
	// XID is the transaction ID the reply answers.
	XID uint32
	// Server is the server identifier; it may be invalid in a NAK only.
	Server netip.Addr
	// Lease is the offered or acknowledged lease; zero in a NAK.
	Lease Lease
}

// ParseReply extracts a Reply from a DHCP message received from a server.
// It validates everything before it returns: on error the Reply is zero.
//
// Rules: op must be BOOTREPLY; option 53 must be OFFER, ACK or NAK; an
// OFFER or ACK must carry a server identifier (54), a lease time (51) and
// a unicast yiaddr; a subnet mask (1) must be contiguous and, when absent,
// the classful mask is used; T1 (58) and T2 (59) fall back to 0.5 and
// 0.875 of the lease unless 0 < T1 < T2 < lease.
func ParseReply(m *dhcp.DHCPv4) (Reply, error) {
	if m == nil {
		return Reply{}, fmt.Errorf("%w: nil message", ErrNotReply)
	}
	if m.OpCode != dhcp.OpcodeBootReply {
		return Reply{}, fmt.Errorf("%w: op %d", ErrNotReply, m.OpCode)
	}
	mt, err := optByte(m, dhcp.OptionDHCPMessageType)
	if err != nil {
		return Reply{}, err
	}
	typ := ReplyType(mt)
	if typ != ReplyOffer && typ != ReplyAck && typ != ReplyNak {
		return Reply{}, fmt.Errorf("%w: message type %d", ErrNotReply, mt)
	}
	xid := binary.BigEndian.Uint32(m.TransactionID[:])
	server, err := optAddr(m, dhcp.OptionServerIdentifier)
	if err != nil {
		return Reply{}, err
	}
	if typ == ReplyNak {
		return Reply{Type: typ, XID: xid, Server: server}, nil
	}
	if !server.IsValid() {
		return Reply{}, fmt.Errorf("%w: server identifier (54) in %v", ErrMissingOption, typ)
	}
	lease, err := parseLease(m)
	if err != nil {
		return Reply{}, fmt.Errorf("%v: %w", typ, err)
	}
	lease.Server = server
	return Reply{Type: typ, XID: xid, Server: server, Lease: lease}, nil
}

// parseLease reads yiaddr and the lease options of an OFFER or ACK.
func parseLease(m *dhcp.DHCPv4) (Lease, error) {
	yi, ok := netip.AddrFromSlice(m.YourIPAddr.To4())
	if !ok || !usableUnicast(yi) {
		return Lease{}, fmt.Errorf("%w: yiaddr %v", ErrBadAddress, m.YourIPAddr)
	}
	bits, err := maskBits(m, yi)
	if err != nil {
		return Lease{}, err
	}
	lt, ok, err := optSeconds(m, dhcp.OptionIPAddressLeaseTime)
	if err != nil {
		return Lease{}, err
	}
	if !ok {
		return Lease{}, fmt.Errorf("%w: lease time (51)", ErrMissingOption)
	}
	if lt == 0 {
		return Lease{}, fmt.Errorf("%w: lease time 0", ErrBadOption)
	}
	t1, ok1, err := optSeconds(m, dhcp.OptionRenewTimeValue)
	if err != nil {
		return Lease{}, err
	}
	t2, ok2, err := optSeconds(m, dhcp.OptionRebindingTimeValue)
	if err != nil {
		return Lease{}, err
	}
	router, err := firstRouter(m)
	if err != nil {
		return Lease{}, err
	}
	l := Lease{Addr: netip.PrefixFrom(yi, bits), Router: router}
	if lt == infiniteLeaseSeconds {
		l.LeaseTime = InfiniteLease
		return l, nil
	}
	l.LeaseTime = time.Duration(lt) * time.Second
	l.T1, l.T2 = Timers(l.LeaseTime, time.Duration(t1)*time.Second, ok1, time.Duration(t2)*time.Second, ok2)
	return l, nil
}

// Timers returns the T1 and T2 to use for a finite lease: the server's
// values when given and consistent (0 < T1 < T2 < lease; a lone T1 or T2 is
// checked against the default for the other), otherwise the RFC 2131 4.4.5
// defaults 0.5 and 0.875 of the lease.
func Timers(lease, t1 time.Duration, haveT1 bool, t2 time.Duration, haveT2 bool) (time.Duration, time.Duration) {
	d1 := lease / defaultT1Den * defaultT1Num // divide first: no overflow near 2^32 s
	d2 := lease / defaultT2Den * defaultT2Num
	if !haveT1 {
		t1 = d1
	}
	if !haveT2 {
		t2 = d2
	}
	if t1 > 0 && t1 < t2 && t2 < lease {
		return t1, t2
	}
	return d1, d2
}

// usableUnicast reports whether a is an address a host can be given.
func usableUnicast(a netip.Addr) bool {
	return a.Is4() && !a.IsUnspecified() && !a.IsMulticast() && !a.IsLoopback() &&
		a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// maskBits returns the prefix length from option 1, or the classful length
// of a when the option is absent.
func maskBits(m *dhcp.DHCPv4, a netip.Addr) (int, error) {
	v := m.Options.Get(dhcp.OptionSubnetMask)
	if v == nil {
		switch b := a.As4()[0]; {
		case b < 128:
			return 8, nil
		case b < 192:
			return 16, nil
		default:
			return 24, nil
		}
	}
	if len(v) != optLenAddr {
		return 0, fmt.Errorf("%w: subnet mask length %d", ErrBadOption, len(v))
	}
	mask := binary.BigEndian.Uint32(v)
	ones := 0
	for mask&(1<<31) != 0 {
		ones++
		mask <<= 1
	}
	if mask != 0 || ones == 0 || ones > 31 {
		return 0, fmt.Errorf("%w: subnet mask %x", ErrBadOption, v)
	}
	return ones, nil
}

// optByte reads a one-byte option that must be present.
func optByte(m *dhcp.DHCPv4, code dhcp.OptionCode) (byte, error) {
	v := m.Options.Get(code)
	if v == nil {
		return 0, fmt.Errorf("%w: option %d", ErrMissingOption, code.Code())
	}
	if len(v) != optLenType {
		return 0, fmt.Errorf("%w: option %d length %d", ErrBadOption, code.Code(), len(v))
	}
	return v[0], nil
}

// optAddr reads a single-address option; invalid Addr when absent.
func optAddr(m *dhcp.DHCPv4, code dhcp.OptionCode) (netip.Addr, error) {
	v := m.Options.Get(code)
	if v == nil {
		return netip.Addr{}, nil
	}
	if len(v) != optLenAddr {
		return netip.Addr{}, fmt.Errorf("%w: option %d length %d", ErrBadOption, code.Code(), len(v))
	}
	a := netip.AddrFrom4([4]byte(v))
	if !usableUnicast(a) {
		return netip.Addr{}, fmt.Errorf("%w: option %d address %v", ErrBadOption, code.Code(), a)
	}
	return a, nil
}

// optSeconds reads a 32-bit seconds option; ok is false when absent.
func optSeconds(m *dhcp.DHCPv4, code dhcp.OptionCode) (secs uint32, ok bool, err error) {
	v := m.Options.Get(code)
	if v == nil {
		return 0, false, nil
	}
	if len(v) != optLenSecond {
		return 0, false, fmt.Errorf("%w: option %d length %d", ErrBadOption, code.Code(), len(v))
	}
	return binary.BigEndian.Uint32(v), true, nil
}

// firstRouter returns the first usable address of option 3.
func firstRouter(m *dhcp.DHCPv4) (netip.Addr, error) {
	v := m.Options.Get(dhcp.OptionRouter)
	if v == nil {
		return netip.Addr{}, nil
	}
	if len(v) == 0 || len(v)%optLenAddr != 0 {
		return netip.Addr{}, fmt.Errorf("%w: router option length %d", ErrBadOption, len(v))
	}
	for i := 0; i < len(v); i += optLenAddr {
		if a := netip.AddrFrom4([4]byte(v[i : i+optLenAddr])); usableUnicast(a) {
			return a, nil
		}
	}
	return netip.Addr{}, nil
}
