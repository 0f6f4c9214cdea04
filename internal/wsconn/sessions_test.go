package wsconn

import (
	"context"
	"testing"
	"time"
)

// TestSessionsClose: Close ends the open sessions, waits for their
// requests, and refuses later ones at either step.
func TestSessionsClose(t *testing.T) {
	var s Sessions[int]
	if !s.Begin() {
		t.Fatal("Begin refused before Close")
	}
	stop := make(chan struct{})
	served := make(chan bool)
	go func() {
		defer s.End()
		served <- s.Serve(1, func() { <-stop })
	}()
	for { // until the session is open
		s.mu.Lock()
		n := len(s.open)
		s.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	late := s.Begin() // a request that arrived but has no session yet
	var ended []int
	closed := make(chan error)
	go func() { closed <- s.Close(context.Background(), func(x int) { ended = append(ended, x); close(stop) }) }()
	if !<-served {
		t.Error("the open session was not served")
	}
	if !late {
		t.Fatal("Begin refused before Close")
	}
	if s.Serve(2, func() { t.Error("a session served after Close") }) {
		t.Error("Serve after Close reported true")
	}
	s.End()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if len(ended) != 1 || ended[0] != 1 {
		t.Errorf("Close ended %v, want session 1", ended)
	}
	if s.Begin() {
		t.Error("Begin accepted after Close")
	}
	if !s.Closing() {
		t.Error("Closing is false after Close")
	}
}

// TestSessionsCloseTimesOut: a request that does not finish leaves Close
// to ctx.
func TestSessionsCloseTimesOut(t *testing.T) {
	var s Sessions[int]
	s.Begin()
	defer s.End()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := s.Close(ctx, func(int) {}); err == nil {
		t.Error("Close returned with a request still running")
	}
}
