// Command ha is the NEMO home agent (RFC 3963 over RFC 6275, with the
// DSMIPv6 extensions of RFC 5555).
//
//	ha run -c FILE              run the daemon
//	ha config check -c FILE     validate a configuration, exit non-zero on error
//	ha bindings [--json] [-c FILE | -s SOCKET]
//	ha --version
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/nemo-mobility/nemo/config"
	"github.com/nemo-mobility/nemo/internal/cli"
	"github.com/nemo-mobility/nemo/internal/had"
	"github.com/nemo-mobility/nemo/internal/version"
)

const prog = "ha"

const usage = `usage:
  ha run -c FILE              run the home agent
  ha config check -c FILE     check a configuration file
  ha bindings [--json] [-c FILE | -s SOCKET]
                              show the binding cache
  ha --version
`

const defaultConfig = "/etc/ha.toml"

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		cli.Usage(usage)
	}
	switch args[0] {
	case "--version", "-version", "version":
		fmt.Println(version.String(prog))
	case "run":
		run(args[1:])
	case "config":
		if len(args) < 2 || args[1] != "check" {
			cli.Usage(usage)
		}
		check(args[2:])
	case "bindings", "status":
		bindings(args[1:])
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "%s: unknown command %q\n", prog, args[0])
		cli.Usage(usage)
	}
}

func check(args []string) {
	cli.CheckConfig(args, defaultConfig, func(file string) ([]string, error) {
		cfg, err := config.LoadHA(file)
		if err != nil {
			return nil, err
		}
		return cfg.Warnings, nil
	})
}

func run(args []string) {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	file := fs.String("c", defaultConfig, "configuration `file`")
	fs.Parse(args)
	cfg, err := config.LoadHA(*file)
	if err != nil {
		cli.Fatal(prog, err)
	}
	log := cli.Logger(cfg.Log)
	log.Info(version.String(prog), "config", *file)
	ctx, hup, stop := cli.Signals()
	defer stop()
	err = had.Run(ctx, had.Options{
		Config: cfg, Logger: log, HUP: hup,
		Reload: func() (*config.HA, error) { return config.LoadHA(*file) },
	})
	if err != nil {
		log.Error("home agent failed", "err", err)
		os.Exit(1)
	}
}

func bindings(args []string) {
	var r had.BindingsReport
	socketOf := func(file string) (string, error) {
		cfg, err := config.LoadHA(file)
		if err != nil {
			return "", err
		}
		return cfg.Status.Socket, nil
	}
	if cli.Query(prog, "bindings", args, config.DefaultHASocket, socketOf, "bindings", &r) {
		return
	}
	fmt.Printf("Binding cache (%d entries, %s data plane)\n", len(r.Bindings), r.Dataplane)
	var rows [][]string
	for _, b := range r.Bindings {
		coa := b.CareOf.String()
		if b.UDP.IsValid() {
			coa += " (udp " + b.UDP.String() + ")"
		}
		var ps []string
		for _, p := range b.Prefixes {
			ps = append(ps, p.String())
		}
		for _, p := range b.IPv4Prefixes {
			ps = append(ps, p.String())
		}
		kind := "MN"
		if b.Router {
			kind = "MR"
		}
		v4 := "-"
		if b.IPv4HomeAddress.IsValid() {
			v4 = b.IPv4HomeAddress.String()
		}
		rows = append(rows, []string{b.HomeAddress.String(), coa, kind, b.State, b.LifetimeLeft, b.LastStatus, fmt.Sprint(b.Sequence),
			b.Encap, fmt.Sprint(b.NAT), v4, strings.Join(ps, ","), fmt.Sprintf("%d/%d", b.TxPackets, b.RxPackets)})
	}
	cli.Table(os.Stdout, []string{"HOME ADDRESS", "CARE-OF ADDRESS", "TYPE", "STATE", "LIFETIME LEFT", "LAST STATUS", "SEQ", "ENCAP", "NAT", "IPV4 HOA", "PREFIXES", "TX/RX PKTS"}, rows)
	var names []string
	for n, v := range r.Counters {
		if v > 0 {
			names = append(names, fmt.Sprintf("%s=%d", n, v))
		}
	}
	sort.Strings(names)
	if len(names) > 0 {
		fmt.Println("Counters:", strings.Join(names, " "))
	}
}
