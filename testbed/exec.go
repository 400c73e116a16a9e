package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// runCmd runs one command to completion in its own process group and
// returns its combined output. On timeout or cancellation the whole group is
// killed.
func runCmd(ctx context.Context, timeout time.Duration, env []string, name string, args ...string) (string, error) {
	return runCmdIn(ctx, timeout, env, "", name, args...)
}

// runCmdIn is runCmd with text on standard input.
func runCmdIn(ctx context.Context, timeout time.Duration, env []string, stdin, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = sysProcAttr()
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	err := cmd.Run()
	out := buf.String()
	line := strings.Join(append([]string{name}, args...), " ")
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return out, fmt.Errorf("%s: %w after %v: %s", line, ErrTimeout, timeout, strings.TrimSpace(out))
	case ctx.Err() != nil:
		return out, fmt.Errorf("%s: %w", line, ctx.Err())
	case err != nil:
		if stdin != "" {
			line += " <<EOF\n" + stdin + "EOF"
		}
		return out, fmt.Errorf("%s: %w (%v): %s", line, ErrCommand, err, strings.TrimSpace(out))
	}
	return out, nil
}

func (tb *Testbed) run(ctx context.Context, timeout time.Duration, name string, args ...string) (string, error) {
	return runCmd(ctx, timeout, nil, name, args...)
}

// exec runs argv inside a node's namespace.
func (tb *Testbed) exec(ctx context.Context, node string, timeout time.Duration, argv ...string) (string, error) {
	return tb.execEnv(ctx, node, timeout, nil, argv...)
}

func (tb *Testbed) execEnv(ctx context.Context, node string, timeout time.Duration, env []string, argv ...string) (string, error) {
	ns, err := tb.ns(node)
	if err != nil {
		return "", err
	}
	if len(argv) == 0 {
		return "", fmt.Errorf("testbed: exec in %s: empty command: %w", node, ErrCommand)
	}
	return runCmd(ctx, timeout, env, "ip", append([]string{"netns", "exec", ns}, argv...)...)
}

// Exec runs argv inside a node's namespace and returns its combined output.
// It fails (ErrCommand) on a non-zero exit and kills the command (ErrTimeout)
// after Options.ExecTimeout.
func (tb *Testbed) Exec(node string, argv ...string) (string, error) {
	return tb.ExecContext(context.Background(), node, argv...)
}

// ExecContext is Exec with a context that can cut it short.
func (tb *Testbed) ExecContext(ctx context.Context, node string, argv ...string) (string, error) {
	if err := tb.checkOpen(); err != nil {
		return "", err
	}
	return tb.exec(ctx, node, tb.opts.ExecTimeout, argv...)
}

// IP runs "ip args..." against a node's namespace (ip -n) and returns the
// combined output.
func (tb *Testbed) IP(node string, args ...string) (string, error) {
	if err := tb.checkOpen(); err != nil {
		return "", err
	}
	return tb.ipn(node, args...)
}
