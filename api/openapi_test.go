package api

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"videosupport/auth"
	"videosupport/desk"
)

// The OpenAPI document is written by hand; these tests keep it honest
// against the code: every route registered here is documented with the
// same method and path, nothing documented is missing from the code, and
// every $ref points at something.

// openAPIDoc parses the embedded document.
func openAPIDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("api/openapi.json is not JSON: %v", err)
	}
	return doc
}

func TestOpenAPIDocument(t *testing.T) {
	doc := openAPIDoc(t)
	v, _ := doc["openapi"].(string)
	if !regexp.MustCompile(`^3\.1\.[0-9]+$`).MatchString(v) {
		t.Errorf("openapi = %q, want 3.1.x", v)
	}
	for _, key := range []string{"info", "paths", "webhooks", "components"} {
		if _, ok := doc[key].(map[string]any); !ok {
			t.Errorf("no %q object", key)
		}
	}

	// What the server hands out is the file.
	h := Handler(Config{Rooms: auth.NewOpenRooms(time.Hour)})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/openapi.json", nil))
	file, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") ||
		rec.Body.String() != string(file) {
		t.Errorf("GET /api/v1/openapi.json: %d %q, %d bytes; want 200, JSON, the %d bytes of openapi.json",
			rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len(), len(file))
	}
}

// httpMethods are the operation keys of an OpenAPI path item.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// documentedRoutes returns "METHOD /path" for every operation under paths.
func documentedRoutes(t *testing.T, doc map[string]any) []string {
	t.Helper()
	paths, _ := doc["paths"].(map[string]any)
	var out []string
	for path, item := range paths {
		ops, ok := item.(map[string]any)
		if !ok {
			t.Errorf("paths[%q] is not an object", path)
			continue
		}
		for _, m := range httpMethods {
			if _, ok := ops[m]; ok {
				out = append(out, strings.ToUpper(m)+" "+path)
			}
		}
	}
	sort.Strings(out)
	return out
}

// routePattern is a ServeMux pattern with a method, as the API registers
// its routes.
var routePattern = regexp.MustCompile(`^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) (/api/\S*)$`)

// catchAlls are patterns without a method that are not endpoints.
var catchAlls = []string{"/api/"}

// registeredRoutes reads the package's Go source (tests aside) and returns
// every route pattern in it: the first argument of each Handle or
// HandleFunc call, which must be a string literal so it can be read here,
// and any other string literal that looks like a pattern, in case a
// route is registered through a helper.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, 0)
	if err != nil {
		t.Fatalf("parse package api: %v", err)
	}
	found := map[string]bool{}
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					sel, ok := n.Fun.(*ast.SelectorExpr)
					if !ok || (sel.Sel.Name != "HandleFunc" && sel.Sel.Name != "Handle") || len(n.Args) == 0 {
						return true
					}
					lit, ok := n.Args[0].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Errorf("%s: route pattern is not a string literal; write it out so this test can check it is documented",
							fset.Position(n.Pos()))
						return true
					}
					p, _ := strconv.Unquote(lit.Value)
					if !routePattern.MatchString(p) && !slices.Contains(catchAlls, p) {
						t.Errorf("%s: route %q is not \"METHOD /api/...\"", fset.Position(n.Pos()), p)
					}
				case *ast.BasicLit:
					if n.Kind != token.STRING {
						return true
					}
					if p, err := strconv.Unquote(n.Value); err == nil && routePattern.MatchString(p) {
						found[p] = true
					}
				}
				return true
			})
		}
	}
	var out []string
	for p := range found {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func TestOpenAPICoversRoutes(t *testing.T) {
	doc := openAPIDoc(t)
	documented := documentedRoutes(t, doc)
	registered := registeredRoutes(t)
	if len(registered) < 10 {
		t.Fatalf("found only %d routes in the source of package api: %v; is the scan broken?", len(registered), registered)
	}
	missing, extra := difference(registered, documented)
	for _, r := range missing {
		t.Errorf("route %q is registered but not in api/openapi.json", r)
	}
	for _, r := range extra {
		t.Errorf("api/openapi.json documents %q, which package api does not register", r)
	}

	// The running mux agrees: each documented operation lands on the
	// pattern of the same method and path, not on the catch-all.
	h := Handler(Config{Rooms: auth.NewOpenRooms(time.Hour), Desk: desk.New(nil, nil, slog.New(slog.DiscardHandler))})
	mux, ok := h.(*http.ServeMux)
	if !ok {
		t.Fatalf("Handler returns %T, not a *http.ServeMux", h)
	}
	params := regexp.MustCompile(`\{[^}/]+\}`)
	for _, r := range documented {
		method, path, _ := strings.Cut(r, " ")
		req := httptest.NewRequest(method, params.ReplaceAllString(path, "x1"), nil)
		if _, pattern := mux.Handler(req); pattern != r {
			t.Errorf("%s %s is served by pattern %q, want %q", method, req.URL.Path, pattern, r)
		}
	}
}

func TestOpenAPIRefsResolve(t *testing.T) {
	doc := openAPIDoc(t)
	used := map[string]bool{}
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["$ref"]; ok {
				s, _ := r.(string)
				if _, err := resolvePointer(doc, s); err != "" {
					t.Errorf("%s: $ref %q: %s", at, s, err)
				}
				used[s] = true
			}
			for k, e := range v {
				walk(at+"/"+k, e)
			}
		case []any:
			for i, e := range v {
				walk(at+"/"+strconv.Itoa(i), e)
			}
		}
	}
	walk("#", doc)
	if len(used) == 0 {
		t.Fatal("no $ref at all; is the walk broken?")
	}

	// A component nothing refers to is usually left over from a change.
	components, _ := doc["components"].(map[string]any)
	for _, kind := range []string{"schemas", "parameters", "responses"} {
		m, _ := components[kind].(map[string]any)
		for name := range m {
			if ref := "#/components/" + kind + "/" + name; !used[ref] {
				t.Errorf("%s is never referred to", ref)
			}
		}
	}
}

