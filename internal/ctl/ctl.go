// Package ctl is the daemons' control socket: a unix stream socket that only
// root may use, carrying one JSON request and one JSON response per
// connection. `mrouter status` and `ha bindings` are its clients.
//
// Access control is twofold: the socket file is created with mode 0600 in a
// directory the daemon owns, and every connection's peer credentials
// (SO_PEERCRED) are checked, so a socket file made reachable by mistake
// still refuses non-root peers.
package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Request is what a client asks.
type Request struct {
	Command string `json:"command"` // e.g. "status", "bindings", "reload"
}

// Response is the daemon's answer. Data is command-specific JSON.
type Response struct {
	OK    bool            `json:"ok"`
	Error string          `json:"error,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
}

// Handler answers one request. It runs on the connection's goroutine.
type Handler func(ctx context.Context, req Request) (any, error)

// ErrNotRoot is returned to (and logged for) peers that are not root.
var ErrNotRoot = errors.New("ctl: permission denied: the control socket accepts only root")

// Server serves a control socket.
type Server struct {
	ln      *net.UnixListener
	path    string
	handler Handler
	wg      sync.WaitGroup
	once    sync.Once
	// AllowUID is the only peer uid accepted (0 = root); tests may change it.
	allowUID uint32
}

// Listen creates the socket at path (removing a stale one), mode 0600.
func Listen(path string, h Handler) (*Server, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("ctl: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("ctl: %s exists and is not a socket; refusing to remove it", path)
		}
		// A live daemon answers; a stale socket from a crashed run does not.
		if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
			c.Close()
			return nil, fmt.Errorf("ctl: %s is in use: is another instance running?", path)
		}
		_ = os.Remove(path)
	}
	old := umask(0o177)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	umask(old)
	if err != nil {
		return nil, fmt.Errorf("ctl: listen %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("ctl: %w", err)
	}
	return &Server{ln: ln, path: path, handler: h}, nil
}

// Serve accepts connections until ctx is done or Close is called.
func (s *Server) Serve(ctx context.Context) {
	go func() { <-ctx.Done(); s.Close() }()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			break
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(ctx, c)
		}()
	}
	s.wg.Wait()
}

func (s *Server) serveConn(ctx context.Context, c *net.UnixConn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	enc := json.NewEncoder(c)
	uid, err := peerUID(c)
	if err != nil || uid != s.allowUID {
		_ = enc.Encode(Response{Error: ErrNotRoot.Error()})
		return
	}
	var req Request
	if err := json.NewDecoder(io.LimitReader(c, 4096)).Decode(&req); err != nil {
		_ = enc.Encode(Response{Error: "bad request: " + err.Error()})
		return
	}
	// The answer may be large (a home agent's whole binding cache: about
	// 30 MB of JSON at 100,000 bindings): give it time.
	_ = c.SetDeadline(time.Now().Add(replyTimeout))
	v, err := s.handler(ctx, req)
	if err != nil {
		_ = enc.Encode(Response{Error: err.Error()})
		return
	}
	raw, err := json.Marshal(v)
	if err != nil {
		_ = enc.Encode(Response{Error: err.Error()})
		return
	}
	_ = enc.Encode(Response{OK: true, Data: raw})
}

// replyTimeout bounds the building and transfer of one answer.
const replyTimeout = time.Minute

// Close stops accepting and removes the socket file. Idempotent.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.ln.Close()
		os.Remove(s.path)
	})
	return nil
}

// Call sends one request to the socket at path and decodes the answer's
// data into out (which may be nil).
func Call(path, command string, out any) error {
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("%s: permission denied (the control socket is for root only)", path)
		}
		return fmt.Errorf("cannot reach the daemon at %s: %w (is it running?)", path, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(replyTimeout + 5*time.Second))
	// A daemon that refuses the peer answers and closes without reading
	// the request, so a failed write is no reason to skip the answer.
	werr := json.NewEncoder(c).Encode(Request{Command: command})
	var resp Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		if werr != nil {
			return fmt.Errorf("sending the request: %w", werr)
		}
		return fmt.Errorf("reading the daemon's answer: %w", err)
	}
	if !resp.OK {
		return errors.New(resp.Error)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(resp.Data, out)
}
