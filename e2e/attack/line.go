package attack

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Kinds of Line: what nemo-attack reads (LineIPv6, LineUDP4, LineWait)
// and what it prints (LineRx).
const (
	LineIPv6 = "ip6"  // ip6 <hex>: a whole IPv6 packet for IPPROTO_RAW
	LineUDP4 = "udp4" // udp4 <addr:port> <hex>: a UDP/IPv4 payload
	LineWait = "wait" // wait <duration>
	LineRx   = "rx"   // rx <next header> <src> <dst> <hex>: received signalling
)

// Line is one line of nemo-attack's script or output.
type Line struct {
	// Kind is LineIPv6, LineUDP4, LineWait or LineRx.
	Kind string
	// To is the UDP destination of a LineUDP4.
	To netip.AddrPort
	// NextHeader, Src and Dst describe a LineRx (see transport.Received).
	NextHeader uint8
	Src, Dst   netip.Addr
	// Data is the packet or payload (not for LineWait).
	Data []byte
	// Wait is a LineWait's pause.
	Wait time.Duration
}

// String formats l as ParseLine reads it.
func (l Line) String() string {
	switch l.Kind {
	case LineIPv6:
		return LineIPv6 + " " + hex.EncodeToString(l.Data)
	case LineUDP4:
		return fmt.Sprintf("%s %v %x", LineUDP4, l.To, l.Data)
	case LineWait:
		return LineWait + " " + l.Wait.String()
	case LineRx:
		return fmt.Sprintf("%s %d %v %v %x", LineRx, l.NextHeader, l.Src, l.Dst, l.Data)
	}
	return ""
}

// Equal reports whether l and o are the same line.
func (l Line) Equal(o Line) bool {
	return l.Kind == o.Kind && l.To == o.To && l.NextHeader == o.NextHeader && l.Src == o.Src &&
		l.Dst == o.Dst && bytes.Equal(l.Data, o.Data) && l.Wait == o.Wait
}

// ParseLine parses one line (see the Line kinds). It never returns a
// half-filled Line: on error the Line is zero.
func ParseLine(s string) (Line, error) {
	f := strings.Fields(s)
	bad := func(format string, args ...any) (Line, error) {
		return Line{}, fmt.Errorf("%w: %s: %q", ErrLine, fmt.Sprintf(format, args...), s)
	}
	if len(f) == 0 {
		return bad("empty")
	}
	var l Line
	want := map[string]int{LineIPv6: 2, LineUDP4: 3, LineWait: 2, LineRx: 5}[f[0]]
	if want == 0 {
		return bad("unknown kind %q", f[0])
	}
	if len(f) != want {
		return bad("%d fields, want %d", len(f), want)
	}
	l.Kind = f[0]
	data := func(h string) error {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) == 0 {
			return fmt.Errorf("hex: %v", err)
		}
		l.Data = b
		return nil
	}
	var err error
	switch l.Kind {
	case LineIPv6:
		err = data(f[1])
	case LineUDP4:
		if l.To, err = netip.ParseAddrPort(f[1]); err == nil && (!l.To.Addr().Is4() || l.To.Port() == 0) {
			err = fmt.Errorf("destination %v is not IPv4:port", l.To)
		}
		if err == nil {
			err = data(f[2])
		}
	case LineWait:
		if l.Wait, err = time.ParseDuration(f[1]); err == nil && l.Wait < 0 {
			err = fmt.Errorf("negative wait")
		}
	case LineRx:
		var nh uint64
		if nh, err = strconv.ParseUint(f[1], 10, 8); err != nil {
			break
		}
		l.NextHeader = uint8(nh)
		if l.Src, err = netip.ParseAddr(f[2]); err != nil {
			break
		}
		if l.Dst, err = netip.ParseAddr(f[3]); err != nil {
			break
		}
		if !l.Src.Is6() || !l.Dst.Is6() || l.Src.Zone() != "" || l.Dst.Zone() != "" {
			err = fmt.Errorf("addresses %v %v are not zoneless IPv6", l.Src, l.Dst)
			break
		}
		err = data(f[4])
	}
	if err != nil {
		return bad("%v", err)
	}
	return l, nil
}
