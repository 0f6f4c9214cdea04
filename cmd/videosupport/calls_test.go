package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"videosupport/auth"
	"videosupport/internal/testmedia"
	"videosupport/signaling"
	"videosupport/signaling/client"
	"videosupport/store"
)

// These tests drive escalation through the real server with the doors a
// browser uses (REST with cookies, the signaling websocket with the
// browser's cookies and Origin); the browser tests add the pages.

// callBrowser is one browser: a cookie jar and, once joined, a socket.
type callBrowser struct {
	*apiClient
	base string
}

func newCallBrowser(t *testing.T, base string) *callBrowser {
	return &callBrowser{apiClient: newAPIClient(t, base), base: base}
}

// dial opens the signaling websocket as this browser would.
func (b *callBrowser) dial(ctx context.Context) *client.Client {
	b.t.Helper()
	u, _ := url.Parse(b.base)
	h := http.Header{"Origin": {b.base}}
	for _, ck := range b.hc.Jar.Cookies(u) {
		h.Add("Cookie", ck.Name+"="+ck.Value)
	}
	api, err := client.NewAPI()
	if err != nil {
		b.t.Fatal(err)
	}
	c, err := client.DialHeader(ctx, "ws"+strings.TrimPrefix(b.base, "http")+"/ws", h, api, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(c.Close)
	return c
}

// joinSignal sends join and returns the first answer: waiting, joined or an
// error.
func joinSignal(ctx context.Context, t *testing.T, c *client.Client, callID string) signaling.Message {
	t.Helper()
	n := c.Len()
	if err := c.Send(signaling.Message{Type: signaling.TypeJoin, Room: callID, Name: "someone"}); err != nil {
		t.Fatal(err)
	}
	m, err := c.WaitFrom(ctx, n, func(m signaling.Message) bool {
		switch m.Type {
		case signaling.TypeWaiting, signaling.TypeJoined, signaling.TypeError:
			return true
		}
		return false
	})
	if err != nil {
		t.Fatalf("join %s: %v", callID, err)
	}
	return m
}

func waitMsg(ctx context.Context, t *testing.T, c *client.Client, typ string, match func(signaling.Message) bool) signaling.Message {
	t.Helper()
	m, err := c.WaitFor(ctx, func(m signaling.Message) bool { return m.Type == typ && (match == nil || match(m)) })
	if err != nil {
		t.Fatalf("waiting for %s: %v", typ, err)
	}
	return m
}

type joinAnswer struct {
	CallID         string `json:"callId"`
	ConversationID string `json:"conversationId"`
	Role           string `json:"role"`
	Name           string `json:"name"`
	HostName       string `json:"hostName"`
	apiError
}

// exchange posts a join link's fragment as the join page does.
func (b *callBrowser) exchange(callID, token string) (int, joinAnswer) {
	b.t.Helper()
	var ans joinAnswer
	code := b.do("POST", "/api/v1/calls/"+callID+"/join", map[string]string{"token": token}, &ans)
	return code, ans
}

// splitLink takes a join link apart: call id from the path, token from
// the fragment.
func splitLink(t *testing.T, link string) (callID, token string) {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.RawQuery != "" || u.Fragment == "" || !strings.HasPrefix(u.Path, "/join/") {
		t.Fatalf("join link %q: the secret must be in the fragment, nothing in the query", link)
	}
	return strings.TrimPrefix(u.Path, "/join/"), u.Fragment
}

type startedCall struct {
	Call         store.Call `json:"call"`
	CustomerLink struct {
		URL string `json:"url"`
	} `json:"customerLink"`
}

func startConversation(t *testing.T, base, name, first string) (string, *apiClient) {
	t.Helper()
	c := newAPIClient(t, base)
	var start struct {
		Conversation  store.Conversation `json:"conversation"`
		CustomerToken string             `json:"customerToken"`
	}
	if code := c.do("POST", "/api/v1/conversations", map[string]string{"customerName": name, "message": first}, &start); code != 201 {
		t.Fatalf("start conversation: %d", code)
	}
	c.bearer = start.CustomerToken
	return start.Conversation.ID, c
}

func timeline(t *testing.T, c *apiClient, id string) []store.Event {
	t.Helper()
	var out struct {
		Events []store.Event `json:"events"`
	}
	if code := c.do("GET", "/api/v1/conversations/"+id+"/timeline", nil, &out); code != 200 {
		t.Fatalf("timeline: %d", code)
	}
	return out.Events
}

func eventData(e store.Event) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(e.Data, &m)
	return m
}

