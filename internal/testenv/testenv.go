// Package testenv lets a test ask for an outside tool (chromium, ffmpeg,
// a database server). On a laptop that lacks it the test is skipped; in CI
// (CI=true) it fails instead, because a skipped test proves nothing.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run in CI, where nothing may be skipped.
func InCI() bool {
	v := os.Getenv("CI")
	return v == "true" || v == "1"
}

// LookTool returns the path of the first of names found on PATH or as an
// absolute path. Without any of them it skips the test, or fails it in CI.
func LookTool(t testing.TB, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	Missing(t, "none of %v is installed (run `make test`, which installs them)", names)
	return ""
}

// Missing skips the test because something it needs is absent, or fails it
// when running in CI.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI=true and a test requirement is missing: "+format, args...)
	}
	t.Skipf("skipped: "+format, args...)
}
