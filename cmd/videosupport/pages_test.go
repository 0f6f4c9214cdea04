package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
)

// These tests load the pages in headless Chromium against the whole
// server, as main wires it, and check what a person sees: the language,
// the join flow, what the others see when one mutes, leaving and
// rejoining, and the messages people meet when something goes wrong.

// do runs browser steps with a deadline, so a missing element fails the
// test instead of hanging it.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// openPage loads url and waits until the page has picked its language and
// translated itself.
func openPage(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	do(t, ctx, "open "+url, chromedp.Navigate(url))
	waitJS(t, ctx, 10*time.Second, url+" is translated", `document.documentElement.classList.contains('i18n-ready')`)
}

func jsStr(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// isolate wraps a value put into a message the way the pages do (Unicode
// first-strong isolate), so names do not reorder right-to-left text.
func isolate(s string) string { return "\u2068" + s + "\u2069" }

// catalogKey matches text that looks like a catalog key, such as
// error.room_not_found: a person must never see one.
var catalogKey = regexp.MustCompile(`\b(?:app|lang|start|call|controls|left|tile|status|error)\.[a-z0-9_]+`)

// checkLanguage checks that the page is in lang, written in direction dir,
// and that every string the page translates (text, aria-label,
// placeholder, the title) is the one of that catalog.
func checkLanguage(t *testing.T, ctx context.Context, lang, dir string) {
	t.Helper()
	cat := readCatalog(t, lang)
	got := eval[[]string](t, ctx, `[document.documentElement.lang, document.documentElement.dir, document.getElementById('lang').value]`)
	if want := []string{lang, dir, lang}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("<html lang dir> and #lang are %q, want %q", got, want)
	}
	strs := eval[[][]string](t, ctx, `(() => {
		const out = [];
		for (const el of document.querySelectorAll('[data-i18n]:not([data-i18n-args])')) out.push(['text', el.dataset.i18n, el.textContent]);
		for (const el of document.querySelectorAll('[data-i18n-aria-label]')) out.push(['aria-label', el.dataset.i18nAriaLabel, el.getAttribute('aria-label')]);
		for (const el of document.querySelectorAll('[data-i18n-placeholder]')) out.push(['placeholder', el.dataset.i18nPlaceholder, el.getAttribute('placeholder')]);
		return out;
	})()`)
	if len(strs) < 5 {
		t.Fatalf("only %d translated strings on the page: %v", len(strs), strs)
	}
	for _, s := range strs {
		kind, key, text := s[0], s[1], s[2]
		if want, ok := cat[key]; !ok || text != want || text == "" {
			t.Errorf("%s of key %s is %q, want the %s catalog's %q", kind, key, text, lang, want)
		}
	}
	if keys := catalogKey.FindAllString(eval[string](t, ctx, `document.body.innerText`), -1); len(keys) > 0 {
		t.Errorf("the page shows raw catalog keys: %v", keys)
	}
}

// TestPagesLanguage: a browser set to each of our languages gets both
// pages in that language, right to left for Arabic, with every string from
// that language's catalog. Then the person picks another language in the
// switcher: the page translates in place, and the other page, opened next,
// keeps the choice over the browser's language. Between them the cases
// switch into every language, on both pages.
func TestPagesLanguage(t *testing.T) {
	t.Parallel() // pages only, no call: cheap to run beside each other
	base, _ := startApp(t)
	pages := []string{base + "/", createRoom(t, base)}
	tests := []struct{ browserLang, lang, choose string }{
		{"en-US", "en", "zh-Hant"},
		{"zh-CN", "zh-Hans", "ar"},
		{"zh-TW", "zh-Hant", "en"},
		{"ar", "ar", "zh-Hans"},
	}
	for i, tt := range tests {
		t.Run(tt.browserLang, func(t *testing.T) {
			t.Parallel()
			ctx := newBrowser(t, tt.browserLang)
			for _, url := range pages {
				openPage(t, ctx, url)
				checkLanguage(t, ctx, tt.lang, dirOf(tt.lang))
			}

			here, there := pages[i%2], pages[(i+1)%2]
			openPage(t, ctx, here)
			do(t, ctx, "choose "+tt.choose, chromedp.SetValue(chromedp.ID("lang"), tt.choose))
			eval[bool](t, ctx, `document.getElementById('lang').dispatchEvent(new Event('change', {bubbles: true}))`)
			waitJS(t, ctx, 5*time.Second, "the page switches to "+tt.choose, `document.documentElement.lang === `+jsStr(tt.choose))
			checkLanguage(t, ctx, tt.choose, dirOf(tt.choose))
			openPage(t, ctx, there)
			checkLanguage(t, ctx, tt.choose, dirOf(tt.choose))

			// The mapping from a browser's preferences to a catalog, for
			// more tags than it is worth starting a browser for. It must not
			// depend on the browser's own language.
			picks := eval[string](t, ctx, `(async () => {
				const m = await import('/static/i18n.js');
				return [['zh-CN'], ['zh-SG'], ['zh-Hans'], ['zh-TW'], ['zh-HK'], ['zh-MO'], ['zh-Hant-TW'],
				        ['ar-EG'], ['ar'], ['fr-FR', 'ar-MA'], ['fr'], ['en-GB'], []].map(l => m.pickLanguage(l)).join(' ') })()`)
			if want := "zh-Hans zh-Hans zh-Hans zh-Hant zh-Hant zh-Hant zh-Hant ar ar ar en en en"; picks != want {
				t.Errorf("pickLanguage: got %q, want %q", picks, want)
			}
		})
	}
}

