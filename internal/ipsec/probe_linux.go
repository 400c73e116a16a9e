package ipsec

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Probe addresses: documentation addresses (RFC 3849) that no real SA
// uses; the state lives for the time of one add and one delete.
var (
	probeSrc = net.ParseIP("2001:db8:ffff:ffff::1")
	probeDst = net.ParseIP("2001:db8:ffff:ffff::2")
)

// probeSPIs are tried in turn should a state with the SPI exist already.
var probeSPIs = []int{0x7e5f0001, 0x7e5f0002, 0x7e5f0003}

// Probe checks that the kernel can hold an IPv6 ESP transport-mode state
// with algs, in the calling thread's network namespace, by adding and
// deleting a throw-away one. A *KernelError names what is missing.
func Probe(algs Algorithms) error {
	h, err := netlink.NewHandle(unix.NETLINK_XFRM)
	if err != nil {
		if errors.Is(err, unix.EPROTONOSUPPORT) {
			return &KernelError{What: "has no xfrm netlink interface", Missing: "xfrm_user module / CONFIG_XFRM_USER",
				Fix: "load xfrm_user (OpenWrt: kmod-ipsec)", Err: err}
		}
		return fmt.Errorf("opening an xfrm netlink socket: %w", err)
	}
	defer h.Close()
	for _, spi := range probeSPIs {
		st := &netlink.XfrmState{
			Src:   probeSrc,
			Dst:   probeDst,
			Proto: netlink.XFRM_PROTO_ESP,
			Mode:  netlink.XFRM_MODE_TRANSPORT,
			Spi:   spi,
			Crypt: &netlink.XfrmStateAlgo{Name: algs.Crypt, Key: make([]byte, algs.CryptKeyLen)},
			Auth:  &netlink.XfrmStateAlgo{Name: algs.Auth, Key: make([]byte, algs.AuthKeyLen), TruncateLen: algs.TruncBits},
		}
		err := h.XfrmStateAdd(st)
		switch {
		case err == nil:
			if derr := h.XfrmStateDel(st); derr != nil {
				return fmt.Errorf("deleting the probe ESP state (spi %#x): %w", spi, derr)
			}
			return nil
		case errors.Is(err, unix.EEXIST):
			continue
		}
		return classify(err, algs)
	}
	return fmt.Errorf("probe ESP states with SPIs %#x exist already", probeSPIs)
}

// classify turns the kernel's answer to adding an ESP state into what is
// missing. The kernel answers EPROTONOSUPPORT when no transform is
// registered for the protocol (no esp6), ENOSYS when an algorithm is
// unknown (xfrm_user's attach_one_algo), EPERM without CAP_NET_ADMIN.
func classify(err error, algs Algorithms) error {
	switch {
	case errors.Is(err, unix.EPROTONOSUPPORT), errors.Is(err, unix.ENOPROTOOPT):
		return &KernelError{What: "cannot do ESP", Missing: "esp6 module / CONFIG_INET6_ESP",
			Fix: "load esp6 (OpenWrt: kmod-ipsec6)", Err: err}
	case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.ENOENT):
		return &KernelError{What: fmt.Sprintf("does not know the algorithms %s / %s", algs.Crypt, algs.Auth),
			Missing: "crypto modules", Fix: "load them (OpenWrt: kmod-crypto-cbc, kmod-crypto-aes, kmod-crypto-sha1 or kmod-crypto-sha256) or choose others in [ipsec]", Err: err}
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("adding an ESP state needs CAP_NET_ADMIN: %w", err)
	}
	return fmt.Errorf("adding a probe ESP state: %w", err)
}
