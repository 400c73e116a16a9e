package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Mobile router defaults.
const (
	// DefaultMRouterLifetime is the default requested binding lifetime.
	DefaultMRouterLifetime = 5 * time.Minute
	// DefaultMRouterTableBase is the mobile router's default first table.
	DefaultMRouterTableBase = 1000
	// DefaultTunnelProbe is the tunnel check's period: with three probes,
	// a path that stops answering is found within five periods (0.75 s),
	// inside the 1 s of issue 9's hard-loss goal.
	DefaultTunnelProbe = 150 * time.Millisecond
	// DefaultPathHold is how long a failed path is passed over.
	DefaultPathHold = 30 * time.Second
	// DefaultMRouterSocket is the mobile router's default status socket.
	DefaultMRouterSocket = "/var/run/mrouter.sock"
)

// MRouter is the validated configuration of the mobile router daemon.
type MRouter struct {
	// File is the path (or name) the configuration was read from.
	File string
	// Router is the [mrouter] section.
	Router Router
	// HomeAgents are the [[home_agent]] entries in order of preference;
	// there is at least one.
	HomeAgents []HomeAgent
	// MobileNetwork is the [mobile_network] section.
	MobileNetwork MobileNetwork
	// Uplinks are the [[uplink]] entries in file order; there is at least
	// one.
	Uplinks []Uplink
	// Auth is the [auth] section; Auth.Enabled() is false without it.
	Auth Auth
	// IPsec is the optional [ipsec] section (IPsec.Enabled is false
	// without it).
	IPsec IPsec
	// Routing is the [routing] section.
	Routing Routing
	// Log is the [log] section.
	Log Log
	// Status is the [status] section.
	Status Status
	// Warnings are problems that do not stop the daemon but that it should
	// log at start (for example: no [auth] section).
	Warnings []string
}

// Router is the [mrouter] section.
type Router struct {
	// HomeAddress is the mobile router's IPv6 home address.
	HomeAddress netip.Addr
	// HomePrefix is the home link's prefix; HomeAddress is inside it.
	HomePrefix netip.Prefix
	// HomeLink is the interface of the uplink attached to the home link,
	// or "" (home is then detected only by the home prefix in an RA).
	HomeLink string
	// Mode is the NEMO registration mode.
	Mode Mode
	// Lifetime is the requested binding lifetime, a multiple of 4 s.
	Lifetime time.Duration
	// Dataplane selects the tunnel implementation.
	Dataplane Dataplane
	// IPv4HomeAddress is the DSMIPv6 IPv4 home address: invalid (zero)
	// when none is requested, 0.0.0.0 to ask the home agent for one.
	IPv4HomeAddress netip.Addr
	// RequestIPv4Prefix sets the P flag of the IPv4 Home Address option
	// (RFC 5555 3.1.1).
	RequestIPv4Prefix bool
	// ForceUDP sets the F flag of the Binding Update (RFC 5555 3.1.3).
	ForceUDP bool
	// NATKeepalive is the keepalive interval used when the home agent's
	// NAT Detection option gives none.
	NATKeepalive time.Duration
	// PreferIPv4 prefers an IPv4 care-of address over an IPv6 one.
	PreferIPv4 bool
	// TunnelProbe is the period of the tunnel check: while traffic enters
	// the tunnel and nothing comes back, an ICMPv6 echo request goes to
	// the home agent through it each period, and three unanswered ones
	// mean the path is lost (0: no check).
	TunnelProbe time.Duration
	// PathHold is how long a care-of address whose path failed is passed
	// over while another uplink works.
	PathHold time.Duration
}

// HasIPv4Home reports whether an IPv4 home address (static or dynamic) is
// requested.
func (r Router) HasIPv4Home() bool { return r.IPv4HomeAddress.IsValid() }

// DynamicIPv4Home reports whether the home agent is asked to assign the
// IPv4 home address (ipv4_home_address = "0.0.0.0").
func (r Router) DynamicIPv4Home() bool { return r.IPv4HomeAddress == netip.IPv4Unspecified() }

// HomeAgent is one [[home_agent]] entry.
type HomeAgent struct {
	// Address is the home agent's IPv6 address.
	Address netip.Addr
	// IPv4Address is its IPv4 address (needed for IPv4 care-of
	// addresses), or the zero Addr.
	IPv4Address netip.Addr
	// Preferred makes the mobile router return to this home agent when it
	// becomes reachable again after a failover.
	Preferred bool
}

