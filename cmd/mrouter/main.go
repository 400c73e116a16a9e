// Command mrouter is the NEMO mobile router (RFC 3963 over RFC 6275, with
// the DSMIPv6 extensions of RFC 5555).
//
//	mrouter run -c FILE              run the daemon
//	mrouter config check -c FILE     validate a configuration, exit non-zero on error
//	mrouter status [--json] [-c FILE | -s SOCKET]
//	mrouter --version
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/nemo-mobility/nemo/config"
	"github.com/nemo-mobility/nemo/internal/cli"
	"github.com/nemo-mobility/nemo/internal/ctl"
	"github.com/nemo-mobility/nemo/internal/mrd"
	"github.com/nemo-mobility/nemo/internal/version"
)

const prog = "mrouter"

const usage = `usage:
  mrouter run -c FILE              run the mobile router
  mrouter config check -c FILE     check a configuration file
  mrouter status [--json] [-c FILE | -s SOCKET]
                                   show the binding update list and uplinks
  mrouter --version
`

const defaultConfig = "/etc/mrouter.toml"

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
	case "status":
		status(args[1:])
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "%s: unknown command %q\n", prog, args[0])
		cli.Usage(usage)
	}
}

func configFlag(fs *flag.FlagSet) *string {
	return fs.String("c", defaultConfig, "configuration `file`")
}

func check(args []string) {
	fs := flag.NewFlagSet("config check", flag.ExitOnError)
	file := configFlag(fs)
	fs.Parse(args)
	cfg, err := config.LoadMRouter(*file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(os.Stderr, "%s: warning: %s\n", *file, w)
	}
	fmt.Printf("%s: ok\n", *file)
}

func run(args []string) {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	file := configFlag(fs)
	fs.Parse(args)
	cfg, err := config.LoadMRouter(*file)
	if err != nil {
		cli.Fatal(prog, err)
	}
	log := cli.Logger(cfg.Log)
	log.Info(version.String(prog), "config", *file)
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	ctx, hup, stop := cli.Signals()
	defer stop()
	err = mrd.Run(ctx, mrd.Options{
		Config: cfg, Logger: log, HUP: hup,
		Reload: func() (*config.MRouter, error) { return config.LoadMRouter(*file) },
	})
	if err != nil {
		log.Error("mobile router failed", "err", err)
		os.Exit(1)
	}
}

func status(args []string) {
	fs := flag.NewFlagSet("status", flag.ExitOnError)
	file := fs.String("c", "", "configuration `file` (to find the status socket)")
	sock := fs.String("s", "", "status `socket` (default from the configuration, else "+config.DefaultMRouterSocket+")")
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Parse(args)
	path := *sock
	if path == "" && *file != "" {
		cfg, err := config.LoadMRouter(*file)
		if err != nil {
			cli.Fatal(prog, err)
		}
		path = cfg.Status.Socket
	}
	if path == "" {
		path = config.DefaultMRouterSocket
	}
	var r mrd.StatusReport
	if err := ctl.Call(path, "status", &r); err != nil {
		cli.Fatal(prog, err)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(r)
		return
	}
	printStatus(r)
}

func orDash(s string) string {
	if s == "" || s == "invalid IP" || s == "invalid Prefix" {
		return "-"
	}
	return s
}

func printStatus(r mrd.StatusReport) {
	b := r.Binding
	fmt.Println("Binding update list")
	cli.Table(os.Stdout,
		[]string{"HOME ADDRESS", "HOME AGENT", "CARE-OF ADDRESS", "UPLINK", "STATE", "LIFETIME LEFT", "LAST STATUS", "SEQ", "ENCAP", "NAT"},
		[][]string{{b.HomeAddress.String(), b.HomeAgent.String(), orDash(b.CareOf.String()), orDash(b.Uplink), b.State,
			b.LifetimeLeft, orDash(b.LastStatus), fmt.Sprint(b.Sequence), b.Encap, fmt.Sprint(b.NATDetected)}})
	if b.Note != "" {
		fmt.Println("note:", b.Note)
	}
	fmt.Println()
	fmt.Println("Uplinks")
	var rows [][]string
	for _, u := range r.Uplinks {
		state := "down"
		if u.Up {
			state = "up"
		}
		if u.AtHome {
			state += ", home"
		}
		rows = append(rows, []string{u.Name, u.Interface, fmt.Sprint(u.Priority), state, orDash(u.CoA6.String()), orDash(u.CoA4.String()), fmt.Sprint(u.Routers)})
	}
	cli.Table(os.Stdout, []string{"NAME", "INTERFACE", "PRIORITY", "STATE", "IPV6 COA", "IPV4 COA", "ROUTERS"}, rows)
	fmt.Println()
	if t := r.Tunnel; t != nil {
		fmt.Printf("Tunnel (%s data plane): %s %s -> %s via %s, tx %d rx %d drops %d packets\n",
			r.Dataplane, t.Encap, t.Local, t.Remote, t.Uplink, t.TxPackets, t.RxPackets, t.Drops)
	} else {
		fmt.Printf("Tunnel (%s data plane): none\n", r.Dataplane)
	}
	c := b.Counters
	fmt.Println(strings.TrimSpace(fmt.Sprintf("Counters: BUs sent %d (retransmissions %d, deferred by rate limit %d), BAs accepted %d, rejected %d, ignored %d, moves %d, failovers %d",
		c.BUSent, c.Retransmissions, c.RateDeferred, c.BAAccepted, c.BARejected, c.BAIgnored, c.Moves, c.Failovers)))
}
