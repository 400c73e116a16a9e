package transport

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"testing"

	"github.com/nemo-mobility/nemo/internal/testutil"
)

var (
	ll1    = netip.MustParseAddr("fe80::1")
	target = netip.MustParseAddr("2001:db8:1::77")
	mac    = []byte{0x02, 0, 0, 0, 0, 0x77}
)

// TestNDGolden checks the bytes of each message against RFC 4861 4.1,
// 4.3, 4.4 and 4.6 and RFC 3971 5.3.2, field by field.
func TestNDGolden(t *testing.T) {
	tg := target.As16()
	for _, tc := range []struct {
		name string
		got  []byte
		want [][]byte // fragments, concatenated
	}{
		{"RS with SLLA", marshalRS(mac), [][]byte{
			{133, 0, 0, 0}, // type, code, checksum (zero until icmpPacket)
			{0, 0, 0, 0},   // reserved
			{1, 1},         // Source Link-Layer Address, 1 x 8 octets
			mac,
		}},
		{"RS without options", marshalRS(nil), [][]byte{{133, 0, 0, 0}, {0, 0, 0, 0}}},
		{"NA R|O with TLLA", neighborMsg{Type: 136, Flags: naFlagRouter | naFlagOverride, Target: target, LinkAddr: mac}.marshal(), [][]byte{
			{136, 0, 0, 0},
			{0xA0, 0, 0, 0}, // R=1 S=0 O=1
			tg[:],
			{2, 1}, mac, // Target Link-Layer Address
		}},
		{"NS with nonce", neighborMsg{Type: 135, Target: target, Nonce: []byte{1, 2, 3, 4, 5, 6}}.marshal(), [][]byte{
			{135, 0, 0, 0},
			{0, 0, 0, 0},
			tg[:],
			{14, 1, 1, 2, 3, 4, 5, 6}, // Nonce
		}},
		{"odd-length link address padded", marshalRS([]byte{1, 2, 3, 4, 5, 6, 7, 8}), [][]byte{
			{133, 0, 0, 0}, {0, 0, 0, 0},
			{1, 2, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0},
		}},
	} {
		if want := bytes.Join(tc.want, nil); !bytes.Equal(tc.got, want) {
			t.Errorf("%s:\ngot  %x\nwant %x", tc.name, tc.got, want)
		}
	}
}

func TestIcmpPacketHeader(t *testing.T) {
	p := icmpPacket(ll1, allNodes, marshalRS(nil))
	want := []byte{0x60, 0, 0, 0, 0, 8, 58, 255}
	if !bytes.Equal(p[:8], want) || !bytes.Equal(p[8:24], ll1.AsSlice()) || !bytes.Equal(p[24:40], allNodes.AsSlice()) {
		t.Errorf("header %x", p[:40])
	}
	// A correct checksum makes the sum over pseudo-header and message
	// come out as zero (RFC 1071).
	if c := checksum(ll1, allNodes, ProtoICMPv6, p[40:]); c != 0 {
		t.Errorf("checksum over the finished message is %#x, want 0", c)
	}
}

func TestChecksumOddLengthAndCarry(t *testing.T) {
	src, dst := netip.MustParseAddr("ffff:ffff::ffff"), netip.MustParseAddr("ffff::1")
	// All-ones data makes the sum carry many times; the field sits at an
	// even offset as in every header we checksum.
	for _, n := range []int{0, 2, 8, 1000, 65000} {
		b := bytes.Repeat([]byte{0xff}, n)
		b = append(b, 0, 0, 0xff) // checksum field, then an odd tail byte
		c := checksum(src, dst, 135, b)
		b[n], b[n+1] = byte(c>>8), byte(c)
		if v := checksum(src, dst, 135, b); v != 0 {
			t.Errorf("len %d: verify = %#x", n, v)
		}
	}
}

// TestNDAgainstScapy has scapy decode what we build and recompute the
// checksum independently.
func TestNDAgainstScapy(t *testing.T) {
	py := testutil.Python(t)
	pkts := map[string][]byte{
		"rs": icmpPacket(ll1, allRouters, marshalRS(mac)),
		"na": icmpPacket(ll1, allNodes, neighborMsg{Type: 136, Flags: naFlagRouter | naFlagOverride, Target: target, LinkAddr: mac}.marshal()),
		"ns": icmpPacket(netip.IPv6Unspecified(), solicitedNode(target), neighborMsg{Type: 135, Target: target, Nonce: []byte{9, 8, 7, 6, 5, 4}}.marshal()),
	}
	args := []string{"-c", `
import sys, json
from scapy.all import IPv6, raw
out = {}
for arg in sys.argv[1:]:
    name, hx = arg.split("=")
    p = IPv6(bytes.fromhex(hx))
    icmp = p.payload
    sent = icmp.cksum
    del icmp.cksum
    again = IPv6(raw(p)).payload.cksum
    d = {"src": p.src, "dst": p.dst, "hlim": p.hlim, "type": icmp.type, "ok": sent == again,
         "summary": icmp.summary()}
    if name == "na":
        d.update(R=icmp.R, S=icmp.S, O=icmp.O, tgt=icmp.tgt, lla=icmp.payload.lladdr)
    if name == "ns":
        d.update(tgt=icmp.tgt, opt=raw(icmp.payload).hex())
    if name == "rs":
        d.update(lla=icmp.payload.lladdr)
    out[name] = d
print(json.dumps(out))
`}
	for name, p := range pkts {
		args = append(args, name+"="+hex.EncodeToString(p))
	}
	cmd := exec.Command(py, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scapy: %v\n%s", err, stderr.String())
	}
	var got map[string]map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	macStr := net.HardwareAddr(mac).String()
	for name, want := range map[string]map[string]any{
		"rs": {"src": "fe80::1", "dst": "ff02::2", "hlim": 255.0, "type": 133.0, "ok": true, "lla": macStr},
		"na": {"src": "fe80::1", "dst": "ff02::1", "hlim": 255.0, "type": 136.0, "ok": true,
			"R": 1.0, "S": 0.0, "O": 1.0, "tgt": target.String(), "lla": macStr},
		"ns": {"src": "::", "dst": "ff02::1:ff00:77", "hlim": 255.0, "type": 135.0, "ok": true,
			"tgt": target.String(), "opt": "0e01090807060504"},
	} {
		for k, v := range want {
			if got[name][k] != v {
				t.Errorf("%s.%s: scapy says %v, want %v (%v)", name, k, got[name][k], v, got[name]["summary"])
			}
		}
	}
}

