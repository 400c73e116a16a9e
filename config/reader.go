package config

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// problems collects every FieldError found in one file.
type problems struct {
	file  string
	lines map[string]int
	list  []*FieldError
}

func (p *problems) add(key string, kind error, cause error, format string, args ...any) {
	p.list = append(p.list, &FieldError{
		File:  p.file,
		Line:  lineOf(p.lines, key),
		Key:   key,
		Kind:  kind,
		Msg:   fmt.Sprintf(format, args...),
		Cause: cause,
	})
}

// err returns the collected problems ordered by line (problems without a
// line last), or nil.
func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	slices.SortStableFunc(p.list, func(a, b *FieldError) int {
		la, lb := a.Line, b.Line
		if la == 0 {
			la = math.MaxInt
		}
		if lb == 0 {
			lb = math.MaxInt
		}
		return cmp.Compare(la, lb)
	})
	errs := make([]error, len(p.list))
	for i, e := range p.list {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// table reads the keys of one TOML table against the schema: every getter
// marks its key as known, and done reports the rest as unknown.
type table struct {
	p       *problems
	path    string
	m       map[string]any
	present bool // the table exists in the file
	known   []string
}

func newTable(p *problems, path string, m map[string]any, present bool) *table {
	if m == nil {
		m = map[string]any{}
	}
	return &table{p: p, path: path, m: m, present: present}
}

func (t *table) key(name string) string { return joinKey(t.path, name) }

// get returns the raw value of name and marks name as part of the schema.
func (t *table) get(name string) (any, bool) {
	t.known = append(t.known, name)
	v, ok := t.m[name]
	return v, ok
}

func (t *table) typeErr(name, want string, v any) {
	t.p.add(t.key(name), ErrType, nil, "must be %s, not %s", want, tomlType(v))
}

// done reports every key of the table that no getter asked for.
func (t *table) done() {
	var unknown []string
	for k := range t.m {
		if !slices.Contains(t.known, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		msg := "unknown key"
		if _, isTable := t.m[k].(map[string]any); isTable {
			msg = "unknown table"
		}
		if s := suggest(k, t.known); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		} else {
			known := slices.Clone(t.known)
			slices.Sort(known)
			msg += fmt.Sprintf(" (known keys here: %s)", strings.Join(slices.Compact(known), ", "))
		}
		t.p.add(t.key(k), ErrUnknownKey, nil, "%s", msg)
	}
}

// sub returns the sub-table name (an empty, absent table when missing).
func (t *table) sub(name string) *table {
	v, ok := t.get(name)
	if !ok {
		return newTable(t.p, t.key(name), nil, false)
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		t.typeErr(name, "a table", v)
		return newTable(t.p, t.key(name), nil, false)
	}
	return newTable(t.p, t.key(name), m, true)
}

// array returns the elements of the array of tables name.
func (t *table) array(name string) []*table {
	v, ok := t.get(name)
	if !ok {
		return nil
	}
	var ms []map[string]any
	switch v := v.(type) {
	case []map[string]any:
		ms = v
	case []any:
		for _, e := range v {
			m, isMap := e.(map[string]any)
			if !isMap {
				t.typeErr(name, "an array of tables ([["+name+"]])", v)
				return nil
			}
			ms = append(ms, m)
		}
	default:
		t.typeErr(name, "an array of tables ([["+name+"]])", v)
		return nil
	}
	out := make([]*table, len(ms))
	for i, m := range ms {
		out[i] = newTable(t.p, indexKey(t.key(name), i), m, true)
	}
	return out
}

// required reports name as missing.
func (t *table) required(name, what string) {
	t.p.add(t.key(name), ErrRequired, nil, "missing: %s", what)
}

// str returns the string value of name and whether it was set.
func (t *table) str(name string) (string, bool) {
	v, ok := t.get(name)
	if !ok {
		return "", false
	}
	s, isStr := v.(string)
	if !isStr {
		t.typeErr(name, "a string", v)
		return "", false
	}
	return s, true
}

// boolean returns the value of name, or def when it is missing or wrong.
func (t *table) boolean(name string, def bool) bool {
	v, ok := t.get(name)
	if !ok {
		return def
	}
	b, isBool := v.(bool)
	if !isBool {
		t.typeErr(name, "true or false", v)
		return def
	}
	return b
}

// integer returns the value of name within [lo, hi], or def.
func (t *table) integer(name string, def, lo, hi int64) int64 {
	n, ok := t.optInteger(name, lo, hi)
	if !ok {
		return def
	}
	return n
}

// optInteger returns the value of name within [lo, hi] and whether it was
// set and valid.
func (t *table) optInteger(name string, lo, hi int64) (int64, bool) {
	v, ok := t.get(name)
	if !ok {
		return 0, false
	}
	n, isInt := v.(int64)
	if !isInt {
		t.typeErr(name, "an integer", v)
		return 0, false
	}
	if n < lo || n > hi {
		t.p.add(t.key(name), ErrInvalid, nil, "%d is out of range %d..%d", n, lo, hi)
		return 0, false
	}
	return n, true
}

// duration returns the value of name (a Go duration string) within
// [lo, hi] and a multiple of unit, or def.
func (t *table) duration(name string, def, lo, hi, unit time.Duration) time.Duration {
	v, ok := t.get(name)
	if !ok {
		return def
	}
	s, isStr := v.(string)
	if !isStr {
		if _, isInt := v.(int64); isInt {
			t.p.add(t.key(name), ErrType, nil, "must be a duration string such as \"%ds\", not an integer", v)
			return def
		}
		t.typeErr(name, "a duration string such as \"90s\" or \"5m\"", v)
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.p.add(t.key(name), ErrInvalid, nil, "%q is not a duration (write e.g. \"90s\", \"5m\" or \"1h\")", s)
		return def
	}
	if d < lo || d > hi {
		t.p.add(t.key(name), ErrInvalid, nil, "%s is out of range %s..%s", d, lo, hi)
		return def
	}
	if d%unit != 0 {
		down := d - d%unit
		t.p.add(t.key(name), ErrInvalid, nil, "%s is not a multiple of %s (use %s or %s)", d, unit, max(down, lo), min(down+unit, hi))
		return def
	}
	return d
}

// addrKind selects which addresses an address getter accepts.
type addrKind int

const (
	unicast6 addrKind = iota // IPv6 global or unique-local unicast
	unicast4                 // IPv4 unicast (no 0.0.0.0, multicast, broadcast, loopback)
)

// addr parses name as an address of the given kind; it reports an error
// and returns the zero Addr when the value is set but not acceptable.
func (t *table) addr(name string, kind addrKind) (netip.Addr, bool) {
	s, ok := t.str(name)
	if !ok {
		return netip.Addr{}, false
	}
	a, err := checkAddr(s, kind)
	if err != nil {
		t.p.add(t.key(name), ErrInvalid, nil, "%v", err)
		return netip.Addr{}, false
	}
	return a, true
}

func checkAddr(s string, kind addrKind) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		if _, perr := netip.ParsePrefix(s); perr == nil {
			return netip.Addr{}, fmt.Errorf("%q is a prefix; write the address without /length", s)
		}
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q: a zone (%%%s) is not allowed here", s, a.Zone())
	}
	switch kind {
	case unicast6:
		if !a.Is6() || a.Is4In6() {
			return netip.Addr{}, fmt.Errorf("%q is not an IPv6 address", s)
		}
		if !a.IsGlobalUnicast() {
			return netip.Addr{}, fmt.Errorf("%s is not a global unicast IPv6 address", a)
		}
	case unicast4:
		if !a.Is4() {
			if a.Is4In6() {
				return netip.Addr{}, fmt.Errorf("%q is an IPv4-mapped IPv6 address; write %s", s, a.Unmap())
			}
			return netip.Addr{}, fmt.Errorf("%q is not an IPv4 address", s)
		}
		if !a.IsGlobalUnicast() {
			return netip.Addr{}, fmt.Errorf("%s is not a unicast IPv4 address", a)
		}
	}
	return a, nil
}

