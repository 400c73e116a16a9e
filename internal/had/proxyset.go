package had

import (
	"net/netip"
	"sync"
)

// proxySet is the set of home addresses the home agent answers Neighbor
// Solicitations for (RFC 6275 10.4.1), with their router flag: written by
// the event loop with each data-plane update, read by the ND proxy's
// goroutine for each solicitation.
type proxySet struct {
	mu sync.RWMutex
	m  map[netip.Addr]bool
}

func newProxySet() *proxySet { return &proxySet{m: make(map[netip.Addr]bool)} }

func (s *proxySet) set(a netip.Addr, router bool) {
	s.mu.Lock()
	s.m[a] = router
	s.mu.Unlock()
}

func (s *proxySet) del(a netip.Addr) {
	s.mu.Lock()
	delete(s.m, a)
	s.mu.Unlock()
}

// lookup implements transport.NDProxyConfig.Lookup.
func (s *proxySet) lookup(a netip.Addr) (router, ok bool) {
	s.mu.RLock()
	router, ok = s.m[a]
	s.mu.RUnlock()
	return router, ok
}

func (s *proxySet) len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m)
}
