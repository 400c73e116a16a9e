// Package vm holds the VM harness of the kernel data plane (run.sh boots
// Debian's cloud kernel under qemu with TCG and runs the project's tests
// inside it, see init.sh) and the tests that only make sense on such a
// kernel: TestMIP6Sockets records what the daemons' signalling sockets see
// on a kernel with and without CONFIG_IPV6_MIP6.
package vm
