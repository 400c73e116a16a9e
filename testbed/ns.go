package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// netnsDir is where "ip netns" keeps its named namespaces.
const netnsDir = "/run/netns"

// staleName matches the default namespace names: nb<pid>-node or
// nb<pid>s<n>-node.
var staleName = regexp.MustCompile(`^nb([0-9]{1,10})(?:s[0-9]+)?-`)

// listNS returns the named network namespaces.
func listNS() ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("testbed: listing namespaces: %w", err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names, nil
}

// ListNamespaces returns the named network namespaces whose name starts with
// prefix.
func ListNamespaces(prefix string) ([]string, error) {
	all, err := listNS()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range all {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out, nil
}

// nsPids returns the processes inside a named namespace.
func nsPids(ns string) ([]int, error) {
	out, err := runCmd(context.Background(), 10*time.Second, nil, "ip", "netns", "pids", ns)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(out) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// removeNS kills every process inside ns and deletes it. A namespace that
// does not exist is not an error.
func removeNS(ns string) error {
	if _, err := os.Stat(filepath.Join(netnsDir, ns)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	for range 20 {
		pids, err := nsPids(ns)
		if err != nil || len(pids) == 0 {
			break
		}
		for _, pid := range pids {
			_ = killPid(pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if pids, _ := nsPids(ns); len(pids) > 0 {
		return fmt.Errorf("testbed: namespace %s: processes %v survive SIGKILL: %w", ns, pids, ErrTimeout)
	}
	if _, err := runCmd(context.Background(), 10*time.Second, nil, "ip", "netns", "del", ns); err != nil {
		if _, serr := os.Stat(filepath.Join(netnsDir, ns)); errors.Is(serr, os.ErrNotExist) {
			return nil
		}
		return err
	}
	return nil
}

// SweepStale removes the namespaces, and every process in them, that a
// crashed or killed run left behind: those whose name starts with prefix
// ("" for all), has the default form nb<pid>-… or nb<pid>s<n>-…, and whose
// pid no longer runs (or is this process but no live Testbed owns it). It
// also removes such runs' default run directories. It returns the
// namespaces it removed.
func SweepStale(prefix string) ([]string, error) {
	names, err := ListNamespaces(prefix)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, name := range names {
		if !isStale(name) {
			continue
		}
		if err := removeNS(name); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, name)
	}
	// Default run directories carry the prefix too.
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), runDirPrefix+prefix+"*"))
	for _, dir := range dirs {
		if isStale(strings.TrimPrefix(filepath.Base(dir), runDirPrefix)) {
			if err := os.RemoveAll(dir); err != nil {
				errs = append(errs, fmt.Errorf("testbed: removing stale run dir: %w", err))
			}
		}
	}
	return removed, errors.Join(errs...)
}

// runDirPrefix starts the name of a default run directory, followed by the
// namespace prefix.
const runDirPrefix = "nemo-testbed-"

func isStale(name string) bool {
	m := staleName.FindStringSubmatch(name)
	if m == nil {
		return false
	}
	pid, err := strconv.Atoi(m[1])
	if err != nil {
		return false
	}
	if pid == os.Getpid() {
		liveMu.Lock()
		defer liveMu.Unlock()
		for tb := range live {
			if strings.HasPrefix(name, tb.prefix) {
				return false
			}
		}
		return true
	}
	_, err = os.Stat("/proc/" + strconv.Itoa(pid))
	return errors.Is(err, os.ErrNotExist)
}

var signalOnce sync.Once

// installSignalHandler makes SIGINT and SIGTERM close every live testbed
// and then end the process with the same signal.
func installSignalHandler() {
	signalOnce.Do(func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		go func() {
			sig := <-ch
			CloseAll()
			signal.Reset(sig)
			raise(sig)
			time.Sleep(time.Second)
			os.Exit(130)
		}()
	})
}

// CloseAll closes every live testbed of this process, e.g. from a signal
// handler of the caller's own.
func CloseAll() {
	liveMu.Lock()
	var tbs []*Testbed
	for tb := range live {
		tbs = append(tbs, tb)
	}
	liveMu.Unlock()
	var wg sync.WaitGroup
	for _, tb := range tbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = tb.Close()
		}()
	}
	wg.Wait()
}
