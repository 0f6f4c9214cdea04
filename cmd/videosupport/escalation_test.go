package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// These tests follow a chat that becomes a video call, in headless
// Chromium with fake cameras, each person in a browser of their own
// (their own cookies): the customer on /chat and then /join/<call>, an
// agent and a specialist on /console and /join/<call>.
//
// With VS_SHOTS=<dir> they also save phone-sized screenshots of the join
// page's views there, for people to look at.

// slow is how long a step may take. The machines that run these tests are
// shared and at times very busy: three browsers sending video to each
// other on two cores can take seconds for what takes milliseconds alone.
const slow = 45 * time.Second

// act runs browser steps under the deadline slow.
func act(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, slow)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// openSlow loads url and waits until the page has translated itself.
func openSlow(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	act(t, ctx, "open "+url, chromedp.Navigate(url))
	waitJS(t, ctx, slow, url+" is translated", `document.documentElement.classList.contains('i18n-ready')`)
}

// rawCode matches what a person must never see on the join page: a
// server error code or a catalog key.
var rawCode = regexp.MustCompile(`\blink_[a-z_]+\b|\b(?:join|wait|incall|error)\.[a-z0-9_]+`)

// joinView is the JS for the join page's current view.
const joinView = `window.videosupport && window.videosupport.view`

// remoteVideosJS counts the remote tiles whose video shows frames.
const remoteVideosJS = `[...document.querySelectorAll('.tile:not([data-participant="local"]) video')].filter(v => v.videoWidth > 0).length`

// goOnline sets a signed-in staff member's availability to online, as
// they would in the console's menu.
func goOnline(t *testing.T, ctx context.Context) {
	t.Helper()
	act(t, ctx, "go online", chromedp.SetValue(chromedp.ID("availability"), "online"))
	eval[bool](t, ctx, `document.getElementById('availability').dispatchEvent(new Event('change')), true`)
	waitJS(t, ctx, slow, "availability is online on the server",
		`fetch('/api/v1/me').then(r => r.json()).then(b => b.staff.availability === 'online')`)
}

// staffFetch runs a REST call from a signed-in staff member's page, with
// the CSRF token the pages send, and returns the response's JSON.
func staffFetch(method, path, body string) string {
	return fmt.Sprintf(`(async () => {
		const me = await (await fetch('/api/v1/me')).json();
		const r = await fetch(%s, {method: %s, headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrfToken}, body: %s});
		return JSON.stringify({status: r.status, body: await r.json().catch(() => null)});
	})()`, jsStr(path), jsStr(method), body)
}

// framesRise waits until the page's subscribe connection has decoded n
// more video frames than now.
func framesRise(t *testing.T, ctx context.Context, who string, n float64) {
	t.Helper()
	first := eval[float64](t, ctx, framesDecodedJS)
	waitJS(t, ctx, slow, who+"'s framesDecoded rises",
		`(async () => (await `+framesDecodedJS+`) > `+jsNum(first+n)+`)()`)
}

// shoot saves a phone-sized screenshot of the page when VS_SHOTS is set.
func shoot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("VS_SHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
	}
}

// shotsLang is the language of the browsers: English, or VS_SHOTS_LANG
// when set, to see (and check) the pages in another language.
func shotsLang() string {
	if l := os.Getenv("VS_SHOTS_LANG"); l != "" {
		return l
	}
	return "en"
}

