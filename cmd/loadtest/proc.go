package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times (100 on every
// Linux this runs on).
const clockTick = 100

// process is a child the load tool measures from /proc: the server or the
// relay baseline.
type process struct {
	cmd     *exec.Cmd
	errOut  lockedWriter // the start of its stderr, for error messages
	done    chan struct{}
	started time.Time
}

// newProcess prepares a child, pinned to cpus (a taskset list) when
// given, so that its CPU time is its own and, pinned, the figure is per
// core.
func newProcess(path string, args, env []string, cpus string) (*process, error) {
	if cpus != "" {
		if _, err := exec.LookPath("taskset"); err != nil {
			return nil, errors.New("pinning to CPUs needs taskset (util-linux)")
		}
		args = append([]string{"-c", cpus, path}, args...)
		path = "taskset"
	}
	p := &process{cmd: exec.Command(path, args...), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = &p.errOut
	return p, nil
}

func (p *process) start() error {
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.cmd.Path, err)
	}
	p.started = time.Now()
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	return nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// stop ends the child with SIGTERM, then SIGKILL after 10 s.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// cpuTime is the child's user plus system CPU time so far.
func (p *process) cpuTime() (time.Duration, error) { return cpuTimeOf(p.pid()) }

// cpuTimeOf reads a process's user plus system CPU time from /proc.
func cpuTimeOf(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after the last ')'. utime and stime are fields 14 and 15.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * time.Second / clockTick, nil
}

// loadAvg is the machine's 1-minute load average, -1 if unknown.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// rssMiB is the child's resident memory.
func (p *process) rssMiB() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid()))
	if err != nil {
		return -1
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return -1
}

// syscallCounter counts a child's system calls with perf while it runs.
type syscallCounter struct {
	cmd *exec.Cmd
	out bytes.Buffer
}

// countSyscalls starts perf on pid, or returns nil when perf is missing
// or not allowed here.
func countSyscalls(pid int) *syscallCounter {
	if _, err := exec.LookPath("perf"); err != nil {
		return nil
	}
	c := &syscallCounter{}
	c.cmd = exec.Command("perf", "stat", "-x", ",", "-p", strconv.Itoa(pid),
		"-e", "raw_syscalls:sys_enter,syscalls:sys_enter_sendto,syscalls:sys_enter_sendmmsg,syscalls:sys_enter_sendmsg")
	c.cmd.Stderr = &c.out
	if err := c.cmd.Start(); err != nil {
		return nil
	}
	return c
}

// stop ends perf and returns all system calls and those that send.
func (c *syscallCounter) stop() (all, sends float64, ok bool) {
	if c == nil {
		return -1, -1, false
	}
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	_ = c.cmd.Wait()
	all, sends = -1, 0
	for _, line := range strings.Split(c.out.String(), "\n") {
		f := strings.Split(line, ",")
		if len(f) < 3 {
			continue
		}
		n, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		switch {
		case f[2] == "raw_syscalls:sys_enter":
			all = n
		case strings.HasPrefix(f[2], "syscalls:sys_enter_send"):
			sends += n
		}
	}
	return all, sends, all >= 0
}

// server is the videosupport binary under load.
type server struct {
	*process
	base    string // http://127.0.0.1:port
	udpPort int
}

// startServer runs the server on free loopback ports with all media on one
// UDP port and its debug handlers on.
func startServer(ctx context.Context, cfg *Config) (*server, error) {
	port, err := freePort("tcp")
	if err != nil {
		return nil, err
	}
	udp, err := freePort("udp")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "loadtest-server-")
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args := []string{"-listen", addr, "-public-url", "http://" + addr, "-data-dir", dir,
		"-udp-port", strconv.Itoa(udp), "-loopback", "-log-level", "error", "-debug"}
	if cfg.Participants > 16 {
		args = append(args, "-max-participants", strconv.Itoa(cfg.Participants))
	}
	if cfg.MaxStreams > 0 {
		args = append(args, "-max-streams", strconv.Itoa(cfg.MaxStreams))
	}
	args = append(args, cfg.ServerArgs...)
	p, err := newProcess(cfg.Server, args, cfg.ServerEnv, cfg.ServerCPUs)
	if err == nil {
		err = p.start()
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	go func() {
		<-p.done
		_ = os.RemoveAll(dir)
	}()
	s := &server{process: p, base: "http://" + addr, udpPort: udp}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if p.exited() || time.Now().After(deadline) || ctx.Err() != nil {
			s.stop()
			return nil, fmt.Errorf("server did not come up: %v: %s", err, p.errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// createRoom makes a room through the REST API.
func (s *server) createRoom(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/api/v1/rooms", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("create room: %w", err)
	}
	defer resp.Body.Close()
	var r struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.ID == "" {
		return "", fmt.Errorf("create room: status %d: %v", resp.StatusCode, err)
	}
	return r.ID, nil
}

func (s *server) wsURL() string { return "ws" + strings.TrimPrefix(s.base, "http") + "/ws" }

// runtimeStats is what the server's Go runtime says of itself.
type runtimeStats struct {
	Goroutines    int
	Mallocs       uint64
	TotalAlloc    uint64
	NumGC         uint32
	GCCPUFraction float64
	HeapAlloc     uint64
	at            time.Time // when it was read
}

// runtimeStats reads /debug/vars and the goroutine profile; ok is false
// when the server has no debug handlers.
func (s *server) runtimeStats() (runtimeStats, bool) {
	st := runtimeStats{at: time.Now()}
	resp, err := http.Get(s.base + "/debug/vars")
	if err != nil {
		return st, false
	}
	defer resp.Body.Close()
	var vars struct {
		Memstats struct {
			Mallocs, TotalAlloc, HeapAlloc uint64
			NumGC                          uint32
			GCCPUFraction                  float64
		} `json:"memstats"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&vars) != nil {
		return st, false
	}
	st.Mallocs, st.TotalAlloc, st.HeapAlloc = vars.Memstats.Mallocs, vars.Memstats.TotalAlloc, vars.Memstats.HeapAlloc
	st.NumGC, st.GCCPUFraction = vars.Memstats.NumGC, vars.Memstats.GCCPUFraction
	g, err := http.Get(s.base + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return st, false
	}
	defer g.Body.Close()
	line, _ := bufio.NewReader(io.LimitReader(g.Body, 4096)).ReadString('\n')
	if v, ok := strings.CutPrefix(strings.TrimSpace(line), "goroutine profile: total "); ok {
		st.Goroutines, _ = strconv.Atoi(v)
	}
	return st, true
}

// profile fetches a CPU profile of the server for d into path.
func (s *server) profile(path string, d time.Duration) error {
	resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", s.base, int(d.Seconds())))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: status %d", resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	return errors.Join(err, f.Close())
}

func freePort(network string) (int, error) {
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	default:
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port, nil
	}
}
