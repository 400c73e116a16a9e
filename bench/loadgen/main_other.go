//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "loadgen: Linux only (network namespaces, raw sockets)")
	os.Exit(1)
}
