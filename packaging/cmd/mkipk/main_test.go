package main

import (
	"os"
	"testing"
)

func TestParseTargets(t *testing.T) {
	ts, err := parseTargets("mips_24kc, aarch64_cortex-a53=aarch64_generic,")
	if err != nil {
		t.Fatal(err)
	}
	want := []target{{"mips_24kc", "mips_24kc"}, {"aarch64_cortex-a53", "aarch64_generic"}}
	if len(ts) != len(want) || ts[0] != want[0] || ts[1] != want[1] {
		t.Fatalf("parseTargets = %+v, want %+v", ts, want)
	}
	for _, bad := range []string{"", ",", "=x", "a=", "a/b", "a=../b"} {
		if _, err := parseTargets(bad); err == nil {
			t.Errorf("parseTargets(%q) accepted", bad)
		}
	}
}

// TestCheckBinary: the test binary itself (x86_64 Linux) is refused for
// MIPS and ARM, and a non-ELF file is refused for any architecture.
func TestCheckBinary(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"mips_24kc", "mipsel_24kc", "arm_cortex-a7", "aarch64_generic", "sparc_v9"} {
		if err := checkBinary(self, arch); err == nil {
			t.Errorf("an x86_64 binary accepted for %s", arch)
		}
	}
	if err := checkBinary("main.go", "x86_64"); err == nil {
		t.Error("a Go source file accepted as a binary")
	}
}

func TestRunNeedsEpoch(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "")
	os.Unsetenv("SOURCE_DATE_EPOCH")
	if err := run([]string{"-version", "0.1.0-r1", "-arch", "x86_64", "-o", t.TempDir()}); err == nil {
		t.Fatal("ran without SOURCE_DATE_EPOCH")
	}
}
