package signaling_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pion/webrtc/v4"

	"videosupport/signaling"
	"videosupport/signaling/client"
)

func dial(ctx context.Context, t *testing.T, ts *testServer) *client.Client {
	t.Helper()
	api, err := client.NewAPI()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(ctx, ts.url, api, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func waitType(ctx context.Context, t *testing.T, c *client.Client, typ string, match func(signaling.Message) bool) signaling.Message {
	t.Helper()
	m, err := c.WaitFor(ctx, func(m signaling.Message) bool { return m.Type == typ && (match == nil || match(m)) })
	if err != nil {
		t.Fatalf("waiting for %s: %v", typ, err)
	}
	return m
}

// TestVanishedParticipantIsReportedGone covers both ways a phone drops
// out: its connection is cut, or its network dies and the socket just goes
// silent. Either way the others hear within 15 s, and the room closes when
// the last one is gone.
func TestVanishedParticipantIsReportedGone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		vanish func(*client.Client)
	}{
		{"connection cut", (*client.Client).Vanish},
		{"silent", (*client.Client).Freeze},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			ts := startServer(t)
			room, _ := ts.rooms.Create()
			a, b := dial(ctx, t, ts), dial(ctx, t, ts)
			if _, err := a.Join(ctx, room, "Agent"); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Join(ctx, room, "Customer"); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			tc.vanish(b)
			m := waitType(ctx, t, a, signaling.TypeParticipantLeft, nil)
			took := time.Since(start)
			t.Logf("%s: reported gone after %v", tc.name, took.Round(time.Millisecond))
			if m.Participant.ID != b.ID || m.Reason != signaling.ReasonGone {
				t.Errorf("got %+v %q, want %s gone", m.Participant, m.Reason, b.ID)
			}
			if took > 15*time.Second {
				t.Errorf("took %v to notice, want at most 15s", took)
			}
			if err := a.Leave(); err != nil {
				t.Fatal(err)
			}
			eventually(t, 5*time.Second, "the empty room is closed", func() bool { return ts.srv.Rooms() == 0 })
		})
	}
}

// TestLeaveUnpublishes checks that a leaver's tracks leave the others'
// connections too: they get participant-left, track-unpublished and a new
// offer without those tracks.
func TestLeaveUnpublishes(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ts := startServer(t)
	room, _ := ts.rooms.Create()
	frames, pkts, index, packets := testMedia(t)
	a := join(ctx, t, ts, room, "Agent", index, packets)
	b := join(ctx, t, ts, room, "Customer", index, packets)
	b.publish(ctx, t, frames, pkts)
	eventually(t, 10*time.Second, "agent receives the customer's video", func() bool {
		a.got.mu.Lock()
		defer a.got.mu.Unlock()
		return len(a.got.frames[b.ID]) > 0
	})
	if err := b.Leave(); err != nil {
		t.Fatal(err)
	}
	left := waitType(ctx, t, a.Client, signaling.TypeParticipantLeft, nil)
	if left.Reason != signaling.ReasonLeft || left.Participant.Name != "Customer" {
		t.Errorf("participant-left = %+v %q", left.Participant, left.Reason)
	}
	for _, kind := range []string{"audio", "video"} {
		waitType(ctx, t, a.Client, signaling.TypeTrackUnpublished, func(m signaling.Message) bool { return m.Track.Kind == kind })
	}
	eventually(t, 10*time.Second, "agent's subscribe connection no longer receives anything", func() bool {
		for _, tr := range a.Sub.GetTransceivers() {
			if tr.Direction() != webrtc.RTPTransceiverDirectionInactive {
				return false
			}
		}
		return a.Sub.SignalingState() == webrtc.SignalingStateStable
	})
}

