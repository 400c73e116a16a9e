package main

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nemo-mobility/nemo/packaging/ipk"
)

// Common control fields of both packages.
const (
	maintainer = "NEMO mobility authors"
	license    = "MIT"
	source     = "https://github.com/nemo-mobility/nemo"
	section    = "net"
)

// Target paths and modes of the packaged files.
const (
	sbinDir      = "/usr/sbin/"
	initDir      = "/etc/init.d/"
	uciDir       = "/etc/config/"
	hotplugDir   = "/etc/hotplug.d/iface/"
	licenseDir   = "/usr/share/licenses/"
	modeExec     = 0o755
	modeUCI      = 0o600 // OpenWrt's INSTALL_CONF; the file may hold a key
	modeData     = 0o644
	hotplugOrder = "50-"
)

// spec describes one of our packages.
type spec struct {
	name        string
	description string
	// hotplug: ship files/NAME.hotplug as /etc/hotplug.d/iface/50-NAME.
	hotplug bool
}

// specs are the packages built for every architecture.
var specs = []spec{
	{
		name: "mrouter",
		description: `NEMO mobile router (RFC 3963, RFC 6275, DSMIPv6 RFC 5555)
Keeps a vehicle's networks reachable at their home addresses while its
uplinks change. Configure it in /etc/config/mrouter, set enabled to 1,
then: service mrouter start. The userspace data plane needs kmod-tun only;
the kernel data plane also needs kmod-ip6-tunnel, kmod-sit and kmod-fou.`,
		hotplug: true,
	},
	{
		name: "ha",
		description: `NEMO home agent (RFC 3963, RFC 6275, DSMIPv6 RFC 5555)
Serves NEMO mobile routers: binding cache, tunnels and routes to their
mobile networks. Configure it in /etc/config/ha, set enabled to 1, then:
service ha start. The userspace data plane needs kmod-tun only; the kernel
data plane also needs kmod-ip6-tunnel, kmod-sit and kmod-fou.`,
	},
}

// postinst enables and (re)starts the service on a live system; the
// service itself does nothing while its UCI option enabled is 0. When
// opkg installs into an image ($IPKG_INSTROOT set) it does nothing.
const postinst = `#!/bin/sh
# Building an image (opkg with an offline root): nothing to do.
[ -n "$IPKG_INSTROOT" ] && exit 0
[ -x /etc/init.d/@NAME@ ] || exit 0
/etc/init.d/@NAME@ enable
# restart: an upgrade replaces the binary under a running daemon.
/etc/init.d/@NAME@ restart
exit 0
`

// prerm stops and disables the service on a live system.
const prerm = `#!/bin/sh
# Building an image (opkg with an offline root): nothing to do.
[ -n "$IPKG_INSTROOT" ] && exit 0
[ -x /etc/init.d/@NAME@ ] || exit 0
/etc/init.d/@NAME@ stop
/etc/init.d/@NAME@ disable
exit 0
`

// target is one package architecture and the directory of its binaries.
type target struct {
	arch   string // OpenWrt package architecture, e.g. aarch64_cortex-a53
	binDir string // directory under -dist holding the binaries, e.g. aarch64_generic
}

// parseTargets parses "arch[=bindir],...".
func parseTargets(s string) ([]target, error) {
	var ts []target
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		arch, dir, ok := strings.Cut(f, "=")
		if !ok {
			dir = arch
		}
		if arch == "" || dir == "" || strings.ContainsAny(arch+dir, "/ ") {
			return nil, fmt.Errorf("target %q: want ARCH or ARCH=BINDIR", f)
		}
		ts = append(ts, target{arch: arch, binDir: dir})
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("no target architecture given")
	}
	return ts, nil
}

// elfMachine is the ELF machine and byte order an OpenWrt architecture
// needs, by the architecture's prefix.
var elfMachine = []struct {
	prefix  string
	machine elf.Machine
	order   binary.ByteOrder
}{
	{"mipsel_", elf.EM_MIPS, binary.LittleEndian},
	{"mips64el_", elf.EM_MIPS, binary.LittleEndian},
	{"mips_", elf.EM_MIPS, binary.BigEndian},
	{"mips64_", elf.EM_MIPS, binary.BigEndian},
	{"arm_", elf.EM_ARM, binary.LittleEndian},
	{"aarch64_", elf.EM_AARCH64, binary.LittleEndian},
	{"x86_64", elf.EM_X86_64, binary.LittleEndian},
	{"i386_", elf.EM_386, binary.LittleEndian},
	{"riscv64_", elf.EM_RISCV, binary.LittleEndian},
}

// checkBinary refuses a binary that is not a static Linux executable for
// arch: packaging the wrong build is the mistake this tool can catch.
func checkBinary(path, arch string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	for _, m := range elfMachine {
		if strings.HasPrefix(arch, m.prefix) {
			if f.Machine != m.machine || f.ByteOrder != m.order {
				return fmt.Errorf("%s is %v %v, not a binary for %s", path, f.Machine, f.ByteOrder, arch)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					return fmt.Errorf("%s is dynamically linked; build with CGO_ENABLED=0", path)
				}
			}
			return nil
		}
	}
	return fmt.Errorf("architecture %s: unknown CPU family", arch)
}

// inputs locate the files packaged.
type inputs struct {
	dist    string // dist/<bindir>/<name> are the binaries
	files   string // openwrt/files
	license string // LICENSE
	version string
	mtime   time.Time
}

// packages returns the packages of every spec for target t.
func (in inputs) packages(t target) ([]ipk.Package, error) {
	lic, err := os.ReadFile(in.license)
	if err != nil {
		return nil, err
	}
	var out []ipk.Package
	for _, s := range specs {
		binPath := filepath.Join(in.dist, t.binDir, s.name)
		if err := checkBinary(binPath, t.arch); err != nil {
			return nil, err
		}
		bin, err := os.ReadFile(binPath)
		if err != nil {
			return nil, err
		}
		initScript, err := os.ReadFile(filepath.Join(in.files, s.name+".init"))
		if err != nil {
			return nil, err
		}
		uci, err := os.ReadFile(filepath.Join(in.files, s.name+".config"))
		if err != nil {
			return nil, err
		}
		files := []ipk.File{
			{Path: sbinDir + s.name, Mode: modeExec, Data: bin},
			{Path: initDir + s.name, Mode: modeExec, Data: initScript},
			{Path: uciDir + s.name, Mode: modeUCI, Data: uci},
			{Path: licenseDir + s.name + "/LICENSE", Mode: modeData, Data: lic},
		}
		if s.hotplug {
			hp, err := os.ReadFile(filepath.Join(in.files, s.name+".hotplug"))
			if err != nil {
				return nil, err
			}
			files = append(files, ipk.File{Path: hotplugDir + hotplugOrder + s.name, Mode: modeData, Data: hp})
		}
		out = append(out, ipk.Package{
			Control: ipk.Control{
				Package:      s.name,
				Version:      in.version,
				Architecture: t.arch,
				Depends:      []string{"kmod-tun"},
				Section:      section,
				Maintainer:   maintainer,
				License:      license,
				Source:       source,
				Description:  s.description,
				Conffiles:    []string{uciDir + s.name},
				Postinst:     strings.ReplaceAll(postinst, "@NAME@", s.name),
				Prerm:        strings.ReplaceAll(prerm, "@NAME@", s.name),
			},
			Files:   files,
			ModTime: in.mtime,
		})
	}
	return out, nil
}
