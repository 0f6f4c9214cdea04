package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"videosupport/store"
)

const recordingColumns = `id, conversation_id, call_id, status, interrupted, started_at, ended_at, duration_ms,
	participants, size, sha256, blob_key, progress, error`

func scanRecording(row interface{ Scan(...any) error }) (store.Recording, error) {
	var r store.Recording
	var started int64
	var ended sql.NullInt64
	var participants string
	err := row.Scan(&r.ID, &r.ConversationID, &r.CallID, &r.Status, &r.Interrupted, &started, &ended, &r.DurationMs,
		&participants, &r.Size, &r.SHA256, &r.BlobKey, &r.Progress, &r.Error)
	if err != nil {
		return r, notFound(err)
	}
	r.StartedAt, r.EndedAt = fromMicros(started), fromNullMicros(ended)
	if err := json.Unmarshal([]byte(participants), &r.Participants); err != nil {
		return r, fmt.Errorf("recording %s participants: %w", r.ID, err)
	}
	return r, nil
}

func participantsJSON(p []string) string {
	if p == nil {
		p = []string{}
	}
	b, _ := json.Marshal(p)
	return string(b)
}

func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return micros(*t)
}

// CreateRecording implements store.Recordings.
func (s *Store) CreateRecording(ctx context.Context, r store.Recording, e store.Event) (store.Recording, store.Event, error) {
	if r.ID == "" {
		r.ID = "r-" + uuid.NewString()
	}
	if r.StartedAt.IsZero() {
		r.StartedAt = time.Now()
	}
	r.StartedAt = r.StartedAt.UTC().Truncate(time.Microsecond)
	if r.Participants == nil {
		r.Participants = []string{}
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		e.ConversationID = r.ConversationID
		var err error
		if e, err = s.append(ctx, tx, e); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO recordings (`+recordingColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			r.ID, r.ConversationID, r.CallID, r.Status, r.Interrupted, micros(r.StartedAt), nullMicros(r.EndedAt),
			r.DurationMs, participantsJSON(r.Participants), r.Size, r.SHA256, r.BlobKey, r.Progress, r.Error)
		if err != nil {
			return fmt.Errorf("insert recording: %w", err)
		}
		return nil
	})
	if err != nil {
		return store.Recording{}, store.Event{}, err
	}
	return r, e, nil
}

// Recording implements store.Recordings.
func (s *Store) Recording(ctx context.Context, id string) (store.Recording, error) {
	return scanRecording(s.db.QueryRowContext(ctx, s.q(`SELECT `+recordingColumns+` FROM recordings WHERE id = ?`), id))
}

// ListRecordings implements store.Recordings.
func (s *Store) ListRecordings(ctx context.Context, conversationID string) ([]store.Recording, error) {
	return s.recordings(ctx, `SELECT `+recordingColumns+` FROM recordings WHERE conversation_id = ? ORDER BY started_at, id`, conversationID)
}

// RecordingsByStatus implements store.Recordings.
func (s *Store) RecordingsByStatus(ctx context.Context, statuses ...string) ([]store.Recording, error) {
	if len(statuses) == 0 {
		return nil, nil
	}
	args := make([]any, len(statuses))
	for i, st := range statuses {
		args[i] = st
	}
	return s.recordings(ctx, `SELECT `+recordingColumns+` FROM recordings WHERE status IN (?`+
		strings.Repeat(", ?", len(statuses)-1)+`) ORDER BY started_at, id`, args...)
}

func (s *Store) recordings(ctx context.Context, query string, args ...any) ([]store.Recording, error) {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("recordings: %w", err)
	}
	defer rows.Close()
	var out []store.Recording
	for rows.Next() {
		r, err := scanRecording(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// UpdateRecording implements store.Recordings.
func (s *Store) UpdateRecording(ctx context.Context, r store.Recording, e *store.Event) (store.Event, error) {
	var out store.Event
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE recordings SET status = ?, interrupted = ?, ended_at = ?, duration_ms = ?,
			participants = ?, size = ?, sha256 = ?, blob_key = ?, progress = ?, error = ? WHERE id = ?`),
			r.Status, r.Interrupted, nullMicros(r.EndedAt), r.DurationMs, participantsJSON(r.Participants), r.Size,
			r.SHA256, r.BlobKey, r.Progress, r.Error, r.ID)
		if err != nil {
			return fmt.Errorf("update recording: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNotFound
		}
		if e == nil {
			return nil
		}
		ev := *e
		ev.ConversationID = r.ConversationID
		out, err = s.append(ctx, tx, ev)
		return err
	})
	return out, err
}