// TestBadInput sends every kind of bad frame: each gets an error frame
// with the right code, and afterwards the same connection still joins,
// publishes and is heard.
func TestBadInput(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ts := startServer(t)
	room, _ := ts.rooms.Create()
	c := dial(ctx, t, ts)

	before := []struct {
		name, frame, code string
	}{
		{"not json", `{"type": "join",`, signaling.CodeBadMessage},
		{"not an object", `[1,2,3]`, signaling.CodeBadMessage},
		{"no type", `{"room": "x"}`, signaling.CodeBadMessage},
		{"wrong field type", `{"type": "join", "room": 7}`, signaling.CodeBadMessage},
		{"unknown type", `{"type": "teleport"}`, signaling.CodeUnknownType},
		{"oversize", `{"type": "join", "name": "` + strings.Repeat("x", 70<<10) + `"}`, signaling.CodeTooLarge},
		{"offer before join", `{"type": "offer", "pc": "publish", "sdp": "v=0"}`, signaling.CodeNotJoined},
		{"leave before join", `{"type": "leave"}`, signaling.CodeNotJoined},
		{"join without name", `{"type": "join", "room": "` + room + `", "name": "  "}`, signaling.CodeBadMessage},
		{"sql in name field of bad join", `{"type": "join", "name": "x'; DROP TABLE rooms; --"}`, signaling.CodeBadMessage},
	}
	check := func(name, frame, code string) {
		t.Helper()
		n := c.Len()
		if err := c.SendRaw([]byte(frame)); err != nil {
			t.Fatalf("%s: send: %v", name, err)
		}
		m, err := c.WaitFrom(ctx, n, func(m signaling.Message) bool { return m.Type == signaling.TypeError })
		if err != nil {
			t.Fatalf("%s: no error frame: %v", name, err)
		}
		if m.Code != code || m.Message == "" {
			t.Errorf("%s: got %+v, want error %s", name, m, code)
		}
	}
	for _, tc := range before {
		check(tc.name, tc.frame, tc.code)
	}
	if _, err := c.Join(ctx, room, "Customer"); err != nil {
		t.Fatal(err)
	}
	after := []struct {
		name, frame, code string
	}{
		{"second join", `{"type": "join", "room": "` + room + `", "name": "Again"}`, signaling.CodeAlreadyJoined},
		{"answer with no offer pending", `{"type": "answer", "pc": "subscribe", "sdp": "v=0"}`, signaling.CodeOutOfOrder},
		{"offer for subscribe", `{"type": "offer", "pc": "subscribe", "sdp": "v=0"}`, signaling.CodeOutOfOrder},
		{"garbage sdp", `{"type": "offer", "pc": "publish", "sdp": "hello"}`, signaling.CodeNegotiationFailed},
		{"candidate without candidate", `{"type": "candidate", "pc": "publish"}`, signaling.CodeBadMessage},
		{"candidate for unknown pc", `{"type": "candidate", "pc": "sideways", "candidate": {"candidate": "x"}}`, signaling.CodeBadMessage},
		{"mute of a kind that is not", `{"type": "mute", "kind": "smell", "muted": true}`, signaling.CodeBadMessage},
		{"binary-looking text", "\x00\x01\x02", signaling.CodeBadMessage},
	}
	for _, tc := range after {
		check(tc.name, tc.frame, tc.code)
	}

	// The room is not wedged: this connection still publishes and a
	// newcomer receives its media.
	frames, pkts, index, packets := testMedia(t)
	p := &participant{Client: c, name: "Customer"}
	p.publish(ctx, t, frames, pkts)
	o := join(ctx, t, ts, room, "Agent", index, packets)
	eventually(t, 10*time.Second, "media flows after bad input", func() bool {
		o.got.mu.Lock()
		defer o.got.mu.Unlock()
		return len(o.got.frames[c.ID]) > 5
	})
}

