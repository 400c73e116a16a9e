package config

import (
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits shared by both daemons.
const (
	// minKeyLen is the shortest MN-HA key accepted (RFC 4285 section 5.1:
	// the MN-HA SA has a 16-octet key).
	minKeyLen = 16
	// maxKeyLen bounds key material (HMAC-SHA1 hashes longer keys anyway).
	maxKeyLen = 1024
	// maxKeyFileSize bounds what is read from a key_file.
	maxKeyFileSize = 4096
	// maxConfigSize bounds the configuration file itself: a home agent
	// serving a fleet of 100,000 mobile routers, one [[mobile_router]]
	// table each (about 175 bytes), needs some 18 MB.
	maxConfigSize = 64 << 20
	// minSPI is the first Mobility SPI not reserved (RFC 4285 section 5.1).
	minSPI = 256
	// maxNAILen is the longest NAI the Mobile Node Identifier option can
	// carry (RFC 4283 section 3: an 8-bit length covering the subtype).
	maxNAILen = 254
	// lifetimeUnit is the unit of BU/BA lifetimes (RFC 6275 6.1.7).
	lifetimeUnit = 4 * time.Second
	// maxLifetime is 0xFFFF lifetime units (RFC 6275 6.1.7).
	maxLifetime = 0xFFFF * lifetimeUnit
	// minReplayWindow is the RFC 4285 section 6 lower bound: the window
	// SHOULD be more than 3 seconds.
	minReplayWindow = 3 * time.Second
	// mwan3Mask is the fwmark mask mwan3 uses; our mark must stay clear.
	mwan3Mask = 0x3F00
	// mwan3RuleMin and mwan3RuleMax bound the rule priorities mwan3 uses.
	mwan3RuleMin, mwan3RuleMax = 1001, 3255
	// firstFreeTable is the first table above the kernel's reserved ones
	// (253 default, 254 main, 255 local) and mwan3's interface tables.
	firstFreeTable = 256
	// ifNameMax is IFNAMSIZ-1.
	ifNameMax = 15
	// defaultNATKeepalive is NATKATIMEOUT (RFC 5555 section 6).
	defaultNATKeepalive = 110 * time.Second
	// defaultReplayWindow is the RFC 4285 section 6 default.
	defaultReplayWindow = 7 * time.Second
	// defaultFWMark is the default fwmark, clear of mwan3's mask.
	defaultFWMark = 0x10000
	// defaultRulePriority sits below mwan3's rules (1001..3255).
	defaultRulePriority = 900
)

// source describes where a document came from.
type source struct {
	name string // file name for messages
	dir  string // directory relative key_file paths are resolved against
	// mode is the configuration file's permission bits; haveMode is false
	// for ParseMRouter/ParseHA, which have no file to check.
	mode     fs.FileMode
	haveMode bool
	// inlineReported is set once the file-mode problem has been reported.
	inlineReported bool
}

func (t *table) logSection() Log {
	return Log{
		Level:  enum(t, "level", LogInfo, LogDebug, LogInfo, LogWarn, LogError),
		Format: enum(t, "format", LogText, LogText, LogJSON),
	}
}

func (t *table) statusSection(def string) Status {
	st := Status{Socket: def}
	if s, ok := t.str("socket"); ok {
		if !filepath.IsAbs(s) || filepath.Clean(s) != s {
			t.p.add(t.key("socket"), ErrInvalid, nil, "%q must be a clean absolute path", s)
		} else {
			st.Socket = s
		}
	}
	return st
}

func (t *table) routingSection(defBase uint32) Routing {
	r := Routing{
		TableBase:    uint32(t.integer("table_base", int64(defBase), firstFreeTable, 0x7FFFFFFF)),
		RulePriority: defaultRulePriority,
		FWMark:       defaultFWMark,
	}
	if n, ok := t.optInteger("rule_priority", 1, 32765); ok {
		if n >= mwan3RuleMin && n <= mwan3RuleMax {
			t.p.add(t.key("rule_priority"), ErrConflict, nil,
				"%d is inside mwan3's rule priorities %d..%d; use a value below %d (default %d)",
				n, mwan3RuleMin, mwan3RuleMax, mwan3RuleMin, defaultRulePriority)
		} else {
			r.RulePriority = uint32(n)
		}
	}
	if n, ok := t.optInteger("fwmark", 1, 0xFFFFFFFF); ok {
		if n&mwan3Mask != 0 {
			t.p.add(t.key("fwmark"), ErrConflict, nil,
				"%#x overlaps mwan3's mark mask %#x; use a mark outside it, e.g. %#x", n, mwan3Mask, defaultFWMark)
		} else {
			r.FWMark = uint32(n)
		}
	}
	return r
}

// replayWindow reads replay_window (RFC 4285 section 6).
func (t *table) replayWindow(warn *[]string) time.Duration {
	d := t.duration("replay_window", defaultReplayWindow, time.Second, time.Hour, time.Second)
	if d <= minReplayWindow {
		*warn = append(*warn, fmt.Sprintf("%s = %s: RFC 4285 section 6 says the window SHOULD be more than %s",
			t.key("replay_window"), d, minReplayWindow))
	}
	return d
}

// nai reads and checks a Network Access Identifier ("user@realm").
func (t *table) nai(name string) (string, bool) {
	s, ok := t.str(name)
	if !ok {
		return "", false
	}
	if err := checkNAI(s); err != nil {
		t.p.add(t.key(name), ErrInvalid, nil, "%v", err)
		return "", false
	}
	return s, true
}

func checkNAI(s string) error {
	if len(s) > maxNAILen {
		return fmt.Errorf("NAI is %d bytes; at most %d fit the Mobile Node Identifier option", len(s), maxNAILen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%q is not valid UTF-8", s)
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%q contains white space or control characters", s)
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return fmt.Errorf("%q is not an NAI of the form user@realm", s)
	}
	realm := s[at+1:]
	for _, label := range strings.Split(realm, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%q: realm %q is not a domain name", s, realm)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("%q: realm %q is not a domain name", s, realm)
			}
		}
	}
	return nil
}

