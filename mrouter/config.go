package mrouter

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/nemo-mobility/nemo/mh"
)

// Protocol constants (RFC 6275 sections 12 and 13, RFC 5555 section 6).
const (
	// InitialBindackTimeoutFirstReg is the first retransmission timer of a
	// BU when the home agent holds no binding (RFC 6275 13).
	InitialBindackTimeoutFirstReg = 1500 * time.Millisecond
	// InitialBindackTimeout is the first retransmission timer of a
	// re-registration (RFC 6275 12).
	InitialBindackTimeout = time.Second
	// MaxBindackTimeout caps the retransmission timer (RFC 6275 12).
	MaxBindackTimeout = 32 * time.Second
	// MaxUpdateRate is the largest number of BUs sent in any one second
	// (RFC 6275 12, 11.8).
	MaxUpdateRate = 3
	// DSMIPv6Port is the home agent's UDP port for DSMIPv6 (RFC 5555 8).
	DSMIPv6Port = 4191
	// NATKATimeout is the default NAT keepalive interval (RFC 5555 6).
	NATKATimeout = 110 * time.Second
)

// Defaults for the optional Config fields.
const (
	DefaultLifetime        = 600 * time.Second
	DefaultFailoverAfter   = 5
	DefaultDeregAttempts   = 5
	DefaultMaxRetryBackoff = 15 * time.Minute
	DefaultFatalHold       = 15 * time.Minute
	DefaultProbeInterval   = MaxBindackTimeout
	DefaultPathHold        = 30 * time.Second
)

// refreshPercent is the share of the granted lifetime after which a binding
// is refreshed.
const refreshPercent = 80

// minRefreshDelay keeps a refresh from being scheduled in the past or in a
// tight loop when the home agent grants or advises a tiny interval.
const minRefreshDelay = time.Second

// cleanupAttempts is how many deregistration BUs go to a home agent the
// router is leaving (one that lacks NEMO support, or the previous one after a
// switch).
const cleanupAttempts = 3

// maxImmediateResyncs bounds the resends that a 135 triggers at once within
// one attempt.
const maxImmediateResyncs = 3

// ErrInvalidConfig is returned (wrapped) by New for an unusable Config.
var ErrInvalidConfig = errors.New("mrouter: invalid configuration")

// HomeAgent is one configured home agent.
type HomeAgent struct {
	// Address is the home agent's IPv6 address (the BU destination).
	Address netip.Addr
	// IPv4 is its IPv4 address for DSMIPv6 over an IPv4 care-of address;
	// invalid when it has none (IPv4 care-of addresses are then unusable
	// with this home agent).
	IPv4 netip.Addr
	// Preferred marks the home agent the router returns to when it answers
	// again after a failover. The first preferred one counts.
	Preferred bool
}

// Authenticator is the RFC 4285 hook: VerifyBA checks a received Binding
// Acknowledgement (its authenticator and timestamp, from BAInfo.Raw) before
// the core acts on it. An error drops the BA.
type Authenticator interface {
	VerifyBA(info BAInfo) error
}

// Config is the mobile router's registration configuration.
type Config struct {
	// HomeAddress is the router's IPv6 home address, inside HomePrefix.
	HomeAddress netip.Addr
	HomePrefix  netip.Prefix
	// HomeAgents in order of use; at least one.
	HomeAgents []HomeAgent
	// Prefixes are the IPv6 mobile network prefixes.
	Prefixes []netip.Prefix
	// IPv4Prefixes are the IPv4 mobile network prefixes routed through the
	// tunnel.
	IPv4Prefixes []netip.Prefix
	// Implicit selects RFC 3963 implicit mode (no Mobile Network Prefix
	// options). The zero value is explicit mode, the default.
	Implicit bool
	// Lifetime is the requested binding lifetime (DefaultLifetime when 0);
	// rounded down to 4 s units, at most mh.MaxLifetime.
	Lifetime time.Duration
	// IPv4HomeAddress requests an IPv4 home address: invalid for none,
	// 0.0.0.0 for a dynamic one, or the static address.
	IPv4HomeAddress netip.Addr
	// IPv4HomePrefixLen is the prefix length requested with the IPv4 home
	// address option (32, the default when 0, for a single address).
	IPv4HomePrefixLen int
	// RequestIPv4Prefix sets P in the IPv4 Home Address option.
	RequestIPv4Prefix bool
	// ForceUDP sets F in BUs sent over IPv4 (UDP encapsulation always).
	ForceUDP bool
	// PreferIPv4 ranks IPv4 care-of addresses before IPv6 ones at equal
	// uplink priority.
	PreferIPv4 bool
	// NATKeepalive, when non-zero, caps the NAT keepalive interval; when 0
	// the home agent's Refresh time is used (NATKATimeout if it sent 0).
	NATKeepalive time.Duration

	// FailoverAfter is the number of unanswered BUs, the last one sent with
	// the MaxBindackTimeout timer, after which the next home agent is tried
	// (DefaultFailoverAfter when 0).
	FailoverAfter int
	// DeregAttempts is how many deregistration BUs are sent from the home
	// link before the router gives up and acts as at home anyway
	// (DefaultDeregAttempts when 0).
	DeregAttempts int
	// MaxRetryBackoff caps the backoff after rejections
	// (DefaultMaxRetryBackoff when 0).
	MaxRetryBackoff time.Duration
	// FatalHold is how long a home agent that refused us for good (RFC 3963
	// fatal status, 146, no NEMO support) is left alone
	// (DefaultFatalHold when 0).
	FatalHold time.Duration
	// ProbeInterval is the interval of registration probes to the preferred
	// home agent while registered elsewhere (DefaultProbeInterval when 0).
	ProbeInterval time.Duration
	// PathHold is how long a care-of address is passed over after its path
	// to the home agent failed while another uplink works: the shell's
	// tunnel probe went unanswered (Core.TunnelLost), or a move to it got
	// no answer to three BUs while the old binding still stood
	// (DefaultPathHold when 0).
	PathHold time.Duration

	// Rand supplies the random initial sequence numbers; math/rand/v2 when
	// nil. Tests inject a deterministic source.
	Rand func() uint32
	// Auth, when set, verifies every BA (RFC 4285 hook).
	Auth Authenticator
}

