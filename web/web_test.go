package web

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, target string, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestRoutes(t *testing.T) {
	h := Handler()
	tests := []struct {
		method, path string
		status       int
		contentType  string
		cache        string
		contains     string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", "no-store", `src="/static/start.js"`},
		{"HEAD", "/", 200, "text/html; charset=utf-8", "no-store", ""},
		{"GET", "/call/7c1c5d7e-4f1e-4d9a-9c67-3a4a3c2a9b10", 200, "text/html; charset=utf-8", "no-store", `id="tiles"`},
		{"GET", "/join/7c1c5d7e-4f1e-4d9a-9c67-3a4a3c2a9b10", 200, "text/html; charset=utf-8", "no-store", `src="/static/join.js"`},
		{"GET", "/static/join.js", 200, "text/javascript; charset=utf-8", "public, max-age=300", "history.replaceState"},
		{"GET", "/static/app.css", 200, "text/css; charset=utf-8", "public, max-age=300", ""},
		{"GET", "/static/call.js", 200, "text/javascript; charset=utf-8", "public, max-age=300", "window.videosupport"},
		{"GET", "/static/i18n/ar.json", 200, "application/json; charset=utf-8", "public, max-age=300", `"error.room_not_found"`},
		{"GET", "/static/icon.svg", 200, "image/svg+xml", "public, max-age=300", ""},
		{"GET", "/chat", 200, "text/html; charset=utf-8", "no-store", `id="messages"`},
		{"GET", "/chat?embed=1", 200, "text/html; charset=utf-8", "no-store", `src="/static/chat.js"`},
		{"GET", "/login", 200, "text/html; charset=utf-8", "no-store", `id="login-form"`},
		{"GET", "/console", 200, "text/html; charset=utf-8", "no-store", `id="conv-list"`},
		{"GET", "/admin", 200, "text/html; charset=utf-8", "no-store", `id="staff-form"`},
		{"GET", "/widget.js", 200, "text/javascript; charset=utf-8", "public, max-age=300", "videosupportWidget"},
		{"GET", "/static/chat.js", 200, "text/javascript; charset=utf-8", "public, max-age=300", "videosupportChat"},
		{"POST", "/chat", 405, "", "", ""},
		{"GET", "/chat/x", 404, "", "", ""},
		{"GET", "/console/", 404, "", "", ""},
		{"GET", "/nope", 404, "", "", ""},
		{"GET", "/call/", 404, "", "", ""},
		{"GET", "/call/a/b", 404, "", "", ""},
		{"GET", "/join/", 404, "", "", ""},
		{"GET", "/join/a/b", 404, "", "", ""},
		{"GET", "/static/", 404, "", "", ""},
		{"GET", "/static/i18n/", 404, "", "", ""},
		{"GET", "/static/nope.js", 404, "", "", ""},
		{"POST", "/", 405, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			res := get(t, h, tt.method, tt.path, nil)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if tt.contentType != "" {
				if got := res.Header.Get("Content-Type"); got != tt.contentType {
					t.Errorf("Content-Type %q, want %q", got, tt.contentType)
				}
			}
			if tt.cache != "" {
				if got := res.Header.Get("Cache-Control"); got != tt.cache {
					t.Errorf("Cache-Control %q, want %q", got, tt.cache)
				}
			}
			body, _ := io.ReadAll(res.Body)
			if tt.contains != "" && !strings.Contains(string(body), tt.contains) {
				t.Errorf("body lacks %q", tt.contains)
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/", "/call/x", "/chat", "/login", "/console", "/admin", "/widget.js", "/static/app.css", "/missing"} {
		res := get(t, h, "GET", p, nil)
		hdr := res.Header
		csp := hdr.Get("Content-Security-Policy")
		for _, want := range []string{
			"default-src 'self'", "media-src 'self' blob:", "connect-src 'self' ws: wss:",
			"img-src 'self' data:", "style-src 'self'", "script-src 'self'",
		} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", p, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows unsafe code: %q", p, csp)
		}
		if got := hdr.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", p, got)
		}
		if got := hdr.Get("Referrer-Policy"); got != "no-referrer" {
			t.Errorf("%s: Referrer-Policy %q", p, got)
		}
		pp := hdr.Get("Permissions-Policy")
		if !strings.Contains(pp, "camera=(self)") || !strings.Contains(pp, "microphone=(self)") {
			t.Errorf("%s: Permissions-Policy %q", p, pp)
		}
	}
}