// resolvePointer follows a local JSON pointer ("#/a/b") in doc; it
// returns why it could not.
func resolvePointer(doc any, ref string) (any, string) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, "not a local reference (#/...)"
	}
	v := doc
	for _, tok := range strings.Split(rest, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := v.(map[string]any)
		if !ok {
			return nil, "runs through a non-object before " + strconv.Quote(tok)
		}
		if v, ok = m[tok]; !ok {
			return nil, "no " + strconv.Quote(tok)
		}
	}
	return v, ""
}

func TestOpenAPISecurity(t *testing.T) {
	doc := openAPIDoc(t)
	components, _ := doc["components"].(map[string]any)
	schemes, _ := components["securitySchemes"].(map[string]any)
	for _, name := range []string{"staffSession", "csrfToken", "apiKey", "customerToken"} {
		if _, ok := schemes[name]; !ok {
			t.Errorf("no security scheme %q", name)
		}
	}
	paths, _ := doc["paths"].(map[string]any)
	for path, item := range paths {
		ops, _ := item.(map[string]any)
		for _, m := range httpMethods {
			op, ok := ops[m].(map[string]any)
			if !ok {
				continue
			}
			reqs, ok := op["security"].([]any)
			if !ok {
				// Say it even when none is needed, so none is a choice.
				t.Errorf("%s %s: no security list", strings.ToUpper(m), path)
				continue
			}
			for _, r := range reqs {
				req, _ := r.(map[string]any)
				for name := range req {
					if _, ok := schemes[name]; !ok {
						t.Errorf("%s %s: unknown security scheme %q", strings.ToUpper(m), path, name)
					}
				}
			}
		}
	}
}

// TestOpenAPIWebhooks checks the webhooks section names exactly the events
// a webhook may subscribe to.
func TestOpenAPIWebhooks(t *testing.T) {
	doc := openAPIDoc(t)
	hooks, _ := doc["webhooks"].(map[string]any)
	var documented []string
	for name := range hooks {
		documented = append(documented, name)
	}
	missing, extra := difference(WebhookEvents, documented)
	if len(missing)+len(extra) > 0 {
		t.Errorf("webhooks section: events %v are in WebhookEvents but not documented; %v are documented but not in WebhookEvents",
			missing, extra)
	}
	typ, _ := resolvePointer(doc, "#/components/schemas/WebhookEventType/enum")
	list, _ := typ.([]any)
	var enum []string
	for _, e := range list {
		s, _ := e.(string)
		enum = append(enum, s)
	}
	if missing, extra := difference(WebhookEvents, enum); len(missing)+len(extra) > 0 {
		t.Errorf("WebhookEventType enum: %v missing, %v not in WebhookEvents", missing, extra)
	}
	sig, _ := resolvePointer(doc, "#/components/parameters/SignatureHeader")
	if p, _ := sig.(map[string]any); p["name"] != "Videosupport-Signature" || p["in"] != "header" {
		t.Errorf("SignatureHeader parameter is %v, want the Videosupport-Signature header", sig)
	}
}

// difference returns what is in want but not in got, and the reverse.
func difference(want, got []string) (missing, extra []string) {
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	return missing, extra
}