func dirOf(lang string) string {
	if lang == "ar" {
		return "rtl"
	}
	return "ltr"
}

// tileJS describes the tile of the participant named name, as seen on a
// page: its name, whether it shows the initial instead of video, whether
// the camera-off and muted-microphone badges show, and the initial.
func tileJS(name string) string {
	return `(() => {
		const t = [...document.querySelectorAll('.tile:not([data-participant="local"])')]
			.find(t => t.querySelector('.tile-name').textContent === ` + jsStr(name) + `);
		if (!t) return 'no tile';
		return [t.classList.contains('cam-off') ? 'cam-off' : 'video',
			t.querySelector('.badge-cam').hidden ? '-' : 'badge-cam',
			t.querySelector('.badge-mic').hidden ? '-' : 'badge-mic',
			t.querySelector('.avatar-initial').textContent].join(' ');
	})()`
}

// waitTile polls until who's page shows name's tile as want (see tileJS).
func waitTile(t *testing.T, ctx context.Context, who, name, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](tileJS(name)))
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s sees %s's tile as %q, want %q (error: %v)", who, name, got, want, err)
		}
		time.Sleep(50 * time.Millisecond) // the polling interval, as in waitJS
	}
}

// status is the text of the page's notice region.
const statusJS = `document.getElementById('status').textContent`

