//go:build !linux

package transport

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/vishvananda/netns"
)

var errNotLinux = fmt.Errorf("transport: needs Linux: %w", errors.ErrUnsupported)

// IPv6Sender sends whole IPv6 packets (Linux only).
type IPv6Sender struct{}

// Send is not supported on this system.
func (*IPv6Sender) Send([]byte) error { return errNotLinux }

// Close does nothing.
func (*IPv6Sender) Close() error { return nil }

// UDP4 is a UDP/IPv4 socket (Linux only).
type UDP4 struct{}

// Packets returns nil.
func (*UDP4) Packets() <-chan Datagram { return nil }

// Err reports that this system is not supported.
func (*UDP4) Err() error { return errNotLinux }

// LocalAddr returns the zero value.
func (*UDP4) LocalAddr() netip.AddrPort { return netip.AddrPort{} }

// Send is not supported on this system.
func (*UDP4) Send(netip.AddrPort, []byte) error { return errNotLinux }

// SendFrom is not supported on this system.
func (*UDP4) SendFrom(netip.Addr, netip.AddrPort, []byte) error { return errNotLinux }

// Close does nothing.
func (*UDP4) Close() error { return nil }

// InNetNS is not supported on this system.
func InNetNS(netns.NsHandle, func() error) error { return errNotLinux }

// ListenSignal is not supported on this system.
func ListenSignal(context.Context, SignalConfig) (*Listener[Received], error) {
	return nil, errNotLinux
}

// OpenSender is not supported on this system.
func OpenSender(SenderConfig) (*IPv6Sender, error) { return nil, errNotLinux }

// ListenICMPv6 is not supported on this system.
func ListenICMPv6(context.Context, ICMPv6Config) (*Listener[ICMPv6Packet], error) {
	return nil, errNotLinux
}

// ListenRA is not supported on this system.
func ListenRA(context.Context, string) (*Listener[ICMPv6Packet], error) { return nil, errNotLinux }

// ListenICMPv6Errors is not supported on this system.
func ListenICMPv6Errors(context.Context, string) (*Listener[ICMPv6Packet], error) {
	return nil, errNotLinux
}

// ListenUDP4 is not supported on this system.
func ListenUDP4(context.Context, UDP4Config) (*UDP4, error) { return nil, errNotLinux }

// SendRS is not supported on this system.
func SendRS(string) error { return errNotLinux }

// SendNA is not supported on this system.
func SendNA(string, netip.Addr, NAOptions) error { return errNotLinux }

// DAD is not supported on this system.
func DAD(context.Context, string, netip.Addr, time.Duration) error { return errNotLinux }

// isTemporary: nothing is read on this system.
func isTemporary(error) bool { return false }

// SendGratuitousARP is not supported on this system.
func SendGratuitousARP(string, netip.Addr) error { return errNotLinux }
