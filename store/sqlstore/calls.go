package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"videosupport/store"
)

const callColumns = `id, conversation_id, status, started_by, started_by_name, started_at, ended_at`

func scanCall(row interface{ Scan(...any) error }) (store.Call, error) {
	var c store.Call
	var started int64
	var ended sql.NullInt64
	err := row.Scan(&c.ID, &c.ConversationID, &c.Status, &c.StartedBy, &c.StartedByName, &started, &ended)
	c.StartedAt, c.EndedAt = fromMicros(started), fromNullMicros(ended)
	return c, notFound(err)
}

// StartCall implements store.Calls.
func (s *Store) StartCall(ctx context.Context, c store.Call, e store.Event) (store.Call, store.Event, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	if c.ID == "" {
		c.ID = uuid.NewString()
	}
	c.Status, c.StartedAt, c.EndedAt = store.CallActive, now, nil
	var prior store.Call
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// Appending first locks the conversation's row, so two agents
		// starting a call at once are serialised here.
		e.ConversationID, e.CreatedAt = c.ConversationID, now
		var err error
		if e, err = s.append(ctx, tx, e); err != nil {
			return err
		}
		prior, err = scanCall(tx.QueryRowContext(ctx, s.q(`SELECT `+callColumns+` FROM calls
			WHERE conversation_id = ? AND status = 'active'`), c.ConversationID))
		if err == nil {
			return store.ErrConflict
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO calls (`+callColumns+`) VALUES (?, ?, ?, ?, ?, ?, NULL)`),
			c.ID, c.ConversationID, c.Status, c.StartedBy, c.StartedByName, micros(now)); err != nil {
			return fmt.Errorf("insert call: %w", err)
		}
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM video_requests WHERE conversation_id = ?`), c.ConversationID)
		return err
	})
	if errors.Is(err, store.ErrConflict) {
		return prior, store.Event{}, err
	}
	if err != nil {
		return store.Call{}, store.Event{}, err
	}
	return c, e, nil
}

// Call implements store.Calls.
func (s *Store) Call(ctx context.Context, id string) (store.Call, error) {
	return scanCall(s.db.QueryRowContext(ctx, s.q(`SELECT `+callColumns+` FROM calls WHERE id = ?`), id))
}

// ActiveCall implements store.Calls.
func (s *Store) ActiveCall(ctx context.Context, conversationID string) (store.Call, error) {
	return scanCall(s.db.QueryRowContext(ctx, s.q(`SELECT `+callColumns+` FROM calls
		WHERE conversation_id = ? AND status = 'active'`), conversationID))
}

// EndCall implements store.Calls.
func (s *Store) EndCall(ctx context.Context, id string, e store.Event) (store.Call, store.Event, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	var c store.Call
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE calls SET status = 'ended', ended_at = ? WHERE id = ? AND status = 'active'`),
			micros(now), id)
		if err != nil {
			return fmt.Errorf("end call: %w", err)
		}
		c, err = scanCall(tx.QueryRowContext(ctx, s.q(`SELECT `+callColumns+` FROM calls WHERE id = ?`), id))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrConflict
		}
		e.ConversationID, e.CreatedAt = c.ConversationID, now
		e, err = s.append(ctx, tx, e)
		return err
	})
	if err != nil {
		return c, store.Event{}, err
	}
	return c, e, nil
}

// RequestVideo implements store.Calls.
func (s *Store) RequestVideo(ctx context.Context, conversationID string, e store.Event) (store.Event, error) {
	return s.queueChange(ctx, conversationID, e, func(tx *sql.Tx, now int64) (int64, error) {
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO video_requests (conversation_id, requested_at, waiting_since)
			VALUES (?, ?, ?) ON CONFLICT (conversation_id) DO NOTHING`), conversationID, now, now)
		return affected(res, err)
	}, store.ErrConflict)
}

// LeaveVideoQueue implements store.Calls.
func (s *Store) LeaveVideoQueue(ctx context.Context, conversationID string, e store.Event) (store.Event, error) {
	return s.queueChange(ctx, conversationID, e, func(tx *sql.Tx, _ int64) (int64, error) {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM video_requests WHERE conversation_id = ?`), conversationID)
		return affected(res, err)
	}, store.ErrNotFound)
}

// OfferCallback implements store.Calls.
func (s *Store) OfferCallback(ctx context.Context, conversationID string, e store.Event) (store.Event, error) {
	return s.queueChange(ctx, conversationID, e, func(tx *sql.Tx, now int64) (int64, error) {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE video_requests SET offered_at = ?
			WHERE conversation_id = ? AND offered_at IS NULL`), now, conversationID)
		return affected(res, err)
	}, store.ErrConflict)
}

// RenewVideoRequest implements store.Calls.
func (s *Store) RenewVideoRequest(ctx context.Context, conversationID string, e store.Event) (store.Event, error) {
	return s.queueChange(ctx, conversationID, e, func(tx *sql.Tx, now int64) (int64, error) {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE video_requests SET offered_at = NULL, waiting_since = ?
			WHERE conversation_id = ?`), now, conversationID)
		return affected(res, err)
	}, store.ErrNotFound)
}

// queueChange runs one change to the video queue and, when it changed a
// row, appends e in the same transaction; otherwise it returns none.
func (s *Store) queueChange(ctx context.Context, conversationID string, e store.Event,
	change func(tx *sql.Tx, now int64) (int64, error), none error) (store.Event, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// Lock the conversation first (and learn whether it exists).
		var seq int64
		if err := tx.QueryRowContext(ctx, s.q(`UPDATE conversations SET last_seq = last_seq WHERE id = ? RETURNING last_seq`),
			conversationID).Scan(&seq); err != nil {
			return notFound(err)
		}
		n, err := change(tx, micros(now))
		if err != nil {
			return fmt.Errorf("video queue: %w", err)
		}
		if n == 0 {
			return none
		}
		e.ConversationID, e.CreatedAt = conversationID, now
		e, err = s.append(ctx, tx, e)
		return err
	})
	if err != nil {
		return store.Event{}, err
	}
	return e, nil
}

func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// VideoQueue implements store.Calls.
func (s *Store) VideoQueue(ctx context.Context) ([]store.VideoRequest, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT v.conversation_id, c.customer_name, v.requested_at, v.waiting_since, v.offered_at
		FROM video_requests v JOIN conversations c ON c.id = v.conversation_id
		ORDER BY v.requested_at, v.conversation_id`)
	if err != nil {
		return nil, fmt.Errorf("video queue: %w", err)
	}
	defer rows.Close()
	var out []store.VideoRequest
	for rows.Next() {
		var r store.VideoRequest
		var requested, since int64
		var offered sql.NullInt64
		if err := rows.Scan(&r.ConversationID, &r.CustomerName, &requested, &since, &offered); err != nil {
			return nil, err
		}
		r.RequestedAt, r.WaitingSince, r.OfferedAt = fromMicros(requested), fromMicros(since), fromNullMicros(offered)
		out = append(out, r)
	}
	return out, rows.Err()
}
