package mnha

import (
	"encoding/hex"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/internal/testutil"
	"github.com/nemo-mobility/nemo/mh"
	"github.com/nemo-mobility/nemo/mrouter"
)

// katScript recomputes RFC 4285 section 5.1 from scratch with Python's
// hmac module: it walks the MH options itself to find the MN-HA option
// (type 9, subtype 1), zeroes the checksum, and prints
// First(96, HMAC-SHA1(key, CoA | HoA | MH[:end of SPI])) next to the
// authentication data the message carries. Arguments: key, CoA, HoA
// (16 bytes each) and MH, all hex, one vector per four arguments.
const katScript = `
import hmac, hashlib, sys
a = sys.argv[1:]
for i in range(0, len(a), 4):
    key, coa, hoa, m = (bytes.fromhex(x) for x in a[i:i+4])
    assert len(coa) == 16 and len(hoa) == 16
    assert len(m) == (m[1] + 1) * 8
    off = 12 if m[2] in (5, 6) else None   # BU and BA bodies end at 12
    end = None
    while off < len(m):
        if m[off] == 0:
            off += 1
            continue
        t, l = m[off], m[off + 1]
        if t == 9 and m[off + 2] == 1:
            end = off + 2 + 5
            got = m[end:end + 12]
            break
        off += 2 + l
    data = coa + hoa + m[:4] + b"\0\0" + m[6:end]
    mac = hmac.new(key, data, hashlib.sha1).digest()[:12]
    print(mac.hex(), got.hex())
`

func TestKnownAnswersPython(t *testing.T) {
	py := testutil.Python(t)
	clk := &fakeClock{t0}
	type vector struct {
		name     string
		key      []byte
		coa, hoa netip.Addr
		mh       []byte
	}
	var vs []vector
	sa := testSA()
	s := newSigner(t, sa, clk)
	a := newAuth(t, Config{}, sa)
	// A home registration from an IPv6 care-of address.
	req := sendBU(t, s, homeBU(0x1234))
	vs = append(vs, vector{"BU", sa.Key, coaAddr, homeAddr, req.Raw})
	// Its Binding Acknowledgement.
	r := a.Check(t0, &req)
	info := answer(t, a, req, r, mh.StatusAccepted)
	vs = append(vs, vector{"BA", sa.Key, coaAddr, homeAddr, info.Raw})
	// A 144 for a skewed timestamp.
	clk.advance(time.Minute)
	req2 := sendBU(t, s, homeBU(0x1235))
	r2 := a.Check(t0, &req2)
	vs = append(vs, vector{"BA 144", sa.Key, coaAddr, homeAddr, answer(t, a, req2, r2, r2.Status).Raw})
	// DSMIPv6: IPv4 care-of address, mapped, and a longer key and NAI.
	sa3 := SA{SPI: 0xdeadbeef, Key: []byte("a key longer than sixteen octets, as some deployments use"), NAI: strings.Repeat("x", 200) + "@example.net", HomeAddress: homeAddr}
	s3 := newSigner(t, sa3, clk)
	sb, err := s3.Sign(mrouter.SendBU{From: coa4, To: haAddr, UDP: true, BU: mh.BindingUpdate{Sequence: 1, Flags: mh.BUFlagH, Options: []mh.Option{mh.IPv4CareOfAddress{Addr: coa4}}}})
	if err != nil {
		t.Fatal(err)
	}
	vs = append(vs, vector{"BU IPv4 CoA", sa3.Key, coa4, homeAddr, mustMarshal(t, sb.BU)})
	// A deregistration from the home link (care-of address = home address).
	sb, err = s.Sign(mrouter.SendBU{From: homeAddr, To: haAddr, BU: mh.BindingUpdate{Sequence: 2, Flags: mh.BUFlagH | mh.BUFlagA, Options: []mh.Option{mh.AlternateCareOfAddress{Addr: homeAddr}}}})
	if err != nil {
		t.Fatal(err)
	}
	vs = append(vs, vector{"BU home dereg", sa.Key, homeAddr, homeAddr, mustMarshal(t, sb.BU)})

	var args []string
	for _, v := range vs {
		c, h := v.coa.As16(), v.hoa.As16()
		args = append(args, hex.EncodeToString(v.key), hex.EncodeToString(c[:]), hex.EncodeToString(h[:]), hex.EncodeToString(v.mh))
	}
	out, err := exec.Command(py, append([]string{"-c", katScript}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(vs) {
		t.Fatalf("python printed %d lines for %d vectors:\n%s", len(lines), len(vs), out)
	}
	for i, line := range lines {
		f := strings.Fields(line)
		if len(f) != 2 || len(f[0]) != 2*mh.MNHAAuthLen {
			t.Fatalf("%s: python printed %q", vs[i].name, line)
		}
		if f[0] != f[1] {
			t.Errorf("%s: message carries %s, python's HMAC-SHA1-96 is %s", vs[i].name, f[1], f[0])
		}
		// And our allocation-free MAC agrees with python on the same bytes.
		loc, err := mh.FindAuthOption(vs[i].mh, mh.AuthSubtypeMNHA)
		if err != nil {
			t.Fatal(err)
		}
		ours := newMAC(vs[i].key).compute(vs[i].coa, vs[i].hoa, vs[i].mh[:loc.DataOffset])
		if got := hex.EncodeToString(ours[:]); got != f[0] {
			t.Errorf("%s: compute = %s, python %s", vs[i].name, got, f[0])
		}
	}
}
