// Package mrouter is the pure protocol core of the NEMO mobile router: the
// binding update list, care-of address selection among uplinks and the
// home-registration state machine of RFC 6275 (sections 11.5-11.8), RFC 3963
// (section 5) and the mobile-node side of RFC 5555 (sections 4.2-4.4).
//
// The core owns no sockets, goroutines, timers or clocks. The daemon shell
// feeds it events (uplink changes from netlink, router advertisements and the
// DHCPv4 client; Binding Acknowledgements, Binding Errors and Binding Refresh
// Requests parsed with package mh; ICMP errors) together with the current
// time, and executes the [Action] values each event returns. Time only ever
// comes from those now arguments, which the shell takes from the monotonic
// clock; the core never compares against the wall clock. [Core.NextDeadline]
// says when [Core.Tick] must be called next; [Core.Status] reports the
// binding update list entry for `mrouter status`.
//
// # Care-of address selection
//
// Each [Uplink] offers up to two candidates: its global IPv6 care-of address
// and its IPv4 care-of address (the latter only for a home agent with an IPv4
// address). An uplink that is up and on the home link (Uplink.AtHome) always
// wins: the router is at home. Otherwise candidates rank by uplink Priority
// (higher first), then IPv6 before IPv4 (reversed by Config.PreferIPv4), then
// by uplink name, so the choice is deterministic. When a better candidate
// appears its address is registered at once; the old tunnel stays until the
// new Binding Acknowledgement arrives (make before break), and only then does
// a [SetTunnel] replace it. When the current uplink fails the next candidate
// is registered at once. When three BUs in a row from an IPv6 care-of
// address go unanswered and an IPv4 care-of address is available, that
// IPv6 address is set aside (until it changes, or for Config.FatalHold) and
// the IPv4 one is registered (RFC 5555 4.4.1).
//
// A path can fail while its uplink stays up with its address: an access
// network or a NAT dropping traffic. The shell's tunnel check finds that
// (packets into the tunnel, nothing out, three probes to the home agent
// unanswered) and calls [Core.TunnelLost]: with another candidate, the
// registered address is set aside for Config.PathHold and the next one is
// registered (make before break); with none, the binding is refreshed at
// once (a lost NAT mapping is re-created by the BU; a dead home agent starts
// the retransmissions that lead to a failover). A move that three BUs do not
// complete while the old binding's address is still usable is given up the
// same way: that address is set aside for PathHold and a BU goes from the
// old one (the home agent may have taken one of the unanswered BUs). These
// are choices of ours: RFC 6275 leaves movement detection and the choice of
// care-of address to the mobile node (11.5). Set-aside addresses are passed
// over only while another candidate exists.
//
// # Binding Updates
//
// Every BU carries A, H and R (R also on refreshes and deregistrations, for
// UMIP-based home agents). In explicit mode (the default; Config.Implicit
// turns it off) every registration BU, refreshes included, carries one Mobile
// Network Prefix option per configured prefix; deregistrations carry none
// (RFC 3963 5.8). From an IPv6 care-of address the BU goes from that address
// with a Home Address option and an Alternate Care-of Address option (RFC
// 6275 11.7.1 makes it mandatory). From an IPv4 care-of address it goes in
// UDP to port 4191 of the home agent's IPv4 address with the inner source set
// to the home address, the IPv4 Care-of Address option and no HAO or
// Alternate Care-of Address; F is set when Config.ForceUDP asks for it. The
// IPv4 Home Address option is included in every registration when
// Config.IPv4HomeAddress is set, with the assigned address once the home
// agent has acknowledged one. The deregistration from the home link has
// lifetime 0, goes from the home address without a HAO, and carries an
// Alternate Care-of Address equal to the home address (RFC 6275 11.5.5 sets
// the care-of address of that binding to the home address and 11.7.1 wants
// the option in every home registration).
//
// RFC 4285 authentication is a hook: the shell adds the Mobile Node
// Identifier, Replay Protection and Authentication options when it marshals a
// SendBU, and Config.Auth, when set, verifies each BA before the core acts on
// it (a failed check drops the BA and counts it).
//
// # Sequence numbers, retransmission and rate limit
//
// Each home agent has its own sequence counter, starting at a random value
// (Config.Rand); every transmission, retransmissions included, takes the
// next value. A BA matches when its sequence number is one of those sent in
// the outstanding attempt (all transmissions of one attempt carry the same
// binding); anything else is stale and ignored. Status 135 resynchronises
// the counter to BA.Sequence+1 and resends at once (at most three immediate
// resends per attempt; after that the normal retransmission timer applies).
//
// The retransmission timer starts at 1.5 s (InitialBindackTimeoutFirstReg)
// when the home agent holds no binding for us and at 1 s otherwise, doubles,
// and stays at 32 s (MAX_BINDACK_TIMEOUT). When a BU sent with the 32 s
// timer goes unanswered and at least Config.FailoverAfter BUs of the attempt
// are unanswered, the router moves to the next usable home agent (in
// configuration order, cyclically), no sooner than 1.5 s after its last BU
// to the previous one (RFC 6275 11.4.1); with a single home agent it keeps
// sending every 32 s. While registered with a home agent that is not the
// Preferred one, the router probes the preferred one every
// Config.ProbeInterval (default 32 s) with a deregistration BU (lifetime 0):
// a registration there would fail its duplicate address detection (134,
// RFC 6275 10.3.1) while the current home agent holds our binding and
// defends the home address on the home link. When the preferred one answers
// (0 or 133), it becomes the current home agent, the one left is
// deregistered first (RFC 6275 11.7.1), and only once that is answered (or
// given up after 3 BUs) does the registration at the preferred one start;
// the tunnel moves when it is accepted.
//
// After an accepted binding, a BU that would move it (from another care-of
// address) or end it marks the binding unsure until the next accepted BA:
// the home agent may have acted on a BU whose BA was lost, so coming back to
// the old care-of address sends a BU too.
//
// No more than MaxUpdateRate (3) BUs leave in any one-second window, whatever
// triggers them and whichever home agent they go to (this is stricter than
// the per-destination rule of RFC 6275 11.8); a BU that would exceed it is
// deferred until the window allows it.
//
// # Lifetime and refresh
//
// The requested lifetime is Config.Lifetime rounded down to 4 s units. A
// granted lifetime shorter than the requested one counts from when the
// acknowledged BU was sent (RFC 6275 11.7.3). The refresh is sent at 80 % of
// the granted lifetime, earlier if a Binding Refresh Advice option asks for
// it (also counted from the BU), and behind a NAT no later than the NAT
// keepalive interval after the BA: the NAT Detection option's Refresh time,
// 110 s (NATKATIMEOUT) when the home agent sent 0, or Config.NATKeepalive
// when that is set and shorter.
//
// # Binding Acknowledgement status
//
// Accepted (< 128) with R completes the registration; accepted without R
// means the home agent does not support mobile routers: the router
// deregisters there, holds that home agent for Config.FatalHold and tries
// the next (RFC 3963 5.3). Rejections are handled by [Disposition]: retried
// at the same home agent after a backoff that starts at 32 s and doubles up
// to Config.MaxRetryBackoff; moved to the next home agent (the rejecting one
// held for that backoff), as RFC 3963 5.4 asks for the NEMO codes it acts
// on; or, for the codes RFC 3963 5.4 calls fatal and for 146 (RFC 4285 says
// stop sending to that home agent), the home agent is held for
// Config.FatalHold. 134 (DAD failed) stops all registration: RFC 6275
// 11.7.1 forbids reusing the home address; but while another of our home
// agents may hold our binding (and so defend the home address), 134 is no
// duplicate: the home agent is held for a backoff and the next one tried. 144 is resent once at once (the
// RFC 4285 hook resynchronises its clock from the BA); if the BU had F and
// the BA carries no Replay Protection option, 144 is read as RFC 5555's "F
// refused" and F is dropped for that home agent.
//
// # NAT and encapsulation
//
// For a BU sent over UDP, NAT is detected iff the BA's NAT Detection option
// has a Refresh time other than 0xFFFFFFFF. The data path is UDP when NAT is
// detected, when the option's F is set or when our BU carried F; otherwise
// IPv6-in-IPv4. From an IPv6 care-of address it is IPv6-in-IPv6.
//
// # Home
//
// On the home link the router deregisters with the home agent (1 s timer,
// Config.DeregAttempts transmissions); when the BA arrives (accepted, or 133
// meaning no binding existed) or the attempts run out it emits ClearTunnel
// and AtHome. Leaving home emits LeftHome and starts a first registration.
// At start the router does not know whether its home agent holds a binding,
// so a start on the home link deregisters too.
package mrouter
