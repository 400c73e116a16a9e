package ha

import (
	"net/netip"

	"github.com/nemo-mobility/nemo/mh"
)

// Action is something the shell must do after an event. The concrete
// types are SendBA, SendBE, StartDAD, InstallBinding, RemoveBinding,
// BindingsChanged and Discarded, always used as values. The shell
// executes them in order.
type Action interface {
	action()
}

// SendBA asks the shell to send a Binding Acknowledgement
// (RFC 6275 section 9.5.4, RFC 5555 section 4.2).
type SendBA struct {
	// To is the IPv6 destination: the Binding Update's IPv6 source (the
	// care-of address when it carried a Home Address option, the home
	// address otherwise and for UDP-encapsulated Binding Updates).
	To netip.Addr
	// RoutingHome, when valid, is the home address to carry in a type 2
	// routing header (the Binding Update came from a care-of address with
	// a Home Address option).
	RoutingHome netip.Addr
	// Via, when valid, is the IPv4 address and UDP port to send the
	// IPv6 packet to, UDP-encapsulated from port 4191: the outer source
	// the Binding Update was observed from (the NAT's public side).
	Via netip.AddrPort
	// HomeAddress and CareOf are the addresses an RFC 4285 authenticator
	// covers (the binding's care-of and home address; for an IPv4 care-of
	// address, its IPv4 value).
	HomeAddress, CareOf netip.Addr
	// Identity is the identity the Authenticator returned for the Binding
	// Update. When it is not empty and the Binding Update was
	// authenticated with RFC 4285, the sender appends the Mobility Message
	// Authentication option (the MAC covers the marshalled message, so the
	// core cannot add it).
	Identity string
	// BA is the message. Its options are in wire order; the
	// Authenticator's AckOptions (MN-ID, replay protection) come last.
	BA mh.BindingAck
}

// SendBE asks the shell to send a Binding Error (RFC 6275 section 9.3.3)
// to To, without a Home Address option or routing header.
type SendBE struct {
	To netip.Addr
	BE mh.BindingError
}

// StartDAD asks the shell to run Duplicate Address Detection on the home
// link for HomeAddress (and LinkLocal when valid, the L flag) and to
// report the result with HandleDADResult.
type StartDAD struct {
	HomeAddress netip.Addr
	LinkLocal   netip.Addr
}

// InstallBinding asks the shell to make the forwarding for Binding
// current: the tunnel to the care-of address (Binding.Encap), routes for
// the home address, Prefixes, IPv4HomeAddress and IPv4Prefixes into it,
// proxy ND for the home address (and the link-local address with L) with
// an unsolicited NA to all-nodes, Override = 1, Router = Binding.Router(),
// proxy ARP for the IPv4 home address, and ingress filtering for the
// tunnel. Previous, when its HomeAddress is valid, is the state installed
// before; what it has and Binding lacks must be removed.
type InstallBinding struct {
	Binding  Binding
	Previous Binding
}

// RemoveBinding asks the shell to remove all forwarding for Binding: stop
// proxy ND and ARP at once, then remove routes and the tunnel.
type RemoveBinding struct {
	Binding Binding
}

// BindingsChanged tells the shell that Snapshot has changed and should be
// saved (issue 10). It follows every accepted registration, including
// refreshes; the shell may coalesce several into one write. HomeAddress
// names the one binding that changed (Lookup gives its new state; absent or
// not valid means it is gone); the zero Addr means that any may have
// changed (a restore, a reconfiguration).
type BindingsChanged struct {
	HomeAddress netip.Addr
}

// Discarded reports a Binding Update dropped without an answer, for a
// rate-limited log line. The matching counter has been incremented.
type Discarded struct {
	Reason      Counter
	Peer        netip.Addr // the Binding Update's IPv6 source
	HomeAddress netip.Addr
}

func (SendBA) action()          {}
func (SendBE) action()          {}
func (StartDAD) action()        {}
func (InstallBinding) action()  {}
func (RemoveBinding) action()   {}
func (BindingsChanged) action() {}
func (Discarded) action()       {}
