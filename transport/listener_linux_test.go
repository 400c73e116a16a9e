package transport

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"testing/synctest"

	"golang.org/x/sys/unix"
)

// fakeSock feeds a reader from a channel; Close makes pending and later
// reads fail, as closing a real socket does.
type fakeSock struct {
	in     chan any // int items or errors
	closed chan struct{}
	once   sync.Once
}

func newFakeSock() *fakeSock { return &fakeSock{in: make(chan any), closed: make(chan struct{})} }

func (f *fakeSock) Close() error { f.once.Do(func() { close(f.closed) }); return nil }

func (f *fakeSock) read() (int, bool, error) {
	select {
	case v := <-f.in:
		if err, ok := v.(error); ok {
			return 0, false, err
		}
		if v.(int) < 0 {
			return 0, false, nil // nothing to deliver
		}
		return v.(int), true, nil
	case <-f.closed:
		return 0, false, ErrClosed
	}
}

func start(ctx context.Context, queue int, socks ...*fakeSock) *Listener[int] {
	var c []io.Closer
	var r []readFunc[int]
	for _, s := range socks {
		c = append(c, s)
		r = append(r, s.read)
	}
	return startListener(ctx, queue, c, r)
}

func TestListenerDeliversAndCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := newFakeSock(), newFakeSock()
		l := start(t.Context(), 1, a, b)
		a.in <- 1
		a.in <- -1 // skipped
		a.in <- unix.ENOBUFS
		a.in <- 2
		if v := <-l.Packets(); v != 1 {
			t.Errorf("got %d, want 1", v)
		}
		if v := <-l.Packets(); v != 2 {
			t.Errorf("got %d, want 2 (a temporary error must not stop the reader)", v)
		}
		b.in <- 3
		// Nobody reads now: b's reader is blocked on the full channel
		// after the next item; Close must still return.
		b.in <- 4
		synctest.Wait()
		l.Close()
		l.Close()
		select {
		case <-a.closed:
		default:
			t.Error("socket a not closed")
		}
		var rest []int
		for v := range l.Packets() {
			rest = append(rest, v)
		}
		if len(rest) != 1 || rest[0] != 3 {
			t.Errorf("queued after Close: %v, want [3]", rest)
		}
		if l.Err() != nil {
			t.Errorf("Err after Close = %v", l.Err())
		}
	})
}

func TestListenerContextCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		s := newFakeSock()
		l := start(ctx, 0, s)
		cancel()
		<-l.Done()
		if _, ok := <-l.Packets(); ok {
			t.Error("Packets open after cancellation")
		}
		if !errors.Is(l.Err(), context.Canceled) {
			t.Errorf("Err = %v, want context.Canceled", l.Err())
		}
		l.Close()
		if !errors.Is(l.Err(), context.Canceled) {
			t.Errorf("Close changed Err to %v", l.Err())
		}
	})
}

func TestListenerFatalError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := newFakeSock(), newFakeSock()
		l := start(t.Context(), 0, a, b)
		a.in <- unix.EBADF
		<-l.Done() // b's reader stops too
		if !errors.Is(l.Err(), unix.EBADF) {
			t.Errorf("Err = %v, want EBADF", l.Err())
		}
		select {
		case <-b.closed:
		default:
			t.Error("the other socket was not closed")
		}
		l.Close()
	})
}
