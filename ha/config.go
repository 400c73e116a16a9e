package ha

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/nemo-mobility/nemo/mh"
)

// Protocol constants used by the home agent.
const (
	// MaxDeleteBCETimeout is how long a deregistered binding cache entry
	// stays, marked invalid, before it is deleted (RFC 6275 section 12,
	// MAX_DELETE_BCE_TIMEOUT), so that a delayed Binding Update meets the
	// sequence number check instead of re-creating the binding.
	MaxDeleteBCETimeout = 10 * time.Second

	// NATKeepaliveTimeout is NATKATIMEOUT (RFC 5555 section 6), the
	// default NAT Detection Refresh time.
	NATKeepaliveTimeout = 110 * time.Second

	// DefaultDADTimeout is how long a first registration waits for
	// HandleDADResult before it is dropped without an answer.
	DefaultDADTimeout = 5 * time.Second

	// DefaultBERate is the default number of Binding Errors sent per
	// second (RFC 6275 section 9.3.3: they SHOULD be rate-limited).
	DefaultBERate = 10

	// MaxPrefixesPerBinding bounds the Mobile Network Prefix options one
	// registration may carry; more are refused with status 130.
	MaxPrefixesPerBinding = 32
)

// ErrInvalidConfig is wrapped by every configuration error New and
// Reconfigure return; the message names the field and what is wrong.
var ErrInvalidConfig = errors.New("invalid home agent configuration")

// Config is the home agent's configuration.
type Config struct {
	// Address is the home agent's IPv6 address on the home link, the
	// destination of Binding Updates. It must lie in HomePrefix.
	Address netip.Addr
	// HomePrefix is the prefix of the home link the home agent serves.
	HomePrefix netip.Prefix
	// MaxLifetime caps the granted binding lifetime. Zero means
	// mh.MaxLifetime; otherwise at least mh.LifetimeUnit. It is rounded
	// down to 4-second units.
	MaxLifetime time.Duration
	// MaxBindings bounds the binding cache (all states); a new home
	// address beyond it is refused with status 130. Zero means no bound.
	MaxBindings int
	// NEMO enables mobile router support (RFC 3963, the R flag). Without
	// it a Binding Update with R is refused with status 140.
	NEMO bool
	// DAD makes the core ask for Duplicate Address Detection of the home
	// address (StartDAD) before it answers a first registration.
	DAD bool
	// DADTimeout is how long a first registration waits for
	// HandleDADResult; zero means DefaultDADTimeout.
	DADTimeout time.Duration
	// AllowUnlisted accepts plain mobile node registrations (R clear) for
	// home addresses that have no RouterConfig. Without it such a
	// registration is refused with status 129. A registration with R
	// always needs a RouterConfig.
	AllowUnlisted bool
	// Routers lists the mobile nodes and routers this home agent serves,
	// keyed by home address: the Prefix Table of RFC 3963 section 6.1.2
	// and the static IPv4 home address assignments of RFC 5555.
	Routers []RouterConfig

	// IPv4Address is the home agent's IPv4 address (the DSMIPv6 UDP
	// endpoint). Optional here; it is kept out of IPv4Pool.
	IPv4Address netip.Addr
	// IPv4Pool is the pool of dynamic IPv4 home addresses (RFC 5555
	// section 2.5). Invalid (zero) means no dynamic assignment.
	IPv4Pool netip.Prefix
	// NATKeepalive is the NAT Detection Refresh time sent when a NAT is
	// detected; zero means NATKeepaliveTimeout (110 s).
	NATKeepalive time.Duration
	// ForceUDP makes every binding whose Binding Update came over UDP use
	// UDP encapsulation even without a NAT (NAT Detection F = 1).
	ForceUDP bool

	// BERate is the number of Binding Errors sent per second at most
	// (burst of the same size); zero means DefaultBERate.
	BERate int

	// Auth authenticates Binding Updates (RFC 4285, or IPsec state
	// checked by the shell). Nil means insecure mode: every Binding Update
	// is treated as authentic.
	Auth Authenticator
}

// RouterConfig is what the home agent knows about one mobile router (or
// mobile node) ahead of its registration.
type RouterConfig struct {
	// HomeAddress identifies the entry; it must lie in the home prefix.
	HomeAddress netip.Addr
	// Prefixes are the IPv6 mobile network prefixes this router may claim
	// in explicit mode (a registered prefix must lie inside one of them)
	// and the prefixes forwarded in implicit mode.
	Prefixes []netip.Prefix
	// IPv4HomeAddress is the router's static IPv4 home address (optional).
	IPv4HomeAddress netip.Addr
	// IPv4Prefixes are the IPv4 mobile network prefixes the router may be
	// given when it asks for one (IPv4 Home Address option with P set).
	IPv4Prefixes []netip.Prefix
}

