package dhcpv4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	dhcp "github.com/insomniacslk/dhcp/dhcpv4"
)

// ErrBadSend: a Send action cannot be turned into a message.
var ErrBadSend = errors.New("dhcpv4: cannot build message")

// Identity is what a client says about itself in every message.
type Identity struct {
	// HWAddr is chaddr (the interface's MAC address).
	HWAddr net.HardwareAddr
	// ClientID is option 61 when non-empty (RFC 2132 9.14).
	ClientID []byte
	// Hostname is option 12 when non-empty (RFC 2132 3.14).
	Hostname string
}

// requestedParams is option 55: what we need from the server.
var requestedParams = []dhcp.OptionCode{
	dhcp.OptionSubnetMask,
	dhcp.OptionRouter,
	dhcp.OptionIPAddressLeaseTime,
	dhcp.OptionServerIdentifier,
	dhcp.OptionRenewTimeValue,
	dhcp.OptionRebindingTimeValue,
}

// maxSecs is the largest value of the 16-bit 'secs' field.
const maxSecs = 0xffff

// BuildMessage turns a Send action into the DHCP message of RFC 2131
// table 5. Messages sent before the client has an address ask for a
// broadcast reply (flags B bit, 4.1).
func BuildMessage(s Send, id Identity) (*dhcp.DHCPv4, error) {
	if len(id.HWAddr) == 0 || len(id.HWAddr) > 16 {
		return nil, fmt.Errorf("%w: hardware address %v", ErrBadSend, id.HWAddr)
	}
	var (
		mt        dhcp.MessageType
		broadcast bool
		params    = true
	)
	switch s.Kind {
	case SendDiscover:
		mt, broadcast = dhcp.MessageTypeDiscover, true
	case SendRequestSelecting:
		mt, broadcast = dhcp.MessageTypeRequest, true
		if !s.RequestedIP.Is4() || !s.ServerID.Is4() {
			return nil, fmt.Errorf("%w: %v needs requested IP and server ID", ErrBadSend, s.Kind)
		}
	case SendRequestInitReboot:
		mt, broadcast = dhcp.MessageTypeRequest, true
		if !s.RequestedIP.Is4() {
			return nil, fmt.Errorf("%w: %v needs requested IP", ErrBadSend, s.Kind)
		}
	case SendRequestRenewing, SendRequestRebinding:
		mt = dhcp.MessageTypeRequest
		if !s.ClientIP.Is4() {
			return nil, fmt.Errorf("%w: %v needs ciaddr", ErrBadSend, s.Kind)
		}
	case SendRelease:
		mt, params = dhcp.MessageTypeRelease, false
		if !s.ClientIP.Is4() || !s.ServerID.Is4() {
			return nil, fmt.Errorf("%w: %v needs ciaddr and server ID", ErrBadSend, s.Kind)
		}
	default:
		return nil, fmt.Errorf("%w: unknown kind %v", ErrBadSend, s.Kind)
	}
	var xid dhcp.TransactionID
	binary.BigEndian.PutUint32(xid[:], s.XID)
	mods := []dhcp.Modifier{
		dhcp.WithTransactionID(xid),
		dhcp.WithHwAddr(id.HWAddr),
		dhcp.WithMessageType(mt),
		dhcp.WithBroadcast(broadcast),
	}
	if s.ClientIP.Is4() {
		mods = append(mods, dhcp.WithClientIP(net.IP(s.ClientIP.AsSlice())))
	}
	if s.RequestedIP.Is4() {
		mods = append(mods, dhcp.WithOption(dhcp.OptRequestedIPAddress(net.IP(s.RequestedIP.AsSlice()))))
	}
	if s.ServerID.Is4() {
		mods = append(mods, dhcp.WithOption(dhcp.OptServerIdentifier(net.IP(s.ServerID.AsSlice()))))
	}
	if len(id.ClientID) > 0 {
		mods = append(mods, dhcp.WithOption(dhcp.OptClientIdentifier(id.ClientID)))
	}
	if params {
		mods = append(mods, dhcp.WithRequestedOptions(requestedParams...))
		if id.Hostname != "" {
			mods = append(mods, dhcp.WithOption(dhcp.OptHostName(id.Hostname)))
		}
	}
	m, err := dhcp.New(mods...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSend, err)
	}
	m.NumSeconds = uint16(min(max(s.Elapsed/time.Second, 0), maxSecs))
	return m, nil
}

// destination returns the UDP destination of a Send: the server for a
// unicast, else the limited broadcast address.
func destination(s Send) netip.AddrPort {
	if s.Dest.Is4() {
		return netip.AddrPortFrom(s.Dest, dhcp.ServerPort)
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), dhcp.ServerPort)
}
