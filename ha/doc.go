// Package ha is the home agent's pure protocol core: the binding cache and
// Binding Update processing of RFC 6275 (sections 9.5, 10.3), RFC 3963
// (NEMO, section 6) and RFC 5555 (DSMIPv6, section 4.5).
//
// The core does no I/O: no sockets, goroutines, sleeps or clock reads.
// Every method takes the current time (a time.Now value, so that deadlines
// run on the monotonic clock) and returns Actions for the daemon shell to
// execute: send a Binding Acknowledgement or Binding Error, run DAD,
// install or remove a binding's forwarding, save the cache. A Core is owned
// by one goroutine; it has no locks. At 100,000 bindings one core handles
// far more than the 20,000 Binding Updates a second of issue 9 (see
// BenchmarkHandleBU); a shell that wants more parallelism can run one core
// per shard of home addresses (MaxBindings and the "care-of address is a
// home address" check are then per shard).
//
// # Timers
//
// One binary min-heap holds every entry keyed by its next deadline
// (expiry, deferred deletion, DAD deadline); each entry knows its heap
// index, so a refresh moves it in O(log n) and leaves nothing stale. The
// shell arms one timer for NextDeadline and calls Tick.
//
// # Binding Update checks
//
// HandleBU applies the checks of PROTOCOL.md section 2.3 in this order:
//
//   - home address (HAO, or source) not unicast routable, or a source that
//     cannot be answered → silent discard;
//   - Authenticator: discard, or a refusal with its status (144/145/146);
//   - care-of address (Alternate CoA option, else the source; over UDP the
//     IPv4 Care-of Address option, which is then mandatory) not unicast
//     routable, or the home address of another valid binding → discard;
//   - H set with a Nonce Indices option → discard;
//   - a registration over IPv6 without a Home Address option (RFC 6275
//     10.3.1: it MUST be present; only a deregistration from home may omit
//     it) → discard;
//   - a first registration still waiting for DAD → discard (ignored);
//   - H clear and no binding → discard: this home agent offers no route
//     optimisation, so the return routability tests of RFC 6275 section
//     9.5.1 cannot pass (131 is for H = 1 to a node that is no home agent,
//     section 10.3.1). R with H clear is answered 140 (RFC 3963 6.2);
//   - sequence number not newer than the entry's (modulo 2^16) → 135 with
//     the last accepted number;
//   - H clear, or R different from a valid entry's on a registration → 139
//     (R is ignored on deregistration);
//   - deregistration (lifetime 0, or care-of address = home address): no
//     entry → 133; otherwise forwarding is removed at once, the BA has
//     status 0 and lifetime 0, and the entry stays, invalid, for
//     MaxDeleteBCETimeout so that a late Binding Update gets 135. A
//     repeated deregistration (its BA was lost) is answered 0 again;
//   - registration: destination not the home agent's Address → 131; R with
//     NEMO off → 140; home address outside HomePrefix → 132; the home
//     agent's own or a reserved anycast address, or no RouterConfig (for R,
//     or without AllowUnlisted) → 129; a new entry beyond MaxBindings → 130;
//   - NEMO (R): Mobile Network Prefix options → explicit mode: a prefix
//     that cannot be forwarded (not global unicast, overlapping the home
//     prefix) → 141, more than MaxPrefixesPerBinding → 130, a prefix not
//     inside the router's configured Prefixes → 142; the list replaces the
//     stored set. No option → implicit mode: the configured Prefixes, none
//     → 143. These checks run before DAD (the RFCs do not order them), so
//     a refused prefix never costs a DAD run;
//   - a first registration (no valid entry) with Config.DAD: StartDAD, and
//     the BA waits for HandleDADResult (134 on failure; no answer at all if
//     no result comes within DADTimeout). An existing binding is updated
//     at once, so a move costs one round trip;
//   - accepted: granted lifetime = min(BU lifetime, MaxLifetime) in whole
//     4-second units; the BA echoes the sequence number, carries R when the
//     Binding Update had R, and is sent whatever the A flag says. Status 1
//     (prefix discovery) is never sent: the core does not track the home
//     prefix's lifetimes. K is always 0 (no dynamic IPsec SAs). No Binding
//     Refresh Advice (the cache is saved, RFC 6275 10.3.1).
//
// A refusal changes nothing except the entry's LastStatus (and never after
// an authentication failure). Every discard and refusal has a Counter.
//
// # DSMIPv6
//
// A Binding Update that came UDP-encapsulated over IPv4 (BURequest.UDP)
// registers the IPv4 Care-of Address option's address. When it differs
// from the observed outer source a NAT is on the path: the binding uses
// UDP encapsulation to the observed address and port, and the BA's NAT
// Detection option carries Refresh = Config.NATKeepalive. Without a NAT the
// binding uses IPv6-in-IPv4 (protocol 41) unless the Binding Update had F
// or Config.ForceUDP is set; the option then carries Refresh = 0xFFFFFFFF
// and F = forced. Every BA answering a UDP Binding Update, refusals
// included, carries the option and goes back over UDP to the observed
// address and port. The F flag is always honoured over UDP, so the
// contested "144 for a refused F" of RFC 5555 is never sent; over IPv6 F is
// ignored. A new NAT mapping on a later Binding Update moves the binding
// (InstallBinding) without dropping it.
//
// IPv4 home addresses: each IPv4 Home Address option gets one IPv4 Address
// Acknowledgement, in order, and only then (RFC 5555 section 4.2).
// 0.0.0.0 asks for an address: the router's static one, else the pool
// address it already holds, else a new one from IPv4Pool (132 when there
// is none). A specific address must be the router's static one or a pool
// address not held by another home address (130 otherwise; 131 for a
// non-unicast address or a Prefix-len of 0; 129 when the node has no IPv4
// home address service at all, and for a second address in one BU). P asks
// for one of the router's IPv4Prefixes (133 when it has none or not that
// one). The options replace the stored IPv4 state: a Binding Update
// without one removes the IPv4 binding. Refusals and deregistrations
// answer every IPv4 Home Address option with status 128.
//
// # Authentication
//
// Config.Auth is called between the validity checks and the care-of
// address, sequence and registration checks. It returns discard, reject
// with a status, or accept with an identity and the options (MN-ID,
// replay protection) to put in every BA for this Binding Update. The
// Authentication option itself covers the marshalled BA, so the sender
// adds it, keyed by SendBA.Identity. A nil Authenticator is insecure mode.
//
// # Persistence
//
// Every accepted change, and every expiry, is followed by BindingsChanged
// naming the home address (Lookup gives the new state); a zero home address
// means any binding may have changed (Restore, Reconfigure). The shell
// journals the named bindings, saves Snapshot (atomically) when it needs a
// whole copy, may coalesce writes, and at start passes what it saved to
// Restore, which drops expired and no longer allowed bindings and returns an
// InstallBinding for each one kept.
package ha
