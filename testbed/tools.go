package testbed

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// toolArgv is the command line of an nbtool subcommand.
func (tb *Testbed) toolArgv(args ...string) []string {
	return append([]string{tb.tool}, args...)
}

var toolEnv = []string{ToolEnv + "=1"}

// Ping sends count ICMP echo requests from a node to dst (an IPv6 or IPv4
// address) at the given interval and waits up to a second for the last
// replies. An unreachable destination is not an error: the result shows the
// loss. The error reports a ping that could not run.
func (tb *Testbed) Ping(from, dst string, count int, interval time.Duration) (PingResult, error) {
	return tb.PingFrom(from, "", dst, count, interval)
}

// PingFrom is Ping with a source address ("" lets the kernel choose).
func (tb *Testbed) PingFrom(from, src, dst string, count int, interval time.Duration) (PingResult, error) {
	if err := tb.checkOpen(); err != nil {
		return PingResult{}, err
	}
	args := []string{"ping", "-c", strconv.Itoa(count), "-i", interval.String(), "-W", "1s"}
	if src != "" {
		args = append(args, "-I", src)
	}
	args = append(args, dst)
	timeout := time.Duration(count)*interval + 10*time.Second
	out, err := tb.execEnv(context.Background(), from, timeout, toolEnv, tb.toolArgv(args...)...)
	r, perr := parsePing(out)
	if perr != nil {
		if err != nil {
			return PingResult{}, fmt.Errorf("ping %s from %s: %w", dst, from, err)
		}
		return PingResult{}, fmt.Errorf("ping %s from %s: %w: %s", dst, from, perr, out)
	}
	return r, nil
}

// TCPTransfer sends size bytes of pseudo-random content over TCP from
// fromNode to dst, an address of toNode, where a receiver checks every byte
// and the SHA-256 of the whole. It returns what the receiver saw, including
// the sender's address after any NAT.
func (tb *Testbed) TCPTransfer(fromNode, toNode, dst string, size int64) (TransferResult, error) {
	if err := tb.checkOpen(); err != nil {
		return TransferResult{}, err
	}
	addr, err := netip.ParseAddr(dst)
	if err != nil {
		return TransferResult{}, fmt.Errorf("transfer destination %q: %w", dst, ErrParse)
	}
	timeout := 60 * time.Second
	srv, err := tb.Start(toNode, tb.toolArgv("serve", "-listen", netip.AddrPortFrom(addr, 0).String(),
		"-timeout", timeout.String()), toolEnv)
	if err != nil {
		return TransferResult{}, err
	}
	defer srv.Kill()
	var listen netip.AddrPort
	err = WaitFor(func() bool {
		for _, line := range strings.Split(srv.Log(), "\n") {
			if a, ok := strings.CutPrefix(line, "LISTEN "); ok {
				if ap, err := netip.ParseAddrPort(a); err == nil {
					listen = ap
					return true
				}
			}
		}
		return srv.Exited()
	}, 10*time.Second)
	if err != nil || !listen.IsValid() {
		return TransferResult{}, fmt.Errorf("transfer receiver in %s did not listen on %s: %w: %s", toNode, dst, ErrTransfer, srv.Log())
	}
	seed := rand.Uint64()
	out, err := tb.execEnv(context.Background(), fromNode, timeout+5*time.Second, toolEnv,
		tb.toolArgv("send", "-connect", netip.AddrPortFrom(addr, listen.Port()).String(),
			"-size", strconv.FormatInt(size, 10), "-seed", strconv.FormatUint(seed, 10),
			"-timeout", timeout.String())...)
	if err != nil {
		return TransferResult{}, fmt.Errorf("transfer %s→%s (%s): %w: %v; receiver: %s", fromNode, toNode, dst, ErrTransfer, err, srv.Log())
	}
	if err := srv.WaitTimeout(10 * time.Second); err != nil {
		return TransferResult{}, fmt.Errorf("transfer receiver: %w: %v: %s", ErrTransfer, err, srv.Log())
	}
	var res TransferResult
	found := false
	for _, line := range strings.Split(srv.Log(), "\n") {
		if strings.HasPrefix(line, resultPrefix) {
			if res, err = parseResult(line); err != nil {
				return TransferResult{}, err
			}
			found = true
		}
	}
	if !found || res.Bytes != size {
		return TransferResult{}, fmt.Errorf("transfer receiver: %w: %s", ErrTransfer, srv.Log())
	}
	if i := strings.Index(out, " time="); i >= 0 {
		res.Duration, _ = time.ParseDuration(strings.TrimSpace(out[i+len(" time="):]))
	}
	return res, nil
}

