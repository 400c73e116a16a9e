package transport

import (
	"fmt"
	"net"
	"net/netip"
	"time"
)

// SignalConfig configures [ListenSignal].
type SignalConfig struct {
	// Device, if set, binds the receiving sockets to that interface
	// (SO_BINDTODEVICE); otherwise they receive on every interface.
	Device string
	// Queue is the capacity of the Packets channel (default 16).
	Queue int
}

// SenderConfig configures [OpenSender].
type SenderConfig struct {
	// Device, if set, binds the socket to that interface
	// (SO_BINDTODEVICE): packets leave through it whatever the routing
	// table says, e.g. to send a Binding Update out of one uplink.
	Device string
}

// ICMPv6Config configures [ListenICMPv6].
type ICMPv6Config struct {
	// Device, if set, binds the socket to that interface.
	Device string
	// Types are the ICMPv6 types to receive (an ICMP6_FILTER lets only
	// these through). Empty means every type.
	Types []uint8
	// Groups are multicast groups to join on Device (required with
	// groups). The kernel joins ff02::1 on every interface by itself.
	Groups []netip.Addr
	// Queue is the capacity of the Packets channel (default 16).
	Queue int
}

// NAOptions are the choices of an unsolicited Neighbor Advertisement.
type NAOptions struct {
	// Router sets the R flag: RFC 3963 (and RFC 6275 10.4.1) proxy
	// advertisements for a mobile router's home address set it.
	Router bool
	// Override sets the O flag, so that neighbours replace the cached
	// link-layer address (what a proxying home agent and a mobile router
	// returning home want).
	Override bool
	// LinkAddr is the Target Link-Layer Address; nil means the
	// interface's own hardware address.
	LinkAddr net.HardwareAddr
	// Src is the IPv6 source; the zero value means the interface's
	// link-local address.
	Src netip.Addr
	// Dst is the IPv6 destination; the zero value means ff02::1.
	Dst netip.Addr
	// Solicited sets the S flag: an answer to a solicitation, sent to
	// the solicitor (never to a multicast address, RFC 4861 7.1.2).
	Solicited bool
}

// DefaultRetransTimer is the RetransTimer of RFC 4861 10, the time DAD
// waits for an answer when the caller gives none.
const DefaultRetransTimer = time.Second

// DuplicateError is the error DAD returns when the address is in use. It
// matches ErrDuplicateAddress with errors.Is.
type DuplicateError struct {
	// Addr is the address that was probed.
	Addr netip.Addr
	// From is the source of the message that revealed the duplicate (::
	// for another node's DAD probe).
	From netip.Addr
	// Probe is true if the answer was another node's DAD solicitation
	// rather than an advertisement.
	Probe bool
	// LinkAddr is the Target Link-Layer Address of the advertisement, if
	// it had one.
	LinkAddr net.HardwareAddr
}

// Error describes the duplicate.
func (e *DuplicateError) Error() string {
	how := "advertised by " + e.From.String()
	if e.Probe {
		how = "probed by another node"
	}
	if e.LinkAddr != nil {
		how += " (" + e.LinkAddr.String() + ")"
	}
	return fmt.Sprintf("transport: duplicate address %s: %s", e.Addr, how)
}

// Is makes errors.Is(err, ErrDuplicateAddress) true.
func (e *DuplicateError) Is(target error) bool { return target == ErrDuplicateAddress }

// DSMIPv6Port is the UDP port of DSMIPv6 signalling and encapsulated data
// (RFC 5555 4.1).
const DSMIPv6Port = 4191

// UDP4Config configures [ListenUDP4].
type UDP4Config struct {
	// Local is the address and port to bind: 0.0.0.0:4191 for a home
	// agent; the zero value (any address, ephemeral port) or a chosen
	// care-of address for a mobile router.
	Local netip.AddrPort
	// Device, if set, binds the socket to that interface
	// (SO_BINDTODEVICE), e.g. the uplink whose IPv4 care-of address is
	// registered.
	Device string
	// Queue is the capacity of the Packets channel (default 16).
	Queue int
}
