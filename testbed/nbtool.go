package testbed

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// ToolEnv is the environment variable that turns any binary linking this
// package into nbtool: with ToolEnv=1, the package's init runs ToolMain on
// the command-line arguments and exits. Ping and TCPTransfer use it to run
// the helper inside the namespaces without a separate build.
const ToolEnv = "NBTOOL_EXEC"

func init() {
	if os.Getenv(ToolEnv) == "1" {
		os.Exit(ToolMain(os.Args[1:], os.Stdout, os.Stderr))
	}
}

// ToolMain is nbtool: the traffic helper run inside the namespaces.
//
//	nbtool serve -listen ADDR:PORT [-timeout D]   receive and verify one transfer
//	nbtool send -connect ADDR:PORT -size N [-seed S] [-timeout D]
//	nbtool ping [-c N] [-i D] [-W D] [-I SRC] DST
//
// serve prints "LISTEN addr:port" once it listens and, after one transfer,
// the result line "OK bytes=N sha256=HEX peer=ADDR:PORT" (or "FAIL why").
// ping sends ICMP echo requests at a fixed rate and prints an iputils-style
// summary plus the longest run of lost replies. It returns the exit status:
// 0 success, 1 failed check or no reply, 2 usage or system error.
func ToolMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: nbtool serve|send|ping ...")
		return 2
	}
	switch args[0] {
	case "serve":
		return toolServe(args[1:], stdout, stderr)
	case "send":
		return toolSend(args[1:], stdout, stderr)
	case "ping":
		return toolPing(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "nbtool: unknown command %q\n", args[0])
	return 2
}

// payload is the deterministic content of a transfer.
func payload(seed uint64) *rand.ChaCha8 {
	var key [32]byte
	binary.BigEndian.PutUint64(key[:], seed)
	copy(key[8:], "nemo testbed payload....")
	return rand.NewChaCha8(key)
}

const chunk = 32 << 10

func toolServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", ":0", "address to listen on")
	timeout := fs.Duration("timeout", 60*time.Second, "time limit for the whole transfer")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(stderr, "nbtool serve:", err)
		return 2
	}
	defer ln.Close()
	fmt.Fprintf(stdout, "LISTEN %s\n", ln.Addr())
	deadline := time.Now().Add(*timeout)
	_ = ln.(*net.TCPListener).SetDeadline(deadline)
	c, err := ln.Accept()
	if err != nil {
		fmt.Fprintln(stdout, "FAIL accept:", err)
		return 1
	}
	defer c.Close()
	_ = c.SetDeadline(deadline)
	res, err := receive(c)
	if err != nil {
		fmt.Fprintln(stdout, "FAIL", err)
		fmt.Fprintln(c, "FAIL", err)
		return 1
	}
	line := formatResult(res)
	fmt.Fprintln(stdout, line)
	fmt.Fprintln(c, line)
	return 0
}

// receive reads one transfer from c and checks every byte against the
// stream the header announces.
func receive(c net.Conn) (TransferResult, error) {
	var hb [hdrLen]byte
	if _, err := io.ReadFull(c, hb[:]); err != nil {
		return TransferResult{}, fmt.Errorf("header: %w", err)
	}
	h, err := parseHeader(hb[:])
	if err != nil {
		return TransferResult{}, err
	}
	want := payload(h.Seed)
	sum := sha256.New()
	got := make([]byte, chunk)
	exp := make([]byte, chunk)
	var n int64
	for n < h.Size {
		k := int(min(int64(chunk), h.Size-n))
		m, err := io.ReadFull(c, got[:k])
		_, _ = want.Read(exp[:m])
		if i := mismatch(got[:m], exp[:m]); i >= 0 {
			return TransferResult{}, fmt.Errorf("%w: content differs at byte %d", ErrTransfer, n+int64(i))
		}
		sum.Write(got[:m])
		n += int64(m)
		if err != nil {
			return TransferResult{}, fmt.Errorf("%w: %d of %d bytes: %v", ErrTransfer, n, h.Size, err)
		}
	}
	var extra [1]byte
	if m, _ := c.Read(extra[:]); m != 0 {
		return TransferResult{}, fmt.Errorf("%w: more than %d bytes", ErrTransfer, h.Size)
	}
	peer, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	return TransferResult{Bytes: n, SHA256: hex.EncodeToString(sum.Sum(nil)), Peer: peer}, nil
}

func mismatch(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return len(a)
}

func toolSend(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	connect := fs.String("connect", "", "receiver address:port")
	size := fs.Int64("size", 1<<20, "bytes to send")
	seed := fs.Uint64("seed", 1, "content seed")
	timeout := fs.Duration("timeout", 60*time.Second, "time limit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *size < 0 || *size > maxTransfer {
		fmt.Fprintln(stderr, "nbtool send: bad -size")
		return 2
	}
	start := time.Now()
	c, err := net.DialTimeout("tcp", *connect, *timeout)
	if err != nil {
		fmt.Fprintln(stdout, "FAIL dial:", err)
		return 1
	}
	defer c.Close()
	_ = c.SetDeadline(start.Add(*timeout))
	sum, err := send(c, transferHeader{Size: *size, Seed: *seed})
	if err != nil {
		fmt.Fprintln(stdout, "FAIL send:", err)
		return 1
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(stdout, "FAIL no result:", err)
		return 1
	}
	res, err := parseResult(line)
	if err != nil {
		fmt.Fprintf(stdout, "FAIL receiver said %q\n", line)
		return 1
	}
	if res.SHA256 != sum || res.Bytes != *size {
		fmt.Fprintf(stdout, "FAIL receiver got %d bytes sha256=%s, sent %d sha256=%s\n", res.Bytes, res.SHA256, *size, sum)
		return 1
	}
	res.Duration = time.Since(start)
	fmt.Fprintf(stdout, "%s time=%s\n", formatResult(res), res.Duration)
	return 0
}

