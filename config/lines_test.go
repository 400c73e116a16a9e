package config

import (
	"fmt"
	"maps"
	"strings"
	"testing"
)

func TestKeyLines(t *testing.T) {
	doc := `# comment with key = "x" and [table]
top = 1
"quoted key" = 'lit'
a.b.c = true

[t1] # comment
s = """
multi = "line"
[not_a_table]
"""
l = '''
x = 1
'''
arr = [
  1, # comment ]
  "]", 2,
]
inline = { k = 1, m = [1, 2] }
esc = "a \" b = 3"

[[ar]]
x = 1

[ar.sub]
y = 2

[[ar]]
x = 2

[ "t 2" . inner ]
z = 3
  indented = 4
`
	got := keyLines([]byte(doc))
	want := map[string]int{
		"top":                  2,
		`"quoted key"`:         3,
		"a":                    4,
		"a.b":                  4,
		"a.b.c":                4,
		"t1":                   6,
		"t1.s":                 7,
		"t1.l":                 11,
		"t1.arr":               14,
		"t1.inline":            18,
		"t1.esc":               19,
		"ar":                   21,
		"ar[0]":                21,
		"ar[0].x":              22,
		"ar[0].sub":            24,
		"ar[0].sub.y":          25,
		"ar[1]":                27,
		"ar[1].x":              28,
		`"t 2"`:                30,
		`"t 2".inner`:          30,
		`"t 2".inner.z`:        31,
		`"t 2".inner.indented`: 32,
	}
	if !maps.Equal(got, want) {
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: line %d, want %d", k, got[k], v)
			}
		}
		for k, v := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected %s at line %d", k, v)
			}
		}
	}
	for key, line := range map[string]int{
		"ar[1].x":        28,
		"ar[1].missing":  27, // falls back to the table
		"ar[5].x":        21, // unknown element: the array's first line
		"t1.inline.k":    18, // inside an inline table: the key's line
		"nothing.at.all": 0,
		`"t 2".inner.zz`: 30,
	} {
		if got := lineOf(got, key); got != line {
			t.Errorf("lineOf(%s) = %d, want %d", key, got, line)
		}
	}
}

// TestKeyLinesStopsOnGarbage checks that the scan keeps what it found
// before something it does not understand.
func TestKeyLinesStopsOnGarbage(t *testing.T) {
	got := keyLines([]byte("a = 1\nb = \"unterminated\n"))
	if got["a"] != 1 || len(got) > 2 {
		t.Errorf("got %v", got)
	}
	if n := len(keyLines([]byte("= 1\n"))); n != 0 {
		t.Errorf("got %d keys", n)
	}
}

// TestErrorLinesMatchFile checks, for every key in the examples, that the
// line the scanner reports really holds that key.
func TestErrorLinesMatchFile(t *testing.T) {
	for _, doc := range []string{baseMR, baseHA} {
		lines := strings.Split(doc, "\n")
		for k, l := range keyLines([]byte(doc)) {
			last := k[lastDot(k)+1:]
			if i := strings.IndexByte(last, '['); i >= 0 {
				last = last[:i]
			}
			if !strings.Contains(lines[l-1], last) {
				t.Errorf("%s: line %d is %q", k, l, lines[l-1])
			}
		}
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	key := "00112233445566778899aabbccddeeff"
	c, err := ParseMRouter(mrFile, []byte(appendMR("[auth]\nnai = \"mr@example.net\"\nspi = 300\nkey = \""+key+"\"\n")))
	if err != nil {
		t.Fatal(err)
	}
	raw := string(c.Auth.Key.Bytes())
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q"} {
		for _, v := range []any{c, *c, c.Auth, c.Auth.Key} {
			s := fmt.Sprintf(verb, v)
			if strings.Contains(strings.ToLower(s), key) || strings.Contains(s, raw) || strings.Contains(s, "[0 17 34") {
				t.Errorf("%s of %T reveals the key: %s", verb, v, s)
			}
		}
	}
	// Bytes returns a copy.
	b := c.Auth.Key.Bytes()
	b[0] ^= 0xff
	if c.Auth.Key.Bytes()[0] == b[0] {
		t.Error("Bytes shares the key's memory")
	}
	if s := NewSecret(nil); !s.IsZero() || s.Bytes() != nil || s.Len() != 0 {
		t.Errorf("zero secret: %v", s)
	}
}
