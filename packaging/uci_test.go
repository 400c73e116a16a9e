package packaging_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nemo-mobility/nemo/internal/testutil"
)

// render runs NAME's init script translation under dash with the stand-in
// of OpenWrt's functions.sh, on the UCI file uci, and writes the TOML
// (mode 600, as the init script does) into a temporary file.
func render(t *testing.T, name, uci string, env ...string) string {
	t.Helper()
	dash := testutil.RequireTool(t, "dash")
	root := moduleRoot()
	stub := filepath.Join(root, "packaging/testdata/openwrt/lib")
	cfgDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(cfgDir, name), []byte(uci), 0o600); err != nil {
		t.Fatal(err)
	}
	script := `. "$STUB/functions.sh"; . "$INIT"; config_load "$NAME" || exit 1; "${NAME}_render"`
	c := exec.Command(dash, "-c", script)
	c.Env = append(os.Environ(), "STUB="+stub, "INIT="+filepath.Join(root, "openwrt/files", name+".init"),
		"NAME="+name, "UCI_CONFIG_DIR="+cfgDir, "NETWORK_SH="+filepath.Join(stub, "functions/network.sh"))
	c.Env = append(c.Env, env...)
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		t.Fatalf("rendering %s: %v\n%s", name, err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Logf("render %s stderr: %s", name, stderr.String())
	}
	path := filepath.Join(t.TempDir(), name+".toml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// configCheck runs BIN config check -c FILE, through runner (qemu) if set.
func configCheck(t *testing.T, runner, bin, file string) (string, error) {
	t.Helper()
	args := []string{bin, "config", "check", "-c", file}
	if runner != "" {
		args = append([]string{runner}, args...)
	}
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	return string(out), err
}

// uciSamples are the UCI files translated: the shipped defaults and the
// fuller samples of testdata/uci.
func uciSamples(t *testing.T, name string) map[string]string {
	root := moduleRoot()
	return map[string]string{
		"default": string(readFile(t, filepath.Join(root, "openwrt/files", name+".config"))),
		"sample":  string(readFile(t, filepath.Join(root, "packaging/testdata/uci", name))),
	}
}

func TestUCITranslation(t *testing.T) {
	w := build(t)
	for _, name := range commands {
		for sample, uci := range uciSamples(t, name) {
			t.Run(name+"/"+sample, func(t *testing.T) {
				toml := render(t, name, uci, "NETIFD_DEVICES=lte=wwan0 wan=eth9")
				out, err := configCheck(t, "", filepath.Join(w, "host", name), toml)
				if err != nil || !strings.Contains(out, ": ok") {
					t.Fatalf("config check: %v\n%s\n--- rendered:\n%s", err, out, readFile(t, toml))
				}
			})
		}
	}
}

// TestUCITranslationValues checks what reaches the TOML: types, lists,
// netifd device resolution, home_link mapping and quoting.
func TestUCITranslationValues(t *testing.T) {
	uci := string(readFile(t, filepath.Join(moduleRoot(), "packaging/testdata/uci/mrouter")))
	got := string(readFile(t, render(t, "mrouter", uci, "NETIFD_DEVICES=lte=wwan0")))
	for _, want := range []string{
		"home_link = \"eth1\"\n",        // uplink section 'wan' -> its device
		"interface = \"wwan0\"\n",       // device from netifd for network 'lte'
		"interface = \"phy0-sta0\"\n",   // explicit device
		"fwmark = 0x10000\n",            // hex integer unquoted
		"request_ipv4_prefix = false\n", // 'no'
		"tunnel_probe = \"200ms\"\n",    // durations quoted
		"path_hold = \"1m\"\n",
		"preferred = true\n",                        // 'true'
		"interfaces = [\"br-lan\", \"br-guest\"]\n", // list
		"prefixes = [\"2001:db8:10::/64\", \"2001:db8:11::/64\"]\n",
		"[log]\nlevel = \"debug\"\nformat = \"json\"\n", // main options to [log]
	} {
		if !strings.Contains(got, want) {
			t.Errorf("rendered TOML lacks %q:\n%s", want, got)
		}
	}
	// Without netifd knowing 'lte', that uplink is left out.
	if got := string(readFile(t, render(t, "mrouter", uci))); strings.Contains(got, `name = "lte"`) {
		t.Errorf("uplink without a device rendered:\n%s", got)
	}
	// Quotes and backslashes are escaped; a bad integer is quoted so that
	// the daemon reports it.
	odd := "config mrouter 'main'\n\toption home_address 'a\"b\\\\c'\nconfig routing 'routing'\n\toption table_base '12; x = 1'\n"
	got = string(readFile(t, render(t, "mrouter", odd)))
	for _, want := range []string{`home_address = "a\"b\\\\c"`, `table_base = "12; x = 1"`} {
		if !strings.Contains(got, want) {
			t.Errorf("rendered TOML lacks %q:\n%s", want, got)
		}
	}
}

// TestUCITranslationRejected: a UCI mistake reaches the daemon's check,
// which names the key; mwan3's mark mask is refused.
func TestUCITranslationRejected(t *testing.T) {
	w := build(t)
	uci := string(readFile(t, filepath.Join(moduleRoot(), "packaging/testdata/uci/mrouter")))
	bad := strings.Replace(uci, "option fwmark '0x10000'", "option fwmark '0x100'", 1)
	if bad == uci {
		t.Fatal("sample has no fwmark to change")
	}
	out, err := configCheck(t, "", filepath.Join(w, "host", "mrouter"), render(t, "mrouter", bad, "NETIFD_DEVICES=lte=wwan0"))
	if err == nil || !strings.Contains(out, "fwmark") {
		t.Fatalf("fwmark inside mwan3's mask accepted: %v\n%s", err, out)
	}
}

// TestQEMU runs the cross-built binaries under qemu-user: --version and a
// config check of the configurations translated from the UCI samples.
func TestQEMU(t *testing.T) {
	w := build(t)
	for _, q := range []struct{ arch, qemu, goarch string }{
		{"mips_24kc", "qemu-mips-static", "linux/mips"},
		{"arm_cortex-a7", "qemu-arm-static", "linux/arm"},
	} {
		t.Run(q.arch, func(t *testing.T) {
			qemu := testutil.RequireTool(t, q.qemu)
			for _, name := range commands {
				bin := filepath.Join(w, "dist", q.arch, name)
				out, err := exec.Command(qemu, bin, "--version").CombinedOutput()
				if err != nil || !strings.Contains(string(out), name+" "+testVersion) || !strings.Contains(string(out), q.goarch) {
					t.Fatalf("%s --version: %v: %q", name, err, out)
				}
				t.Logf("%s", strings.TrimSpace(string(out)))
				for sample, uci := range uciSamples(t, name) {
					toml := render(t, name, uci, "NETIFD_DEVICES=lte=wwan0")
					if out, err := configCheck(t, qemu, bin, toml); err != nil || !strings.Contains(out, ": ok") {
						t.Errorf("%s config check of %s under %s: %v\n%s", name, sample, q.qemu, err, out)
					}
				}
			}
		})
	}
}
