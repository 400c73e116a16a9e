package ndp

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
)

// Checksum vectors computed by scapy 2.5.0 (IPv6()/ICMPv6HAADRequest and
// IPv6()/ICMPv6ND_RA()/ICMPv6NDOptHAInfo, rebuilt from raw bytes), an
// independent implementation.
func TestChecksumGolden(t *testing.T) {
	for _, tc := range []struct {
		name, src, dst, msg string
		want                uint16
	}{
		{"dhaad request to home-agents anycast", "2001:db8:2::10", "2001:db8:1::fdff:ffff:ffff:fffe",
			"90 00 8404 1234 8000", 0x8404},
		{"ra with hai to all-nodes", "fe80::1", "ff02::1",
			"86 00 a5e3 40 28 0708 00000000 00000000 08 01 8000 000a 0708", 0xa5e3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := netip.MustParseAddr(tc.src), netip.MustParseAddr(tc.dst)
			msg := unhex(t, tc.msg)
			if err := VerifyChecksum(src, dst, msg); err != nil {
				t.Errorf("VerifyChecksum: %v", err)
			}
			zeroed := append([]byte(nil), msg...)
			zeroed[2], zeroed[3] = 0, 0
			if c, err := Checksum(src, dst, zeroed); err != nil || c != tc.want {
				t.Errorf("Checksum = %#04x, %v; want %#04x", c, err, tc.want)
			}
			if err := SetChecksum(src, dst, zeroed); err != nil || binary.BigEndian.Uint16(zeroed[2:]) != tc.want {
				t.Errorf("SetChecksum wrote %x, %v", zeroed[2:4], err)
			}
			// The pseudo-header matters: swapping the addresses keeps the
			// sum (addition commutes), changing one does not.
			if err := VerifyChecksum(dst, src, msg); err != nil {
				t.Errorf("swapped addresses: %v", err)
			}
			other := netip.MustParseAddr("2001:db8:ffff::1")
			if err := VerifyChecksum(other, dst, msg); !errors.Is(err, ErrBadChecksum) {
				t.Errorf("other source: err = %v, want ErrBadChecksum", err)
			}
		})
	}
}

// TestChecksumDetectsEveryBitFlip: any single flipped bit of the message
// fails verification.
func TestChecksumDetectsEveryBitFlip(t *testing.T) {
	src, dst := netip.MustParseAddr("2001:db8:1::1"), netip.MustParseAddr("2001:db8:2::2")
	msg, err := wantRA.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := SetChecksum(src, dst, msg); err != nil {
		t.Fatal(err)
	}
	for i := range len(msg) * 8 {
		msg[i/8] ^= 0x80 >> (i % 8)
		if err := VerifyChecksum(src, dst, msg); !errors.Is(err, ErrBadChecksum) {
			t.Fatalf("bit %d flipped: err = %v", i, err)
		}
		msg[i/8] ^= 0x80 >> (i % 8)
	}
	if err := VerifyChecksum(src, dst, msg); err != nil {
		t.Fatalf("restored message: %v", err)
	}
}

// TestChecksumOddLength: an odd trailing byte is padded with zero.
func TestChecksumOddLength(t *testing.T) {
	src, dst := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	odd := []byte{0x90, 0, 0, 0, 0x12, 0x34, 0x80, 0, 0xab}
	even := append(append([]byte(nil), odd...), 0)
	co, _ := Checksum(src, dst, odd)
	ce, _ := Checksum(src, dst, even)
	// The lengths differ by one in the pseudo-header, so the sums differ
	// by exactly one (in one's-complement arithmetic).
	if fold(uint64(^co)+1) != ^ce {
		t.Errorf("odd %#04x vs even %#04x: not a length-only difference", co, ce)
	}
	if err := SetChecksum(src, dst, odd); err != nil {
		t.Fatal(err)
	}
	if err := VerifyChecksum(src, dst, odd); err != nil {
		t.Error(err)
	}
}

func TestChecksumErrors(t *testing.T) {
	v6 := netip.MustParseAddr("2001:db8::1")
	v4 := netip.MustParseAddr("192.0.2.1")
	msg := []byte{0x90, 0, 0, 0, 0, 1, 0, 0}
	if _, err := Checksum(v4, v6, msg); !errors.Is(err, ErrBadValue) {
		t.Errorf("IPv4 source: %v", err)
	}
	if err := SetChecksum(v6, netip.Addr{}, msg); !errors.Is(err, ErrBadValue) {
		t.Errorf("zero destination: %v", err)
	}
	if err := VerifyChecksum(v4, v6, msg); !errors.Is(err, ErrBadValue) {
		t.Errorf("verify IPv4 source: %v", err)
	}
	if err := SetChecksum(v6, v6, msg[:3]); !errors.Is(err, ErrTruncated) {
		t.Errorf("3-byte message: %v", err)
	}
	if err := VerifyChecksum(v6, v6, nil); !errors.Is(err, ErrTruncated) {
		t.Errorf("empty message: %v", err)
	}
}

func BenchmarkChecksum(b *testing.B) {
	src, dst := netip.MustParseAddr("fe80::1"), netip.MustParseAddr("ff02::1")
	msg, _ := wantRA.MarshalBinary()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		_ = SetChecksum(src, dst, msg)
	}
}
