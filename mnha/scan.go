package mnha

import (
	"encoding/binary"
	"errors"

	"github.com/nemo-mobility/nemo/mh"
)

// Option data layouts (after Type and Length).
//
// Mobile Node Identifier (RFC 4283 section 3), no alignment:
//
//	|  Option Type  | Option Length |  Subtype      |  Identifier...
//
// Mobility Message Replay Protection (RFC 4285 section 6), 8n+2:
//
//	|  Option Type  | Option Length |
//	|                  Timestamp (64 bits)                          |
//
// Mobility Message Authentication (RFC 4285 section 5), 4n+1, last:
//
//	|  Option Type  | Option Length |  Subtype      |
//	|                  Mobility SPI                                 |
//	|                  Authentication Data ....
const (
	mnidOffSubtype = 0
	mnidOffNAI     = 1
	lenReplay      = 8
	authOffSubtype = 0
	authOffSPI     = 1
	authOffData    = 5
	lenMNHA        = authOffData + mh.MNHAAuthLen
)

// authOpts is what a message's RFC 4285 options say. Slices alias the
// message.
type authOpts struct {
	nai     []byte // MN-ID NAI; nil when absent
	ts      uint64
	hasTS   bool
	spi     uint32
	mac     []byte // the MN-HA Authentication Data
	hasMNHA bool
	problem string // why the options are malformed; "" when they are not
}

// errStop ends a walk early.
var errStop = errors.New("stop")

// visit is the mh.WalkOptions callback.
func (o *authOpts) visit(t mh.OptionType, data []byte) error {
	if o.hasMNHA {
		// MN-HA must be last (RFC 4285 section 5.1); an MN-AAA option after
		// it would need an AAA server, which there is not.
		o.problem = "option after the MN-HA authentication option"
		return errStop
	}
	switch t {
	case mh.OptMobileNodeIdentifier:
		if len(data) <= mnidOffNAI || data[mnidOffSubtype] != mh.MNIDSubtypeNAI {
			return nil // another identifier type, not ours to judge
		}
		if o.nai != nil {
			o.problem = "two NAI options"
			return errStop
		}
		o.nai = data[mnidOffNAI:]
	case mh.OptReplayProtection:
		if len(data) != lenReplay || o.hasTS {
			o.problem = "bad or repeated replay protection option"
			return errStop
		}
		o.ts = binary.BigEndian.Uint64(data)
		o.hasTS = true
	case mh.OptAuthentication:
		if len(data) < authOffData || data[authOffSubtype] != mh.AuthSubtypeMNHA {
			// RFC 4285 section 5: MN-HA must come before MN-AAA.
			o.problem = "authentication option other than MN-HA first"
			return errStop
		}
		if len(data) != lenMNHA {
			o.problem = "MN-HA authentication option of the wrong length"
			return errStop
		}
		o.spi = binary.BigEndian.Uint32(data[authOffSPI:])
		o.mac = data[authOffData:]
		o.hasMNHA = true
	}
	return nil
}

// scan reads the RFC 4285 options of the marshalled MH b of MH type want.
// It reports false when b is malformed, is not of that type, has no MN-HA
// option or breaks the option rules (o.problem says which).
func scan(b []byte, want mh.Type, o *authOpts) bool {
	if len(b) > mh.OffType && mh.Type(b[mh.OffType]) != want {
		o.problem = "wrong MH type"
		return false
	}
	if err := mh.WalkOptions(b, o.visit); err != nil {
		if o.problem == "" {
			o.problem = "malformed mobility header"
		}
		return false
	}
	if !o.hasMNHA {
		o.problem = "no MN-HA authentication option"
		return false
	}
	return true
}

// coveredLen returns the length of the bytes the authenticator covers in
// b (through the SPI), b having passed scan.
func coveredLen(b []byte) (int, bool) {
	loc, err := mh.FindAuthOption(b, mh.AuthSubtypeMNHA)
	if err != nil || loc.DataLen != mh.MNHAAuthLen {
		return 0, false
	}
	return loc.DataOffset, true
}
