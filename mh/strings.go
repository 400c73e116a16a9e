package mh

import (
	"strconv"
	"strings"
)

var typeNames = [...]string{
	TypeBRR:  "BRR",
	TypeHoTI: "HoTI",
	TypeCoTI: "CoTI",
	TypeHoT:  "HoT",
	TypeCoT:  "CoT",
	TypeBU:   "BU",
	TypeBA:   "BA",
	TypeBE:   "BE",
}

// String returns the short name of the MH Type ("BU", "BA", …) or
// "MH type N" for an unknown one.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "MH type " + strconv.Itoa(int(t))
}

var statusNames = map[Status]string{
	StatusAccepted:                              "accepted",
	StatusAcceptedPrefixDiscovery:               "accepted but prefix discovery necessary",
	StatusGREKeyNotRequired:                     "GRE key option not required",
	StatusGRETLVNotSupported:                    "GRE tunnelling but TLV header not supported",
	StatusMCoANotComplete:                       "MCoA not complete",
	StatusMCoAReturnHomeWithoutNDP:              "MCoA return home without NDP",
	StatusReasonUnspecified:                     "reason unspecified",
	StatusAdministrativelyProhibited:            "administratively prohibited",
	StatusInsufficientResources:                 "insufficient resources",
	StatusHomeRegistrationNotSupported:          "home registration not supported",
	StatusNotHomeSubnet:                         "not home subnet",
	StatusNotHomeAgentForThisMN:                 "not home agent for this mobile node",
	StatusDADFailed:                             "duplicate address detection failed",
	StatusSequenceOutOfWindow:                   "sequence number out of window",
	StatusExpiredHomeNonceIndex:                 "expired home nonce index",
	StatusExpiredCareOfNonceIndex:               "expired care-of nonce index",
	StatusExpiredNonces:                         "expired nonces",
	StatusRegistrationTypeChange:                "registration type change disallowed",
	StatusMobileRouterNotPermitted:              "mobile router operation not permitted",
	StatusInvalidPrefix:                         "invalid prefix",
	StatusNotAuthorizedForPrefix:                "not authorized for prefix",
	StatusForwardingSetupFailed:                 "forwarding setup failed",
	StatusIDMismatch:                            "MIPV6-ID-MISMATCH",
	StatusMesgIDRequired:                        "MIPV6-MESG-ID-REQD",
	StatusAuthFail:                              "MIPV6-AUTH-FAIL",
	StatusMCoAMalformed:                         "MCoA malformed",
	StatusMCoANonMCoABindingExists:              "MCoA non-MCoA binding exists",
	StatusMCoAProhibited:                        "MCoA prohibited",
	StatusMCoAUnknownCoA:                        "MCoA unknown CoA",
	StatusMCoABulkRegistrationProhibited:        "MCoA bulk registration prohibited",
	StatusMCoASimultaneousHomeForeignProhibited: "MCoA simultaneous home and foreign prohibited",
	StatusInvalidCareOfAddress:                  "invalid care-of address",
}

// String returns the code and its meaning, e.g. "135 sequence number out of
// window"; an unassigned code reads "200 unknown (rejected)".
func (s Status) String() string {
	return codeString(uint8(s), statusNames[s], s.Accepted())
}

// String returns the code and its meaning, e.g. "2 unrecognized MH type".
func (s BEStatus) String() string {
	var name string
	switch s {
	case BEUnknownBindingForHoA:
		name = "unknown binding for home address destination option"
	case BEUnrecognizedMHType:
		name = "unrecognized MH type"
	}
	if name == "" {
		return strconv.Itoa(int(s)) + " unknown"
	}
	return strconv.Itoa(int(s)) + " " + name
}

