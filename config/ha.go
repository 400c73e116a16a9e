package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"time"
)

// Home agent defaults.
const (
	// DefaultHAMaxLifetime is the default longest binding lifetime granted.
	DefaultHAMaxLifetime = time.Hour
	// DefaultHATableBase is the home agent's default first table.
	DefaultHATableBase = 2000
	// DefaultHASocket is the home agent's default status socket.
	DefaultHASocket = "/var/run/nemo-ha.sock"
	// DefaultHAStateDir is where binding cache snapshots are kept.
	DefaultHAStateDir = "/var/lib/nemo-ha"
	// DefaultDSMIPv6Port is the DSMIPv6 UDP port (RFC 5555 section 8).
	DefaultDSMIPv6Port = 4191
	// DefaultRatePerSource is the default Binding Update rate limit per
	// source address (per second).
	DefaultRatePerSource = 20
	// DefaultRateTotal is the default total Binding Update rate limit
	// (per second).
	DefaultRateTotal = 20000
)

// HA is the validated configuration of the home agent daemon.
type HA struct {
	// File is the path (or name) the configuration was read from.
	File string
	// Agent is the [ha] section.
	Agent Agent
	// DSMIPv6 is the [dsmipv6] section.
	DSMIPv6 DSMIPv6
	// Auth is the [auth] section.
	Auth HAAuth
	// RateLimit is the [rate_limit] section.
	RateLimit RateLimit
	// MobileRouters are the [[mobile_router]] entries in file order.
	MobileRouters []MobileRouter
	// Routing is the [routing] section.
	Routing Routing
	// Log is the [log] section.
	Log Log
	// Status is the [status] section.
	Status Status
	// Warnings are problems that do not stop the daemon but that it should
	// log at start (for example: insecure = true).
	Warnings []string
}

// Agent is the [ha] section.
type Agent struct {
	// Address is the home agent's IPv6 address on the home link.
	Address netip.Addr
	// IPv4Address is its IPv4 address for DSMIPv6, or the zero Addr.
	IPv4Address netip.Addr
	// HomePrefix is the home link's prefix; Address is inside it.
	HomePrefix netip.Prefix
	// HomeInterface is the interface attached to the home link.
	HomeInterface string
	// MaxLifetime is the longest binding lifetime granted (multiple of
	// 4 s).
	MaxLifetime time.Duration
	// Insecure accepts Binding Updates from mobile routers that have no
	// key configured, without MN-HA authentication.
	Insecure bool
	// MobileRoutersAllowed accepts Binding Updates with the R flag (RFC
	// 3963); when false they get status 140.
	MobileRoutersAllowed bool
	// Dataplane selects the tunnel implementation.
	Dataplane Dataplane
	// StateDir is where binding cache snapshots are written.
	StateDir string
	// DAD runs duplicate address detection for a home address on its
	// first registration.
	DAD bool
}

// DSMIPv6 is the [dsmipv6] section (RFC 5555).
type DSMIPv6 struct {
	// Enabled accepts IPv4 care-of and home addresses.
	Enabled bool
	// Port is the UDP port for encapsulated signalling and data.
	Port uint16
	// NATKeepalive is the Refresh time put in the NAT Detection option
	// when a NAT is detected.
	NATKeepalive time.Duration
	// ForceUDP always uses UDP encapsulation for IPv4 care-of addresses.
	ForceUDP bool
	// IPv4Pool is the prefix dynamic IPv4 home addresses are assigned
	// from, or the zero Prefix (no dynamic addresses).
	IPv4Pool netip.Prefix
}

// HAAuth is the home agent's [auth] section (RFC 4285).
type HAAuth struct {
	// ReplayWindow is how far a Replay Protection timestamp may be from
	// the home agent's clock.
	ReplayWindow time.Duration
	// RequireTimestamp refuses Binding Updates without a Replay
	// Protection option (status 145).
	RequireTimestamp bool
}

// RateLimit is the [rate_limit] section: Binding Updates per second.
type RateLimit struct {
	// PerSource limits Binding Updates per source address.
	PerSource int
	// Total limits all Binding Updates together.
	Total int
}

// MobileRouter is one [[mobile_router]] entry: a mobile router (or mobile
// node) the home agent serves.
type MobileRouter struct {
	// NAI identifies the router in the Mobile Node Identifier option; it
	// may be empty only with Agent.Insecure.
	NAI string
	// HomeAddress is its IPv6 home address, inside Agent.HomePrefix.
	HomeAddress netip.Addr
	// Prefixes are the IPv6 mobile network prefixes it may register
	// (explicit mode) or gets (implicit mode).
	Prefixes []netip.Prefix
	// IPv4HomeAddress is its static IPv4 home address, or the zero Addr.
	IPv4HomeAddress netip.Addr
	// IPv4Prefixes are its IPv4 mobile network prefixes.
	IPv4Prefixes []netip.Prefix
	// SPI is the Mobility SPI of its MN-HA security association (0 when
	// it has no key).
	SPI uint32
	// Key is its MN-HA key (zero when none, allowed only with Insecure).
	Key Secret
	// IPsec is its optional ipsec sub-table ([mobile_router.ipsec]).
	IPsec IPsec
}

