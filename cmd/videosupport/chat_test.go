package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// These tests run the chat pages in headless Chromium against the whole
// server: a customer on /chat and an agent on /console, each in a browser
// of their own (separate cookies and storage), as in real life.

// chatStep runs browser steps under a deadline.
func chatStep(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// openChatPage loads a page and waits until it has translated itself.
func openChatPage(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	chatStep(t, ctx, "open "+url, chromedp.Navigate(url))
	waitJS(t, ctx, 10*time.Second, url+" is translated", `document.documentElement.classList.contains('i18n-ready')`)
}

// signInAgent signs in on /login as a person would and waits for the
// console to be live.
func signInAgent(t *testing.T, ctx context.Context, base, email string) {
	t.Helper()
	openChatPage(t, ctx, base+"/login")
	chatStep(t, ctx, "sign in",
		chromedp.SetValue(chromedp.ID("email"), email),
		chromedp.SetValue(chromedp.ID("password"), "a long password 1"),
		chromedp.Click(chromedp.ID("sign-in")),
	)
	waitJS(t, ctx, 10*time.Second, "the console opens after sign-in",
		`location.pathname === '/console' && document.getElementById('me-name')?.textContent.length > 0`)
	waitJS(t, ctx, 5*time.Second, "the console socket is open",
		`document.getElementById('console-conn').dataset.state === undefined && !document.getElementById('availability').disabled`)
}

// msgTexts is the JS for the bodies of the messages on a page, in order.
func msgTexts(list string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('#%s .msg .msg-body')].map(e => e.textContent)`, list)
}

// hasMsg is true once a stored (not pending) message with this body shows.
func hasMsg(list, body string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('#%s .msg:not(.pending) .msg-body')].some(e => e.textContent === %s)`, list, jsStr(body))
}

// TestBrowserChatCustomerAndAgent: a customer starts a chat; the agent sees
// it appear live in the console list and in the record, and answers; the
// customer sees the answer. A message holding HTML and script is shown as
// text on both sides and never runs. After a reload the customer sees the
// whole conversation again, each message exactly once.
func TestBrowserChatCustomerAndAgent(t *testing.T) {
	base, a := startApp(t)
	addStaff(t, a, "amira@example.com", "Amira", "agent")
	en := readCatalog(t, "en")

	agent := newBrowser(t, "en")
	signInAgent(t, agent, base, "amira@example.com")
	// Online, with the console open: new conversations come to Amira.
	chatStep(t, agent, "go online", chromedp.SetValue(chromedp.ID("availability"), "online"))
	eval[bool](t, agent, `document.getElementById('availability').dispatchEvent(new Event('change')), true`)
	waitJS(t, agent, 5*time.Second, "availability is online on the server",
		`fetch('/api/v1/me').then(r => r.json()).then(b => b.staff.availability === 'online')`)

	customer := newBrowser(t, "en")
	openChatPage(t, customer, base+"/chat")
	first := "My card was declined at checkout"
	chatStep(t, customer, "start a chat",
		chromedp.SetValue(chromedp.ID("customer-name"), "Wei Chen"),
		chromedp.SetValue(chromedp.ID("first-message"), first),
		chromedp.Click(chromedp.ID("start-chat")),
	)
	waitJS(t, customer, 10*time.Second, "the customer sees their first message", hasMsg("messages", first))
	joined := strings.ReplaceAll(en["chat.sys.assigned"], "{name}", isolate("Amira"))
	waitJS(t, customer, 10*time.Second, "the customer is told Amira joined",
		fmt.Sprintf(`[...document.querySelectorAll('#messages .sys')].some(e => e.textContent.startsWith(%s))`, jsStr(joined)))

	// The agent's list shows the new conversation, live, under Mine.
	row := `document.querySelector('#conv-list .conv-row')`
	waitJS(t, agent, 10*time.Second, "the conversation appears in the agent's list",
		row+`?.querySelector('.row-name').textContent === 'Wei Chen'`)
	chatStep(t, agent, "open the conversation", chromedp.Click(chromedp.CSS(`#conv-list .conv-row`)))
	waitJS(t, agent, 10*time.Second, "the agent reads the first message in the record", hasMsg("timeline", first))

	second := "Is anyone there?"
	chatStep(t, customer, "customer writes again",
		chromedp.SetValue(chromedp.ID("message-input"), second),
		chromedp.Click(chromedp.ID("send")),
	)
	waitJS(t, agent, 10*time.Second, "the agent sees the new message live", hasMsg("timeline", second))
	waitJS(t, agent, 5*time.Second, "the list preview follows",
		row+`.querySelector('.row-preview').textContent === `+jsStr(second))

	reply := "Hello Wei, I'm Amira. Let me check that for you."
	chatStep(t, agent, "agent replies",
		chromedp.SetValue(chromedp.ID("reply"), reply),
		chromedp.Click(chromedp.ID("send-reply")),
	)
	waitJS(t, customer, 10*time.Second, "the customer sees the reply", hasMsg("messages", reply))
	if who := eval[string](t, customer, `[...document.querySelectorAll('#messages .msg-theirs')].at(-1).querySelector('.msg-author').textContent`); who != "Amira" {
		t.Errorf("the reply is signed %q, want Amira", who)
	}

	// HTML in a message is text: nothing runs, the characters show.
	evil := `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`
	chatStep(t, customer, "customer sends markup",
		chromedp.SetValue(chromedp.ID("message-input"), evil),
		chromedp.SendKeys(chromedp.ID("message-input"), kb.Enter),
	)
	for who, ctx := range map[string]context.Context{"customer": customer, "agent": agent} {
		list := map[string]string{"customer": "messages", "agent": "timeline"}[who]
		waitJS(t, ctx, 10*time.Second, who+" sees the markup as text", hasMsg(list, evil))
		got := eval[string](t, ctx, fmt.Sprintf(`String(window.__pwned) + '|' + document.querySelectorAll('#%s img, #%s script').length`, list, list))
		if got != "undefined|0" {
			t.Errorf("%s: window.__pwned and elements made from the message: %s, want undefined|0", who, got)
		}
		if !eval[bool](t, ctx, fmt.Sprintf(`[...document.querySelectorAll('#%s .msg-body')].some(e => e.textContent.includes('<script>'))`, list)) {
			t.Errorf("%s: no message body contains the literal <script>", who)
		}
	}

	// A reload resumes the same conversation: everything once, in order.
	want := []string{first, second, reply, evil}
	if got := eval[[]string](t, customer, msgTexts("messages")); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("before reload the customer sees %q, want %q", got, want)
	}
	chatStep(t, customer, "reload", chromedp.Reload())
	waitJS(t, customer, 10*time.Second, "the chat is translated again", `document.documentElement.classList.contains('i18n-ready')`)
	waitJS(t, customer, 10*time.Second, "the history is back", hasMsg("messages", evil))
	got := eval[[]string](t, customer, msgTexts("messages"))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("after reload the customer sees %d messages %q, want each of %q once", len(got), got, want)
	}
	if dup := eval[int](t, customer, `(() => { const s = [...document.querySelectorAll('#messages > li[data-seq]')].map(e => e.dataset.seq);
		return s.length - new Set(s).size })()`); dup != 0 {
		t.Errorf("%d timeline positions are shown twice", dup)
	}
	if !eval[bool](t, customer, `document.getElementById('start-form').closest('section').hidden`) {
		t.Error("after reload the customer is asked to start again instead of seeing the conversation")
	}
}

