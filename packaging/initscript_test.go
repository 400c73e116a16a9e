package packaging_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nemo-mobility/nemo/internal/testutil"
)

// procdStub records the procd.sh calls an init script makes, one per line.
const procdStub = `
procd_open_instance() { echo "open_instance $*"; }
procd_set_param() { echo "set_param $*"; }
procd_close_instance() { echo "close_instance"; }
procd_add_reload_trigger() { echo "reload_trigger $*"; }
procd_add_reload_interface_trigger() { echo "interface_trigger $*"; }
mkdir() { :; }
mrouter_write_config() { echo "write_config"; }
ha_write_config() { echo "write_config"; }
`

// runInit sources NAME's init script with the functions.sh stand-in and
// the procd recorder, then runs fn (start_service or service_triggers).
func runInit(t *testing.T, name, uci, fn string) string {
	t.Helper()
	dash := testutil.RequireTool(t, "dash")
	root := moduleRoot()
	stub := filepath.Join(root, "packaging/testdata/openwrt/lib")
	cfgDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(cfgDir, name), []byte(uci), 0o600); err != nil {
		t.Fatal(err)
	}
	c := exec.Command(dash, "-c", `. "$STUB/functions.sh"; . "$INIT"; `+procdStub+fn)
	c.Env = append(os.Environ(), "STUB="+stub, "INIT="+filepath.Join(root, "openwrt/files", name+".init"), "UCI_CONFIG_DIR="+cfgDir)
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, fn, err, out)
	}
	return string(out)
}

func TestInitScriptProcd(t *testing.T) {
	for _, name := range commands {
		t.Run(name, func(t *testing.T) {
			uci := string(readFile(t, filepath.Join(moduleRoot(), "packaging/testdata/uci", name)))
			got := runInit(t, name, uci, "start_service")
			for _, want := range []string{
				"write_config\nopen_instance main\n",
				"set_param command /usr/sbin/" + name + " run -c /var/etc/" + name + ".toml\n",
				"set_param file /var/etc/" + name + ".toml\n",
				"set_param reload_signal HUP\n",
				"set_param respawn 3600 5 5\n",
				"set_param stdout 1\n", "set_param stderr 1\n",
				"close_instance\n",
			} {
				if !strings.Contains(got, want) {
					t.Errorf("start_service lacks %q:\n%s", want, got)
				}
			}
			// enabled 0: no instance, so procd runs (or keeps) nothing.
			disabled := strings.Replace(uci, "option enabled '1'", "option enabled '0'", 1)
			if disabled == uci {
				t.Fatal("sample has no enabled option")
			}
			if got := runInit(t, name, disabled, "start_service"); got != "" {
				t.Errorf("disabled service still declares:\n%s", got)
			}
			if got := runInit(t, name, uci, "service_triggers"); !strings.Contains(got, "reload_trigger "+name+"\n") {
				t.Errorf("no UCI reload trigger:\n%s", got)
			}
		})
	}
	got := runInit(t, "mrouter", string(readFile(t, filepath.Join(moduleRoot(), "packaging/testdata/uci/mrouter"))), "service_triggers")
	if !strings.Contains(got, "interface_trigger wan\n") || !strings.Contains(got, "interface_trigger lte\n") || strings.Count(got, "interface_trigger") != 2 {
		t.Errorf("interface triggers of the uplinks' networks (wan, lte) wrong:\n%s", got)
	}
}

// TestHotplug runs the iface hotplug hook with ubus and logger recorders.
func TestHotplug(t *testing.T) {
	dash := testutil.RequireTool(t, "dash")
	root := moduleRoot()
	uci := string(readFile(t, filepath.Join(root, "packaging/testdata/uci/mrouter")))
	run := func(t *testing.T, uci string, env ...string) string {
		dir := t.TempDir()
		cfgDir := filepath.Join(dir, "config")
		binDir := filepath.Join(dir, "bin")
		log := filepath.Join(dir, "calls")
		os.MkdirAll(cfgDir, 0o755)
		os.MkdirAll(binDir, 0o755)
		os.WriteFile(filepath.Join(cfgDir, "mrouter"), []byte(uci), 0o600)
		for _, tool := range []string{"ubus", "logger"} {
			os.WriteFile(filepath.Join(binDir, tool), []byte("#!/bin/sh\necho \""+tool+" $*\" >> \""+log+"\"\n"), 0o755)
		}
		c := exec.Command(dash, filepath.Join(root, "openwrt/files/mrouter.hotplug"))
		c.Env = append(os.Environ(), "PATH="+binDir+":"+os.Getenv("PATH"), "UCI_CONFIG_DIR="+cfgDir,
			"FUNCTIONS_SH="+filepath.Join(root, "packaging/testdata/openwrt/lib/functions.sh"))
		c.Env = append(c.Env, env...)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("hotplug: %v\n%s", err, out)
		}
		b, _ := os.ReadFile(log)
		return string(b)
	}
	const hup = `ubus call service signal {"name":"mrouter","instance":"main","signal":1}`
	for _, c := range []struct {
		name  string
		uci   string
		env   []string
		nudge bool
	}{
		{"uplink network up", uci, []string{"ACTION=ifup", "INTERFACE=wan", "DEVICE=eth1"}, true},
		{"uplink network down", uci, []string{"ACTION=ifdown", "INTERFACE=lte", "DEVICE=wwan0"}, true},
		{"uplink by device", uci, []string{"ACTION=ifup", "INTERFACE=wwan", "DEVICE=phy0-sta0"}, true},
		{"other interface", uci, []string{"ACTION=ifup", "INTERFACE=lan", "DEVICE=br-lan"}, false},
		{"ifupdate", uci, []string{"ACTION=ifupdate", "INTERFACE=wan", "DEVICE=eth1"}, false},
		{"disabled", strings.Replace(uci, "option enabled '1'", "option enabled '0'", 1), []string{"ACTION=ifup", "INTERFACE=wan", "DEVICE=eth1"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := run(t, c.uci, c.env...)
			if strings.Contains(got, hup) != c.nudge {
				t.Errorf("nudge sent = %v, want %v; calls:\n%s", !c.nudge, c.nudge, got)
			}
		})
	}
}
