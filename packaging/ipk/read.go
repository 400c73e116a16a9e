package ipk

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Limits of the reader, so that a hostile file cannot exhaust memory.
const (
	maxMembers    = 4096
	maxMemberSize = 64 << 20
	maxArchive    = 256 << 20
	// typeflagOffset is the offset of the type flag in a header block.
	typeflagOffset = 156
	// gnuMagic is the magic and version of a GNU tar header (offset 257).
	gnuMagic    = "ustar  \x00"
	magicOffset = 257
	blockSize   = 512
)

// Member is one entry of a tar archive as read.
type Member struct {
	Name     string
	Typeflag byte
	Mode     int64
	Uid, Gid int
	Uname    string
	Gname    string
	ModTime  time.Time
	Data     []byte
}

// Field is one field of a control file.
type Field struct {
	Key, Value string
}

// Unpacked is an .ipk taken apart.
type Unpacked struct {
	// Outer, Data and ControlMembers are the members of the three
	// archives, in archive order.
	Outer, Data, ControlMembers []Member
	// Fields are the control file's fields in order; continuation lines
	// are joined to the value with "\n".
	Fields []Field
	// Conffiles are the lines of ./conffiles.
	Conffiles []string
}

// Field returns the value of the control field key ("" when absent).
func (u *Unpacked) Field(key string) string {
	for _, f := range u.Fields {
		if f.Key == key {
			return f.Value
		}
	}
	return ""
}

// Find returns the member named name of ms, or nil.
func Find(ms []Member, name string) *Member {
	for i := range ms {
		if ms[i].Name == name {
			return &ms[i]
		}
	}
	return nil
}

// Read takes an .ipk apart and checks the layout opkg needs: a gzip'd
// GNU tar (no PAX headers) holding ./debian-binary = "2.0\n",
// ./data.tar.gz and ./control.tar.gz in that order, each of them a gzip'd
// GNU tar too, all members owned by uid and gid 0, and a control file that
// parses. It never returns a partly filled value.
func Read(b []byte) (*Unpacked, error) {
	outer, err := readTarGz(b, "outer archive")
	if err != nil {
		return nil, err
	}
	want := []string{DebianBinaryName, DataName, ControlName}
	if len(outer) != len(want) {
		return nil, fmt.Errorf("%w: outer archive has %d members, want %v", ErrMalformed, len(outer), want)
	}
	for i, m := range outer {
		if m.Name != want[i] || m.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("%w: outer member %d is %q, want the regular file %s", ErrMalformed, i, m.Name, want[i])
		}
	}
	if string(outer[0].Data) != DebianBinary {
		return nil, fmt.Errorf("%w: debian-binary is %q, want %q", ErrMalformed, outer[0].Data, DebianBinary)
	}
	data, err := readTarGz(outer[1].Data, "data.tar.gz")
	if err != nil {
		return nil, err
	}
	ctl, err := readTarGz(outer[2].Data, "control.tar.gz")
	if err != nil {
		return nil, err
	}
	c := Find(ctl, "./control")
	if c == nil {
		return nil, fmt.Errorf("%w: control.tar.gz has no ./control", ErrMalformed)
	}
	fields, err := ParseControl(string(c.Data))
	if err != nil {
		return nil, err
	}
	var conf []string
	if cf := Find(ctl, "./conffiles"); cf != nil {
		for l := range strings.SplitSeq(string(cf.Data), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				conf = append(conf, l)
			}
		}
	}
	return &Unpacked{Outer: outer, Data: data, ControlMembers: ctl, Fields: fields, Conffiles: conf}, nil
}

// readTarGz reads a gzip'd tar whose headers are all GNU (or plain ustar
// without PAX records) and owned by 0:0.
func readTarGz(b []byte, what string) ([]Member, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, maxArchive))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	tr := tar.NewReader(bytes.NewReader(raw))
	var ms []Member
	offset := int64(0)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
		}
		if len(ms) == maxMembers {
			return nil, fmt.Errorf("%w: %s: more than %d members", ErrMalformed, what, maxMembers)
		}
		// The header block of this member starts at offset (no PAX or
		// GNU long-name blocks precede it: those are refused below).
		if h.Format&tar.FormatPAX != 0 || len(h.PAXRecords) > 0 {
			return nil, fmt.Errorf("%w: %s: %s has PAX records (opkg cannot read them)", ErrMalformed, what, h.Name)
		}
		if offset+blockSize > int64(len(raw)) || string(raw[offset+magicOffset:offset+magicOffset+int64(len(gnuMagic))]) != gnuMagic {
			return nil, fmt.Errorf("%w: %s: %s is not a GNU tar header", ErrMalformed, what, h.Name)
		}
		if t := raw[offset+typeflagOffset]; t == tar.TypeGNULongName || t == tar.TypeGNULongLink || t == tar.TypeXHeader || t == tar.TypeXGlobalHeader {
			return nil, fmt.Errorf("%w: %s: %s uses a GNU long name or other extension header", ErrMalformed, what, h.Name)
		}
		if h.Uid != 0 || h.Gid != 0 {
			return nil, fmt.Errorf("%w: %s: %s is owned by %d:%d, want 0:0", ErrMalformed, what, h.Name, h.Uid, h.Gid)
		}
		if h.Size > maxMemberSize {
			return nil, fmt.Errorf("%w: %s: %s is too large", ErrMalformed, what, h.Name)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %s: %v", ErrMalformed, what, h.Name, err)
		}
		ms = append(ms, Member{
			Name: h.Name, Typeflag: h.Typeflag, Mode: h.Mode, Uid: h.Uid, Gid: h.Gid,
			Uname: h.Uname, Gname: h.Gname, ModTime: h.ModTime, Data: data,
		})
		offset += blockSize + (h.Size+blockSize-1)/blockSize*blockSize
	}
	return ms, nil
}

// ParseControl parses a control file: "Key: value" lines, continuation
// lines starting with a space or tab. Package, Version and Architecture
// are required; keys must be unique.
func ParseControl(text string) ([]Field, error) {
	var fs []Field
	seen := map[string]bool{}
	for n, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if line == "" {
			return nil, fmt.Errorf("%w: control line %d: empty line", ErrMalformed, n+1)
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(fs) == 0 {
				return nil, fmt.Errorf("%w: control line %d: continuation without a field", ErrMalformed, n+1)
			}
			fs[len(fs)-1].Value += "\n" + strings.TrimSpace(line)
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("%w: control line %d: %q is not \"Key: value\"", ErrMalformed, n+1, line)
		}
		if seen[k] {
			return nil, fmt.Errorf("%w: control line %d: %s given twice", ErrMalformed, n+1, k)
		}
		seen[k] = true
		fs = append(fs, Field{Key: k, Value: strings.TrimSpace(v)})
	}
	for _, k := range []string{"Package", "Version", "Architecture"} {
		if !seen[k] {
			return nil, fmt.Errorf("%w: control file has no %s field", ErrMalformed, k)
		}
	}
	if v := fieldValue(fs, "Installed-Size"); v != "" {
		if _, err := strconv.ParseUint(v, 10, 63); err != nil {
			return nil, fmt.Errorf("%w: Installed-Size %q is not a byte count", ErrMalformed, v)
		}
	}
	return fs, nil
}

func fieldValue(fs []Field, key string) string {
	for _, f := range fs {
		if f.Key == key {
			return f.Value
		}
	}
	return ""
}
