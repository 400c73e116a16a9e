package ha

// Counter names one event the core counts: every refusal and silent drop
// has its own, so `ha bindings` can say why registrations fail.
type Counter uint8

// Counters, in the order Counters.Map lists them.
const (
	CtrBUReceived Counter = iota // Binding Updates handled

	// Accepted.
	CtrRegistered   // new bindings (after DAD when enabled)
	CtrRefreshed    // refreshes with the same care-of address
	CtrMoved        // refreshes to a new care-of address or NAT mapping
	CtrDeregistered // deregistrations answered with status 0

	// Silent discards (no Binding Acknowledgement).
	CtrDiscardHomeAddress // home address not unicast routable
	CtrDiscardSource      // IPv6 source not unicast (cannot be answered)
	CtrDiscardAuth        // Authenticator said discard
	CtrDiscardCareOf      // care-of address missing or not unicast routable
	CtrDiscardCareOfIsHoA // care-of address is another binding's home address
	CtrDiscardNonce       // H set with a Nonce Indices option
	CtrDiscardNotHome     // H clear, no binding: route optimisation is not offered
	CtrDiscardDADPending  // Binding Update while DAD runs for the home address
	CtrDiscardUDPSource   // UDP-encapsulated with an unusable outer source
	CtrDiscardNoHAO       // IPv6 registration without a Home Address option

	// Refusals (Binding Acknowledgement status >= 128).
	CtrRejectAuth            // 144, 145, 146 (from the Authenticator)
	CtrRejectSequence        // 135
	CtrRejectTypeChange      // 139
	CtrRejectNotHA           // 131
	CtrRejectMRNotPermitted  // 140
	CtrRejectNotHomeSubnet   // 132
	CtrRejectPolicy          // 129
	CtrRejectNoRoom          // 130
	CtrRejectDAD             // 134
	CtrRejectInvalidPrefix   // 141
	CtrRejectPrefixNotAuthed // 142
	CtrRejectNoPrefixes      // 143
	CtrRejectNotHAForMN      // 133

	// Other events.
	CtrDADStarted    // StartDAD actions
	CtrDADTimeout    // first registrations dropped for want of a DAD result
	CtrExpired       // bindings whose lifetime ended
	CtrNATDetected   // accepted registrations with a NAT on the path
	CtrIPv4Assigned  // IPv4 Address Acknowledgements with status 0
	CtrIPv4Refused   // IPv4 Address Acknowledgements with a failure status
	CtrBESent        // Binding Errors sent
	CtrBERateLimited // Binding Errors not sent because of the rate limit
	CtrReconfigDrop  // bindings removed by Reconfigure or skipped by Restore

	numCounters
)

var counterNames = [numCounters]string{
	"bu_received",
	"registered", "refreshed", "moved", "deregistered",
	"discard_home_address", "discard_source", "discard_auth", "discard_care_of",
	"discard_care_of_is_hoa", "discard_nonce", "discard_not_home",
	"discard_dad_pending", "discard_udp_source", "discard_no_hao",
	"reject_auth", "reject_sequence", "reject_type_change", "reject_not_ha",
	"reject_mr_not_permitted", "reject_not_home_subnet", "reject_policy",
	"reject_no_room", "reject_dad", "reject_invalid_prefix",
	"reject_prefix_not_authorized", "reject_no_prefixes", "reject_not_ha_for_mn",
	"dad_started", "dad_timeout", "expired", "nat_detected", "ipv4_assigned",
	"ipv4_refused", "be_sent", "be_rate_limited", "reconfig_drop",
}

// String returns the counter's snake_case name.
func (c Counter) String() string {
	if c < numCounters {
		return counterNames[c]
	}
	return "unknown"
}

// Counters is a snapshot of every counter, indexed by Counter.
type Counters [numCounters]uint64

// Map returns the counters by name, for status output.
func (cs *Counters) Map() map[string]uint64 {
	m := make(map[string]uint64, len(cs))
	for i, v := range cs {
		m[counterNames[i]] = v
	}
	return m
}
