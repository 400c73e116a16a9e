package e2e

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
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
	var found []string
	for _, dir := range pkgs {
		found = append(found, wallTimeUses(t, root, dir)...)
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
	"mnha/ntp.go:ntpTimestamp:time.Time.Unix": "RFC 4285 timestamp",
}

var (
	wallMethods = []string{"Round", "Truncate", "UTC", "Local", "In", "AddDate", "Unix", "UnixNano", "UnixMilli",
		"UnixMicro", "Date", "Clock", "Year", "Month", "Day", "Hour", "Minute", "Second", "Nanosecond", "YearDay",
		"Weekday", "ISOWeek", "Zone", "Format", "AppendFormat", "MarshalJSON", "MarshalText", "MarshalBinary",
		"AppendText", "AppendBinary", "GoString", "String"}
	wallFuncs = []string{"Unix", "UnixMilli", "UnixMicro", "Date", "Parse", "ParseInLocation"}
)

func wallTimeUses(t *testing.T, root, dir string) []string {
	t.Helper()
	fset := token.NewFileSet()
	ents, err := os.ReadDir(filepath.Join(root, dir))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	var names []string
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		if strings.HasSuffix(strings.TrimSuffix(n, ".go"), "_other") {
			continue // the non-Linux stubs duplicate the Linux files' names
		}
		f, err := parser.ParseFile(fset, filepath.Join(root, dir, n), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
		names = append(names, n)
	}
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}, Selections: map[*ast.SelectorExpr]*types.Selection{}}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil), Error: func(error) {}}
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
