package testbed

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

const (
	sampleIputils = `PING 2001:db8:c::10(2001:db8:c::10) 56 data bytes
64 bytes from 2001:db8:c::10: icmp_seq=1 ttl=64 time=0.052 ms

--- 2001:db8:c::10 ping statistics ---
3 packets transmitted, 2 received, 33.3333% packet loss, time 2003ms
rtt min/avg/max/mdev = 0.052/0.070/0.088/0.018 ms
`
	sampleBusybox = `PING 203.0.113.10 (203.0.113.10): 56 data bytes
64 bytes from 203.0.113.10: seq=0 ttl=64 time=0.101 ms

--- 203.0.113.10 ping statistics ---
4 packets transmitted, 4 packets received, 0% packet loss
round-trip min/avg/max = 0.101/0.150/0.250 ms
`
	sampleNbtool = `PING 2001:db8:c::10: 5 requests every 50ms
reply from 2001:db8:c::10: seq=0 time=0.120 ms
reply from 2001:db8:c::10: seq=3 time=0.200 ms
reply from 2001:db8:c::10: seq=4 time=0.310 ms
--- 2001:db8:c::10 ping statistics ---
5 packets transmitted, 3 received, 40% packet loss
rtt min/avg/max = 0.120/0.210/0.310 ms
longest loss run 2
`
	sampleAllLost = `--- 2001:db8:c::99 ping statistics ---
3 packets transmitted, 0 received, 100% packet loss
longest loss run 3
`
	sampleLinkStats = `[{"ifindex":3,"link":"d1","ifname":"d0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"3e:31:6d:e7:82:5f","broadcast":"ff:ff:ff:ff:ff:ff","stats64":{"rx":{"bytes":90,"packets":1,"errors":0,"dropped":0,"over_errors":0,"multicast":0},"tx":{"bytes":330,"packets":3,"errors":0,"dropped":0,"carrier_errors":0,"collisions":0}}}]`
	sampleAddrs     = `[{"ifindex":3,"link":"d1","ifname":"d0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"3e:31:6d:e7:82:5f","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet","local":"198.18.5.1","prefixlen":24,"scope":"global","label":"d0","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"2001:db8:6::2","prefixlen":64,"scope":"global","nodad":true,"dynamic":true,"valid_life_time":300,"preferred_life_time":200},{"family":"inet6","local":"2001:db8:5::1","prefixlen":64,"scope":"global","nodad":true,"valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fe80::3c31:6dff:fee7:825f","prefixlen":64,"scope":"link","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]}]`
	sampleNft       = `{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"chain": {"family": "ip", "table": "nemo_nat", "name": "postrouting", "handle": 1, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}, {"rule": {"family": "ip", "table": "nemo_nat", "chain": "postrouting", "handle": 2, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "d0"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "198.18.1.0", "len": 24}}}}, {"counter": {"packets": 7, "bytes": 588}}, {"masquerade": null}]}}]}`
)

func us(n int) time.Duration { return time.Duration(n) * time.Microsecond }

