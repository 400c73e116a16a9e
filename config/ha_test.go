package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

const haFile = "/etc/nemo/ha.toml"

// withAgent inserts lines into [ha]; the first lands on line 6.
func withAgent(extra string) string { return insertAfter(baseHA, 5, extra) }

// appendHA appends lines; the first lands on line 13.
func appendHA(extra string) string { return baseHA + extra }

// secondMR is a second valid [[mobile_router]] starting on line 13.
const secondMR = `[[mobile_router]]
nai = "mr2@example.net"
home_address = "2001:db8:1::200"
spi = 1002
key = "ffeeddccbbaa99887766554433221100"
`

func TestHAMinimalDefaults(t *testing.T) {
	c, err := ParseHA(haFile, []byte(baseHA))
	if err != nil {
		t.Fatal(err)
	}
	wantAgent := Agent{
		Address:              netip.MustParseAddr("2001:db8:1::1"),
		IPv4Address:          netip.MustParseAddr("192.0.2.1"),
		HomePrefix:           netip.MustParsePrefix("2001:db8:1::/64"),
		HomeInterface:        "eth1",
		MaxLifetime:          time.Hour,
		MobileRoutersAllowed: true,
		Dataplane:            DataplaneAuto,
		StateDir:             "/var/lib/nemo-ha",
		DAD:                  true,
	}
	if c.Agent != wantAgent {
		t.Errorf("agent = %+v\nwant    %+v", c.Agent, wantAgent)
	}
	// DSMIPv6 defaults on because ipv4_address is set.
	if c.DSMIPv6 != (DSMIPv6{Enabled: true, Port: 4191, NATKeepalive: 110 * time.Second}) {
		t.Errorf("dsmipv6 = %+v", c.DSMIPv6)
	}
	if c.Auth != (HAAuth{ReplayWindow: 7 * time.Second, RequireTimestamp: true}) {
		t.Errorf("auth = %+v", c.Auth)
	}
	if c.RateLimit != (RateLimit{PerSource: 20, Total: 20000}) {
		t.Errorf("rate limit = %+v", c.RateLimit)
	}
	if c.Routing != (Routing{TableBase: 2000, RulePriority: 900, FWMark: 0x10000}) {
		t.Errorf("routing = %+v", c.Routing)
	}
	if c.Log != (Log{Level: LogInfo, Format: LogText}) || c.Status.Socket != "/var/run/nemo-ha.sock" {
		t.Errorf("log/status = %+v %+v", c.Log, c.Status)
	}
	if len(c.MobileRouters) != 1 {
		t.Fatalf("routers = %+v", c.MobileRouters)
	}
	m := c.MobileRouters[0]
	wantKey := []byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
	if m.NAI != "mr1@example.net" || m.HomeAddress != netip.MustParseAddr("2001:db8:1::100") ||
		!slices.Equal(m.Prefixes, []netip.Prefix{netip.MustParsePrefix("2001:db8:10::/64")}) ||
		m.SPI != 1001 || !slices.Equal(m.Key.Bytes(), wantKey) || m.IPv4HomeAddress.IsValid() || m.IPv4Prefixes != nil {
		t.Errorf("router = %+v", m)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings = %q", c.Warnings)
	}
}

func TestHADSMIPv6OffWithoutIPv4(t *testing.T) {
	c, err := ParseHA(haFile, []byte(deleteLine(baseHA, 5)))
	if err != nil {
		t.Fatal(err)
	}
	if c.DSMIPv6.Enabled || c.Agent.IPv4Address.IsValid() {
		t.Errorf("dsmipv6 = %+v", c.DSMIPv6)
	}
}

