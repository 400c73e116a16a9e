package packaging_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nemo-mobility/nemo/internal/testutil"
	"github.com/nemo-mobility/nemo/packaging/ipk"
)

const (
	testVersion = "0.1.0-r1"
	testEpoch   = "1700000000"
)

// crossTargets are the architectures built by the tests: big-endian MIPS
// and ARMv7 (run under qemu-user) and the host's x86_64.
var crossTargets = []struct{ arch, goarch, env string }{
	{"mips_24kc", "mips", "GOMIPS=softfloat"},
	{"arm_cortex-a7", "arm", "GOARM=7"},
	{"x86_64", "amd64", ""},
}

var commands = []string{"mrouter", "ha"}

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), ".."))
}

var (
	buildOnce sync.Once
	buildErr  error
	workDir   string // dist/<arch>/{mrouter,ha}, host/{mrouter,ha,mkipk}, ipk-a/, ipk-b/
)

func TestMain(m *testing.M) {
	code := m.Run()
	if workDir != "" {
		os.RemoveAll(workDir)
	}
	os.Exit(code)
}

func goCmd(env []string, args ...string) error {
	c := exec.Command("go", args...)
	c.Dir = moduleRoot()
	c.Env = append(os.Environ(), env...)
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// build cross-compiles the daemons once per test binary (about 30 s per
// MIPS binary), builds the host tools and runs mkipk twice.
func build(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		workDir, buildErr = os.MkdirTemp("", "nemo-packaging-")
		if buildErr != nil {
			return
		}
		ld := "-s -w -X github.com/nemo-mobility/nemo/internal/version.Version=" + testVersion
		var archs []string
		for _, ct := range crossTargets {
			env := []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + ct.goarch}
			if ct.env != "" {
				env = append(env, ct.env)
			}
			out := filepath.Join(workDir, "dist", ct.arch) + "/"
			if buildErr = goCmd(env, "build", "-trimpath", "-ldflags", ld, "-o", out, "./cmd/mrouter", "./cmd/ha"); buildErr != nil {
				return
			}
			archs = append(archs, ct.arch)
		}
		// One arm64 build packaged under another name: ARCH=BINDIR.
		host := filepath.Join(workDir, "host") + "/"
		if buildErr = goCmd([]string{"CGO_ENABLED=0"}, "build", "-o", host, "./cmd/mrouter", "./cmd/ha", "./packaging/cmd/mkipk"); buildErr != nil {
			return
		}
		for _, dir := range []string{"ipk-a", "ipk-b"} {
			c := exec.Command(filepath.Join(workDir, "host", "mkipk"), "-version", testVersion,
				"-arch", strings.Join(archs, ",")+",x86_64_alias=x86_64",
				"-dist", filepath.Join(workDir, "dist"), "-o", filepath.Join(workDir, dir))
			c.Dir = moduleRoot()
			c.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+testEpoch)
			out, err := c.CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("mkipk: %v\n%s", err, out)
				return
			}
			fmt.Fprintf(os.Stderr, "mkipk (%s):\n%s", dir, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return workDir
}