// LoadHA reads, validates and defaults the home agent configuration at
// path. An inline key requires the file to be private (no group/other
// permission bits); key_file paths are relative to the file's directory.
// The error lists every problem found.
func LoadHA(path string) (*HA, error) {
	src, data, err := readConfig(path)
	if err != nil {
		return nil, err
	}
	return parseHA(src, data)
}

// ParseHA validates and defaults a home agent configuration held in
// memory; name is used in error messages and its directory resolves
// relative key_file paths. Unlike LoadHA it cannot check the permissions
// of the configuration itself.
func ParseHA(name string, data []byte) (*HA, error) {
	return parseHA(memSource(name), data)
}

func parseHA(src *source, data []byte) (*HA, error) {
	root, p, err := decodeDoc(src, data)
	if err != nil {
		return nil, err
	}
	c := &HA{File: src.name}

	at := root.sub("ha")
	c.Agent = readAgent(at)
	if !at.present {
		p.add("ha", ErrRequired, nil, "missing: the [ha] section is required")
	}
	if c.Agent.Insecure {
		c.Warnings = append(c.Warnings, "ha.insecure = true: mobile routers without a key are accepted without MN-HA authentication")
	}

	ds := root.sub("dsmipv6")
	c.DSMIPv6 = readDSMIPv6(ds, c.Agent)

	au := root.sub("auth")
	c.Auth = HAAuth{
		ReplayWindow:     au.replayWindow(&c.Warnings),
		RequireTimestamp: au.boolean("require_timestamp", true),
	}
	au.done()

	rl := root.sub("rate_limit")
	c.RateLimit = RateLimit{
		PerSource: int(rl.integer("per_source", DefaultRatePerSource, 1, 1<<31-1)),
		Total:     int(rl.integer("total", DefaultRateTotal, 1, 1<<31-1)),
	}
	if c.RateLimit.PerSource > c.RateLimit.Total {
		p.add(rl.key("per_source"), ErrConflict, nil, "%d is more than total (%d)", c.RateLimit.PerSource, c.RateLimit.Total)
	}
	rl.done()

	mrs := root.array("mobile_router")
	for _, t := range mrs {
		c.MobileRouters = append(c.MobileRouters, readMobileRouter(t, c, src))
		t.done()
	}
	if len(mrs) == 0 {
		c.Warnings = append(c.Warnings, "no [[mobile_router]] is configured: every registration will be refused")
	}
	checkHA(c, mrs, p)

	rg := root.sub("routing")
	c.Routing = rg.routingSection(DefaultHATableBase)
	rg.done()
	lg := root.sub("log")
	c.Log = lg.logSection()
	lg.done()
	st := root.sub("status")
	c.Status = st.statusSection(DefaultHASocket)
	st.done()
	root.done()
	if err := p.err(); err != nil {
		return nil, err
	}
	return c, nil
}

func readAgent(t *table) Agent {
	a := Agent{
		MaxLifetime:          t.duration("max_lifetime", DefaultHAMaxLifetime, lifetimeUnit, maxLifetime, lifetimeUnit),
		Insecure:             t.boolean("insecure", false),
		MobileRoutersAllowed: t.boolean("mobile_routers_allowed", true),
		Dataplane:            enum(t, "dataplane", DataplaneAuto, DataplaneAuto, DataplaneKernel, DataplaneUserspace),
		StateDir:             DefaultHAStateDir,
		DAD:                  t.boolean("dad", true),
	}
	var havePrefix bool
	a.HomePrefix, havePrefix = t.prefix("home_prefix", unicast6)
	if _, set := t.m["home_prefix"]; !set && t.present {
		t.required("home_prefix", "the home link's IPv6 prefix, e.g. \"2001:db8:1::/64\"")
	}
	if addr, ok := t.addr("address", unicast6); ok {
		a.Address = addr
		if havePrefix && !a.HomePrefix.Contains(addr) {
			t.p.add(t.key("address"), ErrConflict, nil, "%s is not inside home_prefix %s", addr, a.HomePrefix)
		}
	} else if _, set := t.m["address"]; !set && t.present {
		t.required("address", "the home agent's IPv6 address on the home link")
	}
	if addr, ok := t.addr("ipv4_address", unicast4); ok {
		a.IPv4Address = addr
	}
	if s, ok := t.ifName("home_interface"); ok {
		a.HomeInterface = s
	} else if _, set := t.m["home_interface"]; !set && t.present {
		t.required("home_interface", "the interface attached to the home link, e.g. \"eth1\"")
	}
	if s, ok := t.str("state_dir"); ok {
		if !filepath.IsAbs(s) || filepath.Clean(s) != s {
			t.p.add(t.key("state_dir"), ErrInvalid, nil, "%q must be a clean absolute path", s)
		} else {
			a.StateDir = s
		}
	}
	t.done()
	return a
}