// spi reads a Mobility SPI (RFC 4285: 0..255 are reserved).
func (t *table) spi() (uint32, bool) {
	n, ok := t.optInteger("spi", minSPI, 0xFFFFFFFF)
	return uint32(n), ok
}

// secret reads key (inline hex) or key_file and returns the key material
// and whether either was given.
func (t *table) secret(src *source) (Secret, bool) {
	return t.secretNamed(src, "key", "key_file")
}

// secretNamed is secret with other key names: inlineName holds the key as
// hex, fileName names a key file; the same permission rules apply.
func (t *table) secretNamed(src *source, inlineName, fileName string) (Secret, bool) {
	inline, hasInline := t.str(inlineName)
	file, hasFile := t.str(fileName)
	switch {
	case hasInline && hasFile:
		t.p.add(t.key(fileName), ErrConflict, nil, "give either %s or %s, not both", inlineName, fileName)
		return Secret{}, true
	case hasInline:
		if src.haveMode && src.mode&0o077 != 0 && !src.inlineReported {
			src.inlineReported = true
			t.p.add(t.key(inlineName), ErrPermission, nil,
				"an inline key needs a private configuration file, but %s has mode %#o (group/other can access it); run chmod 600 %s or move the key to a %s",
				src.name, src.mode.Perm(), src.name, fileName)
		}
		b, err := decodeHexKey(inline)
		if err != nil {
			t.p.add(t.key(inlineName), ErrInvalid, nil, "%v", err)
			return Secret{}, true
		}
		return Secret{b: b}, true
	case hasFile:
		b, kind, err := readKeyFile(src.dir, file)
		if err != nil {
			t.p.add(t.key(fileName), kind, err, "%v", err)
			return Secret{}, true
		}
		return Secret{b: b}, true
	}
	return Secret{}, false
}

// decodeHexKey decodes an inline key: hex digits, optionally with a 0x
// prefix and ':' separators.
func decodeHexKey(s string) ([]byte, error) {
	h := strings.ReplaceAll(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"), ":", "")
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("not a hex string (write the key as hex digits, e.g. 32 digits for 16 bytes)")
	}
	return b, checkKeyLen(len(b))
}

