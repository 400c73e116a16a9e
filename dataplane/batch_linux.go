package dataplane

import (
	"encoding/binary"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Batched I/O of the userspace plane: packets read from the TUN device
// (and the segments of TSO bursts) queue in a txBatch and leave with one
// sendmmsg per run of packets for the same raw socket; raw sockets are read
// with recvmmsg into an rxBatch. The buffers are anonymous mappings made
// once: pages the traffic never touches cost address space, not memory,
// which matters on a router (a 64 KiB slot that only ever holds 1280-byte
// packets costs one page).

const (
	// txBatchSize is how many packets (or TSO segments) a txBatch holds
	// before it sends them.
	txBatchSize = 64
	// rxBatchSize is how many packets one recvmmsg may return.
	rxBatchSize = 32
	// rxSlotSize holds the largest IP packet plus an outer IPv4 header
	// and room for a virtio-net header in front.
	rxSlotSize = (vnetHdrLen + recvBufferSize + 63) &^ 63
)

// mapBuffer returns n bytes of anonymous memory (see above); release it
// with unix.Munmap once nothing reads or writes it any more.
func mapBuffer(n int) ([]byte, error) {
	return unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
}

// txBatch queues outer packets for sendmmsg. Each entry has its own slot
// (one MTU-sized buffer the packet is copied or segmented into), control
// buffer and tunnel; entries for UDP tunnels go through the UDPSender one
// by one when the batch is sent.
type txBatch struct {
	msgs  [txBatchSize]unix.Mmsghdr
	iovs  [txBatchSize]unix.Iovec
	ctrl  [txBatchSize][maxControl / 8]uint64 // 8-byte aligned for cmsghdr
	slots [txBatchSize][]byte
	sizes [txBatchSize]int
	socks [txBatchSize]*rawSocket // nil: a UDP tunnel's packet
	tuns  [txBatchSize]*planeTunnel
	n     int
	mem   []byte

	// the current sendmmsg call, for the preallocated callback
	from, to, sent int
	errno          syscall.Errno
	write          func(fd uintptr) bool
}

// newTxBatch makes a batch whose slots hold slotSize bytes each.
func newTxBatch(slotSize int) (*txBatch, error) {
	slotSize = (slotSize + 63) &^ 63
	mem, err := mapBuffer(slotSize * txBatchSize)
	if err != nil {
		return nil, err
	}
	b := &txBatch{mem: mem}
	for i := range b.slots {
		b.slots[i] = mem[i*slotSize : (i+1)*slotSize : (i+1)*slotSize]
		b.msgs[i].Hdr.Iov = &b.iovs[i]
		b.msgs[i].Hdr.SetIovlen(1)
	}
	b.write = func(fd uintptr) bool {
		n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.msgs[b.from])), uintptr(b.to-b.from), 0, 0, 0)
		if e == unix.EAGAIN {
			return false
		}
		b.sent, b.errno = int(n), e
		return true
	}
	return b, nil
}

// free is how many entries are left.
func (b *txBatch) free() int { return txBatchSize - b.n }

// add queues the packet in slot b.n (sizes[b.n] bytes, already there) for
// tunnel t on sock (nil for a UDP tunnel) with traffic class tc.
func (b *txBatch) add(sock *rawSocket, t *planeTunnel, tc uint8) {
	i := b.n
	b.socks[i], b.tuns[i] = sock, t
	b.iovs[i].Base = &b.slots[i][0]
	b.iovs[i].SetLen(b.sizes[i])
	if sock != nil {
		h := &b.msgs[i].Hdr
		ctrl := unsafe.Slice((*byte)(unsafe.Pointer(&b.ctrl[i][0])), maxControl)
		n := copy(ctrl, t.tx.ctrl)
		binary.NativeEndian.PutUint32(ctrl[t.tx.tcOff:], uint32(tc))
		if t.cfg.Encap == IP6IP6 {
			h.Name = (*byte)(unsafe.Pointer(&t.tx.sa6))
			h.Namelen = unix.SizeofSockaddrInet6
		} else {
			h.Name = (*byte)(unsafe.Pointer(&t.tx.sa4))
			h.Namelen = unix.SizeofSockaddrInet4
		}
		h.Control = &ctrl[0]
		h.SetControllen(n)
	}
	b.n++
}

