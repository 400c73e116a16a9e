// Package archtest runs the wire codecs' tests on a big-endian 32-bit CPU.
//
// Most routers this project targets are big-endian MIPS. Byte-order and
// word-size mistakes in the codecs cannot show on amd64, so this test
// cross-compiles the test binaries of the pure wire packages for
// GOARCH=mips (softfloat, as OpenWrt's mips_24kc) and runs them under
// qemu-mips-static from Debian's qemu-user-static.
package archtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/nemo-mobility/nemo/internal/testutil"
)

// crossPackages are the packages whose tests must pass on big-endian MIPS:
// the wire codecs and the two pure protocol cores.
// Their tests that need root, namespaces or external decoders are left to
// the native run (skipPattern): under qemu-user they would only re-test the
// host's tools.
var crossPackages = []string{"mh", "ndp", "ha", "mrouter"}

// skipPattern names the tests that drive external programs or namespaces.
const skipPattern = "Tshark|Scapy|Radvd|KnownAnswer"

func moduleRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func TestQEMUBigEndianMIPS(t *testing.T) {
	qemu := testutil.RequireTool(t, "qemu-mips-static")
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	root := moduleRoot(t)
	tmp := t.TempDir()
	for _, pkg := range crossPackages {
		t.Run(pkg, func(t *testing.T) {
			bin := filepath.Join(tmp, pkg+".test")
			build := exec.Command(goBin, "test", "-c", "-o", bin, "./"+pkg)
			build.Dir = root
			build.Env = append(os.Environ(), "GOOS=linux", "GOARCH=mips", "GOMIPS=softfloat", "CGO_ENABLED=0")
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("cross-compiling %s tests for mips: %v\n%s", pkg, err, out)
			}
			run := exec.Command(qemu, bin, "-test.count=1", "-test.skip", skipPattern)
			run.Dir = filepath.Join(root, pkg) // tests read testdata/ relative to their package
			out, err := run.CombinedOutput()
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			t.Logf("qemu-mips %s: %s", pkg, lines[len(lines)-1])
			if err != nil {
				t.Fatalf("%s tests failed on big-endian MIPS under qemu: %v\n%s", pkg, err, out)
			}
			if !strings.Contains(string(out), "PASS") {
				t.Fatalf("%s tests on MIPS printed no PASS:\n%s", pkg, out)
			}
		})
	}
}
