package deptest

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// TestImportDirection reads the real import graph from go list.
func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, Module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []Package
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		pkgs = append(pkgs, Package{ImportPath: f[0], Deps: f[1:]})
	}
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, line := range Check(pkgs) {
		t.Error(line)
	}
}

// TestCheckCatchesViolations: the rules do fire.
func TestCheckCatchesViolations(t *testing.T) {
	for _, tc := range []struct {
		pkg, dep string
		bad      bool
	}{
		{"videosupport/sfu", "videosupport/signaling", true},
		{"videosupport/sfu", "videosupport/recording", true},
		{"videosupport/sfu", "github.com/pion/webrtc/v4", false},
		{"videosupport/recording", "videosupport/signaling", true},
		{"videosupport/recording", "videosupport/sfu", false},
		{"videosupport/signaling", "modernc.org/sqlite", true},
		{"videosupport/api", "videosupport/store/postgres", true},
		{"videosupport/cmd/videosupport", "modernc.org/sqlite", false},
		{"videosupport/store/sqlite", "modernc.org/sqlite", false},
		{"videosupport/signaling", "videosupport/sfu", false},
	} {
		got := Check([]Package{{ImportPath: tc.pkg, Deps: []string{tc.dep}}})
		if (len(got) > 0) != tc.bad {
			t.Errorf("%s -> %s: got %v, want forbidden=%v", tc.pkg, tc.dep, got, tc.bad)
		}
	}
}