// phone makes the tab the size of a phone (390 x 844) when screenshots
// are being taken; otherwise the tab keeps the browser's size.
func phone(t *testing.T, ctx context.Context) {
	t.Helper()
	if os.Getenv("VS_SHOTS") == "" {
		return
	}
	do(t, ctx, "phone size", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
}

// startChat opens /chat in the customer's browser and writes a first
// message; it returns the conversation's id.
func startChat(t *testing.T, customer context.Context, base, name, first string) string {
	t.Helper()
	openSlow(t, customer, base+"/chat")
	act(t, customer, "start a chat",
		chromedp.SetValue(chromedp.ID("customer-name"), name),
		chromedp.SetValue(chromedp.ID("first-message"), first),
		chromedp.Click(chromedp.ID("start-chat")),
	)
	waitJS(t, customer, slow, "the customer sees their first message", hasMsg("messages", first))
	return eval[string](t, customer, `window.videosupportChat.state.id`)
}

// escalate starts the video call of the conversation open in the agent's
// console: with "Start video" when the console has it, else through the
// REST API from the agent's page. It returns the call's id.
func escalate(t *testing.T, agent context.Context, convID string) string {
	t.Helper()
	if eval[bool](t, agent, `!!document.getElementById('start-video') && !document.getElementById('start-video').hidden`) {
		t.Log("the agent starts the call with the console's Start video")
		act(t, agent, "Start video", chromedp.Click(chromedp.ID("start-video")))
	} else {
		t.Log("the console has no Start video yet; starting the call through the API")
		res := eval[string](t, agent, staffFetch("POST", "/api/v1/conversations/"+convID+"/calls", `'{}'`))
		if !strings.Contains(res, `"status":201`) {
			t.Fatalf("start the call: %s", res)
		}
	}
	var callID string
	waitJS(t, agent, slow, "the call is in the record", fmt.Sprintf(`(async () => {
		const r = await (await fetch('/api/v1/conversations/%s/timeline')).json();
		return (r.events || []).some(e => e.type === 'call.started');
	})()`, convID))
	callID = eval[string](t, agent, fmt.Sprintf(`(async () => {
		const r = await (await fetch('/api/v1/conversations/%s/timeline')).json();
		return r.events.filter(e => e.type === 'call.started').at(-1).data.callId;
	})()`, convID))
	return callID
}

// customerJoinURL is the join link the customer's chat shows: its "Join
// video call" link when the chat page has one, else the call.started
// event's joinUrl read from the customer's own timeline.
func customerJoinURL(t *testing.T, customer context.Context) string {
	t.Helper()
	link := `[...document.querySelectorAll('a[href*="/join/"]')].at(-1)`
	deadline := time.Now().Add(slow)
	for time.Now().Before(deadline) {
		if eval[bool](t, customer, `!!`+link) {
			t.Log("the customer follows the chat's Join video call link")
			return eval[string](t, customer, link+`.href`)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Log("the chat page shows no join link; reading joinUrl from the timeline")
	return eval[string](t, customer, `(async () => {
		const s = window.videosupportChat.state;
		const r = await (await fetch('/api/v1/conversations/' + s.id + '/timeline', {headers: {Authorization: 'Bearer ' + s.token}})).json();
		return r.events.filter(e => e.type === 'call.started').at(-1).data.joinUrl;
	})()`)
}

// timelineTypes is the JS for the event types of a conversation's
// record, read by a staff member's page.
func timelineTypes(convID string) string {
	return fmt.Sprintf(`(async () => {
		const r = await (await fetch('/api/v1/conversations/%s/timeline')).json();
		return (r.events || []).map(e => e.type);
	})()`, convID)
}

// staffJoin opens the call's join page in a new tab of a staff member's
// browser, as the console's "Join call" does, and joins.
func staffJoin(t *testing.T, browser context.Context, base, callID, who string) context.Context {
	t.Helper()
	url := base + "/join/" + callID
	const consoleJoin = `document.querySelector('#callbar:not([hidden]) #join-call')`
	if eval[bool](t, browser, `!!`+consoleJoin) {
		waitJS(t, browser, slow, "the console's Join call leads to the call",
			consoleJoin+`.href === `+jsStr(url))
	}
	tab := newTab(t, browser)
	phone(t, tab)
	openJoin(t, tab, url)
	act(t, tab, who+" joins", chromedp.Click(chromedp.ID("join-call")))
	waitView(t, tab, who, "call")
	return tab
}

// openJoin opens a join page and waits until it has looked up what it
// shows, so a click lands where the button is.
func openJoin(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	// From a blank page, so that a link differing only in its fragment
	// loads afresh.
	act(t, ctx, "leave the page", chromedp.Navigate("about:blank"))
	openSlow(t, ctx, url)
	waitJS(t, ctx, slow, "the join page is ready", `window.videosupport.ready`)
}

// waitView waits until the join page shows view, and says what it shows
// instead if it does not.
func waitView(t *testing.T, ctx context.Context, who, view string) {
	t.Helper()
	deadline := time.Now().Add(slow)
	for {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](joinView))
		if err == nil && got == view {
			return
		}
		if time.Now().After(deadline) {
			page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("%s: the join page shows view %q, want %q (error: %v); the page reads:\n%s", who, got, view, err, page)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBrowserEscalation is the story of the product: a customer chats,
// the agent turns the chat into a video call, the customer opens the
// link from the chat, checks camera, microphone and connection in the
// waiting room, and is let in; the agent invites a specialist who reads
// the whole conversation before joining; the agent leaves and the
// customer and the specialist go on, the conversation now theirs.
func TestBrowserEscalation(t *testing.T) {
	base, a := startApp(t)
	addStaff(t, a, "amira@example.com", "Amira", "agent")
	addStaff(t, a, "chen@example.com", "Dr Chen", "specialist")
	lang := shotsLang()
	en := readCatalog(t, lang)

	agent := newBrowser(t, lang)
	signInAgent(t, agent, base, "amira@example.com")
	goOnline(t, agent)
	specialist := newBrowser(t, lang)
	signInAgent(t, specialist, base, "chen@example.com")
	goOnline(t, specialist)
	customer := newBrowser(t, lang)

	first := "My card was declined at checkout"
	convID := startChat(t, customer, base, "Wei Chen", first)
	waitJS(t, agent, slow, "the conversation appears in the agent's list",
		`[...document.querySelectorAll('#conv-list .conv-row .row-name')].some(e => e.textContent === 'Wei Chen')`)
	act(t, agent, "open the conversation", chromedp.Click(chromedp.CSS(`#conv-list .conv-row`)))
	waitJS(t, agent, slow, "the agent reads the first message", hasMsg("timeline", first))

	callID := escalate(t, agent, convID)
	joinURL := customerJoinURL(t, customer)
	if !strings.HasPrefix(joinURL, base+"/join/"+callID+"#") || strings.Contains(joinURL, "?") {
		t.Fatalf("the customer's link is %q, want %s/join/%s#<secret> with nothing in a query", joinURL, base, callID)
	}

	// Opening the link shows the landing page and does nothing else: a
	// link previewer that opens it spends nothing.
	phone(t, customer)
	openJoin(t, customer, joinURL)
	if got := eval[string](t, customer, `document.getElementById('landing-heading').textContent`); got != en["join.heading"] {
		t.Errorf("the landing page says %q, want %q", got, en["join.heading"])
	}
	shoot(t, customer, lang+"-landing")
	if types := eval[[]string](t, agent, timelineTypes(convID)); strings.Contains(strings.Join(types, " "), "call.link_opened") {
		t.Fatalf("opening the page recorded something before any click: %v", types)
	}

	act(t, customer, "Join video call", chromedp.Click(chromedp.ID("join-call")))
	waitJS(t, customer, slow, "the customer is in the waiting room", joinView+` === 'waiting'`)
	if h := eval[string](t, customer, `location.hash`); h != "" {
		t.Errorf("after joining, the address still holds the secret: %q", h)
	}
	waitJS(t, customer, slow, "the preview plays the customer's camera",
		`document.getElementById('preview').videoWidth > 0`)
	waitJS(t, customer, slow, "the level meter moves", `document.getElementById('mic-level').value > 0`)
	waitJS(t, customer, slow, "the network check says good",
		`document.getElementById('net-result').dataset.state === 'good'`)
	want := strings.ReplaceAll(en["wait.waiting_for"], "{name}", isolate("Amira"))
	waitJS(t, customer, slow, "the customer is told whom they wait for",
		`document.getElementById('wait-status').textContent === `+jsStr(want))
	if n := eval[int](t, customer, `document.getElementById('camera-select').options.length`); n < 1 {
		t.Error("the camera picker lists no camera")
	}
	checks := eval[map[string]any](t, customer, `window.videosupport.checks`)
	t.Logf("customer's network check: %v", checks)
	shoot(t, customer, lang+"-waiting")

	// The agent joins from the console (its "Join call" opens a new tab)
	// and sees the customer knocking.
	agentCall := staffJoin(t, agent, base, callID, "the agent")
	waitJS(t, agentCall, slow, "the agent sees Wei Chen knocking",
		`[...document.querySelectorAll('#knock-list .knock-name')].some(e => e.textContent === 'Wei Chen')`)
	label := eval[string](t, agentCall, `document.querySelector('#knock-list .knock-admit').getAttribute('aria-label')`)
	if want := strings.ReplaceAll(en["incall.admit_label"], "{name}", isolate("Wei Chen")); label != want {
		t.Errorf("the Admit button is labelled %q, want %q", label, want)
	}
	shoot(t, agentCall, lang+"-staff-knock")
	act(t, agentCall, "admit", chromedp.Click(chromedp.CSS(`#knock-list .knock-admit`)))

	for who, ctx := range map[string]context.Context{"the customer": customer, "the agent": agentCall} {
		waitJS(t, ctx, slow, who+" sees remote video", remoteVideosJS+` >= 1`)
		framesRise(t, ctx, who, 5)
	}
	waitJS(t, customer, slow, "the first remote frame is timed", `window.videosupport.firstRemoteFrameAt !== null`)
	fromClick := eval[float64](t, customer, `window.videosupport.firstRemoteFrameAt - window.videosupport.clickedAt`)
	fromAdmit := eval[float64](t, customer, `window.videosupport.firstRemoteFrameAt - window.videosupport.admittedAt`)
	t.Logf("customer: click on Join to first remote frame %.0f ms, of which admission to first remote frame %.0f ms", fromClick, fromAdmit)
	t.Logf("customer's steps (performance.now() ms): %v", eval[map[string]float64](t, customer, `window.videosupport.marks`))
	if !eval[bool](t, agentCall, `document.getElementById('knocking').hidden`) {
		t.Error("the admitted customer is still listed as knocking")
	}
	shoot(t, customer, lang+"-customer-call")

	// The agent invites the specialist with a hand-over note.
	note := "Card declined twice; bank says the card is fine. Please check the 3-D Secure step."
	act(t, agentCall, "open Invite", chromedp.Click(chromedp.ID("invite")))
	waitJS(t, agentCall, slow, "the colleagues are listed",
		`[...document.querySelectorAll('#staff-list .colleague-name')].some(e => e.textContent === 'Dr Chen')`)
	if eval[bool](t, agentCall, `[...document.querySelectorAll('#staff-list .colleague-name')].some(e => e.textContent === 'Amira')`) {
		t.Error("the agent is offered to invite themselves")
	}
	if !eval[bool](t, agentCall, `!document.querySelector('#staff-list li[data-role="specialist"] .chip-specialist').hidden`) {
		t.Error("the specialist is not marked as one")
	}
	shoot(t, agentCall, lang+"-staff-invite")
	eval[bool](t, agentCall, `(() => { const li = [...document.querySelectorAll('#staff-list li')].find(l => l.textContent.includes('Dr Chen'));
		li.querySelector('input').click(); return true })()`)
	act(t, agentCall, "write the note and send",
		chromedp.SetValue(chromedp.ID("handover-note"), note),
		chromedp.Click(chromedp.ID("invite-send")))
	sent := strings.ReplaceAll(en["incall.invite_sent"], "{name}", isolate("Dr Chen"))
	waitJS(t, agentCall, slow, "the agent is told the invitation went", statusJS+` === `+jsStr(sent))

	// The specialist is told in the console, opens the conversation and
	// reads the whole story before joining.
	invite := `document.querySelector('#invites .invite[data-id=` + jsStr(convID) + `] .invite-open')`
	if eval[bool](t, specialist, `!!document.getElementById('invites')`) {
		waitJS(t, specialist, slow, "the specialist's console shows the invitation", `!!`+invite)
		eval[bool](t, specialist, invite+`.click(), true`)
	} else {
		t.Log("the console has no invitation banner yet; opening the conversation by its address")
		openSlow(t, specialist, base+"/console#"+convID)
	}
	waitJS(t, specialist, slow, "the specialist reads the customer's first message", hasMsg("timeline", first))
	waitJS(t, specialist, slow, "the specialist reads the hand-over note",
		`document.getElementById('timeline').textContent.includes(`+jsStr(note)+`)`)
	specialistCall := staffJoin(t, specialist, base, callID, "the specialist")

	for who, ctx := range map[string]context.Context{"the customer": customer, "the agent": agentCall, "the specialist": specialistCall} {
		waitJS(t, ctx, slow, who+" sees both others' video", remoteVideosJS+` >= 2`)
		framesRise(t, ctx, who, 5)
	}
	shoot(t, specialistCall, lang+"-specialist-call")

	// The agent leaves: a warm transfer. The call goes on for the other
	// two, and the conversation is now the specialist's.
	act(t, agentCall, "the agent leaves", chromedp.Click(chromedp.ID("leave")))
	waitJS(t, agentCall, slow, "the agent sees that they left", joinView+` === 'ended'`)
	for who, ctx := range map[string]context.Context{"the customer": customer, "the specialist": specialistCall} {
		waitJS(t, ctx, slow, who+" sees the agent go", `document.querySelectorAll('.tile:not([data-participant="local"])').length === 1`)
		framesRise(t, ctx, who, 10)
		if v := eval[string](t, ctx, joinView); v != "call" {
			t.Errorf("%s is on view %q after the agent left, want the call", who, v)
		}
	}
	chenID := eval[string](t, specialist, `fetch('/api/v1/me').then(r => r.json()).then(b => b.staff.id)`)
	waitJS(t, specialist, slow, "the conversation is assigned to the specialist",
		fmt.Sprintf(`fetch('/api/v1/conversations/%s').then(r => r.json()).then(c => (c.conversation || c).assignedTo === %s)`, convID, jsStr(chenID)))
	types := strings.Join(eval[[]string](t, specialist, timelineTypes(convID)), " ")
	for _, e := range []string{"call.started", "call.link_opened", "call.knocked", "call.admitted", "call.invited", "call.transferred"} {
		if !strings.Contains(types, e) {
			t.Errorf("the record lacks %s: %s", e, types)
		}
	}

	// The specialist ends the call for everyone; both are told.
	act(t, specialistCall, "End for all", chromedp.Click(chromedp.ID("end-call")))
	act(t, specialistCall, "confirm", chromedp.Click(chromedp.ID("end-confirm")))
	for who, ctx := range map[string]context.Context{"the customer": customer, "the specialist": specialistCall} {
		waitJS(t, ctx, slow, who+" sees that the call ended",
			joinView+` === 'ended' && document.getElementById('ended-heading').textContent === `+jsStr(en["incall.ended_heading"]))
	}
	shoot(t, customer, lang+"-ended")
}

// TestBrowserJoinLinkPages: every way a join link can fail shows a page
// saying what happened and what to do, never a code, and no media
// connection is ever made. A customer who waits too long can leave a
// message; one who is declined is told so.
func TestBrowserJoinLinkPages(t *testing.T) {
	base, a, _ := startAppIn(t, t.TempDir(), "-wait-limit", "2s")
	addStaff(t, a, "amira@example.com", "Amira", "agent")
	lang := shotsLang()
	cat := readCatalog(t, lang)

	agent := newBrowser(t, lang)
	signInAgent(t, agent, base, "amira@example.com")
	customer := newBrowser(t, lang)
	phone(t, customer)

	// A call to join, started from the API by the agent's page.
	convID := startChat(t, customer, base, "Wei Chen", "Hello")
	start := func() (callID, link string) {
		res := eval[map[string]any](t, agent, `(async () => JSON.parse(await `+staffFetch("POST", "/api/v1/conversations/"+convID+"/calls", `'{}'`)+`))()`)
		body, _ := res["body"].(map[string]any)
		call, _ := body["call"].(map[string]any)
		cl, _ := body["customerLink"].(map[string]any)
		if call == nil || cl == nil {
			t.Fatalf("start a call: %v", res)
		}
		return call["id"].(string), cl["url"].(string)
	}
	callID, link := start()
	secret := link[strings.Index(link, "#")+1:]

	// checkProblem opens url, presses Join (when click) and checks the
	// page shown.
	checkProblem := func(name, url, heading string, click bool) {
		t.Helper()
		openJoin(t, customer, url)
		if click {
			act(t, customer, "Join on "+name, chromedp.Click(chromedp.ID("join-call")))
		}
		waitJS(t, customer, slow, name+": the problem page shows", joinView+` === 'problem'`)
		if got := eval[string](t, customer, `document.getElementById('problem-heading').textContent`); got != cat[heading] {
			t.Errorf("%s: the page says %q, want %s %q", name, got, heading, cat[heading])
		}
		text := eval[string](t, customer, `document.title + '\n' + document.body.innerText`)
		if rawCode.MatchString(text) {
			t.Errorf("%s: the page shows a code or key:\n%s", name, text)
		}
		if focus := eval[string](t, customer, `document.activeElement.id`); focus != "problem-heading" {
			t.Errorf("%s: the focus is on #%s, want the heading", name, focus)
		}
		if eval[bool](t, customer, `!!window.videosupport.publish`) {
			t.Errorf("%s: a media connection was made", name)
		}
		shoot(t, customer, lang+"-problem-"+name)
	}

	// The last character of the signature changed.
	last := secret[len(secret)-1:]
	other := "A"
	if last == "A" {
		other = "B"
	}
	checkProblem("tampered", base+"/join/"+callID+"#"+secret[:len(secret)-1]+other, "join.tampered_heading", true)
	// Without the secret and without a staff session there is nothing
	// to press: the page says so at once.
	checkProblem("no-secret", base+"/join/"+callID, "join.no_secret_heading", false)

	// Wait too long: the page offers to leave a message, which reaches
	// the conversation.
	openJoin(t, customer, link)
	shoot(t, customer, lang+"-landing")
	act(t, customer, "Join", chromedp.Click(chromedp.ID("join-call")))
	waitJS(t, customer, slow, "in the waiting room", joinView+` === 'waiting'`)
	waitJS(t, customer, slow, "the long-wait offer shows", `!document.getElementById('wait-long').hidden`)
	shoot(t, customer, lang+"-waiting-long")
	msg := "I have to go, please write to me here"
	act(t, customer, "leave a message",
		chromedp.SetValue(chromedp.ID("message"), msg),
		chromedp.Click(chromedp.ID("send-message")))
	waitJS(t, customer, slow, "the customer is told the message went", `!document.getElementById('message-sent').hidden`)
	waitJS(t, agent, slow, "the message is in the conversation", fmt.Sprintf(`(async () => {
		const r = await (await fetch('/api/v1/conversations/%s/timeline')).json();
		return r.events.some(e => e.type === 'message' && e.body === %s);
	})()`, convID, jsStr(msg)))

	// A second device with the same link is refused while the first waits.
	second := newTab(t, customer, chromedp.WithNewBrowserContext())
	openJoin(t, second, link)
	act(t, second, "Join on a second device", chromedp.Click(chromedp.ID("join-call")))
	waitJS(t, second, slow, "the second device is refused", joinView+` === 'problem'`)
	if got := eval[string](t, second, `document.getElementById('problem-heading').textContent`); got != cat["wait.in_use_heading"] {
		t.Errorf("the second device sees %q, want %q", got, cat["wait.in_use_heading"])
	}

	// The agent declines: the customer is told.
	agentCall := staffJoin(t, agent, base, callID, "the agent")
	waitJS(t, agentCall, slow, "the agent sees the customer knocking", `document.querySelectorAll('#knock-list .knock').length === 1`)
	shoot(t, agentCall, lang+"-staff-knock")
	act(t, agentCall, "decline", chromedp.Click(chromedp.CSS(`#knock-list .knock-decline`)))
	waitJS(t, customer, slow, "the customer is told", joinView+` === 'problem'`)
	if got := eval[string](t, customer, `document.getElementById('problem-heading').textContent`); got != cat["wait.declined_heading"] {
		t.Errorf("the declined customer sees %q, want %q", got, cat["wait.declined_heading"])
	}
	shoot(t, customer, lang+"-problem-declined")
	shoot(t, agentCall, lang+"-staff-alone")

	// The agent ends the call: the link no longer opens it.
	act(t, agentCall, "End for all", chromedp.Click(chromedp.ID("end-call")))
	shoot(t, agentCall, lang+"-staff-end-dialog")
	act(t, agentCall, "confirm", chromedp.Click(chromedp.ID("end-confirm")))
	waitJS(t, agentCall, slow, "the agent sees the call ended", joinView+` === 'ended'`)
	checkProblem("ended", link, "join.revoked_heading", true)

	// A signed-in staff member who opens the customer's link of a new
	// call is told staff join from the console.
	_, link2 := start()
	staffTab := newTab(t, agent)
	openJoin(t, staffTab, link2)
	act(t, staffTab, "staff opens the customer's link", chromedp.Click(chromedp.ID("join-call")))
	waitJS(t, staffTab, slow, "the staff member is told", joinView+` === 'problem'`)
	if got := eval[string](t, staffTab, `document.getElementById('problem-text').textContent`); got != cat["join.wrong_role_staff_text"] {
		t.Errorf("staff on the customer's link read %q", got)
	}

	types := strings.Join(eval[[]string](t, agent, timelineTypes(convID)), " ")
	for _, e := range []string{"call.link_refused", "call.declined", "call.ended"} {
		if !strings.Contains(types, e) {
			t.Errorf("the record lacks %s: %s", e, types)
		}
	}
}
