package ndp

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netns"
)

// Namespace helpers for this package's privileged tests. They only ever
// create, use and delete namespaces whose names they made up; the root
// namespace is never touched.

// uniqueName returns prefix-<pid>-<random hex>, short enough for a netns.
func uniqueName(t testing.TB, prefix string) string {
	t.Helper()
	var r [3]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s-%d-%s", prefix, os.Getpid(), hex.EncodeToString(r[:]))
}

// run runs a command and fails the test with its output on error.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newNetns creates a named network namespace and deletes it on cleanup,
// also when the test fails.
func newNetns(t testing.TB, prefix string) string {
	t.Helper()
	name := uniqueName(t, prefix)
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", name, err, out)
		}
	})
	return name
}

// nsRun runs a command inside namespace ns.
func nsRun(t testing.TB, ns string, args ...string) string {
	t.Helper()
	return run(t, "ip", append([]string{"netns", "exec", ns}, args...)...)
}

// inNetns runs f on an OS thread switched into namespace ns. Sockets f opens
// stay in ns after f returns. The thread is switched back and released; if
// switching back fails the thread stays locked, so the runtime retires it.
func inNetns(t testing.TB, ns string, f func() error) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		target, err := netns.GetFromName(ns)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		ferr := f()
		if err := netns.Set(orig); err != nil {
			// Leave the thread locked: it exits with this goroutine.
			errc <- fmt.Errorf("switch back from %s: %w", ns, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
