package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"videosupport/store"
)

var agent = store.Actor{ID: "s-1", Name: "Amira", Role: store.RoleAgent}

func testCalls(t *testing.T, open func() store.Store) {
	ctx := context.Background()
	s := mustOpen(t, open)
	c := newConversation(t, s, "my card was charged twice")
	if _, err := s.ActiveCall(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ActiveCall before any call: %v, want ErrNotFound", err)
	}
	call, e, err := s.StartCall(ctx, store.Call{ConversationID: c.ID, StartedBy: agent.ID, StartedByName: agent.Name},
		store.Event{Type: store.EventCallStarted, Actor: agent, Data: []byte(`{"callId":"x"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if call.ID == "" || call.Status != store.CallActive || call.StartedAt.IsZero() || e.Seq != c.LastSeq+1 || e.Type != store.EventCallStarted {
		t.Fatalf("StartCall = %+v, %+v", call, e)
	}
	got, err := s.Call(ctx, call.ID)
	if err != nil || got.ConversationID != c.ID || got.StartedByName != agent.Name || !got.StartedAt.Equal(call.StartedAt) {
		t.Fatalf("Call = %+v, %v; want %+v", got, err, call)
	}
	if a, err := s.ActiveCall(ctx, c.ID); err != nil || a.ID != call.ID {
		t.Fatalf("ActiveCall = %+v, %v", a, err)
	}
	ended, e2, err := s.EndCall(ctx, call.ID, store.Event{Type: store.EventCallEnded, Actor: agent})
	if err != nil || ended.Status != store.CallEnded || ended.EndedAt == nil || e2.Seq != e.Seq+1 {
		t.Fatalf("EndCall = %+v, %+v, %v", ended, e2, err)
	}
	if _, _, err := s.EndCall(ctx, call.ID, store.Event{Type: store.EventCallEnded, Actor: agent}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second EndCall: %v, want ErrConflict", err)
	}
	events, _ := s.Events(ctx, c.ID, 0, 100)
	ends := 0
	for _, ev := range events {
		if ev.Type == store.EventCallEnded {
			ends++
		}
	}
	if ends != 1 {
		t.Fatalf("the record holds %d call.ended events, want 1", ends)
	}
	if _, err := s.ActiveCall(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ActiveCall after the end: %v, want ErrNotFound", err)
	}
	if _, err := s.Call(ctx, "no-such-call"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Call(unknown): %v", err)
	}
	if _, _, err := s.StartCall(ctx, store.Call{ConversationID: "c-nobody"}, store.Event{Type: store.EventCallStarted, Actor: agent}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("StartCall on an unknown conversation: %v, want ErrNotFound", err)
	}
	// A new call after the first ended is fine, and survives a restart.
	again, _, err := s.StartCall(ctx, store.Call{ConversationID: c.ID}, store.Event{Type: store.EventCallStarted, Actor: agent})
	if err != nil {
		t.Fatal(err)
	}
	s2 := mustOpen(t, open)
	if a, err := s2.ActiveCall(ctx, c.ID); err != nil || a.ID != again.ID {
		t.Fatalf("after reopening, ActiveCall = %+v, %v; want %s", a, err, again.ID)
	}
}

// Two agents pressing "Start video" at once get one call between them.
func testOneCallAtATime(t *testing.T, open func() store.Store) {
	ctx := context.Background()
	s := mustOpen(t, open)
	c := newConversation(t, s, "")
	const n = 8
	var wg sync.WaitGroup
	ids := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			call, _, err := s.StartCall(ctx, store.Call{ConversationID: c.ID}, store.Event{Type: store.EventCallStarted, Actor: agent})
			ids[i], errs[i] = call.ID, err
		}()
	}
	wg.Wait()
	started := 0
	for i := range n {
		switch {
		case errs[i] == nil:
			started++
		case errors.Is(errs[i], store.ErrConflict):
		default:
			t.Fatalf("StartCall: %v", errs[i])
		}
	}
	if started != 1 {
		t.Fatalf("%d calls started at once, want 1", started)
	}
	for i := range n {
		if ids[i] != ids[0] {
			t.Fatalf("racing starts saw calls %s and %s, want the one call", ids[0], ids[i])
		}
	}
	events, _ := s.Events(ctx, c.ID, 0, 100, store.EventCallStarted)
	if len(events) != 1 {
		t.Fatalf("%d call.started events, want 1", len(events))
	}
}

func testVideoQueue(t *testing.T, open func() store.Store) {
	ctx := context.Background()
	s := mustOpen(t, open)
	a := newConversation(t, s, "")
	b := newConversation(t, s, "")
	ask := func(id string) error {
		_, err := s.RequestVideo(ctx, id, store.Event{Type: store.EventVideoRequested, Actor: customer})
		return err
	}
	if err := ask(a.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // distinct request times, so the order is defined
	if err := ask(b.ID); err != nil {
		t.Fatal(err)
	}
	if err := ask(a.ID); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("asking twice: %v, want ErrConflict", err)
	}
	if err := ask("c-nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("asking for an unknown conversation: %v, want ErrNotFound", err)
	}
	q, err := s.VideoQueue(ctx)
	if err != nil || len(q) != 2 || q[0].ConversationID != a.ID || q[1].ConversationID != b.ID || q[0].CustomerName != "Wei" {
		t.Fatalf("VideoQueue = %+v, %v; want a then b", q, err)
	}
	if !q[0].WaitingSince.Equal(q[0].RequestedAt) || q[0].OfferedAt != nil {
		t.Fatalf("a fresh request: %+v", q[0])
	}

	// The callback offer is made once, however many nodes try.
	offer := func() error {
		_, err := s.OfferCallback(ctx, a.ID, store.Event{Type: store.EventCallbackOffered, Actor: store.Actor{Name: "system", Role: store.RoleSystem}})
		return err
	}
	if err := offer(); err != nil {
		t.Fatal(err)
	}
	if err := offer(); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second offer: %v, want ErrConflict", err)
	}
	q, _ = s.VideoQueue(ctx)
	if q[0].OfferedAt == nil {
		t.Fatalf("after the offer: %+v", q[0])
	}
	// Keeping waiting keeps the place and restarts the wait.
	if _, err := s.RenewVideoRequest(ctx, a.ID, store.Event{Type: store.EventKeptWaiting, Actor: customer}); err != nil {
		t.Fatal(err)
	}
	q, _ = s.VideoQueue(ctx)
	if q[0].ConversationID != a.ID || q[0].OfferedAt != nil || !q[0].WaitingSince.After(q[0].RequestedAt) {
		t.Fatalf("after keeping waiting: %+v", q[0])
	}

	// Starting a call takes the conversation out of the queue.
	if _, _, err := s.StartCall(ctx, store.Call{ConversationID: a.ID}, store.Event{Type: store.EventCallStarted, Actor: agent}); err != nil {
		t.Fatal(err)
	}
	q, _ = s.VideoQueue(ctx)
	if len(q) != 1 || q[0].ConversationID != b.ID {
		t.Fatalf("after a's call started: %+v, want b alone", q)
	}
	if _, err := s.LeaveVideoQueue(ctx, b.ID, store.Event{Type: store.EventVideoWithdrawn, Actor: customer}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LeaveVideoQueue(ctx, b.ID, store.Event{Type: store.EventVideoWithdrawn, Actor: customer}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("leaving twice: %v, want ErrNotFound", err)
	}
	if _, err := s.OfferCallback(ctx, b.ID, store.Event{Type: store.EventCallbackOffered}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("offering to a request that is gone: %v, want ErrConflict", err)
	}
	q, _ = s.VideoQueue(ctx)
	if len(q) != 0 {
		t.Fatalf("queue left: %+v", q)
	}
	// Each change that happened is in the record, once.
	want := map[string][]string{
		a.ID: {store.EventVideoRequested, store.EventCallbackOffered, store.EventKeptWaiting, store.EventCallStarted},
		b.ID: {store.EventVideoRequested, store.EventVideoWithdrawn},
	}
	for id, types := range want {
		events, _ := s.Events(ctx, id, 1, 100)
		var got []string
		for _, e := range events {
			got = append(got, e.Type)
		}
		if len(got) != len(types) {
			t.Fatalf("%s record: %v, want %v", id, got, types)
		}
		for i := range types {
			if got[i] != types[i] {
				t.Fatalf("%s record: %v, want %v", id, got, types)
			}
		}
	}
}
