package mnha

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"io"
	"net/netip"
	"sync"
	"time"

	"github.com/nemo-mobility/nemo/mh"
	"github.com/nemo-mobility/nemo/mrouter"
)

// RandomBits is how many low-order bits of each timestamp's fraction the
// Signer takes from its random source instead of the clock (RFC 4285
// section 6: bits a time source cannot supply SHOULD be random). 16 bits
// are about 15 µs, finer than any clock a router keeps for this.
const RandomBits = 16

const randomMask = 1<<RandomBits - 1

// DefaultHistory is how many sent Binding Updates a Signer remembers to
// match Binding Acknowledgements against.
const DefaultHistory = 16

// SignerConfig configures a Signer.
type SignerConfig struct {
	// SA is the mobile router's association with its home agent(s); its
	// HomeAddress is the home address every Binding Update covers.
	SA SA
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Rand supplies the timestamps' random low bits; nil means
	// crypto/rand.Reader.
	Rand io.Reader
	// History is how many sent Binding Updates to remember; 0 means
	// DefaultHistory.
	History int
}

// sent is one Binding Update signed, for matching its acknowledgement.
type sent struct {
	to       netip.Addr // the home agent
	ts       uint64     // timestamp sent
	local    uint64     // the local clock then, without the offset
	coa, hoa netip.Addr // the addresses covered
	ok       bool
}

// Signer is the mobile router's side of RFC 4285: it signs Binding
// Updates (MN-ID, timestamp, MN-HA authenticator) and verifies Binding
// Acknowledgements, implementing mrouter.Authenticator. On an authentic
// 144 MIPV6-ID-MISMATCH it learns the home agent's clock so that the next
// Binding Update's timestamp falls within its window (RFC 4285 section 6).
// It is safe for concurrent use.
type Signer struct {
	e     *entry // the association, as the Store keeps it
	clock func() time.Time
	rand  io.Reader

	mu       sync.Mutex
	offset   int64  // added to the local clock, NTP units
	last     uint64 // last timestamp sent, valid when haveLast
	haveLast bool
	hist     []sent
	next     int
	rbuf     [2]byte
}

var _ mrouter.Authenticator = (*Signer)(nil)

// NewSigner returns a Signer for cfg.
func NewSigner(cfg SignerConfig) (*Signer, error) {
	if err := cfg.SA.Validate(); err != nil {
		return nil, err
	}
	if cfg.History < 0 {
		return nil, errorf(ErrBadConfig, "history %d", cfg.History)
	}
	if cfg.History == 0 {
		cfg.History = DefaultHistory
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	st, err := NewStore(cfg.SA)
	if err != nil {
		return nil, err
	}
	return &Signer{e: st.byNAI[cfg.SA.NAI], clock: cfg.Clock, rand: cfg.Rand, hist: make([]sent, cfg.History)}, nil
}

// ClockOffset returns what the Signer adds to its clock for timestamps,
// learned from the last authentic 144.
func (s *Signer) ClockOffset() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ntpToDuration(s.offset)
}

// Sign returns sb with its Binding Update signed (see SignBU), for the
// home agent sb.To, sent from sb.From (over UDP when sb.UDP).
func (s *Signer) Sign(sb mrouter.SendBU) (mrouter.SendBU, error) {
	bu, err := s.SignBU(sb.To, sb.From, sb.UDP, sb.BU)
	if err != nil {
		return sb, err
	}
	sb.BU = bu
	return sb, nil
}

// SignBU returns bu with the Mobile Node Identifier, a fresh timestamp
// and the MN-HA Authentication option appended, the authenticator
// computed over the marshalled message with the care-of address CareOf(src,
// udp, bu.Options) and the SA's home address. to is the home agent the
// Binding Update goes to. Pass the result to mh.BuildPacket, which
// reproduces the signed bytes and then computes the checksum.
func (s *Signer) SignBU(to, src netip.Addr, udp bool, bu mh.BindingUpdate) (mh.BindingUpdate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	local := NTPTime(s.clock())
	ts, err := s.timestamp(local)
	if err != nil {
		return bu, err
	}
	opts, err := withAuth(bu.Options, s.e, ts, true)
	if err != nil {
		return bu, err
	}
	bu.Options = opts
	coa, hoa := CareOf(src, udp, bu.Options), s.e.sa.HomeAddress
	if err := sign(&bu, s.e.mac, coa, hoa); err != nil {
		return bu, err
	}
	s.last, s.haveLast = ts, true
	s.hist[s.next] = sent{to: to, ts: ts, local: local, coa: coa, hoa: hoa, ok: true}
	s.next = (s.next + 1) % len(s.hist)
	return bu, nil
}

