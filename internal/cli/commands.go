package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/nemo-mobility/nemo/internal/ctl"
)

// CheckConfig is `PROG config check -c FILE`: load validates the file and
// returns its warnings; any error exits with status 1.
func CheckConfig(args []string, defaultFile string, load func(file string) (warnings []string, err error)) {
	fs := flag.NewFlagSet("config check", flag.ExitOnError)
	file := fs.String("c", defaultFile, "configuration `file`")
	fs.Parse(args)
	warnings, err := load(*file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, w := range warnings {
		fmt.Fprintf(os.Stderr, "%s: warning: %s\n", *file, w)
	}
	fmt.Printf("%s: ok\n", *file)
}

// Query is a status command (`mrouter status`, `ha bindings`): it takes
// -c FILE (to find the control socket), -s SOCKET and --json, asks the
// daemon for command and decodes the answer into out. With --json it
// prints the answer and reports true; otherwise the caller prints a table.
func Query(prog, name string, args []string, defaultSocket string, socketOf func(file string) (string, error), command string, out any) (printedJSON bool) {
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	file := fs.String("c", "", "configuration `file` (to find the status socket)")
	sock := fs.String("s", "", "status `socket` (default from the configuration, else "+defaultSocket+")")
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Parse(args)
	path := *sock
	if path == "" && *file != "" {
		p, err := socketOf(*file)
		if err != nil {
			Fatal(prog, err)
		}
		path = p
	}
	if path == "" {
		path = defaultSocket
	}
	if err := ctl.Call(path, command, out); err != nil {
		Fatal(prog, err)
	}
	if !*asJSON {
		return false
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.Encode(out)
	return true
}
