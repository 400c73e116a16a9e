// Command testbed builds the reference testbed (TESTBED.md) in network
// namespaces and keeps it until Ctrl-C, or removes what killed runs left.
//
//	testbed up [-uplink fn2,home] [-rundir DIR] [-nonat]
//	testbed sweep
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/nemo-mobility/nemo/testbed"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "up":
		os.Exit(up(os.Args[2:]))
	case "sweep":
		removed, err := testbed.SweepStale("")
		for _, n := range removed {
			fmt.Println("removed", n)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "testbed:", err)
			os.Exit(1)
		}
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: testbed up [-uplink fn2,home] [-rundir DIR] [-nonat] | testbed sweep")
	os.Exit(2)
}

func up(args []string) int {
	fs := flag.NewFlagSet("up", flag.ExitOnError)
	uplinks := fs.String("uplink", "", "uplinks to bring up: home, fn1, fn2, fn3 (comma-separated)")
	runDir := fs.String("rundir", "", "directory for configuration, logs and leases (kept)")
	noNAT := fs.Bool("nonat", false, "no masquerade on AR1")
	verbose := fs.Bool("v", false, "log every step")
	_ = fs.Parse(args)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := testbed.Options{RunDir: *runDir, NoNAT: *noNAT}
	if *uplinks != "" {
		opts.Uplinks = strings.Split(*uplinks, ",")
	}
	if *verbose {
		opts.Logf = func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }
	}
	tb, err := testbed.NewContext(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testbed:", err)
		return 1
	}
	defer tb.Close()
	fmt.Printf("testbed up, run dir %s\n", tb.RunDir())
	for _, n := range testbed.Nodes {
		fmt.Printf("  %-4s  ip netns exec %s sh\n", n, tb.NS(n))
	}
	fmt.Println("Ctrl-C tears it down.")
	<-ctx.Done()
	if err := tb.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "testbed: teardown:", err)
		return 1
	}
	fmt.Println("testbed removed")
	return 0
}
