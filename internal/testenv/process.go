package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// What the servers of the tests (PostgreSQL, versitygw) share: a child
// that dies with the test binary, and a reaper that removes its directory
// however the test binary ends.

// reaper is a small shell process that runs its script's cleanup once its
// stdin, a pipe from us, reads EOF: when release closes it, or when the
// test binary dies.
type reaper struct {
	cmd  *exec.Cmd
	w    *os.File
	done sync.WaitGroup
}

// startReaper starts script with args ($1, ...). The script begins with
// `read _ || :` and then cleans up.
func startReaper(name, script string, args ...string) (*reaper, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("/bin/sh", append([]string{"-c", script, name}, args...)...)
	cmd.Stdin = r
	// Its own process group: a ^C on the terminal must not kill it
	// before it has cleaned up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	r.Close()
	if err != nil {
		w.Close()
		return nil, err
	}
	rp := &reaper{cmd: cmd, w: w}
	rp.done.Add(1)
	go func() {
		defer rp.done.Done()
		cmd.Wait()
	}()
	return rp, nil
}

// release tells the reaper to clean up now and waits until it has.
func (r *reaper) release() {
	if r == nil || r.w == nil {
		return
	}
	r.w.Close()
	r.done.Wait()
	r.w = nil
}

// startTied starts cmd, whose SysProcAttr sets Pdeathsig, and returns a
// channel closed once it has exited and been reaped. The parent-death
// signal is sent when the thread that started the child exits, not the
// process: the child is started and waited for on a locked thread that
// lives as long as it does.
func startTied(cmd *exec.Cmd) (exited chan struct{}, err error) {
	exited = make(chan struct{})
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			cmd.Wait()
		}
		close(exited)
		runtime.UnlockOSThread()
	}()
	return exited, <-started
}

// child is a server the tests start (postgres, versitygw): its temp
// directory, its process, tied to the test binary, and the reaper that
// removes the directory once the test binary is gone.
type child struct {
	name   string // the program: in messages, and its log is dir/name.log
	dir    string
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited and been reaped
	reaper *reaper
}

func (c *child) hasExited() bool { return isClosed(c.exited) }

func (c *child) logPath() string { return filepath.Join(c.dir, c.name+".log") }

// logTail returns the end of the server's log, to explain a failure.
func (c *child) logTail() string { return logTail(c.logPath()) }

// start starts cmd tied to the test binary (see startTied).
func (c *child) start(cmd *exec.Cmd) error {
	exited, err := startTied(cmd)
	c.cmd, c.exited = cmd, exited
	if err != nil {
		return fmt.Errorf("starting %s: %v", c.name, err)
	}
	return nil
}

// waitReady calls ready until it succeeds, the process exits, or limit
// has passed.
func (c *child) waitReady(limit time.Duration, ready func(context.Context) error) error {
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := ready(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-c.exited:
			return fmt.Errorf("%s exited while starting: %v%s", c.name, c.cmd.ProcessState, c.logTail())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %v%s", c.name, limit, err, c.logTail())
		}
	}
}

// stop sends the process sig, kills it if it has not exited after
// grace, then has the reaper remove the directory (and removes it
// itself, in case the reaper could not).
func (c *child) stop(sig os.Signal, grace time.Duration) {
	if c.cmd != nil && c.cmd.Process != nil && !c.hasExited() {
		_ = c.cmd.Process.Signal(sig)
		select {
		case <-c.exited:
		case <-time.After(grace):
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
	}
	c.reaper.release()
	if err := os.RemoveAll(c.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "testenv: %s: removing %s: %v\n", c.name, c.dir, err)
	}
}

// isClosed reports whether ch (an exited channel) is closed; a nil
// channel (never started) is not.
func isClosed(ch chan struct{}) bool {
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// logTail returns the end of a server's log file, to explain a failure.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "\n" + filepath.Base(path) + " ends with:\n" + string(b)
}

// server is a server of the tests, as sharedServer sees it.
type server interface {
	hasExited() bool
	stop()
	logTail() string
}

// sharedServer holds the one server of a kind that a test binary runs:
// started by the first test that asks for it, given to the later ones.
type sharedServer[S server] struct {
	mu  sync.Mutex
	srv S // valid while up
	up  bool
	err error // why the server could not start; given to every later caller
	// missing is set when err means "not installed" (skip, or fail in CI).
	missing bool
}

// get returns the running server, starting it if needed.
func (s *sharedServer[S]) get(start func() (S, bool, error)) (S, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.up && s.srv.hasExited() {
		// It died under us (killed from outside): say so instead of
		// restarting, since what earlier tests made in it is gone too.
		s.err = fmt.Errorf("the server of this test binary exited%s", s.srv.logTail())
		s.srv.stop()
		s.up = false
	}
	if !s.up && s.err == nil {
		srv, missing, err := start()
		s.missing, s.err = missing, err
		s.srv, s.up = srv, err == nil
	}
	return s.srv, s.missing, s.err
}

// reset stops the server, if any, and forgets why one could not start: the
// next get starts anew.
func (s *sharedServer[S]) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.up {
		s.srv.stop()
	}
	var none S
	s.srv, s.up, s.err, s.missing = none, false, nil, false
}
