//go:build !linux

package dhcpv4

import (
	"errors"
	"fmt"
)

// Client is the DHCPv4 client; it runs on Linux only.
type Client struct{}

// New fails on this operating system.
func New(cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("dhcpv4: %w on this OS", errors.ErrUnsupported)
}

// Events returns nil on this operating system.
func (c *Client) Events() <-chan Event { return nil }

// Close does nothing on this operating system.
func (c *Client) Close() error { return nil }
