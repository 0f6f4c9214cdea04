package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"videosupport/store"
)

// These tests run the video queue as customers and an agent meet it: each
// customer in a browser of their own on /chat, the agent on /console.

// queueCustomer opens /chat in a browser of its own and starts a
// conversation as name (with contact, if given).
func queueCustomer(t *testing.T, base, name, contact, first string) context.Context {
	t.Helper()
	ctx := newBrowser(t, "en", chromedp.WindowSize(390, 844))
	openChatPage(t, ctx, base+"/chat")
	if contact != "" {
		chatStep(t, ctx, name+" gives a contact", chromedp.SetValue(chromedp.ID("customer-contact"), contact))
	}
	chatStep(t, ctx, name+" starts a chat",
		chromedp.SetValue(chromedp.ID("customer-name"), name),
		chromedp.SetValue(chromedp.ID("first-message"), first),
		chromedp.Click(chromedp.ID("start-chat")),
	)
	waitJS(t, ctx, 10*time.Second, name+" sees their first message", hasMsg("messages", first))
	waitJS(t, ctx, 10*time.Second, name+" is offered a video call", visibleJS("video-ask"))
	return ctx
}

// visibleJS is true while the element with this id takes up room.
func visibleJS(id string) string {
	return fmt.Sprintf(`(() => { const e = document.getElementById(%s); return !!e && e.getClientRects().length > 0 })()`, jsStr(id))
}

// placeText is what a customer reads for their place in line, up to the
// estimate (whose words depend on the server's average).
func placeText(en map[string]string, position int) string {
	s := strings.ReplaceAll(en["chat.video.position"], "{position}", isolate(fmt.Sprint(position)))
	return s[:strings.Index(s, "{duration}")]
}

// waitPlace waits until a customer is told their place in line.
func waitPlace(t *testing.T, ctx context.Context, en map[string]string, who string, position int) {
	t.Helper()
	waitJS(t, ctx, 10*time.Second, fmt.Sprintf("%s reads they are number %d in line", who, position),
		fmt.Sprintf(`(() => { const s = document.getElementById('video-status-text');
			return s.dataset.position === '%d' && s.textContent.startsWith(%s) && !s.hidden })()`, position, jsStr(placeText(en, position))))
}

// TestBrowserVideoQueue: two customers ask for a video call and read
// their places, 1 and 2; the agent's console lists both in that order.
// The agent accepts the first: the first customer's chat shows the "Join
// video call" card, and the second customer moves up to number 1, live.
// Neither customer ever sees the other's name.
func TestBrowserVideoQueue(t *testing.T) {
	base, a := startApp(t)
	addStaff(t, a, "amira@example.com", "Amira", "agent")
	en := readCatalog(t, "en")

	agent := newBrowser(t, "en")
	signInAgent(t, agent, base, "amira@example.com")
	waitJS(t, agent, 5*time.Second, "the console says nobody waits for video", visibleJS("vqueue-empty"))

	wei := queueCustomer(t, base, "Wei Chen", "", "The router's lights are all red")
	chatStep(t, wei, "Wei asks for a video call", chromedp.Click(chromedp.ID("video-ask")))
	waitPlace(t, wei, en, "Wei", 1)

	lena := queueCustomer(t, base, "Lena Park", "", "I can't find the reset button")
	chatStep(t, lena, "Lena asks for a video call", chromedp.Click(chromedp.ID("video-ask")))
	waitPlace(t, lena, en, "Lena", 2)
	waitPlace(t, wei, en, "Wei (still)", 1)

	rows := `[...document.querySelectorAll('#vqueue-list .vq-row')].map(r => r.querySelector('.vq-pos').textContent + ' ' + r.querySelector('.vq-name').textContent).join('|')`
	waitJS(t, agent, 10*time.Second, "the console lists Wei then Lena", rows+` === '1 Wei Chen|2 Lena Park'`)
	if got := eval[string](t, agent, `document.querySelector('#vqueue-list .vq-row .vq-wait').textContent`); !strings.HasPrefix(got, strings.Split(en["console.call.waiting_for"], "{")[0]) {
		t.Errorf("a queue row says %q, want how long they have waited", got)
	}

	chatStep(t, agent, "the agent accepts Wei", chromedp.Click(chromedp.CSS(`#vqueue-list .vq-row:first-child .vq-accept`)))

	card := `document.querySelector('#messages .call-card:not(.over)')`
	waitJS(t, wei, 10*time.Second, "Wei's chat shows the Join video call card", card+`?.querySelector('.call-join')?.textContent === `+jsStr(en["chat.video.join"]))
	if title := eval[string](t, wei, card+`.querySelector('.call-card-title').textContent`); title != en["chat.video.ready"] {
		t.Errorf("the card says %q, want %q", title, en["chat.video.ready"])
	}
	href := eval[string](t, wei, card+`.querySelector('.call-join').href`)
	if !strings.HasPrefix(href, base+"/join/") || !strings.Contains(href, "#") {
		t.Errorf("the join link is %q, want %s/join/<call>#<secret>", href, base)
	}
	waitJS(t, wei, 5*time.Second, "Wei is no longer offered to ask", `document.getElementById('video-box').hidden`)
	waitPlace(t, lena, en, "Lena", 1)

	// The agent is in Wei's conversation, with Join call at hand.
	waitJS(t, agent, 10*time.Second, "the console opens Wei's conversation with Join call",
		`document.getElementById('conv-title').textContent === 'Wei Chen' && !document.getElementById('callbar').hidden`)
	callID := strings.SplitN(strings.TrimPrefix(href, base+"/join/"), "#", 2)[0]
	if got := eval[string](t, agent, `document.getElementById('join-call').getAttribute('href')`); got != "/join/"+callID {
		t.Errorf("Join call goes to %q, want /join/%s (no secret: staff join by their session)", got, callID)
	}
	waitJS(t, agent, 10*time.Second, "the queue now lists only Lena", rows+` === '1 Lena Park'`)

	for who, ctx := range map[string]context.Context{"Wei": wei, "Lena": lena} {
		other := map[string]string{"Wei": "Lena", "Lena": "Wei"}[who]
		if eval[bool](t, ctx, `document.body.innerText.includes(`+jsStr(other)+`)`) {
			t.Errorf("%s's page shows %s's name", who, other)
		}
	}
}

