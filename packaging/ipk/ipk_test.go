package ipk

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

var epoch = time.Unix(1700000000, 0)

func testPackage() Package {
	return Package{
		Control: Control{
			Package:      "demo",
			Version:      "1.2.3-r4",
			Architecture: "mips_24kc",
			Depends:      []string{"kmod-tun", "libc"},
			Section:      "net",
			License:      "MIT",
			Description:  "A demo\nSecond line.\n\nAfter a blank line.",
			Conffiles:    []string{"/etc/config/demo"},
			Postinst:     "#!/bin/sh\nexit 0\n",
			Prerm:        "#!/bin/sh\nexit 0\n",
		},
		Files: []File{
			{Path: "/usr/sbin/demo", Mode: 0o755, Data: bytes.Repeat([]byte{0x7f, 'E', 'L', 'F'}, 300)},
			{Path: "/etc/config/demo", Mode: 0o600, Data: []byte("config demo 'main'\n")},
			{Path: "/etc/init.d/demo", Mode: 0o755, Data: []byte("#!/bin/sh /etc/rc.common\n")},
		},
		ModTime: epoch,
	}
}

func names(ms []Member) []string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Name)
	}
	return s
}

func TestBuildRead(t *testing.T) {
	p := testPackage()
	b, err := Build(p)
	if err != nil {
		t.Fatal(err)
	}
	// The outer gzip header: no name, ModTime = epoch.
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if zr.Name != "" || !zr.ModTime.Equal(epoch) {
		t.Errorf("gzip header name %q mtime %v, want \"\" and %v", zr.Name, zr.ModTime, epoch)
	}
	u, err := Read(b)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(names(u.Outer), " "), "./debian-binary ./data.tar.gz ./control.tar.gz"; got != want {
		t.Errorf("outer members %q, want %q", got, want)
	}
	wantData := []string{"./", "./etc/", "./etc/config/", "./etc/config/demo", "./etc/init.d/", "./etc/init.d/demo", "./usr/", "./usr/sbin/", "./usr/sbin/demo"}
	if got := names(u.Data); strings.Join(got, " ") != strings.Join(wantData, " ") {
		t.Errorf("data members %q, want %q", got, wantData)
	}
	modes := map[string]int64{"./": 0o755, "./etc/config/demo": 0o600, "./usr/sbin/demo": 0o755, "./etc/init.d/demo": 0o755}
	for n, m := range modes {
		if got := Find(u.Data, n); got == nil || got.Mode != m {
			t.Errorf("%s: mode %+v, want %o", n, got, m)
		}
	}
	for _, ms := range [][]Member{u.Outer, u.Data, u.ControlMembers} {
		for _, m := range ms {
			if m.Uname != "" || m.Gname != "" || !m.ModTime.Equal(epoch) {
				t.Errorf("%s: owner %q:%q mtime %v", m.Name, m.Uname, m.Gname, m.ModTime)
			}
		}
	}
	if got := strings.Join(names(u.ControlMembers), " "); got != "./ ./control ./conffiles ./postinst ./prerm" {
		t.Errorf("control members %q", got)
	}
	if m := Find(u.ControlMembers, "./postinst"); m.Mode != 0o755 || string(m.Data) != p.Postinst {
		t.Errorf("postinst mode %o data %q", m.Mode, m.Data)
	}
	want := map[string]string{
		"Package": "demo", "Version": "1.2.3-r4", "Architecture": "mips_24kc",
		"Depends": "kmod-tun, libc", "Section": "net", "License": "MIT",
		"Installed-Size": strconv.FormatInt(InstalledSize(p.Files), 10),
		"Description":    "A demo\nSecond line.\n.\nAfter a blank line.",
	}
	for k, v := range want {
		if got := u.Field(k); got != v {
			t.Errorf("field %s = %q, want %q", k, got, v)
		}
	}
	// Installed-Size is the sum of the regular files' sizes.
	var sum int
	for _, m := range u.Data {
		if m.Typeflag == tar.TypeReg {
			sum += len(m.Data)
		}
	}
	if u.Field("Installed-Size") != strconv.Itoa(sum) {
		t.Errorf("Installed-Size %s, files sum to %d", u.Field("Installed-Size"), sum)
	}
	if strings.Join(u.Conffiles, " ") != "/etc/config/demo" {
		t.Errorf("conffiles %q", u.Conffiles)
	}
	if got := Find(u.Data, "./usr/sbin/demo"); !bytes.Equal(got.Data, p.Files[0].Data) {
		t.Error("binary content changed")
	}
}