// TestEscalationEndToEnd walks a call from the chat to its end through
// the doors: escalation posts the link into the chat; the customer's
// browser exchanges it for a session and knocks; a second device on the
// same link is refused; the agent admits; a specialist is invited and
// joins; the agent leaves and the conversation moves to the specialist;
// the call is ended through the API and every link and session stops
// working. After a restart the record holds every step in order.
func TestEscalationEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	base, a, stop := startAppIn(t, dir)
	addStaff(t, a, "amira@example.com", "Amira", store.RoleAgent)
	addStaff(t, a, "chen@example.com", "Dr Chen", store.RoleSpecialist)
	addStaff(t, a, "bo@example.com", "Bo", store.RoleAgent)
	agent, _ := login(t, base, "amira@example.com")
	convID, customer := startConversation(t, base, "Wei", "my card was charged twice")

	var started startedCall
	if code := agent.do("POST", "/api/v1/conversations/"+convID+"/calls", nil, &started); code != 201 {
		t.Fatalf("escalate: %d", code)
	}
	callID, token := splitLink(t, started.CustomerLink.URL)
	if callID != started.Call.ID {
		t.Fatalf("link for call %s, call is %s", callID, started.Call.ID)
	}
	// The link is in the chat, for the customer.
	var inChat bool
	for _, e := range timeline(t, customer, convID) {
		if e.Type == store.EventCallStarted && eventData(e)["joinUrl"] == started.CustomerLink.URL {
			inChat = true
		}
	}
	if !inChat {
		t.Fatal("the customer's timeline has no call.started with the join link")
	}
	// Escalating again gives the same call.
	var again startedCall
	agent.do("POST", "/api/v1/conversations/"+convID+"/calls", nil, &again)
	if again.Call.ID != callID {
		t.Fatalf("second escalation made call %s, want %s", again.Call.ID, callID)
	}

	phone := newCallBrowser(t, base)
	code, ans := phone.exchange(callID, token)
	if code != 200 || ans.Role != auth.CallCustomer || ans.Name != "Wei" || ans.HostName != "Amira" || ans.ConversationID != convID {
		t.Fatalf("exchange: %d %+v", code, ans)
	}
	custWS := phone.dial(ctx)
	if m := joinSignal(ctx, t, custWS, callID); m.Type != signaling.TypeWaiting {
		t.Fatalf("customer join: %+v, want waiting", m)
	}
	// The same link on a second device: exchanged, but no second seat.
	laptop := newCallBrowser(t, base)
	if code, _ := laptop.exchange(callID, token); code != 200 {
		t.Fatalf("second device exchange: %d", code)
	}
	if m := joinSignal(ctx, t, laptop.dial(ctx), callID); m.Code != signaling.CodeLinkInUse {
		t.Fatalf("second device join: %+v, want %s", m, signaling.CodeLinkInUse)
	}
	// No session, no entry.
	if m := joinSignal(ctx, t, newCallBrowser(t, base).dial(ctx), callID); m.Code != signaling.CodeRoomNotFound {
		t.Fatalf("join without a session: %+v", m)
	}

	agentB := &callBrowser{apiClient: agent, base: base}
	var staffAns joinAnswer
	if code := agent.do("POST", "/api/v1/calls/"+callID+"/join", map[string]string{}, &staffAns); code != 200 || staffAns.Role != auth.CallAgent {
		t.Fatalf("agent joins: %d %+v", code, staffAns)
	}
	agentWS := agentB.dial(ctx)
	joined := joinSignal(ctx, t, agentWS, callID)
	if joined.Type != signaling.TypeJoined || len(joined.Waiting) != 1 || joined.Waiting[0].Name != "Wei" {
		t.Fatalf("agent joined: %+v, want Wei waiting", joined)
	}
	_ = agentWS.Send(signaling.Message{Type: signaling.TypeAdmit, Participant: &signaling.Participant{ID: joined.Waiting[0].ID}})
	waitMsg(ctx, t, custWS, signaling.TypeAdmitted, nil)
	if m := joinSignal(ctx, t, custWS, callID); m.Type != signaling.TypeJoined {
		t.Fatalf("admitted customer join: %+v", m)
	}

	// A colleague nobody invited may not join; the invited specialist may.
	bo, _ := login(t, base, "bo@example.com")
	if code := bo.do("POST", "/api/v1/calls/"+callID+"/join", map[string]string{}, nil); code != 403 {
		t.Fatalf("uninvited staff join: %d, want 403", code)
	}
	spec, specStaff := login(t, base, "chen@example.com")
	if code := agent.do("POST", "/api/v1/calls/"+callID+"/invite",
		map[string]string{"staffId": specStaff.ID, "note": "Card charged twice on the 3rd; refund was promised"}, nil); code != 201 {
		t.Fatalf("invite: %d", code)
	}
	if code := spec.do("POST", "/api/v1/calls/"+callID+"/join", map[string]string{}, &staffAns); code != 200 || staffAns.Role != auth.CallSpecialist {
		t.Fatalf("specialist joins: %d %+v", code, staffAns)
	}
	specWS := (&callBrowser{apiClient: spec, base: base}).dial(ctx)
	if m := joinSignal(ctx, t, specWS, callID); m.Type != signaling.TypeJoined {
		t.Fatalf("specialist join: %+v", m)
	}
	// The customer never sees the hand-over note or the invitation.
	for _, e := range timeline(t, customer, convID) {
		if !store.CustomerSees(e) {
			t.Fatalf("the customer's timeline shows %s", e.Type)
		}
	}

	// Warm transfer: the agent leaves, the conversation goes with the
	// specialist who stays. (The desk learns who is in the call from the
	// recorded joins: wait for the specialist's, as a person would be
	// seen joining before the agent walks away.)
	eventually(t, 5*time.Second, "the specialist's join is recorded", func() bool {
		for _, e := range timeline(t, agent, convID) {
			if e.Type == store.EventJoined && eventData(e)["name"] == "Dr Chen" {
				return true
			}
		}
		return false
	})
	_ = agentWS.Leave()
	waitMsg(ctx, t, custWS, signaling.TypeParticipantLeft, func(m signaling.Message) bool { return m.Participant.Name == "Amira" })
	eventually(t, 5*time.Second, "the conversation moves to the specialist", func() bool {
		c, err := a.store.Conversation(ctx, convID)
		return err == nil && c.AssignedTo == specStaff.ID
	})

	// The specialist ends the call through the API: everyone is told.
	if code := spec.do("POST", "/api/v1/calls/"+callID+"/end", nil, nil); code != 200 {
		t.Fatalf("end: %d", code)
	}
	for _, c := range []*client.Client{custWS, specWS} {
		if m := waitMsg(ctx, t, c, signaling.TypeBye, nil); m.Reason != signaling.ReasonCallEnded {
			t.Errorf("bye %+v", m)
		}
	}
	// Its links and sessions no longer work.
	if code, ans := newCallBrowser(t, base).exchange(callID, token); code != 403 || ans.Error.Code != "link_revoked" {
		t.Fatalf("link after the end: %d %+v", code, ans)
	}
	if m := joinSignal(ctx, t, phone.dial(ctx), callID); m.Code != signaling.CodeCallEnded {
		t.Fatalf("session after the end: %+v", m)
	}
	var late joinAnswer
	if code := spec.do("POST", "/api/v1/calls/"+callID+"/join", map[string]string{}, &late); code != 403 || late.Error.Code != "link_revoked" {
		t.Fatalf("staff joining the ended call: %d %+v", code, late.Error)
	}

	// After a restart, the record tells the whole story in order.
	stop()
	base, a, _ = startAppIn(t, dir)
	agent, _ = login(t, base, "amira@example.com")
	var got []string
	for _, e := range timeline(t, agent, convID) {
		switch e.Type {
		case store.EventCallStarted, store.EventCallLinkOpened, store.EventCallKnocked, store.EventCallAdmitted,
			store.EventCallInvited, store.EventCallTransferred, store.EventCallEnded, store.EventCallLinkRefused:
			got = append(got, e.Type)
		case store.EventJoined, store.EventLeft:
			got = append(got, e.Type+" "+eventData(e)["name"].(string))
		}
	}
	want := []string{store.EventCallStarted, store.EventCallLinkOpened, store.EventCallKnocked,
		store.EventJoined + " Amira", store.EventCallAdmitted, store.EventJoined + " Wei", store.EventCallInvited,
		store.EventJoined + " Dr Chen", store.EventLeft + " Amira", store.EventCallTransferred, store.EventCallEnded,
		store.EventCallLinkRefused}
	if !subsequence(want, got) {
		t.Fatalf("record after restart: %q\nwant in this order: %q", got, want)
	}
}

