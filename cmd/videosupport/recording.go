package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"videosupport/api"
	"videosupport/blob"
	"videosupport/blob/disk"
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

// openRecordings opens the encrypted recording store in the data
// directory: objects under recordings/, wrapped keys apart under keys/.
func (c *config) openRecordings() (*blob.Encrypted, func() error, error) {
	master, err := c.recordingKey()
	if err != nil {
		return nil, nil, err
	}
	objects, err := disk.Open(filepath.Join(c.DataDir, "recordings"), disk.Options{})
	if err != nil {
		return nil, nil, err
	}
	keys, err := disk.OpenKeys(filepath.Join(c.DataDir, "keys"))
	if err != nil {
		_ = objects.Close()
		return nil, nil, err
	}
	enc, err := blob.NewEncrypted(objects, keys, master)
	if err != nil {
		_ = objects.Close()
		_ = keys.Close()
		return nil, nil, err
	}
	return enc, func() error { return errors.Join(objects.Close(), keys.Close()) }, nil
}

// recordingKey is the master key that wraps each conversation's key:
// -recording-key, or one made once and kept in the data directory.
func (c *config) recordingKey() ([]byte, error) {
	if c.RecordingKey != "" {
		k, err := base64.StdEncoding.DecodeString(c.RecordingKey)
		if err != nil || len(k) != blob.MasterKeySize {
			return nil, fmt.Errorf("-recording-key must be base64 of %d bytes", blob.MasterKeySize)
		}
		return k, nil
	}
	return keyFile(filepath.Join(c.DataDir, "recording.key"), blob.MasterKeySize)
}