func readDSMIPv6(t *table, a Agent) DSMIPv6 {
	d := DSMIPv6{
		Enabled:      t.boolean("enabled", a.IPv4Address.IsValid()),
		Port:         uint16(t.integer("port", DefaultDSMIPv6Port, 1, 65535)),
		NATKeepalive: t.duration("nat_keepalive", defaultNATKeepalive, time.Second, 0xFFFFFFFE*time.Second, time.Second),
		ForceUDP:     t.boolean("force_udp", false),
	}
	if d.Enabled && !a.IPv4Address.IsValid() {
		if _, set := t.m["enabled"]; set {
			t.p.add(t.key("enabled"), ErrConflict, nil, "DSMIPv6 needs ha.ipv4_address")
		}
	}
	if pool, ok := t.prefix("ipv4_pool", unicast4); ok {
		switch {
		case !d.Enabled:
			t.p.add(t.key("ipv4_pool"), ErrConflict, nil, "set, but DSMIPv6 is disabled (set ha.ipv4_address)")
		case a.IPv4Address.IsValid() && pool.Contains(a.IPv4Address):
			t.p.add(t.key("ipv4_pool"), ErrConflict, nil, "%s contains ha.ipv4_address %s; the pool must hold only addresses to hand out", pool, a.IPv4Address)
		default:
			d.IPv4Pool = pool
		}
	}
	t.done()
	return d
}

func readMobileRouter(t *table, c *HA, src *source) MobileRouter {
	var m MobileRouter
	a := c.Agent
	if s, ok := t.nai("nai"); ok {
		m.NAI = s
	} else if _, set := t.m["nai"]; !set && !a.Insecure {
		t.required("nai", "the router's NAI (required unless ha.insecure = true)")
	}
	if addr, ok := t.addr("home_address", unicast6); ok {
		m.HomeAddress = addr
		if a.HomePrefix.IsValid() && checkInPrefix(t, "home_address", addr, a.HomePrefix) && addr == a.Address {
			t.p.add(t.key("home_address"), ErrConflict, nil, "%s is the home agent's own address", addr)
		}
	} else if _, set := t.m["home_address"]; !set {
		t.required("home_address", "the router's IPv6 home address")
	}
	m.Prefixes = t.prefixes("prefixes", unicast6)
	if len(m.Prefixes) > 0 && !a.MobileRoutersAllowed {
		t.p.add(t.key("prefixes"), ErrConflict, nil, "mobile network prefixes are given, but ha.mobile_routers_allowed = false")
	}
	if addr, ok := t.addr("ipv4_home_address", unicast4); ok {
		m.IPv4HomeAddress = addr
		if !c.DSMIPv6.Enabled {
			t.p.add(t.key("ipv4_home_address"), ErrConflict, nil, "set, but DSMIPv6 is disabled (set ha.ipv4_address)")
		} else if addr == a.IPv4Address {
			t.p.add(t.key("ipv4_home_address"), ErrConflict, nil, "%s is the home agent's own IPv4 address", addr)
		} else if c.DSMIPv6.IPv4Pool.Contains(addr) {
			t.p.add(t.key("ipv4_home_address"), ErrConflict, nil, "%s is inside dsmipv6.ipv4_pool %s, which is for dynamic addresses", addr, c.DSMIPv6.IPv4Pool)
		}
	}
	m.IPv4Prefixes = t.prefixes("ipv4_prefixes", unicast4)
	if len(m.IPv4Prefixes) > 0 && !c.DSMIPv6.Enabled {
		t.p.add(t.key("ipv4_prefixes"), ErrConflict, nil, "set, but DSMIPv6 is disabled (set ha.ipv4_address)")
	}
	spi, haveSPI := t.spi()
	_, spiSet := t.m["spi"]
	key, haveKey := t.secret(src)
	switch {
	case haveKey && !spiSet:
		t.required("spi", fmt.Sprintf("the Mobility SPI (>= %d) of this router's key", minSPI))
	case spiSet && !haveKey:
		t.required("key", "key (hex) or key_file for this spi")
	case !haveKey && !a.Insecure:
		t.required("key", "key (hex) or key_file (required unless ha.insecure = true)")
	}
	if haveKey && m.NAI == "" {
		if _, set := t.m["nai"]; !set && a.Insecure {
			t.required("nai", "the NAI the router sends with its key")
		}
	}
	if haveSPI {
		m.SPI = spi
	}
	m.Key = key
	m.IPsec = readIPsec(t.sub("ipsec"), src, &c.Warnings)
	return m
}