func TestReproducible(t *testing.T) {
	a, err := Build(testPackage())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(testPackage())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two builds of the same package differ")
	}
	p := testPackage()
	p.ModTime = epoch.Add(time.Second)
	c, err := Build(p)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, c) {
		t.Fatal("ModTime does not reach the archive")
	}
}

func TestBuildInvalid(t *testing.T) {
	cases := map[string]func(*Package){
		"name":          func(p *Package) { p.Package = "Demo" },
		"version":       func(p *Package) { p.Version = "1.2.3" },
		"version-r":     func(p *Package) { p.Version = "1.2-r1" },
		"arch":          func(p *Package) { p.Architecture = "" },
		"description":   func(p *Package) { p.Description = " \n" },
		"depends":       func(p *Package) { p.Depends = []string{"a b"} },
		"relative":      func(p *Package) { p.Files[0].Path = "usr/sbin/demo" },
		"unclean":       func(p *Package) { p.Files[0].Path = "/usr/../sbin/demo" },
		"duplicate":     func(p *Package) { p.Files = append(p.Files, p.Files[0]) },
		"file-and-dir":  func(p *Package) { p.Files = append(p.Files, File{Path: "/usr/sbin", Mode: 0o644}) },
		"conffile":      func(p *Package) { p.Conffiles = []string{"/etc/config/other"} },
		"field-newline": func(p *Package) { p.Section = "net\nX: y" },
		"mtime":         func(p *Package) { p.ModTime = time.Unix(-1, 0) },
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			p := testPackage()
			mod(&p)
			if _, err := Build(p); !errors.Is(err, ErrInvalidPackage) {
				t.Fatalf("err = %v, want ErrInvalidPackage", err)
			}
		})
	}
}

// rawTarGz writes a gzip'd tar of (name, data) pairs with hdr applied.
func rawTarGz(t *testing.T, format tar.Format, uid int, members ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for i := 0; i+1 < len(members); i += 2 {
		h := &tar.Header{Name: members[i], Mode: 0o644, Size: int64(len(members[i+1])), Uid: uid, Typeflag: tar.TypeReg, Format: format, ModTime: epoch}
		if format == tar.FormatPAX {
			h.PAXRecords = map[string]string{"comment": "x"}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(members[i+1]))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestReadMalformed(t *testing.T) {
	good, err := Build(testPackage())
	if err != nil {
		t.Fatal(err)
	}
	u, err := Read(good)
	if err != nil {
		t.Fatal(err)
	}
	data, ctl := string(u.Outer[1].Data), string(u.Outer[2].Data)
	ctlNoFields := string(rawTarGz(t, tar.FormatGNU, 0, "./control", "Package: x\n"))
	cases := map[string][]byte{
		"not gzip":      []byte("!<arch>\n"),
		"truncated":     good[:len(good)/2],
		"order":         rawTarGz(t, tar.FormatGNU, 0, DebianBinaryName, DebianBinary, ControlName, ctl, DataName, data),
		"no ./":         rawTarGz(t, tar.FormatGNU, 0, "debian-binary", DebianBinary, "data.tar.gz", data, "control.tar.gz", ctl),
		"missing":       rawTarGz(t, tar.FormatGNU, 0, DebianBinaryName, DebianBinary, DataName, data),
		"debian-binary": rawTarGz(t, tar.FormatGNU, 0, DebianBinaryName, "3.0\n", DataName, data, ControlName, ctl),
		"pax":           rawTarGz(t, tar.FormatPAX, 0, DebianBinaryName, DebianBinary, DataName, data, ControlName, ctl),
		"ustar":         rawTarGz(t, tar.FormatUSTAR, 0, DebianBinaryName, DebianBinary, DataName, data, ControlName, ctl),
		"owner":         rawTarGz(t, tar.FormatGNU, 1000, DebianBinaryName, DebianBinary, DataName, data, ControlName, ctl),
		"data not tgz":  rawTarGz(t, tar.FormatGNU, 0, DebianBinaryName, DebianBinary, DataName, "x", ControlName, ctl),
		"no control":    rawTarGz(t, tar.FormatGNU, 0, DebianBinaryName, DebianBinary, DataName, data, ControlName, data),
		"bad control":   rawTarGz(t, tar.FormatGNU, 0, DebianBinaryName, DebianBinary, DataName, data, ControlName, ctlNoFields),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			u, err := Read(b)
			if !errors.Is(err, ErrMalformed) || u != nil {
				t.Fatalf("Read = %v, %v; want nil, ErrMalformed", u, err)
			}
		})
	}
}