// subsequence reports whether want appears in got in order (other
// entries may come between: steps of different people interleave).
func subsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// TestJoinLinkRefusals: every kind of bad link gets its own clear answer
// (the page words each) and an event in the conversation's record.
func TestJoinLinkRefusals(t *testing.T) {
	dir := t.TempDir()
	base, a := func() (string, *app) { b, a, _ := startAppIn(t, dir); return b, a }()
	addStaff(t, a, "amira@example.com", "Amira", store.RoleAgent)
	agent, _ := login(t, base, "amira@example.com")
	conv1, _ := startConversation(t, base, "Wei", "hello")
	conv2, _ := startConversation(t, base, "Dana", "hi")
	var call1, call2 startedCall
	agent.do("POST", "/api/v1/conversations/"+conv1+"/calls", nil, &call1)
	agent.do("POST", "/api/v1/conversations/"+conv2+"/calls", nil, &call2)
	id1, tok1 := splitLink(t, call1.CustomerLink.URL)
	_, tok2 := splitLink(t, call2.CustomerLink.URL)

	// Links made with the server's key, as an attacker could not.
	raw, err := os.ReadFile(filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	signer, _ := auth.NewLinkSigner(key)
	expired := signer.SignLink(auth.JoinClaims{CallID: id1, Role: auth.CallCustomer, Expires: time.Now().Add(-time.Minute).Unix(), Link: "x"})
	var specLink struct {
		URL string `json:"url"`
	}
	if code := agent.do("POST", "/api/v1/calls/"+id1+"/links", map[string]string{"role": "specialist"}, &specLink); code != 201 {
		t.Fatalf("specialist link: %d", code)
	}
	_, specTok := splitLink(t, specLink.URL)
	tampered := []byte(tok1)
	tampered[10] ^= 1

	for _, tc := range []struct {
		name, token, code string
		browser           *apiClient
	}{
		{"tampered", string(tampered), "link_tampered", nil},
		{"truncated", tok1[:len(tok1)-5], "link_tampered", nil},
		{"expired", expired, "link_expired", nil},
		{"another call's link", tok2, "link_wrong_call", nil},
		{"staff link without a staff session", specTok, "link_wrong_role", nil},
		{"customer link in a staff member's browser", tok1, "link_wrong_role", agent},
	} {
		b := tc.browser
		if b == nil {
			b = newAPIClient(t, base)
		}
		var ans joinAnswer
		code := b.do("POST", "/api/v1/calls/"+id1+"/join", map[string]string{"token": tc.token}, &ans)
		if code != 403 || ans.Error.Code != tc.code || ans.Error.Message == "" {
			t.Errorf("%s: %d %+v, want 403 %s", tc.name, code, ans.Error, tc.code)
		}
	}
	// A token in the query string is not a token: nothing is exchanged.
	var none joinAnswer
	if code := newAPIClient(t, base).do("POST", "/api/v1/calls/"+id1+"/join?token="+url.QueryEscape(tok1), map[string]string{}, &none); code != 401 {
		t.Errorf("token in the query string: %d %+v, want 401", code, none.Error)
	}
	// A refused browser never reaches media: its join is refused and its
	// peer connections never connect.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	refused := newCallBrowser(t, base)
	refused.exchange(id1, string(tampered))
	ws := refused.dial(ctx)
	if m := joinSignal(ctx, t, ws, id1); m.Type != signaling.TypeError {
		t.Fatalf("join after a refused link: %+v", m)
	}
	frames, _ := testmedia.VP8Frames()
	video, _ := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "v")
	_, _ = ws.Publish(ctx, video) // tries to offer anyway
	go func() { _ = testmedia.PlayVideo(ctx, video, frames, nil) }()
	time.Sleep(2 * time.Second)
	for name, pc := range map[string]*webrtc.PeerConnection{"publish": ws.Pub, "subscribe": ws.Sub} {
		if st := pc.ConnectionState(); st == webrtc.PeerConnectionStateConnected {
			t.Errorf("the %s connection of a refused browser is %s", name, st)
		}
	}
	// A form posted from another site (no JSON content type) is refused
	// before anything is looked at.
	req, _ := http.NewRequest("POST", base+"/api/v1/calls/"+id1+"/join", strings.NewReader("token="+tok1))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType || len(resp.Cookies()) != 0 {
		t.Errorf("form post: %d with cookies %v", resp.StatusCode, resp.Cookies())
	}
	// The good link works and sets an HttpOnly, SameSite=Strict cookie.
	req, _ = http.NewRequest("POST", base+"/api/v1/calls/"+id1+"/join", strings.NewReader(`{"token":"`+tok1+`"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if resp.StatusCode != 200 || len(cookies) != 1 || cookies[0].Name != "vs_call" || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("good link: %d %+v", resp.StatusCode, cookies)
	}

	var reasons []string
	for _, e := range timeline(t, agent, conv1) {
		if e.Type == store.EventCallLinkRefused {
			reasons = append(reasons, eventData(e)["reason"].(string))
		}
	}
	want := []string{"link_tampered", "link_tampered", "link_expired", "link_wrong_call", "link_wrong_role", "link_wrong_role", "link_tampered"}
	if strings.Join(reasons, ",") != strings.Join(want, ",") {
		t.Errorf("refusals in the record: %q, want %q", reasons, want)
	}
	// An unknown call: refused, nothing to record in.
	var ans joinAnswer
	if code := newAPIClient(t, base).do("POST", "/api/v1/calls/00000000-0000-4000-8000-000000000000/join", map[string]string{"token": tok1}, &ans); code != 403 || ans.Error.Code != "link_wrong_call" {
		t.Errorf("unknown call: %d %+v", code, ans)
	}
}

// TestInviteWaitsForTheConsole: a colleague invited while their console
// is closed finds the invitation when they open it; once they have
// joined the call it is gone.
func TestInviteWaitsForTheConsole(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base, a := startApp(t)
	addStaff(t, a, "amira@example.com", "Amira", store.RoleAgent)
	addStaff(t, a, "chen@example.com", "Dr Chen", store.RoleSpecialist)
	agent, _ := login(t, base, "amira@example.com")
	spec, specStaff := login(t, base, "chen@example.com")
	convID, _ := startConversation(t, base, "Wei", "hello")
	var started startedCall
	agent.do("POST", "/api/v1/conversations/"+convID+"/calls", nil, &started)
	callID := started.Call.ID
	if code := agent.do("POST", "/api/v1/calls/"+callID+"/invite", map[string]string{"staffId": specStaff.ID, "note": "rash on the arm"}, nil); code != 201 {
		t.Fatalf("invite: %d", code)
	}
	invites := func() []string {
		ws := chatSocket(t, base, spec)
		defer ws.Close()
		if err := ws.WriteJSON(map[string]any{"type": "hello", "console": true}); err != nil {
			t.Fatal(err)
		}
		var got []string
		_ = ws.SetReadDeadline(time.Now().Add(2 * time.Second))
		for {
			var f struct {
				Type   string `json:"type"`
				Notice *struct {
					CallID, Note string
				} `json:"notice"`
			}
			if err := ws.ReadJSON(&f); err != nil {
				return got // read everything the console is sent at once
			}
			if f.Type == "invite" {
				got = append(got, f.Notice.CallID+" "+f.Notice.Note)
			}
		}
	}
	if got := invites(); len(got) != 1 || got[0] != callID+" rash on the arm" {
		t.Fatalf("the console opened after the invitation shows %q", got)
	}
	spec.do("POST", "/api/v1/calls/"+callID+"/join", map[string]string{}, nil)
	specWS := (&callBrowser{apiClient: spec, base: base}).dial(ctx)
	if m := joinSignal(ctx, t, specWS, callID); m.Type != signaling.TypeJoined {
		t.Fatalf("specialist join: %+v", m)
	}
	eventually(t, 5*time.Second, "the invitation is gone once the specialist joined", func() bool { return len(invites()) == 0 })
}
