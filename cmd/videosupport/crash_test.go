package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"videosupport/internal/testenv"
	"videosupport/signaling"
	"videosupport/store"
)

// The test binary doubles as the server, so a test can run the server as
// a process of its own and kill it: with VS_TEST_SERVE set, TestMain runs
// the server with the arguments in VS_TEST_ARGS instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv("VS_TEST_SERVE") == "1" {
		args := strings.Split(os.Getenv("VS_TEST_ARGS"), "\x1f")
		if err := run(context.Background(), args, func(string) string { return "" }, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "videosupport:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	testenv.StopPostgres()
	testenv.StopS3()
	os.Exit(code)
}

// serverProcess runs the server as a child process on dir.
type serverProcess struct {
	cmd  *exec.Cmd
	base string
	log  *os.File
}

func startServerProcess(t *testing.T, dir string) *serverProcess {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	base := "http://" + addr
	logf, err := os.CreateTemp(t.TempDir(), "server-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "VS_TEST_SERVE=1",
		"VS_TEST_ARGS="+strings.Join([]string{"-listen", addr, "-public-url", base, "-data-dir", dir}, "\x1f"))
	cmd.Stdout, cmd.Stderr = logf, logf
	// The server dies with the test, whatever happens to the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProcess{cmd: cmd, base: base, log: logf}
	t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not start: %v\n%s", err, p.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill stops the server at once, as kill -9 does.
func (p *serverProcess) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

func (p *serverProcess) logTail() string {
	b, _ := os.ReadFile(p.log.Name())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// addStaffOffline adds a staff member with the user subcommand, as an
// operator would, while no server runs.
func addStaffOffline(t *testing.T, dir, email, name, role string) {
	t.Helper()
	env := func(k string) string {
		if k == "VS_PASSWORD" {
			return "a long password 1"
		}
		return ""
	}
	if err := runUser(context.Background(), []string{"add", "-email", email, "-name", name, "-role", role, "-data-dir", dir},
		env, strings.NewReader(""), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
}

// TestRecordingSurvivesKill: a call is recorded; the server is killed with
// SIGKILL mid-recording. On the next start the recording is repaired and
// attached to the record, marked interrupted, and it plays up to about
// the moment of the kill.
func TestRecordingSurvivesKill(t *testing.T) {
	testenv.LookTool(t, "ffmpeg")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	dir := t.TempDir()
	addStaffOffline(t, dir, "amira@example.com", "Amira", store.RoleAgent)
	srv := startServerProcess(t, dir)
	call := enterCall(ctx, t, srv.base)

	call.record(t, true)
	waitMsg(ctx, t, call.custWS, signaling.TypeRecording, nil)
	agreed := time.Now()
	_ = call.custWS.Send(signaling.Message{Type: signaling.TypeConsent, Consent: "agree", Version: consentVersion})
	waitMsg(ctx, t, call.agentWS, signaling.TypeConsent, func(m signaling.Message) bool { return m.Participant.Consent == signaling.ConsentAgreed })
	time.Sleep(4 * time.Second)
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	_ = srv.cmd.Wait()
	call.agentWS.Close()
	call.custWS.Close()
	if spool, _ := filepath.Glob(filepath.Join(dir, "spool", "*", "*", "*.webm")); len(spool) == 0 {
		t.Fatal("nothing was being recorded when the server was killed")
	}

	srv = startServerProcess(t, dir)
	agent, _ := login(t, srv.base, "amira@example.com")
	rec := waitRecording(t, agent, call.convID, 60*time.Second)
	if rec.Status != store.RecordingReady || !rec.Interrupted || rec.Size == 0 {
		t.Fatalf("after the restart: %+v\n%s", rec, srv.logTail())
	}
	if rec.Participants == nil || !strings.Contains(strings.Join(rec.Participants, ","), "Wei") {
		t.Errorf("participants %q, want the customer who agreed", rec.Participants)
	}
	// The agent was recorded from the start, the customer from their
	// consent; the kill cuts both. Allow for the last unflushed cluster.
	got := time.Duration(rec.DurationMs) * time.Millisecond
	if lost := killed.Sub(agreed) - got; lost > 1500*time.Millisecond || got > killed.Sub(agreed)+2*time.Second {
		t.Errorf("the recording lasts %v; %v passed from consent to the kill", got, killed.Sub(agreed))
	}
	var grant struct{ URL string }
	if code := agent.do("POST", "/api/v1/recordings/"+rec.ID+"/download", nil, &grant); code != 200 {
		t.Fatalf("download: %d", code)
	}
	_, _, file := agent.fetch(grant.URL, nil)
	path := filepath.Join(t.TempDir(), "call.webm")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	if p := ffprobe(t, path); len(p.Streams) != 2 {
		t.Errorf("streams %+v, want one video and one audio", p.Streams)
	}
	out, err := exec.Command(testenv.LookTool(t, "ffmpeg"), "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("the interrupted recording does not decode cleanly: %v\n%s", err, out)
	}
	// The record tells what happened.
	var types []string
	for _, e := range timeline(t, agent, call.convID) {
		if strings.HasPrefix(e.Type, "recording.") && e.Type != store.EventConsent {
			types = append(types, e.Type)
		}
	}
	if strings.Join(types, ",") != "recording.started,recording.ready,recording.downloaded" {
		t.Errorf("recording events %q", types)
	}
}
