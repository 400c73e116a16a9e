// Command loadgen plays N mobile routers against a real home agent (the
// ha binary) to measure it at fleet scale (issue 9, BENCHMARKS.md).
//
// It makes its own two network namespaces joined by a veth pair (names
// unique to the run, removed on exit), writes an ha.toml with N
// [[mobile_router]] entries (own NAI, SPI and key each, one implicit /64
// mobile network prefix each), starts the ha binary in the home agent's
// namespace and, from the other one, sends RFC 4285-authenticated Binding
// Updates (mnha.Signer, mh.BuildPacket, a header-included raw socket, Home
// Address option) from care-of addresses spread over 2001:db8:f0::/48,
// which the loadgen namespace accepts as local (`ip -6 route add local`)
// so the Binding Acknowledgements come back; it receives them on the
// protocol-43 raw socket (type 2 routing header) and verifies them.
//
// Phases: first registrations as fast as the home agent answers (a window
// of outstanding BUs), deregistrations, first registrations again at half
// the measured rate, a steady refresh load, moves to new care-of
// addresses, a restart with the saved binding cache, deregistrations, and
// a few first registrations with duplicate address detection on. It
// prints one table; -json writes the same figures as JSON.
//
// Usage (root):
//
//	go build -o /tmp/ha ./cmd/ha
//	go run ./bench/loadgen -ha /tmp/ha -n 10000
package main
