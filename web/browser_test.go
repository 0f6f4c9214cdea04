package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"videosupport/internal/testenv"
)

// These tests load the pages in headless Chromium with a fake camera and
// check what a person sees. The signaling server is a small fake that
// speaks just enough of docs/protocol.md: the real one is tested in
// signaling/ and end to end with these pages by cmd/videosupport.

// fakeSignal answers join by the room id: "missing" gets room_not_found,
// "weird" an error code no catalog knows, anything else joined with one
// other participant whose camera is off. It records every frame it gets.
type fakeSignal struct {
	frames chan map[string]any
}

func (f *fakeSignal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	for {
		var m map[string]any
		if err := c.ReadJSON(&m); err != nil {
			return
		}
		select {
		case f.frames <- m:
		default:
		}
		if m["type"] != "join" {
			continue
		}
		switch m["room"] {
		case "missing", "weird":
			code := map[any]string{"missing": "room_not_found", "weird": "brand_new_code"}[m["room"]]
			c.WriteJSON(map[string]any{"type": "error", "code": code, "about": "join", "message": "for logs"})
			return
		}
		c.WriteJSON(map[string]any{
			"type": "joined", "room": m["room"],
			"you": map[string]any{"id": "p-me", "name": m["name"]},
			"participants": []any{map[string]any{
				"id": "p-chen", "name": "Dr Chen", "audioMuted": true, "videoMuted": true,
			}},
		})
	}
}

// browser starts one headless Chromium for the test and serves the pages.
func browser(t *testing.T) (ctx context.Context, base string, sig *fakeSignal) {
	t.Helper()
	exe := testenv.LookTool(t, "chromium", "/usr/bin/chromium", "chromium-browser", "google-chrome")
	sig = &fakeSignal{frames: make(chan map[string]any, 256)}
	mux := http.NewServeMux()
	mux.Handle("/", Handler())
	mux.Handle("GET /ws", sig)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("accept-lang", "en-US"),
		chromedp.WindowSize(390, 844),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx, srv.URL, sig
}

// tab opens a new tab that closes with the test, with a deadline.
func tab(t *testing.T, bctx context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(bctx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	ctx, cancelT := context.WithTimeout(ctx, 30*time.Second)
	t.Cleanup(cancelT)
	return ctx
}

func run(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func evalJS[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func waitFor(t *testing.T, ctx context.Context, what, js string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(15*time.Second)))
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func open(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	run(t, ctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("html.i18n-ready")))
}

func join(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	run(t, ctx, chromedp.SetValue(chromedp.CSS("#name"), name), chromedp.Click(chromedp.CSS("#join")))
}

func TestBrowserLanguages(t *testing.T) {
	bctx, base, _ := browser(t)
	ctx := tab(t, bctx)

	open(t, ctx, base+"/")
	picks := evalJS[string](t, ctx, `(async () => {
		const m = await import('/static/i18n.js');
		return [['zh-CN'], ['zh-SG'], ['zh-Hans'], ['zh-TW'], ['zh-HK'], ['zh-MO'], ['zh-Hant-TW'],
		        ['ar-EG'], ['ar'], ['fr-FR', 'ar-MA'], ['fr'], ['en-GB'], []].map(l => m.pickLanguage(l)).join(' ') })()`)
	if want := "zh-Hans zh-Hans zh-Hans zh-Hant zh-Hant zh-Hant zh-Hant ar ar ar en en en"; picks != want {
		t.Errorf("pickLanguage: got %q, want %q", picks, want)
	}

	for _, path := range []string{"/", "/call/room-1"} {
		for _, lang := range catalogs {
			t.Run(path+" "+lang, func(t *testing.T) {
				open(t, ctx, base+path)
				run(t, ctx, chromedp.SetValue(chromedp.CSS("#lang"), lang))
				evalJS[bool](t, ctx, `document.getElementById('lang').dispatchEvent(new Event('change')), true`)
				waitFor(t, ctx, "language "+lang, fmt.Sprintf(`document.documentElement.lang === %q`, lang))

				wantDir := "ltr"
				if lang == "ar" {
					wantDir = "rtl"
				}
				if dir := evalJS[string](t, ctx, `document.documentElement.dir`); dir != wantDir {
					t.Errorf("dir %q, want %q", dir, wantDir)
				}
				empty := evalJS[[]string](t, ctx, `[...document.querySelectorAll('[data-i18n]')]
					.filter(el => el.textContent.trim() === '').map(el => el.dataset.i18n)`)
				if len(empty) > 0 {
					t.Errorf("untranslated elements: %v", empty)
				}
				cat := readCatalog(t, lang)
				if h := evalJS[string](t, ctx, `document.querySelector('h1').textContent`); !inCatalog(cat, h) {
					t.Errorf("h1 %q is not from the %s catalog", h, lang)
				}
				// A reload keeps the manual choice.
				open(t, ctx, base+path)
				if got := evalJS[string](t, ctx, `document.documentElement.lang`); got != lang {
					t.Errorf("after reload: lang %q, want %q", got, lang)
				}
			})
		}
	}
}

func inCatalog(cat map[string]string, s string) bool {
	for _, v := range cat {
		if v == s {
			return true
		}
	}
	return false
}

func TestBrowserJoinAndMute(t *testing.T) {
	bctx, base, sig := browser(t)
	ctx := tab(t, bctx)
	open(t, ctx, base+"/call/room-1")
	join(t, ctx, "Amira")

	waitFor(t, ctx, "the local camera on its tile",
		`document.querySelector('.tile[data-participant="local"] video')?.videoWidth > 0`)
	waitFor(t, ctx, "the other participant's tile",
		`!!document.querySelector('.tile[data-participant="p-chen"]')`)
	other := evalJS[string](t, ctx, `(() => { const t = document.querySelector('.tile[data-participant="p-chen"]');
		return [t.querySelector('.tile-name').textContent, t.classList.contains('cam-off'),
		        !t.querySelector('.badge-mic').hidden, t.querySelector('.avatar-initial').textContent].join('|') })()`)
	if other != "Dr Chen|true|true|D" {
		t.Errorf("other tile shows %q, want name, camera off, mic off, initial D", other)
	}
	if !evalJS[bool](t, ctx, `window.videosupport.publish instanceof RTCPeerConnection &&
		window.videosupport.subscribe instanceof RTCPeerConnection && window.videosupport.joinedAt > 0`) {
		t.Error("window.videosupport lacks the peer connections or joinedAt")
	}

	got := map[string]bool{}
	deadline := time.After(10 * time.Second)
	for !got["join"] || !got["offer"] {
		select {
		case m := <-sig.frames:
			got[m["type"].(string)] = true
			if m["type"] == "join" && (m["room"] != "room-1" || m["name"] != "Amira") {
				t.Errorf("join frame %v", m)
			}
			if m["type"] == "offer" && (m["pc"] != "publish" || !strings.HasPrefix(m["sdp"].(string), "v=0")) {
				t.Errorf("offer frame %v", m)
			}
		case <-deadline:
			t.Fatalf("frames seen: %v; want join and a publish offer", got)
		}
	}

	run(t, ctx, chromedp.Click(chromedp.CSS("#toggle-mic")))
	if p := evalJS[string](t, ctx, `document.getElementById('toggle-mic').getAttribute('aria-pressed')`); p != "false" {
		t.Errorf("mic toggle aria-pressed %q after muting", p)
	}
	if !evalJS[bool](t, ctx, `!document.querySelector('.tile[data-participant="local"] .badge-mic').hidden`) {
		t.Error("local tile shows no muted-microphone badge")
	}
	waitFrame(t, sig, `{"kind":"audio","muted":true,"type":"mute"}`)

	run(t, ctx, chromedp.Click(chromedp.CSS("#leave")), chromedp.WaitVisible(chromedp.CSS("#view-left")))
	waitFrame(t, sig, `{"type":"leave"}`)
}

// waitFrame waits until the fake server receives a frame equal to want.
func waitFrame(t *testing.T, sig *fakeSignal, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-sig.frames:
			b, _ := json.Marshal(m)
			if string(b) == want {
				return
			}
		case <-deadline:
			t.Fatalf("the server never received %s", want)
		}
	}
}

