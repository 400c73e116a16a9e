package testbed

import "net/netip"

// Node names accepted by NS, Exec, Start and the other per-node methods.
const (
	NodeCN   = "cn"   // correspondent node
	NodeCore = "core" // the internet router
	NodeSW   = "sw"   // the home link's switch (a bridge)
	NodeHA   = "ha"   // home agent
	NodeAR1  = "ar1"  // IPv4-only NAT router in front of FN1
	NodeAR2  = "ar2"  // IPv6-only access router in front of FN2
	NodeAR3  = "ar3"  // dual-stack access router in front of FN3, no NAT
	NodeMR   = "mr"   // mobile router
	NodeMNN  = "mnn"  // mobile network node
	// NodeAttacker is a host on its own link to CORE, for the hostile-input
	// suite: it reaches every node through CORE like any internet host.
	NodeAttacker = "attacker"
)

// Nodes lists every node of the testbed in build order.
var Nodes = []string{NodeCN, NodeCore, NodeSW, NodeHA, NodeAR1, NodeAR2, NodeAR3, NodeMR, NodeMNN, NodeAttacker}

// Interface names. Every interface lives in exactly one of the testbed's
// namespaces, so the names are the same in every run.
const (
	IfCNCore   = "cn-core"   // CN's link to CORE
	IfCoreCN   = "core-cn"   // CORE's link to CN
	IfCoreHome = "core-home" // CORE on the home link
	IfSWBridge = "br-home"   // the home link's bridge (in NodeSW)
	IfSWCore   = "sw-core"   // bridge port towards CORE
	IfSWHA     = "sw-ha"     // bridge port towards HA
	IfSWMR     = "sw-mr"     // bridge port towards the MR's home uplink
	IfHAHome   = "ha-home"   // HA on the home link
	IfCoreAR1  = "core-ar1"  // CORE towards AR1's public side
	IfAR1Core  = "ar1-core"  // AR1's public side
	IfCoreAR2  = "core-ar2"  // CORE on the AR2 transit link
	IfAR2Core  = "ar2-core"  // AR2 on the transit link
	IfCoreAR3  = "core-ar3"  // CORE on the AR3 transit link
	IfAR3Core  = "ar3-core"  // AR3 on the transit link
	IfAR1FN1   = "ar1-fn1"   // AR1 on FN1 (private IPv4, DHCP, NAT)
	IfAR2FN2   = "ar2-fn2"   // AR2 on FN2 (IPv6 only, radvd)
	IfAR3FN3   = "ar3-fn3"   // AR3 on FN3 (dual stack, radvd + DHCP)
	IfMRHome   = "mr-home"   // MR's home uplink
	IfMRFN1    = "mr-fn1"    // MR's uplink on FN1
	IfMRFN2    = "mr-fn2"    // MR's uplink on FN2
	IfMRFN3    = "mr-fn3"    // MR's uplink on FN3
	IfMRLAN    = "mr-lan"    // MR on the mobile network
	IfMNNLAN   = "mnn-lan"   // MNN on the mobile network
	IfCoreAtk  = "core-atk"  // CORE on the attacker's link
	IfAtkCore  = "atk-core"  // the attacker's link to CORE
)

// Uplink names accepted by Testbed.Uplink, mapped to the MR's interface.
var uplinkIf = map[string]string{
	"home": IfMRHome,
	"fn1":  IfMRFN1,
	"fn2":  IfMRFN2,
	"fn3":  IfMRFN3,
}

// UplinkInterface returns the MR interface of the named uplink ("home",
// "fn1", "fn2", "fn3") and whether the name is known.
func UplinkInterface(name string) (string, bool) {
	ifname, ok := uplinkIf[name]
	return ifname, ok
}

