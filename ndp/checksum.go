package ndp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// IPv6 pseudo-header for upper-layer checksums (RFC 8200 8.1, used by
// ICMPv6 per RFC 4443 2.3):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         Source Address (16)                   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                      Destination Address (16)                 |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                   Upper-Layer Packet Length                   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                      zero                     |  Next Header  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Which addresses go in it is the caller's choice and matters for Mobile
// IPv6: with a Home Address option the source is the home address, and with
// a type 2 routing header the destination is the home address (RFC 6275
// 6.1.1, 6.7, 6.8), not the addresses in the IPv6 header.

// Checksum returns the ICMPv6 checksum of msg (an ICMPv6 message from its
// Type byte) for the pseudo-header with src, dst and Next Header 58. The
// Checksum field of msg is summed as it is: zero it first to compute a
// checksum to send. src and dst must be IPv6 addresses.
func Checksum(src, dst netip.Addr, msg []byte) (uint16, error) {
	s, err := pseudoSum(src, dst, len(msg))
	if err != nil {
		return 0, err
	}
	return ^fold(sum(s, msg)), nil
}

// SetChecksum computes the checksum of msg for src and dst and writes it
// into msg's Checksum field.
func SetChecksum(src, dst netip.Addr, msg []byte) error {
	if len(msg) < icmpHeaderLen {
		return fmt.Errorf("ndp: set checksum: %d bytes: %w", len(msg), ErrTruncated)
	}
	binary.BigEndian.PutUint16(msg[icmpChecksumOffset:], 0)
	c, err := Checksum(src, dst, msg)
	if err != nil {
		return err
	}
	binary.BigEndian.PutUint16(msg[icmpChecksumOffset:], c)
	return nil
}

// VerifyChecksum checks msg's Checksum field against src and dst. It
// returns nil when the checksum is right and an error wrapping
// ErrBadChecksum when it is not.
func VerifyChecksum(src, dst netip.Addr, msg []byte) error {
	if len(msg) < icmpHeaderLen {
		return fmt.Errorf("ndp: verify checksum: %d bytes: %w", len(msg), ErrTruncated)
	}
	s, err := pseudoSum(src, dst, len(msg))
	if err != nil {
		return err
	}
	if got := fold(sum(s, msg)); got != 0xffff {
		return fmt.Errorf("ndp: verify checksum: field %#04x, sum %#04x: %w",
			binary.BigEndian.Uint16(msg[icmpChecksumOffset:]), got, ErrBadChecksum)
	}
	return nil
}

// pseudoSum is the unfolded one's-complement sum of the pseudo-header.
func pseudoSum(src, dst netip.Addr, n int) (uint64, error) {
	if !src.Is6() || !dst.Is6() {
		return 0, fmt.Errorf("ndp: checksum: addresses %v and %v must be IPv6: %w", src, dst, ErrBadValue)
	}
	if uint64(n) > 0xffffffff {
		return 0, fmt.Errorf("ndp: checksum: %d bytes: %w", n, ErrBadLength)
	}
	var ph [2*ipv6Len + 8]byte
	s16, d16 := src.As16(), dst.As16()
	copy(ph[0:], s16[:])
	copy(ph[ipv6Len:], d16[:])
	binary.BigEndian.PutUint32(ph[2*ipv6Len:], uint32(n))
	ph[len(ph)-1] = ProtoICMPv6
	return sum(0, ph[:]), nil
}

// sum adds b as big-endian 16-bit words (an odd last byte padded with zero)
// to s without folding.
func sum(s uint64, b []byte) uint64 {
	for len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	return s
}

// fold folds the carries of s into 16 bits.
func fold(s uint64) uint16 {
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}