// MobileNetwork is the [mobile_network] section.
type MobileNetwork struct {
	// Interfaces are the LAN-side interfaces of the mobile network.
	Interfaces []string
	// Prefixes are the IPv6 mobile network prefixes.
	Prefixes []netip.Prefix
	// IPv4Prefixes are the IPv4 mobile network prefixes.
	IPv4Prefixes []netip.Prefix
}

// Uplink is one [[uplink]] entry.
type Uplink struct {
	// Name is a unique label used in logs and status output.
	Name string
	// Interface is the network interface.
	Interface string
	// Priority orders uplinks; higher is better.
	Priority int
	// IPv6 enables router advertisements / SLAAC care-of addresses.
	IPv6 bool
	// DHCPv4 runs the daemon's DHCPv4 client for an IPv4 care-of address.
	DHCPv4 bool
	// DHCPv4Table is the routing table for the lease's routes (0 when
	// DHCPv4 is off; otherwise set, explicitly or from Routing.TableBase).
	DHCPv4Table uint32
}

// Auth is the mobile router's [auth] section (RFC 4285 MN-HA).
type Auth struct {
	// NAI is the Mobile Node Identifier sent in every Binding Update.
	NAI string
	// SPI is the Mobility SPI of the MN-HA security association.
	SPI uint32
	// Key is the MN-HA shared key.
	Key Secret
	// ReplayWindow is the timestamp window for replay protection.
	ReplayWindow time.Duration
}

// Enabled reports whether MN-HA authentication is configured.
func (a Auth) Enabled() bool { return !a.Key.IsZero() }

// LoadMRouter reads, validates and defaults the mobile router
// configuration at path. An inline key requires the file to be private
// (no group/other permission bits); key_file paths are relative to the
// file's directory. The error lists every problem found.
func LoadMRouter(path string) (*MRouter, error) {
	src, data, err := readConfig(path)
	if err != nil {
		return nil, err
	}
	return parseMRouter(src, data)
}

// ParseMRouter validates and defaults a mobile router configuration held
// in memory; name is used in error messages and its directory resolves
// relative key_file paths. Unlike LoadMRouter it cannot check the
// permissions of the configuration itself.
func ParseMRouter(name string, data []byte) (*MRouter, error) {
	return parseMRouter(memSource(name), data)
}

func parseMRouter(src *source, data []byte) (*MRouter, error) {
	root, p, err := decodeDoc(src, data)
	if err != nil {
		return nil, err
	}
	c := &MRouter{File: src.name}

	rt := root.sub("mrouter")
	c.Router = readRouter(rt)
	if !rt.present {
		p.add("mrouter", ErrRequired, nil, "missing: the [mrouter] section is required")
	}

	has := root.array("home_agent")
	if len(has) == 0 {
		root.required("home_agent", "at least one [[home_agent]] is required")
	}
	for _, t := range has {
		c.HomeAgents = append(c.HomeAgents, readHomeAgent(t))
		t.done()
	}

	mn := root.sub("mobile_network")
	c.MobileNetwork = MobileNetwork{
		Interfaces:   ifNames(mn, "interfaces"),
		Prefixes:     mn.prefixes("prefixes", unicast6),
		IPv4Prefixes: mn.prefixes("ipv4_prefixes", unicast4),
	}
	mn.done()

	ups := root.array("uplink")
	if len(ups) == 0 {
		root.required("uplink", "at least one [[uplink]] is required")
	}
	for _, t := range ups {
		c.Uplinks = append(c.Uplinks, readUplink(t))
	}

	at := root.sub("auth")
	if at.present {
		c.Auth = readMRAuth(at, src, &c.Warnings)
	} else {
		c.Auth.ReplayWindow = defaultReplayWindow
		c.Warnings = append(c.Warnings, "no [auth] section: Binding Updates are sent without MN-HA authentication; the home agent must run with insecure = true")
	}
	at.done()

	c.IPsec = readIPsec(root.sub("ipsec"), src, &c.Warnings)

	rg := root.sub("routing")
	c.Routing = rg.routingSection(DefaultMRouterTableBase)
	lg := root.sub("log")
	c.Log = lg.logSection()
	lg.done()
	st := root.sub("status")
	c.Status = st.statusSection(DefaultMRouterSocket)
	st.done()

	assignTables(c, ups, rg)
	rg.done()
	for _, t := range ups {
		t.done()
	}
	checkMRouter(c, root, ups, has)
	root.done()
	if err := p.err(); err != nil {
		return nil, err
	}
	return c, nil
}

