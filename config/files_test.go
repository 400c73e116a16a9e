package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// mrWithKeyFile is baseMR with an [auth] section using key_file = path;
// key_file is on line 14.
func mrWithKeyFile(path string) string {
	return appendMR(fmt.Sprintf("[auth]\nnai = \"mr@example.net\"\nspi = 300\nkey_file = %q\n", path))
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	raw := []byte("0123456789abcdef-raw-key\x00\xff") // not all hex: used as is
	hexKey := []byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	cases := []struct {
		name    string
		content []byte
		perm    os.FileMode
		want    []byte // nil: an error is expected
		kind    error
		msg     string
	}{
		{"hex with newline", []byte(fmt.Sprintf("%x\n", hexKey)), 0o600, hexKey, nil, ""},
		{"hex upper case", []byte(strings.ToUpper(fmt.Sprintf("  %x  ", hexKey))), 0o400, hexKey, nil, ""},
		{"raw bytes", raw, 0o600, raw, nil, ""},
		{"group readable", []byte(fmt.Sprintf("%x", hexKey)), 0o640, nil, ErrPermission, "mode 0640"},
		{"world readable", []byte(fmt.Sprintf("%x", hexKey)), 0o604, nil, ErrPermission, "chmod 600"},
		{"group writable", []byte(fmt.Sprintf("%x", hexKey)), 0o620, nil, ErrPermission, "mode 0620"},
		{"short hex", []byte("00112233"), 0o600, nil, ErrInvalid, "4 bytes; at least 16"},
		{"short raw", []byte("short"), 0o600, nil, ErrInvalid, "5 bytes; at least 16"},
		{"too large", make([]byte, maxKeyFileSize+1), 0o600, nil, ErrKeyFile, "larger than"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, dir, fmt.Sprintf("k%d.key", i), tc.content, tc.perm)
			c, err := ParseMRouter(mrFile, []byte(mrWithKeyFile(path)))
			if tc.want != nil {
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(c.Auth.Key.Bytes(), tc.want) {
					t.Errorf("key = %x, want %x", c.Auth.Key.Bytes(), tc.want)
				}
				return
			}
			checkHas(t, err, mrFile, wantErr{"auth.key_file", 14, tc.kind, tc.msg})
			if tc.kind == ErrPermission && !strings.Contains(err.Error(), path) {
				t.Errorf("error does not name the path %s: %v", path, err)
			}
		})
	}
}

func TestKeyFileNotReadable(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.key")
	_, err := ParseMRouter(mrFile, []byte(mrWithKeyFile(missing)))
	checkHas(t, err, mrFile, wantErr{"auth.key_file", 14, ErrKeyFile, missing})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(err, fs.ErrNotExist) = false: %v", err)
	}

	_, err = ParseMRouter(mrFile, []byte(mrWithKeyFile(dir)))
	checkHas(t, err, mrFile, wantErr{"auth.key_file", 14, ErrKeyFile, "not a regular file"})

	_, err = ParseMRouter(mrFile, []byte(mrWithKeyFile("")))
	checkHas(t, err, mrFile, wantErr{"auth.key_file", 14, ErrInvalid, "empty path"})
}

// TestKeyFileRelative checks that a relative key_file is resolved against
// the configuration file's directory, not the working directory.
func TestKeyFileRelative(t *testing.T) {
	dir := t.TempDir()
	key := []byte("0123456789abcdef0123456789abcdef")
	writeFile(t, dir, "mr.key", key, 0o600)
	cfg := writeFile(t, dir, "mrouter.toml", []byte(mrWithKeyFile("mr.key")), 0o644)
	c, err := LoadMRouter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}; !slices.Equal(c.Auth.Key.Bytes(), want) {
		t.Errorf("key = %x", c.Auth.Key.Bytes())
	}
	// The same document parsed under a name elsewhere does not find it.
	_, err = ParseMRouter(filepath.Join(t.TempDir(), "mrouter.toml"), []byte(mrWithKeyFile("mr.key")))
	if !errors.Is(err, ErrKeyFile) {
		t.Errorf("err = %v", err)
	}
}

