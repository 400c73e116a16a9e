package testbed

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrParse is returned when tool output cannot be understood.
var ErrParse = errors.New("testbed: cannot parse")

// PingResult is the summary of one ping run.
type PingResult struct {
	// Sent and Received count echo requests and distinct replies.
	Sent, Received int
	// Loss is the percentage of requests without a reply.
	Loss float64
	// RTTMin, RTTAvg and RTTMax are zero when nothing came back.
	RTTMin, RTTAvg, RTTMax time.Duration
	// LongestLossRun is the longest run of consecutive requests without
	// a reply: times the interval, it bounds the traffic gap.
	LongestLossRun int
}

// The summary nbtool ping prints; its first line is the same as iputils
// ping's, and parsePing also reads iputils and busybox output.
const (
	pingStatsFmt = "%d packets transmitted, %d received, %s%% packet loss\n"
	pingRTTFmt   = "rtt min/avg/max = %s/%s/%s ms\n"
	pingRunFmt   = "longest loss run %d\n"
)

var (
	rePingStats = regexp.MustCompile(`(?m)^(\d{1,9}) packets transmitted, (\d{1,9}) (?:packets )?received(?:, \+\d+ (?:duplicates|errors))*, ([0-9.]{1,12})% packet loss`)
	rePingRTT   = regexp.MustCompile(`(?m)^(?:rtt|round-trip) min/avg/max(?:/mdev)? = ([0-9.]{1,16})/([0-9.]{1,16})/([0-9.]{1,16})(?:/[0-9.]+)? ms`)
	rePingRun   = regexp.MustCompile(`(?m)^longest loss run (\d{1,9})$`)
)

func fmtMS(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64)
}

func parseMS(s string) (time.Duration, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1e9 {
		return 0, fmt.Errorf("rtt %q: %w", s, ErrParse)
	}
	return time.Duration(f * float64(time.Millisecond)).Round(time.Microsecond), nil
}

// formatPingSummary renders r the way nbtool ping ends its output.
func formatPingSummary(r PingResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, pingStatsFmt, r.Sent, r.Received, strconv.FormatFloat(r.Loss, 'f', -1, 64))
	if r.Received > 0 {
		fmt.Fprintf(&b, pingRTTFmt, fmtMS(r.RTTMin), fmtMS(r.RTTAvg), fmtMS(r.RTTMax))
	}
	fmt.Fprintf(&b, pingRunFmt, r.LongestLossRun)
	return b.String()
}

// parsePing reads the summary of a ping run. It never returns a partly
// filled result with a nil error.
func parsePing(out string) (PingResult, error) {
	m := rePingStats.FindStringSubmatch(out)
	if m == nil {
		return PingResult{}, fmt.Errorf("ping output without statistics: %w", ErrParse)
	}
	var r PingResult
	var err error
	if r.Sent, err = strconv.Atoi(m[1]); err != nil {
		return PingResult{}, fmt.Errorf("sent %q: %w", m[1], ErrParse)
	}
	if r.Received, err = strconv.Atoi(m[2]); err != nil {
		return PingResult{}, fmt.Errorf("received %q: %w", m[2], ErrParse)
	}
	if r.Loss, err = strconv.ParseFloat(m[3], 64); err != nil || r.Loss < 0 || r.Loss > 100 {
		return PingResult{}, fmt.Errorf("loss %q: %w", m[3], ErrParse)
	}
	if r.Received > r.Sent {
		return PingResult{}, fmt.Errorf("%d replies to %d requests: %w", r.Received, r.Sent, ErrParse)
	}
	if rt := rePingRTT.FindStringSubmatch(out); rt != nil {
		if r.Received == 0 {
			return PingResult{}, fmt.Errorf("round-trip times without replies: %w", ErrParse)
		}
		for i, d := range []*time.Duration{&r.RTTMin, &r.RTTAvg, &r.RTTMax} {
			if *d, err = parseMS(rt[i+1]); err != nil {
				return PingResult{}, err
			}
		}
	}
	if run := rePingRun.FindStringSubmatch(out); run != nil {
		if r.LongestLossRun, err = strconv.Atoi(run[1]); err != nil || r.LongestLossRun > r.Sent-r.Received {
			return PingResult{}, fmt.Errorf("loss run %q: %w", run[1], ErrParse)
		}
	}
	return r, nil
}

// The TCP transfer protocol of nbtool: the sender writes a header, then
// Size bytes of a ChaCha8 stream seeded with Seed, then half-closes; the
// receiver regenerates the stream, compares every byte and answers with one
// result line.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                        Magic "NBT1"                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         Size (64 bits)                        |
//	+                                                               +
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         Seed (64 bits)                        |
//	+                                                               +
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	hdrMagic     = "NBT1"
	hdrOffMagic  = 0
	hdrOffSize   = 4
	hdrOffSeed   = 12
	hdrLen       = 20
	maxTransfer  = 1 << 36 // 64 GiB: anything larger is a corrupt header
	resultPrefix = "OK "
)

type transferHeader struct {
	Size int64
	Seed uint64
}

func (h transferHeader) appendBinary(b []byte) []byte {
	b = append(b, hdrMagic...)
	b = binary.BigEndian.AppendUint64(b, uint64(h.Size))
	return binary.BigEndian.AppendUint64(b, h.Seed)
}

