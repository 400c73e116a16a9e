package config

import (
	"errors"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

const mrFile = "/etc/nemo/mrouter.toml"

// withMR inserts lines into [mrouter]; the first lands on line 4.
func withMR(extra string) string { return insertAfter(baseMR, 3, extra) }

// appendMR appends lines; the first lands on line 11.
func appendMR(extra string) string { return baseMR + extra }

func TestMRouterMinimalDefaults(t *testing.T) {
	c, err := ParseMRouter(mrFile, []byte(baseMR))
	if err != nil {
		t.Fatal(err)
	}
	want := &MRouter{
		File: mrFile,
		Router: Router{
			HomeAddress:  netip.MustParseAddr("2001:db8:1::100"),
			HomePrefix:   netip.MustParsePrefix("2001:db8:1::/64"),
			Mode:         ModeExplicit,
			Lifetime:     5 * time.Minute,
			Dataplane:    DataplaneAuto,
			NATKeepalive: 110 * time.Second,
			TunnelProbe:  DefaultTunnelProbe,
			PathHold:     DefaultPathHold,
		},
		HomeAgents: []HomeAgent{{Address: netip.MustParseAddr("2001:db8:1::1")}},
		Uplinks:    []Uplink{{Name: "lte", Interface: "wwan0", IPv6: true}},
		Auth:       Auth{ReplayWindow: 7 * time.Second},
		Routing:    Routing{TableBase: 1000, RulePriority: 900, FWMark: 0x10000},
		Log:        Log{Level: LogInfo, Format: LogText},
		Status:     Status{Socket: "/var/run/mrouter.sock"},
	}
	got := *c
	got.Warnings = nil
	if !equalMR(&got, want) {
		t.Errorf("got  %+v\nwant %+v", got, *want)
	}
	if c.Auth.Enabled() || c.Router.HasIPv4Home() || c.Router.DynamicIPv4Home() {
		t.Errorf("auth/IPv4 home should be off: %+v", c)
	}
	// No [auth] and explicit mode without prefixes are both warned about.
	if !containsSub(c.Warnings, "no [auth]") || !containsSub(c.Warnings, "explicit") {
		t.Errorf("warnings = %q", c.Warnings)
	}
}

func equalMR(a, b *MRouter) bool {
	return a.File == b.File && a.Router == b.Router &&
		slices.Equal(a.HomeAgents, b.HomeAgents) &&
		slices.Equal(a.MobileNetwork.Interfaces, b.MobileNetwork.Interfaces) &&
		slices.Equal(a.MobileNetwork.Prefixes, b.MobileNetwork.Prefixes) &&
		slices.Equal(a.MobileNetwork.IPv4Prefixes, b.MobileNetwork.IPv4Prefixes) &&
		slices.Equal(a.Uplinks, b.Uplinks) &&
		a.Auth.NAI == b.Auth.NAI && a.Auth.SPI == b.Auth.SPI &&
		slices.Equal(a.Auth.Key.Bytes(), b.Auth.Key.Bytes()) &&
		a.Auth.ReplayWindow == b.Auth.ReplayWindow &&
		a.Routing == b.Routing && a.Log == b.Log && a.Status == b.Status
}

func containsSub(list []string, sub string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return strings.Contains(s, sub) })
}