// TestInlineKeyFileMode checks that a configuration holding an inline key
// must be private, while one without keys may be world-readable.
func TestInlineKeyFileMode(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		doc  string
		load func(string) error
		key  string
		line int
	}{
		{"mrouter", appendMR("[auth]\nnai = \"mr@example.net\"\nspi = 300\nkey = \"00112233445566778899aabbccddeeff\"\n"),
			func(p string) error { _, err := LoadMRouter(p); return err }, "auth.key", 14},
		{"ha", appendHA(secondMR),
			func(p string) error { _, err := LoadHA(p); return err }, "mobile_router[0].key", 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, perm := range []os.FileMode{0o644, 0o640, 0o660, 0o604} {
				p := writeFile(t, dir, tc.name+".toml", []byte(tc.doc), perm)
				err := tc.load(p)
				checkHas(t, err, p, wantErr{tc.key, tc.line, ErrPermission, fmt.Sprintf("has mode %#o", perm)})
				// Reported once per file, not once per key.
				if n := strings.Count(err.Error(), "chmod 600"); n != 1 {
					t.Errorf("mode %#o: reported %d times:\n%v", perm, n, err)
				}
			}
			for _, perm := range []os.FileMode{0o600, 0o400} {
				p := writeFile(t, dir, tc.name+".toml", []byte(tc.doc), perm)
				if err := tc.load(p); err != nil {
					t.Errorf("mode %#o: %v", perm, err)
				}
			}
		})
	}
	// Without keys the mode does not matter.
	p := writeFile(t, dir, "nokey.toml", []byte(baseMR), 0o644)
	if _, err := LoadMRouter(p); err != nil {
		t.Error(err)
	}
}

// TestExamples loads the shipped examples: parsed from memory, loaded from
// a private copy, and refused from a world-readable copy (they hold inline
// keys).
func TestExamples(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"mrouter.toml", "ha.toml"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("..", "examples", name)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			parse, load := func(d []byte) (any, []string, error) {
				c, err := ParseMRouter(path, d)
				if c == nil {
					return nil, nil, err
				}
				return c, c.Warnings, err
			}, func(p string) error { _, err := LoadMRouter(p); return err }
			if name == "ha.toml" {
				parse = func(d []byte) (any, []string, error) {
					c, err := ParseHA(path, d)
					if c == nil {
						return nil, nil, err
					}
					return c, c.Warnings, err
				}
				load = func(p string) error { _, err := LoadHA(p); return err }
			}
			_, warnings, err := parse(data)
			if err != nil {
				t.Fatalf("example does not parse:\n%v", err)
			}
			if len(warnings) != 0 {
				t.Errorf("example has warnings: %q", warnings)
			}
			if err := load(writeFile(t, dir, name, data, 0o600)); err != nil {
				t.Errorf("private copy: %v", err)
			}
			if err := load(writeFile(t, dir, name, data, 0o644)); !errors.Is(err, ErrPermission) {
				t.Errorf("world-readable copy: err = %v", err)
			}
			checkDocAddresses(t, string(data))
		})
	}
}

// checkDocAddresses fails t if a quoted address in doc is outside the
// documentation ranges.
func checkDocAddresses(t *testing.T, doc string) {
	t.Helper()
	n := 0
	for _, q := range strings.Split(doc, "\"") {
		s, _, _ := strings.Cut(q, "/")
		a, err := parseAddrLoose(s)
		if err != nil {
			continue
		}
		n++
		if !isDocAddr(a) {
			t.Errorf("example uses %q, outside the documentation ranges", q)
		}
	}
	if n < 5 {
		t.Errorf("found only %d addresses; is the scan broken?", n)
	}
}

func TestReservedAnycast(t *testing.T) {
	for _, tc := range []struct {
		prefix, addr string
		want         bool
	}{
		{"2001:db8:1::/64", "2001:db8:1::", true},
		{"2001:db8:1::/64", "2001:db8:1::1", false},
		{"2001:db8:1::/64", "2001:db8:1:0:fdff:ffff:ffff:ff80", true},
		{"2001:db8:1::/64", "2001:db8:1:0:fdff:ffff:ffff:fffe", true},
		{"2001:db8:1::/64", "2001:db8:1:0:fdff:ffff:ffff:ff7f", false},
		{"2001:db8:1::/64", "2001:db8:1:0:ffff:ffff:ffff:fffe", false}, // u bit set: not EUI-64 format
		{"2001:db8:1::/64", "2001:db8:2::", false},                     // outside
		{"2001:db8:1::/112", "2001:db8:1::ff80", true},
		{"2001:db8:1::/112", "2001:db8:1::ffff", true},
		{"2001:db8:1::/112", "2001:db8:1::ff7f", false},
		{"2001:db8:1::/112", "2001:db8:1::", true},
		{"2001:db8:1::/127", "2001:db8:1::", false}, // RFC 6164
	} {
		if got := isReservedAnycast(mustPrefix(tc.prefix), mustAddr(tc.addr)); got != tc.want {
			t.Errorf("isReservedAnycast(%s, %s) = %v, want %v", tc.prefix, tc.addr, got, tc.want)
		}
	}
}
