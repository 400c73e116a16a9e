package config

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Key material for the tests: AES-128 (16 bytes) followed by an
// HMAC-SHA1 key (20 bytes), 36 bytes in all; a different one for the
// other direction.
var (
	ipsecKeyA = strings.Repeat("11", 16) + strings.Repeat("a1", 20)
	ipsecKeyB = strings.Repeat("22", 16) + strings.Repeat("b2", 20)
)

// mrIPsec is baseMR (10 lines) with an [ipsec] section from line 12.
func mrIPsec(body string) string {
	return baseMR + "\n[ipsec]\n" + body
}

func TestIPsecMRouter(t *testing.T) {
	c, err := ParseMRouter(mrFile, []byte(mrIPsec(fmt.Sprintf(
		"spi_mr_to_ha = 0x1001\nspi_ha_to_mr = 4098\nkey_mr_to_ha = %q\nkey_ha_to_mr = %q\n", ipsecKeyA, ipsecKeyB))))
	if err != nil {
		t.Fatal(err)
	}
	s := c.IPsec
	if !s.Enabled || s.SPIMRToHA != 0x1001 || s.SPIHAToMR != 4098 {
		t.Fatalf("ipsec = %+v", s)
	}
	if s.Encryption != EncAESCBC || s.Authentication != AuthHMACSHA1 {
		t.Errorf("defaults: encryption %q authentication %q", s.Encryption, s.Authentication)
	}
	enc, auth := s.SplitKey(s.KeyMRToHA)
	if !bytes.Equal(enc, bytes.Repeat([]byte{0x11}, 16)) || !bytes.Equal(auth, bytes.Repeat([]byte{0xa1}, 20)) {
		t.Errorf("split: enc %x auth %x", enc, auth)
	}
	if !slices.ContainsFunc(c.Warnings, func(w string) bool { return strings.HasPrefix(w, "ipsec: the daemon refuses to start with IPsec") }) {
		t.Errorf("no warning that the daemon refuses IPsec: %q", c.Warnings)
	}
	if strings.Contains(fmt.Sprintf("%+v %#v", s, s), "a1a1") {
		t.Error("formatting the section reveals the key")
	}

	// Without the section IPsec is off.
	c, err = ParseMRouter(mrFile, []byte(baseMR))
	if err != nil {
		t.Fatal(err)
	}
	if c.IPsec.Enabled {
		t.Error("IPsec enabled without an [ipsec] section")
	}

	// Null encryption: the key material is the integrity key only.
	c, err = ParseMRouter(mrFile, []byte(mrIPsec(fmt.Sprintf(
		"encryption = \"null\"\nauthentication = \"hmac-sha256\"\nspi_mr_to_ha = 300\nspi_ha_to_mr = 301\nkey_mr_to_ha = %q\nkey_ha_to_mr = %q\n",
		strings.Repeat("33", 32), strings.Repeat("44", 32)))))
	if err != nil {
		t.Fatal(err)
	}
	if enc, auth := c.IPsec.SplitKey(c.IPsec.KeyHAToMR); len(enc) != 0 || len(auth) != 32 {
		t.Errorf("null split: %d + %d bytes", len(enc), len(auth))
	}
}

func TestIPsecErrors(t *testing.T) {
	keys := fmt.Sprintf("key_mr_to_ha = %q\nkey_ha_to_mr = %q\n", ipsecKeyA, ipsecKeyB)
	spis := "spi_mr_to_ha = 1001\nspi_ha_to_mr = 1002\n"
	cases := []struct {
		name string
		body string
		want wantErr
	}{
		{"missing spi", "spi_mr_to_ha = 1001\n" + keys, wantErr{"ipsec.spi_ha_to_mr", 12, ErrRequired, "SPI"}},
		{"reserved spi", "spi_mr_to_ha = 255\nspi_ha_to_mr = 1002\n" + keys, wantErr{"ipsec.spi_mr_to_ha", 13, ErrInvalid, "out of range 256"}},
		{"same spi", "spi_mr_to_ha = 1001\nspi_ha_to_mr = 1001\n" + keys, wantErr{"ipsec.spi_ha_to_mr", 14, ErrConflict, "its own SPI"}},
		{"missing key", spis + fmt.Sprintf("key_mr_to_ha = %q\n", ipsecKeyA), wantErr{"ipsec.key_ha_to_mr", 12, ErrRequired, "key_ha_to_mr_file"}},
		{"same key", spis + fmt.Sprintf("key_mr_to_ha = %q\nkey_ha_to_mr = %q\n", ipsecKeyA, ipsecKeyA), wantErr{"ipsec.key_ha_to_mr", 16, ErrConflict, "its own key"}},
		{"wrong length", spis + fmt.Sprintf("key_mr_to_ha = %q\nkey_ha_to_mr = %q\n", ipsecKeyA, strings.Repeat("22", 30)), wantErr{"ipsec.key_ha_to_mr", 16, ErrInvalid, "30 bytes; encryption \"aes-cbc\" with authentication \"hmac-sha1\" needs 36, 44 or 52 bytes"}},
		{"bad encryption", "encryption = \"des\"\n" + spis + keys, wantErr{"ipsec.encryption", 13, ErrInvalid, "\"aes-cbc\", \"null\""}},
		{"bad authentication", "authentication = \"md5\"\n" + spis + keys, wantErr{"ipsec.authentication", 13, ErrInvalid, "\"hmac-sha1\""}},
		{"unknown key", spis + keys + "spi_in = 5\n", wantErr{"ipsec.spi_in", 17, ErrUnknownKey, "unknown key"}},
		{"both key and file", spis + keys + "key_ha_to_mr_file = \"x.key\"\n", wantErr{"ipsec.key_ha_to_mr_file", 17, ErrConflict, "not both"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMRouter(mrFile, []byte(mrIPsec(tc.body)))
			checkHas(t, err, mrFile, tc.want)
		})
	}
}

