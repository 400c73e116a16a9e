package dhcpv4

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	dhcp "github.com/insomniacslk/dhcp/dhcpv4"
)

var testID = Identity{HWAddr: net.HardwareAddr{2, 0, 0x5e, 0, 0x53, 1}, ClientID: []byte{1, 2, 0, 0x5e, 0, 0x53, 1}, Hostname: "mr1"}

func TestBuildMessage(t *testing.T) {
	ci := netip.MustParseAddr("198.18.9.100")
	for _, tc := range []struct {
		send      Send
		mt        dhcp.MessageType
		broadcast bool
		ciaddr    net.IP
		reqIP     net.IP
		serverID  net.IP
		params    bool
		dest      string
	}{
		{Send{Kind: SendDiscover, XID: 1, Elapsed: 3 * time.Second}, dhcp.MessageTypeDiscover, true, net.IPv4zero, nil, nil, true, "255.255.255.255:67"},
		{Send{Kind: SendRequestSelecting, XID: 2, RequestedIP: ci, ServerID: srvA}, dhcp.MessageTypeRequest, true, net.IPv4zero, ci.AsSlice(), srvA.AsSlice(), true, "255.255.255.255:67"},
		{Send{Kind: SendRequestInitReboot, XID: 3, RequestedIP: ci}, dhcp.MessageTypeRequest, true, net.IPv4zero, ci.AsSlice(), nil, true, "255.255.255.255:67"},
		{Send{Kind: SendRequestRenewing, XID: 4, ClientIP: ci, Dest: srvA}, dhcp.MessageTypeRequest, false, ci.AsSlice(), nil, nil, true, "198.18.9.1:67"},
		{Send{Kind: SendRequestRebinding, XID: 5, ClientIP: ci, Elapsed: 100000 * time.Second}, dhcp.MessageTypeRequest, false, ci.AsSlice(), nil, nil, true, "255.255.255.255:67"},
		{Send{Kind: SendRelease, XID: 6, ClientIP: ci, ServerID: srvA, Dest: srvA}, dhcp.MessageTypeRelease, false, ci.AsSlice(), nil, srvA.AsSlice(), false, "198.18.9.1:67"},
	} {
		t.Run(tc.send.Kind.String(), func(t *testing.T) {
			built, err := BuildMessage(tc.send, testID)
			if err != nil {
				t.Fatal(err)
			}
			// Check what goes on the wire, decoded again.
			m, err := dhcp.FromBytes(built.ToBytes())
			if err != nil {
				t.Fatal(err)
			}
			if m.OpCode != dhcp.OpcodeBootRequest || m.MessageType() != tc.mt || m.IsBroadcast() != tc.broadcast {
				t.Fatalf("op %v type %v broadcast %v", m.OpCode, m.MessageType(), m.IsBroadcast())
			}
			if m.TransactionID != (dhcp.TransactionID{0, 0, 0, byte(tc.send.XID)}) {
				t.Fatalf("xid %v", m.TransactionID)
			}
			wantSecs := uint16(min(tc.send.Elapsed/time.Second, 0xffff))
			if m.NumSeconds != wantSecs {
				t.Fatalf("secs %d, want %d", m.NumSeconds, wantSecs)
			}
			if !bytes.Equal(m.ClientHWAddr, testID.HWAddr) || !m.ClientIPAddr.Equal(tc.ciaddr) {
				t.Fatalf("chaddr %v ciaddr %v", m.ClientHWAddr, m.ClientIPAddr)
			}
			if got := m.RequestedIPAddress(); !got.Equal(tc.reqIP) {
				t.Fatalf("requested IP %v, want %v", got, tc.reqIP)
			}
			if got := m.ServerIdentifier(); !got.Equal(tc.serverID) {
				t.Fatalf("server ID %v, want %v", got, tc.serverID)
			}
			if !bytes.Equal(m.Options.Get(dhcp.OptionClientIdentifier), testID.ClientID) {
				t.Fatalf("client ID %x", m.Options.Get(dhcp.OptionClientIdentifier))
			}
			if got := m.Options.Has(dhcp.OptionParameterRequestList) && m.IsOptionRequested(dhcp.OptionRouter); got != tc.params {
				t.Fatalf("router requested = %v", got)
			}
			if tc.params && m.HostName() != testID.Hostname {
				t.Fatalf("hostname %q", m.HostName())
			}
			if got := destination(tc.send).String(); got != tc.dest {
				t.Fatalf("destination %v, want %v", got, tc.dest)
			}
		})
	}
}

func TestBuildMessageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Send
		id   Identity
	}{
		{"no hwaddr", Send{Kind: SendDiscover}, Identity{}},
		{"selecting without server", Send{Kind: SendRequestSelecting, RequestedIP: leaseA.Addr()}, testID},
		{"init-reboot without address", Send{Kind: SendRequestInitReboot}, testID},
		{"renewing without ciaddr", Send{Kind: SendRequestRenewing, Dest: srvA}, testID},
		{"release without server", Send{Kind: SendRelease, ClientIP: leaseA.Addr()}, testID},
		{"unknown kind", Send{Kind: SendRelease + 1}, testID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := BuildMessage(tc.s, tc.id)
			if !errors.Is(err, ErrBadSend) || m != nil {
				t.Fatalf("got %v, %v", m, err)
			}
		})
	}
}
