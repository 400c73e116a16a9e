// Package mh is the Mobility Header wire codec: every Mobile IPv6 (RFC 6275),
// NEMO (RFC 3963), DSMIPv6 (RFC 5555), MN-HA authentication (RFC 4283/4285)
// and MCoA (RFC 5648) message and option this project sends or accepts.
//
// Everything here is a pure function over bytes: no sockets, no clocks.
// Wire types are value structs using net/netip and time.Duration; parsers
// validate fully before they assign, so a failed parse never returns a
// half-filled value. Unknown mobility options survive a parse→marshal round
// trip byte for byte (RawOption).
package mh

import (
	"net/netip"
	"time"
)

// ProtoMH is the IPv6 Next Header value of the Mobility Header.
const ProtoMH = 135

// PayloadProtoNone is the only Payload Proto value a receiver accepts
// (RFC 6275 section 6.1.1): IPPROTO_NONE.
const PayloadProtoNone = 59

// LifetimeUnit is the unit of the BU/BA Lifetime and of the Binding Refresh
// Advice interval (RFC 6275 sections 6.1.7, 6.1.8, 6.2.4).
const LifetimeUnit = 4 * time.Second

// MaxLifetime is the largest lifetime the 16-bit field can carry.
const MaxLifetime = 0xFFFF * LifetimeUnit

// Type is the MH Type field.
type Type uint8

// MH types (RFC 6275 section 6.1).
const (
	TypeBRR  Type = 0 // Binding Refresh Request
	TypeHoTI Type = 1 // Home Test Init
	TypeCoTI Type = 2 // Care-of Test Init
	TypeHoT  Type = 3 // Home Test
	TypeCoT  Type = 4 // Care-of Test
	TypeBU   Type = 5 // Binding Update
	TypeBA   Type = 6 // Binding Acknowledgement
	TypeBE   Type = 7 // Binding Error
)

// Message is one Mobility Header message. The concrete types are
// BindingRefreshRequest, HomeTestInit, CareOfTestInit, HomeTest, CareOfTest,
// BindingUpdate, BindingAck and BindingError, always used as values.
type Message interface {
	// MHType reports the message's MH Type.
	MHType() Type
	// MobilityOptions returns the message's options in wire order.
	MobilityOptions() []Option
}

// BUFlags is the 16-bit flags field of a Binding Update.
type BUFlags uint16

// Binding Update flags (RFC 6275 6.1.7, RFC 3963 4.1, RFC 5213, RFC 5555
// 3.1.3, RFC 5845 6.2).
const (
	BUFlagA BUFlags = 0x8000 // acknowledge requested
	BUFlagH BUFlags = 0x4000 // home registration
	BUFlagL BUFlags = 0x2000 // link-local address compatibility
	BUFlagK BUFlags = 0x1000 // key management mobility capability
	BUFlagM BUFlags = 0x0800 // MAP registration (RFC 4140)
	BUFlagR BUFlags = 0x0400 // mobile router (RFC 3963)
	BUFlagP BUFlags = 0x0200 // proxy registration (RFC 5213)
	BUFlagF BUFlags = 0x0100 // force UDP encapsulation (RFC 5555)
	BUFlagT BUFlags = 0x0080 // TLV-header UDP tunnelling (RFC 5845)
)

// BAFlags is the 8-bit flags field of a Binding Acknowledgement.
type BAFlags uint8

// Binding Acknowledgement flags (RFC 6275 6.1.8, RFC 3963 4.2, RFC 5213,
// RFC 5845 6.3).
const (
	BAFlagK BAFlags = 0x80 // key management mobility capability
	BAFlagR BAFlags = 0x40 // mobile router support (RFC 3963)
	BAFlagP BAFlags = 0x20 // proxy registration (RFC 5213)
	BAFlagT BAFlags = 0x10 // TLV-header UDP tunnelling (RFC 5845)
)

// Status is a Binding Acknowledgement status. Values below 128 mean the
// Binding Update was accepted.
type Status uint8

