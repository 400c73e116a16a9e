package dataplane

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Userspace defaults.
const (
	// DefaultTUNName is the TUN device's default name.
	DefaultTUNName = "nemo0"
	// DefaultTUNMTU is the TUN device's default MTU: the IPv6 minimum
	// link MTU (RFC 8200 section 5). It fits every encapsulation on an
	// outer path of at least 1320 bytes (IPv6 outer adds 40 bytes, IPv4
	// outer 20, UDP over IPv4 28); on a known 1500-byte uplink 1460 (IPv6
	// outer) or 1472 (UDP over IPv4) is the largest that avoids outer
	// fragmentation.
	DefaultTUNMTU = 1280
	// recvBufferSize holds the largest IP packet plus an outer IPv4 header.
	recvBufferSize = maxInnerPacket + 60
)

// UserspaceOptions configure the userspace backend.
type UserspaceOptions struct {
	// Owner is recorded for symmetry with the kernel backend (the TUN
	// device needs no marker: it dies with the process).
	Owner string
	// TUNName is the TUN device's name; empty means DefaultTUNName.
	TUNName string
	// MTU of the TUN device; 0 means DefaultTUNMTU.
	MTU int
	// UDP carries UDP-encapsulated tunnels; it can also be set later with
	// SetUDPSender.
	UDP UDPSender
	// TableShards sizes the forwarding tables (0: DefaultTableShards); a
	// home agent passes about an eighth of the bindings it expects.
	TableShards int
}

// udpBox holds a UDPSender for an atomic pointer.
type udpBox struct{ s UDPSender }

// Userspace is the userspace backend (see the package documentation).
// Everything it opens (TUN device, raw sockets, netlink through ops) lives
// in the network namespace of the thread that called NewUserspace.
type Userspace struct {
	ops  NetOps
	opts UserspaceOptions

	mu     sync.Mutex // serialises Set, Update, Stats and Close
	plane  *plane
	udp    atomic.Pointer[udpBox]
	pc     *planeCounters // &plane.pc
	closed atomic.Bool

	tun     *os.File
	tunVnet bool // the TUN device has offloads: a virtio-net header on every packet
	injMu   sync.Mutex
	inj     *tunIO // InjectUDP's writer
	// raw sockets: [outer family][inner protocol]
	raw6in6, raw4in6, raw6in4, raw4in4 *rawSocket
	wg                                 sync.WaitGroup
}

var _ Backend = (*Userspace)(nil)

// NewUserspace creates the TUN device and the raw sockets in the calling
// thread's network namespace, sets the device up through ops and starts
// one reader goroutine per file descriptor. It installs no routes until
// Set.
func NewUserspace(ops NetOps, opts UserspaceOptions) (*Userspace, error) {
	if opts.TUNName == "" {
		opts.TUNName = DefaultTUNName
	}
	if opts.MTU == 0 {
		opts.MTU = DefaultTUNMTU
	}
	u := &Userspace{ops: ops, opts: opts}
	u.plane = newPlane(newReconciler(ops), opts.TUNName, opts.TableShards, u.prepare, func() bool { return u.udp.Load() != nil })
	u.pc = &u.plane.pc
	if opts.UDP != nil {
		u.udp.Store(&udpBox{opts.UDP})
	}
	var err error
	if u.tun, u.tunVnet, err = openTUN(opts.TUNName); err != nil {
		return nil, err
	}
	socks := []struct {
		dst           **rawSocket
		family, proto int
	}{
		{&u.raw6in6, unix.AF_INET6, protoIPv6InIP},
		{&u.raw4in6, unix.AF_INET6, protoIPv4InIP},
		{&u.raw6in4, unix.AF_INET, protoIPv6InIP},
		{&u.raw4in4, unix.AF_INET, protoIPv4InIP},
	}
	for _, s := range socks {
		if *s.dst, err = openRaw(s.family, s.proto); err != nil {
			u.closeFiles()
			return nil, err
		}
	}
	// No IPv6 link-local address (and so no router solicitations or MLD
	// reports) on the TUN device: routes through it need none.
	_ = ops.SysctlSet("net/ipv6/conf/"+opts.TUNName+"/addr_gen_mode", "1")
	if err := ops.LinkSetUp(opts.TUNName, opts.MTU); err != nil {
		u.closeFiles()
		return nil, fmt.Errorf("dataplane: set %s up: %w", opts.TUNName, err)
	}
	// The loops' buffers, made once (batch_linux.go).
	var maps [][]byte
	fail := func(err error) (*Userspace, error) {
		for _, m := range maps {
			unix.Munmap(m)
		}
		u.closeFiles()
		return nil, fmt.Errorf("dataplane: userspace buffers: %w", err)
	}
	// A TSO burst may be 64 KiB of IP packet (65536 bytes of IPv6) plus
	// the virtio-net header: room for twice that, which costs address
	// space only.
	readBuf, err := mapBuffer(2 << 16)
	if err != nil {
		return fail(err)
	}
	maps = append(maps, readBuf)
	rd, err := newTunIO(u.tun, readBuf)
	if err != nil {
		return fail(err)
	}
	if u.inj, err = newTunIO(u.tun, nil); err != nil {
		return fail(err)
	}
	tx, err := newTxBatch(max(opts.MTU, DefaultTUNMTU))
	if err != nil {
		return fail(err)
	}
	maps = append(maps, tx.mem)
	var rx [4]*rxBatch
	for i := range rx {
		if rx[i], err = newRxBatch(); err != nil {
			return fail(err)
		}
		maps = append(maps, rx[i].mem)
	}
	u.wg.Add(5)
	go u.tunLoop(rd, tx)
	go u.rawLoop(u.raw6in6, false, ipVersion6, rx[0])
	go u.rawLoop(u.raw4in6, false, ipVersion4, rx[1])
	go u.rawLoop(u.raw6in4, true, ipVersion6, rx[2])
	go u.rawLoop(u.raw4in4, true, ipVersion4, rx[3])
	return u, nil
}