// withDefaults returns cfg with zero values replaced by their defaults.
func (cfg Config) withDefaults() Config {
	if cfg.MaxLifetime == 0 {
		cfg.MaxLifetime = mh.MaxLifetime
	}
	cfg.MaxLifetime = cfg.MaxLifetime.Truncate(mh.LifetimeUnit)
	if cfg.DADTimeout == 0 {
		cfg.DADTimeout = DefaultDADTimeout
	}
	if cfg.NATKeepalive == 0 {
		cfg.NATKeepalive = NATKeepaliveTimeout
	}
	if cfg.BERate == 0 {
		cfg.BERate = DefaultBERate
	}
	return cfg
}

func configErr(format string, args ...any) error {
	return fmt.Errorf("ha: %s: %w", fmt.Sprintf(format, args...), ErrInvalidConfig)
}

// Validate checks cfg and reports the first problem, naming the field.
func (cfg Config) Validate() error {
	if !cfg.HomePrefix.IsValid() || !cfg.HomePrefix.Addr().Is6() || cfg.HomePrefix.Addr().Is4In6() {
		return configErr("HomePrefix %v: not an IPv6 prefix", cfg.HomePrefix)
	}
	if cfg.HomePrefix != cfg.HomePrefix.Masked() {
		return configErr("HomePrefix %v: host bits set", cfg.HomePrefix)
	}
	if !unicast6(cfg.Address) || !cfg.HomePrefix.Contains(cfg.Address) {
		return configErr("Address %v: not a unicast address in HomePrefix %v", cfg.Address, cfg.HomePrefix)
	}
	if cfg.MaxLifetime < 0 || (cfg.MaxLifetime > 0 && cfg.MaxLifetime < mh.LifetimeUnit) || cfg.MaxLifetime > mh.MaxLifetime {
		return configErr("MaxLifetime %v: must be 0 or between %v and %v", cfg.MaxLifetime, mh.LifetimeUnit, mh.MaxLifetime)
	}
	if cfg.MaxBindings < 0 {
		return configErr("MaxBindings %d: negative", cfg.MaxBindings)
	}
	if cfg.DADTimeout < 0 {
		return configErr("DADTimeout %v: negative", cfg.DADTimeout)
	}
	if cfg.NATKeepalive < 0 || cfg.NATKeepalive%time.Second != 0 || cfg.NATKeepalive/time.Second >= mh.NATRefreshNotNeeded {
		return configErr("NATKeepalive %v: must be a whole number of seconds below 2^32-1", cfg.NATKeepalive)
	}
	if cfg.BERate < 0 {
		return configErr("BERate %d: negative", cfg.BERate)
	}
	if cfg.IPv4Address.IsValid() && !unicast4(cfg.IPv4Address) {
		return configErr("IPv4Address %v: not a unicast IPv4 address", cfg.IPv4Address)
	}
	if cfg.IPv4Pool.IsValid() {
		if !cfg.IPv4Pool.Addr().Is4() || cfg.IPv4Pool != cfg.IPv4Pool.Masked() || cfg.IPv4Pool.Bits() < 8 {
			return configErr("IPv4Pool %v: not a masked IPv4 prefix of length 8 to 32", cfg.IPv4Pool)
		}
	}

	homes := make(map[netip.Addr]int, len(cfg.Routers))
	v4homes := make(map[netip.Addr]int)
	var all6, all4 []ownedPrefix
	for i, r := range cfg.Routers {
		if !unicast6(r.HomeAddress) || !cfg.HomePrefix.Contains(r.HomeAddress) {
			return configErr("Routers[%d].HomeAddress %v: not a unicast address in HomePrefix %v", i, r.HomeAddress, cfg.HomePrefix)
		}
		if r.HomeAddress == cfg.Address {
			return configErr("Routers[%d].HomeAddress %v: is the home agent's Address", i, r.HomeAddress)
		}
		if j, dup := homes[r.HomeAddress]; dup {
			return configErr("Routers[%d].HomeAddress %v: also Routers[%d]", i, r.HomeAddress, j)
		}
		homes[r.HomeAddress] = i
		if len(r.Prefixes) > MaxPrefixesPerBinding {
			return configErr("Routers[%d].Prefixes: %d prefixes, at most %d", i, len(r.Prefixes), MaxPrefixesPerBinding)
		}
		for k, p := range r.Prefixes {
			if reason := badMNP(p, cfg.HomePrefix); reason != "" {
				return configErr("Routers[%d].Prefixes[%d] %v: %s", i, k, p, reason)
			}
			all6 = append(all6, ownedPrefix{p, i, k})
		}
		if r.IPv4HomeAddress.IsValid() {
			if !unicast4(r.IPv4HomeAddress) {
				return configErr("Routers[%d].IPv4HomeAddress %v: not a unicast IPv4 address", i, r.IPv4HomeAddress)
			}
			if r.IPv4HomeAddress == cfg.IPv4Address {
				return configErr("Routers[%d].IPv4HomeAddress %v: is the home agent's IPv4Address", i, r.IPv4HomeAddress)
			}
			if j, dup := v4homes[r.IPv4HomeAddress]; dup {
				return configErr("Routers[%d].IPv4HomeAddress %v: also Routers[%d]", i, r.IPv4HomeAddress, j)
			}
			v4homes[r.IPv4HomeAddress] = i
		}
		if len(r.IPv4Prefixes) > MaxPrefixesPerBinding {
			return configErr("Routers[%d].IPv4Prefixes: %d prefixes, at most %d", i, len(r.IPv4Prefixes), MaxPrefixesPerBinding)
		}
		for k, p := range r.IPv4Prefixes {
			if !p.IsValid() || !p.Addr().Is4() || p != p.Masked() || p.Bits() == 0 || !unicast4(p.Addr()) {
				return configErr("Routers[%d].IPv4Prefixes[%d] %v: not a masked unicast IPv4 prefix", i, k, p)
			}
			if cfg.IPv4Pool.IsValid() && p.Overlaps(cfg.IPv4Pool) {
				return configErr("Routers[%d].IPv4Prefixes[%d] %v: overlaps IPv4Pool %v", i, k, p, cfg.IPv4Pool)
			}
			all4 = append(all4, ownedPrefix{p, i, k})
		}
	}
	if err := checkDisjoint("Prefixes", all6); err != nil {
		return err
	}
	if err := checkDisjoint("IPv4Prefixes", all4); err != nil {
		return err
	}
	for a, i := range v4homes {
		for _, op := range all4 {
			if op.p.Contains(a) {
				return configErr("Routers[%d].IPv4HomeAddress %v: inside Routers[%d].IPv4Prefixes[%d] %v", i, a, op.router, op.index, op.p)
			}
		}
	}
	return nil
}