// Binding Acknowledgement status codes (RFC 6275 6.1.8, RFC 3963 4.2,
// RFC 4285 8, RFC 5648 4.4, RFC 5845 6.4).
const (
	StatusAccepted                              Status = 0
	StatusAcceptedPrefixDiscovery               Status = 1
	StatusGREKeyNotRequired                     Status = 2
	StatusGRETLVNotSupported                    Status = 3
	StatusMCoANotComplete                       Status = 4
	StatusMCoAReturnHomeWithoutNDP              Status = 5
	StatusReasonUnspecified                     Status = 128
	StatusAdministrativelyProhibited            Status = 129
	StatusInsufficientResources                 Status = 130
	StatusHomeRegistrationNotSupported          Status = 131
	StatusNotHomeSubnet                         Status = 132
	StatusNotHomeAgentForThisMN                 Status = 133
	StatusDADFailed                             Status = 134
	StatusSequenceOutOfWindow                   Status = 135
	StatusExpiredHomeNonceIndex                 Status = 136
	StatusExpiredCareOfNonceIndex               Status = 137
	StatusExpiredNonces                         Status = 138
	StatusRegistrationTypeChange                Status = 139
	StatusMobileRouterNotPermitted              Status = 140
	StatusInvalidPrefix                         Status = 141
	StatusNotAuthorizedForPrefix                Status = 142
	StatusForwardingSetupFailed                 Status = 143
	StatusIDMismatch                            Status = 144 // MIPV6-ID-MISMATCH (RFC 4285)
	StatusMesgIDRequired                        Status = 145 // MIPV6-MESG-ID-REQD (RFC 4285)
	StatusAuthFail                              Status = 146 // MIPV6-AUTH-FAIL (RFC 4285)
	StatusMCoAMalformed                         Status = 164
	StatusMCoANonMCoABindingExists              Status = 165
	StatusMCoAProhibited                        Status = 166
	StatusMCoAUnknownCoA                        Status = 167
	StatusMCoABulkRegistrationProhibited        Status = 168
	StatusMCoASimultaneousHomeForeignProhibited Status = 169
	StatusInvalidCareOfAddress                  Status = 174
)

// Accepted reports whether the status means the BU was accepted (< 128).
func (s Status) Accepted() bool { return s < 128 }

// BEStatus is a Binding Error status (RFC 6275 6.1.9).
type BEStatus uint8

// Binding Error status codes.
const (
	BEUnknownBindingForHoA BEStatus = 1 // unknown binding for Home Address destination option
	BEUnrecognizedMHType   BEStatus = 2 // unrecognized MH Type value
)

// IPv4AckStatus is the status of an IPv4 Address Acknowledgement option
// (RFC 5555 3.2.1). Values below 128 mean success.
type IPv4AckStatus uint8

// IPv4 Address Acknowledgement status codes.
const (
	IPv4AckSuccess                    IPv4AckStatus = 0
	IPv4AckFailure                    IPv4AckStatus = 128
	IPv4AckAdministrativelyProhibited IPv4AckStatus = 129
	IPv4AckIncorrectHoA               IPv4AckStatus = 130
	IPv4AckInvalidAddress             IPv4AckStatus = 131
	IPv4AckDynamicNotAvailable        IPv4AckStatus = 132
	IPv4AckPrefixUnauthorized         IPv4AckStatus = 133
)

// Messages (RFC 6275 section 6.1). Each carries its options in wire order;
// Pad1 and PadN are not kept on parse and are inserted on marshal as the
// alignment rules require.

// BindingRefreshRequest is MH type 0 (RFC 6275 6.1.2).
type BindingRefreshRequest struct {
	Options []Option
}

// HomeTestInit is MH type 1 (RFC 6275 6.1.3).
type HomeTestInit struct {
	Cookie  [8]byte
	Options []Option
}

// CareOfTestInit is MH type 2 (RFC 6275 6.1.4).
type CareOfTestInit struct {
	Cookie  [8]byte
	Options []Option
}

// HomeTest is MH type 3 (RFC 6275 6.1.5).
type HomeTest struct {
	NonceIndex  uint16
	Cookie      [8]byte
	KeygenToken [8]byte
	Options     []Option
}

// CareOfTest is MH type 4 (RFC 6275 6.1.6).
type CareOfTest struct {
	NonceIndex  uint16
	Cookie      [8]byte
	KeygenToken [8]byte
	Options     []Option
}

