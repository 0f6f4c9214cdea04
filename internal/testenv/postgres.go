package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The PostgreSQL server shared by the tests of one test binary. It is started
// by the first StartPostgres and stopped by StopPostgres, or, when nothing
// calls StopPostgres, when the test binary exits: postgres is a direct child
// started with a parent-death signal, and a small reaper process removes its
// directory once the test binary is gone.
var pgState sharedServer[*pgServer]

type pgServer struct {
	child // dir: data/, the unix socket, postgres.log
	port  int
	major int // server major version, e.g. 15
}

const pgUser = "vs"

// StartPostgres starts a real PostgreSQL server for this test (or reuses one started
// earlier in the same test binary) and returns the DSN of a NEW empty database in it,
// e.g. "postgres://vs@127.0.0.1:PORT/db_xyz?sslmode=disable".
//
// The database is dropped when the test ends. The user vs is a superuser and
// authentication is trust; the server listens on 127.0.0.1 only and runs with
// fsync off. Without PostgreSQL installed the test is skipped (failed in CI).
// A package whose tests use it may call StopPostgres at the end of TestMain;
// without that the server is killed when the test binary exits.
func StartPostgres(t testing.TB) string {
	t.Helper()
	srv, missing, err := pgState.get(startPostgresServer)
	if err != nil {
		if missing {
			Missing(t, "%v", err)
		}
		t.Fatalf("testenv: PostgreSQL: %v", err)
	}

	name := "db_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stmt := "CREATE DATABASE " + name
	if srv.major >= 15 {
		// A copy of the (tiny) template by files is 2-3 times faster than
		// the default WAL_LOG strategy, and fsync is off anyway.
		stmt += " STRATEGY FILE_COPY"
	}
	if err := srv.exec(ctx, stmt); err != nil {
		t.Fatalf("testenv: PostgreSQL: %s: %v%s", stmt, err, srv.logTail())
	}
	t.Cleanup(func() {
		// Best effort: the whole server goes away with the test binary.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil && !srv.hasExited() {
			t.Logf("testenv: PostgreSQL: dropping database %s: %v", name, err)
		}
	})
	return srv.dsn(name)
}

// StopPostgres stops the server StartPostgres started in this test binary, if
// any, and removes its files. A TestMain may call it after m.Run; a later
// StartPostgres starts a new server.
func StopPostgres() { pgState.reset() }

// postgresBinDir finds the directory holding initdb and postgres: Debian's
// /usr/lib/postgresql/<newest>/bin, else wherever PATH has them.
func postgresBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { // newest version first
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			d := filepath.Dir(real)
			if isExecutable(filepath.Join(d, "postgres")) {
				return d, nil
			}
		}
	}
	return "", errors.New("PostgreSQL is not installed: no initdb and postgres in /usr/lib/postgresql/*/bin or on PATH " +
		"(Debian package postgresql; `make test` installs it)")
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func startPostgresServer() (srv *pgServer, missing bool, err error) {
	bin, err := postgresBinDir()
	if err != nil {
		return nil, true, err
	}

	// initdb and postgres refuse to run as root: then run them as the
	// postgres user of Debian's package, on a directory it owns.
	var cred *syscall.Credential
	tmpParent := os.TempDir()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, true, fmt.Errorf("running as root needs the postgres system user to run PostgreSQL as (Debian's postgresql package creates it): %v", err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
		if !traversableByAll(tmpParent) {
			tmpParent = "/tmp"
		}
	}
	dir, err := os.MkdirTemp(tmpParent, "vs-postgres-")
	if err != nil {
		return nil, false, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, false, err
		}
	}
	srv = &pgServer{child: child{name: "postgres", dir: dir}}
	defer func() {
		if err != nil {
			srv.stop()
			srv = nil
		}
	}()

	// The reaper removes dir once this process is gone, however it ends
	// (its stdin, a pipe from us, then reads EOF). It is started first
	// so that no path leaves the directory behind.
	if srv.reaper, err = startReaper("vs-postgres-reaper", pgReaperScript, dir); err != nil {
		return srv, false, fmt.Errorf("starting the cleanup process: %v", err)
	}

	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"),
		"-D", data, "-U", pgUser, "--auth=trust", "--no-sync", "--no-locale", "-E", "UTF8")
	initdb.Dir = dir
	initdb.Env = pgEnv()
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	if out, err := initdb.CombinedOutput(); err != nil {
		return srv, false, fmt.Errorf("initdb: %v\n%s", err, out)
	}

	// The port is free when chosen, but something else may take it before
	// postgres binds it: then postgres exits, and we try another.
	for attempt := 1; ; attempt++ {
		err = srv.run(bin, cred)
		if err == nil || attempt == 3 || !srv.hasExited() {
			return srv, false, err
		}
	}
}

// traversableByAll reports whether every directory from / to dir lets any
// user through (the postgres user must reach its directory inside).
func traversableByAll(dir string) bool {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

// pgEnv is the environment of initdb and postgres: ours, in the C locale so
// that a missing locale cannot break initdb and messages are in English.
func pgEnv() []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=") || strings.HasPrefix(kv, "PG")
	})
	return append(env, "LC_ALL=C")
}

// pgReaperScript runs as the reaper: it waits for EOF on stdin (StopPostgres,
// or the end of the test binary), makes sure postgres is stopped (SIGQUIT:
// immediate shutdown, which also frees its shared memory) and removes $1.
const pgReaperScript = `read _ || :
i=0
while [ $i -lt 300 ]; do
	pid=
	{ read pid <"$1/data/postmaster.pid"; } 2>/dev/null || break
	[ -n "$pid" ] && [ -d "/proc/$pid" ] || break
	st=
	{ read st <"/proc/$pid/stat"; } 2>/dev/null || break
	case "$st" in *") Z "*|*") X "*) break;; esac
	kill -QUIT "$pid" 2>/dev/null || :
	sleep 0.1
	i=$((i+1))
done
rm -rf "$1"
`

// run starts postgres on a free port and waits until it accepts connections.
func (s *pgServer) run(bin string, cred *syscall.Credential) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.port = port
	logf, err := os.OpenFile(s.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // postgres has its own copy
	cmd := exec.Command(filepath.Join(bin, "postgres"),
		"-D", filepath.Join(s.dir, "data"),
		"-p", strconv.Itoa(port),
		"-k", s.dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=200",
		"-c", "unix_socket_permissions=0700",
	)
	cmd.Dir = s.dir
	cmd.Env = pgEnv()
	// Never the test binary's stdout or stderr: `go test` would wait for
	// postgres to close them.
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		// Dies with the test binary. SIGQUIT is postgres's immediate
		// shutdown: it stops its backends and frees its shared memory.
		Pdeathsig: syscall.SIGQUIT,
		// Out of the terminal's process group, so that only we stop it.
		Setpgid: true,
	}
	if err := s.start(cmd); err != nil {
		return err
	}
	// Ready when it accepts a real connection.
	return s.waitReady(60*time.Second, func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, s.dsn("postgres"))
		if err != nil {
			return err
		}
		s.major, _ = strconv.Atoi(strings.SplitN(conn.PgConn().ParameterStatus("server_version"), ".", 2)[0])
		return conn.Close(ctx)
	})
}

// stop shuts postgres down (SIGQUIT, its immediate shutdown: the data is
// thrown away), waits for it, and has the reaper remove the directory.
func (s *pgServer) stop() { s.child.stop(syscall.SIGQUIT, 10*time.Second) }

func (s *pgServer) dsn(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", pgUser, s.port, db)
}

// exec runs one statement in the postgres database on a new connection.
func (s *pgServer) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.dsn("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
