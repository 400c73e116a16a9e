package cli

import (
	"context"
	"log/slog"
)

// splitHandler sends records below Warn to one handler (stdout) and the
// rest to another (stderr): procd logs a service's stdout at info and its
// stderr at error level, so logread then shows each line at its level.
type splitHandler struct {
	low, high slog.Handler
}

func (h splitHandler) Enabled(ctx context.Context, l slog.Level) bool {
	if l >= slog.LevelWarn {
		return h.high.Enabled(ctx, l)
	}
	return h.low.Enabled(ctx, l)
}

func (h splitHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		return h.high.Handle(ctx, r)
	}
	return h.low.Handle(ctx, r)
}

func (h splitHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return splitHandler{h.low.WithAttrs(as), h.high.WithAttrs(as)}
}

func (h splitHandler) WithGroup(name string) slog.Handler {
	return splitHandler{h.low.WithGroup(name), h.high.WithGroup(name)}
}
