// Package version holds the build's version string, stamped by the Makefile
// with -ldflags "-X github.com/nemo-mobility/nemo/internal/version.Version=…".
package version

import "runtime"

// Version is the release version (X.Y.Z or X.Y.Z-rN); "dev" when unstamped.
var Version = "dev"

// String returns the version line printed by `--version`.
func String(prog string) string {
	return prog + " " + Version + " (" + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")"
}