func TestParsePing(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want PingResult
	}{
		{"iputils", sampleIputils, PingResult{Sent: 3, Received: 2, Loss: 33.3333, RTTMin: us(52), RTTAvg: us(70), RTTMax: us(88)}},
		{"busybox", sampleBusybox, PingResult{Sent: 4, Received: 4, RTTMin: us(101), RTTAvg: us(150), RTTMax: us(250)}},
		{"nbtool", sampleNbtool, PingResult{Sent: 5, Received: 3, Loss: 40, RTTMin: us(120), RTTAvg: us(210), RTTMax: us(310), LongestLossRun: 2}},
		{"all lost", sampleAllLost, PingResult{Sent: 3, Loss: 100, LongestLossRun: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePing(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParsePingErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":                "",
		"no statistics":        "PING 2001:db8::1\nreply from 2001:db8::1: seq=0 time=0.1 ms\n",
		"more replies":         "2 packets transmitted, 3 received, 0% packet loss\n",
		"loss over 100":        "2 packets transmitted, 0 received, 200% packet loss\n",
		"rtt without reply":    "2 packets transmitted, 0 received, 100% packet loss\nrtt min/avg/max = 1/1/1 ms\n",
		"run longer than lost": "4 packets transmitted, 3 received, 25% packet loss\nlongest loss run 2\n",
		"bad loss":             "2 packets transmitted, 1 received, 5.0.0% packet loss\n",
	} {
		t.Run(name, func(t *testing.T) {
			if r, err := parsePing(in); !errors.Is(err, ErrParse) || r != (PingResult{}) {
				t.Errorf("parsePing = %+v, %v; want zero result and ErrParse", r, err)
			}
		})
	}
}

func TestPingSummaryRoundTrip(t *testing.T) {
	for _, r := range []PingResult{
		{Sent: 1, Received: 1, RTTMin: us(1), RTTAvg: us(1), RTTMax: us(1)},
		{Sent: 20, Received: 17, Loss: 15, RTTMin: us(80), RTTAvg: us(1234), RTTMax: 250 * time.Millisecond, LongestLossRun: 2},
		{Sent: 3, Received: 0, Loss: 100, LongestLossRun: 3},
	} {
		got, err := parsePing(formatPingSummary(r))
		if err != nil || got != r {
			t.Errorf("round trip of %+v: %+v, %v", r, got, err)
		}
	}
}

// The header's wire form, field by field.
var goldenHeader = []byte{
	'N', 'B', 'T', '1', // magic
	0, 0, 0, 0, 0, 0x10, 0, 0, // size 1 MiB
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // seed
}

func TestHeaderGolden(t *testing.T) {
	h := transferHeader{Size: 1 << 20, Seed: 0x0102030405060708}
	if got := h.appendBinary(nil); !bytes.Equal(got, goldenHeader) {
		t.Errorf("marshal: % x, want % x", got, goldenHeader)
	}
	got, err := parseHeader(goldenHeader)
	if err != nil || got != h {
		t.Errorf("parse: %+v, %v; want %+v", got, err, h)
	}
}

func TestHeaderErrors(t *testing.T) {
	big := transferHeader{Size: maxTransfer, Seed: 1}.appendBinary(nil)
	big[hdrOffSize+3]++ // one past the limit
	bad := map[string][]byte{
		"short":     goldenHeader[:hdrLen-1],
		"long":      append(append([]byte(nil), goldenHeader...), 0),
		"bad magic": append([]byte("NBT2"), goldenHeader[4:]...),
		"too large": big,
	}
	for name, b := range bad {
		if h, err := parseHeader(b); !errors.Is(err, ErrParse) || h != (transferHeader{}) {
			t.Errorf("%s: %+v, %v; want ErrParse", name, h, err)
		}
	}
}

func TestParseResult(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	got, err := parseResult("OK bytes=1048576 sha256=" + sum + " peer=203.0.113.65:40000\n")
	want := TransferResult{Bytes: 1 << 20, SHA256: sum, Peer: netip.MustParseAddrPort("203.0.113.65:40000")}
	if err != nil || got != want {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
	if got, err := parseResult(formatResult(want)); err != nil || got != want {
		t.Errorf("round trip: %+v, %v", got, err)
	}
	for _, bad := range []string{
		"", "FAIL content differs at byte 3",
		"OK bytes=1 sha256=" + sum[:63] + " peer=[2001:db8::1]:1",
		"OK bytes=1 sha256=" + sum + " peer=2001:db8::1",
		"OK bytes=x sha256=" + sum + " peer=[2001:db8::1]:1",
	} {
		if r, err := parseResult(bad); !errors.Is(err, ErrParse) || r != (TransferResult{}) {
			t.Errorf("parseResult(%q) = %+v, %v; want ErrParse", bad, r, err)
		}
	}
}

func TestParseLinkStats(t *testing.T) {
	rx, tx, err := parseLinkStats([]byte(sampleLinkStats))
	if err != nil || rx != 1 || tx != 3 {
		t.Errorf("got rx %d tx %d %v, want 1 3", rx, tx, err)
	}
	for _, bad := range []string{"", "[]", `[{"ifname":"x"}]`, sampleLinkStats[:40], `[{"stats64":{"rx":{"packets":1}}}]`} {
		if rx, tx, err := parseLinkStats([]byte(bad)); !errors.Is(err, ErrParse) || rx != 0 || tx != 0 {
			t.Errorf("parseLinkStats(%q) = %d %d %v, want ErrParse", bad, rx, tx, err)
		}
	}
}

func TestParseAddrs(t *testing.T) {
	got, err := parseAddrs([]byte(sampleAddrs))
	if err != nil {
		t.Fatal(err)
	}
	want := []Addr{
		{Prefix: netip.MustParsePrefix("198.18.5.1/24")},
		{Prefix: netip.MustParsePrefix("2001:db8:6::2/64"), Dynamic: true},
		{Prefix: netip.MustParsePrefix("2001:db8:5::1/64")},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("address %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"", "{}", `[{"addr_info":[{"local":"x","scope":"global","prefixlen":1}]}]`,
		`[{"addr_info":[{"local":"2001:db8::1","scope":"global","prefixlen":129}]}]`} {
		if a, err := parseAddrs([]byte(bad)); !errors.Is(err, ErrParse) || a != nil {
			t.Errorf("parseAddrs(%q) = %v %v, want ErrParse", bad, a, err)
		}
	}
}

func TestParseNftCounter(t *testing.T) {
	p, b, err := parseNftCounter([]byte(sampleNft))
	if err != nil || p != 7 || b != 588 {
		t.Errorf("got %d packets %d bytes %v, want 7 588", p, b, err)
	}
	noCounter := strings.Replace(sampleNft, `{"counter": {"packets": 7, "bytes": 588}}, `, "", 1)
	for _, bad := range []string{"", "{}", noCounter} {
		if p, b, err := parseNftCounter([]byte(bad)); !errors.Is(err, ErrParse) || p != 0 || b != 0 {
			t.Errorf("parseNftCounter(%.40q) = %d %d %v, want ErrParse", bad, p, b, err)
		}
	}
}

// pipeTransfer runs receive against a sender that writes hdr and body.
func pipeTransfer(t *testing.T, hdr transferHeader, body []byte) (TransferResult, error) {
	t.Helper()
	a, b := net.Pipe()
	go func() {
		a.Write(hdr.appendBinary(nil))
		a.Write(body)
		a.Close()
	}()
	defer b.Close()
	return receive(b)
}

func stream(seed uint64, n int) []byte {
	b := make([]byte, n)
	payload(seed).Read(b)
	return b
}

func TestTransferVerifies(t *testing.T) {
	const n = 100_000
	// The real sender against the real receiver.
	a, b := net.Pipe()
	var sum string
	done := make(chan error, 1)
	go func() {
		var err error
		sum, err = send(a, transferHeader{Size: n, Seed: 42})
		a.Close()
		done <- err
	}()
	got, err := receive(b)
	if serr := <-done; serr != nil {
		t.Fatal(serr)
	}
	if err != nil || got.Bytes != n || got.SHA256 != sum {
		t.Fatalf("receive = %+v, %v; sender's sha256 %s", got, err, sum)
	}
	if _, err := hex.DecodeString(sum); err != nil || len(sum) != 64 {
		t.Errorf("sha256 %q is not 32 hex bytes", sum)
	}

	body := stream(42, n)
	corrupt := append([]byte(nil), body...)
	corrupt[77_777] ^= 0x20
	for name, tc := range map[string]struct {
		body []byte
		want string
	}{
		"corrupt byte": {corrupt, "differs at byte 77777"},
		"short":        {body[:n-1], "99999 of 100000"},
		"long":         {append(append([]byte(nil), body...), 0), "more than"},
		"other seed":   {stream(43, n), "differs at byte 0"},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := pipeTransfer(t, transferHeader{Size: n, Seed: 42}, tc.body)
			if !errors.Is(err, ErrTransfer) || !strings.Contains(err.Error(), tc.want) || r != (TransferResult{}) {
				t.Errorf("receive = %+v, %v; want ErrTransfer mentioning %q", r, err, tc.want)
			}
		})
	}
}

func TestToolMainUsage(t *testing.T) {
	var out, errb bytes.Buffer
	for _, args := range [][]string{nil, {"frobnicate"}, {"ping"}, {"ping", "-c", "0", "2001:db8::1"}, {"send", "-size", "-1"}} {
		out.Reset()
		errb.Reset()
		if code := ToolMain(args, &out, &errb); code != 2 {
			t.Errorf("ToolMain(%q) = %d, want 2 (usage)", args, code)
		}
	}
}

func FuzzParsePing(f *testing.F) {
	for _, s := range []string{sampleIputils, sampleBusybox, sampleNbtool, sampleAllLost} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parsePing(s)
		if err != nil {
			if r != (PingResult{}) {
				t.Fatalf("failed parse returned %+v", r)
			}
			return
		}
		// Our own summary carries everything the parser reads, rounded
		// to the summary's precision: a second round trip is exact.
		r1, err := parsePing(formatPingSummary(r))
		if err != nil {
			t.Fatalf("re-parse of %+v: %v", r, err)
		}
		r2, err := parsePing(formatPingSummary(r1))
		if err != nil || r2 != r1 {
			t.Fatalf("round trip: %+v → %+v (%v)", r1, r2, err)
		}
	})
}

