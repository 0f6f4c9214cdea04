package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"videosupport/internal/testenv"
)

// newBrowser starts headless Chromium with a fake camera and microphone,
// in lang, and returns a context for its first tab. The browser dies with
// the test. Options in extra come last, so they can override the flags
// above: chromedp.Flag(name, false) drops one.
func newBrowser(t *testing.T, lang string, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	path := testenv.LookTool(t, "chromium", "chromium-browser", "google-chrome")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("lang", lang),
		chromedp.Flag("accept-lang", lang),
		chromedp.Env("LANGUAGE="+lang),
		chromedp.WindowSize(1280, 800),
	)
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // start the browser now
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// newTab opens another tab in the browser of ctx: a second person. With
// chromedp.WithNewBrowserContext in opts the tab gets a profile of its own
// (storage, permissions). The tab exists when newTab returns, so later
// steps may run under a deadline without the deadline closing it.
func newTab(t *testing.T, ctx context.Context, opts ...chromedp.ContextOption) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(ctx, opts...)
	t.Cleanup(cancel)
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	return tab
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// waitJS polls a JavaScript condition until it is true or d passes.
func waitJS(t *testing.T, ctx context.Context, d time.Duration, what, js string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js, chromedp.EvalAwaitPromise))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s (last error: %v)", d, what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func createRoom(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Post(base+"/api/v1/rooms", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var room struct{ ID, URL string }
	if err := json.NewDecoder(resp.Body).Decode(&room); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create room: %d %v", resp.StatusCode, err)
	}
	return room.URL
}

// joinCall opens the call page and joins as name.
func joinCall(t *testing.T, ctx context.Context, url, name string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SetValue(chromedp.ID("name"), name),
		chromedp.Click(chromedp.ID("join")),
	)
	if err != nil {
		t.Fatalf("%s joins: %v", name, err)
	}
}

// remoteVideoJS is true when a remote tile shows video that is being
// decoded.
const remoteVideoJS = `(() => {
  const v = document.querySelector('.tile:not([data-participant="local"]) video');
  return !!v && v.videoWidth > 0;
})()`

const framesDecodedJS = `(async () => {
  let n = 0;
  const pc = window.videosupport && window.videosupport.subscribe;
  if (!pc) return 0;
  (await pc.getStats()).forEach(s => { if (s.type === 'inbound-rtp' && s.kind === 'video') n += s.framesDecoded || 0; });
  return n;
})()`

// TestBrowserCall: two people open the same call link in Chromium with
// fake cameras; each sees the other's video decoding, and when one leaves
// the other's page drops that tile.
func TestBrowserCall(t *testing.T) {
	base, _ := startApp(t)
	url := createRoom(t, base)
	ctx := newBrowser(t, "en")
	a, b := newTab(t, ctx), newTab(t, ctx)

	joinCall(t, a, url, "Agent")
	// The customer joins a call that is already running, as in support:
	// the time from their click to the agent's first frame is what they
	// feel.
	waitJS(t, a, 15*time.Second, "the agent is publishing",
		`!!window.videosupport.publish && window.videosupport.publish.connectionState === 'connected'`)
	joinCall(t, b, url, "Customer")
	for _, p := range []struct {
		name string
		ctx  context.Context
	}{{"Agent", a}, {"Customer", b}} {
		waitJS(t, p.ctx, 15*time.Second, p.name+" sees remote video", remoteVideoJS)
		first := eval[float64](t, p.ctx, framesDecodedJS)
		waitJS(t, p.ctx, 5*time.Second, p.name+"'s framesDecoded rises",
			`(async () => (await `+framesDecodedJS+`) > `+jsNum(first+5)+`)()`)
	}
	ms := eval[float64](t, b, `window.videosupport.firstRemoteFrameAt - window.videosupport.joinedAt`)
	t.Logf("customer: join click to first remote video frame %.0f ms", ms)
	name := eval[string](t, a, `document.querySelector('.tile:not([data-participant="local"])').textContent`)
	if !strings.Contains(name, "Customer") {
		t.Errorf("agent's remote tile is labelled %q, want the customer's name", name)
	}

	if err := chromedp.Do(b, chromedp.Click(chromedp.ID("leave"))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, a, 15*time.Second, "the leaver's tile disappears",
		`document.querySelectorAll('.tile:not([data-participant="local"])').length === 0`)
	waitJS(t, b, 5*time.Second, "the leaver sees the 'you left' view", `!document.getElementById('view-left').hidden`)
}

