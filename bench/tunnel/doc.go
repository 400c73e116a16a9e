// Package tunnel measures the data plane's bulk TCP throughput MNN→CN in
// the namespace testbed with the real daemons (BENCHMARKS.md): plain
// routed forwarding with the mobile router at home against the userspace
// tunnel with the mobile router on FN2, in one run, the median of several
// transfers each. It is built only with the benchsystem tag (make bench-system), so it
// is not part of go test ./..., and asserts no timing, only that every transfer arrives whole.
package tunnel
