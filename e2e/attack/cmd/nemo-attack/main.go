// Command nemo-attack is the hostile-input suite's attacker (issue 5). It
// runs inside the testbed's attacker namespace:
//
//	nemo-attack run -listen 1s < script
//
// sends every line of the script (see attack.ParseLine: "ip6 <hex>" through
// a raw IPPROTO_RAW socket, header included, any source; "udp4 <addr:port>
// <hex>"; "wait <duration>"), and prints every Mobility Header packet that
// arrives meanwhile and for -listen afterwards as "rx" lines.
//
//	nemo-attack flood -template <hex> -prefix 2001:db8:a::/64 -rate 10000 -duration 10s
//
// sends the template (a Binding Update with a Home Address option) at the
// given rate with a random outer source inside the prefix for each packet,
// and prints what it achieved.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/nemo-mobility/nemo/e2e/attack"
	"github.com/nemo-mobility/nemo/transport"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: nemo-attack run|flood [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = run(os.Args[2:])
	case "flood":
		err = flood(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nemo-attack:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	listen := fs.Duration("listen", time.Second, "how long to listen after the last line")
	_ = fs.Parse(args)
	var lines []attack.Line
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if sc.Text() == "" {
			continue
		}
		l, err := attack.ParseLine(sc.Text())
		if err != nil {
			return err
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sig, err := transport.ListenSignal(ctx, transport.SignalConfig{Queue: 256})
	if err != nil {
		return err
	}
	defer sig.Close()
	snd, err := transport.OpenSender(transport.SenderConfig{})
	if err != nil {
		return err
	}
	defer snd.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for p := range sig.Packets() {
			fmt.Println(attack.Line{Kind: attack.LineRx, NextHeader: p.NextHeader, Src: p.Src, Dst: p.Dst, Data: p.Data})
		}
	}()
	sent := 0
	for _, l := range lines {
		switch l.Kind {
		case attack.LineIPv6:
			if err := snd.Send(l.Data); err != nil {
				fmt.Fprintln(os.Stderr, "send:", err)
				continue
			}
		case attack.LineUDP4:
			c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(l.To))
			if err != nil {
				return err
			}
			_, err = c.Write(l.Data)
			c.Close()
			if err != nil {
				fmt.Fprintln(os.Stderr, "udp4:", err)
				continue
			}
		case attack.LineWait:
			time.Sleep(l.Wait)
			continue
		default:
			return fmt.Errorf("cannot send a %q line", l.Kind)
		}
		sent++
	}
	fmt.Fprintf(os.Stderr, "sent %d\n", sent)
	time.Sleep(*listen)
	cancel()
	sig.Close()
	<-done
	return nil
}

func flood(args []string) error {
	fs := flag.NewFlagSet("flood", flag.ExitOnError)
	tmpl := fs.String("template", "", "the packet, hex")
	prefix := fs.String("prefix", "", "random outer sources come from this IPv6 prefix")
	rate := fs.Int("rate", 10000, "packets per second")
	dur := fs.Duration("duration", 10*time.Second, "how long")
	_ = fs.Parse(args)
	pkt, err := hex.DecodeString(*tmpl)
	if err != nil {
		return fmt.Errorf("template: %w", err)
	}
	pfx, err := netip.ParsePrefix(*prefix)
	if err != nil || !pfx.Addr().Is6() {
		return fmt.Errorf("prefix %q: not IPv6 (%v)", *prefix, err)
	}
	pfx = pfx.Masked()
	if err := attack.SetSource(pkt, pfx.Addr()); err != nil {
		return err
	}
	snd, err := transport.OpenSender(transport.SenderConfig{})
	if err != nil {
		return err
	}
	defer snd.Close()
	// Send in batches every tick: a sleep per packet is too coarse.
	const tick = 5 * time.Millisecond
	perTick := max(1, *rate*int(tick)/int(time.Second))
	rnd := make([]byte, 16*perTick)
	start := time.Now()
	sent, failed := 0, 0
	t := time.NewTicker(tick)
	defer t.Stop()
	for time.Since(start) < *dur {
		if _, err := rand.Read(rnd); err != nil {
			return err
		}
		// Catch up when a tick was late, so the average rate holds.
		due := int(time.Since(start).Seconds()*float64(*rate)) + perTick
		for i := 0; sent+failed < due && i < 4*perTick; i++ {
			src := randomIn(pfx, rnd[16*(i%perTick):16*(i%perTick)+16])
			_ = attack.SetSource(pkt, src)
			if err := snd.Send(pkt); err != nil {
				failed++
				continue
			}
			sent++
		}
		<-t.C
	}
	el := time.Since(start)
	fmt.Printf("flood sent=%d failed=%d elapsed=%v rate=%.0f/s\n", sent, failed, el.Round(time.Millisecond), float64(sent)/el.Seconds())
	return nil
}

// randomIn returns the address of p whose host bits come from r (16 bytes);
// it is never the prefix's own (all-zero host) address.
func randomIn(p netip.Prefix, r []byte) netip.Addr {
	a := p.Addr().As16()
	bits := p.Bits()
	for i := range 16 {
		keep := 0
		switch {
		case (i+1)*8 <= bits:
			keep = 8
		case i*8 < bits:
			keep = bits - i*8
		}
		mask := byte(0xff << (8 - keep))
		if keep == 0 {
			mask = 0
		}
		a[i] = a[i]&mask | r[i]&^mask
	}
	if bits < 128 {
		a[15] |= 1
	}
	return netip.AddrFrom16(a)
}
