package dhcpv4

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ErrConfig: the client configuration is unusable.
var ErrConfig = errors.New("dhcpv4: bad config")

// Config configures a Client.
type Config struct {
	// Interface is the uplink to run on (required).
	Interface string
	// Table is the routing table that receives the subnet and default
	// routes (required, 1..0xffffffff, not main (254) or local (255)).
	Table int
	// RulePriority is the priority of "from <address> lookup <table>"
	// (required, > 0).
	RulePriority int
	// ClientID is sent as option 61 when non-empty.
	ClientID []byte
	// Hostname is sent as option 12 when non-empty.
	Hostname string
	// Logger receives the client's log; nil discards it.
	Logger *slog.Logger
	// T1Override replaces the server's T1 when positive and below T2
	// (tests use it to force an early renewal).
	T1Override time.Duration
	// Rand supplies transaction IDs and backoff jitter; nil uses
	// math/rand/v2.
	Rand Rand
}

// Reserved routing tables (rtnetlink RT_TABLE_MAIN, RT_TABLE_LOCAL).
const (
	tableMain  = 254
	tableLocal = 255
)

func (c Config) validate() error {
	switch {
	case c.Interface == "":
		return fmt.Errorf("%w: Interface is empty", ErrConfig)
	case c.Table <= 0 || c.Table == tableMain || c.Table == tableLocal || int64(c.Table) > 0xffffffff:
		return fmt.Errorf("%w: Table %d (need a table of our own, not 0, main or local)", ErrConfig, c.Table)
	case c.RulePriority <= 0:
		return fmt.Errorf("%w: RulePriority %d (need > 0)", ErrConfig, c.RulePriority)
	}
	return nil
}