// TestBrowserVideoCallback: nobody accepts within -callback-after, so the
// customer is offered a callback, with the contact they gave filled in;
// they choose "Call me back" with another number, read a confirmation,
// and the record holds the offer, then the request with that number.
func TestBrowserVideoCallback(t *testing.T) {
	base, a, _ := startAppIn(t, t.TempDir(), "-callback-after", "1s")
	addStaff(t, a, "amira@example.com", "Amira", "agent")
	en := readCatalog(t, "en")

	wei := queueCustomer(t, base, "Wei Chen", "wei@example.com", "Can someone show me on video?")
	chatStep(t, wei, "Wei asks for a video call", chromedp.Click(chromedp.ID("video-ask")))
	waitPlace(t, wei, en, "Wei", 1)
	waitJS(t, wei, 10*time.Second, "Wei is asked whether to be called back",
		`document.getElementById('video-status-text').textContent === `+jsStr(en["chat.video.callback_question"])+
			` && !document.getElementById('callback-form').hidden`)
	if got := eval[string](t, wei, `document.getElementById('callback-contact').value`); got != "wei@example.com" {
		t.Errorf("the contact field holds %q, want the contact Wei gave, wei@example.com", got)
	}
	phone := "+44 20 7946 0958"
	chatStep(t, wei, "Wei chooses Call me back",
		chromedp.SetValue(chromedp.ID("callback-contact"), phone),
		chromedp.Click(chromedp.ID("callback-yes")),
	)
	confirmed := strings.ReplaceAll(en["chat.video.callback_confirmed"], "{contact}", isolate(phone))
	waitJS(t, wei, 10*time.Second, "Wei reads the callback is arranged",
		`document.getElementById('video-status-text').textContent === `+jsStr(confirmed))

	id := eval[string](t, wei, `window.videosupportChat.state.id`)
	staff, _ := login(t, base, "amira@example.com")
	var tl struct {
		Events []store.Event `json:"events"`
	}
	if code := staff.do("GET", "/api/v1/conversations/"+id+"/timeline", nil, &tl); code != 200 {
		t.Fatalf("timeline: %d", code)
	}
	var steps []string
	contact := ""
	for _, e := range tl.Events {
		if strings.HasPrefix(e.Type, "call.") {
			steps = append(steps, e.Type)
		}
		if e.Type == store.EventCallbackChosen {
			var d map[string]any
			_ = json.Unmarshal(e.Data, &d)
			contact, _ = d["contact"].(string)
		}
	}
	want := []string{store.EventVideoRequested, store.EventCallbackOffered, store.EventCallbackChosen}
	if strings.Join(steps, " ") != strings.Join(want, " ") {
		t.Errorf("the record holds %v, want %v", steps, want)
	}
	if contact != phone {
		t.Errorf("the callback request holds contact %q, want %q", contact, phone)
	}
	// The customer's own record says it in their words.
	line := strings.ReplaceAll(en["event.customer.callback_requested"], "{contact}", isolate(phone))
	waitJS(t, wei, 5*time.Second, "Wei's chat records the callback request",
		`[...document.querySelectorAll('#messages .sys')].some(e => e.textContent.startsWith(`+jsStr(line)+`))`)
}

// TestCallEndedInRecord: the stored call.ended says which call ended and
// how long it lasted, so a page reading the record (after a reload, say)
// closes the right call and can say "Call ended after 4 minutes".
func TestCallEndedInRecord(t *testing.T) {
	base, a := startApp(t)
	addStaff(t, a, "amira@example.com", "Amira", "agent")
	staff, _ := login(t, base, "amira@example.com")
	id, _ := startConversation(t, base, "Wei Chen", "Hello")
	var started struct {
		Call store.Call `json:"call"`
	}
	if code := staff.do("POST", "/api/v1/conversations/"+id+"/calls", map[string]string{}, &started); code != 201 {
		t.Fatalf("start call: %d", code)
	}
	if code := staff.do("POST", "/api/v1/calls/"+started.Call.ID+"/end", nil, nil); code != 200 {
		t.Fatalf("end call: %d", code)
	}
	var ended *store.Event
	for _, e := range timeline(t, staff, id) {
		if e.Type == store.EventCallEnded {
			ended = &e
		}
	}
	if ended == nil {
		t.Fatal("no call.ended in the record")
	}
	d := eventData(*ended)
	if d["callId"] != started.Call.ID {
		t.Errorf("call.ended holds callId %v, want %s", d["callId"], started.Call.ID)
	}
	if _, ok := d["seconds"].(float64); !ok {
		t.Errorf("call.ended holds no length in seconds: %v", d)
	}
}
