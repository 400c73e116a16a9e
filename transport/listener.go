package transport

import (
	"context"
	"io"
	"sync"
)

// defaultQueue is the capacity of a listener's channel when the caller
// does not choose one.
const defaultQueue = 16

// Listener delivers what its sockets receive, one reader goroutine per
// socket, on the channel returned by Packets. It is safe for concurrent
// use.
type Listener[T any] struct {
	c         chan T
	stop      chan struct{} // closed when the listener starts shutting down
	done      chan struct{} // closed when every reader has returned
	once      sync.Once
	socks     []io.Closer
	stopAfter func() bool

	mu  sync.Mutex
	err error
}

// readFunc reads one item from a socket. ok=false means "nothing to
// deliver, read again"; a non-nil error that is not temporary ends the
// listener.
type readFunc[T any] func() (v T, ok bool, err error)

// startListener starts one reader per read function. socks are closed
// when the listener stops.
func startListener[T any](ctx context.Context, queue int, socks []io.Closer, reads []readFunc[T]) *Listener[T] {
	if queue <= 0 {
		queue = defaultQueue
	}
	l := &Listener[T]{
		c:     make(chan T, queue),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		socks: socks,
	}
	var wg sync.WaitGroup
	for _, r := range reads {
		wg.Go(func() { l.run(r) })
	}
	go func() {
		wg.Wait()
		close(l.c)
		close(l.done)
	}()
	l.stopAfter = context.AfterFunc(ctx, func() { l.shutdown(ctx.Err()) })
	return l
}

func (l *Listener[T]) run(read readFunc[T]) {
	for {
		v, ok, err := read()
		if err != nil {
			select {
			case <-l.stop: // closed under us: not a failure
				return
			default:
			}
			if isTemporary(err) {
				continue
			}
			l.shutdown(err)
			return
		}
		if !ok {
			continue
		}
		select {
		case l.c <- v:
		case <-l.stop:
			return
		}
	}
}

// shutdown records cause (if it is the first) and stops every reader.
func (l *Listener[T]) shutdown(cause error) {
	l.once.Do(func() {
		l.mu.Lock()
		l.err = cause
		l.mu.Unlock()
		close(l.stop)
		for _, s := range l.socks {
			s.Close()
		}
	})
}

// Packets returns the channel on which received items arrive. It is
// closed after the listener stops (Close, context cancellation or a socket
// error; see Err).
func (l *Listener[T]) Packets() <-chan T { return l.c }

// Err reports why the listener stopped: nil while it runs and after
// Close, the context's error after cancellation, or the socket error that
// ended it.
func (l *Listener[T]) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Done returns a channel that is closed once every reader goroutine has
// returned.
func (l *Listener[T]) Done() <-chan struct{} { return l.done }

// Close stops the listener, closes its sockets and waits until its reader
// goroutines have returned. Items already queued stay readable from
// Packets. Close is idempotent and always returns nil.
func (l *Listener[T]) Close() error {
	l.stopAfter()
	l.shutdown(nil)
	<-l.done
	return nil
}
