package ipsec

import (
	"errors"
	"fmt"

	"github.com/nemo-mobility/nemo/config"
)

// ErrNotInThisBuild is the refusal when the kernel can do ESP but this
// build cannot protect its signalling with it (see the package comment).
var ErrNotInThisBuild = errors.New("IPsec protection of the signalling is not supported in this build")

// KernelError says what the kernel lacks for IPsec.
type KernelError struct {
	// Missing names what is missing, e.g. "esp6 module / CONFIG_INET6_ESP".
	Missing string
	// What says what the kernel cannot do, e.g. "cannot do ESP".
	What string
	// Fix says how to get it, e.g. "load esp6 (OpenWrt: kmod-ipsec6)".
	Fix string
	// Err is the kernel's answer.
	Err error
}

func (e *KernelError) Error() string {
	return fmt.Sprintf("this kernel %s (%s missing): %s", e.What, e.Missing, e.Fix)
}

func (e *KernelError) Unwrap() error { return e.Err }

// Algorithms are the kernel (crypto API) names of an SA's algorithms.
type Algorithms struct {
	// Crypt is the encryption algorithm ("cbc(aes)", "ecb(cipher_null)").
	Crypt string
	// CryptKeyLen is the encryption key length in bytes.
	CryptKeyLen int
	// Auth is the integrity algorithm ("hmac(sha1)", "hmac(sha256)").
	Auth string
	// AuthKeyLen is the integrity key length in bytes.
	AuthKeyLen int
	// TruncBits is the integrity check value length in bits.
	TruncBits int
}

// AlgorithmsOf returns the kernel names of a configuration's algorithms.
func AlgorithmsOf(c config.IPsec) (Algorithms, error) {
	var a Algorithms
	switch c.Encryption {
	case config.EncAESCBC:
		a.Crypt, a.CryptKeyLen = "cbc(aes)", 16
		if !c.KeyMRToHA.IsZero() {
			enc, _ := c.SplitKey(c.KeyMRToHA)
			a.CryptKeyLen = len(enc)
		}
	case config.EncNull:
		a.Crypt, a.CryptKeyLen = "ecb(cipher_null)", 0
	default:
		return a, fmt.Errorf("ipsec: unknown encryption %q", c.Encryption)
	}
	switch c.Authentication {
	case config.AuthHMACSHA1:
		a.Auth, a.AuthKeyLen, a.TruncBits = "hmac(sha1)", 20, 96
	case config.AuthHMACSHA256:
		a.Auth, a.AuthKeyLen, a.TruncBits = "hmac(sha256)", 32, 128
	default:
		return a, fmt.Errorf("ipsec: unknown authentication %q", c.Authentication)
	}
	return a, nil
}

// Section is one configured [ipsec] section: where it is (for messages)
// and what it says.
type Section struct {
	// File is the configuration file.
	File string
	// Key is the section's name, "ipsec" or "mobile_router[3].ipsec".
	Key string
	// Config is the section.
	Config config.IPsec
}

// Require is the daemons' start check: for the first enabled section it
// probes the kernel in the calling thread's network namespace and returns
// an error naming what is missing; when the kernel can do ESP it returns
// ErrNotInThisBuild with the reason. It returns nil only when no section
// is enabled.
func Require(sections []Section) error {
	for _, s := range sections {
		if !s.Config.Enabled {
			continue
		}
		head := fmt.Sprintf("IPsec requested ([%s] in %s) but", s.Key, s.File)
		algs, err := AlgorithmsOf(s.Config)
		if err != nil {
			return fmt.Errorf("%s %w", head, err)
		}
		if err := Probe(algs); err != nil {
			var ke *KernelError
			if errors.As(err, &ke) {
				return fmt.Errorf("%s %w, or remove [%s] and rely on RFC 4285 authentication", head, err, s.Key)
			}
			return fmt.Errorf("%s the kernel check failed: %w", head, err)
		}
		return fmt.Errorf("IPsec requested ([%s] in %s): the kernel can do ESP, but %w: the Binding Updates and Acknowledgements are built whole and sent on a raw socket, so the kernel's policy lookup never sees a Mobility Header (protocol 255, not 135), and the Home Address option and type 2 routing header in front of an ESP header make a kernel without CONFIG_IPV6_MIP6 drop the packet before decrypting it; remove [%s] and rely on RFC 4285 authentication (README.md, \"IPsec\")",
			s.Key, s.File, ErrNotInThisBuild, s.Key)
	}
	return nil
}