func readRouter(t *table) Router {
	r := Router{
		Mode:         enum(t, "mode", ModeExplicit, ModeExplicit, ModeImplicit),
		Lifetime:     t.duration("lifetime", DefaultMRouterLifetime, lifetimeUnit, maxLifetime, lifetimeUnit),
		Dataplane:    enum(t, "dataplane", DataplaneAuto, DataplaneAuto, DataplaneKernel, DataplaneUserspace),
		ForceUDP:     t.boolean("force_udp", false),
		NATKeepalive: t.duration("nat_keepalive", defaultNATKeepalive, time.Second, 0xFFFFFFFE*time.Second, time.Second),
		PreferIPv4:   t.boolean("prefer_ipv4", false),
		TunnelProbe:  t.duration("tunnel_probe", DefaultTunnelProbe, 0, 10*time.Second, 10*time.Millisecond),
		PathHold:     t.duration("path_hold", DefaultPathHold, time.Second, time.Hour, time.Second),
	}
	if r.TunnelProbe > 0 && r.TunnelProbe < 50*time.Millisecond {
		t.p.add(t.key("tunnel_probe"), ErrInvalid, nil, "%s is too short: use \"0s\" to turn the check off, or 50ms..10s", r.TunnelProbe)
		r.TunnelProbe = DefaultTunnelProbe
	}
	r.RequestIPv4Prefix = t.boolean("request_ipv4_prefix", false)
	var havePrefix bool
	r.HomePrefix, havePrefix = t.prefix("home_prefix", unicast6)
	_, prefixSet := t.m["home_prefix"]
	if !prefixSet && t.present {
		t.required("home_prefix", "the home link's IPv6 prefix, e.g. \"2001:db8:1::/64\"")
	}
	if a, ok := t.addr("home_address", unicast6); ok {
		r.HomeAddress = a
		if havePrefix {
			checkInPrefix(t, "home_address", a, r.HomePrefix)
		}
	} else if _, set := t.m["home_address"]; !set && t.present {
		t.required("home_address", "the mobile router's IPv6 home address")
	}
	if hl, ok := t.ifName("home_link"); ok {
		r.HomeLink = hl
	}
	if s, ok := t.str("ipv4_home_address"); ok && s != "" {
		if s == "0.0.0.0" {
			r.IPv4HomeAddress = netip.IPv4Unspecified()
		} else if a, err := checkAddr(s, unicast4); err != nil {
			t.p.add(t.key("ipv4_home_address"), ErrInvalid, nil, "%v (or \"0.0.0.0\" for a dynamic one, \"\" for none)", err)
		} else {
			r.IPv4HomeAddress = a
		}
	}
	if r.RequestIPv4Prefix && !r.IPv4HomeAddress.IsValid() {
		if _, set := t.m["ipv4_home_address"]; !set || t.m["ipv4_home_address"] == "" {
			t.p.add(t.key("request_ipv4_prefix"), ErrConflict, nil,
				"an IPv4 prefix is requested with the IPv4 Home Address option: set ipv4_home_address (\"0.0.0.0\" for a dynamic one)")
		}
	}
	t.done()
	return r
}

// checkInPrefix reports a home address outside the home prefix or on a
// reserved anycast address.
func checkInPrefix(t *table, name string, a netip.Addr, p netip.Prefix) bool {
	if !p.Contains(a) {
		t.p.add(t.key(name), ErrConflict, nil, "%s is not inside home_prefix %s", a, p)
		return false
	}
	if isReservedAnycast(p, a) {
		t.p.add(t.key(name), ErrInvalid, nil, "%s is a reserved anycast address of %s (RFC 4291 2.6.1, RFC 2526)", a, p)
		return false
	}
	return true
}

func readHomeAgent(t *table) HomeAgent {
	var h HomeAgent
	if a, ok := t.addr("address", unicast6); ok {
		h.Address = a
	} else if _, set := t.m["address"]; !set {
		t.required("address", "the home agent's IPv6 address")
	}
	if a, ok := t.addr("ipv4_address", unicast4); ok {
		h.IPv4Address = a
	}
	h.Preferred = t.boolean("preferred", false)
	return h
}

