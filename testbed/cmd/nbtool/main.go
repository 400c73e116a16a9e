// Command nbtool is the testbed's traffic helper (ping, and TCP transfers
// whose content is checked byte for byte) as a standalone binary; see
// testbed.ToolMain. Binaries that link package testbed carry it already.
package main

import (
	"os"

	"github.com/nemo-mobility/nemo/testbed"
)

func main() {
	os.Exit(testbed.ToolMain(os.Args[1:], os.Stdout, os.Stderr))
}