// BindingUpdate is MH type 5 (RFC 6275 6.1.7).
type BindingUpdate struct {
	Sequence uint16
	Flags    BUFlags
	// Lifetime is a multiple of LifetimeUnit on the wire; marshalling rounds
	// down and clamps to MaxLifetime.
	Lifetime time.Duration
	Options  []Option
}

// BindingAck is MH type 6 (RFC 6275 6.1.8).
type BindingAck struct {
	Status   Status
	Flags    BAFlags
	Sequence uint16
	Lifetime time.Duration
	Options  []Option
}

// BindingError is MH type 7 (RFC 6275 6.1.9).
type BindingError struct {
	Status      BEStatus
	HomeAddress netip.Addr
	Options     []Option
}

// Option is one mobility option. The concrete types are the *Option structs
// below (used as values) and RawOption for anything else.
type Option interface {
	// OptionType reports the option's Type byte.
	OptionType() OptionType
}

// OptionType is a mobility option Type (IANA "Mobility Options").
type OptionType uint8

// Mobility option types.
const (
	OptPad1                   OptionType = 0
	OptPadN                   OptionType = 1
	OptBindingRefreshAdvice   OptionType = 2
	OptAlternateCareOfAddress OptionType = 3
	OptNonceIndices           OptionType = 4
	OptBindingAuthData        OptionType = 5
	OptMobileNetworkPrefix    OptionType = 6
	OptMobileNodeIdentifier   OptionType = 8
	OptAuthentication         OptionType = 9
	OptReplayProtection       OptionType = 10
	OptIPv4HomeAddress        OptionType = 29
	OptIPv4AddressAck         OptionType = 30
	OptNATDetection           OptionType = 31
	OptIPv4CareOfAddress      OptionType = 32
	OptBindingIdentifier      OptionType = 35
)

// BindingRefreshAdvice (type 2, alignment 2n, RFC 6275 6.2.4).
type BindingRefreshAdvice struct {
	Interval time.Duration // multiple of LifetimeUnit on the wire
}

// AlternateCareOfAddress (type 3, alignment 8n+6, RFC 6275 6.2.5).
type AlternateCareOfAddress struct {
	Addr netip.Addr // IPv6
}

// NonceIndices (type 4, alignment 2n, RFC 6275 6.2.6).
type NonceIndices struct {
	Home, CareOf uint16
}

// BindingAuthData (type 5, alignment 8n+2, must be last, RFC 6275 6.2.7).
type BindingAuthData struct {
	Authenticator [12]byte
}

// MobileNetworkPrefix (type 6, alignment 8n+4, RFC 3963 4.3).
type MobileNetworkPrefix struct {
	Prefix netip.Prefix // IPv6, masked
}

// MNIDSubtypeNAI is the Mobile Node Identifier subtype for an NAI.
const MNIDSubtypeNAI = 1

// MobileNodeIdentifier (type 8, no alignment, RFC 4283 3).
type MobileNodeIdentifier struct {
	Subtype    uint8
	Identifier []byte // for MNIDSubtypeNAI, "user@realm"
}

// Authentication option subtypes (RFC 4285 8).
const (
	AuthSubtypeMNHA  = 1
	AuthSubtypeMNAAA = 2
)

// Authentication is the Mobility Message Authentication option (type 9,
// alignment 4n+1, must be last, RFC 4285 5).
type Authentication struct {
	Subtype uint8
	SPI     uint32
	Data    []byte // 12 bytes for MN-HA HMAC-SHA1-96
}

// ReplayProtection is the Mobility Message Replay Protection option
// (type 10, alignment 8n+2, RFC 4285 6): a 64-bit NTP-format timestamp.
type ReplayProtection struct {
	Timestamp uint64
}

// IPv4HomeAddress (type 29, alignment 4n, RFC 5555 3.1.1).
type IPv4HomeAddress struct {
	PrefixLen uint8      // 0..32, top 6 bits of the byte
	P         bool       // a mobile network prefix is requested
	Addr      netip.Addr // IPv4; 0.0.0.0 asks for a dynamic one
}