type ownedPrefix struct {
	p             netip.Prefix
	router, index int
}

// checkDisjoint reports two overlapping prefixes in ps. Prefixes are
// either nested or disjoint, so after sorting by address (shorter first)
// comparing neighbours finds every overlap.
func checkDisjoint(field string, ps []ownedPrefix) error {
	slices.SortFunc(ps, func(a, b ownedPrefix) int {
		if c := a.p.Addr().Compare(b.p.Addr()); c != 0 {
			return c
		}
		return a.p.Bits() - b.p.Bits()
	})
	for i := 1; i < len(ps); i++ {
		if ps[i-1].p.Overlaps(ps[i].p) {
			a, b := ps[i-1], ps[i]
			return configErr("Routers[%d].%s[%d] %v overlaps Routers[%d].%s[%d] %v",
				a.router, field, a.index, a.p, b.router, field, b.index, b.p)
		}
	}
	return nil
}

// badMNP says why p cannot be a mobile network prefix served by a home
// agent on home, or "" when it can.
func badMNP(p, home netip.Prefix) string {
	switch {
	case !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6():
		return "not an IPv6 prefix"
	case p != p.Masked():
		return "host bits set"
	case p.Bits() < 8:
		return "shorter than /8"
	case p.Addr().Zone() != "":
		return "has a zone"
	case !p.Addr().IsGlobalUnicast():
		return "not a global unicast prefix"
	case p.Overlaps(home):
		return "overlaps the home prefix"
	}
	return ""
}

// unicast6 reports whether a is an IPv6 unicast address the home agent can
// route to: not unspecified, loopback, multicast, link-local or v4-mapped.
func unicast6(a netip.Addr) bool {
	return a.Is6() && !a.Is4In6() && a.Zone() == "" && a.IsGlobalUnicast()
}

// unicast4 reports whether a is an IPv4 unicast address usable as a
// care-of or home address: not 0/8, loopback, link-local, multicast,
// class E or the limited broadcast address.
func unicast4(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	b := a.As4()
	return b[0] != 0 && b[0] != 127 && b[0] < 224 && !(b[0] == 169 && b[1] == 254)
}
