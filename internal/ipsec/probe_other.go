//go:build !linux

package ipsec

// Probe reports that IPsec needs Linux's xfrm.
func Probe(Algorithms) error {
	return &KernelError{What: "is not Linux", Missing: "xfrm", Fix: "run on Linux"}
}
