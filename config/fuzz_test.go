package config

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
)

var sentinels = []error{ErrSyntax, ErrUnknownKey, ErrType, ErrRequired, ErrInvalid, ErrConflict, ErrPermission, ErrKeyFile}

// checkFailure checks the shape of a failed parse.
func checkFailure(t *testing.T, name string, data []byte, err error) {
	fes := FieldErrors(err)
	if len(fes) == 0 {
		t.Fatalf("error without FieldErrors: %v", err)
	}
	maxLine := bytes.Count(data, []byte("\n")) + 1
	for _, fe := range fes {
		if fe.File != name || !slices.Contains(sentinels, fe.Kind) || fe.Line < 0 || fe.Line > maxLine || fe.Msg == "" {
			t.Fatalf("malformed FieldError %#v", fe)
		}
		if !errors.Is(err, fe.Kind) {
			t.Fatalf("errors.Is(err, %v) = false", fe.Kind)
		}
	}
}

func FuzzParseMRouter(f *testing.F) {
	f.Add([]byte(baseMR))
	f.Add([]byte(mrIPsec(fmt.Sprintf("encryption = \"aes-cbc\"\nspi_mr_to_ha = 4097\nspi_ha_to_mr = 4098\nkey_mr_to_ha = %q\nkey_ha_to_mr = %q\n", ipsecKeyA, ipsecKeyB))))
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz/mrouter.toml"
		c, err := ParseMRouter(name, data)
		if err != nil {
			if c != nil {
				t.Fatal("config returned with an error")
			}
			checkFailure(t, name, data, err)
			return
		}
		r := c.Router
		if !r.HomePrefix.Contains(r.HomeAddress) || isReservedAnycast(r.HomePrefix, r.HomeAddress) {
			t.Fatalf("home address %s vs prefix %s", r.HomeAddress, r.HomePrefix)
		}
		if r.Lifetime < lifetimeUnit || r.Lifetime > maxLifetime || r.Lifetime%lifetimeUnit != 0 {
			t.Fatalf("lifetime %s", r.Lifetime)
		}
		if len(c.HomeAgents) == 0 || len(c.Uplinks) == 0 {
			t.Fatal("no home agent or uplink")
		}
		if c.Routing.FWMark&mwan3Mask != 0 || c.Routing.FWMark == 0 ||
			c.Routing.RulePriority >= mwan3RuleMin && c.Routing.RulePriority <= mwan3RuleMax ||
			c.Routing.TableBase < firstFreeTable {
			t.Fatalf("routing %+v", c.Routing)
		}
		tables := map[uint32]bool{c.Routing.TableBase: true}
		for _, u := range c.Uplinks {
			if u.DHCPv4 != (u.DHCPv4Table != 0) || u.DHCPv4 && (u.DHCPv4Table < firstFreeTable || tables[u.DHCPv4Table]) {
				t.Fatalf("uplink %+v (tables %v)", u, tables)
			}
			tables[u.DHCPv4Table] = true
		}
		if c.Auth.Enabled() && (c.Auth.Key.Len() < minKeyLen || c.Auth.SPI < minSPI || checkNAI(c.Auth.NAI) != nil) {
			t.Fatalf("auth %+v", c.Auth)
		}
		for _, p := range c.MobileNetwork.Prefixes {
			if !p.IsValid() || p.Overlaps(r.HomePrefix) || p != p.Masked() {
				t.Fatalf("prefix %s", p)
			}
		}
		// Deterministic: the same input gives the same result.
		c2, err := ParseMRouter(name, data)
		if err != nil || fmt.Sprintf("%+v", c2) != fmt.Sprintf("%+v", c) {
			t.Fatalf("second parse differs: %v", err)
		}
	})
}

func FuzzParseHA(f *testing.F) {
	f.Add([]byte(baseHA))
	f.Add([]byte(baseHA + fmt.Sprintf("[mobile_router.ipsec]\nspi_mr_to_ha = 4097\nspi_ha_to_mr = 4098\nkey_mr_to_ha = %q\nkey_ha_to_mr = %q\n", ipsecKeyA, ipsecKeyB)))
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz/ha.toml"
		c, err := ParseHA(name, data)
		if err != nil {
			if c != nil {
				t.Fatal("config returned with an error")
			}
			checkFailure(t, name, data, err)
			return
		}
		a := c.Agent
		if !a.HomePrefix.Contains(a.Address) || a.HomeInterface == "" {
			t.Fatalf("agent %+v", a)
		}
		if c.DSMIPv6.Enabled && !a.IPv4Address.IsValid() {
			t.Fatalf("DSMIPv6 without IPv4 address")
		}
		if c.RateLimit.PerSource < 1 || c.RateLimit.PerSource > c.RateLimit.Total {
			t.Fatalf("rate limit %+v", c.RateLimit)
		}
		homes := map[string]bool{}
		for _, m := range c.MobileRouters {
			if !a.HomePrefix.Contains(m.HomeAddress) || m.HomeAddress == a.Address || homes[m.HomeAddress.String()] {
				t.Fatalf("router %+v", m)
			}
			homes[m.HomeAddress.String()] = true
			if m.Key.IsZero() && !a.Insecure || !m.Key.IsZero() && (m.Key.Len() < minKeyLen || m.SPI < minSPI) {
				t.Fatalf("router key %+v", m)
			}
			for _, p := range m.Prefixes {
				if p.Overlaps(a.HomePrefix) {
					t.Fatalf("prefix %s overlaps home", p)
				}
			}
		}
		c2, err := ParseHA(name, data)
		if err != nil || fmt.Sprintf("%+v", c2) != fmt.Sprintf("%+v", c) {
			t.Fatalf("second parse differs: %v", err)
		}
	})
}