// TestBrowserChatWidget: a page on another site that includes /widget.js
// gets a chat button; it opens a panel with the chat page in a frame, and
// Escape closes it. On a right-to-left page the button sits bottom left.
func TestBrowserChatWidget(t *testing.T) {
	base, _ := startApp(t)
	en := readCatalog(t, "en")
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lang, dir := "en", "ltr"
		if r.URL.Path == "/ar" {
			lang, dir = "ar", "rtl"
		}
		// A strict policy like many shops have: the widget must manage
		// without inline styles or scripts.
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self' "+base+"; frame-src "+base+"; style-src 'self'")
		fmt.Fprintf(w, `<!doctype html><html lang=%q dir=%q><head><title>Shop</title>
<script src="%s/widget.js" defer></script></head><body><h1>Shop</h1></body></html>`, lang, dir, base)
	}))
	t.Cleanup(site.Close)
	// The shop's address is "localhost", the widget's "127.0.0.1": two
	// different sites, as in real use.
	shop := strings.Replace(site.URL, "127.0.0.1", "localhost", 1)

	ctx := newBrowser(t, "en")
	chatStep(t, ctx, "open the shop", chromedp.Navigate(shop+"/"))
	launcher := `document.getElementById('videosupport-widget')?.shadowRoot.querySelector('.launcher')`
	waitJS(t, ctx, 10*time.Second, "the chat button appears", `!!`+launcher)
	if label := eval[string](t, ctx, launcher+`.getAttribute('aria-label')`); label != en["widget.open"] {
		t.Errorf("chat button labelled %q, want %q", label, en["widget.open"])
	}
	if right := eval[bool](t, ctx, launcher+`.getBoundingClientRect().left > innerWidth / 2`); !right {
		t.Error("on a left-to-right page the chat button is not on the right")
	}
	eval[bool](t, ctx, launcher+`.focus(), true`)
	chatStep(t, ctx, "open the chat with the keyboard", chromedp.KeyEvent(kb.Enter))
	frame := `document.getElementById('videosupport-widget').shadowRoot.querySelector('iframe')`
	waitJS(t, ctx, 10*time.Second, "the panel shows the chat page", frame+`?.src === `+jsStr(base+"/chat?embed=1&lang=en"))
	// The chat page says "ready" from inside the frame: framing was
	// allowed (frame-ancestors) and its scripts run.
	waitJS(t, ctx, 10*time.Second, "the chat page runs in the frame",
		`document.getElementById('videosupport-widget').shadowRoot.querySelector('.panel').dataset.ready === 'true'`)
	if exp := eval[string](t, ctx, launcher+`.getAttribute('aria-expanded')`); exp != "true" {
		t.Errorf("open panel: aria-expanded %q", exp)
	}
	chatStep(t, ctx, "Escape closes", chromedp.KeyEvent(kb.Escape))
	waitJS(t, ctx, 5*time.Second, "the panel closes and the button has the focus",
		launcher+`.getAttribute('aria-expanded') === 'false' && document.getElementById('videosupport-widget').shadowRoot.activeElement === `+launcher)

	chatStep(t, ctx, "open the Arabic shop", chromedp.Navigate(shop+"/ar"))
	waitJS(t, ctx, 10*time.Second, "the chat button appears", `!!`+launcher)
	ar := readCatalog(t, "ar")
	if label := eval[string](t, ctx, launcher+`.getAttribute('aria-label')`); label != ar["widget.open"] {
		t.Errorf("on an Arabic page the chat button is labelled %q, want %q", label, ar["widget.open"])
	}
	if left := eval[bool](t, ctx, launcher+`.getBoundingClientRect().right < innerWidth / 2`); !left {
		t.Error("on a right-to-left page the chat button is not on the left")
	}
}
