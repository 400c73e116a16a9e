package transport

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// ARP (RFC 826) constants for a gratuitous announcement on Ethernet.
const (
	ethPArp      = 0x0806
	arpHwEther   = 1
	arpProtoIPv4 = 0x0800
	arpRequest   = 1
	arpLen       = 28
	ethHeaderLen = 14
)

// SendGratuitousARP broadcasts a gratuitous ARP request for addr with
// ifname's hardware address (RFC 5227 section 3 "ARP Announcement": sender
// and target protocol address both addr). A home agent sends it when it
// starts answering ARP for a mobile router's IPv4 home address (RFC 5555
// 4.5, as RFC 6275 10.4.1 does with NAs for IPv6), and the mobile router
// when it returns home, so the home link's neighbours update their caches
// at once instead of after their entries time out.
func SendGratuitousARP(ifname string, addr netip.Addr) error {
	if !addr.Is4() {
		return fmt.Errorf("%w: gratuitous ARP for %v", ErrBadAddress, addr)
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return fmt.Errorf("transport: %w", err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return fmt.Errorf("%w: %s has no Ethernet address", ErrBadAddress, ifname)
	}
	frame := gratuitousARP(ifi.HardwareAddr, addr)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(arpHtons(ethPArp)))
	if err != nil {
		return fmt.Errorf("transport: packet socket: %w", err)
	}
	defer unix.Close(fd)
	sa := &unix.SockaddrLinklayer{Protocol: arpHtons(ethPArp), Ifindex: ifi.Index, Halen: 6,
		Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	if err := unix.Sendto(fd, frame, 0, sa); err != nil {
		return fmt.Errorf("transport: gratuitous ARP on %s: %w", ifname, err)
	}
	return nil
}

// gratuitousARP builds the Ethernet frame of an ARP announcement.
func gratuitousARP(mac net.HardwareAddr, addr netip.Addr) []byte {
	b := make([]byte, ethHeaderLen+arpLen)
	copy(b[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(b[6:12], mac)
	binary.BigEndian.PutUint16(b[12:14], ethPArp)
	a := b[ethHeaderLen:]
	binary.BigEndian.PutUint16(a[0:2], arpHwEther)
	binary.BigEndian.PutUint16(a[2:4], arpProtoIPv4)
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:8], arpRequest)
	ip := addr.As4()
	copy(a[8:14], mac)    // sender hardware address
	copy(a[14:18], ip[:]) // sender protocol address
	// target hardware address: zero
	copy(a[24:28], ip[:]) // target protocol address = sender's
	return b
}

func arpHtons(v uint16) uint16 { return v<<8 | v>>8 }