// TestPagesCall follows an agent and a customer: the agent starts a call
// on the start page and joins it through the link; the customer opens the
// same link. Muting shows on the other person's page (the server relays
// it), leaving shows the "you left" view and the others see the person
// go, and Rejoin brings them back.
func TestPagesCall(t *testing.T) {
	base, _ := startApp(t)
	agent := newBrowser(t, "en")
	customer := newTab(t, agent)
	en := readCatalog(t, "en")

	openPage(t, agent, base+"/")
	do(t, agent, "start a call", chromedp.Click(chromedp.ID("start")))
	waitJS(t, agent, 10*time.Second, "the call link shows",
		`!document.getElementById('ready').hidden && document.getElementById('link').value !== ''`)
	link := eval[string](t, agent, `document.getElementById('link').value`)
	id := path.Base(link)
	if _, err := uuid.Parse(id); err != nil || link != base+"/call/"+id {
		t.Fatalf("the start page offers %q, want %s/call/<room id>", link, base)
	}
	if href := eval[string](t, agent, `document.getElementById('join-link').href`); href != link {
		t.Errorf("#join-link goes to %q, want %q", href, link)
	}
	do(t, agent, "follow the join link", chromedp.Click(chromedp.ID("join-link")))
	waitJS(t, agent, 10*time.Second, "the call page opens",
		`location.href === `+jsStr(link)+` && document.documentElement.classList.contains('i18n-ready')`)

	// Join without a name: the form asks for one and stays.
	eval[bool](t, agent, `(document.getElementById('name').value = '') === ''`)
	do(t, agent, "join without a name", chromedp.Click(chromedp.ID("join")))
	waitJS(t, agent, 5*time.Second, "the name is asked for",
		`!document.getElementById('name-error').hidden && document.getElementById('name').getAttribute('aria-invalid') === 'true'`)
	if eval[bool](t, agent, `document.getElementById('view-prejoin').hidden`) {
		t.Error("the join form went away without a name")
	}

	do(t, agent, "agent joins", chromedp.SetValue(chromedp.ID("name"), "Agent"), chromedp.Click(chromedp.ID("join")))
	waitJS(t, agent, 15*time.Second, "the agent is in the call with their camera on their tile",
		`!document.getElementById('view-call').hidden &&
		 document.querySelector('.tile[data-participant="local"] video')?.videoWidth > 0`)
	if got := eval[string](t, agent, `document.querySelector('.tile[data-participant="local"] .tile-name').textContent`); got != strings.ReplaceAll(en["tile.you"], "{name}", isolate("Agent")) {
		t.Errorf("the agent's own tile is labelled %q", got)
	}
	if eval[bool](t, agent, `document.getElementById('waiting').hidden`) {
		t.Error("alone in the call, the agent is not told that the others will appear")
	}

	// The agent turns microphone and camera off before the customer comes:
	// the customer must see that from the start.
	do(t, agent, "agent mutes", chromedp.Click(chromedp.ID("toggle-mic")), chromedp.Click(chromedp.ID("toggle-cam")))
	pressed := eval[[]string](t, agent, `['toggle-mic', 'toggle-cam'].map(id => document.getElementById(id).getAttribute('aria-pressed'))`)
	if strings.Join(pressed, " ") != "false false" {
		t.Errorf("after muting, the mic and camera buttons are aria-pressed %q, want false", pressed)
	}
	if own := eval[string](t, agent, `(() => { const t = document.querySelector('.tile[data-participant="local"]');
		return [t.querySelector('.badge-cam').hidden, t.querySelector('.badge-mic').hidden].join(' ') })()`); own != "false false" {
		t.Errorf("the agent's own tile hides the muted badges (hidden cam, mic: %s)", own)
	}

	joinCall(t, customer, link, "Customer")
	// Checked first: the message goes away after a few seconds.
	waitJS(t, agent, 10*time.Second, "the agent is told the customer joined",
		statusJS+` === `+jsStr(strings.ReplaceAll(en["status.participant_joined"], "{name}", isolate("Customer"))))
	waitJS(t, customer, 15*time.Second, "the customer is in the call", `!document.getElementById('view-call').hidden`)
	waitTile(t, customer, "the customer", "Agent", "cam-off badge-cam badge-mic A")
	waitJS(t, customer, 5*time.Second, "the customer is not told they are alone", `document.getElementById('waiting').hidden`)
	waitTile(t, agent, "the agent", "Customer", "video - - C")

	// Muting travels through the server to the other page, both ways.
	do(t, customer, "customer turns the camera off", chromedp.Click(chromedp.ID("toggle-cam")))
	waitTile(t, agent, "the agent", "Customer", "cam-off badge-cam - C")
	do(t, customer, "customer mutes the microphone", chromedp.Click(chromedp.ID("toggle-mic")))
	waitTile(t, agent, "the agent", "Customer", "cam-off badge-cam badge-mic C")
	do(t, customer, "customer turns camera and microphone on again",
		chromedp.Click(chromedp.ID("toggle-cam")), chromedp.Click(chromedp.ID("toggle-mic")))
	waitTile(t, agent, "the agent", "Customer", "video - - C")
	do(t, agent, "agent unmutes", chromedp.Click(chromedp.ID("toggle-mic")), chromedp.Click(chromedp.ID("toggle-cam")))
	waitTile(t, customer, "the customer", "Agent", "video - - A")

	do(t, customer, "customer leaves", chromedp.Click(chromedp.ID("leave")))
	waitJS(t, customer, 5*time.Second, "the customer sees the 'you left' view",
		`!document.getElementById('view-left').hidden && document.getElementById('view-call').hidden`)
	waitJS(t, agent, 10*time.Second, "the agent sees the customer go",
		`document.querySelectorAll('.tile:not([data-participant="local"])').length === 0 &&
		 !document.getElementById('waiting').hidden && `+statusJS+` === `+
			jsStr(strings.ReplaceAll(en["status.participant_left"], "{name}", isolate("Customer"))))

	do(t, customer, "customer rejoins", chromedp.Click(chromedp.ID("rejoin")))
	waitJS(t, customer, 15*time.Second, "the customer is back in the call, with the agent",
		`!document.getElementById('view-call').hidden && `+tileJS("Agent")+` !== 'no tile'`)
	waitJS(t, agent, 10*time.Second, "the agent sees the customer back", tileJS("Customer")+` !== 'no tile'`)
}

// alertJS is true once the page shows an error in its alert region.
const alertJS = `document.querySelector('#status[role="alert"]')?.textContent.length > 0`

// checkAlert waits for the page's alert and checks its words, whether
// "Try again" is offered, and that no error code shows anywhere.
func checkAlert(t *testing.T, ctx context.Context, key string, retry bool) {
	t.Helper()
	en := readCatalog(t, "en")
	waitJS(t, ctx, 20*time.Second, "an alert shows", alertJS)
	if got := eval[string](t, ctx, statusJS); got != en[key] {
		t.Errorf("the alert says %q, want %s: %q", got, key, en[key])
	}
	shown := eval[bool](t, ctx, `!!document.getElementById('retry') && !document.getElementById('retry').hidden`)
	if shown != retry {
		t.Errorf("Try again shown: %v, want %v", shown, retry)
	}
	if retry {
		if got := eval[string](t, ctx, `document.getElementById('retry').textContent`); got != en["call.try_again"] {
			t.Errorf("the retry button says %q", got)
		}
	}
	text := eval[string](t, ctx, `document.title + '\n' + document.body.innerText`)
	code := strings.TrimPrefix(key, "error.")
	if strings.Contains(text, code) || catalogKey.MatchString(text) {
		t.Errorf("the page shows an error code or key:\n%s", text)
	}
}

