// Package tunnel measures the data plane MNN→CN in the namespace testbed
// with the real daemons (BENCHMARKS.md), three paths in one run: plain
// routed forwarding with the mobile router at home, the userspace tunnel
// with the mobile router on FN2, and wireguard-go (bench/wgcompare, its own
// module) between the same two namespaces with the daemons stopped. Each
// path gets bulk TCP and 64-byte UDP (iperf3 -u -l 64 -b 0), the median of
// several runs each, and the ratios. It is built only with the benchsystem
// tag (scripts/bench.sh), so it is not part of go test ./..., and asserts no
// timing: only that traffic arrives and, for the tunnels, that it took the
// tunnel device.
package tunnel
