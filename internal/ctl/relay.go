package ctl

import "context"

// Relay hands control requests to the one goroutine that owns a daemon's
// state (its event loop), so the status answers are consistent without
// locks: Handler is the Server's handler; the loop selects on C and
// answers each Pending with Reply.
type Relay struct {
	c chan Pending
}

// Pending is one request waiting for the event loop.
type Pending struct {
	Command string
	reply   chan result
}

type result struct {
	v   any
	err error
}

// NewRelay returns a Relay.
func NewRelay() *Relay { return &Relay{c: make(chan Pending)} }

// C delivers the requests to the event loop.
func (r *Relay) C() <-chan Pending { return r.c }

// Reply answers the request; call it exactly once.
func (p Pending) Reply(v any, err error) { p.reply <- result{v, err} }

// Handler forwards a request to the event loop and waits for its answer.
func (r *Relay) Handler(ctx context.Context, req Request) (any, error) {
	p := Pending{Command: req.Command, reply: make(chan result, 1)}
	select {
	case r.c <- p:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case res := <-p.reply:
		return res.v, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