// expected members of each package's data archive: path -> mode.
func expectedData(name string) map[string]int64 {
	m := map[string]int64{
		"./": 0o755, "./etc/": 0o755, "./etc/config/": 0o755, "./etc/init.d/": 0o755,
		"./usr/": 0o755, "./usr/sbin/": 0o755, "./usr/share/": 0o755, "./usr/share/licenses/": 0o755,
		"./usr/share/licenses/" + name + "/":        0o755,
		"./usr/share/licenses/" + name + "/LICENSE": 0o644,
		"./usr/sbin/" + name:                        0o755,
		"./etc/init.d/" + name:                      0o755,
		"./etc/config/" + name:                      0o600,
	}
	if name == "mrouter" {
		m["./etc/hotplug.d/"] = 0o755
		m["./etc/hotplug.d/iface/"] = 0o755
		m["./etc/hotplug.d/iface/50-mrouter"] = 0o644
	}
	return m
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestIPKContents(t *testing.T) {
	w := build(t)
	root := moduleRoot()
	archs := []struct{ arch, dir string }{{"x86_64_alias", "x86_64"}}
	for _, ct := range crossTargets {
		archs = append(archs, struct{ arch, dir string }{ct.arch, ct.arch})
	}
	for _, a := range archs {
		for _, name := range commands {
			file := fmt.Sprintf("%s_%s_%s.ipk", name, testVersion, a.arch)
			t.Run(file, func(t *testing.T) {
				b := readFile(t, filepath.Join(w, "ipk-a", file))
				u, err := ipk.Read(b)
				if err != nil {
					t.Fatal(err)
				}
				want := expectedData(name)
				var got []string
				var size int
				for _, m := range u.Data {
					got = append(got, m.Name)
					if mode, ok := want[m.Name]; !ok || mode != m.Mode {
						t.Errorf("data member %s mode %o: want %o (listed: %v)", m.Name, m.Mode, mode, ok)
					}
					size += len(m.Data)
				}
				if len(got) != len(want) {
					t.Errorf("data members %q, want %d of them", got, len(want))
				}
				if !slices.IsSorted(got) {
					t.Errorf("data members not in order (a directory before its files): %q", got)
				}
				checks := map[string][]byte{
					"./usr/sbin/" + name:   readFile(t, filepath.Join(w, "dist", a.dir, name)),
					"./etc/init.d/" + name: readFile(t, filepath.Join(root, "openwrt/files", name+".init")),
					"./etc/config/" + name: readFile(t, filepath.Join(root, "openwrt/files", name+".config")),
				}
				if name == "mrouter" {
					checks["./etc/hotplug.d/iface/50-mrouter"] = readFile(t, filepath.Join(root, "openwrt/files/mrouter.hotplug"))
				}
				for path, content := range checks {
					if m := ipk.Find(u.Data, path); m == nil || !bytes.Equal(m.Data, content) {
						t.Errorf("%s differs from its source", path)
					}
				}
				fields := map[string]string{
					"Package": name, "Version": testVersion, "Architecture": a.arch,
					"Depends": "kmod-tun", "Section": "net", "License": "MIT",
					"Installed-Size": strconv.Itoa(size),
				}
				for k, v := range fields {
					if u.Field(k) != v {
						t.Errorf("control %s = %q, want %q", k, u.Field(k), v)
					}
				}
				for _, mod := range []string{"kmod-ip6-tunnel", "kmod-sit", "kmod-fou"} {
					if !strings.Contains(u.Field("Description"), mod) {
						t.Errorf("description does not name %s", mod)
					}
				}
				if !slices.Equal(u.Conffiles, []string{"/etc/config/" + name}) {
					t.Errorf("conffiles %q", u.Conffiles)
				}
				for _, s := range []string{"./postinst", "./prerm"} {
					m := ipk.Find(u.ControlMembers, s)
					if m == nil || m.Mode != 0o755 || !bytes.Contains(m.Data, []byte(`[ -n "$IPKG_INSTROOT" ] && exit 0`)) {
						t.Errorf("%s missing, not executable or not inert under IPKG_INSTROOT", s)
					}
				}
				if other := readFile(t, filepath.Join(w, "ipk-b", file)); !bytes.Equal(b, other) {
					t.Error("two builds with the same SOURCE_DATE_EPOCH differ")
				}
			})
		}
	}
}

// TestIPKWithTar lists every package with GNU tar, as a second reader: the
// outer archive, then the two inner ones, checking order, owner and modes.
func TestIPKWithTar(t *testing.T) {
	tarBin := testutil.RequireTool(t, "tar")
	w := build(t)
	files, _ := filepath.Glob(filepath.Join(w, "ipk-a", "*.ipk"))
	if len(files) != 2*(len(crossTargets)+1) {
		t.Fatalf("%d packages built: %q", len(files), files)
	}
	list := func(t *testing.T, archive string) []string {
		out, err := exec.Command(tarBin, "--numeric-owner", "-tzvf", archive).CombinedOutput()
		if err != nil {
			t.Fatalf("tar -tzvf %s: %v\n%s", archive, err, out)
		}
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			lines := list(t, f)
			var names []string
			for _, l := range lines {
				fs := strings.Fields(l)
				if len(fs) < 6 || fs[1] != "0/0" {
					t.Errorf("outer: %q: want owner 0/0", l)
					continue
				}
				names = append(names, fs[len(fs)-1])
			}
			if !slices.Equal(names, []string{"./debian-binary", "./data.tar.gz", "./control.tar.gz"}) {
				t.Fatalf("outer members %q", names)
			}
			dir := t.TempDir()
			if out, err := exec.Command(tarBin, "-xzf", f, "-C", dir).CombinedOutput(); err != nil {
				t.Fatalf("tar -x: %v\n%s", err, out)
			}
			name := strings.SplitN(filepath.Base(f), "_", 2)[0]
			want := expectedData(name)
			for _, l := range list(t, filepath.Join(dir, "data.tar.gz")) {
				fs := strings.Fields(l)
				if fs[1] != "0/0" {
					t.Errorf("data: %q: want owner 0/0", l)
				}
				mode, ok := want[fs[len(fs)-1]]
				if !ok || fs[0] != tarMode(mode, strings.HasSuffix(fs[len(fs)-1], "/")) {
					t.Errorf("data: %q: want mode %s", l, tarMode(mode, strings.HasSuffix(fs[len(fs)-1], "/")))
				}
			}
			ctl := list(t, filepath.Join(dir, "control.tar.gz"))
			joined := strings.Join(ctl, "\n")
			for _, m := range []string{"-rw-r--r-- 0/0 ", "./control", "./conffiles", "-rwxr-xr-x 0/0"} {
				if !strings.Contains(joined, m) {
					t.Errorf("control archive lacks %q:\n%s", m, joined)
				}
			}
		})
	}
}