func TestStaticRevalidates(t *testing.T) {
	h := Handler()
	res := get(t, h, "GET", "/static/app.css", nil)
	etag := res.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on a static asset")
	}
	res = get(t, h, "GET", "/static/app.css", http.Header{"If-None-Match": {etag}})
	if res.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: status %d, want 304", res.StatusCode)
	}
}

// TestFrameAncestors: only the chat page may be framed by other sites (the
// widget shows it in an iframe); the staff pages and the call page may not.
func TestFrameAncestors(t *testing.T) {
	h := Handler()
	tests := []struct{ path, want string }{
		{"/chat", "frame-ancestors *"},
		{"/chat?embed=1", "frame-ancestors *"},
		{"/", "frame-ancestors 'self'"},
		{"/call/x", "frame-ancestors 'self'"},
		{"/login", "frame-ancestors 'self'"},
		{"/console", "frame-ancestors 'self'"},
		{"/admin", "frame-ancestors 'self'"},
		{"/static/chat.js", "frame-ancestors 'self'"},
	}
	for _, tt := range tests {
		res := get(t, h, "GET", tt.path, nil)
		csp := res.Header.Get("Content-Security-Policy")
		if !strings.HasSuffix(csp, tt.want) || strings.Count(csp, "frame-ancestors") != 1 {
			t.Errorf("%s: CSP %q, want it to end in %q", tt.path, csp, tt.want)
		}
		if xfo := res.Header.Get("X-Frame-Options"); xfo != "" && tt.path == "/chat" {
			t.Errorf("/chat sends X-Frame-Options %q, which would stop the widget", xfo)
		}
	}
}

// TestWidgetScript: /widget.js may be loaded by any site and carries the
// widget's words in every language, with the placeholder filled in.
func TestWidgetScript(t *testing.T) {
	h := Handler()
	res := get(t, h, "GET", "/widget.js", http.Header{"Origin": {"https://shop.example"}})
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Access-Control-Allow-Origin %q, want *", got)
	}
	if got := res.Header.Get("Cross-Origin-Resource-Policy"); got != "cross-origin" {
		t.Errorf("Cross-Origin-Resource-Policy %q, want cross-origin", got)
	}
	if res.Header.Get("ETag") == "" {
		t.Error("no ETag on /widget.js")
	}
	body, _ := io.ReadAll(res.Body)
	js := string(body)
	if strings.Contains(js, catalogMarker) {
		t.Fatal("widget.js still holds the catalog placeholder")
	}
	start := strings.Index(js, "const CATALOG = ")
	if start < 0 {
		t.Fatal("widget.js has no CATALOG")
	}
	var words map[string]map[string]string
	dec := json.NewDecoder(strings.NewReader(js[start+len("const CATALOG = "):]))
	if err := dec.Decode(&words); err != nil {
		t.Fatalf("CATALOG is not JSON: %v", err)
	}
	for _, lang := range catalogs {
		cat := readCatalog(t, lang)
		for _, key := range []string{"widget.open", "widget.close", "widget.title", "widget.new_reply"} {
			if words[lang][key] == "" || words[lang][key] != cat[key] {
				t.Errorf("widget %s %s = %q, want %q", lang, key, words[lang][key], cat[key])
			}
		}
	}
	// Other pages do not get the cross-origin headers.
	if got := get(t, h, "GET", "/chat", nil).Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("/chat sends Access-Control-Allow-Origin %q", got)
	}
}

// TestNoInlineCode keeps the pages compatible with the CSP: no inline
// scripts, no style attributes or elements, no inline event handlers.
func TestNoInlineCode(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/", "/call/x", "/chat", "/login", "/console", "/admin"} {
		body, _ := io.ReadAll(get(t, h, "GET", p, nil).Body)
		html := string(body)
		for _, bad := range []string{"<style", " style=", " onclick=", " onload=", "javascript:"} {
			if strings.Contains(html, bad) {
				t.Errorf("%s contains %q", p, bad)
			}
		}
		for _, tag := range strings.Split(html, "<script")[1:] {
			if !strings.Contains(tag[:strings.Index(tag, ">")], "src=") {
				t.Errorf("%s has an inline <script>", p)
			}
		}
	}
}
