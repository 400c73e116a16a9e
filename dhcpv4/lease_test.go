package dhcpv4

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	dhcp "github.com/insomniacslk/dhcp/dhcpv4"
)

// serverMsg builds a server reply the way a server would.
func serverMsg(t testing.TB, mt dhcp.MessageType, mods ...dhcp.Modifier) *dhcp.DHCPv4 {
	t.Helper()
	base := []dhcp.Modifier{
		dhcp.WithTransactionID(dhcp.TransactionID{0xde, 0xad, 0xbe, 0xef}),
		dhcp.WithHwAddr(net.HardwareAddr{2, 0, 0, 0, 0, 1}),
		dhcp.WithMessageType(mt),
		func(d *dhcp.DHCPv4) { d.OpCode = dhcp.OpcodeBootReply },
	}
	m, err := dhcp.New(append(base, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func ackMods() []dhcp.Modifier {
	return []dhcp.Modifier{
		dhcp.WithYourIP(net.IPv4(198, 18, 9, 100)),
		dhcp.WithOption(dhcp.OptServerIdentifier(net.IPv4(198, 18, 9, 1))),
		dhcp.WithOption(dhcp.OptIPAddressLeaseTime(2 * time.Minute)),
		dhcp.WithOption(dhcp.OptSubnetMask(net.CIDRMask(24, 32))),
		dhcp.WithOption(dhcp.OptRouter(net.IPv4(0, 0, 0, 0), net.IPv4(198, 18, 9, 254))),
	}
}

func TestParseReplyAck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		extra  []dhcp.Modifier
		t1, t2 time.Duration
	}{
		{"defaults", nil, time.Minute, 105 * time.Second},
		{"server timers", []dhcp.Modifier{
			dhcp.WithOption(dhcp.OptRenewTimeValue(30 * time.Second)),
			dhcp.WithOption(dhcp.OptRebindingTimeValue(90 * time.Second)),
		}, 30 * time.Second, 90 * time.Second},
		{"lone T1", []dhcp.Modifier{dhcp.WithOption(dhcp.OptRenewTimeValue(20 * time.Second))}, 20 * time.Second, 105 * time.Second},
		{"T1 after T2", []dhcp.Modifier{
			dhcp.WithOption(dhcp.OptRenewTimeValue(100 * time.Second)),
			dhcp.WithOption(dhcp.OptRebindingTimeValue(90 * time.Second)),
		}, time.Minute, 105 * time.Second},
		{"T2 beyond lease", []dhcp.Modifier{dhcp.WithOption(dhcp.OptRebindingTimeValue(200 * time.Second))}, time.Minute, 105 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseReply(serverMsg(t, dhcp.MessageTypeAck, append(ackMods(), tc.extra...)...))
			if err != nil {
				t.Fatal(err)
			}
			want := Reply{Type: ReplyAck, XID: 0xdeadbeef, Server: netip.MustParseAddr("198.18.9.1"), Lease: Lease{
				Addr:      netip.MustParsePrefix("198.18.9.100/24"),
				Router:    netip.MustParseAddr("198.18.9.254"), // 0.0.0.0 skipped
				Server:    netip.MustParseAddr("198.18.9.1"),
				LeaseTime: 2 * time.Minute, T1: tc.t1, T2: tc.t2,
			}}
			if r != want {
				t.Fatalf("got %+v\nwant %+v", r, want)
			}
		})
	}
}

func TestParseReplyVariants(t *testing.T) {
	// Offer without mask or router: classful mask, no router.
	r, err := ParseReply(serverMsg(t, dhcp.MessageTypeOffer,
		dhcp.WithYourIP(net.IPv4(192, 0, 2, 9)),
		dhcp.WithOption(dhcp.OptServerIdentifier(net.IPv4(192, 0, 2, 1))),
		dhcp.WithOption(dhcp.OptGeneric(dhcp.OptionIPAddressLeaseTime, []byte{0xff, 0xff, 0xff, 0xff}))))
	if err != nil {
		t.Fatal(err)
	}
	if r.Type != ReplyOffer || r.Lease.Addr != netip.MustParsePrefix("192.0.2.9/24") || r.Lease.Router.IsValid() ||
		!r.Lease.Infinite() || r.Lease.T1 != 0 || !r.Lease.Expiry().IsZero() {
		t.Fatalf("offer = %+v", r)
	}
	// NAK: no lease, server identifier optional.
	r, err = ParseReply(serverMsg(t, dhcp.MessageTypeNak))
	if err != nil || r != (Reply{Type: ReplyNak, XID: 0xdeadbeef}) {
		t.Fatalf("nak = %+v, %v", r, err)
	}
}