// tarMode renders mode as tar -tv does.
func tarMode(mode int64, dir bool) string {
	s := []byte("-rwxrwxrwx")
	if dir {
		s[0] = 'd'
	}
	for i := range 9 {
		if mode&(1<<(8-i)) == 0 {
			s[i+1] = '-'
		}
	}
	return string(s)
}

// TestShellcheck runs shellcheck on every shell script we ship: the init
// scripts, the hotplug hook and the packages' maintainer scripts.
func TestShellcheck(t *testing.T) {
	sc := testutil.RequireTool(t, "shellcheck")
	root := moduleRoot()
	scripts, _ := filepath.Glob(filepath.Join(root, "openwrt/files/*.init"))
	hooks, _ := filepath.Glob(filepath.Join(root, "openwrt/files/*.hotplug"))
	scripts = append(scripts, hooks...)
	if len(scripts) < 3 {
		t.Fatalf("found only %q", scripts)
	}
	w := build(t)
	dir := t.TempDir()
	for _, name := range commands {
		u, err := ipk.Read(readFile(t, filepath.Join(w, "ipk-a", name+"_"+testVersion+"_x86_64.ipk")))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"postinst", "prerm"} {
			p := filepath.Join(dir, name+"."+s)
			if err := os.WriteFile(p, ipk.Find(u.ControlMembers, "./"+s).Data, 0o644); err != nil {
				t.Fatal(err)
			}
			scripts = append(scripts, p)
		}
	}
	for _, s := range scripts {
		out, err := exec.Command(sc, "--severity=style", s).CombinedOutput()
		if err != nil {
			t.Errorf("shellcheck %s: %v\n%s", s, err, out)
		}
	}
}
