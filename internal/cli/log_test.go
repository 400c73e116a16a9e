package cli

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestSplitHandlerRoutesByLevel(t *testing.T) {
	var out, errb bytes.Buffer
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	l := slog.New(splitHandler{slog.NewTextHandler(&out, opts), slog.NewTextHandler(&errb, opts)}).With("daemon", "x")
	l.Debug("d")
	l.Info("i")
	l.Warn("w")
	l.Error("e")
	if o := out.String(); !strings.Contains(o, "msg=d") || !strings.Contains(o, "msg=i") || strings.Contains(o, "msg=w") || strings.Contains(o, "msg=e") {
		t.Errorf("stdout got:\n%s", o)
	}
	if e := errb.String(); !strings.Contains(e, "msg=w") || !strings.Contains(e, "msg=e") || strings.Contains(e, "msg=i") || !strings.Contains(e, "daemon=x") {
		t.Errorf("stderr got:\n%s", e)
	}
}
