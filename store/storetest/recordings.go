package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"videosupport/store"
)

func testRecordings(t *testing.T, open func() store.Store) {
	ctx := context.Background()
	s := mustOpen(t, open)
	c := newConversation(t, s, "")
	system := store.Actor{Name: "system", Role: store.RoleSystem}
	r, e, err := s.CreateRecording(ctx, store.Recording{ConversationID: c.ID, CallID: "call-1", Status: store.RecordingActive},
		store.Event{Type: store.EventRecordingStarted, Actor: agent})
	if err != nil {
		t.Fatal(err)
	}
	if r.ID == "" || r.StartedAt.IsZero() || e.Seq != c.LastSeq+1 || e.ConversationID != c.ID {
		t.Fatalf("CreateRecording = %+v, %+v", r, e)
	}
	got, err := s.Recording(ctx, r.ID)
	if err != nil || got.Status != store.RecordingActive || got.CallID != "call-1" || len(got.Participants) != 0 || !got.StartedAt.Equal(r.StartedAt) {
		t.Fatalf("Recording = %+v, %v", got, err)
	}

	// Processing, with progress, then ready: every field round-trips.
	r.Status, r.Progress = store.RecordingProcessing, 0.5
	if _, err := s.UpdateRecording(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Recording(ctx, r.ID); got.Progress != 0.5 || got.Status != store.RecordingProcessing {
		t.Fatalf("after progress: %+v", got)
	}
	ended := r.StartedAt.Add(90 * time.Second)
	r.Status, r.Progress, r.EndedAt, r.DurationMs = store.RecordingReady, 1, &ended, 90_000
	r.Participants, r.Size, r.SHA256, r.BlobKey, r.Interrupted = []string{"Wei", "Amira", "Dr 陈"}, 12_345_678, "ab12", "conversations/x/r.webm", true
	ready, err := s.UpdateRecording(ctx, r, &store.Event{Type: store.EventRecordingReady, Actor: system})
	if err != nil || ready.Type != store.EventRecordingReady || ready.ConversationID != c.ID || ready.Seq != e.Seq+1 {
		t.Fatalf("UpdateRecording with event = %+v, %v", ready, err)
	}
	got, _ = s.Recording(ctx, r.ID)
	if got.Status != store.RecordingReady || got.DurationMs != 90_000 || got.Size != 12_345_678 || got.SHA256 != "ab12" ||
		got.BlobKey != r.BlobKey || !got.Interrupted || got.EndedAt == nil || !got.EndedAt.Equal(ended) ||
		len(got.Participants) != 3 || got.Participants[2] != "Dr 陈" {
		t.Fatalf("after ready: %+v", got)
	}

	r2, _, err := s.CreateRecording(ctx, store.Recording{ConversationID: c.ID, CallID: "call-2", Status: store.RecordingActive,
		StartedAt: r.StartedAt.Add(time.Hour)}, store.Event{Type: store.EventRecordingStarted, Actor: agent})
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.ListRecordings(ctx, c.ID)
	if err != nil || len(list) != 2 || list[0].ID != r.ID || list[1].ID != r2.ID {
		t.Fatalf("ListRecordings = %+v, %v", list, err)
	}
	active, err := s.RecordingsByStatus(ctx, store.RecordingActive, store.RecordingProcessing)
	if err != nil || len(active) != 1 || active[0].ID != r2.ID {
		t.Fatalf("RecordingsByStatus(active, processing) = %+v, %v", active, err)
	}
	if _, err := s.Recording(ctx, "r-none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown recording: %v", err)
	}
	if _, err := s.UpdateRecording(ctx, store.Recording{ID: "r-none", ConversationID: c.ID}, &store.Event{Type: store.EventRecordingReady}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update unknown: %v", err)
	}
	// A failed update appends nothing.
	if events, _ := s.Events(ctx, c.ID, ready.Seq, 10); len(events) != 1 {
		t.Fatalf("events after ready: %+v", events)
	}
	// It all survives a restart.
	s2 := mustOpen(t, open)
	if got, err := s2.Recording(ctx, r.ID); err != nil || got.SHA256 != "ab12" {
		t.Fatalf("after reopening: %+v, %v", got, err)
	}

	// Deleting the conversation takes everything in it.
	if _, _, err := s.StartCall(ctx, store.Call{ConversationID: c.ID}, store.Event{Type: store.EventCallStarted, Actor: agent}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConversation(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Conversation(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("conversation after delete: %v", err)
	}
	if list, _ := s.ListRecordings(ctx, c.ID); len(list) != 0 {
		t.Fatalf("recordings after delete: %+v", list)
	}
	if events, _ := s.Events(ctx, c.ID, 0, 10); len(events) != 0 {
		t.Fatalf("events after delete: %+v", events)
	}
	if _, err := s.ActiveCall(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("call after delete: %v", err)
	}
	if err := s.DeleteConversation(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleting twice: %v", err)
	}
}
