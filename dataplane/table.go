package dataplane

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"slices"
	"sync/atomic"
)

// The userspace plane's forwarding tables are read by the packet loops
// without locks and changed a few entries at a time by the control path.
// A table is split into shards, each an immutable map behind an atomic
// pointer: a reader loads one shard per lookup; a writer copies only the
// shards it touches (a change to one binding of 100,000 copies a few
// dozen entries, not the whole table) and publishes them when it commits.

// DefaultTableShards is the number of shards of each forwarding table
// unless UserspaceOptions say otherwise: enough for a mobile router's few
// entries. A home agent sizes its tables for its fleet (about one shard
// per 8 bindings keeps a change's copy small).
const DefaultTableShards = 64

// shardMap is a map from K to V split into immutable shards. hash maps a
// key to its shard.
type shardMap[K comparable, V any] struct {
	shards []atomic.Pointer[map[K]V]
	mask   uint32
	hash   func(K) uint32
}

// init sizes the map to n shards, rounded up to a power of two.
func (m *shardMap[K, V]) init(n int, hash func(K) uint32) {
	size := 1
	for size < n && size < 1<<20 {
		size <<= 1
	}
	m.shards = make([]atomic.Pointer[map[K]V], size)
	m.mask = uint32(size - 1)
	m.hash = hash
}

// get looks k up. It does not allocate.
func (m *shardMap[K, V]) get(k K) (v V, ok bool) {
	p := m.shards[m.hash(k)&m.mask].Load()
	if p == nil {
		return v, false
	}
	v, ok = (*p)[k]
	return v, ok
}

// len counts the entries (O(shards); for stats and tests).
func (m *shardMap[K, V]) len() int {
	n := 0
	for i := range m.shards {
		if p := m.shards[i].Load(); p != nil {
			n += len(*p)
		}
	}
	return n
}

// shardTx is a set of changes to a shardMap, visible to readers only at
// commit. One writer at a time (the caller serialises).
type shardTx[K comparable, V any] struct {
	m     *shardMap[K, V]
	dirty map[uint32]map[K]V
}

func (m *shardMap[K, V]) begin() *shardTx[K, V] {
	return &shardTx[K, V]{m: m, dirty: make(map[uint32]map[K]V)}
}

// shard returns the writable copy of k's shard.
func (tx *shardTx[K, V]) shard(k K) map[K]V {
	i := tx.m.hash(k) & tx.m.mask
	if d, ok := tx.dirty[i]; ok {
		return d
	}
	var d map[K]V
	if p := tx.m.shards[i].Load(); p != nil {
		d = make(map[K]V, len(*p)+1)
		for k, v := range *p {
			d[k] = v
		}
	} else {
		d = make(map[K]V, 1)
	}
	tx.dirty[i] = d
	return d
}

// get looks k up as the transaction sees it.
func (tx *shardTx[K, V]) get(k K) (V, bool) {
	if d, ok := tx.dirty[tx.m.hash(k)&tx.m.mask]; ok {
		v, ok := d[k]
		return v, ok
	}
	return tx.m.get(k)
}

func (tx *shardTx[K, V]) set(k K, v V) { tx.shard(k)[k] = v }

func (tx *shardTx[K, V]) del(k K) {
	if _, ok := tx.get(k); ok {
		delete(tx.shard(k), k)
	}
}

// commit publishes the changed shards.
func (tx *shardTx[K, V]) commit() {
	for i, d := range tx.dirty {
		if len(d) == 0 {
			tx.m.shards[i].Store(nil)
			continue
		}
		tx.m.shards[i].Store(&d)
	}
	clear(tx.dirty)
}

// reset empties the map (not concurrently with a transaction).
func (m *shardMap[K, V]) reset() {
	for i := range m.shards {
		m.shards[i].Store(nil)
	}
}

// mix finishes a 64-bit hash into a shard-friendly 32-bit one.
func mix(x uint64) uint32 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return uint32(x)
}

func hashAddr(a netip.Addr) uint32 {
	b := a.As16()
	return mix(binary.LittleEndian.Uint64(b[:8]) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(b[8:]), 29))
}

func hashAddrPort(ap netip.AddrPort) uint32 {
	return hashAddr(ap.Addr()) ^ mix(uint64(ap.Port())+0x9e3779b97f4a7c15)
}

func hashPrefix(p netip.Prefix) uint32 {
	return hashAddr(p.Addr()) ^ mix(uint64(p.Bits())+0x9e3779b97f4a7c15)
}

// routeTable is the longest-prefix-match table from inner destination to
// tunnel: a shardMap keyed by masked prefix, and the prefix lengths in use
// per family, longest first, which a lookup tries in turn.
type routeTable struct {
	m            shardMap[netip.Prefix, *planeTunnel]
	lens4, lens6 atomic.Pointer[[]int]
	// count4 and count6 count the entries per prefix length (writer only).
	count4 [33]int
	count6 [129]int
}

func newRouteTable(shards int) *routeTable {
	t := &routeTable{}
	t.m.init(shards, hashPrefix)
	return t
}

// lookup returns the tunnel of the longest prefix containing a. It does
// not allocate.
func (t *routeTable) lookup(a netip.Addr) (*planeTunnel, bool) {
	lp := t.lens6.Load()
	if a.Is4() {
		lp = t.lens4.Load()
	}
	if lp == nil {
		return nil, false
	}
	for _, n := range *lp {
		p, err := a.Prefix(n)
		if err != nil {
			continue
		}
		if v, ok := t.m.get(p); ok {
			return v, true
		}
	}
	return nil, false
}

// routeTx is a set of changes to a routeTable.
type routeTx struct {
	t       *routeTable
	m       *shardTx[netip.Prefix, *planeTunnel]
	changed bool
}

func (t *routeTable) begin() *routeTx { return &routeTx{t: t, m: t.m.begin()} }

func (tx *routeTx) get(p netip.Prefix) (*planeTunnel, bool) { return tx.m.get(p.Masked()) }

func (tx *routeTx) count(p netip.Prefix) *int {
	if p.Addr().Is4() {
		return &tx.t.count4[p.Bits()]
	}
	return &tx.t.count6[p.Bits()]
}

func (tx *routeTx) set(p netip.Prefix, v *planeTunnel) {
	p = p.Masked()
	if _, ok := tx.m.get(p); !ok {
		*tx.count(p)++
		tx.changed = true
	}
	tx.m.set(p, v)
}

func (tx *routeTx) del(p netip.Prefix) {
	p = p.Masked()
	if _, ok := tx.m.get(p); ok {
		*tx.count(p)--
		tx.changed = true
		tx.m.del(p)
	}
}

// commit publishes the entries, then the prefix lengths in use (a lookup
// in between tries a length with no entry, or misses a new one: both only
// for that instant).
func (tx *routeTx) commit() {
	tx.m.commit()
	if !tx.changed {
		return
	}
	lens := func(c []int) *[]int {
		var l []int
		for n, k := range c {
			if k > 0 {
				l = append(l, n)
			}
		}
		slices.Reverse(l)
		return &l
	}
	tx.t.lens4.Store(lens(tx.t.count4[:]))
	tx.t.lens6.Store(lens(tx.t.count6[:]))
	tx.changed = false
}

// reset empties the table (not concurrently with a transaction).
func (t *routeTable) reset() {
	t.m.reset()
	t.count4, t.count6 = [33]int{}, [129]int{}
	t.lens4.Store(nil)
	t.lens6.Store(nil)
}