// TestJoinRefusals: rooms that do not exist, and a full room, are refused
// with a code the page translates, and the socket is closed.
func TestJoinRefusals(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ts := startServer(t)
	for _, tc := range []struct{ name, room, code string }{
		{"never created", uuid.NewString(), signaling.CodeRoomNotFound},
		{"not a uuid", "../../etc/passwd", signaling.CodeRoomNotFound},
		{"empty", " ", signaling.CodeRoomNotFound},
	} {
		c := dial(ctx, t, ts)
		m, err := c.Join(ctx, tc.room, "Guest")
		if err == nil || m.Code != tc.code {
			t.Errorf("%s: got %+v, %v; want %s", tc.name, m, err, tc.code)
		}
		if _, err := c.WaitFor(ctx, func(signaling.Message) bool { return false }); err == nil || ctx.Err() != nil {
			t.Errorf("%s: socket still open after a refused join", tc.name)
		}
	}
	if ts.srv.Rooms() != 0 {
		t.Errorf("refused joins left %d rooms open", ts.srv.Rooms())
	}
}

// TestMuteIsAnnounced: a mute reaches the others and is in the roster a
// newcomer gets.
func TestMuteIsAnnounced(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ts := startServer(t)
	room, _ := ts.rooms.Create()
	a, b := dial(ctx, t, ts), dial(ctx, t, ts)
	if _, err := a.Join(ctx, room, "Agent"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Join(ctx, room, "Customer"); err != nil {
		t.Fatal(err)
	}
	muted := true
	if err := b.Send(signaling.Message{Type: signaling.TypeMute, Kind: "video", Muted: &muted}); err != nil {
		t.Fatal(err)
	}
	m := waitType(ctx, t, a, signaling.TypeMute, nil)
	if m.Participant.ID != b.ID || m.Kind != "video" || !*m.Muted || !m.Participant.VideoMuted {
		t.Errorf("mute frame = %+v", m)
	}
	c := dial(ctx, t, ts)
	joined, err := c.Join(ctx, room, "Specialist")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range joined.Participants {
		if p.ID == b.ID && !p.VideoMuted {
			t.Errorf("newcomer sees %+v, want video muted", p)
		}
	}
}

// TestShutdownSaysBye: on shutdown every participant gets bye and its
// socket closes.
func TestShutdownSaysBye(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ts := startServer(t)
	room, _ := ts.rooms.Create()
	a := dial(ctx, t, ts)
	if _, err := a.Join(ctx, room, "Agent"); err != nil {
		t.Fatal(err)
	}
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	m := waitType(ctx, t, a, signaling.TypeBye, nil)
	if m.Reason != signaling.ReasonServerShutdown {
		t.Errorf("bye reason %q", m.Reason)
	}
	if ts.srv.Rooms() != 0 {
		t.Errorf("%d rooms open after shutdown", ts.srv.Rooms())
	}
}

// TestEmptyRoomIsFreed: when everybody has left, the room is gone and so
// is every goroutine it started (forwarders, RTCP readers, Pion's).
// Not parallel: it counts the process's goroutines.
func TestEmptyRoomIsFreed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ts := startServer(t)
	frames, pkts, index, packets := testMedia(t)
	baseline := runtime.NumGoroutine()

	room, _ := ts.rooms.Create()
	pctx, stopMedia := context.WithCancel(ctx)
	a := join(pctx, t, ts, room, "Agent", index, packets)
	b := join(pctx, t, ts, room, "Customer", index, packets)
	a.publish(pctx, t, frames, pkts)
	b.publish(pctx, t, frames, pkts)
	eventually(t, 10*time.Second, "media flows both ways", func() bool {
		a.got.mu.Lock()
		defer a.got.mu.Unlock()
		b.got.mu.Lock()
		defer b.got.mu.Unlock()
		return len(a.got.frames[b.ID]) > 5 && len(b.got.frames[a.ID]) > 5
	})
	stopMedia()
	// The customer's phone loses its network: only the server can tear
	// its media down. The agent says goodbye.
	b.DropSignaling()
	_ = a.Leave()
	eventually(t, 5*time.Second, "the room closes", func() bool { return ts.srv.Rooms() == 0 })
	eventually(t, 5*time.Second, "the server closes every peer connection", func() bool { return ts.transport.PeerConnections() == 0 })
	b.Close()
	eventually(t, 10*time.Second, "goroutines return to the baseline", func() bool {
		return runtime.NumGoroutine() <= baseline
	})
}