func checkKeyLen(n int) error {
	if n < minKeyLen {
		return fmt.Errorf("key is %d bytes; at least %d are required (RFC 4285 section 5.1)", n, minKeyLen)
	}
	if n > maxKeyLen {
		return fmt.Errorf("key is %d bytes; at most %d are accepted", n, maxKeyLen)
	}
	return nil
}

// readKeyFile reads key material from path (relative paths are relative to
// dir). A file whose content, trimmed of white space, is all hex digits of
// even length holds a hex key; any other content is the raw key. It returns
// the sentinel kind to report with the error.
func readKeyFile(dir, path string) ([]byte, error, error) {
	if path == "" {
		return nil, ErrInvalid, fmt.Errorf("empty path")
	}
	p := path
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return nil, ErrKeyFile, fmt.Errorf("%w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, ErrKeyFile, fmt.Errorf("%s is not a regular file (%s)", p, fi.Mode().Type())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, ErrPermission, fmt.Errorf("%s has mode %#o: group/other can access the key; run chmod 600 %s", p, perm, p)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, ErrKeyFile, fmt.Errorf("%w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, ErrKeyFile, fmt.Errorf("%s: %w", p, err)
	}
	if len(data) > maxKeyFileSize {
		return nil, ErrKeyFile, fmt.Errorf("%s is larger than %d bytes; it does not look like a key", p, maxKeyFileSize)
	}
	if h := strings.TrimSpace(string(data)); len(h)%2 == 0 && len(h) > 0 && isHex(h) {
		b, _ := hex.DecodeString(h)
		if err := checkKeyLen(len(b)); err != nil {
			return nil, ErrInvalid, fmt.Errorf("%s: %w", p, err)
		}
		return b, nil, nil
	}
	if err := checkKeyLen(len(data)); err != nil {
		return nil, ErrInvalid, fmt.Errorf("%s: %w", p, err)
	}
	return data, nil, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// ifName reads a network interface name.
func (t *table) ifName(name string) (string, bool) {
	s, ok := t.str(name)
	if !ok {
		return "", false
	}
	if err := checkIfName(s); err != nil {
		t.p.add(t.key(name), ErrInvalid, nil, "%v", err)
		return "", false
	}
	return s, true
}

// checkIfName applies the kernel's dev_valid_name rules.
func checkIfName(s string) error {
	if s == "" || s == "." || s == ".." || len(s) > ifNameMax {
		return fmt.Errorf("%q is not a valid interface name (1..%d characters)", s, ifNameMax)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '/' || c == ':' || c <= ' ' || c >= 0x7f {
			return fmt.Errorf("%q is not a valid interface name (no '/', ':', spaces or control characters)", s)
		}
	}
	return nil
}

// isReservedAnycast reports whether a is the Subnet-Router anycast address
// of p (RFC 4291 2.6.1) or one of the reserved subnet anycast addresses of
// RFC 2526 (the last 128 addresses of the prefix, or of a /64 with the
// EUI-64 u bit cleared), which include the Mobile IPv6 Home-Agents anycast
// address that DHAAD uses.
func isReservedAnycast(p netip.Prefix, a netip.Addr) bool {
	if !p.Contains(a) || p.Bits() >= 127 {
		return false
	}
	if a == p.Addr() {
		return true
	}
	b := a.As16()
	if p.Bits() == 64 {
		// Interface identifier fdff:ffff:ffff:ff80 .. fdff:ffff:ffff:ffff.
		iid := [8]byte{0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80}
		for i := 8; i < 15; i++ {
			if b[i] != iid[i-8] {
				return false
			}
		}
		return b[15]&0x80 != 0
	}
	if p.Bits() > 121 {
		return false
	}
	// All host bits 1 except the last 7.
	for bit := p.Bits(); bit < 121; bit++ {
		if b[bit/8]&(0x80>>(bit%8)) == 0 {
			return false
		}
	}
	return true
}

// overlaps reports whether two prefixes share any address.
func overlaps(a, b netip.Prefix) bool { return a.Overlaps(b) }