func parseHeader(b []byte) (transferHeader, error) {
	if len(b) != hdrLen {
		return transferHeader{}, fmt.Errorf("header of %d bytes, want %d: %w", len(b), hdrLen, ErrParse)
	}
	if string(b[hdrOffMagic:hdrOffMagic+len(hdrMagic)]) != hdrMagic {
		return transferHeader{}, fmt.Errorf("bad magic %q: %w", b[:4], ErrParse)
	}
	size := binary.BigEndian.Uint64(b[hdrOffSize:])
	if size > maxTransfer {
		return transferHeader{}, fmt.Errorf("size %d too large: %w", size, ErrParse)
	}
	return transferHeader{Size: int64(size), Seed: binary.BigEndian.Uint64(b[hdrOffSeed:])}, nil
}

// TransferResult describes a verified TCP transfer.
type TransferResult struct {
	// Bytes is the number of bytes the receiver got and verified.
	Bytes int64
	// SHA256 is the hex SHA-256 of the content.
	SHA256 string
	// Peer is the sender's address as the receiver saw it (after NAT).
	Peer netip.AddrPort
	// Duration is the sender's wall time for the transfer.
	Duration time.Duration
}

var reResult = regexp.MustCompile(`^OK bytes=(\d{1,12}) sha256=([0-9a-f]{64}) peer=(\S{1,64})$`)

func formatResult(r TransferResult) string {
	return fmt.Sprintf("OK bytes=%d sha256=%s peer=%s", r.Bytes, r.SHA256, r.Peer)
}

// parseResult reads a receiver's "OK ..." line (Duration is not part of it).
func parseResult(line string) (TransferResult, error) {
	m := reResult.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		return TransferResult{}, fmt.Errorf("transfer result %q: %w", line, ErrParse)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return TransferResult{}, fmt.Errorf("bytes %q: %w", m[1], ErrParse)
	}
	peer, err := netip.ParseAddrPort(m[3])
	if err != nil {
		return TransferResult{}, fmt.Errorf("peer %q: %w", m[3], ErrParse)
	}
	return TransferResult{Bytes: n, SHA256: m[2], Peer: peer}, nil
}

// linkStats is the part of "ip -s -j link show" this package reads.
type linkStats struct {
	Stats64 *struct {
		RX struct {
			Packets *uint64 `json:"packets"`
			Bytes   uint64  `json:"bytes"`
		} `json:"rx"`
		TX struct {
			Packets *uint64 `json:"packets"`
			Bytes   uint64  `json:"bytes"`
		} `json:"tx"`
	} `json:"stats64"`
}

// parseLinkStats returns the packet counters of the single link in the
// JSON output of "ip -s -j link show dev X".
func parseLinkStats(b []byte) (rx, tx uint64, err error) {
	var links []linkStats
	if err := json.Unmarshal(b, &links); err != nil {
		return 0, 0, fmt.Errorf("link statistics: %w (%v)", ErrParse, err)
	}
	if len(links) != 1 || links[0].Stats64 == nil || links[0].Stats64.RX.Packets == nil || links[0].Stats64.TX.Packets == nil {
		return 0, 0, fmt.Errorf("link statistics: want one link with stats64: %w", ErrParse)
	}
	return *links[0].Stats64.RX.Packets, *links[0].Stats64.TX.Packets, nil
}

// Addr is an address configured on an interface.
type Addr struct {
	// Prefix is the address with its prefix length.
	Prefix netip.Prefix
	// Dynamic is set for addresses with a finite valid lifetime (SLAAC,
	// DHCP).
	Dynamic bool
}

type ipAddrJSON []struct {
	AddrInfo []struct {
		Family        string `json:"family"`
		Local         string `json:"local"`
		PrefixLen     int    `json:"prefixlen"`
		Scope         string `json:"scope"`
		Dynamic       bool   `json:"dynamic"`
		ValidLifeTime *int64 `json:"valid_life_time"`
	} `json:"addr_info"`
}

// parseAddrs returns the global-scope addresses in the JSON output of
// "ip -j addr show".
func parseAddrs(b []byte) ([]Addr, error) {
	var links ipAddrJSON
	if err := json.Unmarshal(b, &links); err != nil {
		return nil, fmt.Errorf("addresses: %w (%v)", ErrParse, err)
	}
	var out []Addr
	for _, l := range links {
		for _, a := range l.AddrInfo {
			if a.Scope != "global" {
				continue
			}
			ip, err := netip.ParseAddr(a.Local)
			if err != nil {
				return nil, fmt.Errorf("address %q: %w", a.Local, ErrParse)
			}
			p, err := ip.Prefix(a.PrefixLen)
			if err != nil || a.PrefixLen < 0 {
				return nil, fmt.Errorf("prefix length %d: %w", a.PrefixLen, ErrParse)
			}
			out = append(out, Addr{Prefix: netip.PrefixFrom(ip, p.Bits()), Dynamic: a.Dynamic})
		}
	}
	return out, nil
}

type nftJSON struct {
	Nftables []struct {
		Rule *struct {
			Expr []struct {
				Counter *struct {
					Packets uint64 `json:"packets"`
					Bytes   uint64 `json:"bytes"`
				} `json:"counter"`
			} `json:"expr"`
		} `json:"rule"`
	} `json:"nftables"`
}

// parseNftCounter sums the counters of every rule in "nft -j list chain".
func parseNftCounter(b []byte) (packets, bytes uint64, err error) {
	var doc nftJSON
	if err := json.Unmarshal(b, &doc); err != nil {
		return 0, 0, fmt.Errorf("nft counters: %w (%v)", ErrParse, err)
	}
	found := false
	for _, item := range doc.Nftables {
		if item.Rule == nil {
			continue
		}
		for _, e := range item.Rule.Expr {
			if e.Counter != nil {
				found = true
				packets += e.Counter.Packets
				bytes += e.Counter.Bytes
			}
		}
	}
	if !found {
		return 0, 0, fmt.Errorf("nft counters: no counter: %w", ErrParse)
	}
	return packets, bytes, nil
}