func TestIPsecKeyFile(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "out.key", []byte(ipsecKeyA+"\n"), 0o600)
	open := writeFile(t, dir, "in.key", []byte(ipsecKeyB+"\n"), 0o644)
	body := fmt.Sprintf("spi_mr_to_ha = 1001\nspi_ha_to_mr = 1002\nkey_mr_to_ha_file = %q\nkey_ha_to_mr_file = %q\n", good, open)
	_, err := ParseMRouter(mrFile, []byte(mrIPsec(body)))
	checkHas(t, err, mrFile, wantErr{"ipsec.key_ha_to_mr_file", 16, ErrPermission, "chmod 600 " + open})

	private := writeFile(t, dir, "in2.key", []byte(ipsecKeyB), 0o600)
	body = fmt.Sprintf("spi_mr_to_ha = 1001\nspi_ha_to_mr = 1002\nkey_mr_to_ha_file = %q\nkey_ha_to_mr_file = %q\n", good, private)
	c, err := ParseMRouter(mrFile, []byte(mrIPsec(body)))
	if err != nil {
		t.Fatal(err)
	}
	if c.IPsec.KeyHAToMR.Len() != 36 {
		t.Errorf("key from file: %d bytes", c.IPsec.KeyHAToMR.Len())
	}

	// An inline IPsec key needs a private configuration file, like the
	// MN-HA key.
	cfg := writeFile(t, dir, "mrouter.toml", []byte(mrIPsec(fmt.Sprintf(
		"spi_mr_to_ha = 1001\nspi_ha_to_mr = 1002\nkey_mr_to_ha = %q\nkey_ha_to_mr_file = %q\n", ipsecKeyA, private))), 0o644)
	_, err = LoadMRouter(cfg)
	checkHas(t, err, cfg, wantErr{"ipsec.key_mr_to_ha", 15, ErrPermission, "chmod 600 " + cfg})
}

func TestIPsecHA(t *testing.T) {
	ipsec := func(spiOut, spiIn int, a, b string) string {
		return fmt.Sprintf("[mobile_router.ipsec]\nspi_mr_to_ha = %d\nspi_ha_to_mr = %d\nkey_mr_to_ha = %q\nkey_ha_to_mr = %q\n", spiOut, spiIn, a, b)
	}
	second := "\n[[mobile_router]]\nnai = \"mr2@example.net\"\nhome_address = \"2001:db8:1::200\"\nspi = 1002\nkey = \"00112233445566778899aabbccddeef0\"\n"
	// baseHA has 12 lines; router 0's ipsec table starts at line 13,
	// router 1's at line 24.
	doc := baseHA + ipsec(2001, 2002, ipsecKeyA, ipsecKeyB) + second + ipsec(3001, 3002, ipsecKeyB, ipsecKeyA)
	c, err := ParseHA(haFile, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if m := c.MobileRouters[0].IPsec; !m.Enabled || m.SPIMRToHA != 2001 || m.SPIHAToMR != 2002 {
		t.Errorf("router 0 ipsec = %+v", m)
	}
	if m := c.MobileRouters[1].IPsec; !m.Enabled || m.SPIMRToHA != 3001 {
		t.Errorf("router 1 ipsec = %+v", m)
	}

	// Router 1 reuses router 0's inbound SPI: inbound SAs are found by
	// (home agent address, SPI), so that is refused.
	doc = baseHA + ipsec(2001, 2002, ipsecKeyA, ipsecKeyB) + second + ipsec(3001, 2001, ipsecKeyB, ipsecKeyA)
	_, err = ParseHA(haFile, []byte(doc))
	checkHas(t, err, haFile, wantErr{"mobile_router[1].ipsec.spi_ha_to_mr", 26, ErrConflict, "SPI 2001 is also mobile_router[0].ipsec.spi_mr_to_ha"})

	// A router without the table has IPsec off.
	c, err = ParseHA(haFile, []byte(baseHA))
	if err != nil {
		t.Fatal(err)
	}
	if c.MobileRouters[0].IPsec.Enabled {
		t.Error("IPsec enabled without a table")
	}
}
