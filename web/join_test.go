package web

import (
	"io/fs"
	"path"
	"regexp"
	"testing"
)

// joinKey finds the join page's catalog keys in the scripts (the general
// scriptKey pattern of catalog_test.go lists the other pages' prefixes).
var joinKey = regexp.MustCompile(`['"]((?:join|wait|incall)\.[a-z0-9_]+)['"]`)

// TestJoinScriptKeysExist: every join., wait. and incall. key a script
// asks for has an English message (TestCatalogsMatchEnglish then checks
// the other languages).
func TestJoinScriptKeysExist(t *testing.T) {
	en := readCatalog(t, "en")
	scripts, err := fs.Glob(embedded, "static/*.js")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, script := range scripts {
		raw, err := fs.ReadFile(embedded, script)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range joinKey.FindAllStringSubmatch(string(raw), -1) {
			found++
			if _, ok := en[m[1]]; !ok {
				t.Errorf("%s: key %q is not in en.json", path.Base(script), m[1])
			}
		}
	}
	if found == 0 {
		t.Error("no join., wait. or incall. keys found in the scripts")
	}
}
