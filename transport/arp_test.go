//go:build linux

package transport

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
)

func TestGratuitousARPFrame(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x53, 0x01}
	got := gratuitousARP(mac, netip.MustParseAddr("198.51.100.100"))
	want := []byte{
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // destination: broadcast
		0x02, 0x00, 0x5e, 0x00, 0x53, 0x01, // source: our MAC
		0x08, 0x06, // EtherType ARP
		0x00, 0x01, 0x08, 0x00, 6, 4, // Ethernet, IPv4, lengths
		0x00, 0x01, // request
		0x02, 0x00, 0x5e, 0x00, 0x53, 0x01, 198, 51, 100, 100, // sender
		0, 0, 0, 0, 0, 0, 198, 51, 100, 100, // target: same address
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("frame\n got %x\nwant %x", got, want)
	}
}
