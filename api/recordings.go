package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"videosupport/auth"
	"videosupport/store"
)

// RecordingFiles opens ready recordings for playback.
type RecordingFiles interface {
	Open(ctx context.Context, rec store.Recording) (ReadAtCloser, error)
	// Forget erases a conversation's recordings beyond recovery.
	Forget(ctx context.Context, conversationID string) error
}

// ReadAtCloser is a recording's bytes, read at random (range requests).
type ReadAtCloser interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// mediaGrantTTL is how long a play or download URL works.
const mediaGrantTTL = 15 * time.Minute

func (s *server) recordingRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/conversations/{id}/recordings", s.who(anyone, s.listRecordings))
	mux.HandleFunc("GET /api/v1/recordings/{id}", s.who(anyone, s.getRecording))
	mux.HandleFunc("POST /api/v1/recordings/{id}/play", s.who(anyone, s.grantMedia(false)))
	mux.HandleFunc("POST /api/v1/recordings/{id}/download", s.who(anyone, s.grantMedia(true)))
	mux.HandleFunc("GET /api/v1/recordings/{id}/media", s.who(anyone, s.media))
	mux.HandleFunc("DELETE /api/v1/conversations/{id}", s.who(admin, s.deleteConversation))
}

// deleteConversation erases a conversation: its recordings' key first,
// so nothing of them can be read again, even from a backup; then the
// record itself.
func (s *server) deleteConversation(w http.ResponseWriter, r *http.Request, c auth.Caller) {
	id := r.PathValue("id")
	if _, err := s.st.Conversation(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	if s.Recordings != nil {
		if err := s.Recordings.Forget(r.Context(), id); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if err := s.st.DeleteConversation(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Logger.Info("conversation deleted", "conversation", id, "by", c.ID)
	w.WriteHeader(http.StatusNoContent)
}

// mayReachRecordings says who may see and play a conversation's
// recordings: admins and integration keys (archiving); staff who work
// the conversation (its assignee, or anyone who took part: wrote in it,
// joined one of its calls, was invited); a customer only their own, and
// only when an admin allowed it (CustomerRecordings). Bots never.
func (s *server) mayReachRecordings(ctx context.Context, c auth.Caller, conversationID string) (bool, error) {
	switch {
	case c.Kind == auth.KindCustomer:
		return s.CustomerRecordings && c.ConversationID == conversationID, nil
	case c.Kind == auth.KindAPIKey:
		return c.Role == store.RoleIntegration, nil
	case c.IsAdmin():
		return true, nil
	}
	conv, err := s.st.Conversation(ctx, conversationID)
	if err != nil {
		return false, err
	}
	if conv.AssignedTo == c.ID {
		return true, nil
	}
	events, err := s.st.Events(ctx, conversationID, 0, 1000, store.EventMessage, store.EventNote, store.EventJoined, store.EventCallInvited)
	if err != nil {
		return false, err
	}
	for _, e := range events {
		if e.Actor.ID == c.ID {
			return true, nil
		}
		var d struct {
			StaffID string `json:"staffId"`
		}
		if e.Type == store.EventCallInvited && json.Unmarshal(e.Data, &d) == nil && d.StaffID == c.ID {
			return true, nil
		}
	}
	return false, nil
}

func (s *server) listRecordings(w http.ResponseWriter, r *http.Request, c auth.Caller) {
	id := r.PathValue("id")
	ok, err := s.mayReachRecordings(r.Context(), c, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !ok {
		writeError(w, http.StatusForbidden, "forbidden", "you may not see these recordings")
		return
	}
	list, err := s.st.ListRecordings(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if list == nil {
		list = []store.Recording{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"recordings": list})
}

// recording loads a recording the caller may reach.
func (s *server) recording(w http.ResponseWriter, r *http.Request, c auth.Caller) (store.Recording, bool) {
	rec, err := s.st.Recording(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return rec, false
	}
	ok, err := s.mayReachRecordings(r.Context(), c, rec.ConversationID)
	if err != nil {
		s.fail(w, r, err)
		return rec, false
	}
	if !ok {
		// The same answer as for a recording that does not exist.
		writeError(w, http.StatusNotFound, "not_found", "no such thing")
		return rec, false
	}
	return rec, true
}

func (s *server) getRecording(w http.ResponseWriter, r *http.Request, c auth.Caller) {
	if rec, ok := s.recording(w, r, c); ok {
		writeJSON(w, http.StatusOK, rec)
	}
}

// MediaGrant is where to fetch a recording's media from.
type MediaGrant struct {
	URL     string    `json:"url"`
	Expires time.Time `json:"expires"`
}

// grantMedia records a playback (or download) in the conversation, the
// audit trail, and answers with a short-lived URL for the media.
func (s *server) grantMedia(download bool) handler {
	return func(w http.ResponseWriter, r *http.Request, c auth.Caller) {
		rec, ok := s.recording(w, r, c)
		if !ok {
			return
		}
		if rec.Status != store.RecordingReady || rec.BlobKey == "" {
			writeError(w, http.StatusConflict, "not_ready", "the recording is not ready to play")
			return
		}
		typ := store.EventRecordingPlayed
		if download {
			typ = store.EventRecordingFetched
		}
		if _, err := s.Desk.Record(r.Context(), store.Event{ConversationID: rec.ConversationID, Type: typ, Actor: c.Actor(),
			Data: store.EventData(map[string]string{"recordingId": rec.ID})}, nil); err != nil {
			s.fail(w, r, err)
			return
		}
		exp := time.Now().Add(mediaGrantTTL)
		q := url.Values{"grant": {s.Links.SignMedia(rec.ID, c.ID, download, exp)}}
		writeJSON(w, http.StatusOK, MediaGrant{URL: "/api/v1/recordings/" + rec.ID + "/media?" + q.Encode(), Expires: exp.UTC()})
	}
}

// media serves a recording's bytes, with range requests, to the caller
// a grant was made for.
//
// A player fetches many ranges of one file: a valid grant stands for the
// access check done (and recorded) when it was made, so the record is
// not searched again for each range.
func (s *server) media(w http.ResponseWriter, r *http.Request, c auth.Caller) {
	rec, err := s.st.Recording(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	download, err := s.Links.CheckMedia(r.URL.Query().Get("grant"), rec.ID, c.ID, time.Now())
	if err != nil {
		if _, ok := s.recording(w, r, c); ok { // answers 404 to those who may not reach it
			writeError(w, http.StatusForbidden, "forbidden", "ask to play or download the recording first; the link lasts 15 minutes")
		}
		return
	}
	if s.Recordings == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "recordings are not kept by this server")
		return
	}
	f, err := s.Recordings.Open(r.Context(), rec)
	if errors.Is(err, ErrRecordingGone) {
		writeError(w, http.StatusGone, "gone", "this recording was deleted and can no longer be read")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer f.Close()
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("Content-Type", "video/webm")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if download {
		w.Header().Set("Content-Disposition", `attachment; filename="recording-`+rec.ID+`.webm"`)
	}
	http.ServeContent(w, r, "", rec.StartedAt, io.NewSectionReader(f, 0, f.Size()))
}

// ErrRecordingGone is what RecordingFiles returns for a recording whose
// key was destroyed: it can never be read again.
var ErrRecordingGone = errors.New("recording gone")