func TestMRouterValues(t *testing.T) {
	doc := withMR(`mode = "implicit"
lifetime = "1h"
dataplane = "userspace"
ipv4_home_address = "192.0.2.10"
request_ipv4_prefix = true
force_udp = true
nat_keepalive = "30s"
prefer_ipv4 = true
tunnel_probe = "250ms"
path_hold = "2m"
home_link = "eth1"`) + `
[[uplink]]
name = "wan"
interface = "eth1"
priority = -5
ipv6 = false
dhcpv4 = true

[[uplink]]
name = "wifi"
interface = "wlan0"
dhcpv4 = true
dhcpv4_table = 0x500

[mobile_network]
interfaces = ["br-lan", "lan2"]
prefixes = ["2001:db8:10::/64", "2001:db8:20::/48"]
ipv4_prefixes = ["198.51.100.0/28"]

[auth]
nai = "mr1@example.net"
spi = 0x1000
key = "0x00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff"
replay_window = "2s"

[routing]
table_base = 3000
rule_priority = 500
fwmark = 0x20000

[log]
level = "debug"
format = "json"

[status]
socket = "/tmp/mr.sock"
`
	c, err := ParseMRouter(mrFile, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Router
	if r.Mode != ModeImplicit || r.Lifetime != time.Hour || r.Dataplane != DataplaneUserspace ||
		r.IPv4HomeAddress != netip.MustParseAddr("192.0.2.10") || !r.RequestIPv4Prefix || !r.ForceUDP ||
		r.NATKeepalive != 30*time.Second || !r.PreferIPv4 || r.HomeLink != "eth1" || !r.HasIPv4Home() || r.DynamicIPv4Home() ||
		r.TunnelProbe != 250*time.Millisecond || r.PathHold != 2*time.Minute {
		t.Errorf("router = %+v", r)
	}
	wantUp := []Uplink{
		{Name: "lte", Interface: "wwan0", IPv6: true},
		{Name: "wan", Interface: "eth1", Priority: -5, DHCPv4: true, DHCPv4Table: 3002},
		{Name: "wifi", Interface: "wlan0", IPv6: true, DHCPv4: true, DHCPv4Table: 0x500},
	}
	if !slices.Equal(c.Uplinks, wantUp) {
		t.Errorf("uplinks = %+v\nwant %+v", c.Uplinks, wantUp)
	}
	mn := c.MobileNetwork
	if !slices.Equal(mn.Interfaces, []string{"br-lan", "lan2"}) ||
		!slices.Equal(mn.Prefixes, []netip.Prefix{netip.MustParsePrefix("2001:db8:10::/64"), netip.MustParsePrefix("2001:db8:20::/48")}) ||
		!slices.Equal(mn.IPv4Prefixes, []netip.Prefix{netip.MustParsePrefix("198.51.100.0/28")}) {
		t.Errorf("mobile network = %+v", mn)
	}
	wantKey := []byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
	if a := c.Auth; a.NAI != "mr1@example.net" || a.SPI != 0x1000 || !slices.Equal(a.Key.Bytes(), wantKey) || a.ReplayWindow != 2*time.Second || !a.Enabled() {
		t.Errorf("auth = %+v key %x", a, a.Key.Bytes())
	}
	if c.Routing != (Routing{TableBase: 3000, RulePriority: 500, FWMark: 0x20000}) {
		t.Errorf("routing = %+v", c.Routing)
	}
	if c.Log != (Log{Level: LogDebug, Format: LogJSON}) || c.Log.Level.SlogLevel().String() != "DEBUG" {
		t.Errorf("log = %+v", c.Log)
	}
	if c.Status.Socket != "/tmp/mr.sock" {
		t.Errorf("status = %+v", c.Status)
	}
	// A replay window of 3 s or less is accepted with a warning.
	if !containsSub(c.Warnings, "replay_window") {
		t.Errorf("warnings = %q", c.Warnings)
	}
	// DHCPv4 uplinks but no home agent IPv4 address: warned.
	if !containsSub(c.Warnings, "no [[home_agent]] has an ipv4_address") {
		t.Errorf("warnings = %q", c.Warnings)
	}
}

func TestMRouterDynamicIPv4Home(t *testing.T) {
	c, err := ParseMRouter(mrFile, []byte(withMR(`ipv4_home_address = "0.0.0.0"
request_ipv4_prefix = true`)))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Router.DynamicIPv4Home() || !c.Router.HasIPv4Home() {
		t.Errorf("router = %+v", c.Router)
	}
}

func TestMRouterErrors(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want wantErr
	}{
		// Unknown keys.
		{"misspelled key", withMR(`lifetim = "5m"`), wantErr{"mrouter.lifetim", 4, ErrUnknownKey, "did you mean lifetime?"}},
		{"wrong case", withMR(`Mode = "implicit"`), wantErr{"mrouter.Mode", 4, ErrUnknownKey, "did you mean mode?"}},
		{"unknown table", appendMR("[routng]\ntable_base = 1000\n"), wantErr{"routng", 11, ErrUnknownKey, "did you mean routing?"}},
		{"unknown key far from any", appendMR("frobnicate = 1\n"), wantErr{"uplink[0].frobnicate", 11, ErrUnknownKey, "known keys here"}},
		{"unknown key in home_agent", insertAfter(baseMR, 6, `prefered = true`), wantErr{"home_agent[0].prefered", 7, ErrUnknownKey, "did you mean preferred?"}},
		{"unknown key in mobile_network", appendMR("[mobile_network]\nprefix = []\n"), wantErr{"mobile_network.prefix", 12, ErrUnknownKey, "did you mean prefixes?"}},
		// Missing things.
		{"no [mrouter]", strings.Replace(baseMR, "[mrouter]\nhome_address = \"2001:db8:1::100\"\nhome_prefix = \"2001:db8:1::/64\"\n", "", 1), wantErr{"mrouter", 0, ErrRequired, "[mrouter]"}},
		{"no home_address", deleteLine(baseMR, 2), wantErr{"mrouter.home_address", 1, ErrRequired, "home address"}},
		{"no home_prefix", deleteLine(baseMR, 3), wantErr{"mrouter.home_prefix", 1, ErrRequired, "prefix"}},
		{"no home agent", strings.Replace(baseMR, "[[home_agent]]\naddress = \"2001:db8:1::1\"\n", "", 1), wantErr{"home_agent", 0, ErrRequired, "[[home_agent]]"}},
		{"home agent without address", replaceLine(baseMR, 6, `ipv4_address = "192.0.2.1"`), wantErr{"home_agent[0].address", 5, ErrRequired, "IPv6 address"}},
		{"no uplink", strings.Replace(baseMR, "[[uplink]]\nname = \"lte\"\ninterface = \"wwan0\"\n", "", 1), wantErr{"uplink", 0, ErrRequired, "[[uplink]]"}},
		{"uplink without name", deleteLine(baseMR, 9), wantErr{"uplink[0].name", 8, ErrRequired, "label"}},
		{"uplink without interface", deleteLine(baseMR, 10), wantErr{"uplink[0].interface", 8, ErrRequired, "interface"}},
		// Addresses and prefixes.
		{"home address outside prefix", replaceLine(baseMR, 2, `home_address = "2001:db8:2::1"`), wantErr{"mrouter.home_address", 2, ErrConflict, "not inside home_prefix 2001:db8:1::/64"}},
		{"non-canonical prefix", replaceLine(baseMR, 3, `home_prefix = "2001:db8:1::1/64"`), wantErr{"mrouter.home_prefix", 3, ErrInvalid, "write 2001:db8:1::/64"}},
		{"prefix without length", replaceLine(baseMR, 3, `home_prefix = "2001:db8:1::"`), wantErr{"mrouter.home_prefix", 3, ErrInvalid, "needs a /length"}},
		{"IPv4 home prefix", replaceLine(baseMR, 3, `home_prefix = "192.0.2.0/24"`), wantErr{"mrouter.home_prefix", 3, ErrInvalid, "not an IPv6 prefix"}},
		{"default route as prefix", replaceLine(baseMR, 3, `home_prefix = "::/0"`), wantErr{"mrouter.home_prefix", 3, ErrInvalid, "every address"}},
		{"subnet-router anycast", replaceLine(baseMR, 2, `home_address = "2001:db8:1::"`), wantErr{"mrouter.home_address", 2, ErrInvalid, "reserved anycast"}},
		{"home agents anycast", replaceLine(baseMR, 2, `home_address = "2001:db8:1:0:fdff:ffff:ffff:fffe"`), wantErr{"mrouter.home_address", 2, ErrInvalid, "reserved anycast"}},
		{"IPv4 home address", replaceLine(baseMR, 2, `home_address = "192.0.2.1"`), wantErr{"mrouter.home_address", 2, ErrInvalid, "not an IPv6 address"}},
		{"link-local home address", replaceLine(baseMR, 2, `home_address = "fe80::1"`), wantErr{"mrouter.home_address", 2, ErrInvalid, "global unicast"}},
		{"address with length", replaceLine(baseMR, 2, `home_address = "2001:db8:1::100/64"`), wantErr{"mrouter.home_address", 2, ErrInvalid, "without /length"}},
		{"garbage address", replaceLine(baseMR, 2, `home_address = "home"`), wantErr{"mrouter.home_address", 2, ErrInvalid, "not an IP address"}},
		{"address not a string", replaceLine(baseMR, 2, `home_address = 1`), wantErr{"mrouter.home_address", 2, ErrType, "must be a string, not an integer"}},
		{"tunnel probe too short", withMR(`tunnel_probe = "20ms"`), wantErr{"mrouter.tunnel_probe", 4, ErrInvalid, "too short"}},
		{"tunnel probe too long", withMR(`tunnel_probe = "1m"`), wantErr{"mrouter.tunnel_probe", 4, ErrInvalid, "out of range"}},
		{"tunnel probe not 10ms", withMR(`tunnel_probe = "155ms"`), wantErr{"mrouter.tunnel_probe", 4, ErrInvalid, "multiple of 10ms"}},
		{"path hold zero", withMR(`path_hold = "0s"`), wantErr{"mrouter.path_hold", 4, ErrInvalid, "out of range"}},
		{"bad IPv4 home address", withMR(`ipv4_home_address = "2001:db8::5"`), wantErr{"mrouter.ipv4_home_address", 4, ErrInvalid, "not an IPv4 address"}},
		{"broadcast IPv4 home address", withMR(`ipv4_home_address = "255.255.255.255"`), wantErr{"mrouter.ipv4_home_address", 4, ErrInvalid, "unicast"}},
		{"P flag without IPv4 HoA", withMR(`request_ipv4_prefix = true`), wantErr{"mrouter.request_ipv4_prefix", 4, ErrConflict, "set ipv4_home_address"}},
		{"home_link not an uplink", withMR(`home_link = "eth9"`), wantErr{"mrouter.home_link", 4, ErrConflict, `"wwan0"`}},
		// Durations and enums.
		{"lifetime as integer", withMR(`lifetime = 300`), wantErr{"mrouter.lifetime", 4, ErrType, `"300s"`}},
		{"lifetime not 4s multiple", withMR(`lifetime = "90s"`), wantErr{"mrouter.lifetime", 4, ErrInvalid, "use 1m28s or 1m32s"}},
		{"lifetime too long", withMR(`lifetime = "100h"`), wantErr{"mrouter.lifetime", 4, ErrInvalid, "out of range 4s..72h49m0s"}},
		{"lifetime too short", withMR(`lifetime = "0s"`), wantErr{"mrouter.lifetime", 4, ErrInvalid, "out of range"}},
		{"lifetime garbage", withMR(`lifetime = "five minutes"`), wantErr{"mrouter.lifetime", 4, ErrInvalid, "not a duration"}},
		{"keepalive fraction", withMR(`nat_keepalive = "1.5s"`), wantErr{"mrouter.nat_keepalive", 4, ErrInvalid, "multiple of 1s"}},
		{"bad mode", withMR(`mode = "explicitt"`), wantErr{"mrouter.mode", 4, ErrInvalid, `"explicit", "implicit"`}},
		{"bad dataplane", withMR(`dataplane = "ebpf"`), wantErr{"mrouter.dataplane", 4, ErrInvalid, `"auto", "kernel", "userspace"`}},
		{"bool as string", withMR(`force_udp = "yes"`), wantErr{"mrouter.force_udp", 4, ErrType, "true or false"}},
		{"mrouter not a table", "mrouter = 1\n" + baseMR[len("[mrouter]\nhome_address = \"2001:db8:1::100\"\nhome_prefix = \"2001:db8:1::/64\"\n"):], wantErr{"mrouter", 1, ErrType, "must be a table"}},
		// Home agents.
		{"duplicate home agent", appendMR("[[home_agent]]\naddress = \"2001:db8:1::1\"\n"), wantErr{"home_agent[1].address", 12, ErrConflict, "also home_agent[0].address"}},
		{"home agent is home address", replaceLine(baseMR, 6, `address = "2001:db8:1::100"`), wantErr{"home_agent[0].address", 6, ErrConflict, "own home address"}},
		{"two preferred", insertAfter(baseMR, 6, "preferred = true") + "[[home_agent]]\naddress = \"2001:db8:1::2\"\npreferred = true\n", wantErr{"home_agent[1].preferred", 14, ErrConflict, "only one home agent"}},
		{"home agent bad IPv4", insertAfter(baseMR, 6, `ipv4_address = "2001:db8::1"`), wantErr{"home_agent[0].ipv4_address", 7, ErrInvalid, "not an IPv4 address"}},
		{"home_agent not array", "home_agent = \"2001:db8:1::1\"\n" + strings.Replace(baseMR, "[[home_agent]]\naddress = \"2001:db8:1::1\"\n", "", 1), wantErr{"home_agent", 1, ErrType, "array of tables"}},
		// Uplinks.
		{"duplicate uplink name", appendMR("[[uplink]]\nname = \"lte\"\ninterface = \"wwan1\"\n"), wantErr{"uplink[1].name", 12, ErrConflict, `"lte" is also used by uplink[0]`}},
		{"duplicate uplink interface", appendMR("[[uplink]]\nname = \"lte2\"\ninterface = \"wwan0\"\n"), wantErr{"uplink[1].interface", 13, ErrConflict, "also used by uplink[0]"}},
		{"bad interface name", replaceLine(baseMR, 10, `interface = "eth/0"`), wantErr{"uplink[0].interface", 10, ErrInvalid, "not a valid interface name"}},
		{"interface name too long", replaceLine(baseMR, 10, `interface = "abcdefghijklmnop"`), wantErr{"uplink[0].interface", 10, ErrInvalid, "1..15"}},
		{"empty uplink name", replaceLine(baseMR, 9, `name = ""`), wantErr{"uplink[0].name", 9, ErrInvalid, "not a usable label"}},
		{"useless uplink", appendMR("ipv6 = false\n"), wantErr{"uplink[0].ipv6", 11, ErrConflict, "both false"}},
		{"priority float", appendMR("priority = 1.5\n"), wantErr{"uplink[0].priority", 11, ErrType, "an integer, not a float"}},
		{"priority too large", appendMR("priority = 0x10000000000\n"), wantErr{"uplink[0].priority", 11, ErrInvalid, "out of range"}},
		{"table without dhcpv4", appendMR("dhcpv4_table = 1500\n"), wantErr{"uplink[0].dhcpv4_table", 11, ErrConflict, "dhcpv4 is false"}},
		{"reserved table", appendMR("dhcpv4 = true\ndhcpv4_table = 254\n"), wantErr{"uplink[0].dhcpv4_table", 12, ErrInvalid, "reserved"}},
		{"table is table_base", appendMR("dhcpv4 = true\ndhcpv4_table = 1000\n"), wantErr{"uplink[0].dhcpv4_table", 12, ErrConflict, "routing.table_base"}},
		{"duplicate explicit table", appendMR("dhcpv4 = true\ndhcpv4_table = 1500\n[[uplink]]\nname = \"b\"\ninterface = \"b0\"\ndhcpv4 = true\ndhcpv4_table = 1500\n"), wantErr{"uplink[1].dhcpv4_table", 17, ErrConflict, "uplink[0].dhcpv4_table"}},
		// The automatic table of uplink[0] (1001) is taken explicitly by
		// uplink[1]; the error points at uplink[0]'s header.
		{"automatic table taken", appendMR("dhcpv4 = true\n[[uplink]]\nname = \"b\"\ninterface = \"b0\"\ndhcpv4 = true\ndhcpv4_table = 1001\n"), wantErr{"uplink[0].dhcpv4_table", 8, ErrConflict, "set dhcpv4_table explicitly"}},
		// Mobile network.
		{"MNP overlaps home", appendMR("[mobile_network]\nprefixes = [\"2001:db8::/32\"]\n"), wantErr{"mobile_network.prefixes[0]", 12, ErrConflict, "overlaps mrouter.home_prefix"}},
		{"MNPs overlap", appendMR("[mobile_network]\nprefixes = [\n  \"2001:db8:10::/48\",\n  \"2001:db8:10:1::/64\",\n]\n"), wantErr{"mobile_network.prefixes[1]", 12, ErrConflict, "overlaps mobile_network.prefixes[0]"}},
		{"MNP non-canonical", appendMR("[mobile_network]\nprefixes = [\"2001:db8:10::1/64\"]\n"), wantErr{"mobile_network.prefixes[0]", 12, ErrInvalid, "write 2001:db8:10::/64"}},
		{"MNP link-local", appendMR("[mobile_network]\nprefixes = [\"fe80::/64\"]\n"), wantErr{"mobile_network.prefixes[0]", 12, ErrInvalid, "not a unicast prefix"}},
		{"MNP not a string", appendMR("[mobile_network]\nprefixes = [64]\n"), wantErr{"mobile_network.prefixes[0]", 12, ErrType, "must be a string"}},
		{"MNPs not a list", appendMR("[mobile_network]\nprefixes = \"2001:db8:10::/64\"\n"), wantErr{"mobile_network.prefixes", 12, ErrType, "array of strings"}},
		{"IPv4 MNP is IPv6", appendMR("[mobile_network]\nipv4_prefixes = [\"2001:db8:10::/64\"]\n"), wantErr{"mobile_network.ipv4_prefixes[0]", 12, ErrInvalid, "not an IPv4 prefix"}},
		{"IPv4 MNP contains IPv4 HoA", withMR(`ipv4_home_address = "198.51.100.1"`) + "[mobile_network]\nipv4_prefixes = [\"198.51.100.0/24\"]\n", wantErr{"mobile_network.ipv4_prefixes[0]", 13, ErrConflict, "contains mrouter.ipv4_home_address"}},
		{"duplicate LAN interface", appendMR("[mobile_network]\ninterfaces = [\"br-lan\", \"br-lan\"]\n"), wantErr{"mobile_network.interfaces[1]", 12, ErrConflict, "listed twice"}},
		{"LAN interface is uplink", appendMR("[mobile_network]\ninterfaces = [\"wwan0\"]\n"), wantErr{"uplink[0].interface", 10, ErrConflict, "mobile_network.interfaces"}},
		// Auth.
		{"auth without key", appendMR("[auth]\nnai = \"mr@example.net\"\nspi = 300\n"), wantErr{"auth.key", 11, ErrRequired, "key_file"}},
		{"auth without nai", appendMR("[auth]\nspi = 300\nkey = \"00112233445566778899aabbccddeeff\"\n"), wantErr{"auth.nai", 11, ErrRequired, "NAI"}},
		{"auth without spi", appendMR("[auth]\nnai = \"mr@example.net\"\nkey = \"00112233445566778899aabbccddeeff\"\n"), wantErr{"auth.spi", 11, ErrRequired, "SPI"}},
		{"reserved spi", appendMR("[auth]\nnai = \"mr@example.net\"\nspi = 255\nkey = \"00112233445566778899aabbccddeeff\"\n"), wantErr{"auth.spi", 13, ErrInvalid, "out of range 256.."}},
		{"bad nai", appendMR("[auth]\nnai = \"mr1\"\nspi = 300\nkey = \"00112233445566778899aabbccddeeff\"\n"), wantErr{"auth.nai", 12, ErrInvalid, "user@realm"}},
		{"nai with space", appendMR("[auth]\nnai = \"mr 1@example.net\"\nspi = 300\nkey = \"00112233445566778899aabbccddeeff\"\n"), wantErr{"auth.nai", 12, ErrInvalid, "white space"}},
		{"nai bad realm", appendMR("[auth]\nnai = \"mr1@example..net\"\nspi = 300\nkey = \"00112233445566778899aabbccddeeff\"\n"), wantErr{"auth.nai", 12, ErrInvalid, "not a domain name"}},
		{"nai too long", appendMR("[auth]\nnai = \"" + strings.Repeat("u", 250) + "@example.net\"\nspi = 300\nkey = \"00112233445566778899aabbccddeeff\"\n"), wantErr{"auth.nai", 12, ErrInvalid, "at most 254"}},
		{"short key", appendMR("[auth]\nnai = \"mr@example.net\"\nspi = 300\nkey = \"00112233445566778899aabbccddee\"\n"), wantErr{"auth.key", 14, ErrInvalid, "15 bytes; at least 16"}},
		{"key not hex", appendMR("[auth]\nnai = \"mr@example.net\"\nspi = 300\nkey = \"not-a-hex-key-but-long-enough-000\"\n"), wantErr{"auth.key", 14, ErrInvalid, "not a hex string"}},
		{"key and key_file", appendMR("[auth]\nnai = \"mr@example.net\"\nspi = 300\nkey = \"00112233445566778899aabbccddeeff\"\nkey_file = \"/x\"\n"), wantErr{"auth.key_file", 15, ErrConflict, "not both"}},
		{"replay window too long", appendMR("[auth]\nnai = \"mr@example.net\"\nspi = 300\nkey = \"00112233445566778899aabbccddeeff\"\nreplay_window = \"2h\"\n"), wantErr{"auth.replay_window", 15, ErrInvalid, "out of range"}},
		// Routing, log, status.
		{"fwmark in mwan3 mask", appendMR("[routing]\nfwmark = 0x100\n"), wantErr{"routing.fwmark", 12, ErrConflict, "mwan3's mark mask 0x3f00"}},
		{"fwmark zero", appendMR("[routing]\nfwmark = 0\n"), wantErr{"routing.fwmark", 12, ErrInvalid, "out of range 1.."}},
		{"rule priority in mwan3 range", appendMR("[routing]\nrule_priority = 1001\n"), wantErr{"routing.rule_priority", 12, ErrConflict, "mwan3"}},
		{"rule priority main", appendMR("[routing]\nrule_priority = 32766\n"), wantErr{"routing.rule_priority", 12, ErrInvalid, "out of range 1..32765"}},
		{"table base too low", appendMR("[routing]\ntable_base = 254\n"), wantErr{"routing.table_base", 12, ErrInvalid, "out of range 256.."}},
		{"bad log level", appendMR("[log]\nlevel = \"verbose\"\n"), wantErr{"log.level", 12, ErrInvalid, `"debug", "info", "warn", "error"`}},
		{"bad log format", appendMR("[log]\nformat = \"xml\"\n"), wantErr{"log.format", 12, ErrInvalid, `"text", "json"`}},
		{"relative socket", appendMR("[status]\nsocket = \"mrouter.sock\"\n"), wantErr{"status.socket", 12, ErrInvalid, "absolute path"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseMRouter(mrFile, []byte(tc.doc))
			if c != nil {
				t.Errorf("a failed parse returned a config: %+v", c)
			}
			checkHas(t, err, mrFile, tc.want)
		})
	}
}

