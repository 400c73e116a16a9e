package mnha

import (
	"crypto/hmac"
	"crypto/sha1"
	"hash"
	"net/netip"

	"github.com/nemo-mobility/nemo/mh"
)

// addrLen is the size of each address in the authenticated data.
const addrLen = 16

// zeroChecksum stands in for the MH Checksum field (RFC 4285 section 5.1).
var zeroChecksum [2]byte

// macState computes MN-HA authenticators for one key without allocating:
// the HMAC (with its padded key states) is built once and reset per use.
// It is not safe for concurrent use.
type macState struct {
	h     hash.Hash
	addrs [2 * addrLen]byte
	sum   [sha1.Size]byte
}

func newMAC(key []byte) *macState {
	return &macState{h: hmac.New(sha1.New, key)}
}

// compute returns First(96, HMAC-SHA1(key, coa | hoa | mhb)) with the MH
// checksum taken as zero; mhb runs from the first MH byte through the
// Mobility SPI (mh.MNHAAuthenticator computes the same, allocating).
func (m *macState) compute(coa, hoa netip.Addr, mhb []byte) [mh.MNHAAuthLen]byte {
	c, a := addr16(coa), addr16(hoa)
	copy(m.addrs[:addrLen], c[:])
	copy(m.addrs[addrLen:], a[:])
	m.h.Reset()
	m.h.Write(m.addrs[:])
	if len(mhb) >= mh.OffChecksum+len(zeroChecksum) {
		m.h.Write(mhb[:mh.OffChecksum])
		m.h.Write(zeroChecksum[:])
		m.h.Write(mhb[mh.OffChecksum+len(zeroChecksum):])
	} else {
		m.h.Write(mhb)
	}
	s := m.h.Sum(m.sum[:0])
	var out [mh.MNHAAuthLen]byte
	copy(out[:], s)
	return out
}

// addr16 is the 16-byte form of a covered address: IPv4 as IPv4-mapped
// IPv6 (as mh.MNHAAuthenticator), the zero Addr as all zeros.
func addr16(a netip.Addr) [addrLen]byte {
	if !a.IsValid() {
		return [addrLen]byte{}
	}
	return a.As16()
}

// CareOf returns the care-of address an MN-HA authenticator covers for a
// Binding Update from the IPv6 source src carrying opts, as the ha core
// chooses the binding's care-of address: over UDP (RFC 5555) the IPv4
// Care-of Address option (the zero Addr when there is none), otherwise
// the first Alternate Care-of Address option, otherwise src.
func CareOf(src netip.Addr, udp bool, opts []mh.Option) netip.Addr {
	for _, o := range opts {
		switch v := o.(type) {
		case mh.IPv4CareOfAddress:
			if udp {
				return v.Addr
			}
		case mh.AlternateCareOfAddress:
			if !udp {
				return v.Addr
			}
		}
	}
	if udp {
		return netip.Addr{}
	}
	return src
}
