// Package ipk writes and reads the .ipk packages that opkg installs
// (OpenWrt up to 24.10).
//
// An .ipk as OpenWrt's scripts/ipkg-build makes it, and as opkg reads it:
//
//	outer archive   gzip'd tar, GNU headers (opkg cannot read PAX)
//	  ./debian-binary     "2.0\n"
//	  ./data.tar.gz       the files, rooted at "./"
//	  ./control.tar.gz    ./control, ./conffiles, ./postinst, ./prerm
//
// in that order. Every tar member is owned by numeric uid/gid 0 with no
// user or group name; every gzip header has no file name and the package's
// modification time. With the same [Package] (including ModTime, normally
// SOURCE_DATE_EPOCH) [Build] returns the same bytes, so builds are
// reproducible.
package ipk

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Member names of the outer archive, in the order opkg expects them.
const (
	DebianBinaryName = "./debian-binary"
	DataName         = "./data.tar.gz"
	ControlName      = "./control.tar.gz"
)

// DebianBinary is the content of ./debian-binary.
const DebianBinary = "2.0\n"

// Modes of the control archive's members and of directories.
const (
	modeDir     = 0o755
	modeControl = 0o644
	modeScript  = 0o755
)

// Sentinel errors; the returned errors wrap them with context.
var (
	// ErrInvalidPackage reports a Package that cannot be built.
	ErrInvalidPackage = errors.New("ipk: invalid package")
	// ErrMalformed reports an .ipk (or part of one) that does not have the
	// layout opkg expects.
	ErrMalformed = errors.New("ipk: malformed package")
)

// File is one regular file of the data archive.
type File struct {
	// Path is the absolute path on the target, e.g. "/usr/sbin/mrouter".
	Path string
	// Mode holds the permission bits (only fs.ModePerm is used).
	Mode fs.FileMode
	// Data is the file's content.
	Data []byte
}

// Control holds the fields of the control file and the maintainer scripts.
type Control struct {
	// Package is the package name (lower case letters, digits, "+-.").
	Package string
	// Version has the form X.Y.Z-rN (OpenWrt's PKG_VERSION-rPKG_RELEASE).
	Version string
	// Architecture is the OpenWrt package architecture, e.g. "mips_24kc".
	Architecture string
	// Depends lists the packages needed, e.g. "kmod-tun".
	Depends []string
	// Section is opkg's section, e.g. "net".
	Section string
	// Maintainer, License and Source are free text (optional).
	Maintainer, License, Source string
	// Description is the summary line, optionally followed by more lines.
	Description string
	// Conffiles are absolute paths of files opkg keeps on upgrade; each
	// must be one of the package's files.
	Conffiles []string
	// Postinst and Prerm are the maintainer scripts ("" = none).
	Postinst, Prerm string
}

// Package is everything an .ipk holds.
type Package struct {
	Control
	// Files are the package's regular files; the directories above them
	// are added (mode 0755).
	Files []File
	// ModTime is the modification time of every member and of the gzip
	// headers (SOURCE_DATE_EPOCH for reproducible builds).
	ModTime time.Time
}

var (
	nameRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]*$`)
	versionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+-r[0-9]+$`)
	archRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
)

// FileName returns the conventional file name NAME_VERSION_ARCH.ipk.
func (c Control) FileName() string {
	return c.Package + "_" + c.Version + "_" + c.Architecture + ".ipk"
}

// InstalledSize returns the Installed-Size field: the sum of the sizes of
// the regular files in bytes (as OpenWrt's ipkg-build computes it).
func InstalledSize(files []File) int64 {
	var n int64
	for _, f := range files {
		n += int64(len(f.Data))
	}
	return n
}

func (p Package) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidPackage, p.Package, fmt.Sprintf(format, a...))
	}
	switch {
	case !nameRE.MatchString(p.Package):
		return bad("package name %q: want lower case letters, digits and +-.", p.Package)
	case !versionRE.MatchString(p.Version):
		return bad("version %q: want X.Y.Z-rN", p.Version)
	case !archRE.MatchString(p.Architecture):
		return bad("architecture %q", p.Architecture)
	case strings.TrimSpace(p.Description) == "":
		return bad("empty description")
	case p.ModTime.Unix() < 0 || p.ModTime.Unix() > 0o77777777777:
		return bad("modification time %v does not fit a tar header", p.ModTime)
	}
	for _, d := range p.Depends {
		if !nameRE.MatchString(d) {
			return bad("dependency %q", d)
		}
	}
	for _, v := range []string{p.Section, p.Maintainer, p.License, p.Source} {
		if strings.ContainsAny(v, "\n") {
			return bad("field value %q spans lines", v)
		}
	}
	seen := map[string]bool{}
	for _, f := range p.Files {
		if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || f.Path == "/" {
			return bad("file path %q: want a clean absolute path", f.Path)
		}
		if seen[f.Path] {
			return bad("file %s listed twice", f.Path)
		}
		if len(f.Path) > 99 {
			return bad("file path %s longer than a tar name field", f.Path)
		}
		seen[f.Path] = true
	}
	for d := range seen {
		for dir := path.Dir(d); dir != "/"; dir = path.Dir(dir) {
			if seen[dir] {
				return bad("%s is both a file and a directory", dir)
			}
		}
	}
	for _, c := range p.Conffiles {
		if !seen[c] {
			return bad("conffile %s is not one of the package's files", c)
		}
	}
	return nil
}