func TestHAInsecure(t *testing.T) {
	doc := withAgent("insecure = true") + "[[mobile_router]]\nhome_address = \"2001:db8:1::300\"\n"
	c, err := ParseHA(haFile, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Agent.Insecure || len(c.MobileRouters) != 2 || !c.MobileRouters[1].Key.IsZero() || c.MobileRouters[1].NAI != "" {
		t.Errorf("config = %+v", c)
	}
	if !containsSub(c.Warnings, "insecure") {
		t.Errorf("warnings = %q", c.Warnings)
	}
}

func TestHANoRoutersWarns(t *testing.T) {
	c, err := ParseHA(haFile, []byte(baseHA[:strings.Index(baseHA, "[[mobile_router]]")]))
	if err != nil {
		t.Fatal(err)
	}
	if !containsSub(c.Warnings, "no [[mobile_router]]") {
		t.Errorf("warnings = %q", c.Warnings)
	}
}

func TestHAErrors(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want wantErr
	}{
		{"misspelled key", withAgent(`max_lifetme = "1h"`), wantErr{"ha.max_lifetme", 6, ErrUnknownKey, "did you mean max_lifetime?"}},
		{"misspelled router key", appendHA(`prefix = ["2001:db8:11::/64"]`), wantErr{"mobile_router[0].prefix", 13, ErrUnknownKey, "did you mean prefixes?"}},
		{"misspelled second router key", appendHA(secondMR + "home_addres = \"2001:db8:1::5\"\n"), wantErr{"mobile_router[1].home_addres", 18, ErrUnknownKey, "did you mean home_address?"}},
		{"no [ha]", baseHA[strings.Index(baseHA, "[[mobile_router]]"):], wantErr{"ha", 0, ErrRequired, "[ha]"}},
		{"no address", deleteLine(baseHA, 2), wantErr{"ha.address", 1, ErrRequired, "home link"}},
		{"no home_interface", deleteLine(baseHA, 4), wantErr{"ha.home_interface", 1, ErrRequired, "interface"}},
		{"no home_prefix", deleteLine(baseHA, 3), wantErr{"ha.home_prefix", 1, ErrRequired, "prefix"}},
		{"address outside prefix", replaceLine(baseHA, 2, `address = "2001:db8:2::1"`), wantErr{"ha.address", 2, ErrConflict, "not inside home_prefix"}},
		{"max lifetime not 4s multiple", withAgent(`max_lifetime = "150s"`), wantErr{"ha.max_lifetime", 6, ErrInvalid, "multiple of 4s"}},
		{"relative state dir", withAgent(`state_dir = "state"`), wantErr{"ha.state_dir", 6, ErrInvalid, "absolute"}},
		{"bad dataplane", withAgent(`dataplane = "dpdk"`), wantErr{"ha.dataplane", 6, ErrInvalid, "not one of"}},
		{"dsmipv6 without IPv4", deleteLine(baseHA, 5) + "[dsmipv6]\nenabled = true\n", wantErr{"dsmipv6.enabled", 13, ErrConflict, "needs ha.ipv4_address"}},
		{"pool contains HA", appendHA("[dsmipv6]\nipv4_pool = \"192.0.2.0/24\"\n"), wantErr{"dsmipv6.ipv4_pool", 14, ErrConflict, "contains ha.ipv4_address"}},
		{"pool while disabled", appendHA("[dsmipv6]\nenabled = false\nipv4_pool = \"192.0.2.128/25\"\n"), wantErr{"dsmipv6.ipv4_pool", 15, ErrConflict, "disabled"}},
		{"pool non-canonical", appendHA("[dsmipv6]\nipv4_pool = \"192.0.2.129/25\"\n"), wantErr{"dsmipv6.ipv4_pool", 14, ErrInvalid, "write 192.0.2.128/25"}},
		{"port zero", appendHA("[dsmipv6]\nport = 0\n"), wantErr{"dsmipv6.port", 14, ErrInvalid, "out of range 1..65535"}},
		{"per source above total", appendHA("[rate_limit]\nper_source = 50\ntotal = 10\n"), wantErr{"rate_limit.per_source", 14, ErrConflict, "more than total"}},
		{"rate zero", appendHA("[rate_limit]\ntotal = 0\n"), wantErr{"rate_limit.total", 14, ErrInvalid, "out of range"}},
		{"require_timestamp string", appendHA("[auth]\nrequire_timestamp = \"no\"\n"), wantErr{"auth.require_timestamp", 14, ErrType, "true or false"}},
		{"router without key", deleteLine(deleteLine(baseHA, 12), 11), wantErr{"mobile_router[0].key", 7, ErrRequired, "unless ha.insecure"}},
		{"router without nai", deleteLine(baseHA, 8), wantErr{"mobile_router[0].nai", 7, ErrRequired, "unless ha.insecure"}},
		{"insecure key without nai", deleteLine(withAgent("insecure = true"), 9), wantErr{"mobile_router[0].nai", 8, ErrRequired, "with its key"}},
		{"spi without key", deleteLine(withAgent("insecure = true"), 13), wantErr{"mobile_router[0].key", 8, ErrRequired, "for this spi"}},
		{"key without spi", deleteLine(baseHA, 11), wantErr{"mobile_router[0].spi", 7, ErrRequired, "Mobility SPI"}},
		{"router without home address", deleteLine(baseHA, 9), wantErr{"mobile_router[0].home_address", 7, ErrRequired, "home address"}},
		{"home address outside prefix", replaceLine(baseHA, 9, `home_address = "2001:db8:9::1"`), wantErr{"mobile_router[0].home_address", 9, ErrConflict, "not inside home_prefix"}},
		{"home address is HA", replaceLine(baseHA, 9, `home_address = "2001:db8:1::1"`), wantErr{"mobile_router[0].home_address", 9, ErrConflict, "home agent's own address"}},
		{"home address anycast", replaceLine(baseHA, 9, `home_address = "2001:db8:1::"`), wantErr{"mobile_router[0].home_address", 9, ErrInvalid, "reserved anycast"}},
		{"duplicate home address", appendHA(strings.Replace(secondMR, "2001:db8:1::200", "2001:db8:1::100", 1)), wantErr{"mobile_router[1].home_address", 15, ErrConflict, "also mobile_router[0].home_address"}},
		{"duplicate nai", appendHA(strings.Replace(secondMR, "mr2@", "mr1@", 1)), wantErr{"mobile_router[1].nai", 14, ErrConflict, "also mobile_router[0].nai"}},
		{"prefix overlaps home", replaceLine(baseHA, 10, `prefixes = ["2001:db8:1::/64"]`), wantErr{"mobile_router[0].prefixes[0]", 10, ErrConflict, "overlaps ha.home_prefix"}},
		{"prefixes overlap across routers", appendHA(secondMR + "prefixes = [\"2001:db8:10:0:8000::/65\"]\n"), wantErr{"mobile_router[1].prefixes[0]", 18, ErrConflict, "overlaps mobile_router[0].prefixes[0]"}},
		{"prefixes without NEMO", withAgent("mobile_routers_allowed = false"), wantErr{"mobile_router[0].prefixes", 11, ErrConflict, "mobile_routers_allowed = false"}},
		{"static IPv4 HoA in pool", appendHA("ipv4_home_address = \"192.0.2.200\"\n[dsmipv6]\nipv4_pool = \"192.0.2.128/25\"\n"), wantErr{"mobile_router[0].ipv4_home_address", 13, ErrConflict, "inside dsmipv6.ipv4_pool"}},
		{"static IPv4 HoA is HA", appendHA("ipv4_home_address = \"192.0.2.1\"\n"), wantErr{"mobile_router[0].ipv4_home_address", 13, ErrConflict, "home agent's own IPv4"}},
		{"IPv4 HoA without DSMIPv6", deleteLine(appendHA("ipv4_home_address = \"192.0.2.7\"\n"), 5), wantErr{"mobile_router[0].ipv4_home_address", 12, ErrConflict, "DSMIPv6 is disabled"}},
		{"duplicate IPv4 HoA", appendHA("ipv4_home_address = \"192.0.2.7\"\n" + secondMR + "ipv4_home_address = \"192.0.2.7\"\n"), wantErr{"mobile_router[1].ipv4_home_address", 19, ErrConflict, "also mobile_router[0].ipv4_home_address"}},
		{"IPv4 MNP overlaps pool", appendHA("ipv4_prefixes = [\"192.0.2.192/26\"]\n[dsmipv6]\nipv4_pool = \"192.0.2.128/25\"\n"), wantErr{"mobile_router[0].ipv4_prefixes[0]", 13, ErrConflict, "overlaps dsmipv6.ipv4_pool"}},
		{"IPv4 MNP contains other HoA", appendHA("ipv4_prefixes = [\"198.51.100.0/24\"]\n" + secondMR + "ipv4_home_address = \"198.51.100.9\"\n"), wantErr{"mobile_router[0].ipv4_prefixes[0]", 13, ErrConflict, "contains mobile_router[1].ipv4_home_address"}},
		{"IPv4 MNPs overlap across routers", appendHA("ipv4_prefixes = [\"198.51.100.0/24\"]\n" + secondMR + "ipv4_prefixes = [\"198.51.100.64/26\"]\n"), wantErr{"mobile_router[1].ipv4_prefixes[0]", 19, ErrConflict, "overlaps mobile_router[0].ipv4_prefixes[0]"}},
		{"IPv4 MNP contains HA", appendHA("ipv4_prefixes = [\"192.0.2.0/24\"]\n"), wantErr{"mobile_router[0].ipv4_prefixes[0]", 13, ErrConflict, "contains ha.ipv4_address"}},
		{"router spi reserved", replaceLine(baseHA, 11, "spi = 7"), wantErr{"mobile_router[0].spi", 11, ErrInvalid, "out of range 256"}},
		{"routing fwmark", appendHA("[routing]\nfwmark = 0x3F00\n"), wantErr{"routing.fwmark", 14, ErrConflict, "mwan3"}},
		{"mobile_router as table", strings.Replace(baseHA, "[[mobile_router]]", "[mobile_router]", 1), wantErr{"mobile_router", 7, ErrType, "array of tables"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseHA(haFile, []byte(tc.doc))
			if c != nil {
				t.Errorf("a failed parse returned a config: %+v", c)
			}
			checkHas(t, err, haFile, tc.want)
		})
	}
}

// TestHAInlineArrayOfTables checks that routers written as an inline array
// of tables still get indexed keys, with the line of the array.
func TestHAInlineArrayOfTables(t *testing.T) {
	agent := withAgent("insecure = true")
	doc := "mobile_router = [\n  { home_address = \"2001:db8:1::100\" },\n  { home_address = \"2001:db8:9::1\" },\n]\n" +
		agent[:strings.Index(agent, "[[mobile_router]]")]
	_, err := ParseHA(haFile, []byte(doc))
	checkHas(t, err, haFile, wantErr{"mobile_router[1].home_address", 1, ErrConflict, "not inside home_prefix"})
}
