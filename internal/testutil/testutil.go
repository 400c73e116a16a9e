// Package testutil holds the few helpers every package's tests share.
//
// The rule they enforce: a test that needs root or an external tool skips
// loudly on a developer machine that lacks it, and fails in CI (CI=true),
// where .ci/run installs every tool and runs as root. A skipped test is
// never counted as passed there.
package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true in the environment).
func InCI() bool { return os.Getenv("CI") == "true" }

// missing skips t loudly, or fails it under CI.
func missing(t testing.TB, what string) {
	t.Helper()
	if InCI() {
		t.Fatalf("REQUIRED IN CI: %s", what)
	}
	t.Skipf("SKIPPED (not a pass): %s", what)
}

// RequireRoot skips (or, in CI, fails) t unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "this test needs root (run: sudo make test)")
	}
}

// RequireTool returns the absolute path of the named executable, or skips
// (in CI, fails) t when it is not installed.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, name+" is not installed (run .ci/run or apt-get install it)")
	}
	return p
}

// Python returns a python3 interpreter that can import scapy (Debian's
// python3-scapy lives under /usr/bin/python3, which a pyenv shim on PATH
// may hide), or skips (in CI, fails) t.
func Python(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if path, err := exec.LookPath(p); err == nil {
			if exec.Command(path, "-c", "import scapy.all").Run() == nil {
				return path
			}
		}
	}
	missing(t, "python3 with scapy is not installed (apt-get install python3-scapy)")
	return ""
}