// normalize fills in defaults and checks c; it returns a copy.
func (c Config) normalize() (Config, error) {
	bad := func(format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if !c.HomeAddress.Is6() || c.HomeAddress.Is4In6() || !c.HomeAddress.IsGlobalUnicast() {
		return bad("home address %v is not a global IPv6 address", c.HomeAddress)
	}
	if !c.HomePrefix.IsValid() || !c.HomePrefix.Addr().Is6() || !c.HomePrefix.Contains(c.HomeAddress) {
		return bad("home prefix %v does not contain the home address %v", c.HomePrefix, c.HomeAddress)
	}
	c.HomePrefix = c.HomePrefix.Masked()
	if len(c.HomeAgents) == 0 {
		return bad("no home agent")
	}
	c.HomeAgents = append([]HomeAgent(nil), c.HomeAgents...)
	for i, ha := range c.HomeAgents {
		if !ha.Address.Is6() || ha.Address.Is4In6() || ha.Address.IsUnspecified() || ha.Address.IsMulticast() {
			return bad("home agent %d: address %v is not an IPv6 unicast address", i, ha.Address)
		}
		if ha.IPv4.IsValid() {
			a := ha.IPv4.Unmap()
			if !a.Is4() || a.IsUnspecified() || a.IsMulticast() {
				return bad("home agent %d: IPv4 address %v is not an IPv4 unicast address", i, ha.IPv4)
			}
			c.HomeAgents[i].IPv4 = a
		}
	}
	c.Prefixes = append([]netip.Prefix(nil), c.Prefixes...)
	for i, p := range c.Prefixes {
		if !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() {
			return bad("mobile network prefix %v is not an IPv6 prefix", p)
		}
		c.Prefixes[i] = p.Masked()
	}
	c.IPv4Prefixes = append([]netip.Prefix(nil), c.IPv4Prefixes...)
	for i, p := range c.IPv4Prefixes {
		if !p.IsValid() || !p.Addr().Is4() {
			return bad("IPv4 mobile network prefix %v is not an IPv4 prefix", p)
		}
		c.IPv4Prefixes[i] = p.Masked()
	}
	if c.Lifetime == 0 {
		c.Lifetime = DefaultLifetime
	}
	if c.Lifetime > mh.MaxLifetime {
		c.Lifetime = mh.MaxLifetime
	}
	c.Lifetime = c.Lifetime / mh.LifetimeUnit * mh.LifetimeUnit
	if c.Lifetime < mh.LifetimeUnit {
		return bad("lifetime %v is shorter than %v", c.Lifetime, mh.LifetimeUnit)
	}
	if c.IPv4HomeAddress.IsValid() {
		c.IPv4HomeAddress = c.IPv4HomeAddress.Unmap()
		if !c.IPv4HomeAddress.Is4() {
			return bad("IPv4 home address %v is not an IPv4 address", c.IPv4HomeAddress)
		}
	} else if c.RequestIPv4Prefix {
		return bad("an IPv4 prefix request needs an IPv4 home address (0.0.0.0 for a dynamic one)")
	}
	if c.IPv4HomePrefixLen == 0 {
		c.IPv4HomePrefixLen = 32
	}
	if c.IPv4HomePrefixLen < 1 || c.IPv4HomePrefixLen > 32 {
		return bad("IPv4 home prefix length %d is not in 1..32", c.IPv4HomePrefixLen)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"NAT keepalive", &c.NATKeepalive, 0},
		{"maximum retry backoff", &c.MaxRetryBackoff, DefaultMaxRetryBackoff},
		{"fatal hold", &c.FatalHold, DefaultFatalHold},
		{"probe interval", &c.ProbeInterval, DefaultProbeInterval},
		{"path hold", &c.PathHold, DefaultPathHold},
	} {
		if *d.v < 0 {
			return bad("%s %v is negative", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if c.NATKeepalive != 0 && c.NATKeepalive < time.Second {
		return bad("NAT keepalive %v is shorter than 1s", c.NATKeepalive)
	}
	if c.ProbeInterval < InitialBindackTimeoutFirstReg {
		return bad("probe interval %v is shorter than %v", c.ProbeInterval, InitialBindackTimeoutFirstReg)
	}
	if c.FailoverAfter < 0 || c.DeregAttempts < 0 {
		return bad("negative attempt count")
	}
	if c.FailoverAfter == 0 {
		c.FailoverAfter = DefaultFailoverAfter
	}
	if c.DeregAttempts == 0 {
		c.DeregAttempts = DefaultDeregAttempts
	}
	if c.Rand == nil {
		c.Rand = rand.Uint32
	}
	return c, nil
}