func FuzzParseHeader(f *testing.F) {
	f.Add(goldenHeader)
	f.Add([]byte("NBT1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHeader(b)
		if err != nil {
			if h != (transferHeader{}) {
				t.Fatalf("failed parse returned %+v", h)
			}
			return
		}
		if got := h.appendBinary(nil); !bytes.Equal(got, b) {
			t.Fatalf("marshal of %+v: % x, want % x", h, got, b)
		}
	})
}

func FuzzParseResult(f *testing.F) {
	f.Add("OK bytes=1048576 sha256=" + strings.Repeat("0f", 32) + " peer=[2001:db8:c::1]:34567")
	f.Add("FAIL no")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseResult(s)
		if err != nil {
			if r != (TransferResult{}) {
				t.Fatalf("failed parse returned %+v", r)
			}
			return
		}
		r2, err := parseResult(formatResult(r))
		if err != nil || r2 != r {
			t.Fatalf("round trip: %+v → %+v (%v)", r, r2, err)
		}
	})
}

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{sampleLinkStats, sampleAddrs, sampleNft} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if rx, tx, err := parseLinkStats(b); err != nil && (rx != 0 || tx != 0) {
			t.Fatalf("failed link stats parse returned %d %d", rx, tx)
		}
		addrs, err := parseAddrs(b)
		if err != nil && addrs != nil {
			t.Fatalf("failed address parse returned %v", addrs)
		}
		for _, a := range addrs {
			if !a.Prefix.IsValid() {
				t.Fatalf("invalid prefix %v", a.Prefix)
			}
		}
		if p, n, err := parseNftCounter(b); err != nil && (p != 0 || n != 0) {
			t.Fatalf("failed nft parse returned %d %d", p, n)
		}
	})
}

func TestDropNetnsNoise(t *testing.T) {
	in := "1: lo: <LOOPBACK>\nError: Peer netns reference is invalid.\n2: mr-fn2@if3: <UP>\n"
	if got, want := dropNetnsNoise(in), "1: lo: <LOOPBACK>\n2: mr-fn2@if3: <UP>\n"; got != want {
		t.Errorf("dropNetnsNoise = %q, want %q", got, want)
	}
	if got := dropNetnsNoise("a\nb"); got != "a\nb" {
		t.Errorf("clean output changed: %q", got)
	}
}