// prefix parses name as a canonical prefix of the family of kind.
func (t *table) prefix(name string, kind addrKind) (netip.Prefix, bool) {
	s, ok := t.str(name)
	if !ok {
		return netip.Prefix{}, false
	}
	p, err := checkPrefix(s, kind)
	if err != nil {
		t.p.add(t.key(name), ErrInvalid, nil, "%v", err)
		return netip.Prefix{}, false
	}
	return p, true
}

// prefixes parses name as a list of prefixes; element errors name the
// element (key[i]) and leave the zero Prefix at its index, so that indexes
// in later messages match the file.
func (t *table) prefixes(name string, kind addrKind) []netip.Prefix {
	ss := t.strList(name)
	if len(ss) == 0 {
		return nil
	}
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		p, err := checkPrefix(s, kind)
		if err != nil {
			t.p.add(indexKey(t.key(name), i), ErrInvalid, nil, "%v", err)
			continue
		}
		out[i] = p
	}
	return out
}

func checkPrefix(s string, kind addrKind) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		if _, aerr := netip.ParseAddr(s); aerr == nil {
			return netip.Prefix{}, fmt.Errorf("%q is an address; a prefix needs a /length", s)
		}
		return netip.Prefix{}, fmt.Errorf("%q is not a prefix (address/length)", s)
	}
	a := p.Addr()
	switch kind {
	case unicast6:
		if !a.Is6() || a.Is4In6() {
			return netip.Prefix{}, fmt.Errorf("%q is not an IPv6 prefix", s)
		}
	case unicast4:
		if !a.Is4() {
			return netip.Prefix{}, fmt.Errorf("%q is not an IPv4 prefix", s)
		}
	}
	if p.Bits() == 0 {
		return netip.Prefix{}, fmt.Errorf("%s would cover every address; give a real prefix", p)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set; write %s", s, m)
	}
	if kind == unicast6 && (a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsLoopback()) ||
		kind == unicast4 && (a.IsMulticast() || a.IsLoopback() || a.IsLinkLocalUnicast()) {
		return netip.Prefix{}, fmt.Errorf("%s is not a unicast prefix", p)
	}
	return p, nil
}

