package testbed

import (
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/nemo-mobility/nemo/internal/testutil"
)

// RequiredTools are the external programs New needs.
var RequiredTools = []string{"ip", "sysctl", "radvd", "dnsmasq", "nft"}

// NewT builds a testbed for a test: it skips (or, under CI=true, fails) t
// without root or a required tool, logs through t.Logf, keeps the run dir
// under t.TempDir, handles Ctrl-C, and registers Close with t.Cleanup. When
// the test failed, the cleanup first logs the tail of every process log.
func NewT(t testing.TB, opts Options) *Testbed {
	t.Helper()
	testutil.RequireRoot(t)
	for _, tool := range RequiredTools {
		testutil.RequireTool(t, tool)
	}
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	if opts.RunDir == "" {
		opts.RunDir = t.TempDir()
	}
	opts.HandleSignals = true
	tb, err := New(opts)
	if err != nil {
		t.Fatalf("building the testbed: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			tb.dumpLogs(t.Logf)
		}
		if err := tb.Close(); err != nil {
			t.Errorf("closing the testbed: %v", err)
		}
	})
	return tb
}

// dumpLogs writes the last lines of every process log to logf.
func (tb *Testbed) dumpLogs(logf func(string, ...any)) {
	tb.mu.Lock()
	procs := append([]*Proc(nil), tb.procs...)
	tb.mu.Unlock()
	sort.Slice(procs, func(i, j int) bool { return procs[i].logPath < procs[j].logPath })
	for _, p := range procs {
		b, err := os.ReadFile(p.logPath)
		if err != nil || len(b) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 20 {
			lines = lines[len(lines)-20:]
		}
		logf("--- %s (%s) ---\n%s", p.logPath, p.node, strings.Join(lines, "\n"))
	}
}
