// Package mnha implements RFC 4285 MN-HA authentication of Binding Updates
// and Binding Acknowledgements for both ends: the home agent's
// ha.Authenticator (Authenticator) and the mobile router's signer and
// mrouter.Authenticator (Signer).
//
// # Wire format (RFC 4285 sections 5, 5.1 and 6, RFC 4283 section 3)
//
// Every authenticated message carries, in this order:
//
//   - the Mobile Node Identifier option (type 8, subtype 1: the NAI),
//   - the Mobility Message Replay Protection option (type 10, 8n+2): a
//     64-bit NTP timestamp (MESG-ID),
//   - the MN-HA Mobility Message Authentication option (type 9, 4n+1,
//     subtype 1, last): the Mobility SPI and
//     First(96, HMAC-SHA1(key, care-of address | home address | MH data)),
//     MH data running from the first MH byte through the SPI with the MH
//     checksum taken as zero.
//
// The authenticator is computed on the finished message (Header Len
// final) and the MH checksum afterwards, by mh.BuildPacket. Signing
// returns the message value with the Authentication option filled in: the
// mh marshaller is deterministic, so mh.BuildPacket reproduces the signed
// bytes exactly and no raw-bytes packet builder is needed.
//
// The care-of address covered is the one the home agent core uses for the
// binding (CareOf): the IPv4 Care-of Address option for a UDP-encapsulated
// Binding Update (RFC 5555; as an IPv4-mapped IPv6 address, see
// mh.MNHAAuthenticator), otherwise the Alternate Care-of Address option
// when present, otherwise the IPv6 source address. A Binding
// Acknowledgement is covered with the binding's care-of and home address
// (ha.SendBA.CareOf and HomeAddress), which the mobile router takes from
// the Binding Update it matches by timestamp.
//
// # Home agent checks, in order
//
//  1. No MN-HA Authentication option, a malformed option area, an option
//     after the MN-HA option (an MN-AAA option included: there is no AAA
//     server here), an MN-AAA option before it, or a duplicated MN-ID or
//     MESG-ID: silent discard (RFC 4285 section 5).
//  2. No NAI, an NAI without a security association, or an SPI other than
//     the association's: silent discard, no Binding Acknowledgement
//     (sections 5.1.1 and 5.3).
//  3. A wrong authenticator: 146 MIPV6-AUTH-FAIL, answered with an
//     authenticated Binding Acknowledgement (section 5.3).
//  4. Replay (section 6): no MESG-ID when the policy requires one: 145
//     MIPV6-MESG-ID-REQD. A timestamp further than the window (default
//     7 s) from the home agent's clock, or not greater than the last one
//     accepted for the identity: 144 MIPV6-ID-MISMATCH, whose timestamp
//     is the home agent's seconds with the Binding Update's low 32 bits.
//  5. Authorisation: the Binding Update's home address must be the
//     identity's own (SA.HomeAddress), else 129 Administratively
//     prohibited. RFC 4285 names no status for this; 144 would make the
//     mobile router resynchronise its clock and resend at once (RFC 4285
//     section 6, mrouter.Classify), looping, while 129 is what RFC 6275
//     section 6.1.8 offers for a policy refusal (UMIP's BindingAclPolicy
//     answers the same). The mobile network prefixes and IPv4 home address
//     are then checked by the ha core against the ha.RouterConfig of that
//     home address.
//  6. Accepted: the timestamp becomes the identity's last accepted one
//     and is echoed whole.
//
// A refusal changes nothing: the last accepted timestamp moves only on
// step 6. The replay state is one 64-bit value per configured identity.
// Timestamps are compared modulo 2^64 (serial arithmetic), which carries
// the comparison across the NTP era rollover of 2036.
//
// Without a MESG-ID (and a policy that allows that) the Binding Update's
// sequence number is the replay protection (RFC 4285 section 5.1).
package mnha
