package ndp

import (
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nemo-mobility/nemo/internal/testutil"
)

// scapyDecode is run by python3 with scapy: for each argument
// "src,dst,hexmsg" it dissects IPv6(src, dst, nh=58)/msg, reports every
// field of every layer after the IPv6 header as strings, and whether
// scapy's own checksum equals the one in the message.
const scapyDecode = `
import sys, json
from scapy.all import IPv6, Raw, NoPayload, raw
out = []
for arg in sys.argv[1:]:
    src, dst, msg = arg.split(",")
    p = IPv6(raw(IPv6(src=src, dst=dst, nh=58, hlim=255) / Raw(bytes.fromhex(msg))))
    layers = []
    l = p.payload
    while l is not None and not isinstance(l, NoPayload):
        f = {}
        for fd in l.fields_desc:
            v = l.getfieldval(fd.name)
            if isinstance(v, list):
                v = " ".join(str(x) for x in v)
            elif isinstance(v, bytes):
                v = v.hex()
            f[fd.name] = str(v)
        layers.append({"name": l.name, "fields": f})
        l = l.payload
    given = p.payload.cksum
    q = p.copy()
    del q.payload.cksum
    q = IPv6(raw(q))
    out.append({"layers": layers, "cksum_ok": q.payload.cksum == given})
print(json.dumps(out))
`

type scapyLayer struct {
	Name   string            `json:"name"`
	Fields map[string]string `json:"fields"`
}

type scapyResult struct {
	Layers  []scapyLayer `json:"layers"`
	CksumOK bool         `json:"cksum_ok"`
}

// TestScapyDecodesOurMessages: scapy, an independent decoder, reads every
// message we emit (with our checksum) the way we meant it.
func TestScapyDecodesOurMessages(t *testing.T) {
	py := testutil.Python(t)
	src, dst := netip.MustParseAddr("2001:db8:2::10"), netip.MustParseAddr("2001:db8:1::1")
	type layerWant struct {
		name   string // substring of scapy's layer name
		fields map[string]string
	}
	cases := []struct {
		name string
		msg  Message
		want []layerWant
	}{
		{"router advertisement", wantRA, []layerWant{
			{"Router Advertisement", map[string]string{"type": "134", "chlim": "64", "M": "1", "O": "0", "H": "1",
				"prf": "1", "P": "1", "routerlifetime": "1800", "reachabletime": "30000", "retranstimer": "1000"}},
			{"Source Link-Layer", map[string]string{"lladdr": "02:00:5e:00:53:01"}},
			{"MTU", map[string]string{"mtu": "1500"}},
			{"Prefix Information", map[string]string{"prefixlen": "64", "L": "1", "A": "1", "R": "1",
				"validlifetime": "1800", "preferredlifetime": "900", "prefix": "2001:db8:1::1"}},
			{"Interval Advertisement", map[string]string{"advint": "3000"}},
			{"Home Agent Information", map[string]string{"res": "32768", "pref": "10", "lifetime": "1800"}},
			{"DNS", map[string]string{"lifetime": "3600", "dns": "2001:db8::53"}},
		}},
		{"dhaad request", DHAADRequest{Identifier: 0x1234, MobileRouter: true}, []layerWant{
			{"Home Agent Address Discovery Request", map[string]string{"type": "144", "id": "4660", "R": "1", "res": "0"}},
		}},
		{"dhaad reply", DHAADReply{Identifier: 7, MobileRouter: true, Addresses: []netip.Addr{
			netip.MustParseAddr("2001:db8:1::1"), netip.MustParseAddr("2001:db8:1::2")}}, []layerWant{
			{"Home Agent Address Discovery Reply", map[string]string{"type": "145", "id": "7", "R": "1",
				"addresses": "2001:db8:1::1 2001:db8:1::2"}},
		}},
		{"mobile prefix solicitation", MobilePrefixSolicitation{Identifier: 0xabcd}, []layerWant{
			{"Mobile Prefix Solicitation", map[string]string{"type": "146", "id": "43981"}},
		}},
		{"mobile prefix advertisement", MobilePrefixAdvertisement{Identifier: 2, Managed: true, Options: []Option{
			PrefixInformation{Prefix: netip.PrefixFrom(netip.MustParseAddr("2001:db8:1::1"), 64), OnLink: true,
				RouterAddress: true, ValidLifetime: time.Hour, PreferredLifetime: 30 * time.Minute}}}, []layerWant{
			// scapy's 2-bit flags field: M is 0b10, O is 0b01.
			{"Mobile Prefix Advertisement", map[string]string{"type": "147", "id": "2", "flags": "2"}},
			{"Prefix Information", map[string]string{"prefixlen": "64", "L": "1", "A": "0", "R": "1",
				"validlifetime": "3600", "preferredlifetime": "1800", "prefix": "2001:db8:1::1"}},
		}},
	}
	args := []string{"-c", scapyDecode}
	for _, tc := range cases {
		b, err := tc.msg.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := SetChecksum(src, dst, b); err != nil {
			t.Fatal(err)
		}
		args = append(args, src.String()+","+dst.String()+","+hex.EncodeToString(b))
	}
	out, err := exec.Command(py, args...).Output()
	if err != nil {
		t.Fatalf("scapy: %v", err)
	}
	var res []scapyResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("scapy output %q: %v", out, err)
	}
	if len(res) != len(cases) {
		t.Fatalf("scapy decoded %d packets, want %d", len(res), len(cases))
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := res[i]
			if !r.CksumOK {
				t.Error("scapy computes a different checksum")
			}
			if len(r.Layers) != len(tc.want) {
				t.Fatalf("scapy layers %+v, want %d", r.Layers, len(tc.want))
			}
			for j, w := range tc.want {
				l := r.Layers[j]
				if !strings.Contains(l.Name, w.name) {
					t.Errorf("layer %d is %q, want %q", j, l.Name, w.name)
					continue
				}
				for k, v := range w.fields {
					if l.Fields[k] != v {
						t.Errorf("%s.%s = %q, want %q", l.Name, k, l.Fields[k], v)
					}
				}
			}
		})
	}
}
