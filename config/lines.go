package config

import (
	"strconv"
	"strings"
)

// keyLines maps the dotted path of every key and table header in a TOML
// document (in the form joinKey builds, with array-table indexes such as
// "mobile_router[1].home_address") to its 1-based line.
//
// The TOML library does not export key positions, so this is a small scan
// of the document. It is only run on documents the library has already
// accepted, and it is only used to put line numbers in error messages: keys
// inside inline tables are not recorded (lineOf falls back to the enclosing
// key), and on any surprise it stops and returns what it has.
func keyLines(data []byte) map[string]int {
	s := &lineScanner{src: string(data), line: 1, lines: map[string]int{}, arrays: map[string]int{}}
	s.run()
	return s.lines
}

// lineOf returns the line of key, or of its nearest recorded ancestor, or 0.
func lineOf(lines map[string]int, key string) int {
	for key != "" {
		if l, ok := lines[key]; ok {
			return l
		}
		// Strip a trailing "[n]" index, else the last dotted segment.
		if strings.HasSuffix(key, "]") {
			if i := strings.LastIndexByte(key, '['); i > 0 {
				key = key[:i]
				continue
			}
		}
		i := lastDot(key)
		if i < 0 {
			return 0
		}
		key = key[:i]
	}
	return 0
}

// lastDot returns the index of the last '.' that separates segments of a
// joined key (dots inside quoted segments do not count), or -1.
func lastDot(key string) int {
	last, inQuote := -1, false
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case c == '.' && !inQuote:
			last = i
		}
	}
	return last
}

// joinKey appends one key segment to a dotted path, quoting the segment
// when it is not a bare TOML key.
func joinKey(parent, seg string) string {
	if !isBareKey(seg) {
		seg = strconv.Quote(seg)
	}
	if parent == "" {
		return seg
	}
	return parent + "." + seg
}

// indexKey returns path[i].
func indexKey(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isBareChar(s[i]) {
			return false
		}
	}
	return true
}

func isBareChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

type lineScanner struct {
	src    string
	pos    int
	line   int
	table  string         // current table path, with indexes
	lines  map[string]int // result
	arrays map[string]int // array-table path -> number of elements so far
}

// errStop aborts the scan; what was recorded so far is kept.
type errStop struct{}

func (s *lineScanner) run() {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(errStop); !ok {
				panic(r)
			}
		}
	}()
	for {
		s.skipSpaceAndNewlines()
		if s.pos >= len(s.src) {
			return
		}
		switch s.src[s.pos] {
		case '#':
			s.skipComment()
		case '[':
			s.header()
		default:
			s.keyValue()
		}
	}
}

func (s *lineScanner) stop() { panic(errStop{}) }

func (s *lineScanner) peek(off int) byte {
	if s.pos+off < len(s.src) {
		return s.src[s.pos+off]
	}
	return 0
}

func (s *lineScanner) advance() {
	if s.pos >= len(s.src) {
		s.stop()
	}
	if s.src[s.pos] == '\n' {
		s.line++
	}
	s.pos++
}

func (s *lineScanner) skipSpace() {
	for c := s.peek(0); c == ' ' || c == '\t'; c = s.peek(0) {
		s.pos++
	}
}

func (s *lineScanner) skipSpaceAndNewlines() {
	for c := s.peek(0); c == ' ' || c == '\t' || c == '\r' || c == '\n'; c = s.peek(0) {
		s.advance()
	}
}

func (s *lineScanner) skipComment() {
	for s.pos < len(s.src) && s.src[s.pos] != '\n' {
		s.pos++
	}
}

// record notes the line of path unless an earlier line is known.
func (s *lineScanner) record(path string, line int) {
	if _, ok := s.lines[path]; !ok {
		s.lines[path] = line
	}
}

// keySegments reads a dotted key up to (not including) the terminator.
func (s *lineScanner) keySegments() []string {
	var segs []string
	for {
		s.skipSpace()
		var seg string
		switch c := s.peek(0); {
		case c == '"':
			seg = s.basicString()
		case c == '\'':
			seg = s.literalString()
		case isBareChar(c):
			start := s.pos
			for isBareChar(s.peek(0)) {
				s.pos++
			}
			seg = s.src[start:s.pos]
		default:
			s.stop()
		}
		segs = append(segs, seg)
		s.skipSpace()
		if s.peek(0) != '.' {
			return segs
		}
		s.pos++
	}
}