func readUplink(t *table) Uplink {
	u := Uplink{
		Priority: int(t.integer("priority", 0, -1<<31, 1<<31-1)),
		IPv6:     t.boolean("ipv6", true),
		DHCPv4:   t.boolean("dhcpv4", false),
	}
	if s, ok := t.str("name"); ok {
		if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) || len(s) > 64 {
			t.p.add(t.key("name"), ErrInvalid, nil, "%q is not a usable label (1..64 characters, no spaces)", s)
		} else {
			u.Name = s
		}
	} else if _, set := t.m["name"]; !set {
		t.required("name", "a unique label for this uplink, e.g. \"lte\"")
	}
	if s, ok := t.ifName("interface"); ok {
		u.Interface = s
	} else if _, set := t.m["interface"]; !set {
		t.required("interface", "the uplink's network interface, e.g. \"wwan0\"")
	}
	if !u.IPv6 && !u.DHCPv4 {
		t.p.add(t.key("ipv6"), ErrConflict, nil, "ipv6 and dhcpv4 are both false: the uplink could never give a care-of address")
	}
	return u
}

func readMRAuth(t *table, src *source, warn *[]string) Auth {
	a := Auth{ReplayWindow: t.replayWindow(warn)}
	if s, ok := t.nai("nai"); ok {
		a.NAI = s
	} else if _, set := t.m["nai"]; !set {
		t.required("nai", "the mobile router's NAI, e.g. \"mr1@example.net\"")
	}
	if n, ok := t.spi(); ok {
		a.SPI = n
	} else if _, set := t.m["spi"]; !set {
		t.required("spi", fmt.Sprintf("the Mobility SPI (>= %d)", minSPI))
	}
	k, given := t.secret(src)
	if !given {
		t.required("key", "key (hex) or key_file")
	}
	a.Key = k
	return a
}

// ifNames reads a list of interface names that must be unique.
func ifNames(t *table, name string) []string {
	var out []string
	for i, s := range t.strList(name) {
		key := indexKey(t.key(name), i)
		if err := checkIfName(s); err != nil {
			t.p.add(key, ErrInvalid, nil, "%v", err)
			continue
		}
		if slices.Contains(out, s) {
			t.p.add(key, ErrConflict, nil, "interface %q is listed twice", s)
			continue
		}
		out = append(out, s)
	}
	return out
}

// assignTables gives every DHCPv4 uplink its routing table: an explicit
// dhcpv4_table, or TableBase+1+index.
func assignTables(c *MRouter, ups []*table, rg *table) {
	used := map[uint32]string{c.Routing.TableBase: rg.key("table_base")}
	// Explicit tables first, so that automatic ones can avoid them.
	for i, t := range ups {
		n, ok := t.optInteger("dhcpv4_table", 1, 0xFFFFFFFF)
		if !ok {
			continue
		}
		key := t.key("dhcpv4_table")
		switch {
		case !c.Uplinks[i].DHCPv4:
			t.p.add(key, ErrConflict, nil, "set, but dhcpv4 is false for this uplink")
		case n < firstFreeTable:
			t.p.add(key, ErrInvalid, nil, "table %d is reserved (253..255) or in mwan3's range; use a table above %d", n, firstFreeTable-1)
		case used[uint32(n)] != "":
			t.p.add(key, ErrConflict, nil, "table %d is already used by %s", n, used[uint32(n)])
		default:
			c.Uplinks[i].DHCPv4Table = uint32(n)
			used[uint32(n)] = key
		}
	}
	for i, t := range ups {
		if !c.Uplinks[i].DHCPv4 || c.Uplinks[i].DHCPv4Table != 0 {
			continue
		}
		if _, explicit := t.m["dhcpv4_table"]; explicit {
			continue // already reported
		}
		n := uint64(c.Routing.TableBase) + 1 + uint64(i)
		if n > 0xFFFFFFFF {
			t.p.add(t.key("dhcpv4_table"), ErrInvalid, nil, "table_base is too large to number this uplink's table")
			continue
		}
		if other := used[uint32(n)]; other != "" {
			t.p.add(t.key("dhcpv4_table"), ErrConflict, nil,
				"the automatic table %d (table_base+1+%d) is already used by %s; set dhcpv4_table explicitly", n, i, other)
			continue
		}
		c.Uplinks[i].DHCPv4Table = uint32(n)
		used[uint32(n)] = t.key("dhcpv4_table")
	}
}

