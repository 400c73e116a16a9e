package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// baseMR is a minimal valid mobile router configuration. Line numbers
// matter: the error tables below refer to them.
const baseMR = `[mrouter]
home_address = "2001:db8:1::100"
home_prefix = "2001:db8:1::/64"

[[home_agent]]
address = "2001:db8:1::1"

[[uplink]]
name = "lte"
interface = "wwan0"
`

// baseHA is a minimal valid home agent configuration.
const baseHA = `[ha]
address = "2001:db8:1::1"
home_prefix = "2001:db8:1::/64"
home_interface = "eth1"
ipv4_address = "192.0.2.1"

[[mobile_router]]
nai = "mr1@example.net"
home_address = "2001:db8:1::100"
prefixes = ["2001:db8:10::/64"]
spi = 1001
key = "00112233445566778899aabbccddeeff"
`

// insertAfter inserts text (one or more lines) after line n of doc, so
// that its first line becomes line n+1.
func insertAfter(doc string, n int, text string) string {
	lines := strings.SplitAfter(doc, "\n")
	if n > len(lines) {
		panic("insertAfter: line out of range")
	}
	return strings.Join(lines[:n], "") + strings.TrimSuffix(text, "\n") + "\n" + strings.Join(lines[n:], "")
}

// replaceLine replaces line n (1-based) of doc.
func replaceLine(doc string, n int, text string) string {
	lines := strings.Split(doc, "\n")
	lines[n-1] = text
	return strings.Join(lines, "\n")
}

// deleteLine removes line n (1-based) of doc.
func deleteLine(doc string, n int) string {
	lines := strings.Split(doc, "\n")
	return strings.Join(append(lines[:n-1:n-1], lines[n:]...), "\n")
}

// wantErr describes one expected FieldError.
type wantErr struct {
	key  string
	line int
	kind error
	msg  string // substring of the message
}

// checkHas fails t unless err contains a FieldError matching w, and checks
// that the error text names file, line and key.
func checkHas(t *testing.T, err error, file string, w wantErr) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %s at line %d (%v)", w.key, w.line, w.kind)
	}
	if !errors.Is(err, w.kind) {
		t.Errorf("errors.Is(err, %v) = false; err:\n%v", w.kind, err)
	}
	for _, fe := range FieldErrors(err) {
		if fe.Key != w.key || fe.Kind != w.kind {
			continue
		}
		if fe.Line != w.line {
			t.Errorf("%s: line %d, want %d (%v)", w.key, fe.Line, w.line, fe)
		}
		if !strings.Contains(fe.Msg, w.msg) {
			t.Errorf("%s: message %q does not contain %q", w.key, fe.Msg, w.msg)
		}
		prefix := file
		if w.line > 0 {
			prefix += fmt.Sprintf(":%d", w.line)
		}
		prefix += ": " + w.key + ": "
		if !strings.HasPrefix(fe.Error(), prefix) {
			t.Errorf("Error() = %q, want prefix %q", fe.Error(), prefix)
		}
		if fe.File != file {
			t.Errorf("File = %q, want %q", fe.File, file)
		}
		return
	}
	t.Errorf("no %v error for key %q; got:\n%v", w.kind, w.key, err)
}

// writeFile writes data to dir/name with mode perm and returns the path.
func writeFile(t *testing.T, dir, name string, data []byte, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, perm); err != nil {
		t.Fatal(err)
	}
	// WriteFile's perm is filtered by the umask; set it exactly.
	if err := os.Chmod(p, perm); err != nil {
		t.Fatal(err)
	}
	return p
}
