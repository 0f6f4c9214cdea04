// Package storetest is the contract every store backend passes: one suite,
// run against SQLite and against a real PostgreSQL, so a backend is done
// only when it behaves exactly like the others.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"videosupport/store"
)

// Backend makes a fresh, empty database for one test and returns a
// function that opens it; calling it again opens the same database anew,
// as a restarted server would.
type Backend func(t *testing.T) (open func() store.Store)

// Run runs the whole contract against a backend.
func Run(t *testing.T, b Backend) {
	for _, tc := range []struct {
		name string
		f    func(*testing.T, func() store.Store)
	}{
		{"Conversations", testConversations},
		{"ConcurrentWriters", testConcurrentWriters},
		{"ClientIDIsIdempotent", testClientID},
		{"UpdateAndList", testUpdateAndList},
		{"TextRoundTrips", testTextRoundTrips},
		{"Accounts", testAccounts},
		{"Webhooks", testWebhooks},
		{"SurvivesRestart", testSurvivesRestart},
		{"Calls", testCalls},
		{"OneCallAtATime", testOneCallAtATime},
		{"VideoQueue", testVideoQueue},
		{"Recordings", testRecordings},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			open := b(t)
			tc.f(t, open)
		})
	}
}

func mustOpen(t *testing.T, open func() store.Store) store.Store {
	t.Helper()
	s := open()
	t.Cleanup(func() { _ = s.Close() })
	return s
}

var customer = store.Actor{Name: "Wei", Role: store.RoleCustomer}

func newConversation(t *testing.T, s store.Store, first string) store.Conversation {
	t.Helper()
	c, events, err := s.CreateConversation(context.Background(), store.Conversation{
		CustomerName: "Wei", Channel: "web", Status: store.StatusWaiting, Handler: store.HandlerHuman,
		CustomerTokenHash: []byte{1, 2, 3},
	}, customer, first)
	if err != nil {
		t.Fatal(err)
	}
	want := 1
	if first != "" {
		want = 2
	}
	if len(events) != want || c.LastSeq != int64(want) {
		t.Fatalf("created with %d events, last seq %d; want %d", len(events), c.LastSeq, want)
	}
	return c
}