// Name implements Backend.
func (u *Userspace) Name() string { return "userspace" }

// TUNName returns the TUN device's name.
func (u *Userspace) TUNName() string { return u.opts.TUNName }

// SetUDPSender sets (or, with nil, clears) the socket UDP tunnels use.
func (u *Userspace) SetUDPSender(s UDPSender) {
	if s == nil {
		u.udp.Store(nil)
		return
	}
	u.udp.Store(&udpBox{s})
}

// Set implements Backend: cfg is the base group (see Update).
func (u *Userspace) Set(cfg Config) error {
	err := u.Update([]GroupChange{{Config: cfg}})
	var ge *GroupError
	if errors.As(err, &ge) {
		return fmt.Errorf("dataplane: userspace set: %w", ge.Err)
	}
	return err
}

// Update implements Grouped: each change replaces one group; the cost is
// that of the groups changed, not of the whole state.
func (u *Userspace) Update(changes []GroupChange) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed.Load() {
		return ErrClosed
	}
	return u.plane.update(changes)
}

// prepare makes a tunnel's send state.
func (u *Userspace) prepare(t Tunnel) (txState, error) {
	idx := 0
	if t.Device != "" {
		i, err := u.ops.LinkIndex(t.Device)
		if err != nil {
			return txState{}, fmt.Errorf("%w: device %s: %v", ErrInvalidConfig, t.Device, err)
		}
		idx = i
	}
	return prepareTx(t, idx), nil
}

// Stats implements Backend.
func (u *Userspace) Stats() Stats {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.plane.stats()
}

// Close implements Backend: it removes the routes, rules and proxy
// entries, restores the sysctls, closes the TUN device (which deletes it)
// and the sockets, and waits for the reader goroutines to end.
func (u *Userspace) Close() error {
	if !u.closed.CompareAndSwap(false, true) {
		return nil
	}
	u.mu.Lock()
	err := u.plane.reset()
	u.mu.Unlock()
	u.closeFiles()
	u.wg.Wait()
	if err != nil {
		return fmt.Errorf("dataplane: userspace close: %w", err)
	}
	return nil
}

func (u *Userspace) closeFiles() {
	if u.tun != nil {
		u.tun.Close()
	}
	for _, s := range []*rawSocket{u.raw6in6, u.raw4in6, u.raw6in4, u.raw4in4} {
		if s != nil {
			s.f.Close()
		}
	}
}

