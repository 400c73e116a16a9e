package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nemo-mobility/nemo/config"
)

func TestAddressPlanRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for _, i := range []int{0, 1, 255, 256, 65535, 65536, 99999, 1 << 24} {
		got, ok := index(hoa(i))
		if !ok || got != i {
			t.Errorf("index(hoa(%d)) = %d, %v", i, got, ok)
		}
		if !homePrefix.Contains(hoa(i)) || !coaSpace.Contains(coa(i, 3)) || coa(i, 0) == coa(i, 1) {
			t.Errorf("router %d: hoa %v coa %v/%v outside the plan", i, hoa(i), coa(i, 0), coa(i, 1))
		}
		for _, s := range []string{hoa(i).String(), coa(i, 0).String(), mnp(i).String()} {
			if seen[s] {
				t.Errorf("router %d: %s used twice", i, s)
			}
			seen[s] = true
		}
	}
	if _, ok := index(haAddr); ok {
		t.Errorf("the home agent's address maps to a router")
	}
}

// TestConfigAccepted loads the generated ha.toml with the daemon's own
// loader: every router must come out with its identity and key.
func TestConfigAccepted(t *testing.T) {
	dir := t.TempDir()
	c := haConfig{n: 3, prefixes: 1, stateDir: dir, sock: filepath.Join(dir, "s"), logLevel: "warn", maxLife: "6h", rateTotal: 1000, rate: 20}
	p := filepath.Join(dir, "ha.toml")
	if err := os.WriteFile(p, c.render(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadHA(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.MobileRouters) != 3 || cfg.Agent.DAD {
		t.Fatalf("%d routers, dad %v", len(cfg.MobileRouters), cfg.Agent.DAD)
	}
	for i, r := range cfg.MobileRouters {
		if r.NAI != nai(i) || r.HomeAddress != hoa(i) || r.SPI != spi(i) || len(r.Prefixes) != 1 || r.Prefixes[0] != mnp(i) {
			t.Errorf("router %d = %+v", i, r)
		}
	}
}
