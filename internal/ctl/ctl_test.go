package ctl

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

func TestRoundTripAndMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d", "ctl.sock")
	s, err := Listen(path, func(_ context.Context, r Request) (any, error) {
		if r.Command == "fail" {
			return nil, errors.New("no such thing")
		}
		return map[string]string{"echo": r.Command}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.allowUID = uint32(os.Geteuid())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v, want 0600", fi.Mode().Perm())
	}
	var out map[string]string
	if err := Call(path, "status", &out); err != nil {
		t.Fatal(err)
	}
	if out["echo"] != "status" {
		t.Errorf("answer = %v", out)
	}
	if err := Call(path, "fail", nil); err == nil || !strings.Contains(err.Error(), "no such thing") {
		t.Errorf("error not passed through: %v", err)
	}
	// A second instance must refuse to steal a live socket.
	if _, err := Listen(path, nil); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Listen on a live socket: %v", err)
	}
}

func TestRefusesOtherUID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctl.sock")
	s, err := Listen(path, func(context.Context, Request) (any, error) { return "secret", nil })
	if err != nil {
		t.Fatal(err)
	}
	s.allowUID = uint32(os.Geteuid()) + 1 // nobody we are
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	err = Call(path, "status", nil)
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("peer with another uid got %v, want permission denied", err)
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctl.sock")
	// A socket file left by a crashed run: bound, never listened on.
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	syscall.Close(fd)
	s, err := Listen(path, func(context.Context, Request) (any, error) { return 1, nil })
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	s.Close()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("Close left the socket file: %v", err)
	}
	// A regular file is never removed.
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path, nil); err == nil {
		t.Error("Listen removed a regular file")
	}
}

func TestRelay(t *testing.T) {
	r := NewRelay()
	done := make(chan struct{})
	go func() {
		defer close(done)
		p := <-r.C()
		p.Reply("answer to "+p.Command, nil)
	}()
	v, err := r.Handler(context.Background(), Request{Command: "status"})
	if err != nil || v != "answer to status" {
		t.Fatalf("relay: %v %v", v, err)
	}
	<-done
	// Nobody listening: the caller's context ends the wait.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Handler(ctx, Request{Command: "x"}); err == nil {
		t.Fatal("handler returned without an event loop")
	}
}

func TestReadRuntime(t *testing.T) {
	r := ReadRuntime()
	if r.Goroutines < 1 || r.HeapLiveBytes == 0 {
		// The live heap is known once a collection ran.
		runtime.GC()
		r = ReadRuntime()
	}
	if r.Goroutines < 1 || r.HeapLiveBytes == 0 {
		t.Errorf("runtime figures %+v", r)
	}
}
