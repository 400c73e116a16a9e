package testbed

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is a process started with Testbed.Start inside a node's namespace.
// Its standard output and standard error go to a log file in the run dir.
type Proc struct {
	node    string
	argv    []string
	cmd     *exec.Cmd
	logPath string
	grace   time.Duration
	done    chan struct{}
	err     error // the Wait result; read only after done is closed
	stopMu  sync.Mutex
}

// Start runs argv in a node's namespace, in its own process group, with env
// added to the harness's environment and both output streams captured in a
// log file (see Proc.Log). Close stops it if nobody else does.
func (tb *Testbed) Start(node string, argv []string, env []string) (*Proc, error) {
	ns, err := tb.ns(node)
	if err != nil {
		return nil, err
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("testbed: start in %s: empty command: %w", node, ErrCommand)
	}
	logPath := tb.logName(node, argv[0])
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("testbed: log file: %w", err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.SysProcAttr = sysProcAttr()
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	p := &Proc{
		node:    node,
		argv:    append([]string(nil), argv...),
		cmd:     cmd,
		logPath: logPath,
		grace:   tb.opts.StopGrace,
		done:    make(chan struct{}),
	}
	// Holding the lock across cmd.Start makes Close either see the process
	// or refuse to start it.
	tb.mu.Lock()
	if tb.closed {
		tb.mu.Unlock()
		f.Close()
		return nil, ErrClosed
	}
	if err := cmd.Start(); err != nil {
		tb.mu.Unlock()
		f.Close()
		return nil, fmt.Errorf("testbed: start %s in %s: %w (%v)", argv[0], node, ErrCommand, err)
	}
	tb.procs = append(tb.procs, p)
	tb.mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	tb.logf("testbed: %s: started %s (pid %d, log %s)", node, strings.Join(argv, " "), cmd.Process.Pid, logPath)
	return p, nil
}

// Node returns the node the process runs on.
func (p *Proc) Node() string { return p.node }

// Argv returns the command line the process was started with.
func (p *Proc) Argv() []string { return append([]string(nil), p.argv...) }

// Pid returns the process id (in the root PID namespace).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// LogPath returns the file that receives the process's output.
func (p *Proc) LogPath() string { return p.logPath }

// Log returns everything the process has written so far.
func (p *Proc) Log() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	return string(b)
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits for the process to exit and returns its exit error (nil for
// status 0, an *exec.ExitError otherwise).
func (p *Proc) Wait() error {
	<-p.done
	return p.err
}

// WaitTimeout is Wait bounded by timeout (ErrTimeout when it runs out).
func (p *Proc) WaitTimeout(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("testbed: %s did not exit within %v: %w", p.argv[0], timeout, ErrTimeout)
	}
}

// Signal sends sig to the process (not its group), e.g. SIGHUP to reload.
func (p *Proc) Signal(sig os.Signal) error {
	if p.Exited() {
		return nil
	}
	return p.cmd.Process.Signal(sig)
}

// Stop sends SIGTERM to the process group, waits Options.StopGrace, then
// sends SIGKILL. It returns nil once the process has ended, whatever its
// exit status (see Wait for that).
func (p *Proc) Stop() error { return p.stop(p.grace) }

// Kill sends SIGKILL to the process group and waits for the process to end.
func (p *Proc) Kill() error { return p.stop(0) }

func (p *Proc) stop(grace time.Duration) error {
	p.stopMu.Lock()
	defer p.stopMu.Unlock()
	pid := p.cmd.Process.Pid
	if !p.Exited() && grace > 0 {
		_ = killGroup(pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
		}
	}
	// Also reaps children the process left behind in its group.
	_ = killGroup(pid, syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("testbed: %s (pid %d) survived SIGKILL: %w", p.argv[0], pid, ErrTimeout)
	}
}
