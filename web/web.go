// Package web serves what a person sees in the browser: the start page that
// creates a call, the call page, the customer chat and its embeddable
// widget, the staff sign-in, console and administration pages, and their
// scripts, styles and message catalogs. Everything is embedded with
// go:embed so the binary is the whole product; the pages are plain HTML,
// CSS and ES modules with no build step.
//
// The pages speak the websocket protocols of docs/protocol.md and the REST
// API of docs/api.md; those endpoints are served by other packages and
// mounted beside this handler by cmd/videosupport.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var embedded embed.FS

// Security headers sent with every response. The pages hold no inline
// script or style, so the policy can forbid both; media-src allows blob:
// for MediaStreams and connect-src allows the signaling websocket.
//
// Only the chat page may be framed by other sites: the chat widget shows it
// in an iframe on whatever site embeds /widget.js. Every other page keeps
// frame-ancestors 'self', so the staff pages cannot be clickjacked.
const (
	cspBase = "default-src 'self'; media-src 'self' blob:; " +
		"connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; " +
		"script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
	contentSecurityPolicy   = cspBase + "frame-ancestors 'self'"
	frameableSecurityPolicy = cspBase + "frame-ancestors *"
	permissionsPolicy       = "camera=(self), microphone=(self), geolocation=(), payment=(), usb=()"
)

// Cache policies. HTML is never cached so a deploy reaches everyone at
// once; assets are not fingerprinted, so they are cached only briefly and
// revalidated with their ETag.
const (
	cacheHTML   = "no-store"
	cacheStatic = "public, max-age=300"
)

// Handler serves the pages (the start page at "/", "/call/{id}",
// "/join/{id}", "/chat", "/login", "/console", "/admin"), the chat widget
// at "/widget.js" and static assets under "/static/".
func Handler() http.Handler {
	static, err := fs.Sub(embedded, "static")
	if err != nil {
		// fs.Sub fails only on an invalid path, which is a constant here.
		panic(fmt.Sprintf("web: embedded files: %v", err))
	}
	assets := loadAssets(static)
	widget, err := buildWidget(static)
	if err != nil {
		// The catalogs are compiled in and checked by the tests.
		panic(fmt.Sprintf("web: widget: %v", err))
	}
	assets[widgetName] = widget

	mux := http.NewServeMux()
	mux.Handle("GET /{$}", assets.page("index.html"))
	mux.Handle("GET /call/{id}", assets.page("call.html"))
	// A join link's secret is in the URL fragment, which the browser keeps
	// to itself: the page must be served at this very address (a redirect
	// could lose the fragment), and it sends nothing until a click.
	mux.Handle("GET /join/{id}", assets.page("join.html"))
	mux.Handle("GET /chat", frameable(assets.page("chat.html")))
	mux.Handle("GET /login", assets.page("login.html"))
	mux.Handle("GET /console", assets.page("console.html"))
	mux.Handle("GET /admin", assets.page("admin.html"))
	mux.Handle("GET /widget.js", crossOrigin(assets.page(widgetName)))
	mux.Handle("GET /static/{file...}", assets)
	return withHeaders(mux)
}

// widgetName is the asset served at /widget.js: widget.js with the
// catalogs' widget.* messages built in.
const widgetName = "widget.built.js"

// catalogMarker in widget.js is replaced by the widget's messages in every
// language, so the script needs no second request (which the embedding
// site's CSP might refuse) to speak the visitor's language.
const catalogMarker = "/*catalog*/{}"

func buildWidget(static fs.FS) (asset, error) {
	src, err := fs.ReadFile(static, "widget.js")
	if err != nil {
		return asset{}, err
	}
	if !bytes.Contains(src, []byte(catalogMarker)) {
		return asset{}, fmt.Errorf("widget.js lacks %s", catalogMarker)
	}
	names, err := fs.Glob(static, "i18n/*.json")
	if err != nil {
		return asset{}, err
	}
	words := map[string]map[string]string{}
	for _, name := range names {
		raw, err := fs.ReadFile(static, name)
		if err != nil {
			return asset{}, err
		}
		var cat map[string]string
		if err := json.Unmarshal(raw, &cat); err != nil {
			return asset{}, fmt.Errorf("%s: %w", name, err)
		}
		lang := strings.TrimSuffix(path.Base(name), ".json")
		words[lang] = map[string]string{}
		for k, v := range cat {
			if strings.HasPrefix(k, "widget.") {
				words[lang][k] = v
			}
		}
	}
	// json.Marshal escapes <, > and & as \u003c…, so a message cannot end
	// the script early wherever the file is pasted.
	js, err := json.Marshal(words)
	if err != nil {
		return asset{}, err
	}
	body := bytes.Replace(src, []byte(catalogMarker), js, 1)
	sum := sha256.Sum256(body)
	return asset{body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}, nil
}

// frameable lets any site show the page in a frame (the chat widget).
func frameable(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", frameableSecurityPolicy)
		next.ServeHTTP(w, r)
	})
}

// crossOrigin marks a script as meant for other sites: it may be loaded
// from any origin, also by pages that require CORS or CORP for what they
// embed. It carries no credentials and no secrets.
func crossOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
		next.ServeHTTP(w, r)
	})
}

// asset is one embedded file, read once at start.
type asset struct {
	body []byte
	etag string
}

// assetSet serves the embedded files from memory with strong ETags.
type assetSet map[string]asset

func loadAssets(static fs.FS) assetSet {
	set := assetSet{}
	err := fs.WalkDir(static, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(static, name)
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		sum := sha256.Sum256(body)
		set[name] = asset{body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		// The files are compiled in; failing to read them is a build bug.
		panic(fmt.Sprintf("web: embedded files: %v", err))
	}
	return set
}

// ServeHTTP serves /static/{file...}. Directories are not listed.
func (s assetSet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.serve(w, r, r.PathValue("file"))
}

// page serves one HTML file whatever the request path is.
func (s assetSet) page(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, name)
	})
}

func (s assetSet) serve(w http.ResponseWriter, r *http.Request, name string) {
	a, ok := s[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	if path.Ext(name) == ".html" {
		h.Set("Cache-Control", cacheHTML)
	} else {
		h.Set("Cache-Control", cacheStatic)
		h.Set("ETag", a.etag)
	}
	if ct := contentType(name); ct != "" {
		h.Set("Content-Type", ct)
	}
	// ServeContent answers If-None-Match and Range from the ETag; the zero
	// time leaves out Last-Modified, which embedded files do not have.
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
}

// contentType names the types of the files we ship, so they do not depend
// on the host's MIME tables.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".json":
		return "application/json; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	}
	return ""
}

func withHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Permissions-Policy", permissionsPolicy)
		next.ServeHTTP(w, r)
	})
}
