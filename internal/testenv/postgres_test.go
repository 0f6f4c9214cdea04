package testenv

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// helperEnv makes the test binary, run again by TestPostgresDiesWithTestBinary,
// start a server and exit without StopPostgres.
const helperEnv = "VS_TESTENV_POSTGRES_HELPER"

func TestMain(m *testing.M) {
	code := m.Run()
	if os.Getenv(helperEnv) == "" && os.Getenv(s3HelperEnv) == "" {
		StopPostgres()
		StopS3()
	}
	os.Exit(code)
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestStartPostgres(t *testing.T) {
	start := time.Now()
	dsn := StartPostgres(t)
	t.Logf("first StartPostgres (server start if not yet running, new database): %v: %s", time.Since(start).Round(time.Millisecond), dsn)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "postgres" || u.User.Username() != "vs" || u.Hostname() != "127.0.0.1" || u.Query().Get("sslmode") != "disable" {
		t.Errorf("unexpected DSN %q", dsn)
	}

	ctx := context.Background()
	conn := connect(t, dsn)
	if _, err := conn.Exec(ctx, `CREATE TABLE rooms (id serial PRIMARY KEY, name text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"alpha", "beta", "gamma"} {
		if _, err := conn.Exec(ctx, `INSERT INTO rooms (name) VALUES ($1)`, n); err != nil {
			t.Fatal(err)
		}
	}
	rows, _ := conn.Query(ctx, `SELECT name FROM rooms ORDER BY id`)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names, ","); got != "alpha,beta,gamma" {
		t.Errorf("read back %q", got)
	}

	// A second database: same server, new and empty, without a new start.
	start = time.Now()
	dsn2 := StartPostgres(t)
	took := time.Since(start)
	t.Logf("second StartPostgres (new database on the running server): %v: %s", took.Round(time.Millisecond), dsn2)
	u2, err := url.Parse(dsn2)
	if err != nil {
		t.Fatal(err)
	}
	if u2.Host != u.Host {
		t.Errorf("second server %s, want the first one %s", u2.Host, u.Host)
	}
	if u2.Path == u.Path {
		t.Errorf("second StartPostgres returned the same database %s", u.Path)
	}
	if took > 10*time.Second {
		t.Errorf("a new database took %v", took)
	}
	conn2 := connect(t, dsn2)
	var n int
	if err := conn2.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename = 'rooms'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("the new database is not empty: it has the first one's table")
	}
}

func TestStartPostgresParallel(t *testing.T) {
	for i := range 4 {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			conn := connect(t, StartPostgres(t))
			ctx := context.Background()
			if _, err := conn.Exec(ctx, `CREATE TABLE t (v int)`); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(ctx, `INSERT INTO t VALUES ($1)`, i); err != nil {
				t.Fatal(err)
			}
			var v int
			if err := conn.QueryRow(ctx, `SELECT sum(v) FROM t`).Scan(&v); err != nil || v != i {
				t.Errorf("sum = %d, %v; want %d", v, err, i)
			}
		})
	}
}

// TestPostgresHelper runs only inside TestPostgresDiesWithTestBinary: it
// starts a server, reports it, and lets the test binary exit.
func TestPostgresHelper(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		return // only a helper process for TestPostgresDiesWithTestBinary
	}
	dsn := StartPostgres(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	srv := pgState.srv
	fmt.Printf("SERVER %d %d %s %s\n", srv.cmd.Process.Pid, srv.reaper.cmd.Process.Pid, srv.dir, u.Host)
}

// A test binary that never calls StopPostgres still leaves neither a
// running postgres nor its files behind.
func TestPostgresDiesWithTestBinary(t *testing.T) {
	if _, err := postgresBinDir(); err != nil {
		Missing(t, "%v", err)
	}
	checkDiesWithTestBinary(t, "TestPostgresHelper", helperEnv)
}

// checkDiesWithTestBinary runs this test binary again with env=1, running
// only the test helper, which starts a server, prints
// "SERVER <pid> <reaper pid> <dir> <address>" and exits without stopping
// it. Then the server and its reaper must exit, the directory go and the
// address stop answering.
func checkDiesWithTestBinary(t *testing.T, helper, env string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Adopt the orphans of the helper (the server and its reaper) to
	// reap them below: where PID 1 does not reap (some containers), they
	// would stay zombies.
	if err := setChildSubreaper(true); err != nil {
		t.Logf("PR_SET_CHILD_SUBREAPER: %v", err)
	}
	defer setChildSubreaper(false)
	cmd := exec.Command(exe, "-test.run=^"+helper+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), env+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	var pid, reaperPid int
	var dir, addr string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 5 && f[0] == "SERVER" {
			pid, _ = strconv.Atoi(f[1])
			reaperPid, _ = strconv.Atoi(f[2])
			dir, addr = f[3], f[4]
		}
	}
	if pid == 0 || reaperPid == 0 {
		t.Fatalf("helper reported no server:\n%s", out)
	}

	deadline := time.Now().Add(20 * time.Second)
	srvDone, reaperDone := false, false
	for {
		srvDone = srvDone || exitedOrReaped(pid)
		reaperDone = reaperDone || exitedOrReaped(reaperPid)
		_, statErr := os.Stat(dir)
		c, dialErr := net.DialTimeout("tcp", addr, time.Second)
		if dialErr == nil {
			c.Close()
		}
		if srvDone && reaperDone && os.IsNotExist(statErr) && dialErr != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("20s after the test binary exited: server %d exited=%v, reaper %d exited=%v, %s exists=%v, %s accepts connections=%v",
				pid, srvDone, reaperPid, reaperDone, dir, statErr == nil, addr, dialErr == nil)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func setChildSubreaper(on bool) error {
	const prSetChildSubreaper = 36
	v := uintptr(0)
	if on {
		v = 1
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, v, 0); e != 0 {
		return e
	}
	return nil
}

// exitedOrReaped reports whether pid has exited, reaping it if it is our
// (adopted) child.
func exitedOrReaped(pid int) bool {
	var ws syscall.WaitStatus
	got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
	if err == nil {
		return got == pid
	}
	return !processRunning(pid) // not our child
}

// processRunning reports whether pid exists and is not a zombie (an orphan
// stays a zombie where PID 1 does not reap, as in some containers).
func processRunning(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}
