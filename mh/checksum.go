package mh

import (
	"encoding/binary"
	"net/netip"
)

// Checksum returns the MH checksum of mh sent from src to dst (RFC 6275
// 6.1.1): the 16-bit one's complement of the one's complement sum of the
// IPv6 pseudo-header (src, dst, upper-layer length = len(mh), next header
// 135; RFC 8200 8.1) and mh, with mh's Checksum field taken as zero
// whatever it holds. With a Home Address option, src must be the home
// address; with a type 2 routing header, dst must be the home address in it
// (BuildPacket and ParseSignal do this). Addresses are used in their 16-byte
// form (an IPv4 address as IPv4-mapped IPv6).
func Checksum(src, dst netip.Addr, mh []byte) uint16 {
	s := pseudoSum(src, dst, len(mh))
	if len(mh) > OffChecksum+1 {
		s = sum16(mh[:OffChecksum], s)
		s = sum16(mh[OffChecksum+2:], s) // 4 is even: word alignment kept
	} else {
		s = sum16(mh, s)
	}
	return ^fold(s)
}

// SetChecksum computes the checksum of mh (see Checksum) and writes it into
// mh's Checksum field. It does nothing if mh is too short to have one.
func SetChecksum(src, dst netip.Addr, mh []byte) {
	if len(mh) < OffChecksum+2 {
		return
	}
	binary.BigEndian.PutUint16(mh[OffChecksum:], Checksum(src, dst, mh))
}

// VerifyChecksum reports, as an error wrapping ErrBadChecksum, whether the
// checksum stored in mh is wrong for a packet from src to dst (same address
// rules as Checksum). A sum that verifies with either representation of
// zero (0x0000 or 0xFFFF in the field) is accepted.
func VerifyChecksum(src, dst netip.Addr, mh []byte) error {
	if len(mh) < OffChecksum+2 {
		return errorf(ErrTruncated, "MH of %d bytes has no checksum field", len(mh))
	}
	if s := fold(sum16(mh, pseudoSum(src, dst, len(mh)))); s != 0xFFFF {
		return errorf(ErrBadChecksum, "checksum 0x%04x from %v to %v, want 0x%04x",
			binary.BigEndian.Uint16(mh[OffChecksum:]), src, dst, Checksum(src, dst, mh))
	}
	return nil
}

// pseudoSum is the unfolded sum of the IPv6 pseudo-header for an MH of n
// bytes (RFC 8200 8.1).
func pseudoSum(src, dst netip.Addr, n int) uint64 {
	s, d := src.As16(), dst.As16()
	acc := sum16(s[:], 0)
	acc = sum16(d[:], acc)
	return acc + uint64(uint32(n)>>16) + uint64(uint32(n)&0xFFFF) + ProtoMH
}

// sum16 adds b to acc as big-endian 16-bit words (an odd last byte padded
// with zero).
func sum16(b []byte, acc uint64) uint64 {
	for len(b) >= 8 {
		acc += uint64(binary.BigEndian.Uint16(b)) + uint64(binary.BigEndian.Uint16(b[2:])) +
			uint64(binary.BigEndian.Uint16(b[4:])) + uint64(binary.BigEndian.Uint16(b[6:]))
		b = b[8:]
	}
	for len(b) >= 2 {
		acc += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	return acc
}

// fold reduces a one's complement sum to 16 bits.
func fold(acc uint64) uint16 {
	for acc > 0xFFFF {
		acc = acc>>16 + acc&0xFFFF
	}
	return uint16(acc)
}