// basicString reads a single-line "..." string and returns its value
// (escapes other than \" and \\ are kept verbatim; close enough for keys).
func (s *lineScanner) basicString() string {
	s.pos++ // opening quote
	var b strings.Builder
	for {
		c := s.peek(0)
		switch c {
		case 0, '\n':
			s.stop()
		case '"':
			s.pos++
			return b.String()
		case '\\':
			n := s.peek(1)
			if n == '"' || n == '\\' {
				b.WriteByte(n)
				s.pos += 2
				continue
			}
		}
		b.WriteByte(c)
		s.pos++
	}
}

func (s *lineScanner) literalString() string {
	s.pos++
	start := s.pos
	for s.peek(0) != '\'' {
		if c := s.peek(0); c == 0 || c == '\n' {
			s.stop()
		}
		s.pos++
	}
	v := s.src[start:s.pos]
	s.pos++
	return v
}

// header handles [table] and [[array.table]].
func (s *lineScanner) header() {
	line := s.line
	s.pos++
	isArray := s.peek(0) == '['
	if isArray {
		s.pos++
	}
	segs := s.keySegments()
	if s.peek(0) != ']' || isArray && s.peek(1) != ']' {
		s.stop()
	}
	s.pos++
	if isArray {
		s.pos++
	}
	path := ""
	for i, seg := range segs {
		path = joinKey(path, seg)
		if i == len(segs)-1 && isArray {
			n := s.arrays[path]
			s.arrays[path] = n + 1
			s.record(path, line)
			path = indexKey(path, n)
			break
		}
		if n, ok := s.arrays[path]; ok {
			path = indexKey(path, n-1)
		}
		if i < len(segs)-1 {
			s.record(path, line)
		}
	}
	s.record(path, line)
	s.table = path
	s.restOfLine()
}

// keyValue handles key = value, the value possibly spanning lines.
func (s *lineScanner) keyValue() {
	line := s.line
	segs := s.keySegments()
	if s.peek(0) != '=' {
		s.stop()
	}
	s.pos++
	path := s.table
	for _, seg := range segs {
		path = joinKey(path, seg)
		s.record(path, line)
	}
	s.skipSpace()
	s.value()
	s.restOfLine()
}

// restOfLine skips trailing blanks and a comment up to the newline.
func (s *lineScanner) restOfLine() {
	s.skipSpace()
	if s.peek(0) == '#' {
		s.skipComment()
	}
}

// value skips one TOML value, tracking newlines inside it.
func (s *lineScanner) value() {
	switch c := s.peek(0); c {
	case '"':
		if s.peek(1) == '"' && s.peek(2) == '"' {
			s.multiline('"')
			return
		}
		s.basicString()
	case '\'':
		if s.peek(1) == '\'' && s.peek(2) == '\'' {
			s.multiline('\'')
			return
		}
		s.literalString()
	case '[', '{':
		s.nested()
	default:
		// number, bool, date-time: runs to a separator.
		for c := s.peek(0); c != 0 && c != '\n' && c != ',' && c != ']' && c != '}' && c != '#'; c = s.peek(0) {
			s.pos++
		}
	}
}

// multiline skips a multi-line (triple-quoted) string.
func (s *lineScanner) multiline(q byte) {
	s.pos += 3
	for {
		c := s.peek(0)
		if c == 0 {
			s.stop()
		}
		if c == '\\' && q == '"' {
			s.advance()
			s.advance()
			continue
		}
		if c == q && s.peek(1) == q && s.peek(2) == q {
			s.pos += 3
			// Up to two more quotes belong to the content.
			for i := 0; i < 2 && s.peek(0) == q; i++ {
				s.pos++
			}
			return
		}
		s.advance()
	}
}

// nested skips an array or inline table, including nested ones.
func (s *lineScanner) nested() {
	depth := 0
	for {
		s.skipSpaceAndNewlines()
		switch c := s.peek(0); c {
		case 0:
			s.stop()
		case '[', '{':
			depth++
			s.pos++
		case ']', '}':
			depth--
			s.pos++
			if depth == 0 {
				return
			}
		case ',', '=', '.':
			s.pos++
		case '#':
			s.skipComment()
		case '"', '\'':
			s.value()
		default:
			if isBareChar(c) || c == '+' || c == ':' {
				// bare key in an inline table, or a number/bool/date
				for isBareChar(s.peek(0)) || strings.IndexByte("+-:.TZtz", s.peek(0)) >= 0 {
					s.pos++
				}
				continue
			}
			s.stop()
		}
	}
}
