// Package tunnel measures the data plane's bulk TCP throughput MNN→CN in
// the namespace testbed with the real daemons (BENCHMARKS.md): plain
// routed forwarding with the mobile router at home against the userspace
// tunnel with the mobile router on FN2, in one run, the median of several
// transfers each. It runs only with NEMO_BENCH=1 (make bench-system) and
// asserts no timing, only that every transfer arrives whole.
package tunnel
