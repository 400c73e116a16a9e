package config

import (
	"fmt"
)

// IPsec encryption algorithms (ESP, RFC 4303) accepted in [ipsec].
const (
	// EncAESCBC is AES in CBC mode (RFC 3602), with a 16, 24 or 32-byte
	// key; the kernel's "cbc(aes)".
	EncAESCBC = "aes-cbc"
	// EncNull is ESP without confidentiality (RFC 2410): integrity only.
	EncNull = "null"
)

// IPsec integrity algorithms accepted in [ipsec].
const (
	// AuthHMACSHA1 is HMAC-SHA1-96 (RFC 2404), a 20-byte key; the one
	// RFC 4877 section 7 requires implementations to support.
	AuthHMACSHA1 = "hmac-sha1"
	// AuthHMACSHA256 is HMAC-SHA256-128 (RFC 4868), a 32-byte key.
	AuthHMACSHA256 = "hmac-sha256"
)

// IPsec is an optional [ipsec] section (mobile router) or ipsec sub-table
// of a [[mobile_router]] (home agent): manually keyed ESP security
// associations protecting the signalling between one mobile router and its
// home agent (RFC 3776 / RFC 4877). Both ends write the same values: the
// SPIs and keys are named by direction, not by point of view.
//
// The zero value (Enabled false) means no IPsec; RFC 4285 authentication
// applies either way.
type IPsec struct {
	// Enabled is true when the section is present.
	Enabled bool
	// SPIMRToHA and SPIHAToMR are the SPIs of the two SAs (256 and more;
	// 1..255 are reserved by RFC 4303); they differ.
	SPIMRToHA, SPIHAToMR uint32
	// Encryption is EncAESCBC or EncNull.
	Encryption string
	// Authentication is AuthHMACSHA1 or AuthHMACSHA256.
	Authentication string
	// KeyMRToHA and KeyHAToMR are the key material of the two SAs: the
	// encryption key (none for EncNull) followed by the integrity key.
	KeyMRToHA, KeyHAToMR Secret
}

// SplitKey splits one direction's key material into the encryption key
// (empty for EncNull) and the integrity key.
func (c IPsec) SplitKey(k Secret) (enc, auth []byte) {
	b := k.Bytes()
	n := len(b) - authKeyLen(c.Authentication)
	if n < 0 {
		return nil, nil
	}
	return b[:n], b[n:]
}

func authKeyLen(alg string) int {
	switch alg {
	case AuthHMACSHA1:
		return 20
	case AuthHMACSHA256:
		return 32
	}
	return 0
}

// encKeyLens are the encryption key lengths each algorithm accepts.
func encKeyLens(alg string) []int {
	switch alg {
	case EncAESCBC:
		return []int{16, 24, 32}
	case EncNull:
		return []int{0}
	}
	return nil
}

// ipsecRefusedWarning is the warning of every enabled section: the schema
// is complete, but the daemons refuse to start with it (internal/ipsec).
const ipsecRefusedWarning = "%s: the daemon refuses to start with IPsec: on a kernel without esp6 it names the missing module, and with esp6 this build still cannot protect its raw-socket signalling with ESP (README.md, \"IPsec\"); RFC 4285 authentication ([auth]) is the protection"

// readIPsec reads an [ipsec] table (t.present false: IPsec is off).
func readIPsec(t *table, src *source, warn *[]string) IPsec {
	if !t.present {
		return IPsec{}
	}
	*warn = append(*warn, fmt.Sprintf(ipsecRefusedWarning, t.path))
	c := IPsec{
		Enabled:        true,
		Encryption:     enum(t, "encryption", EncAESCBC, EncAESCBC, EncNull),
		Authentication: enum(t, "authentication", AuthHMACSHA1, AuthHMACSHA1, AuthHMACSHA256),
	}
	readSPI := func(name string) uint32 {
		n, ok := t.optInteger(name, minSPI, 0xFFFFFFFF)
		if _, set := t.m[name]; !set {
			t.required(name, fmt.Sprintf("the SPI (>= %d) of this direction's security association", minSPI))
		}
		if !ok {
			return 0
		}
		return uint32(n)
	}
	c.SPIMRToHA = readSPI("spi_mr_to_ha")
	c.SPIHAToMR = readSPI("spi_ha_to_mr")
	if c.SPIMRToHA != 0 && c.SPIMRToHA == c.SPIHAToMR {
		t.p.add(t.key("spi_ha_to_mr"), ErrConflict, nil, "%d is also spi_mr_to_ha: each direction needs its own SPI", c.SPIHAToMR)
	}
	c.KeyMRToHA = readIPsecKey(t, src, "key_mr_to_ha", c)
	c.KeyHAToMR = readIPsecKey(t, src, "key_ha_to_mr", c)
	if !c.KeyMRToHA.IsZero() && string(c.KeyMRToHA.b) == string(c.KeyHAToMR.b) {
		t.p.add(t.key("key_ha_to_mr"), ErrConflict, nil, "the same key material as key_mr_to_ha: give each direction its own key")
	}
	t.done()
	return c
}

// readIPsecKey reads name (inline hex) or name_file and checks its length
// against the algorithms.
func readIPsecKey(t *table, src *source, name string, c IPsec) Secret {
	k, given := t.secretNamed(src, name, name+"_file")
	if !given {
		t.required(name, fmt.Sprintf("%s (hex) or %s_file: the encryption key followed by the integrity key", name, name))
		return Secret{}
	}
	if k.IsZero() {
		return Secret{} // reported by secretNamed
	}
	auth := authKeyLen(c.Authentication)
	var want []string
	for _, n := range encKeyLens(c.Encryption) {
		if k.Len() == n+auth {
			return k
		}
		want = append(want, fmt.Sprintf("%d", n+auth))
	}
	key := name
	if _, inline := t.m[name]; !inline {
		key = name + "_file"
	}
	t.p.add(t.key(key), ErrInvalid, nil,
		"key material is %d bytes; encryption %q with authentication %q needs %s bytes (the encryption key followed by the %d-byte integrity key)",
		k.Len(), c.Encryption, c.Authentication, orList(want), auth)
	return Secret{}
}

func orList(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	out := s[0]
	for i := 1; i < len(s)-1; i++ {
		out += ", " + s[i]
	}
	return out + " or " + s[len(s)-1]
}