// TestBrowserArabic: with Chromium in Arabic the call page is right to
// left and its buttons carry the Arabic labels of the catalog.
func TestBrowserArabic(t *testing.T) {
	base, _ := startApp(t)
	url := createRoom(t, base)
	ctx := newBrowser(t, "ar")
	cat := readCatalog(t, "ar")
	joinCall(t, ctx, url, "أمينة")
	waitJS(t, ctx, 10*time.Second, "the call view shows", `!document.getElementById('view-call').hidden`)
	if dir := eval[string](t, ctx, `document.documentElement.dir`); dir != "rtl" {
		t.Errorf(`<html dir=%q>, want "rtl"`, dir)
	}
	if lang := eval[string](t, ctx, `document.documentElement.lang`); lang != "ar" {
		t.Errorf(`<html lang=%q>, want "ar"`, lang)
	}
	for id, key := range map[string]string{"toggle-mic": "controls.mic", "toggle-cam": "controls.cam", "leave": "controls.leave"} {
		got := eval[string](t, ctx, `document.getElementById('`+id+`').getAttribute('aria-label')`)
		if got == "" || got != cat[key] {
			t.Errorf("#%s is labelled %q, want the Arabic %q", id, got, cat[key])
		}
	}
}

func readCatalog(t *testing.T, lang string) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../../web/static/i18n/" + lang + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var flat map[string]string
	if err := json.Unmarshal(b, &flat); err != nil {
		t.Fatalf("catalog %s is not a flat map of strings: %v", lang, err)
	}
	return flat
}

func jsNum(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

// browserCall is a call with the agent and the customer in it, each in
// a browser of their own, the agent's console open on its conversation.
type browserCall struct {
	base, convID, callID string
	console, agent, cust context.Context
	cat                  map[string]string // the browsers' catalog
	lang                 string
}

// enterBrowserCall goes from a chat to a call the way people do: the
// customer (in a browser newCustomer starts) chats, the agent starts video
// from the console, the customer opens the link from the chat, waits, and
// is let in.
func enterBrowserCall(t *testing.T, newCustomer func(*testing.T, string) context.Context) *browserCall {
	t.Helper()
	base, a := startApp(t)
	addStaff(t, a, "amira@example.com", "Amira", "agent")
	lang := shotsLang()
	c := &browserCall{base: base, lang: lang, cat: readCatalog(t, lang)}
	c.console = newBrowser(t, lang)
	signInAgent(t, c.console, base, "amira@example.com")
	c.cust = newCustomer(t, lang)
	first := "Please look at the rash on my arm"
	c.convID = startChat(t, c.cust, base, "Wei Chen", first)
	openSlow(t, c.console, base+"/console#"+c.convID)
	waitJS(t, c.console, slow, "the agent reads the first message", hasMsg("timeline", first))
	c.callID = escalate(t, c.console, c.convID)

	joinURL := customerJoinURL(t, c.cust)
	phone(t, c.cust)
	openJoin(t, c.cust, joinURL)
	act(t, c.cust, "Join video call", chromedp.Click(chromedp.ID("join-call")))
	waitView(t, c.cust, "the customer", "waiting")
	c.agent = staffJoin(t, c.console, base, c.callID, "the agent")
	waitJS(t, c.agent, slow, "the agent sees Wei Chen knocking", `!!document.querySelector('#knock-list .knock-admit')`)
	act(t, c.agent, "admit", chromedp.Click(chromedp.CSS(`#knock-list .knock-admit`)))
	waitView(t, c.cust, "the customer", "call")
	for who, ctx := range map[string]context.Context{"the customer": c.cust, "the agent": c.agent} {
		waitJS(t, ctx, slow, who+" sees remote video", remoteVideosJS+` >= 1`)
	}
	return c
}

// text fills a catalog entry's placeholders as the pages do.
func (c *browserCall) text(key string, vars ...string) string {
	s := c.cat[key]
	for i := 0; i+1 < len(vars); i += 2 {
		s = strings.ReplaceAll(s, "{"+vars[i]+"}", isolate(vars[i+1]))
	}
	return s
}
