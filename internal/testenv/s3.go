package testenv

import (
	"context"
	"debug/buildinfo"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// VersityGWVersion is the S3 server the tests run, as .ci/install-tools
// installs it: go install github.com/versity/versitygw/cmd/versitygw@VERSION.
const VersityGWVersion = "v1.8.0"

// S3 is an empty bucket on a real S3 server (versitygw over a temporary
// directory), reachable over plain HTTP on 127.0.0.1.
type S3 struct {
	Endpoint  string // host:port
	AccessKey string
	SecretKey string
	Region    string
	Bucket    string
}

// The S3 server shared by the tests of one test binary, like the
// PostgreSQL one: started by the first StartS3, stopped by StopS3 or when
// the test binary exits (versitygw gets a parent-death signal, and a
// reaper process removes its directory).
var s3State sharedServer[*s3Server]

type s3Server struct {
	child  // dir: root/ (the buckets), versitygw.log, versitygw.pid
	bin    string
	addr   string
	access string
	secret string
}

const s3Region = "us-east-1"

// StartS3 starts a real S3 server for this test (or reuses the one started
// earlier in the same test binary) and returns a NEW empty bucket in it,
// removed when the test ends. The credentials are random, made per test
// binary. Without versitygw installed (see VersityGWPath) the test is
// skipped, or failed when CI=true.
func StartS3(t testing.TB) S3 {
	t.Helper()
	srv, missing, err := s3State.get(startS3Server)
	if err != nil {
		if missing {
			Missing(t, "%v", err)
		}
		t.Fatalf("testenv: S3: %v", err)
	}
	b := S3{Endpoint: srv.addr, AccessKey: srv.access, SecretKey: srv.secret, Region: s3Region, Bucket: "vs-" + randomHex(8)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := b.Client()
	if err == nil {
		err = c.MakeBucket(ctx, b.Bucket, minio.MakeBucketOptions{Region: s3Region})
	}
	if err != nil {
		t.Fatalf("testenv: S3: create bucket %s: %v%s", b.Bucket, err, srv.logTail())
	}
	t.Cleanup(func() {
		// The bucket is a directory of the posix backend: removing it
		// is the quickest way to empty and drop it, and the whole
		// server directory goes away with the test binary anyway.
		if err := os.RemoveAll(filepath.Join(srv.dir, "root", b.Bucket)); err != nil {
			t.Logf("testenv: S3: removing bucket %s: %v", b.Bucket, err)
		}
	})
	return b
}

// Client returns a minio-go client for the server, for a test's own
// checks of what a backend stored.
func (b S3) Client() (*minio.Client, error) {
	return minio.New(b.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(b.AccessKey, b.SecretKey, ""),
		Region: b.Region,
		Secure: false,
	})
}

// StopS3 stops the server StartS3 started in this test binary, if any,
// and removes its files. A TestMain may call it after m.Run.
func StopS3() { s3State.reset() }

// VersityGWPath finds the versitygw binary: on PATH, else where `go
// install` puts it ($GOBIN, or bin/ of each $GOPATH entry, as `go env`
// reports them), which is where .ci/install-tools installs it.
func VersityGWPath() (string, error) {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	var dirs []string
	for _, d := range goBinDirs() {
		p := filepath.Join(d, "versitygw")
		if isExecutable(p) {
			return p, nil
		}
		dirs = append(dirs, d)
	}
	return "", fmt.Errorf("versitygw is not installed: not on PATH nor in %s "+
		"(`make test` installs it: go install github.com/versity/versitygw/cmd/versitygw@%s)",
		strings.Join(dirs, ", "), VersityGWVersion)
}

// goBinDirs lists where `go install` may have put a command.
func goBinDirs() []string {
	var dirs []string
	add := func(d string) {
		if d != "" && !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	goBin := "go"
	if _, err := exec.LookPath(goBin); err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	if out, err := exec.Command(goBin, "env", "GOBIN", "GOPATH").Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) == 2 {
			add(strings.TrimSpace(lines[0]))
			for _, p := range filepath.SplitList(strings.TrimSpace(lines[1])) {
				add(filepath.Join(p, "bin"))
			}
		}
	}
	add(os.Getenv("GOBIN"))
	for _, p := range filepath.SplitList(os.Getenv("GOPATH")) {
		add(filepath.Join(p, "bin"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		add(filepath.Join(home, "go", "bin"))
	}
	return dirs
}

func startS3Server() (srv *s3Server, missing bool, err error) {
	bin, err := VersityGWPath()
	if err != nil {
		return nil, true, err
	}
	if info, err := buildinfo.ReadFile(bin); err == nil && info.Main.Version != VersityGWVersion {
		// Another version may do; say which one ran if it does not.
		defer func() {
			if err != nil {
				err = fmt.Errorf("%w (this is versitygw %s from %s; the tests are written against %s)", err, info.Main.Version, bin, VersityGWVersion)
			}
		}()
	}
	dir, err := os.MkdirTemp("", "vs-s3-")
	if err != nil {
		return nil, false, err
	}
	srv = &s3Server{child: child{name: "versitygw", dir: dir}, bin: bin, access: "vs" + randomHex(8), secret: randomHex(20)}
	defer func() {
		if err != nil {
			srv.stop()
			srv = nil
		}
	}()
	if srv.reaper, err = startReaper("vs-s3-reaper", s3ReaperScript, dir, srv.pidFile()); err != nil {
		return srv, false, fmt.Errorf("starting the cleanup process: %v", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "root"), 0o700); err != nil {
		return srv, false, err
	}
	// The port is free when chosen, but something else may take it
	// before versitygw binds it: then it exits, and we try another.
	for attempt := 1; ; attempt++ {
		err = srv.run()
		if err == nil || attempt == 3 || !srv.hasExited() {
			return srv, false, err
		}
	}
}

// s3ReaperScript waits for EOF on stdin (StopS3, or the end of the test
// binary), kills versitygw if the parent-death signal has not, and
// removes the directory. $1 is the directory; $2 the file holding the pid.
const s3ReaperScript = `read _ || :
pid=
{ read pid <"$2"; } 2>/dev/null || :
if [ -n "$pid" ]; then
	kill -KILL "$pid" 2>/dev/null || :
	i=0
	while [ $i -lt 100 ] && kill -0 "$pid" 2>/dev/null; do
		st=
		{ read st <"/proc/$pid/stat"; } 2>/dev/null || break
		case "$st" in *") Z "*|*") X "*) break;; esac
		sleep 0.05
		i=$((i+1))
	done
fi
rm -rf "$1"
`

func (s *s3Server) pidFile() string { return filepath.Join(s.dir, "versitygw.pid") }

// run starts versitygw on a free port and waits until it answers S3
// requests with the credentials.
func (s *s3Server) run() error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	logf, err := os.OpenFile(s.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.bin, "--port", s.addr, "--region", s3Region, "--quiet", "posix", filepath.Join(s.dir, "root"))
	// The credentials go by environment, not argv, where any user's ps
	// would show them.
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+s.access, "ROOT_SECRET_ACCESS_KEY="+s.secret)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf // never the test binary's: go test would wait for them
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := s.start(cmd); err != nil {
		return err
	}
	_ = os.WriteFile(s.pidFile(), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o600)

	c, err := minio.New(s.addr, &minio.Options{Creds: credentials.NewStaticV4(s.access, s.secret, ""), Region: s3Region})
	if err != nil {
		return err
	}
	return s.waitReady(30*time.Second, func(ctx context.Context) error {
		_, err := c.ListBuckets(ctx)
		return err
	})
}

func (s *s3Server) stop() { s.child.stop(os.Kill, 10*time.Second) }