// timestamp returns the next timestamp: the local NTP time plus the
// offset, its low RandomBits random, and greater than the last one sent.
func (s *Signer) timestamp(local uint64) (uint64, error) {
	if _, err := io.ReadFull(s.rand, s.rbuf[:]); err != nil {
		return 0, errorf(ErrBadConfig, "random source: %v", err)
	}
	ts := (local+uint64(s.offset))&^randomMask | uint64(binary.BigEndian.Uint16(s.rbuf[:]))&randomMask
	if s.haveLast && int64(ts-s.last) <= 0 {
		ts = s.last + 1
	}
	return ts, nil
}

// VerifyBA implements mrouter.Authenticator (RFC 4285 sections 5.1.1 and
// 6). It accepts a Binding Acknowledgement from info.From only when it
// carries the MN-HA option last with the SA's SPI, a Mobile Node
// Identifier (if any) naming the SA's NAI, and a timestamp matching a
// Binding Update sent to info.From (exactly, or for status 144 in its low
// 32 bits), and its authenticator verifies with that Binding Update's
// care-of and home address. An authentic 144 sets the clock offset from
// the home agent's seconds. Errors wrap ErrMalformed, ErrUnknownSPI,
// ErrTimestampMismatch or mh.ErrAuthFailed.
func (s *Signer) VerifyBA(info mrouter.BAInfo) error {
	var o authOpts
	if !scan(info.Raw, mh.TypeBA, &o) {
		return errorf(ErrMalformed, "binding acknowledgement from %v: %s", info.From, o.problem)
	}
	if o.spi != s.e.sa.SPI {
		return errorf(ErrUnknownSPI, "SPI %d from %v", o.spi, info.From)
	}
	if o.nai != nil && string(o.nai) != s.e.sa.NAI {
		return errorf(ErrMalformed, "binding acknowledgement from %v names %q", info.From, o.nai)
	}
	if !o.hasTS {
		return errorf(ErrTimestampMismatch, "binding acknowledgement from %v has no timestamp", info.From)
	}
	covered, ok := coveredLen(info.Raw)
	if !ok {
		return errorf(ErrMalformed, "binding acknowledgement from %v", info.From)
	}
	mismatch := info.BA.Status == mh.StatusIDMismatch
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.match(info.From, o.ts, mismatch)
	if rec == nil {
		return errorf(ErrTimestampMismatch, "binding acknowledgement from %v, timestamp %#x", info.From, o.ts)
	}
	mac := s.e.mac.compute(rec.coa, rec.hoa, info.Raw[:covered])
	if subtle.ConstantTimeCompare(mac[:], o.mac) != 1 {
		return errorf(mh.ErrAuthFailed, "binding acknowledgement from %v", info.From)
	}
	if mismatch {
		// The home agent's seconds against the local clock's when the
		// Binding Update left; the difference in whole seconds is taken
		// modulo 2^32 (the NTP era).
		d := int64(int32(uint32(o.ts>>ntpFracBits) - uint32(rec.local>>ntpFracBits)))
		s.offset = d << ntpFracBits
		s.haveLast = false
		rec.ok = false // a second copy changes nothing
	}
	return nil
}

// match returns the most recent Binding Update sent to to whose
// timestamp is ts (or, for 144, has ts's low 32 bits).
func (s *Signer) match(to netip.Addr, ts uint64, low bool) *sent {
	for i := range s.hist {
		r := &s.hist[(s.next-1-i+2*len(s.hist))%len(s.hist)]
		if !r.ok || r.to != to {
			continue
		}
		if r.ts == ts || low && r.ts&ntpFracMask == ts&ntpFracMask {
			return r
		}
	}
	return nil
}