func TestBrowserErrors(t *testing.T) {
	bctx, base, _ := browser(t)
	en := readCatalog(t, "en")
	tests := []struct {
		room, key string
		retry     bool
	}{
		{"missing", "error.room_not_found", false},
		{"weird", "error.generic", true},
	}
	for _, tt := range tests {
		t.Run(tt.room, func(t *testing.T) {
			ctx := tab(t, bctx)
			open(t, ctx, base+"/call/"+tt.room)
			join(t, ctx, "Amira")
			waitFor(t, ctx, "an alert", `document.querySelector('#status[role="alert"]')?.textContent.length > 0`)
			text := evalJS[string](t, ctx, `document.getElementById('status').textContent`)
			if text != en[tt.key] {
				t.Errorf("alert says %q, want %q", text, en[tt.key])
			}
			if retry := evalJS[bool](t, ctx, `!document.getElementById('retry').hidden`); retry != tt.retry {
				t.Errorf("Try again shown: %v, want %v", retry, tt.retry)
			}
		})
	}

	t.Run("server unreachable", func(t *testing.T) {
		ctx := tab(t, bctx)
		dead := httptest.NewServer(Handler()) // pages but no /ws
		t.Cleanup(dead.Close)
		open(t, ctx, dead.URL+"/call/room-1")
		join(t, ctx, "Amira")
		waitFor(t, ctx, "an alert", `document.querySelector('#status[role="alert"]')?.textContent.length > 0`)
		if text := evalJS[string](t, ctx, `document.getElementById('status').textContent`); text != en["error.server_unreachable"] {
			t.Errorf("alert says %q", text)
		}
	})

	t.Run("start page without rooms API", func(t *testing.T) {
		ctx := tab(t, bctx)
		open(t, ctx, base+"/")
		run(t, ctx, chromedp.Click(chromedp.CSS("#start")))
		waitFor(t, ctx, "an alert", `document.querySelector('#status[role="alert"]')?.textContent.length > 0`)
		if text := evalJS[string](t, ctx, `document.getElementById('status').textContent`); text != en["start.error_create"] {
			t.Errorf("alert says %q", text)
		}
	})
}
