package signaling_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"videosupport/sfu"
	"videosupport/signaling"
	"videosupport/signaling/client"
)

// grants is an Authorizer for one call room: a token names the grant.
// The real one (auth.CallAuthorizer) checks signed links and call
// sessions; this test is about what signaling does with a grant.
type grants struct {
	room string
	by   map[string]signaling.Grant
}

func (g grants) AuthorizeJoin(_ context.Context, req signaling.JoinRequest) (signaling.Grant, error) {
	gr, ok := g.by[req.Token]
	if !ok || req.Room != g.room {
		return signaling.Grant{}, signaling.ErrForbidden
	}
	return gr, nil
}

// steps records what the record would be told.
type steps struct {
	mu  sync.Mutex
	got []string
}

func (s *steps) CallStep(_ context.Context, g signaling.Grant, step string, who signaling.Participant, by *signaling.Participant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	line := step + " " + who.Name
	if by != nil {
		line += " by " + by.Name
	}
	s.got = append(s.got, line)
}

func (s *steps) CallEnded(_ context.Context, g signaling.Grant, by signaling.Participant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, "ended by "+by.Name)
}

func (s *steps) has(line string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.got {
		if l == line {
			return true
		}
	}
	return false
}

func startCallServer(t *testing.T, room string, rec *steps, opts ...func(*signaling.Config)) (string, *signaling.Server) {
	t.Helper()
	tr, err := sfu.NewTransport(sfu.NetworkConfig{Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	call := func(role, name string) signaling.Grant {
		return signaling.Grant{Role: role, CallID: "call-1", ConversationID: "c-1", Name: name}
	}
	auth := grants{room: room, by: map[string]signaling.Grant{
		"agent": call("agent", "Amira"), "cust": call("customer", "Wei"), "cust2": call("customer", "Dana"),
		"spec": call("specialist", "Dr Chen"),
	}}
	// One customer link opened on two devices: two sessions, one seat.
	for _, tok := range []string{"phone", "laptop"} {
		g := call("customer", "Wei")
		g.Seat = "link-1"
		auth.by[tok] = g
	}
	cfg := signaling.Config{Transport: tr, Authorizer: auth, Calls: rec,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(&cfg)
	}
	srv := signaling.NewServer(cfg)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
		_ = tr.Close()
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http"), srv
}

func dialURL(ctx context.Context, t *testing.T, url string) *client.Client {
	t.Helper()
	api, err := client.NewAPI()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(ctx, url, api, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestWaitingRoom: a customer waits until the agent admits them, and
// cannot reach media before; a second customer is declined; the agent
// ends the call for everyone; every step is reported for the record.
func TestWaitingRoom(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	room := uuid.NewString()
	rec := &steps{}
	url, _ := startCallServer(t, room, rec)

	agent := dialURL(ctx, t, url)
	if err := agent.Send(signaling.Message{Type: signaling.TypeJoin, Room: room, Name: "x", Token: "agent"}); err != nil {
		t.Fatal(err)
	}
	joined := waitType(ctx, t, agent, signaling.TypeJoined, nil)
	if joined.You.Name != "Amira" || joined.You.Role != "agent" {
		t.Errorf("the record's name and role win: %+v", joined.You)
	}

	cust := dialURL(ctx, t, url)
	_ = cust.Send(signaling.Message{Type: signaling.TypeJoin, Room: room, Name: "Wei", Token: "cust"})
	waiting := waitType(ctx, t, cust, signaling.TypeWaiting, nil)
	knock := waitType(ctx, t, agent, signaling.TypeKnock, nil)
	if knock.Participant.ID != waiting.You.ID || knock.Participant.Name != "Wei" {
		t.Errorf("knock %+v for %+v", knock.Participant, waiting.You)
	}
	// Waiting is not joining: no media, no early re-join.
	n := cust.Len()
	_ = cust.Send(signaling.Message{Type: signaling.TypeOffer, PC: signaling.PCPublish, SDP: "v=0"})
	if m, _ := cust.WaitFrom(ctx, n, func(m signaling.Message) bool { return m.Type == signaling.TypeError }); m.Code != signaling.CodeNotJoined {
		t.Errorf("offer while waiting: %+v", m)
	}
	n = cust.Len()
	_ = cust.Send(signaling.Message{Type: signaling.TypeJoin, Room: room, Name: "Wei", Token: "cust"})
	if m, _ := cust.WaitFrom(ctx, n, func(m signaling.Message) bool { return m.Type == signaling.TypeError }); m.Code != signaling.CodeOutOfOrder {
		t.Errorf("join again while waiting: %+v", m)
	}
	// A customer cannot admit anyone.
	n = cust.Len()
	_ = cust.Send(signaling.Message{Type: signaling.TypeAdmit, Participant: &signaling.Participant{ID: waiting.You.ID}})
	if m, _ := cust.WaitFrom(ctx, n, func(m signaling.Message) bool { return m.Type == signaling.TypeError }); m.Code != signaling.CodeNotJoined {
		t.Errorf("a waiting customer admitting: %+v", m)
	}

	_ = agent.Send(signaling.Message{Type: signaling.TypeAdmit, Participant: &signaling.Participant{ID: waiting.You.ID}})
	waitType(ctx, t, cust, signaling.TypeAdmitted, nil)
	if _, err := cust.Join(ctx, room, "Wei"); err != nil {
		t.Fatalf("join after being admitted: %v", err)
	}
	waitType(ctx, t, agent, signaling.TypeParticipantJoined, func(m signaling.Message) bool { return m.Participant.Name == "Wei" })

	other := dialURL(ctx, t, url)
	_ = other.Send(signaling.Message{Type: signaling.TypeJoin, Room: room, Name: "Dana", Token: "cust2"})
	w2 := waitType(ctx, t, other, signaling.TypeWaiting, nil)
	_ = agent.Send(signaling.Message{Type: signaling.TypeDecline, Participant: &signaling.Participant{ID: w2.You.ID}})
	if m := waitType(ctx, t, other, signaling.TypeError, nil); m.Code != signaling.CodeDeclined {
		t.Errorf("declined customer got %+v", m)
	}
	waitType(ctx, t, agent, signaling.TypeDeclined, nil)

	_ = agent.Send(signaling.Message{Type: signaling.TypeEnd})
	for _, c := range []*client.Client{agent, cust} {
		if m := waitType(ctx, t, c, signaling.TypeBye, nil); m.Reason != signaling.ReasonCallEnded {
			t.Errorf("bye reason %q", m.Reason)
		}
	}
	for _, want := range []string{"joined Amira", "knocked Wei", "admitted Wei by Amira", "joined Wei",
		"knocked Dana", "declined Dana by Amira", "ended by Amira"} {
		if !rec.has(want) {
			t.Errorf("the record was not told %q; got %q", want, rec.got)
		}
	}
	// Rejoining an ended call is refused by the Authorizer (the call's
	// links and sessions are revoked in the record): cmd's call tests
	// check that with the real one.
}

// TestCallEndsWhenLastStaffLeaves: the agent hands over to a specialist
// and leaves: the call goes on; when the specialist leaves too, the
// customer is told the call ended.
func TestCallEndsWhenLastStaffLeaves(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	room := uuid.NewString()
	rec := &steps{}
	url, _ := startCallServer(t, room, rec)
	join := func(token string) *client.Client {
		c := dialURL(ctx, t, url)
		_ = c.Send(signaling.Message{Type: signaling.TypeJoin, Room: room, Name: "x", Token: token})
		return c
	}
	agent := join("agent")
	waitType(ctx, t, agent, signaling.TypeJoined, nil)
	spec := join("spec")
	waitType(ctx, t, spec, signaling.TypeJoined, nil)
	cust := join("cust")
	w := waitType(ctx, t, cust, signaling.TypeWaiting, nil)
	// Both staff hear the knock; the specialist admits.
	waitType(ctx, t, agent, signaling.TypeKnock, nil)
	waitType(ctx, t, spec, signaling.TypeKnock, nil)
	_ = spec.Send(signaling.Message{Type: signaling.TypeAdmit, Participant: &signaling.Participant{ID: w.You.ID}})
	waitType(ctx, t, cust, signaling.TypeAdmitted, nil)
	if _, err := cust.Join(ctx, room, "Wei"); err != nil {
		t.Fatal(err)
	}
	_ = agent.Leave()
	waitType(ctx, t, cust, signaling.TypeParticipantLeft, func(m signaling.Message) bool { return m.Participant.Name == "Amira" })
	if rec.has("ended by Amira") {
		t.Fatal("the call ended although the specialist is still in it")
	}
	_ = spec.Leave()
	if m := waitType(ctx, t, cust, signaling.TypeBye, nil); m.Reason != signaling.ReasonCallEnded {
		t.Errorf("bye %+v", m)
	}
	eventually(t, 5*time.Second, "the record hears the call ended", func() bool { return rec.has("ended by Dr Chen") })
}

// TestOneDeviceAtATime: a customer link in use on one device is refused
// on a second, until the first has gone; a call ended from outside (the
// REST API) disconnects everyone.
func TestOneDeviceAtATime(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	room := uuid.NewString()
	rec := &steps{}
	url, srv := startCallServer(t, room, rec)
	join := func(token string) *client.Client {
		c := dialURL(ctx, t, url)
		_ = c.Send(signaling.Message{Type: signaling.TypeJoin, Room: room, Name: "x", Token: token})
		return c
	}
	phone := join("phone")
	waitType(ctx, t, phone, signaling.TypeWaiting, nil)
	laptop := join("laptop")
	if m := waitType(ctx, t, laptop, signaling.TypeError, nil); m.Code != signaling.CodeLinkInUse {
		t.Fatalf("second device: %+v, want %s", m, signaling.CodeLinkInUse)
	}
	_ = phone.Leave()
	eventually(t, 5*time.Second, "the seat is free again", func() bool {
		c := join("laptop")
		m, err := c.WaitFor(ctx, func(m signaling.Message) bool {
			return m.Type == signaling.TypeWaiting || m.Type == signaling.TypeError
		})
		return err == nil && m.Type == signaling.TypeWaiting
	})
	agent := join("agent")
	waitType(ctx, t, agent, signaling.TypeJoined, nil)
	if !srv.EndCall(room) {
		t.Fatal("EndCall found no call")
	}
	if m := waitType(ctx, t, agent, signaling.TypeBye, nil); m.Reason != signaling.ReasonCallEnded {
		t.Errorf("bye %+v", m)
	}
	if srv.EndCall(room) {
		t.Error("a call ended twice")
	}
	if rec.has("ended by Amira") {
		t.Error("an end decided outside was reported back as the agent's")
	}
}
