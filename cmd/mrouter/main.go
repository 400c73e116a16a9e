// Command mrouter is the NEMO mobile router (RFC 3963 over RFC 6275, with
// the DSMIPv6 extensions of RFC 5555).
//
//	mrouter run -c FILE              run the daemon
//	mrouter config check -c FILE     validate a configuration, exit non-zero on error
//	mrouter status [--json] [-c FILE | -s SOCKET]
//	mrouter --version
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nemo-mobility/nemo/config"
	"github.com/nemo-mobility/nemo/internal/cli"
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

func check(args []string) {
	cli.CheckConfig(args, defaultConfig, func(file string) ([]string, error) {
		cfg, err := config.LoadMRouter(file)
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
	var r mrd.StatusReport
	socketOf := func(file string) (string, error) {
		cfg, err := config.LoadMRouter(file)
		if err != nil {
			return "", err
		}
		return cfg.Status.Socket, nil
	}
	if cli.Query(prog, "status", args, config.DefaultMRouterSocket, socketOf, "status", &r) {
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
	if k := r.Check; k.Period == "0s" {
		fmt.Println("Tunnel check: off")
	} else {
		line := fmt.Sprintf("Tunnel check: every %s while nothing comes back, %d probes sent, %d paths lost", k.Period, k.Probes, k.Losses)
		if !k.LastLoss.IsZero() {
			line += fmt.Sprintf(" (last at %s, after %s of silence)", k.LastLoss.Format(time.DateTime), k.Silent)
		}
		fmt.Println(line)
	}
	c := b.Counters
	fmt.Println(strings.TrimSpace(fmt.Sprintf("Counters: BUs sent %d (retransmissions %d, deferred by rate limit %d), BAs accepted %d, rejected %d, ignored %d, moves %d, failovers %d",
		c.BUSent, c.Retransmissions, c.RateDeferred, c.BAAccepted, c.BARejected, c.BAIgnored, c.Moves, c.Failovers)))
}