// strList returns the list of strings name (nil when missing).
func (t *table) strList(name string) []string {
	v, ok := t.get(name)
	if !ok {
		return nil
	}
	arr, isArr := v.([]any)
	if !isArr {
		t.typeErr(name, "an array of strings", v)
		return nil
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		s, isStr := e.(string)
		if !isStr {
			t.p.add(indexKey(t.key(name), i), ErrType, nil, "must be a string, not %s", tomlType(e))
			return nil
		}
		out = append(out, s)
	}
	return out
}

// enum returns the value of name if it is one of allowed, else def.
func enum[T ~string](t *table, name string, def T, allowed ...T) T {
	s, ok := t.str(name)
	if !ok {
		return def
	}
	if slices.Contains(allowed, T(s)) {
		return T(s)
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = fmt.Sprintf("%q", string(a))
	}
	t.p.add(t.key(name), ErrInvalid, nil, "%q is not one of %s", s, strings.Join(quoted, ", "))
	return def
}

// tomlType names the TOML type of a decoded value for error messages.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	case time.Time:
		return "a date-time"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// suggest returns the known key closest to k, if it is close enough to be
// a likely misspelling.
func suggest(k string, known []string) string {
	best, bestD := "", 3
	for _, c := range known {
		if strings.EqualFold(c, k) {
			return c
		}
		if d := editDistance(k, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