// Counters returns an interface's received and transmitted packet counts.
func (tb *Testbed) Counters(node, ifname string) (rx, tx uint64, err error) {
	out, err := tb.IP(node, "-s", "-j", "link", "show", "dev", ifname)
	if err != nil {
		return 0, 0, err
	}
	return parseLinkStats([]byte(out))
}

// Addrs returns the global-scope addresses of an interface.
func (tb *Testbed) Addrs(node, ifname string) ([]Addr, error) {
	out, err := tb.IP(node, "-j", "addr", "show", "dev", ifname)
	if err != nil {
		return nil, err
	}
	return parseAddrs([]byte(out))
}

// AddrIn returns the first global address of an interface inside prefix p.
func (tb *Testbed) AddrIn(node, ifname string, p netip.Prefix) (netip.Addr, bool) {
	addrs, err := tb.Addrs(node, ifname)
	if err != nil {
		return netip.Addr{}, false
	}
	for _, a := range addrs {
		if p.Contains(a.Prefix.Addr()) {
			return a.Prefix.Addr(), true
		}
	}
	return netip.Addr{}, false
}

// NATPackets returns the packet and byte counts of AR1's masquerade rule
// (the first packet of each connection; later ones follow conntrack).
func (tb *Testbed) NATPackets() (packets, bytes uint64, err error) {
	if err := tb.checkOpen(); err != nil {
		return 0, 0, err
	}
	out, err := tb.exec(context.Background(), NodeAR1, tb.opts.ExecTimeout, "nft", "-j", "list", "chain", "ip", NATTable, NATChain)
	if err != nil {
		return 0, 0, err
	}
	return parseNftCounter([]byte(out))
}

// Capture is a packet capture running in a namespace.
type Capture struct {
	proc *Proc
	path string
}

// Capture starts dumpcap on one interface of a node, with an optional
// capture filter (BPF syntax), writing a pcap file in the run dir. It
// returns once the capture is running.
func (tb *Testbed) Capture(node, ifname, filter string) (*Capture, error) {
	path := filepath.Join(tb.runDir, fmt.Sprintf("%s-%s-%d.pcap", node, ifname, time.Now().UnixNano()))
	argv := []string{"dumpcap", "-q", "-P", "-i", ifname, "-w", path}
	if filter != "" {
		argv = append(argv, "-f", filter)
	}
	p, err := tb.Start(node, argv, nil)
	if err != nil {
		return nil, err
	}
	err = WaitFor(func() bool {
		return strings.Contains(p.Log(), "Capturing on") || p.Exited()
	}, 10*time.Second)
	if err != nil || p.Exited() {
		_ = p.Kill()
		return nil, fmt.Errorf("testbed: capture on %s/%s did not start: %w: %s", node, ifname, ErrCommand, p.Log())
	}
	return &Capture{proc: p, path: path}, nil
}

// Stop ends the capture (letting dumpcap flush) and returns the pcap path.
func (c *Capture) Stop() (string, error) {
	// dumpcap writes each packet as it arrives; a short pause lets the
	// last ones in flight be written before it is told to stop.
	time.Sleep(200 * time.Millisecond)
	if err := c.proc.Stop(); err != nil {
		return "", err
	}
	if _, err := os.Stat(c.path); err != nil {
		return "", fmt.Errorf("testbed: capture file: %w: %s", err, c.proc.Log())
	}
	return c.path, nil
}

// Path returns the pcap file the capture writes.
func (c *Capture) Path() string { return c.path }

// LeaseIPs returns the addresses in a dnsmasq lease file of an access
// router ("ar1" or "ar3").
func (tb *Testbed) LeaseIPs(node string) ([]netip.Addr, error) {
	f, err := os.Open(tb.LeaseFile(node))
	if err != nil {
		return nil, fmt.Errorf("testbed: lease file: %w", err)
	}
	defer f.Close()
	var ips []netip.Addr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// expiry MAC IP hostname client-id
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			continue
		}
		if ip, err := netip.ParseAddr(fields[2]); err == nil {
			ips = append(ips, ip)
		}
	}
	return ips, sc.Err()
}