func testConversations(t *testing.T, open func() store.Store) {
	ctx := context.Background()
	s := mustOpen(t, open)
	c := newConversation(t, s, "My card was declined")
	got, err := s.Conversation(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.CustomerName != "Wei" || got.LastMessage != "My card was declined" || string(got.CustomerTokenHash) != "\x01\x02\x03" || got.Status != store.StatusWaiting {
		t.Errorf("read back %+v", got)
	}
	if _, err := s.Conversation(ctx, "c-nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing conversation: %v, want ErrNotFound", err)
	}
	if _, err := s.Append(ctx, store.Event{ConversationID: "c-nope", Type: store.EventMessage, Body: "x"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("append to missing conversation: %v, want ErrNotFound", err)
	}
	agent := store.Actor{ID: "s-1", Name: "Amira", Role: store.RoleAgent}
	note, err := s.Append(ctx, store.Event{ConversationID: c.ID, Type: store.EventNote, Actor: agent, Body: "check the fraud flag",
		Data: json.RawMessage(`{"k":"v"}`)})
	if err != nil {
		t.Fatal(err)
	}
	reply, err := s.Append(ctx, store.Event{ConversationID: c.ID, Type: store.EventMessage, Actor: agent, Body: "Let me check."})
	if err != nil {
		t.Fatal(err)
	}
	if note.Seq != 3 || reply.Seq != 4 || note.ID == "" || note.ID == reply.ID {
		t.Errorf("seqs %d, %d; ids %q %q", note.Seq, reply.Seq, note.ID, reply.ID)
	}
	all, err := s.Events(ctx, c.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for i, e := range all {
		if e.Seq != int64(i+1) {
			t.Errorf("event %d has seq %d", i, e.Seq)
		}
		types = append(types, e.Type)
	}
	if strings.Join(types, " ") != "conversation.created message note message" {
		t.Errorf("timeline %v", types)
	}
	if string(all[2].Data) != `{"k":"v"}` || all[2].Actor != agent {
		t.Errorf("note read back as %+v", all[2])
	}
	msgs, err := s.Events(ctx, c.ID, 2, 10, store.EventMessage)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Body != "Let me check." {
		t.Errorf("messages after 2: %+v", msgs)
	}
	c2, _ := s.Conversation(ctx, c.ID)
	if c2.LastMessage != "Let me check." || c2.LastSeq != 4 || !c2.UpdatedAt.After(c.CreatedAt.Add(-time.Second)) {
		t.Errorf("after appends: %+v", c2)
	}
}

// testConcurrentWriters: 50 writers posting to one conversation lose no
// message, get positions with no gaps, and each writer's messages keep
// their order.
func testConcurrentWriters(t *testing.T, open func() store.Store) {
	ctx := context.Background()
	s := mustOpen(t, open)
	c := newConversation(t, s, "")
	const writers, each = 50, 4
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_, err := s.Append(ctx, store.Event{ConversationID: c.ID, Type: store.EventMessage,
					Actor: store.Actor{Name: fmt.Sprint("w", w), Role: store.RoleAgent}, Body: fmt.Sprintf("%d/%d", w, i)})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent append: %v", err)
	}
	events, err := s.Events(ctx, c.ID, 1, 0, store.EventMessage)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != writers*each {
		t.Fatalf("%d messages stored, want %d", len(events), writers*each)
	}
	next := map[string]int{}
	for i, e := range events {
		if e.Seq != int64(i+2) {
			t.Fatalf("message %d at seq %d: a gap or a duplicate", i, e.Seq)
		}
		var w, n int
		fmt.Sscanf(e.Body, "%d/%d", &w, &n)
		if key := fmt.Sprint(w); n != next[key] {
			t.Fatalf("writer %d: message %d stored before %d", w, n, next[key])
		} else {
			next[key]++
		}
	}
}

func testClientID(t *testing.T, open func() store.Store) {
	ctx := context.Background()
	s := mustOpen(t, open)
	c := newConversation(t, s, "")
	e := store.Event{ConversationID: c.ID, Type: store.EventMessage, Actor: customer, Body: "hello?", ClientID: "k1"}
	first, err := s.Append(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Append(ctx, e)
	if !errors.Is(err, store.ErrConflict) || again.ID != first.ID || again.Seq != first.Seq {
		t.Errorf("retry: %+v, %v; want the first message and ErrConflict", again, err)
	}
	other := newConversation(t, s, "")
	if _, err := s.Append(ctx, store.Event{ConversationID: other.ID, Type: store.EventMessage, Actor: customer, Body: "x", ClientID: "k1"}); err != nil {
		t.Errorf("the same client id in another conversation: %v", err)
	}
	events, _ := s.Events(ctx, c.ID, 0, 0)
	if len(events) != 2 {
		t.Errorf("%d events, want created + one message", len(events))
	}
	if c2, _ := s.Conversation(ctx, c.ID); c2.LastSeq != 2 {
		t.Errorf("last seq %d after a deduplicated retry, want 2 (no gap)", c2.LastSeq)
	}
}

func testUpdateAndList(t *testing.T, open func() store.Store) {
	ctx := context.Background()
	s := mustOpen(t, open)
	a := newConversation(t, s, "first")
	b := newConversation(t, s, "second")
	open_, id, name := store.StatusOpen, "s-amira", "Amira"
	c, e, err := s.Update(ctx, a.ID, store.Change{Status: &open_, AssignedTo: &id, AssignedName: &name},
		store.Event{Type: store.EventAssigned, Actor: store.Actor{Name: "system", Role: store.RoleSystem}, Data: json.RawMessage(`{"staffId":"s-amira"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != store.StatusOpen || c.AssignedTo != id || c.AssignedName != name || e.Seq != 3 || e.ConversationID != a.ID {
		t.Errorf("updated %+v, event %+v", c, e)
	}
	if _, _, err := s.Update(ctx, "c-nope", store.Change{Status: &open_}, store.Event{Type: store.EventClosed}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update of a missing conversation: %v", err)
	}
	// a was touched last: it comes first.
	list, err := s.ListConversations(ctx, store.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID {
		t.Errorf("list order %v, want newest activity first", ids(list))
	}
	mine, _ := s.ListConversations(ctx, store.ListFilter{AssignedTo: id})
	waiting, _ := s.ListConversations(ctx, store.ListFilter{Statuses: []store.Status{store.StatusWaiting}})
	if len(mine) != 1 || mine[0].ID != a.ID || len(waiting) != 1 || waiting[0].ID != b.ID {
		t.Errorf("mine %v, waiting %v", ids(mine), ids(waiting))
	}
	bots, _ := s.ListConversations(ctx, store.ListFilter{Handler: store.HandlerBot})
	if len(bots) != 0 {
		t.Errorf("bot-handled: %v, want none", ids(bots))
	}
	// Unread: customer messages after the reader's mark.
	for _, body := range []string{"still there?", "hello?"} {
		if _, err := s.Append(ctx, store.Event{ConversationID: a.ID, Type: store.EventMessage, Actor: customer, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	unread := func() int {
		l, err := s.ListConversations(ctx, store.ListFilter{Reader: id, Statuses: []store.Status{store.StatusOpen}})
		if err != nil || len(l) != 1 {
			t.Fatalf("list for reader: %v %v", l, err)
		}
		return l[0].Unread
	}
	if n := unread(); n != 3 {
		t.Errorf("unread %d before any mark, want 3", n)
	}
	if err := s.MarkRead(ctx, a.ID, id, 4); err != nil {
		t.Fatal(err)
	}
	if n := unread(); n != 1 {
		t.Errorf("unread %d after reading to 4, want 1", n)
	}
	if err := s.MarkRead(ctx, a.ID, id, 2); err != nil {
		t.Fatal(err)
	}
	if n := unread(); n != 1 {
		t.Errorf("a mark never moves back: unread %d, want 1", n)
	}
}

func ids(cs []store.Conversation) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

// testTextRoundTrips: what people type comes back exactly, whatever it
// holds.
func testTextRoundTrips(t *testing.T, open func() store.Store) {
	ctx := context.Background()
	s := mustOpen(t, open)
	c := newConversation(t, s, "")
	for _, body := range []string{
		"Robert'); DROP TABLE events;--",
		`<script>alert("x")</script>`,
		"陈医生，你好 — مرحبا 👋",
		"? $1 :name @p %s \\ end",
		strings.Repeat("long ", 800),
	} {
		e, err := s.Append(ctx, store.Event{ConversationID: c.ID, Type: store.EventMessage, Actor: customer, Body: body})
		if err != nil {
			t.Fatalf("append %.20q: %v", body, err)
		}
		got, err := s.Events(ctx, c.ID, e.Seq-1, 1)
		if err != nil || len(got) != 1 || got[0].Body != body {
			t.Errorf("%.20q came back as %+v, %v", body, got, err)
		}
	}
}

func testAccounts(t *testing.T, open func() store.Store) {
	ctx := context.Background()
	s := mustOpen(t, open)
	st, err := s.CreateStaff(ctx, store.Staff{Email: " Amira@Example.com ", Name: "Amira", Role: store.RoleAgent, PasswordHash: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	if st.ID == "" || st.Email != "amira@example.com" || st.Availability != store.Away {
		t.Errorf("created %+v", st)
	}
	if _, err := s.CreateStaff(ctx, store.Staff{Email: "AMIRA@example.com", Name: "Other", Role: store.RoleAdmin, PasswordHash: "h"}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate email: %v, want ErrConflict", err)
	}
	byEmail, err := s.StaffByEmail(ctx, "amira@EXAMPLE.com")
	if err != nil || byEmail.ID != st.ID || byEmail.PasswordHash != "h1" {
		t.Errorf("by email: %+v %v", byEmail, err)
	}
	st.Availability, st.Role, st.Disabled = store.Online, store.RoleSpecialist, true
	if err := s.UpdateStaff(ctx, st); err != nil {
		t.Fatal(err)
	}
	byID, err := s.StaffByID(ctx, st.ID)
	if err != nil || byID.Availability != store.Online || byID.Role != store.RoleSpecialist || !byID.Disabled {
		t.Errorf("after update: %+v %v", byID, err)
	}
	if _, err := s.StaffByID(ctx, "s-nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing staff: %v", err)
	}
	if list, err := s.ListStaff(ctx); err != nil || len(list) != 1 {
		t.Errorf("list staff: %v %v", list, err)
	}

	live := store.Session{TokenHash: []byte("live-token-hash"), StaffID: st.ID, CSRFToken: "csrf", ExpiresAt: time.Now().Add(time.Hour)}
	old := store.Session{TokenHash: []byte("old-token-hash"), StaffID: st.ID, CSRFToken: "c", ExpiresAt: time.Now().Add(-time.Minute)}
	for _, ss := range []store.Session{live, old} {
		if err := s.CreateSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.SessionByHash(ctx, live.TokenHash); err != nil || got.StaffID != st.ID || got.CSRFToken != "csrf" {
		t.Errorf("live session: %+v %v", got, err)
	}
	if _, err := s.SessionByHash(ctx, old.TokenHash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired session: %v, want ErrNotFound", err)
	}
	if err := s.DeleteSession(ctx, live.TokenHash); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByHash(ctx, live.TokenHash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted session: %v", err)
	}

	k, err := s.CreateAPIKey(ctx, store.APIKey{ID: "k1", Name: "WhatsApp gateway", Role: store.RoleIntegration, Hash: []byte{9, 9}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.APIKeyByID(ctx, k.ID)
	if err != nil || string(got.Hash) != "\x09\x09" || got.RevokedAt != nil || got.Role != store.RoleIntegration {
		t.Errorf("api key: %+v %v", got, err)
	}
	if err := s.RevokeAPIKey(ctx, k.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.APIKeyByID(ctx, k.ID); got.RevokedAt == nil {
		t.Errorf("revoked key has no revocation time")
	}
	if err := s.RevokeAPIKey(ctx, k.ID, time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second revoke: %v, want ErrNotFound", err)
	}
	if keys, err := s.ListAPIKeys(ctx); err != nil || len(keys) != 1 {
		t.Errorf("list keys: %v %v", keys, err)
	}
}

func testWebhooks(t *testing.T, open func() store.Store) {
	ctx := context.Background()
	s := mustOpen(t, open)
	w1, err := s.CreateWebhook(ctx, store.Webhook{URL: "http://127.0.0.1:1/a", Events: []string{"message.created", "conversation.created"}, Secret: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	w2, err := s.CreateWebhook(ctx, store.Webhook{URL: "http://127.0.0.1:1/b", Events: []string{"call.started"}, Secret: "s2"})
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Enqueue(ctx, "message.created", func(id string) ([]byte, error) { return []byte(`{"id":"` + id + `"}`), nil })
	if err != nil || n != 1 {
		t.Fatalf("enqueue: %d, %v; want 1 (only w1 subscribes)", n, err)
	}
	due, err := s.Due(ctx, time.Now().Add(time.Second), 10)
	if err != nil || len(due) != 1 || due[0].WebhookID != w1.ID || string(due[0].Payload) != `{"id":"`+due[0].ID+`"}` {
		t.Fatalf("due: %+v %v", due, err)
	}
	d := due[0]
	d.Attempts, d.LastStatus, d.LastError, d.NextAttempt = 1, 500, "server error", time.Now().Add(time.Hour)
	if err := s.Attempted(ctx, d); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.Due(ctx, time.Now().Add(time.Second), 10); len(due) != 0 {
		t.Errorf("a delivery waiting for its retry is due: %+v", due)
	}
	now := time.Now()
	d.Status, d.Attempts, d.LastStatus, d.LastError, d.DeliveredAt = store.DeliveryDelivered, 2, 204, "", &now
	if err := s.Attempted(ctx, d); err != nil {
		t.Fatal(err)
	}
	log, err := s.Deliveries(ctx, w1.ID, 10)
	if err != nil || len(log) != 1 || log[0].Status != store.DeliveryDelivered || log[0].Attempts != 2 || log[0].DeliveredAt == nil {
		t.Errorf("delivery log: %+v %v", log, err)
	}
	if hooks, err := s.ListWebhooks(ctx); err != nil || len(hooks) != 2 || len(hooks[0].Events) != 2 || hooks[0].Secret != "s1" {
		t.Errorf("list webhooks: %+v %v", hooks, err)
	}
	if err := s.DeleteWebhook(ctx, w2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Webhook(ctx, w2.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted webhook: %v", err)
	}
}

// testSurvivesRestart: what was written is there after the database is
// opened anew, and the schema is not migrated twice.
func testSurvivesRestart(t *testing.T, open func() store.Store) {
	ctx := context.Background()
	s := open()
	c := newConversation(t, s, "before the restart")
	if _, err := s.CreateWebhook(ctx, store.Webhook{URL: "http://127.0.0.1:1/", Events: []string{"message.created"}, Secret: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enqueue(ctx, "message.created", func(string) ([]byte, error) { return []byte(`{}`), nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, open)
	events, err := s.Events(ctx, c.ID, 0, 0)
	if err != nil || len(events) != 2 || events[1].Body != "before the restart" {
		t.Errorf("after restart: %+v %v", events, err)
	}
	if due, err := s.Due(ctx, time.Now().Add(time.Second), 10); err != nil || len(due) != 1 {
		t.Errorf("queued delivery after restart: %+v %v", due, err)
	}
}
