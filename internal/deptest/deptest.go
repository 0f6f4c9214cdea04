// Package deptest enforces the direction of imports that STYLE.md gives:
// media flows browser -> signaling -> sfu -> recording -> record, so sfu
// and blob import nothing of ours, recording never reaches back to
// signaling, and only cmd picks concrete storage backends.
package deptest

import (
	"fmt"
	"strings"
)

// Module is this module's path.
const Module = "videosupport"

// concreteBackends are the packages only cmd may import: anything else
// takes an interface.
var concreteBackends = []string{
	"modernc.org/sqlite",
	"github.com/jackc/pgx",
	"github.com/redis/go-redis",
	"github.com/minio/minio-go",
	Module + "/store/sqlite",
	Module + "/store/postgres",
	Module + "/blob/disk",
	Module + "/blob/s3",
}

// Package is one package and everything it depends on, directly or not.
type Package struct {
	ImportPath string
	Deps       []string
}

// Check returns one line per forbidden dependency.
func Check(pkgs []Package) []string {
	var bad []string
	for _, p := range pkgs {
		for _, d := range p.Deps {
			if why := forbidden(p.ImportPath, d); why != "" {
				bad = append(bad, fmt.Sprintf("%s imports %s: %s", p.ImportPath, d, why))
			}
		}
	}
	return bad
}

func forbidden(pkg, dep string) string {
	under := func(path, root string) bool { return path == root || strings.HasPrefix(path, root+"/") }
	switch {
	case under(pkg, Module+"/sfu") && under(dep, Module) && !under(dep, Module+"/sfu"):
		return "sfu imports nothing of ours; callers plug in through its interfaces"
	case under(pkg, Module+"/recording") && under(dep, Module+"/signaling"):
		return "recording never reaches back to signaling"
	case under(pkg, Module+"/blob") && under(dep, Module) && !under(dep, Module+"/blob"):
		return "blob imports nothing of ours; recording and api use it"
	case !under(pkg, Module+"/cmd") && !under(pkg, Module+"/internal/testenv") && !isBackend(pkg):
		// internal/testenv is test support: it starts and reaches real
		// servers for tests, which is a test's privilege.
		for _, b := range concreteBackends {
			if under(dep, b) {
				return "only cmd picks a concrete backend; take an interface"
			}
		}
	}
	return ""
}

// isBackend reports whether pkg is one of our concrete backends, which
// may use its own driver.
func isBackend(pkg string) bool {
	for _, b := range concreteBackends {
		if strings.HasPrefix(b, Module+"/") && (pkg == b || strings.HasPrefix(pkg, b+"/")) {
			return true
		}
	}
	return false
}