// tunLoop reads packets the kernel routed into the TUN device and sends
// them into their tunnels. It reads until no packet is ready or the batch
// is full, then sends the batch: one sendmmsg per run of packets for the
// same raw socket. With TUN offloads a read may bring a TCP burst of up to
// 64 KiB, which it cuts into segments (splitTCP) straight into the batch.
func (u *Userspace) tunLoop(rd *tunIO, b *txBatch) {
	defer u.wg.Done()
	defer unix.Munmap(rd.buf)
	defer unix.Munmap(b.mem)
	s := newSender()
	for {
		if err := rd.rc.Read(rd.readWait); err != nil {
			return // closed
		}
		for {
			if rd.n > len(rd.buf) {
				u.pc.dropMalformed.Add(1) // truncated: cannot happen
			} else if rd.n > 0 {
				u.encap(b, s, rd.buf[:rd.n])
			}
			if b.n == 0 {
				break // nothing waits: block for the next packet
			}
			if err := rd.rc.Read(rd.readNow); err != nil {
				b.flush(u.udpSender())
				return
			}
			if rd.n < 0 {
				break // none ready
			}
		}
		if b.n > 0 {
			b.flush(u.udpSender())
		}
	}
}

// udpSender returns the current UDP sender (nil: none).
func (u *Userspace) udpSender() UDPSender {
	if bx := u.udp.Load(); bx != nil {
		return bx.s
	}
	return nil
}

// encap routes one packet read from the TUN device (behind its virtio-net
// header if the device has offloads) and queues it, or its TSO segments,
// in b, sending b whenever it fills up.
func (u *Userspace) encap(b *txBatch, s *sender, buf []byte) {
	var vh vnetHdr
	pkt := buf
	if u.tunVnet {
		if len(buf) <= vnetHdrLen {
			u.pc.dropMalformed.Add(1)
			return
		}
		vh, pkt = decodeVnetHdr(buf), buf[vnetHdrLen:]
		if vh.gsoType == vnetGSONone && vh.flags&vnetFlagNeedsCsum != 0 {
			if completeChecksum(pkt, int(vh.csumStart), int(vh.csumOffset)) != nil {
				u.pc.dropMalformed.Add(1)
				return
			}
		}
	}
	t, h, pkt, ok := u.route(pkt)
	if !ok {
		return
	}
	var sock *rawSocket
	switch t.cfg.Encap {
	case IP6IP6:
		sock = u.raw4in6
		if h.version == ipVersion6 {
			sock = u.raw6in6
		}
	case IP6IP4:
		sock = u.raw4in4
		if h.version == ipVersion6 {
			sock = u.raw6in4
		}
	case UDP:
	default:
		t.ctr.txErrors.Add(1)
		return
	}
	if vh.gsoType == vnetGSONone {
		if b.free() == 0 {
			b.flush(u.udpSender())
		}
		if len(pkt) > len(b.slots[b.n]) {
			// Larger than the MTU the batch was made for (the MTU was
			// raised behind our back): send it on its own, in order.
			b.flush(u.udpSender())
			if err := u.sendTunnel(s, t, h, pkt); err != nil {
				t.ctr.txErrors.Add(1)
				return
			}
			t.ctr.txPackets.Add(1)
			t.ctr.txBytes.Add(uint64(len(pkt)))
			return
		}
		b.sizes[b.n] = copy(b.slots[b.n], pkt)
		b.add(sock, t, h.trafficClass)
		return
	}
	nseg, hdrLen, err := tcpSegments(pkt, vh)
	if err != nil {
		u.pc.dropMalformed.Add(1)
		return
	}
	for first := 0; first < nseg; {
		if b.free() == 0 {
			b.flush(u.udpSender())
		}
		made, err := splitTCP(pkt, vh, hdrLen, first, b.slots[b.n:], b.sizes[b.n:])
		for range made {
			b.add(sock, t, h.trafficClass)
		}
		if err != nil {
			t.ctr.txErrors.Add(uint64(nseg - first - made))
			return
		}
		first += made
	}
}

