// Command mkipk builds the .ipk packages of mrouter and ha for opkg
// (OpenWrt up to 24.10) from cross-built binaries, one pair per
// architecture.
//
//	SOURCE_DATE_EPOCH=1700000000 mkipk -version 0.1.0-r1 \
//	    -arch mips_24kc,x86_64,aarch64_cortex-a53=aarch64_generic \
//	    [-dist dist] [-files openwrt/files] [-license LICENSE] [-o dist/ipk]
//
// ARCH=BINDIR packages the binaries of dist/BINDIR under the architecture
// name ARCH (one arm64 build serves several aarch64 package architectures).
// The init scripts, UCI defaults and hotplug hooks come from openwrt/files,
// the same files the OpenWrt feed package installs. The packages are
// reproducible: every timestamp is SOURCE_DATE_EPOCH, which must be set.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nemo-mobility/nemo/packaging/ipk"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mkipk:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mkipk", flag.ContinueOnError)
	version := fs.String("version", "", "package `version` X.Y.Z-rN (required)")
	archs := fs.String("arch", "", "comma-separated `ARCH[=BINDIR]` list (required)")
	dist := fs.String("dist", "dist", "`directory` holding BINDIR/mrouter and BINDIR/ha")
	files := fs.String("files", "openwrt/files", "`directory` of the init scripts, UCI defaults and hotplug hooks")
	lic := fs.String("license", "LICENSE", "license `file`")
	out := fs.String("o", filepath.Join("dist", "ipk"), "output `directory`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	targets, err := parseTargets(*archs)
	if err != nil {
		return err
	}
	epoch, ok := os.LookupEnv("SOURCE_DATE_EPOCH")
	if !ok {
		return fmt.Errorf("SOURCE_DATE_EPOCH is not set (e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%%ct))")
	}
	sec, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil || sec < 0 {
		return fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970", epoch)
	}
	in := inputs{dist: *dist, files: *files, license: *lic, version: *version, mtime: time.Unix(sec, 0).UTC()}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	fmt.Printf("%-28s %-8s %12s %10s\n", "ARCH", "PACKAGE", "IPK BYTES", "INSTALLED")
	for _, t := range targets {
		pkgs, err := in.packages(t)
		if err != nil {
			return err
		}
		for _, p := range pkgs {
			b, err := ipk.Build(p)
			if err != nil {
				return err
			}
			name := filepath.Join(*out, p.FileName())
			if err := os.WriteFile(name+".tmp", b, 0o644); err != nil {
				return err
			}
			if err := os.Rename(name+".tmp", name); err != nil {
				return err
			}
			fmt.Printf("%-28s %-8s %12d %10d\n", t.arch, p.Package, len(b), ipk.InstalledSize(p.Files))
		}
	}
	return nil
}