func TestParseControlErrors(t *testing.T) {
	for _, text := range []string{
		"",
		" continuation first\nPackage: a\nVersion: 1\nArchitecture: all\n",
		"Package: a\nVersion: 1\n",
		"Package: a\nPackage: b\nVersion: 1\nArchitecture: all\n",
		"Package: a\n\nVersion: 1\nArchitecture: all\n",
		"Package a\nVersion: 1\nArchitecture: all\n",
		"Package: a\nVersion: 1\nArchitecture: all\nInstalled-Size: 12k\n",
	} {
		if fs, err := ParseControl(text); !errors.Is(err, ErrMalformed) || fs != nil {
			t.Errorf("ParseControl(%q) = %v, %v; want ErrMalformed", text, fs, err)
		}
	}
}

// renderFields writes fields back as a control file.
func renderFields(fs []Field) string {
	var b strings.Builder
	for _, f := range fs {
		lines := strings.Split(f.Value, "\n")
		b.WriteString(f.Key + ": " + lines[0] + "\n")
		for _, l := range lines[1:] {
			b.WriteString(" " + l + "\n")
		}
	}
	return b.String()
}

func FuzzParseControl(f *testing.F) {
	f.Add(testPackage().ControlText(1234))
	f.Add("Package: a\nVersion: 1.0.0-r1\nArchitecture: all\nDescription: x\n y\n")
	f.Fuzz(func(t *testing.T, text string) {
		fs, err := ParseControl(text)
		if err != nil {
			return
		}
		again, err := ParseControl(renderFields(fs))
		if err != nil {
			t.Fatalf("re-parse of %q: %v", renderFields(fs), err)
		}
		if len(again) != len(fs) {
			t.Fatalf("%d fields, then %d", len(fs), len(again))
		}
		for i := range fs {
			if fs[i] != again[i] {
				t.Fatalf("field %d: %q then %q", i, fs[i], again[i])
			}
		}
	})
}

func FuzzRead(f *testing.F) {
	good, err := Build(testPackage())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := Read(b)
		if err != nil {
			if u != nil {
				t.Fatal("value returned with an error")
			}
			return
		}
		if len(u.Outer) != 3 || u.Outer[0].Name != DebianBinaryName || u.Outer[1].Name != DataName || u.Outer[2].Name != ControlName {
			t.Fatalf("accepted outer members %q", names(u.Outer))
		}
		if u.Field("Package") == "" && Find(u.ControlMembers, "./control") == nil {
			t.Fatal("accepted a package without a control file")
		}
		for _, ms := range [][]Member{u.Outer, u.Data, u.ControlMembers} {
			for _, m := range ms {
				if m.Uid != 0 || m.Gid != 0 {
					t.Fatalf("accepted owner %d:%d", m.Uid, m.Gid)
				}
			}
		}
	})
}