// flush sends every queued packet, counts them on their tunnels and
// empties the batch. udp is the UDP sender at this moment (nil: none).
func (b *txBatch) flush(udp UDPSender) {
	for i := 0; i < b.n; {
		if b.socks[i] == nil {
			t := b.tuns[i]
			if udp == nil {
				t.ctr.txErrors.Add(1)
			} else if _, err := udp.WriteToUDPAddrPort(b.slots[i][:b.sizes[i]], t.cfg.UDPRemote); err != nil {
				t.ctr.txErrors.Add(1)
			} else {
				t.ctr.txPackets.Add(1)
				t.ctr.txBytes.Add(uint64(b.sizes[i]))
			}
			i++
			continue
		}
		j := i + 1
		for j < b.n && b.socks[j] == b.socks[i] {
			j++
		}
		b.from, b.to, b.sent, b.errno = i, j, 0, 0
		if err := b.socks[i].rc.Write(b.write); err != nil {
			for ; i < j; i++ { // socket closed
				b.tuns[i].ctr.txErrors.Add(1)
			}
			continue
		}
		if b.errno != 0 || b.sent <= 0 {
			// The first packet failed: count it and go on after it.
			b.tuns[i].ctr.txErrors.Add(1)
			i++
			continue
		}
		for k := i; k < i+b.sent; k++ {
			b.tuns[k].ctr.txPackets.Add(1)
			b.tuns[k].ctr.txBytes.Add(uint64(b.sizes[k]))
		}
		i += b.sent
	}
	for i := range b.n {
		b.tuns[i], b.socks[i] = nil, nil
	}
	b.n = 0
}

// rxBatch receives packets and their source addresses with recvmmsg. Slot
// i's packet starts at offset vnetHdrLen, so that a virtio-net header can
// go in front of an inner packet without copying.
type rxBatch struct {
	msgs  [rxBatchSize]unix.Mmsghdr
	iovs  [rxBatchSize]unix.Iovec
	names [rxBatchSize]unix.RawSockaddrInet6
	slots [rxBatchSize][]byte
	mem   []byte

	n     int
	errno syscall.Errno
	read  func(fd uintptr) bool
}

func newRxBatch() (*rxBatch, error) {
	mem, err := mapBuffer(rxSlotSize * rxBatchSize)
	if err != nil {
		return nil, err
	}
	r := &rxBatch{mem: mem}
	for i := range r.slots {
		r.slots[i] = mem[i*rxSlotSize : (i+1)*rxSlotSize : (i+1)*rxSlotSize]
		r.iovs[i].Base = &r.slots[i][vnetHdrLen]
		r.iovs[i].SetLen(rxSlotSize - vnetHdrLen)
		r.msgs[i].Hdr.Iov = &r.iovs[i]
		r.msgs[i].Hdr.SetIovlen(1)
		r.msgs[i].Hdr.Name = (*byte)(unsafe.Pointer(&r.names[i]))
	}
	r.read = func(fd uintptr) bool {
		for i := range r.msgs {
			r.msgs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
			r.msgs[i].Hdr.Flags = 0
		}
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.msgs[0])), rxBatchSize, unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EAGAIN {
			return false
		}
		r.n, r.errno = int(n), e
		if e != 0 {
			r.n = 0
		}
		return true
	}
	return r, nil
}

// packet returns packet i of the last read (without the header room) and
// whether it arrived whole.
func (r *rxBatch) packet(i int) ([]byte, bool) {
	m := &r.msgs[i]
	return r.slots[i][vnetHdrLen : vnetHdrLen+int(m.Len)], m.Hdr.Flags&unix.MSG_TRUNC == 0
}

// from6 returns the IPv6 source address of packet i.
func (r *rxBatch) from6(i int) [16]byte { return r.names[i].Addr }
