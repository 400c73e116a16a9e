package ipsec

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/nemo-mobility/nemo/config"
	"github.com/nemo-mobility/nemo/internal/testutil"
	"github.com/nemo-mobility/nemo/transport"
)

// newNS makes a namespace unique to this run, removed when the test ends.
func newNS(t *testing.T) (string, netns.NsHandle) {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "ip")
	var r [3]byte
	rand.Read(r[:])
	name := fmt.Sprintf("nemo-ipsec-%d-%s", os.Getpid(), hex.EncodeToString(r[:]))
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return name, h
}

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func mustRun(t *testing.T, args ...string) {
	t.Helper()
	if _, err := run(t, args...); err != nil {
		t.Fatal(err)
	}
}

// testSection is an [ipsec] section as config loads it.
func testSection(t *testing.T, enc, auth string, keyLen int) config.IPsec {
	t.Helper()
	doc := fmt.Sprintf(`[mrouter]
home_address = "2001:db8:1::100"
home_prefix = "2001:db8:1::/64"
[[home_agent]]
address = "2001:db8:1::1"
[[uplink]]
name = "lte"
interface = "wwan0"
[ipsec]
encryption = %q
authentication = %q
spi_mr_to_ha = 4097
spi_ha_to_mr = 4098
key_mr_to_ha = %q
key_ha_to_mr = %q
`, enc, auth, strings.Repeat("a5", keyLen), strings.Repeat("5a", keyLen))
	c, err := config.ParseMRouter("/etc/mrouter.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return c.IPsec
}

// kernelHasESP6 asks iproute2, independently of this package, whether the
// namespace's kernel accepts an IPv6 ESP state.
func kernelHasESP6(t *testing.T, ns string) bool {
	t.Helper()
	out, err := run(t, "ip", "-n", ns, "xfrm", "state", "add",
		"src", "2001:db8:fe::1", "dst", "2001:db8:fe::2", "proto", "esp", "spi", "0x4242", "mode", "transport",
		"enc", "cbc(aes)", "0x"+strings.Repeat("00", 16), "auth-trunc", "hmac(sha1)", "0x"+strings.Repeat("00", 20), "96")
	if err == nil {
		mustRun(t, "ip", "-n", ns, "xfrm", "state", "flush")
		return true
	}
	if strings.Contains(out, "Requested type not found") || strings.Contains(out, "Protocol not supported") {
		return false
	}
	t.Fatalf("ip xfrm state add: %v", err)
	return false
}

// TestRequire runs the daemons' start check in a namespace: on a kernel
// without esp6 (the CI kernel) it must name esp6 and what to do; on one
// with it, it must refuse with ErrNotInThisBuild. Either way the daemon
// does not start, and the probe leaves no state behind.
func TestRequire(t *testing.T) {
	ns, h := newNS(t)
	hasESP := kernelHasESP6(t, ns)
	t.Logf("kernel has esp6: %v", hasESP)
	sec := Section{File: "/etc/mrouter.toml", Key: "ipsec", Config: testSection(t, config.EncAESCBC, config.AuthHMACSHA1, 36)}
	var err error
	if ierr := transport.InNetNS(h, func() error { err = Require([]Section{sec}); return nil }); ierr != nil {
		t.Fatal(ierr)
	}
	if err == nil {
		t.Fatal("Require accepted an [ipsec] section")
	}
	t.Logf("refusal: %v", err)
	if hasESP {
		if !errors.Is(err, ErrNotInThisBuild) {
			t.Errorf("kernel with esp6: error is not ErrNotInThisBuild: %v", err)
		}
	} else {
		want := "IPsec requested ([ipsec] in /etc/mrouter.toml) but this kernel cannot do ESP (esp6 module / CONFIG_INET6_ESP missing): load esp6 (OpenWrt: kmod-ipsec6), or remove [ipsec] and rely on RFC 4285 authentication"
		if err.Error() != want {
			t.Errorf("error:\n got %q\nwant %q", err, want)
		}
		var ke *KernelError
		if !errors.As(err, &ke) || !errors.Is(err, unix.EPROTONOSUPPORT) {
			t.Errorf("error does not carry the kernel's EPROTONOSUPPORT: %#v", err)
		}
	}
	if out, _ := run(t, "ip", "-n", ns, "xfrm", "state"); strings.TrimSpace(out) != "" {
		t.Errorf("the probe left states behind:\n%s", out)
	}

	// No enabled section: nothing to check.
	if err := Require([]Section{{File: "x", Key: "ipsec"}}); err != nil {
		t.Errorf("disabled section: %v", err)
	}
}

// TestClassify checks the classification of the kernel's answers
// the CI kernel cannot give (no xfrm_user, unknown algorithm).
func TestClassify(t *testing.T) {
	algs := Algorithms{Crypt: "cbc(aes)", Auth: "hmac(sha256)"}
	cases := []struct {
		err  error
		want string
	}{
		{unix.EPROTONOSUPPORT, "this kernel cannot do ESP (esp6 module / CONFIG_INET6_ESP missing): load esp6 (OpenWrt: kmod-ipsec6)"},
		{unix.ENOSYS, "this kernel does not know the algorithms cbc(aes) / hmac(sha256) (crypto modules missing)"},
		{unix.EPERM, "needs CAP_NET_ADMIN"},
		{unix.EINVAL, "adding a probe ESP state: invalid argument"},
	}
	for _, tc := range cases {
		got := classify(tc.err, algs)
		if !strings.Contains(got.Error(), tc.want) || !errors.Is(got, tc.err) {
			t.Errorf("classify(%v) = %q, want it to contain %q and wrap the errno", tc.err, got, tc.want)
		}
	}
}

// TestRawSendPolicyProto checks the first reason for ErrNotInThisBuild on
// this kernel: a packet the daemons send (a whole IPv6 packet on the
// header-included raw socket of package transport: Destination Options
// with a Home Address option, then a Binding Update) is looked up in the
// security policy database as protocol 255, so a policy on the Mobility
// Header (135) or on the first extension header (60) never applies to it,
// while one on protocol 255 or on any protocol does. Block policies need
// only the xfrm core, which every kernel here has.
func TestRawSendPolicyProto(t *testing.T) {
	ns, h := newNS(t)
	mustRun(t, "ip", "-n", ns, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
	mustRun(t, "ip", "-n", ns, "addr", "add", "2001:db8:f::1/64", "dev", "v0", "nodad")
	mustRun(t, "ip", "-n", ns, "link", "set", "v0", "up")
	src, dst := netip.MustParseAddr("2001:db8:f::1"), netip.MustParseAddr("2001:db8:f::2")
	pkt := bindingUpdate(src, dst, netip.MustParseAddr("2001:db8:1::100"))

	send := func() error {
		var err error
		if ierr := transport.InNetNS(h, func() error {
			s, oerr := transport.OpenSender(transport.SenderConfig{})
			if oerr != nil {
				return oerr
			}
			defer s.Close()
			err = s.Send(pkt)
			return nil
		}); ierr != nil {
			t.Fatal(ierr)
		}
		return err
	}
	if err := send(); err != nil {
		t.Fatalf("send without a policy: %v", err)
	}
	nh, err := netlink.NewHandleAt(h, unix.NETLINK_XFRM)
	if err != nil {
		t.Fatal(err)
	}
	defer nh.Close()
	for _, tc := range []struct {
		proto   netlink.Proto
		matches bool
	}{{0, true}, {unix.IPPROTO_RAW, true}, {unix.IPPROTO_MH, false}, {unix.IPPROTO_DSTOPTS, false}} {
		pol := &netlink.XfrmPolicy{
			Src:    &net.IPNet{IP: src.AsSlice(), Mask: net.CIDRMask(128, 128)},
			Dst:    &net.IPNet{IP: dst.AsSlice(), Mask: net.CIDRMask(128, 128)},
			Proto:  tc.proto,
			Dir:    netlink.XFRM_DIR_OUT,
			Action: netlink.XFRM_POLICY_BLOCK,
		}
		if err := nh.XfrmPolicyAdd(pol); err != nil {
			t.Fatalf("policy proto %d: %v", tc.proto, err)
		}
		err := send()
		blocked := errors.Is(err, unix.EPERM)
		if err != nil && !blocked {
			t.Fatalf("proto %d: send: %v", tc.proto, err)
		}
		t.Logf("outbound block policy on protocol %d: applies to the raw BU: %v", tc.proto, blocked)
		if blocked != tc.matches {
			t.Errorf("policy on protocol %d applies: %v, want %v", tc.proto, blocked, tc.matches)
		}
		if err := nh.XfrmPolicyDel(pol); err != nil {
			t.Fatal(err)
		}
	}
}

// bindingUpdate builds src → dst | Destination Options (Home Address
// option hoa) | Binding Update, the shape of a mobile router's BU away
// from home (RFC 6275 6.1.7, 6.3). The MH checksum is not needed: the
// packet never leaves the namespace (its veth peer has no address).
func bindingUpdate(src, dst, hoa netip.Addr) []byte {
	dstopt := []byte{135, 2, 1, 2, 0, 0, 201, 16} // next MH; PadN(2); HAO
	h := hoa.As16()
	dstopt = append(dstopt, h[:]...)
	mh := []byte{59, 1, 5, 0, 0, 0, 0, 1, 0x80 | 0x20, 0, 0, 0x4b, 1, 2, 0, 0} // BU, seq 1, H|R, lifetime; PadN(2)
	payload := append(dstopt, mh...)
	pkt := make([]byte, 40, 40+len(payload))
	pkt[0] = 0x60
	binary.BigEndian.PutUint16(pkt[4:], uint16(len(payload)))
	pkt[6], pkt[7] = unix.IPPROTO_DSTOPTS, 64
	s, d := src.As16(), dst.As16()
	copy(pkt[8:], s[:])
	copy(pkt[24:], d[:])
	return append(pkt, payload...)
}