func TestParseReplyErrors(t *testing.T) {
	without := func(code dhcp.OptionCode) dhcp.Modifier { return dhcp.WithoutOption(code) }
	generic := func(code dhcp.OptionCode, v ...byte) dhcp.Modifier { return dhcp.WithOption(dhcp.OptGeneric(code, v)) }
	for _, tc := range []struct {
		name string
		msg  *dhcp.DHCPv4
		err  error
	}{
		{"nil", nil, ErrNotReply},
		{"request op", func() *dhcp.DHCPv4 {
			m := serverMsg(t, dhcp.MessageTypeAck, ackMods()...)
			m.OpCode = dhcp.OpcodeBootRequest
			return m
		}(), ErrNotReply},
		{"discover type", serverMsg(t, dhcp.MessageTypeDiscover, ackMods()...), ErrNotReply},
		{"no type", serverMsg(t, dhcp.MessageTypeAck, append(ackMods(), without(dhcp.OptionDHCPMessageType))...), ErrMissingOption},
		{"long type", serverMsg(t, dhcp.MessageTypeAck, append(ackMods(), generic(dhcp.OptionDHCPMessageType, 5, 5))...), ErrBadOption},
		{"no server id", serverMsg(t, dhcp.MessageTypeAck, append(ackMods(), without(dhcp.OptionServerIdentifier))...), ErrMissingOption},
		{"short server id", serverMsg(t, dhcp.MessageTypeAck, append(ackMods(), generic(dhcp.OptionServerIdentifier, 1, 2, 3))...), ErrBadOption},
		{"broadcast server id", serverMsg(t, dhcp.MessageTypeAck, append(ackMods(), generic(dhcp.OptionServerIdentifier, 255, 255, 255, 255))...), ErrBadOption},
		{"no lease time", serverMsg(t, dhcp.MessageTypeAck, append(ackMods(), without(dhcp.OptionIPAddressLeaseTime))...), ErrMissingOption},
		{"zero lease time", serverMsg(t, dhcp.MessageTypeAck, append(ackMods(), generic(dhcp.OptionIPAddressLeaseTime, 0, 0, 0, 0))...), ErrBadOption},
		{"short lease time", serverMsg(t, dhcp.MessageTypeAck, append(ackMods(), generic(dhcp.OptionIPAddressLeaseTime, 0, 0, 1))...), ErrBadOption},
		{"short T1", serverMsg(t, dhcp.MessageTypeAck, append(ackMods(), generic(dhcp.OptionRenewTimeValue, 1))...), ErrBadOption},
		{"short T2", serverMsg(t, dhcp.MessageTypeAck, append(ackMods(), generic(dhcp.OptionRebindingTimeValue, 1))...), ErrBadOption},
		{"zero yiaddr", serverMsg(t, dhcp.MessageTypeAck, append(ackMods(), dhcp.WithYourIP(net.IPv4zero))...), ErrBadAddress},
		{"multicast yiaddr", serverMsg(t, dhcp.MessageTypeAck, append(ackMods(), dhcp.WithYourIP(net.IPv4(224, 0, 0, 9)))...), ErrBadAddress},
		{"holey mask", serverMsg(t, dhcp.MessageTypeAck, append(ackMods(), generic(dhcp.OptionSubnetMask, 255, 0, 255, 0))...), ErrBadOption},
		{"zero mask", serverMsg(t, dhcp.MessageTypeAck, append(ackMods(), generic(dhcp.OptionSubnetMask, 0, 0, 0, 0))...), ErrBadOption},
		{"short mask", serverMsg(t, dhcp.MessageTypeAck, append(ackMods(), generic(dhcp.OptionSubnetMask, 255, 255))...), ErrBadOption},
		{"ragged router", serverMsg(t, dhcp.MessageTypeAck, append(ackMods(), generic(dhcp.OptionRouter, 198, 18, 9, 1, 7))...), ErrBadOption},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseReply(tc.msg)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if r != (Reply{}) {
				t.Fatalf("half-filled reply %+v", r)
			}
		})
	}
}

func TestTimers(t *testing.T) {
	for _, tc := range []struct {
		lease, t1, t2 time.Duration
		have1, have2  bool
		want1, want2  time.Duration
	}{
		{8 * time.Hour, 0, 0, false, false, 4 * time.Hour, 7 * time.Hour},
		{8 * time.Hour, time.Hour, 2 * time.Hour, true, true, time.Hour, 2 * time.Hour},
		{8 * time.Hour, 0, 2 * time.Hour, true, true, 4 * time.Hour, 7 * time.Hour},
		{8 * time.Hour, time.Hour, 8 * time.Hour, true, true, 4 * time.Hour, 7 * time.Hour},
		{8 * time.Hour, 0, 5 * time.Hour, false, true, 4 * time.Hour, 5 * time.Hour},
		{8 * time.Hour, 0, 3 * time.Hour, false, true, 4 * time.Hour, 7 * time.Hour},
	} {
		g1, g2 := Timers(tc.lease, tc.t1, tc.have1, tc.t2, tc.have2)
		if g1 != tc.want1 || g2 != tc.want2 {
			t.Errorf("Timers(%v, %v/%v, %v/%v) = %v, %v; want %v, %v", tc.lease, tc.t1, tc.have1, tc.t2, tc.have2, g1, g2, tc.want1, tc.want2)
		}
	}
}