var ipv4AckNames = map[IPv4AckStatus]string{
	IPv4AckSuccess:                    "success",
	IPv4AckFailure:                    "failure, reason unspecified",
	IPv4AckAdministrativelyProhibited: "administratively prohibited",
	IPv4AckIncorrectHoA:               "incorrect IPv4 home address",
	IPv4AckInvalidAddress:             "invalid IPv4 address",
	IPv4AckDynamicNotAvailable:        "dynamic IPv4 home address assignment not available",
	IPv4AckPrefixUnauthorized:         "prefix allocation unauthorized",
}

// Success reports whether the status means success (< 128).
func (s IPv4AckStatus) Success() bool { return s < 128 }

// String returns the code and its meaning, e.g. "132 dynamic IPv4 home
// address assignment not available".
func (s IPv4AckStatus) String() string {
	return codeString(uint8(s), ipv4AckNames[s], s.Success())
}

func codeString(code uint8, name string, ok bool) string {
	if name == "" {
		if ok {
			name = "unknown (success)"
		} else {
			name = "unknown (rejected)"
		}
	}
	return strconv.Itoa(int(code)) + " " + name
}

var optionNames = map[OptionType]string{
	OptPad1:                   "Pad1",
	OptPadN:                   "PadN",
	OptBindingRefreshAdvice:   "Binding Refresh Advice",
	OptAlternateCareOfAddress: "Alternate Care-of Address",
	OptNonceIndices:           "Nonce Indices",
	OptBindingAuthData:        "Binding Authorization Data",
	OptMobileNetworkPrefix:    "Mobile Network Prefix",
	OptMobileNodeIdentifier:   "Mobile Node Identifier",
	OptAuthentication:         "Authentication",
	OptReplayProtection:       "Replay Protection",
	OptIPv4HomeAddress:        "IPv4 Home Address",
	OptIPv4AddressAck:         "IPv4 Address Acknowledgement",
	OptNATDetection:           "NAT Detection",
	OptIPv4CareOfAddress:      "IPv4 Care-of Address",
	OptBindingIdentifier:      "Binding Identifier",
}

// String returns the option's name, or "option N" for one this codec does
// not decode.
func (t OptionType) String() string {
	if n, ok := optionNames[t]; ok {
		return n
	}
	return "option " + strconv.Itoa(int(t))
}

var buFlagLetters = [...]struct {
	f BUFlags
	c byte
}{
	{BUFlagA, 'A'}, {BUFlagH, 'H'}, {BUFlagL, 'L'}, {BUFlagK, 'K'}, {BUFlagM, 'M'},
	{BUFlagR, 'R'}, {BUFlagP, 'P'}, {BUFlagF, 'F'}, {BUFlagT, 'T'},
}

// String lists the set flags by letter in wire order, e.g. "AHR"; bits
// without a letter follow as "+0x0040"; no flags at all reads "-".
func (f BUFlags) String() string {
	var sb strings.Builder
	rest := f
	for _, l := range buFlagLetters {
		if f&l.f != 0 {
			sb.WriteByte(l.c)
			rest &^= l.f
		}
	}
	if rest != 0 {
		sb.WriteString("+0x")
		h := strconv.FormatUint(uint64(rest), 16)
		sb.WriteString(strings.Repeat("0", 4-len(h)) + h)
	}
	if sb.Len() == 0 {
		return "-"
	}
	return sb.String()
}

var baFlagLetters = [...]struct {
	f BAFlags
	c byte
}{
	{BAFlagK, 'K'}, {BAFlagR, 'R'}, {BAFlagP, 'P'}, {BAFlagT, 'T'},
}

// String lists the set flags by letter, e.g. "R"; bits without a letter
// follow as "+0x08"; no flags reads "-".
func (f BAFlags) String() string {
	var sb strings.Builder
	rest := f
	for _, l := range baFlagLetters {
		if f&l.f != 0 {
			sb.WriteByte(l.c)
			rest &^= l.f
		}
	}
	if rest != 0 {
		sb.WriteString("+0x")
		h := strconv.FormatUint(uint64(rest), 16)
		sb.WriteString(strings.Repeat("0", 2-len(h)) + h)
	}
	if sb.Len() == 0 {
		return "-"
	}
	return sb.String()
}
