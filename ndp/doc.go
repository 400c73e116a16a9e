// Package ndp is the Neighbour Discovery side of Mobile IPv6 and NEMO: the
// Router Advertisement with the Mobile IPv6 extensions (RFC 6275 section 7,
// RFC 3963 section 7.3), the Dynamic Home Agent Address Discovery and Mobile
// Prefix messages (RFC 6275 sections 6.5-6.8, RFC 3963 sections 7.1-7.2), the
// ICMPv6 checksum over the IPv6 pseudo-header (RFC 4443 section 2.3), the
// Mobile IPv6 Home-Agents anycast address (RFC 2526) and the Home Agents
// List a home agent keeps per home link (RFC 6275 section 10.5.1).
//
// Everything here is a pure function over bytes or a plain data structure:
// no sockets, no clocks (time is passed in), no logging. Wire types are
// value structs using net/netip and time.Duration. Parsers validate the whole
// input before they return a value, so a failed parse never returns a
// half-filled one; errors wrap a small set of exported sentinels (ErrTruncated,
// ErrBadType, ErrBadCode, ErrBadLength, ErrBadOptionLength, ErrBadValue,
// ErrBadChecksum) for errors.Is.
//
// github.com/mdlayher/ndp is not used for the codec: it drops the Prefix
// Information R flag, masks the prefix (losing the router address the R flag
// announces) and returns options 7 and 8 only as raw bytes. It is a fine
// socket and an independent decoder for the standard fields, and the tests
// use it as both.
//
// Messages are ICMPv6 messages starting at the Type byte. Parsers ignore the
// Checksum field (verify it with VerifyChecksum, or let the kernel do it on a
// raw ICMPv6 socket); marshalling writes a zero checksum (fill it with
// SetChecksum, or let the kernel's IPV6_CHECKSUM offload do it). IP-level
// checks (hop limit 255, link-local source for an RA) are the caller's.
package ndp