// TestMRouterAllErrors checks that problems in different sections are all
// reported, in line order.
func TestMRouterAllErrors(t *testing.T) {
	doc := replaceLine(withMR(`lifetim = "5m"`), 3, `home_prefix = "2001:db8:1::1/64"`) + "[routing]\nfwmark = 0x100\n"
	_, err := ParseMRouter(mrFile, []byte(doc))
	fes := FieldErrors(err)
	var keys []string
	for _, fe := range fes {
		keys = append(keys, fe.Key)
	}
	want := []string{"mrouter.home_prefix", "mrouter.lifetim", "routing.fwmark"}
	if !slices.Equal(keys, want) {
		t.Errorf("keys = %q, want %q; err:\n%v", keys, want, err)
	}
	for _, k := range []error{ErrInvalid, ErrUnknownKey, ErrConflict} {
		if !errors.Is(err, k) {
			t.Errorf("errors.Is(err, %v) = false", k)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 3 {
		t.Errorf("Error() has %d lines, want 3:\n%v", n, err)
	}
}

func TestMRouterSyntaxError(t *testing.T) {
	doc := withMR(`lifetime = "5m`)
	c, err := ParseMRouter(mrFile, []byte(doc))
	if c != nil {
		t.Errorf("config returned on syntax error")
	}
	fes := FieldErrors(err)
	if len(fes) != 1 || fes[0].Kind != ErrSyntax || fes[0].Line != 4 || fes[0].File != mrFile {
		t.Fatalf("got %#v (%v)", fes, err)
	}
	if !strings.HasPrefix(err.Error(), mrFile+":4: ") {
		t.Errorf("Error() = %q", err)
	}
	// A duplicate key is a syntax error too.
	_, err = ParseMRouter(mrFile, []byte(withMR(`home_address = "2001:db8:1::5"`)))
	if !errors.Is(err, ErrSyntax) {
		t.Errorf("duplicate key: %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := LoadMRouter(t.TempDir() + "/nope.toml")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v", err)
	}
	_, err = LoadHA(t.TempDir())
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: err = %v", err)
	}
}

// TestMRouterInlineTables checks that the same schema written with inline
// tables and dotted keys is accepted.
func TestMRouterInlineTables(t *testing.T) {
	doc := `home_agent = [{ address = "2001:db8:1::1", ipv4_address = "192.0.2.1" }, { address = "2001:db8:1::2" }]
uplink = [{ name = "lte", interface = "wwan0", dhcpv4 = true }]
mrouter = { home_address = "2001:db8:1::100", home_prefix = "2001:db8:1::/64", lifetime = "1h" }
"mobile_network".prefixes = [
  "2001:db8:10::/64", # first
]
`
	c, err := ParseMRouter(mrFile, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.HomeAgents) != 2 || c.Uplinks[0].DHCPv4Table != 1001 || c.Router.Lifetime != time.Hour ||
		len(c.MobileNetwork.Prefixes) != 1 {
		t.Errorf("config = %+v", c)
	}
}