// IPv4AddressAck (type 30, alignment 4n, RFC 5555 3.2.1).
type IPv4AddressAck struct {
	Status    IPv4AckStatus
	PrefixLen uint8
	Addr      netip.Addr // IPv4
}

// NATDetection (type 31, alignment 4n, RFC 5555 3.2.2).
type NATDetection struct {
	F bool // UDP encapsulation is required
	// Refresh is the keepalive interval in seconds; 0 means "ignore",
	// NATRefreshNotNeeded means no keepalives are needed.
	Refresh uint32
}

// NATRefreshNotNeeded is the NAT Detection Refresh time meaning "no NAT,
// no keepalives needed" (RFC 5555 3.2.2).
const NATRefreshNotNeeded = 0xFFFFFFFF

// IPv4CareOfAddress (type 32, alignment 4n, RFC 5555 3.1.2).
type IPv4CareOfAddress struct {
	Addr netip.Addr // IPv4
}

// BindingIdentifier (type 35, alignment 2n, or 8n+2 with a care-of
// address, RFC 5648 4.3, RFC 6089 4.1).
type BindingIdentifier struct {
	BID      uint16
	Status   Status
	H        bool       // simultaneous home and foreign binding
	Priority uint8      // BID-PRI, 7 bits (RFC 6089)
	CareOf   netip.Addr // invalid (zero) when absent; IPv4 or IPv6
}

// RawOption is any option this codec does not decode (or Pad1/PadN when the
// caller builds them explicitly). It survives a round trip byte for byte.
type RawOption struct {
	Type OptionType
	Data []byte
}

func (BindingRefreshAdvice) OptionType() OptionType   { return OptBindingRefreshAdvice }
func (AlternateCareOfAddress) OptionType() OptionType { return OptAlternateCareOfAddress }
func (NonceIndices) OptionType() OptionType           { return OptNonceIndices }
func (BindingAuthData) OptionType() OptionType        { return OptBindingAuthData }
func (MobileNetworkPrefix) OptionType() OptionType    { return OptMobileNetworkPrefix }
func (MobileNodeIdentifier) OptionType() OptionType   { return OptMobileNodeIdentifier }
func (Authentication) OptionType() OptionType         { return OptAuthentication }
func (ReplayProtection) OptionType() OptionType       { return OptReplayProtection }
func (IPv4HomeAddress) OptionType() OptionType        { return OptIPv4HomeAddress }
func (IPv4AddressAck) OptionType() OptionType         { return OptIPv4AddressAck }
func (NATDetection) OptionType() OptionType           { return OptNATDetection }
func (IPv4CareOfAddress) OptionType() OptionType      { return OptIPv4CareOfAddress }
func (BindingIdentifier) OptionType() OptionType      { return OptBindingIdentifier }
func (o RawOption) OptionType() OptionType            { return o.Type }

func (BindingRefreshRequest) MHType() Type { return TypeBRR }
func (HomeTestInit) MHType() Type          { return TypeHoTI }
func (CareOfTestInit) MHType() Type        { return TypeCoTI }
func (HomeTest) MHType() Type              { return TypeHoT }
func (CareOfTest) MHType() Type            { return TypeCoT }
func (BindingUpdate) MHType() Type         { return TypeBU }
func (BindingAck) MHType() Type            { return TypeBA }
func (BindingError) MHType() Type          { return TypeBE }

func (m BindingRefreshRequest) MobilityOptions() []Option { return m.Options }
func (m HomeTestInit) MobilityOptions() []Option          { return m.Options }
func (m CareOfTestInit) MobilityOptions() []Option        { return m.Options }
func (m HomeTest) MobilityOptions() []Option              { return m.Options }
func (m CareOfTest) MobilityOptions() []Option            { return m.Options }
func (m BindingUpdate) MobilityOptions() []Option         { return m.Options }
func (m BindingAck) MobilityOptions() []Option            { return m.Options }
func (m BindingError) MobilityOptions() []Option          { return m.Options }

// SeqNewer reports whether sequence number a is newer than b modulo 2^16
// (RFC 6275 9.5.1): (a − b) mod 2^16 ∈ [1, 32767].
func SeqNewer(a, b uint16) bool { return int16(a-b) > 0 }