// setMediaPermission answers the browser's question "may this origin use
// the camera and the microphone?" for the profile id ("" is the default
// one) and origin ("" is every origin), as a person would in the prompt.
func setMediaPermission(t *testing.T, ctx context.Context, id cdp.BrowserContextID, origin string, setting browser.PermissionSetting) {
	t.Helper()
	for _, p := range []string{"camera", "microphone"} {
		_, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission:       &browser.PermissionDescriptor{Name: p},
			Setting:          setting,
			Origin:           origin,
			BrowserContextID: id,
		})
		if err != nil {
			t.Fatalf("set %s permission to %s: %v", p, setting, err)
		}
	}
}

// TestPagesErrors produces, for real, the failures a person can meet and
// checks the message each one shows. The cases share one browser, each in
// its own tab, and run side by side: most of their time is waiting.
func TestPagesErrors(t *testing.T) {
	base, a := startApp(t)
	// Without the fake prompt, which would allow the camera whatever the
	// permission says: here the browser's permission decides, and it is
	// allowed unless a test refuses it.
	bctx := newBrowser(t, "en", chromedp.Flag("use-fake-ui-for-media-stream", false))
	setMediaPermission(t, bctx, "", "", browser.PermissionSettingGranted)

	t.Run("room not found", func(t *testing.T) {
		t.Parallel()
		ctx := newTab(t, bctx)
		joinCall(t, ctx, base+"/call/"+uuid.NewString(), "Amira")
		checkAlert(t, ctx, "error.room_not_found", false)
		if text := eval[string](t, ctx, `document.body.innerText`); strings.Contains(text, "no such room") {
			t.Errorf("the page shows the server's log message:\n%s", text)
		}
		if focus := eval[string](t, ctx, `document.activeElement.id`); focus != "status" {
			t.Errorf("focus is on #%s, want the message", focus)
		}
	})

	t.Run("camera and microphone denied", func(t *testing.T) {
		t.Parallel()
		// Its own profile, so the refusal does not reach the other tabs.
		ctx := newTab(t, bctx, chromedp.WithNewBrowserContext())
		setMediaPermission(t, ctx, chromedp.FromContext(ctx).BrowserContextID, base, browser.PermissionSettingDenied)
		joinCall(t, ctx, createRoom(t, base), "Amira")
		checkAlert(t, ctx, "error.permission_denied", true)
		if focus := eval[string](t, ctx, `document.activeElement.id`); focus != "retry" {
			t.Errorf("focus is on #%s, want Try again", focus)
		}
	})

	t.Run("server unreachable", func(t *testing.T) {
		t.Parallel()
		// The pages come from a second listener of the same server, which
		// then stops, as when the network or the server goes away.
		front := httptest.NewServer(a.handler)
		addr := front.Listener.Addr().String()
		call := front.URL + "/call/" + path.Base(createRoom(t, base))
		callTab, startTab := newTab(t, bctx), newTab(t, bctx)
		openPage(t, callTab, call)
		openPage(t, startTab, front.URL+"/")
		front.Close()

		do(t, callTab, "join", chromedp.SetValue(chromedp.ID("name"), "Amira"), chromedp.Click(chromedp.ID("join")))
		checkAlert(t, callTab, "error.server_unreachable", true)
		do(t, startTab, "start a call", chromedp.Click(chromedp.ID("start")))
		checkAlert(t, startTab, "error.server_unreachable", false)

		// The server is back on the same address: Try again works.
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listen again on %s: %v", addr, err)
		}
		back := &httptest.Server{Listener: ln, Config: &http.Server{Handler: a.handler}}
		back.Start()
		t.Cleanup(back.Close)
		do(t, callTab, "try again", chromedp.Click(chromedp.ID("retry")))
		waitJS(t, callTab, 15*time.Second, "Try again joins the call",
			`!document.getElementById('view-call').hidden && document.getElementById('retry').hidden`)
	})

	t.Run("server shuts down during a call", func(t *testing.T) {
		t.Parallel()
		base, a := startApp(t)
		ctx := newTab(t, bctx)
		joinCall(t, ctx, createRoom(t, base), "Amira")
		waitJS(t, ctx, 15*time.Second, "in the call", `!document.getElementById('view-call').hidden`)
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.shutdown(sctx); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
		checkAlert(t, ctx, "error.bye", true)
	})
}
