package main

import (
	"context"
	"errors"
	"sync"

	"videosupport/api"
	"videosupport/blob"
	"videosupport/desk"
	"videosupport/recording"
	"videosupport/sfu"
	"videosupport/signaling"
	"videosupport/store"
)

// recordingDoor lets signaling start and stop recordings of calls and
// passes on consents: to the record (a consent record per answer) and to
// the recorder (which writes nobody who has not agreed).
type recordingDoor struct {
	calls *recording.Calls
	desk  *desk.Desk

	mu     sync.Mutex
	active map[string]*recording.CallRecording // by call id
}

func (r *recordingDoor) actor(g signaling.Grant, p signaling.Participant) store.Actor {
	if g.Role == "customer" {
		return store.Actor{ID: g.ConversationID, Name: p.Name, Role: store.RoleCustomer}
	}
	return store.Actor{ID: g.StaffID, Name: p.Name, Role: p.Role}
}

// StartRecording implements signaling.RecordingControl.
func (r *recordingDoor) StartRecording(ctx context.Context, g signaling.Grant, by signaling.Participant) (sfu.Recorder, error) {
	cr, err := r.calls.Start(ctx, g.CallID, g.ConversationID, r.actor(g, by))
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.active[g.CallID] = cr
	r.mu.Unlock()
	return cr, nil
}

// StopRecording implements signaling.RecordingControl.
func (r *recordingDoor) StopRecording(ctx context.Context, g signaling.Grant, by signaling.Participant) {
	r.mu.Lock()
	cr := r.active[g.CallID]
	delete(r.active, g.CallID)
	r.mu.Unlock()
	if cr != nil {
		r.calls.Stop(ctx, cr, r.actor(g, by))
	}
}

// Consent implements signaling.RecordingControl.
func (r *recordingDoor) Consent(ctx context.Context, g signaling.Grant, who signaling.Participant, agreed bool, version string) {
	r.mu.Lock()
	cr := r.active[g.CallID]
	r.mu.Unlock()
	choice := "declined"
	if agreed {
		choice = "agreed"
	}
	data := map[string]string{"callId": g.CallID, "version": version, "choice": choice, "participantId": who.ID}
	if cr != nil {
		data["recordingId"] = cr.Recording.ID
		cr.SetConsent(who.ID, who.Name, agreed)
	}
	if _, err := r.desk.Record(ctx, store.Event{ConversationID: g.ConversationID, Type: store.EventConsent,
		Actor: r.actor(g, who), Data: store.EventData(data)}, map[string]any{}); err != nil {
		// The recorder has the answer; the record must too: log loudly.
		r.calls.Logger().Error("record consent", "call", g.CallID, "participant", who.ID, "err", err)
	}
}

// recordingFiles opens recordings for the API, saying "gone" for one
// whose key was destroyed.
type recordingFiles struct{ calls *recording.Calls }

func (f recordingFiles) Forget(ctx context.Context, conversationID string) error {
	return f.calls.Forget(ctx, conversationID)
}

func (f recordingFiles) Open(ctx context.Context, rec store.Recording) (api.ReadAtCloser, error) {
	r, err := f.calls.Open(ctx, rec)
	if errors.Is(err, blob.ErrKeyDestroyed) {
		return nil, api.ErrRecordingGone
	}
	return r, err
}