func send(c net.Conn, h transferHeader) (string, error) {
	if _, err := c.Write(h.appendBinary(nil)); err != nil {
		return "", err
	}
	src := payload(h.Seed)
	sum := sha256.New()
	buf := make([]byte, chunk)
	for left := h.Size; left > 0; {
		k := int(min(int64(chunk), left))
		_, _ = src.Read(buf[:k])
		sum.Write(buf[:k])
		if _, err := c.Write(buf[:k]); err != nil {
			return "", err
		}
		left -= int64(k)
	}
	if tc, ok := c.(*net.TCPConn); ok {
		if err := tc.CloseWrite(); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}

func toolPing(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ping", flag.ContinueOnError)
	fs.SetOutput(stderr)
	count := fs.Int("c", 5, "echo requests to send")
	interval := fs.Duration("i", time.Second, "interval between requests")
	wait := fs.Duration("W", time.Second, "how long to wait for replies after the last request")
	srcFlag := fs.String("I", "", "source address")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	dst, err := netip.ParseAddr(fs.Arg(0))
	if err != nil || fs.NArg() != 1 || *count < 1 || *count > 0xffff || *interval <= 0 {
		fmt.Fprintln(stderr, "usage: nbtool ping [-c N] [-i D] [-W D] [-I SRC] DST")
		return 2
	}
	r, err := ping(dst, *srcFlag, *count, *interval, *wait, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "nbtool ping:", err)
		return 2
	}
	fmt.Fprintf(stdout, "--- %s ping statistics ---\n", dst)
	fmt.Fprint(stdout, formatPingSummary(r))
	if r.Received == 0 {
		return 1
	}
	return 0
}

func ping(dst netip.Addr, src string, count int, interval, wait time.Duration, out io.Writer) (PingResult, error) {
	network, laddr, proto := "ip4:icmp", "0.0.0.0", 1
	var reqType, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	if dst.Is6() && !dst.Is4In6() {
		network, laddr, proto = "ip6:ipv6-icmp", "::", 58
		reqType, replyType = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	}
	dst = dst.Unmap()
	if src != "" {
		laddr = src
	}
	conn, err := icmp.ListenPacket(network, laddr)
	if err != nil {
		return PingResult{}, err
	}
	defer conn.Close()
	if p := conn.IPv6PacketConn(); p != nil {
		var f ipv6.ICMPFilter
		f.SetAll(true)
		f.Accept(ipv6.ICMPTypeEchoReply)
		_ = p.SetICMPFilter(&f)
	}
	id := os.Getpid() & 0xffff
	start := time.Now()
	var (
		mu   sync.Mutex
		rtts = make(map[int]time.Duration)
	)
	allIn := make(chan struct{})
	go func() {
		buf := make([]byte, 1500)
		for {
			n, peer, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			m, err := icmp.ParseMessage(proto, buf[:n])
			if err != nil || m.Type != replyType {
				continue
			}
			echo, ok := m.Body.(*icmp.Echo)
			if !ok || echo.ID != id || len(echo.Data) < 8 {
				continue
			}
			if pa, ok := peer.(*net.IPAddr); !ok || !pa.IP.Equal(net.IP(dst.AsSlice())) {
				continue
			}
			sent := time.Duration(binary.BigEndian.Uint64(echo.Data))
			rtt := time.Since(start) - sent
			mu.Lock()
			if _, dup := rtts[echo.Seq]; !dup && echo.Seq < count {
				rtts[echo.Seq] = rtt
				fmt.Fprintf(out, "reply from %s: seq=%d time=%s ms\n", dst, echo.Seq, fmtMS(rtt))
				if len(rtts) == count {
					close(allIn)
				}
			}
			mu.Unlock()
		}
	}()
	fmt.Fprintf(out, "PING %s: %d requests every %v\n", dst, count, interval)
	to := &net.IPAddr{IP: net.IP(dst.AsSlice()), Zone: dst.Zone()}
	data := make([]byte, 56)
	for seq := range count {
		time.Sleep(time.Until(start.Add(time.Duration(seq) * interval)))
		binary.BigEndian.PutUint64(data, uint64(time.Since(start)))
		msg := icmp.Message{Type: reqType, Body: &icmp.Echo{ID: id, Seq: seq, Data: data}}
		b, err := msg.Marshal(nil) // the kernel fills in the ICMPv6 checksum
		if err != nil {
			return PingResult{}, err
		}
		if _, err := conn.WriteTo(b, to); err != nil {
			fmt.Fprintf(out, "send seq=%d: %v\n", seq, err)
		}
	}
	select {
	case <-allIn:
	case <-time.After(wait):
	}
	_ = conn.Close()
	mu.Lock()
	defer mu.Unlock()
	r := PingResult{Sent: count, Received: len(rtts)}
	r.Loss = math.Round(float64(count-len(rtts))*100000/float64(count)) / 1000
	run := 0
	var sum time.Duration
	for seq := range count {
		rtt, ok := rtts[seq]
		if !ok {
			run++
			r.LongestLossRun = max(r.LongestLossRun, run)
			continue
		}
		run = 0
		sum += rtt
		if r.RTTMin == 0 || rtt < r.RTTMin {
			r.RTTMin = rtt
		}
		r.RTTMax = max(r.RTTMax, rtt)
	}
	if r.Received > 0 {
		r.RTTAvg = sum / time.Duration(r.Received)
	}
	// Round to what the summary can carry, so that parsing it gives r back.
	for _, d := range []*time.Duration{&r.RTTMin, &r.RTTAvg, &r.RTTMax} {
		*d = d.Round(time.Microsecond)
	}
	return r, nil
}
