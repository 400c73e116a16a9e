//go:build !linux

package dataplane

import "net/netip"

// NetlinkOps is the Linux NetOps; elsewhere it only reports ErrUnsupported.
type NetlinkOps struct{ Fake }

// NewNetOps returns ErrUnsupported outside Linux.
func NewNetOps() (*NetlinkOps, error) { return nil, ErrUnsupported }

// Close does nothing outside Linux.
func (o *NetlinkOps) Close() error { return nil }

// txState is empty outside Linux.
type txState struct{}

// DefaultTUNName is the TUN device's default name.
const DefaultTUNName = "nemo0"

// DefaultTUNMTU is the TUN device's default MTU.
const DefaultTUNMTU = 1280

// UserspaceOptions configure the userspace backend (Linux only).
type UserspaceOptions struct {
	Owner   string
	TUNName string
	MTU     int
	UDP     UDPSender
	// TableShards sizes the forwarding tables.
	TableShards int
}

// Userspace is the userspace backend; outside Linux it cannot be made.
type Userspace struct{}

// NewUserspace returns ErrUnsupported outside Linux.
func NewUserspace(ops NetOps, opts UserspaceOptions) (*Userspace, error) { return nil, ErrUnsupported }

// Name implements Backend.
func (u *Userspace) Name() string { return "userspace" }

// TUNName returns the TUN device's name.
func (u *Userspace) TUNName() string { return "" }

// SetUDPSender does nothing outside Linux.
func (u *Userspace) SetUDPSender(s UDPSender) {}

// Set implements Backend.
func (u *Userspace) Set(cfg Config) error { return ErrUnsupported }

// Close implements Backend.
func (u *Userspace) Close() error { return nil }

// Stats implements Backend.
func (u *Userspace) Stats() Stats { return Stats{} }

// InjectUDP does nothing outside Linux.
func (u *Userspace) InjectUDP(from netip.AddrPort, pkt []byte) {}
