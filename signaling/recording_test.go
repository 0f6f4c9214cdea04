package signaling_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"videosupport/sfu"
	"videosupport/signaling"
	"videosupport/signaling/client"
)

// consents is a RecordingControl that remembers what it was told. The
// real one (wired in cmd) records media; here the subject is what
// signaling tells people and the control.
type consents struct {
	mu  sync.Mutex
	got []string
}

func (c *consents) add(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, s)
}

func (c *consents) StartRecording(_ context.Context, g signaling.Grant, by signaling.Participant) (sfu.Recorder, error) {
	c.add("start by " + by.Name)
	return nil, nil
}

func (c *consents) StopRecording(_ context.Context, g signaling.Grant, by signaling.Participant) {
	c.add("stop by " + by.Name)
}

func (c *consents) Consent(_ context.Context, g signaling.Grant, who signaling.Participant, agreed bool, version string) {
	answer := "declined"
	if agreed {
		answer = "agreed"
	}
	c.add(who.Name + " " + answer + " v" + version)
}

func (c *consents) lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.got...)
}

// TestRecordingConsent: staff start recording; everyone in the call is
// asked (the starter has agreed by starting); answers reach everyone and
// the control; a late joiner learns of it on joining; a customer cannot
// start it; the end of the call stops it.
func TestRecordingConsent(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	room := uuid.NewString()
	ctl := &consents{}
	url, _ := startCallServer(t, room, &steps{}, func(c *signaling.Config) {
		c.Recording, c.ConsentVersion = ctl, "2026-11"
	})
	join := func(token string) *client.Client {
		c := dialURL(ctx, t, url)
		_ = c.Send(signaling.Message{Type: signaling.TypeJoin, Room: room, Name: "x", Token: token})
		return c
	}
	agent := join("agent")
	waitType(ctx, t, agent, signaling.TypeJoined, nil)
	cust := join("cust")
	w := waitType(ctx, t, cust, signaling.TypeWaiting, nil)
	_ = agent.Send(signaling.Message{Type: signaling.TypeAdmit, Participant: &signaling.Participant{ID: w.You.ID}})
	waitType(ctx, t, cust, signaling.TypeAdmitted, nil)
	if _, err := cust.Join(ctx, room, "Wei"); err != nil {
		t.Fatal(err)
	}
	on, off := true, false

	// A customer cannot start it.
	n := cust.Len()
	_ = cust.Send(signaling.Message{Type: signaling.TypeRecord, On: &on})
	if m, _ := cust.WaitFrom(ctx, n, func(m signaling.Message) bool { return m.Type == signaling.TypeError }); m.Code != signaling.CodeForbidden {
		t.Fatalf("customer starting a recording: %+v", m)
	}
	// Consent with nothing recorded is out of order.
	n = cust.Len()
	_ = cust.Send(signaling.Message{Type: signaling.TypeConsent, Consent: "agree", Version: "2026-11"})
	if m, _ := cust.WaitFrom(ctx, n, func(m signaling.Message) bool { return m.Type == signaling.TypeError }); m.Code != signaling.CodeOutOfOrder {
		t.Fatalf("consent while not recording: %+v", m)
	}

	_ = agent.Send(signaling.Message{Type: signaling.TypeRecord, On: &on})
	for _, c := range []*client.Client{agent, cust} {
		m := waitType(ctx, t, c, signaling.TypeRecording, nil)
		if !m.Recording.On || m.Recording.By != "Amira" || m.Recording.Version != "2026-11" {
			t.Fatalf("recording message %+v", m.Recording)
		}
		for _, p := range m.Participants {
			want := ""
			if p.Name == "Amira" {
				want = signaling.ConsentAgreed
			}
			if p.Consent != want {
				t.Errorf("%s's consent shows %q, want %q", p.Name, p.Consent, want)
			}
		}
	}
	// Starting twice is refused.
	n = agent.Len()
	_ = agent.Send(signaling.Message{Type: signaling.TypeRecord, On: &on})
	if m, _ := agent.WaitFrom(ctx, n, func(m signaling.Message) bool { return m.Type == signaling.TypeError }); m.Code != signaling.CodeOutOfOrder {
		t.Fatalf("second start: %+v", m)
	}
	// An answer to an old text is refused; the current one is told to all.
	n = cust.Len()
	_ = cust.Send(signaling.Message{Type: signaling.TypeConsent, Consent: "agree", Version: "2025-01"})
	if m, _ := cust.WaitFrom(ctx, n, func(m signaling.Message) bool { return m.Type == signaling.TypeError }); m.Code != signaling.CodeBadMessage {
		t.Fatalf("consent to an old version: %+v", m)
	}
	_ = cust.Send(signaling.Message{Type: signaling.TypeConsent, Consent: "decline", Version: "2026-11"})
	m := waitType(ctx, t, agent, signaling.TypeConsent, nil)
	if m.Participant.Name != "Wei" || m.Participant.Consent != signaling.ConsentDeclined {
		t.Fatalf("the agent is told %+v", m.Participant)
	}

	// A late joiner learns on joining, and is asked.
	spec := join("spec")
	j := waitType(ctx, t, spec, signaling.TypeJoined, nil)
	if j.Recording == nil || !j.Recording.On {
		t.Fatalf("late joiner's joined: %+v", j.Recording)
	}
	for _, p := range j.Participants {
		if p.Name == "Wei" && p.Consent != signaling.ConsentDeclined {
			t.Errorf("late joiner sees Wei's consent as %q", p.Consent)
		}
	}
	_ = spec.Send(signaling.Message{Type: signaling.TypeConsent, Consent: "agree", Version: "2026-11"})
	waitType(ctx, t, agent, signaling.TypeConsent, func(m signaling.Message) bool { return m.Participant.Name == "Dr Chen" })

	_ = agent.Send(signaling.Message{Type: signaling.TypeRecord, On: &off})
	if m := waitType(ctx, t, cust, signaling.TypeRecording, func(m signaling.Message) bool { return !m.Recording.On }); m.Recording.By != "Amira" {
		t.Errorf("stop message %+v", m.Recording)
	}
	_ = agent.Send(signaling.Message{Type: signaling.TypeRecord, On: &on})
	waitType(ctx, t, cust, signaling.TypeRecording, func(m signaling.Message) bool { return m.Recording.On })
	_ = agent.Send(signaling.Message{Type: signaling.TypeEnd})
	waitType(ctx, t, cust, signaling.TypeBye, nil)
	eventually(t, 5*time.Second, "the end of the call stops the recording", func() bool {
		return len(ctl.lines()) == 8
	})
	want := []string{"start by Amira", "Amira agreed v2026-11", "Wei declined v2026-11", "Dr Chen agreed v2026-11",
		"stop by Amira", "start by Amira", "Amira agreed v2026-11", "stop by Amira"}
	got := ctl.lines()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("the control was told %q, want %q", got, want)
		}
	}
}