// checkMRouter runs the checks that span sections.
func checkMRouter(c *MRouter, root *table, ups, has []*table) {
	p := root.p
	r := c.Router

	// Home agents: unique, not our own home address, at most one preferred.
	preferred := ""
	for i, h := range c.HomeAgents {
		key := has[i].key("address")
		if h.Address.IsValid() {
			if h.Address == r.HomeAddress {
				p.add(key, ErrConflict, nil, "%s is the mobile router's own home address", h.Address)
			}
			for j := range i {
				if c.HomeAgents[j].Address == h.Address {
					p.add(key, ErrConflict, nil, "%s is also home_agent[%d].address", h.Address, j)
				}
			}
		}
		if h.Preferred {
			if preferred != "" {
				p.add(has[i].key("preferred"), ErrConflict, nil, "only one home agent can be preferred; %s is too", preferred)
			} else {
				preferred = has[i].key("preferred")
			}
		}
	}

	// Uplinks: unique names and interfaces; home_link names one of them.
	for i, u := range c.Uplinks {
		for j := range i {
			if u.Name != "" && c.Uplinks[j].Name == u.Name {
				p.add(ups[i].key("name"), ErrConflict, nil, "uplink name %q is also used by uplink[%d]", u.Name, j)
			}
			if u.Interface != "" && c.Uplinks[j].Interface == u.Interface {
				p.add(ups[i].key("interface"), ErrConflict, nil, "interface %q is also used by uplink[%d]", u.Interface, j)
			}
		}
		if slices.Contains(c.MobileNetwork.Interfaces, u.Interface) {
			p.add(ups[i].key("interface"), ErrConflict, nil, "interface %q is also listed in mobile_network.interfaces", u.Interface)
		}
	}
	if r.HomeLink != "" && len(c.Uplinks) > 0 && !slices.ContainsFunc(c.Uplinks, func(u Uplink) bool { return u.Interface == r.HomeLink }) {
		var names []string
		for _, u := range c.Uplinks {
			names = append(names, fmt.Sprintf("%q", u.Interface))
		}
		p.add("mrouter.home_link", ErrConflict, nil, "%q is not the interface of any [[uplink]] (they are %s)", r.HomeLink, strings.Join(names, ", "))
	}

	// Mobile network prefixes: disjoint from each other and from home.
	mn := "mobile_network"
	checkDisjoint(p, joinKey(mn, "prefixes"), c.MobileNetwork.Prefixes, r.HomePrefix, "mrouter.home_prefix")
	checkDisjoint(p, joinKey(mn, "ipv4_prefixes"), c.MobileNetwork.IPv4Prefixes, netip.Prefix{}, "")
	if r.IPv4HomeAddress.IsValid() && !r.DynamicIPv4Home() {
		for i, q := range c.MobileNetwork.IPv4Prefixes {
			if q.Contains(r.IPv4HomeAddress) {
				p.add(indexKey(joinKey(mn, "ipv4_prefixes"), i), ErrConflict, nil, "%s contains mrouter.ipv4_home_address %s", q, r.IPv4HomeAddress)
			}
		}
	}
	if r.Mode == ModeExplicit && len(c.MobileNetwork.Prefixes) == 0 {
		c.Warnings = append(c.Warnings, "mode = \"explicit\" but mobile_network.prefixes is empty: Binding Updates carry no Mobile Network Prefix option, which the home agent treats as implicit mode (RFC 3963 6.1.2)")
	}

	// IPv4 care-of addresses need a home agent IPv4 address.
	anyV4HA := slices.ContainsFunc(c.HomeAgents, func(h HomeAgent) bool { return h.IPv4Address.IsValid() })
	for _, u := range c.Uplinks {
		if u.DHCPv4 && !anyV4HA && len(c.HomeAgents) > 0 {
			c.Warnings = append(c.Warnings, fmt.Sprintf("uplink %q runs DHCPv4 but no [[home_agent]] has an ipv4_address: IPv4 care-of addresses cannot be registered", u.Name))
			break
		}
	}
}

// checkDisjoint reports duplicate or overlapping prefixes in list, and any
// that overlap other (when valid).
func checkDisjoint(p *problems, key string, list []netip.Prefix, other netip.Prefix, otherKey string) {
	for i, a := range list {
		if !a.IsValid() {
			continue
		}
		k := indexKey(key, i)
		if other.IsValid() && overlaps(a, other) {
			p.add(k, ErrConflict, nil, "%s overlaps %s %s", a, otherKey, other)
		}
		for j := range i {
			if overlaps(a, list[j]) {
				p.add(k, ErrConflict, nil, "%s overlaps %s", a, indexKey(key, j))
			}
		}
	}
}
