package mh

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"net/netip"
)

// MNHAAuthLen is the length of an MN-HA authenticator: HMAC-SHA1 truncated
// to 96 bits (RFC 4285 5.1).
const MNHAAuthLen = 12

// AuthLocation says where an Authentication option (RFC 4285 5) sits in a
// marshalled MH, so both ends can sign and verify in place.
type AuthLocation struct {
	// Offset is the MH offset of the option's Type byte.
	Offset int
	// DataOffset is the MH offset of the Authentication Data, which is
	// also the end of the bytes the authenticator covers (through the
	// Mobility SPI).
	DataOffset int
	// DataLen is the length of the Authentication Data.
	DataLen int
	// Subtype and SPI are the option's fields.
	Subtype uint8
	SPI     uint32
}

// FindAuthOption locates the Authentication option of the given subtype
// (AuthSubtypeMNHA, AuthSubtypeMNAAA) in the marshalled MH mh. It checks the
// MH common header and option structure as WalkOptions does.
func FindAuthOption(mh []byte, subtype uint8) (AuthLocation, error) {
	t, err := header(mh)
	if err != nil {
		return AuthLocation{}, err
	}
	start := bodyEnd[t]
	opts := mh[start:]
	for i := 0; i < len(opts); {
		ot, data, next, err := nextOption(opts, i)
		if err != nil {
			return AuthLocation{}, errorAt(err, start+i)
		}
		if ot == OptAuthentication {
			if len(data) < minLenAuth {
				return AuthLocation{}, errorAt(errorf(ErrBadOption, "authentication option with length %d", len(data)), start+i)
			}
			if data[authOffSubtype] == subtype {
				return AuthLocation{
					Offset:     start + i,
					DataOffset: start + i + optHeaderLen + authOffData,
					DataLen:    len(data) - authOffData,
					Subtype:    subtype,
					SPI:        binary.BigEndian.Uint32(data[authOffSPI:]),
				}, nil
			}
		}
		i = next
	}
	return AuthLocation{}, errorf(ErrNoAuthOption, "subtype %d", subtype)
}

// MNHAAuthenticator computes the MN-HA authenticator of RFC 4285 5.1:
//
//	First(96, HMAC_SHA1(key, care-of address | home address | MH Data))
//
// where MH Data is the Mobility Header from its first byte up to and
// including the Mobility SPI of the authentication option, with the MH
// Checksum field taken as zero (mh's own bytes are not changed). mh must be
// exactly those bytes: mh[:loc.DataOffset] for the AuthLocation that
// FindAuthOption returns, with Header Len already final. The addresses are
// used as 16 bytes; an IPv4 care-of address (DSMIPv6) is used in its
// IPv4-mapped IPv6 form (::ffff:a.b.c.d), which RFC 4285 does not specify
// (it predates RFC 5555) and UMIP-DSMIP also uses for IPv4 care-of
// addresses in its binding cache.
func MNHAAuthenticator(key []byte, coa, hoa netip.Addr, mh []byte) [MNHAAuthLen]byte {
	h := hmac.New(sha1.New, key)
	c, a := coa.As16(), hoa.As16()
	h.Write(c[:])
	h.Write(a[:])
	if len(mh) >= OffChecksum+2 {
		h.Write(mh[:OffChecksum])
		h.Write([]byte{0, 0})
		h.Write(mh[OffChecksum+2:])
	} else {
		h.Write(mh)
	}
	var out [MNHAAuthLen]byte
	copy(out[:], h.Sum(nil))
	return out
}

// SignMNHA fills in the MN-HA Authentication option of the marshalled MH mh
// (whose Authentication Data must be MNHAAuthLen bytes). Compute the MH
// checksum afterwards.
func SignMNHA(key []byte, coa, hoa netip.Addr, mh []byte) error {
	loc, err := mnhaLocation(mh)
	if err != nil {
		return err
	}
	a := MNHAAuthenticator(key, coa, hoa, mh[:loc.DataOffset])
	copy(mh[loc.DataOffset:], a[:])
	return nil
}

// VerifyMNHA checks the MN-HA authenticator of the MH mh in constant time;
// a mismatch is ErrAuthFailed (RFC 4285 5.1.1: the home agent answers 146).
func VerifyMNHA(key []byte, coa, hoa netip.Addr, mh []byte) error {
	loc, err := mnhaLocation(mh)
	if err != nil {
		return err
	}
	a := MNHAAuthenticator(key, coa, hoa, mh[:loc.DataOffset])
	if !hmac.Equal(a[:], mh[loc.DataOffset:loc.DataOffset+loc.DataLen]) {
		return errorf(ErrAuthFailed, "MN-HA SPI %d", loc.SPI)
	}
	return nil
}

func mnhaLocation(mh []byte) (AuthLocation, error) {
	loc, err := FindAuthOption(mh, AuthSubtypeMNHA)
	if err != nil {
		return loc, err
	}
	if loc.DataLen != MNHAAuthLen {
		return loc, errorf(ErrBadOption, "MN-HA authentication data of %d bytes, want %d", loc.DataLen, MNHAAuthLen)
	}
	return loc, nil
}