// ControlText renders the control file. Installed-Size is computed from
// files.
func (c Control) ControlText(installedSize int64) string {
	var b strings.Builder
	field := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	field("Package", c.Package)
	field("Version", c.Version)
	field("Depends", strings.Join(c.Depends, ", "))
	field("Source", c.Source)
	field("License", c.License)
	field("Section", c.Section)
	field("Maintainer", c.Maintainer)
	field("Architecture", c.Architecture)
	field("Installed-Size", strconv.FormatInt(installedSize, 10))
	lines := strings.Split(strings.TrimSpace(c.Description), "\n")
	fmt.Fprintf(&b, "Description: %s\n", strings.TrimSpace(lines[0]))
	for _, l := range lines[1:] {
		l = strings.TrimSpace(l)
		if l == "" {
			l = "." // an empty continuation line, as in Debian control files
		}
		fmt.Fprintf(&b, " %s\n", l)
	}
	return b.String()
}

// entry is one member of a tar archive being written.
type entry struct {
	name string
	mode int64
	dir  bool
	data []byte
}

// writeTar writes entries as a GNU tar (no PAX records), owner 0:0.
func writeTar(entries []entry, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name:    e.name,
			Mode:    e.mode,
			ModTime: mtime,
			Format:  tar.FormatGNU,
		}
		if e.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("ipk: tar header %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("ipk: tar %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("ipk: tar: %w", err)
	}
	return buf.Bytes(), nil
}

// gzipBytes compresses b with a fixed header: no name, ModTime mtime.
func gzipBytes(b []byte, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("ipk: gzip: %w", err)
	}
	zw.ModTime = mtime
	if _, err := zw.Write(b); err != nil {
		return nil, fmt.Errorf("ipk: gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("ipk: gzip: %w", err)
	}
	return buf.Bytes(), nil
}

func targz(entries []entry, mtime time.Time) ([]byte, error) {
	t, err := writeTar(entries, mtime)
	if err != nil {
		return nil, err
	}
	return gzipBytes(t, mtime)
}

// dataEntries lists "./", every directory and every file, sorted by name
// so that a directory precedes its contents.
func dataEntries(files []File) []entry {
	dirs := map[string]bool{}
	for _, f := range files {
		for d := path.Dir(f.Path); d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	es := []entry{{name: "./", mode: modeDir, dir: true}}
	for d := range dirs {
		es = append(es, entry{name: "." + d + "/", mode: modeDir, dir: true})
	}
	for _, f := range files {
		es = append(es, entry{name: "." + f.Path, mode: int64(f.Mode.Perm()), data: f.Data})
	}
	slices.SortFunc(es[1:], func(a, b entry) int { return strings.Compare(a.name, b.name) })
	return es
}

// Build returns the .ipk file of p.
func Build(p Package) ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	data, err := targz(dataEntries(p.Files), p.ModTime)
	if err != nil {
		return nil, err
	}
	ctl := []entry{
		{name: "./", mode: modeDir, dir: true},
		{name: "./control", mode: modeControl, data: []byte(p.ControlText(InstalledSize(p.Files)))},
	}
	if len(p.Conffiles) > 0 {
		ctl = append(ctl, entry{name: "./conffiles", mode: modeControl, data: []byte(strings.Join(p.Conffiles, "\n") + "\n")})
	}
	if p.Postinst != "" {
		ctl = append(ctl, entry{name: "./postinst", mode: modeScript, data: []byte(p.Postinst)})
	}
	if p.Prerm != "" {
		ctl = append(ctl, entry{name: "./prerm", mode: modeScript, data: []byte(p.Prerm)})
	}
	control, err := targz(ctl, p.ModTime)
	if err != nil {
		return nil, err
	}
	return targz([]entry{
		{name: DebianBinaryName, mode: modeControl, data: []byte(DebianBinary)},
		{name: DataName, mode: modeControl, data: data},
		{name: ControlName, mode: modeControl, data: control},
	}, p.ModTime)
}
