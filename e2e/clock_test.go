package e2e

import (
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
)

// A wall-clock jump cannot be staged here: the namespaces share the host's
// CLOCK_REALTIME, and a time namespace (unshare --time) offsets only
// CLOCK_MONOTONIC and CLOCK_BOOTTIME. What can be checked is the property
// that makes a jump harmless: the protocol timers compare time.Time values
// taken from time.Now, which carry Go's monotonic reading, and nothing
// strips that reading or reads the wall clock, except where the protocol or
// a restart needs wall time.
//
// TestClockWallTimeUses type-checks the daemons' protocol packages and
// lists every operation that yields or works on wall-clock time only: the
// time.Time methods that strip the monotonic reading (Round, Truncate, UTC,
// Local, In, AddDate) or return wall time (Unix*, Date, Clock, Year…,
// Format, Marshal*, Append*), and the functions that build a wall time
// (time.Unix*, time.Date, time.Parse*). Each must be in wallTimeAllowed
// with its reason; a new one fails the test until it is reviewed. What it
// does not see: a time.Time passed to encoding/json or another package
// (the home agent's state file does that, and rebases on load), and a
// comparison of two times that came from the wall clock elsewhere.
func TestClockWallTimeUses(t *testing.T) {
	root := ModuleRoot()
	pkgs := []string{"mrouter", "ha", "mnha", "internal/mrd", "internal/had"}
	exports, goFiles := exportData(t, root, pkgs)
	var found []string
	for _, dir := range pkgs {
		found = append(found, wallTimeUses(t, root, dir, exports, goFiles[dir])...)
	}
	sort.Strings(found)
	for _, f := range found {
		if _, ok := wallTimeAllowed[f]; !ok {
			t.Errorf("wall-clock time use not reviewed: %s (a protocol timer must compare time.Now values with their monotonic reading; if this one must use wall time, add it to wallTimeAllowed with the reason)", f)
		}
	}
	for k := range wallTimeAllowed {
		if !slices.Contains(found, k) {
			t.Errorf("wallTimeAllowed lists %s, which no longer exists: remove it", k)
		}
	}
	t.Logf("checked %v: %d wall-clock uses, all reviewed: %v", pkgs, len(found), found)
}

// wallTimeAllowed are the reviewed wall-clock uses, "dir/file.go:Func:op".
var wallTimeAllowed = map[string]string{
	// RFC 4285 section 6: the Replay Protection option carries an NTP
	// timestamp, wall time by definition (the 144 status handles a wrong
	// clock).
	"mnha/ntp.go:NTPTime:time.Time.Unix":       "RFC 4285 timestamp",
	"mnha/ntp.go:NTPTime:time.Time.Nanosecond": "RFC 4285 timestamp",
}

var (
	wallMethods = []string{"Round", "Truncate", "UTC", "Local", "In", "AddDate", "Unix", "UnixNano", "UnixMilli",
		"UnixMicro", "Date", "Clock", "Year", "Month", "Day", "Hour", "Minute", "Second", "Nanosecond", "YearDay",
		"Weekday", "ISOWeek", "Zone", "Format", "AppendFormat", "MarshalJSON", "MarshalText", "MarshalBinary",
		"AppendText", "AppendBinary", "GoString", "String"}
	wallFuncs = []string{"Unix", "UnixMilli", "UnixMicro", "Date", "Parse", "ParseInLocation"}
)

// exportData maps every package the checked packages depend on to its
// export data file (built by go list -export, from the build cache).
func exportData(t *testing.T, root string, pkgs []string) (exports map[string]string, goFiles map[string][]string) {
	t.Helper()
	args := []string{"list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}\t{{.Dir}}\t{{join .GoFiles \" \"}}"}
	for _, p := range pkgs {
		args = append(args, "./"+p)
	}
	cmd := exec.Command(goTool(), args...)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go list -export: %v\n%s", err, stderr)
	}
	exports, goFiles = map[string]string{}, map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(l, "\t")
		if len(f) != 4 {
			continue
		}
		exports[f[0]] = f[1]
		if rel, err := filepath.Rel(root, f[2]); err == nil && slices.Contains(pkgs, filepath.ToSlash(rel)) {
			goFiles[filepath.ToSlash(rel)] = strings.Fields(f[3])
		}
	}
	return exports, goFiles
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

func wallTimeUses(t *testing.T, root, dir string, exports map[string]string, names []string) []string {
	t.Helper()
	fset := token.NewFileSet()
	var files []*ast.File
	for _, n := range names {
		f, err := parser.ParseFile(fset, filepath.Join(root, dir, n), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		t.Fatalf("%s: no Go files", dir)
	}
	lookup := func(path string) (io.ReadCloser, error) {
		p, ok := exports[path]
		if !ok || p == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(p)
	}
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}, Selections: map[*ast.SelectorExpr]*types.Selection{}}
	conf := types.Config{Importer: importer.ForCompiler(fset, "gc", lookup)}
	if _, err := conf.Check(dir, fset, files, info); err != nil {
		t.Fatalf("type-checking %s: %v", dir, err)
	}
	var out []string
	for i, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			fd, ok := n.(*ast.FuncDecl)
			if !ok {
				return true
			}
			ast.Inspect(fd, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if s, ok := info.Selections[sel]; ok && s.Kind() == types.MethodVal {
					if isTimeTime(s.Recv()) && slices.Contains(wallMethods, sel.Sel.Name) {
						out = append(out, dir+"/"+names[i]+":"+fd.Name.Name+":time.Time."+sel.Sel.Name)
					}
					return true
				}
				if obj, ok := info.Uses[sel.Sel]; ok {
					if fn, ok := obj.(*types.Func); ok && fn.Pkg() != nil && fn.Pkg().Path() == "time" &&
						fn.Type().(*types.Signature).Recv() == nil && slices.Contains(wallFuncs, fn.Name()) {
						out = append(out, dir+"/"+names[i]+":"+fd.Name.Name+":time."+fn.Name())
					}
				}
				return true
			})
			return false
		})
	}
	return out
}

func isTimeTime(typ types.Type) bool {
	if p, ok := typ.(*types.Pointer); ok {
		typ = p.Elem()
	}
	n, ok := typ.(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "time" && n.Obj().Name() == "Time"
}
