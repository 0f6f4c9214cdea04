package wsconn

import (
	"context"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Sessions is the set of sockets a server is serving, so that shutting
// down can refuse new ones, end the open ones and wait for them. T is the
// server's session type.
type Sessions[T comparable] struct {
	mu      sync.Mutex
	open    map[T]struct{}
	closing bool
	wg      sync.WaitGroup // one per request from Begin to End
}

// Begin is called as a request to open a socket arrives; false means the
// server is shutting down (answer 503). Each true Begin needs its End.
func (s *Sessions[T]) Begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.wg.Add(1)
	return true
}

// End is called when the request's handler returns.
func (s *Sessions[T]) End() { s.wg.Done() }

// Serve runs serve for session x, which Close can then end. It reports
// false, without running serve, when shutdown began since Begin: the
// caller closes the socket it opened.
func (s *Sessions[T]) Serve(x T, serve func()) bool {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return false
	}
	if s.open == nil {
		s.open = map[T]struct{}{}
	}
	s.open[x] = struct{}{}
	s.mu.Unlock()
	serve()
	s.mu.Lock()
	delete(s.open, x)
	s.mu.Unlock()
	return true
}

// Closing reports whether shutdown has begun.
func (s *Sessions[T]) Closing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// Close refuses new sessions, calls end for each open one (it should make
// the session's serve return), and waits for every request to finish, or
// for ctx.
func (s *Sessions[T]) Close(ctx context.Context, end func(T)) error {
	s.mu.Lock()
	s.closing = true
	open := make([]T, 0, len(s.open))
	for x := range s.open {
		open = append(open, x)
	}
	s.mu.Unlock()
	for _, x := range open {
		end(x)
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// GoingAway closes a socket opened as the server began to shut down
// (Serve said false), telling the peer to come back elsewhere.
func GoingAway(ws *websocket.Conn) {
	msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down")
	_ = ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	_ = ws.Close()
}
