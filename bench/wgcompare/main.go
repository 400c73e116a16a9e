// Command wgcompare brings up one wireguard-go device (golang.zx2c4.com/wireguard,
// userspace, with its TUN offloads and batched UDP I/O) in the calling
// network namespace, for the side-by-side tunnel benchmark of BENCHMARKS.md
// (bench/tunnel): the same two namespaces as the mobile router and the home
// agent, wireguard-go instead of the NEMO tunnel. It is its own module so
// that wireguard-go never enters the main module's dependencies; build it
// with `go build -C bench/wgcompare -o DIR/wgcompare .` (scripts/bench.sh
// does).
//
//	wgcompare genkey                      prints "PRIVATE PUBLIC" (hex)
//	wgcompare up -name wg0 -key PRIV -peer PUB [-endpoint [addr]:port]
//	          [-listen port] [-mtu 1420] [-allowed ::/0,0.0.0.0/0]
//
// up prints "ready" once the device is up and runs until SIGTERM or
// SIGINT; the caller configures routes through the device with ip(8).
package main

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/crypto/curve25519"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "genkey":
		priv, pub, err := genkey()
		if err != nil {
			fatal(err)
		}
		fmt.Println(priv, pub)
	case "up":
		if err := up(os.Args[2:]); err != nil {
			fatal(err)
		}
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: wgcompare genkey | wgcompare up -name IF -key PRIV -peer PUB [-endpoint HOST:PORT] [-listen PORT] [-mtu N] [-allowed CIDR,...]")
	os.Exit(2)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "wgcompare:", err)
	os.Exit(1)
}

// genkey returns a new Curve25519 key pair, hex-encoded as the UAPI wants.
func genkey() (priv, pub string, err error) {
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		return "", "", err
	}
	k[0] &= 248
	k[31] = k[31]&127 | 64
	p, err := curve25519.X25519(k[:], curve25519.Basepoint)
	if err != nil {
		return "", "", err
	}
	return hex.EncodeToString(k[:]), hex.EncodeToString(p), nil
}

func up(args []string) error {
	fs := flag.NewFlagSet("up", flag.ExitOnError)
	name := fs.String("name", "wg0", "TUN device name")
	key := fs.String("key", "", "private key, hex")
	peer := fs.String("peer", "", "the peer's public key, hex")
	endpoint := fs.String("endpoint", "", "the peer's endpoint host:port (empty: learn it from the peer)")
	listen := fs.Int("listen", 51820, "UDP listen port")
	mtu := fs.Int("mtu", device.DefaultMTU, "TUN MTU")
	allowed := fs.String("allowed", "::/0,0.0.0.0/0", "the peer's allowed IPs, comma-separated")
	fs.Parse(args)
	if *key == "" || *peer == "" {
		return fmt.Errorf("-key and -peer are required")
	}
	dev, err := tun.CreateTUN(*name, *mtu)
	if err != nil {
		return fmt.Errorf("create TUN %s: %w", *name, err)
	}
	logger := device.NewLogger(device.LogLevelError, "wgcompare: ")
	d := device.NewDevice(dev, conn.NewDefaultBind(), logger)
	defer d.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "private_key=%s\nlisten_port=%d\nreplace_peers=true\npublic_key=%s\n", *key, *listen, *peer)
	if *endpoint != "" {
		fmt.Fprintf(&b, "endpoint=%s\n", *endpoint)
	}
	for _, a := range strings.Split(*allowed, ",") {
		fmt.Fprintf(&b, "allowed_ip=%s\n", strings.TrimSpace(a))
	}
	if err := d.IpcSet(b.String()); err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	if err := d.Up(); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	fmt.Println("ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
	case <-d.Wait():
	}
	return nil
}