func TestParseNeighborErrors(t *testing.T) {
	good := neighborMsg{Type: 136, Flags: naFlagOverride, Target: target, LinkAddr: mac}.marshal()
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for name, b := range map[string][]byte{
		"short":            good[:23],
		"type":             mod(func(b []byte) []byte { b[0] = 134; return b }),
		"code":             mod(func(b []byte) []byte { b[1] = 1; return b }),
		"multicast target": mod(func(b []byte) []byte { b[8] = 0xff; return b }),
		"zero-length opt":  mod(func(b []byte) []byte { b[25] = 0; return b }),
		"opt past end":     mod(func(b []byte) []byte { b[25] = 2; return b }),
		"1-byte opt tail":  append(bytes.Clone(good), 1),
	} {
		if m, err := parseNeighbor(b); !errors.Is(err, ErrBadPacket) {
			t.Errorf("%s: got %+v, %v; want ErrBadPacket", name, m, err)
		}
	}
	m, err := parseNeighbor(good)
	if err != nil || m.Type != 136 || m.Flags != naFlagOverride || m.Target != target || !bytes.Equal(m.LinkAddr, mac) || m.Nonce != nil {
		t.Errorf("good: %+v, %v", m, err)
	}
	// In an NS, a Target Link-Layer option is not the link address, and
	// unknown options are skipped.
	ns := neighborMsg{Type: 135, Target: target}.marshal()
	ns = appendNDOption(ns, ndOptTargetLLA, mac)
	ns = appendNDOption(ns, 99, []byte{1, 2, 3})
	ns = appendNDOption(ns, ndOptNonce, []byte{6, 5, 4, 3, 2, 1})
	m, err = parseNeighbor(ns)
	if err != nil || m.LinkAddr != nil || !bytes.Equal(m.Nonce, []byte{6, 5, 4, 3, 2, 1}) {
		t.Errorf("NS with options: %+v, %v", m, err)
	}
}

func TestCheckIPv6Packet(t *testing.T) {
	p := appendIPv6(nil, ll1, target, ProtoMH, 64, make([]byte, 16))
	if dst, err := checkIPv6Packet(p); err != nil || dst != target {
		t.Errorf("good: %s, %v", dst, err)
	}
	for name, b := range map[string][]byte{
		"empty":  nil,
		"39":     p[:39],
		"v4":     append([]byte{0x45}, p[1:]...),
		"longer": append(bytes.Clone(p), 0),
		"cut":    p[:50],
	} {
		if _, err := checkIPv6Packet(b); !errors.Is(err, ErrBadPacket) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestSolicitedNode(t *testing.T) {
	for in, want := range map[string]string{
		"2001:db8:1::77":         "ff02::1:ff00:77",
		"fe80::1234:5678:9abc":   "ff02::1:ff78:9abc",
		"2001:db8::ffff:ffff:ff": "ff02::1:ffff:ff",
	} {
		if got := solicitedNode(netip.MustParseAddr(in)); got.String() != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

// FuzzParseNeighbor: no panic, and whatever parses survives
// marshal -> parse unchanged.
func FuzzParseNeighbor(f *testing.F) {
	f.Add(neighborMsg{Type: 136, Flags: 0xE0, Target: target, LinkAddr: mac}.marshal())
	f.Add(neighborMsg{Type: 135, Target: target, Nonce: []byte{1, 2, 3, 4, 5, 6}}.marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseNeighbor(b)
		if err != nil {
			if m.Type != 0 || m.Target.IsValid() || m.LinkAddr != nil || m.Nonce != nil {
				t.Fatalf("half-filled value on error: %+v", m)
			}
			return
		}
		again, err := parseNeighbor(m.marshal())
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if again.Type != m.Type || again.Flags != m.Flags || again.Target != m.Target ||
			!bytes.Equal(again.LinkAddr, m.LinkAddr) || !bytes.Equal(again.Nonce, m.Nonce) ||
			(again.LinkAddr == nil) != (m.LinkAddr == nil) || (again.Nonce == nil) != (m.Nonce == nil) {
			t.Fatalf("round trip:\n%+v\n%+v", m, again)
		}
	})
}

func BenchmarkChecksumBU(b *testing.B) {
	mh := make([]byte, 56) // a BU with a few options
	b.SetBytes(int64(len(mh)))
	for b.Loop() {
		checksum(ll1, target, ProtoMH, mh)
	}
}

func BenchmarkParseNeighbor(b *testing.B) {
	m := neighborMsg{Type: 136, Flags: naFlagOverride, Target: target, LinkAddr: mac}.marshal()
	for b.Loop() {
		parseNeighbor(m)
	}
}
