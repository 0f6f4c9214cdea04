package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"videosupport/signaling"
	"videosupport/signaling/client"
)

// startApp runs the whole server, as main wires it, on a loopback port and
// returns its base URL.
func startApp(t *testing.T) (string, *app) {
	t.Helper()
	base, a, _ := startAppIn(t, t.TempDir())
	return base, a
}

// startAppIn is startApp on a given data directory, with more
// command-line flags if given; stop shuts the server down early (a
// restart is stop, then startAppIn on the same directory).
func startAppIn(t *testing.T, dataDir string, args ...string) (base string, a *app, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base = "http://" + ln.Addr().String()
	args = append([]string{"-listen", ln.Addr().String(), "-public-url", base, "-data-dir", dataDir}, args...)
	cfg, err := parseConfig(args, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testLogWriter{t}, nil))
	}
	a, err = newApp(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	hs := &httptest.Server{Listener: ln, Config: &http.Server{Handler: a.handler}}
	hs.Start()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := a.shutdown(ctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			hs.Close()
		})
	}
	t.Cleanup(stop)
	return base, a, stop
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// TestRunShutsDownGracefully: on SIGTERM (ctx ends) run tells every
// participant goodbye and returns with nothing left running.
func TestRunShutsDownGracefully(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen", addr, "-public-url", "http://" + addr, "-data-dir", t.TempDir()},
			func(string) string { return "" }, io.Discard)
	}()
	base := "http://" + addr
	var roomID string
	deadline := time.Now().Add(5 * time.Second)
	for roomID == "" {
		if resp, err := http.Post(base+"/api/v1/rooms", "", nil); err == nil {
			var r struct{ ID string }
			_ = json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			roomID = r.ID
		} else if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v", err)
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	api, err := client.NewAPI()
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(wctx, "ws://"+addr+"/ws", api, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Join(wctx, roomID, "Agent"); err != nil {
		t.Fatal(err)
	}
	stop()
	if _, err := c.WaitFor(wctx, func(m signaling.Message) bool { return m.Type == signaling.TypeBye }); err != nil {
		t.Fatalf("no bye on shutdown: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-wctx.Done():
		t.Fatal("run did not return after shutdown")
	}
}

// TestDebugHandlers: profiles, runtime figures and an execution trace
// only with -debug.
func TestDebugHandlers(t *testing.T) {
	get := func(u string) (int, string) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
		return resp.StatusCode, string(b)
	}
	plain, _, _ := startAppIn(t, t.TempDir())
	for _, p := range []string{"/debug/vars", "/debug/pprof/trace?seconds=1"} {
		if code, _ := get(plain + p); code != http.StatusNotFound {
			t.Errorf("without -debug, %s: status %d, want 404", p, code)
		}
	}
	debug, _, _ := startAppIn(t, t.TempDir(), "-debug")
	if code, body := get(debug + "/debug/vars"); code != http.StatusOK || !strings.Contains(body, "{") {
		t.Errorf("/debug/vars: status %d, %q", code, body)
	}
	if code, body := get(debug + "/debug/pprof/trace?seconds=1"); code != http.StatusOK || !strings.HasPrefix(body, "go 1.") {
		t.Errorf("/debug/pprof/trace: status %d, starts %q, want an execution trace", code, body)
	}
}