// sendTunnel encapsulates pkt into t.
func (u *Userspace) sendTunnel(s *sender, t *planeTunnel, h innerHeader, pkt []byte) error {
	switch t.cfg.Encap {
	case IP6IP6:
		if h.version == ipVersion6 {
			return s.send(u.raw6in6, t, pkt, h.trafficClass)
		}
		return s.send(u.raw4in6, t, pkt, h.trafficClass)
	case IP6IP4:
		if h.version == ipVersion6 {
			return s.send(u.raw6in4, t, pkt, h.trafficClass)
		}
		return s.send(u.raw4in4, t, pkt, h.trafficClass)
	case UDP:
		b := u.udp.Load()
		if b == nil {
			return ErrNoUDPSender
		}
		_, err := b.s.WriteToUDPAddrPort(pkt, t.cfg.UDPRemote)
		return err
	}
	return ErrUnsupported
}

// rawLoop reads encapsulated packets from one raw socket, up to
// rxBatchSize per recvmmsg, decapsulates them and writes the inner packets
// to the TUN device, consecutive segments of a TCP flow merged into one
// burst when the device has offloads. An AF_INET raw socket delivers the outer IPv4 header
// too; an AF_INET6 one only the inner packet.
func (u *Userspace) rawLoop(sock *rawSocket, outer4 bool, innerVersion int, r *rxBatch) {
	defer u.wg.Done()
	defer unix.Munmap(r.mem)
	var g groBurst
	for {
		if err := sock.rc.Read(r.read); err != nil {
			return // closed
		}
		for i := range r.n {
			pkt, whole := r.packet(i)
			if !whole {
				u.pc.dropMalformed.Add(1)
				continue
			}
			var from netip.Addr
			if outer4 {
				payload, src, _, err := stripIPv4(pkt)
				if err != nil {
					u.pc.dropMalformed.Add(1)
					continue
				}
				pkt, from = payload, src
			} else {
				from = netip.AddrFrom16(r.names[i].Addr)
			}
			t := u.peer(from)
			inner, ok := t.accept(pkt, innerVersion, u.pc)
			if !ok {
				continue
			}
			if !u.tunVnet {
				u.tun.Write(inner)
				continue
			}
			// The inner packet lies in slot i at least vnetHdrLen bytes
			// from its start: the header goes in front of it, and a TCP
			// burst grows behind it (gro.go).
			slot := r.slots[i]
			start := len(slot) - cap(inner)
			if start < vnetHdrLen {
				u.pc.dropMalformed.Add(1) // not in its slot: cannot happen
				continue
			}
			if ipLen, hdrLen, ok := groCandidate(inner); ok {
				if g.active() && g.join(inner, ipLen, hdrLen) {
					continue
				}
				if g.active() {
					u.tun.Write(g.finish())
				}
				g.begin(slot, start, inner, ipLen, hdrLen)
				continue
			}
			if g.active() {
				u.tun.Write(g.finish())
			}
			frame := slot[start-vnetHdrLen : start+len(inner)]
			clear(frame[:vnetHdrLen])
			u.tun.Write(frame)
		}
		if g.active() {
			u.tun.Write(g.finish())
		}
	}
}

// route finds the tunnel for a packet read from the TUN device (see
// plane.route). The forwarding loops use only route, peer and udpPeer.
func (u *Userspace) route(pkt []byte) (*planeTunnel, innerHeader, []byte, bool) {
	return u.plane.route(pkt)
}

// peer returns the raw-socket tunnel whose outer peer is from (nil: none).
func (u *Userspace) peer(from netip.Addr) *planeTunnel { return u.plane.peer(from) }

// udpPeer returns the UDP tunnel whose outer peer is from (nil: none).
func (u *Userspace) udpPeer(from netip.AddrPort) *planeTunnel { return u.plane.udpPeer(from) }

// InjectUDP feeds a packet that arrived on the daemon's UDP socket from
// outer endpoint from (payload = the inner IPv4 or IPv6 packet, RFC 5555
// section 4.1) into the plane. The daemon reads that socket and passes
// data packets here; signalling (inner IPv6 carrying a Mobility Header) it
// keeps. Unknown peers and filtered sources are counted and dropped.
func (u *Userspace) InjectUDP(from netip.AddrPort, pkt []byte) {
	if u.closed.Load() {
		return
	}
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port()) // an AF_INET6 socket reports ::ffff:a.b.c.d
	t := u.udpPeer(from)
	inner, ok := t.accept(pkt, 0, u.pc)
	if !ok {
		return
	}
	if u.tunVnet {
		u.injMu.Lock()
		u.inj.writeWithHeader(inner)
		u.injMu.Unlock()
		return
	}
	u.tun.Write(inner)
}
