package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"videosupport/auth"
	"videosupport/store"
)

// apiClient calls the REST API as one caller.
type apiClient struct {
	t      *testing.T
	base   string
	hc     *http.Client
	bearer string
	csrf   string
}

func newAPIClient(t *testing.T, base string) *apiClient {
	jar, _ := cookiejar.New(nil)
	return &apiClient{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

// do sends a request and decodes the JSON answer into out (if not nil).
func (c *apiClient) do(method, path string, body any, out any) int {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

// addStaff creates a staff member straight in the store, as
// `videosupport user add` does.
func addStaff(t *testing.T, a *app, email, name, role string) {
	t.Helper()
	hash, err := auth.HashPassword("a long password 1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.CreateStaff(context.Background(), store.Staff{Email: email, Name: name, Role: role, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
}

// login signs in through the API and keeps cookie and CSRF token.
func login(t *testing.T, base, email string) (*apiClient, store.Staff) {
	t.Helper()
	c := newAPIClient(t, base)
	var me struct {
		Staff     store.Staff `json:"staff"`
		CSRFToken string      `json:"csrfToken"`
	}
	if code := c.do("POST", "/api/v1/login", map[string]string{"email": email, "password": "a long password 1"}, &me); code != 200 {
		t.Fatalf("login %s: %d", email, code)
	}
	c.csrf = me.CSRFToken
	return c, me.Staff
}

type apiError struct {
	Error struct{ Code, Message string } `json:"error"`
}

// TestAPIKeyPostsAndReads: a gateway's API key feeds a message in and
// reads it back; a revoked, missing or malformed key gets 401 with a clear
// JSON error.
func TestAPIKeyPostsAndReads(t *testing.T) {
	base, a := startApp(t)
	addStaff(t, a, "admin@example.com", "Admin", store.RoleAdmin)
	admin, _ := login(t, base, "admin@example.com")
	var created struct {
		APIKey store.APIKey `json:"apiKey"`
		Key    string       `json:"key"`
	}
	if code := admin.do("POST", "/api/v1/api-keys", map[string]string{"name": "SMS gateway", "role": "integration"}, &created); code != 201 || !strings.HasPrefix(created.Key, "vsk_") {
		t.Fatalf("create key: %d %+v", code, created)
	}
	gw := newAPIClient(t, base)
	gw.bearer = created.Key
	var start struct {
		Conversation  store.Conversation `json:"conversation"`
		CustomerToken string             `json:"customerToken"`
	}
	if code := gw.do("POST", "/api/v1/conversations", map[string]string{"customerName": "Wei", "customerContact": "+44 7700 900123", "channel": "sms", "message": "My card was declined"}, &start); code != 201 {
		t.Fatalf("start: %d", code)
	}
	id := start.Conversation.ID
	body := `Robert'); DROP TABLE events;-- <b>bold</b> 你好`
	var msg store.Event
	if code := gw.do("POST", "/api/v1/conversations/"+id+"/messages", map[string]string{"body": body, "clientId": "sms-42"}, &msg); code != 201 {
		t.Fatalf("post: %d", code)
	}
	if msg.Actor.Role != store.RoleCustomer || msg.Actor.Name != "Wei" {
		t.Errorf("a gateway's message is the customer's, got %+v", msg.Actor)
	}
	var again store.Event
	gw.do("POST", "/api/v1/conversations/"+id+"/messages", map[string]string{"body": body, "clientId": "sms-42"}, &again)
	if again.ID != msg.ID {
		t.Errorf("a retried clientId made a second message")
	}
	var got struct{ Messages []store.Event }
	if code := gw.do("GET", "/api/v1/conversations/"+id+"/messages", nil, &got); code != 200 {
		t.Fatalf("read: %d", code)
	}
	if len(got.Messages) != 2 || got.Messages[0].Body != "My card was declined" || got.Messages[1].Body != body {
		t.Errorf("messages read back: %+v", got.Messages)
	}

	if code := admin.do("DELETE", "/api/v1/api-keys/"+created.APIKey.ID, nil, nil); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	for name, key := range map[string]string{"revoked": created.Key, "missing": "", "malformed": "not-a-key", "tampered": created.Key + "x"} {
		c := newAPIClient(t, base)
		c.bearer = key
		var e apiError
		if code := c.do("GET", "/api/v1/conversations", nil, &e); code != 401 || e.Error.Code != "unauthorized" || e.Error.Message == "" {
			t.Errorf("%s key: %d %+v, want 401 unauthorized", name, code, e)
		}
	}
}

// TestAPIRefusals: CSRF, roles, another customer's conversation, bad
// bodies.
func TestAPIRefusals(t *testing.T) {
	base, a := startApp(t)
	addStaff(t, a, "agent@example.com", "Amira", store.RoleAgent)
	agent, _ := login(t, base, "agent@example.com")
	anon := newAPIClient(t, base)
	var mine, theirs struct {
		Conversation  store.Conversation `json:"conversation"`
		CustomerToken string             `json:"customerToken"`
	}
	anon.do("POST", "/api/v1/conversations", map[string]string{"customerName": "Wei", "message": "hi"}, &mine)
	anon.do("POST", "/api/v1/conversations", map[string]string{"customerName": "Dana", "message": "hello"}, &theirs)

	noCSRF := *agent
	noCSRF.csrf = ""
	var e apiError
	if code := noCSRF.do("POST", "/api/v1/conversations/"+mine.Conversation.ID+"/messages", map[string]string{"body": "x"}, &e); code != 403 || e.Error.Code != "csrf" {
		t.Errorf("cookie POST without CSRF token: %d %+v", code, e)
	}
	if code := agent.do("POST", "/api/v1/staff", map[string]string{"email": "x@example.com", "name": "X", "role": "admin", "password": "long enough pw"}, &e); code != 403 {
		t.Errorf("an agent adding staff: %d, want 403", code)
	}
	cust := newAPIClient(t, base)
	cust.bearer = mine.CustomerToken
	if code := cust.do("GET", "/api/v1/conversations/"+theirs.Conversation.ID+"/messages", nil, &e); code != 404 {
		t.Errorf("a customer reading another's conversation: %d, want 404", code)
	}
	if code := cust.do("GET", "/api/v1/conversations", nil, &e); code != 403 {
		t.Errorf("a customer listing conversations: %d, want 403", code)
	}
	for name, tc := range map[string]struct {
		body []byte
		want int
	}{
		"invalid UTF-8": {[]byte("{\"body\": \"\xff\xfe\"}"), 400},
		"oversize":      {[]byte(`{"body": "` + strings.Repeat("x", 70<<10) + `"}`), 413},
		"too long":      {[]byte(`{"body": "` + strings.Repeat("y", 4001) + `"}`), 400},
		"empty":         {[]byte(`{"body": "   "}`), 400},
		"not json":      {[]byte(`{"body": `), 400},
	} {
		if code := cust.do("POST", "/api/v1/conversations/"+mine.Conversation.ID+"/messages", tc.body, &e); code != tc.want || e.Error.Message == "" {
			t.Errorf("%s: %d %+v, want %d", name, code, e, tc.want)
		}
	}
	var msgs struct{ Messages []store.Event }
	cust.do("GET", "/api/v1/conversations/"+mine.Conversation.ID+"/messages", nil, &msgs)
	if len(msgs.Messages) != 1 {
		t.Errorf("bad input was stored: %+v", msgs.Messages)
	}
}

// chatSocket opens /ws/chat, with the client's cookies when it has any.
func chatSocket(t *testing.T, base string, c *apiClient) *websocket.Conn {
	t.Helper()
	h := http.Header{}
	if c != nil && c.hc.Jar != nil {
		req, _ := http.NewRequest("GET", base, nil)
		for _, ck := range c.hc.Jar.Cookies(req.URL) {
			h.Add("Cookie", ck.Name+"="+ck.Value)
		}
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws/chat", h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

type chatFrame struct {
	Type         string          `json:"type"`
	Code         string          `json:"code"`
	Event        *store.Event    `json:"event"`
	Conversation json.RawMessage `json:"conversation"`
}

func readFrame(t *testing.T, ws *websocket.Conn) chatFrame {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var f chatFrame
	if err := ws.ReadJSON(&f); err != nil {
		t.Fatalf("read chat frame: %v", err)
	}
	return f
}

// TestChatResumesWithoutGapsOrDuplicates: a customer's socket drops;
// messages written meanwhile arrive after reconnecting from the last seq
// seen, each once, in order.
func TestChatResumesWithoutGapsOrDuplicates(t *testing.T) {
	base, a := startApp(t)
	addStaff(t, a, "agent@example.com", "Amira", store.RoleAgent)
	agent, _ := login(t, base, "agent@example.com")
	var start struct {
		Conversation  store.Conversation `json:"conversation"`
		CustomerToken string             `json:"customerToken"`
	}
	newAPIClient(t, base).do("POST", "/api/v1/conversations", map[string]string{"customerName": "Wei", "message": "first"}, &start)
	id := start.Conversation.ID

	ws := chatSocket(t, base, nil)
	_ = ws.WriteJSON(map[string]any{"type": "hello", "conversation": id, "token": start.CustomerToken, "after": 0})
	if f := readFrame(t, ws); f.Type != "welcome" {
		t.Fatalf("first frame %+v", f)
	}
	var seen []int64
	var bodies []string
	readUntil := func(ws *websocket.Conn, body string) {
		for {
			f := readFrame(t, ws)
			if f.Type == "event" {
				seen = append(seen, f.Event.Seq)
				bodies = append(bodies, f.Event.Body)
				if f.Event.Body == body {
					return
				}
			}
		}
	}
	readUntil(ws, "first")
	// The customer writes over the socket; the agent over the API.
	_ = ws.WriteJSON(map[string]any{"type": "send", "body": "are you there?", "clientId": "c1"})
	readUntil(ws, "are you there?")
	ws.Close()
	for _, b := range []string{"yes, sorry", "let me look", "found it"} {
		if code := agent.do("POST", "/api/v1/conversations/"+id+"/messages", map[string]string{"body": b}, nil); code != 201 {
			t.Fatalf("agent post: %d", code)
		}
	}
	ws2 := chatSocket(t, base, nil)
	_ = ws2.WriteJSON(map[string]any{"type": "hello", "conversation": id, "token": start.CustomerToken, "after": seen[len(seen)-1]})
	readFrame(t, ws2) // welcome
	// The page resends its last message with the same clientId, as if
	// unsure it arrived: it must not be stored twice.
	_ = ws2.WriteJSON(map[string]any{"type": "send", "body": "are you there?", "clientId": "c1"})
	readUntil(ws2, "found it")
	for i := 1; i < len(seen); i++ {
		if seen[i] != seen[i-1]+1 {
			t.Errorf("seqs %v: a gap or a duplicate", seen)
			break
		}
	}
	n := 0
	for _, b := range bodies {
		if b == "are you there?" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("bodies %q: the resent message shows %d times", bodies, n)
	}
}

// TestRoutingAndBotHandover: with nobody online a customer is told so;
// an agent who opens the console online gets the conversation; a bot
// answers first and hands over with a summary the agent sees.
func TestRoutingAndBotHandover(t *testing.T) {
	base, a := startApp(t)
	addStaff(t, a, "agent@example.com", "Amira", store.RoleAgent)
	addStaff(t, a, "admin@example.com", "Admin", store.RoleAdmin)
	agent, me := login(t, base, "agent@example.com")
	anon := newAPIClient(t, base)
	var c1 struct {
		Conversation  store.Conversation `json:"conversation"`
		CustomerToken string             `json:"customerToken"`
	}
	anon.do("POST", "/api/v1/conversations", map[string]string{"customerName": "Wei", "message": "hello?"}, &c1)
	if c1.Conversation.Status != store.StatusWaiting || c1.Conversation.AssignedTo != "" {
		t.Fatalf("with nobody online: %+v", c1.Conversation)
	}
	cust := chatSocket(t, base, nil)
	_ = cust.WriteJSON(map[string]any{"type": "hello", "conversation": c1.Conversation.ID, "token": c1.CustomerToken})
	for f := readFrame(t, cust); f.Type != "notice" || f.Code != "no_agent_online"; f = readFrame(t, cust) {
	}

	// The agent goes online with the console open: the waiting
	// conversation is theirs, and the customer hears it.
	console := chatSocket(t, base, agent)
	_ = console.WriteJSON(map[string]any{"type": "hello", "console": true})
	if f := readFrame(t, console); f.Type != "welcome" {
		t.Fatalf("console: %+v", f)
	}
	agent.do("PUT", "/api/v1/me/availability", map[string]string{"availability": "online"}, nil)
	for f := readFrame(t, cust); f.Type != "notice" || f.Code != "agent_assigned"; f = readFrame(t, cust) {
	}
	var conv store.Conversation
	agent.do("GET", "/api/v1/conversations/"+c1.Conversation.ID, nil, &conv)
	if conv.AssignedTo != me.ID || conv.Status != store.StatusOpen {
		t.Errorf("after the agent came online: %+v", conv)
	}

	// With a bot key, new conversations wait for the bot.
	admin, _ := login(t, base, "admin@example.com")
	var key struct{ Key string }
	admin.do("POST", "/api/v1/api-keys", map[string]string{"name": "FAQ bot", "role": "bot"}, &key)
	var c2 struct{ Conversation store.Conversation }
	anon.do("POST", "/api/v1/conversations", map[string]string{"customerName": "Dana", "message": "my card is blocked"}, &c2)
	if c2.Conversation.Handler != store.HandlerBot || c2.Conversation.AssignedTo != "" {
		t.Fatalf("with a bot: %+v", c2.Conversation)
	}
	bot := newAPIClient(t, base)
	bot.bearer = key.Key
	var botMsg store.Event
	bot.do("POST", "/api/v1/conversations/"+c2.Conversation.ID+"/messages", map[string]string{"body": "I can help. Which card?"}, &botMsg)
	if botMsg.Actor.Role != store.RoleBot {
		t.Errorf("bot message by %+v", botMsg.Actor)
	}
	var handed store.Conversation
	if code := bot.do("POST", "/api/v1/conversations/"+c2.Conversation.ID+"/handover", map[string]string{"summary": "Debit card blocked after travel; identity checked."}, &handed); code != 200 {
		t.Fatalf("handover: %d", code)
	}
	if handed.Handler != store.HandlerHuman || handed.AssignedTo != me.ID {
		t.Errorf("after handover: %+v, want the online agent", handed)
	}
	var tl struct{ Events []store.Event }
	agent.do("GET", "/api/v1/conversations/"+c2.Conversation.ID+"/timeline", nil, &tl)
	var kinds []string
	for _, e := range tl.Events {
		kinds = append(kinds, e.Type+"/"+e.Actor.Role)
	}
	want := "conversation.created/customer message/customer message/bot note/bot conversation.handed_over/bot conversation.assigned/system"
	if strings.Join(kinds, " ") != want {
		t.Errorf("timeline:\n got %s\nwant %s", strings.Join(kinds, " "), want)
	}
}
