// Package cli holds what the two binaries' mains share: the logger, signal
// handling and the small table printer of the status commands.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/nemo-mobility/nemo/config"
)

// Logger builds the daemon's logger, text or JSON: debug and info lines on
// stdout, warnings and errors on stderr (procd forwards both to logd, stdout
// at info and stderr at error level).
func Logger(l config.Log) *slog.Logger {
	var level slog.Level
	switch l.Level {
	case config.LogDebug:
		level = slog.LevelDebug
	case config.LogWarn:
		level = slog.LevelWarn
	case config.LogError:
		level = slog.LevelError
	default:
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if l.Format == config.LogJSON {
		return slog.New(splitHandler{slog.NewJSONHandler(os.Stdout, opts), slog.NewJSONHandler(os.Stderr, opts)})
	}
	return slog.New(splitHandler{slog.NewTextHandler(os.Stdout, opts), slog.NewTextHandler(os.Stderr, opts)})
}

// Signals returns a context cancelled by SIGTERM or SIGINT and a channel
// that receives SIGHUP.
func Signals() (context.Context, <-chan struct{}, func()) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	hup := make(chan struct{}, 1)
	hc := make(chan os.Signal, 1)
	signal.Notify(hc, syscall.SIGHUP)
	go func() {
		for {
			select {
			case <-hc:
				select {
				case hup <- struct{}{}:
				default:
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return ctx, hup, func() { signal.Stop(hc); stop() }
}

// Table prints rows under a header with aligned columns.
func Table(w io.Writer, header []string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

// Fatal prints an error and exits with status 1.
func Fatal(prog string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
	os.Exit(1)
}

// Usage exits with status 2 after printing the usage text.
func Usage(text string) {
	fmt.Fprint(os.Stderr, text)
	os.Exit(2)
}