// The address plan (TESTBED.md). Only documentation and benchmarking ranges
// are used.
var (
	// CN6 and CN4 are the correspondent's addresses.
	CN6 = netip.MustParseAddr("2001:db8:c::10")
	CN4 = netip.MustParseAddr("203.0.113.10")
	// CoreCN6 and CoreCN4 are CORE's addresses on the CN link.
	CoreCN6 = netip.MustParseAddr("2001:db8:c::1")
	CoreCN4 = netip.MustParseAddr("203.0.113.1")

	// HomePrefix6 and HomePrefix4 are the home link's prefixes.
	HomePrefix6 = netip.MustParsePrefix("2001:db8:1::/64")
	HomePrefix4 = netip.MustParsePrefix("198.51.100.0/24")
	// CoreHome6 and CoreHome4 are CORE's addresses on the home link.
	CoreHome6 = netip.MustParseAddr("2001:db8:1::ff")
	CoreHome4 = netip.MustParseAddr("198.51.100.254")
	// HA6 and HA4 are the home agent's addresses.
	HA6 = netip.MustParseAddr("2001:db8:1::1")
	HA4 = netip.MustParseAddr("198.51.100.1")
	// MRHome6 and MRHome4 are the mobile router's home addresses. The
	// testbed does not configure them: the daemons do.
	MRHome6 = netip.MustParseAddr("2001:db8:1::100")
	MRHome4 = netip.MustParseAddr("198.51.100.100")

	// MNP6 and MNP4 are the mobile network prefixes.
	MNP6 = netip.MustParsePrefix("2001:db8:1:100::/64")
	MNP4 = netip.MustParsePrefix("192.0.2.128/26")
	// MRLAN6 and MRLAN4 are the MR's addresses on the mobile network.
	MRLAN6 = netip.MustParseAddr("2001:db8:1:100::1")
	MRLAN4 = netip.MustParseAddr("192.0.2.129")
	// MNN6 and MNN4 are the mobile network node's addresses.
	MNN6 = netip.MustParseAddr("2001:db8:1:100::10")
	MNN4 = netip.MustParseAddr("192.0.2.130")

	// AR1Public4 is AR1's address on CORE's side (the NAT's public
	// address); CoreAR14 is CORE's address on that link (AR1Link4).
	AR1Public4 = netip.MustParseAddr("203.0.113.65")
	CoreAR14   = netip.MustParseAddr("203.0.113.66")
	AR1Link4   = netip.MustParsePrefix("203.0.113.64/26")
	// FN1Prefix4 is the private network behind AR1's NAT; AR1FN14 is AR1
	// on it; FN1 leases come from FN1PoolStart..FN1PoolEnd.
	FN1Prefix4   = netip.MustParsePrefix("198.18.1.0/24")
	AR1FN14      = netip.MustParseAddr("198.18.1.1")
	FN1PoolStart = netip.MustParseAddr("198.18.1.100")
	FN1PoolEnd   = netip.MustParseAddr("198.18.1.150")

	// AR2Transit6 is the AR2–CORE link; CoreAR26 and AR2Core6 the ends.
	AR2Transit6 = netip.MustParsePrefix("2001:db8:ff02::/64")
	CoreAR26    = netip.MustParseAddr("2001:db8:ff02::1")
	AR2Core6    = netip.MustParseAddr("2001:db8:ff02::2")
	// FN2Prefix6 is FN2's SLAAC prefix; AR2FN26 is AR2 on FN2.
	FN2Prefix6 = netip.MustParsePrefix("2001:db8:f2::/64")
	AR2FN26    = netip.MustParseAddr("2001:db8:f2::1")

	// AR3Transit6 and AR3Transit4 are the AR3–CORE link's prefixes.
	AR3Transit6 = netip.MustParsePrefix("2001:db8:ff03::/64")
	AR3Transit4 = netip.MustParsePrefix("203.0.113.128/26")
	CoreAR36    = netip.MustParseAddr("2001:db8:ff03::1")
	AR3Core6    = netip.MustParseAddr("2001:db8:ff03::2")
	CoreAR34    = netip.MustParseAddr("203.0.113.129")
	AR3Core4    = netip.MustParseAddr("203.0.113.130")
	// FN3Prefix6 and FN3Prefix4 are FN3's prefixes; AR3FN36 and AR3FN34
	// are AR3 on FN3; FN3 leases come from FN3PoolStart..FN3PoolEnd (the
	// brief's .100-.150 does not fit the /25, so the pool ends at .126).
	FN3Prefix6   = netip.MustParsePrefix("2001:db8:f3::/64")
	FN3Prefix4   = netip.MustParsePrefix("192.0.2.0/25")
	AR3FN36      = netip.MustParseAddr("2001:db8:f3::1")
	AR3FN34      = netip.MustParseAddr("192.0.2.1")
	FN3PoolStart = netip.MustParseAddr("192.0.2.100")
	FN3PoolEnd   = netip.MustParseAddr("192.0.2.126")

	// AttackerPrefix6 and AttackerPrefix4 are the attacker link's
	// prefixes; CoreAtk6/CoreAtk4 are CORE on it, Attacker6/Attacker4 the
	// attacker. Spoofed sources of the hostile suite stay inside them.
	AttackerPrefix6 = netip.MustParsePrefix("2001:db8:a::/64")
	// AttackerRemote6 is address space beyond the attacker that CORE
	// routes to it: floods spoof their sources from here, as from the
	// internet behind a home agent's upstream router (spoofing on-link
	// sources would make CORE resolve every one of them, a neighbour
	// cache flood of the testbed rather than an attack on the home agent).
	AttackerRemote6 = netip.MustParsePrefix("2001:db8:a:8000::/49")
	AttackerPrefix4 = netip.MustParsePrefix("203.0.113.192/27")
	CoreAtk6        = netip.MustParseAddr("2001:db8:a::1")
	CoreAtk4        = netip.MustParseAddr("203.0.113.193")
	Attacker6       = netip.MustParseAddr("2001:db8:a::66")
	Attacker4       = netip.MustParseAddr("203.0.113.194")
)
