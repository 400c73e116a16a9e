package mnha

import (
	"bytes"
	"net/netip"
	"slices"
	"sync"

	"github.com/nemo-mobility/nemo/mh"
)

// MinKeyLen is the MN-HA key length of RFC 4285 section 5.1 (16 octets).
// Longer keys are accepted (HMAC takes any length).
const MinKeyLen = 16

// MaxReservedSPI is the top of the Mobility SPI range 0-255 that RFC 4285
// section 5.1 reserves; an MN-HA association uses a larger SPI.
const MaxReservedSPI = 255

// maxNAILen is the longest NAI an MN-ID option can carry: the option
// length byte covers the subtype and the NAI (RFC 4283 section 3).
const maxNAILen = 255 - 1

// SA is a shared-key mobility security association between a mobile
// router and its home agent (RFC 4285 section 5.1): HMAC-SHA1 with Key,
// selected by SPI, for the identity NAI, which owns HomeAddress.
type SA struct {
	SPI         uint32
	Key         []byte
	NAI         string
	HomeAddress netip.Addr
}

// Validate reports, wrapping ErrBadSA, why sa cannot be used.
func (sa SA) Validate() error {
	switch {
	case sa.SPI <= MaxReservedSPI:
		return errorf(ErrBadSA, "SPI %d is in the reserved range 0-%d", sa.SPI, MaxReservedSPI)
	case len(sa.Key) < MinKeyLen:
		return errorf(ErrBadSA, "key of %d bytes for %q, need at least %d", len(sa.Key), sa.NAI, MinKeyLen)
	case sa.NAI == "" || len(sa.NAI) > maxNAILen:
		return errorf(ErrBadSA, "NAI of %d bytes, need 1-%d", len(sa.NAI), maxNAILen)
	case !sa.HomeAddress.Is6() || sa.HomeAddress.Is4In6() || !sa.HomeAddress.IsGlobalUnicast():
		return errorf(ErrBadSA, "home address %v of %q is not a global unicast IPv6 address", sa.HomeAddress, sa.NAI)
	}
	return nil
}

// clone returns sa with its own copy of Key.
func (sa SA) clone() SA {
	sa.Key = bytes.Clone(sa.Key)
	return sa
}

// entry is one association with its precomputed state and the replay
// state of its identity.
type entry struct {
	sa  SA
	mac *macState
	// nai is the NAI as MN-ID option data would carry it.
	nai []byte
	// ackMNID is the MN-ID option alone, shared by every AuthResult (no
	// spare capacity, so an append never writes into it).
	ackMNID []mh.Option
	// last is the last accepted timestamp, valid when haveLast.
	last     uint64
	haveLast bool
}

// Store holds the home agent's security associations, indexed by NAI and
// by SPI, with the replay state of each identity. It is safe for
// concurrent use.
type Store struct {
	mu    sync.Mutex
	byNAI map[string]*entry
	bySPI map[uint32]*entry
	byHoA map[netip.Addr]*entry
}

// NewStore returns a Store holding sas (see Add).
func NewStore(sas ...SA) (*Store, error) {
	s := &Store{byNAI: make(map[string]*entry, len(sas)), bySPI: make(map[uint32]*entry, len(sas)), byHoA: make(map[netip.Addr]*entry, len(sas))}
	for _, sa := range sas {
		if err := s.Add(sa); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Add adds an association (its key copied). An invalid one is ErrBadSA; a
// second one for the same NAI or SPI, or for a home address another NAI
// owns, is ErrDuplicate.
func (s *Store) Add(sa SA) error {
	if err := sa.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byNAI[sa.NAI]; ok {
		return errorf(ErrDuplicate, "NAI %q", sa.NAI)
	}
	if _, ok := s.bySPI[sa.SPI]; ok {
		return errorf(ErrDuplicate, "SPI %d", sa.SPI)
	}
	if e, ok := s.byHoA[sa.HomeAddress]; ok {
		return errorf(ErrDuplicate, "home address %v of %q already belongs to %q", sa.HomeAddress, sa.NAI, e.sa.NAI)
	}
	sa = sa.clone()
	nai := []byte(sa.NAI)
	e := &entry{
		sa:      sa,
		mac:     newMAC(sa.Key),
		nai:     nai,
		ackMNID: []mh.Option{mh.MobileNodeIdentifier{Subtype: mh.MNIDSubtypeNAI, Identifier: nai}},
	}
	s.byNAI[sa.NAI] = e
	s.bySPI[sa.SPI] = e
	s.byHoA[sa.HomeAddress] = e
	return nil
}

// Remove deletes the association of nai and its replay state, reporting
// whether there was one.
func (s *Store) Remove(nai string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byNAI[nai]
	if ok {
		delete(s.byNAI, nai)
		delete(s.bySPI, e.sa.SPI)
		delete(s.byHoA, e.sa.HomeAddress)
	}
	return ok
}

// ByNAI returns a copy of the association of nai.
func (s *Store) ByNAI(nai string) (SA, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.byNAI[nai]; ok {
		return e.sa.clone(), true
	}
	return SA{}, false
}

// BySPI returns a copy of the association with the given SPI.
func (s *Store) BySPI(spi uint32) (SA, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.bySPI[spi]; ok {
		return e.sa.clone(), true
	}
	return SA{}, false
}

// Len returns the number of associations.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byNAI)
}

// NAIs returns the identities held, sorted.
func (s *Store) NAIs() []string {
	s.mu.Lock()
	out := make([]string, 0, len(s.byNAI))
	for n := range s.byNAI {
		out = append(out, n)
	}
	s.mu.Unlock()
	slices.Sort(out)
	return out
}
