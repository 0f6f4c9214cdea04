package sqlstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"videosupport/store"
)

var errNotFound = store.ErrNotFound

const conversationColumns = `id, customer_name, customer_contact, channel, status, handler, assigned_to,
	assigned_name, customer_token_hash, created_at, updated_at, last_seq, last_message`

func scanConversation(row interface{ Scan(...any) error }) (store.Conversation, error) {
	var c store.Conversation
	var hash string
	var created, updated int64
	err := row.Scan(&c.ID, &c.CustomerName, &c.CustomerContact, &c.Channel, &c.Status, &c.Handler, &c.AssignedTo,
		&c.AssignedName, &hash, &created, &updated, &c.LastSeq, &c.LastMessage)
	if err != nil {
		return c, err
	}
	c.CustomerTokenHash, _ = hex.DecodeString(hash)
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return c, nil
}

// CreateConversation implements store.Conversations.
func (s *Store) CreateConversation(ctx context.Context, c store.Conversation, by store.Actor, first string) (store.Conversation, []store.Event, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	if c.ID == "" {
		c.ID = "c-" + uuid.NewString()
	}
	c.CreatedAt, c.UpdatedAt, c.LastSeq = now, now, 0
	var events []store.Event
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO conversations (`+conversationColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '')`),
			c.ID, c.CustomerName, c.CustomerContact, c.Channel, c.Status, c.Handler, c.AssignedTo,
			c.AssignedName, hex.EncodeToString(c.CustomerTokenHash), micros(now), micros(now))
		if err != nil {
			return fmt.Errorf("insert conversation: %w", err)
		}
		e, err := s.append(ctx, tx, store.Event{ConversationID: c.ID, Type: store.EventCreated, Actor: by, CreatedAt: now})
		if err != nil {
			return err
		}
		events = append(events, e)
		if first != "" {
			e, err := s.append(ctx, tx, store.Event{ConversationID: c.ID, Type: store.EventMessage, Actor: by, Body: first, CreatedAt: now})
			if err != nil {
				return err
			}
			events = append(events, e)
			c.LastMessage = first
		}
		c.LastSeq = events[len(events)-1].Seq
		return nil
	})
	if err != nil {
		return store.Conversation{}, nil, err
	}
	return c, events, nil
}

// Conversation implements store.Conversations.
func (s *Store) Conversation(ctx context.Context, id string) (store.Conversation, error) {
	c, err := scanConversation(s.db.QueryRowContext(ctx, s.q(`SELECT `+conversationColumns+` FROM conversations WHERE id = ?`), id))
	return c, notFound(err)
}

// ListConversations implements store.Conversations.
func (s *Store) ListConversations(ctx context.Context, f store.ListFilter) ([]store.Conversation, error) {
	var where []string
	var args []any
	unread := `0`
	if f.Reader != "" {
		unread = `(SELECT COUNT(*) FROM events e WHERE e.conversation_id = c.id AND e.type = 'message'
			AND e.actor_role = 'customer' AND e.seq > COALESCE((SELECT r.seq FROM reads r
			WHERE r.conversation_id = c.id AND r.staff_id = ?), 0))`
		args = append(args, f.Reader)
	}
	if len(f.Statuses) > 0 {
		marks := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			marks[i] = "?"
			args = append(args, st)
		}
		where = append(where, "status IN ("+strings.Join(marks, ", ")+")")
	}
	if f.ID != "" {
		where = append(where, "id = ?")
		args = append(args, f.ID)
	}
	if f.AssignedTo != "" {
		where = append(where, "assigned_to = ?")
		args = append(args, f.AssignedTo)
	}
	if f.Handler != "" {
		where = append(where, "handler = ?")
		args = append(args, f.Handler)
	}
	query := `SELECT ` + conversationColumns + `, ` + unread + ` FROM conversations c`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	query += ` ORDER BY updated_at DESC, id LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	defer rows.Close()
	var out []store.Conversation
	for rows.Next() {
		var c store.Conversation
		var hash string
		var created, updated int64
		if err := rows.Scan(&c.ID, &c.CustomerName, &c.CustomerContact, &c.Channel, &c.Status, &c.Handler, &c.AssignedTo,
			&c.AssignedName, &hash, &created, &updated, &c.LastSeq, &c.LastMessage, &c.Unread); err != nil {
			return nil, err
		}
		c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
		out = append(out, c)
	}
	return out, rows.Err()
}

// Append implements store.Conversations.
func (s *Store) Append(ctx context.Context, e store.Event) (store.Event, error) {
	var out store.Event
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.append(ctx, tx, e)
		return err
	})
	if errors.Is(err, store.ErrConflict) {
		// The transaction was rolled back; out is the stored event.
		return out, err
	}
	return out, err
}

// append takes the next position in the conversation (the UPDATE locks
// the conversation's row, which serialises concurrent appends) and
// inserts the event there.
func (s *Store) append(ctx context.Context, tx *sql.Tx, e store.Event) (store.Event, error) {
	if e.CreatedAt.IsZero() {
		e.CreatedAt = time.Now().UTC()
	}
	e.CreatedAt = e.CreatedAt.Truncate(time.Microsecond)
	lastMessage := ""
	isMessage := e.Type == store.EventMessage
	if isMessage {
		lastMessage = e.Body
	}
	err := tx.QueryRowContext(ctx, s.q(`UPDATE conversations SET last_seq = last_seq + 1, updated_at = ?,
		last_message = CASE WHEN ? THEN ? ELSE last_message END WHERE id = ? RETURNING last_seq`),
		micros(e.CreatedAt), isMessage, lastMessage, e.ConversationID).Scan(&e.Seq)
	if err != nil {
		return e, notFound(err)
	}
	var clientID any
	if e.ClientID != "" {
		clientID = e.ClientID
		prior, err := scanEvent(tx.QueryRowContext(ctx, s.q(`SELECT `+eventColumns+` FROM events
			WHERE conversation_id = ? AND client_id = ?`), e.ConversationID, e.ClientID))
		if err == nil {
			return prior, store.ErrConflict
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return e, err
		}
	}
	e.ID = "e-" + uuid.NewString()
	var data any
	if len(e.Data) > 0 {
		data = string(e.Data)
	}
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO events (`+eventColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		e.ConversationID, e.Seq, e.ID, e.Type, e.Actor.ID, e.Actor.Name, e.Actor.Role, e.Body, clientID, data, micros(e.CreatedAt))
	if err != nil {
		return e, fmt.Errorf("insert event: %w", err)
	}
	return e, nil
}

const eventColumns = `conversation_id, seq, id, type, actor_id, actor_name, actor_role, body, client_id, data, created_at`

func scanEvent(row interface{ Scan(...any) error }) (store.Event, error) {
	var e store.Event
	var clientID, data sql.NullString
	var created int64
	err := row.Scan(&e.ConversationID, &e.Seq, &e.ID, &e.Type, &e.Actor.ID, &e.Actor.Name, &e.Actor.Role, &e.Body,
		&clientID, &data, &created)
	e.ClientID = clientID.String
	if data.Valid {
		e.Data = []byte(data.String)
	}
	e.CreatedAt = fromMicros(created)
	return e, err
}

// Events implements store.Conversations.
func (s *Store) Events(ctx context.Context, id string, after int64, limit int, types ...string) ([]store.Event, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	query := `SELECT ` + eventColumns + ` FROM events WHERE conversation_id = ? AND seq > ?`
	args := []any{id, after}
	if len(types) > 0 {
		query += ` AND type IN (?` + strings.Repeat(", ?", len(types)-1) + `)`
		for _, t := range types {
			args = append(args, t)
		}
	}
	query += ` ORDER BY seq LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Update implements store.Conversations.
func (s *Store) Update(ctx context.Context, id string, ch store.Change, e store.Event) (store.Conversation, store.Event, error) {
	var sets []string
	var args []any
	if ch.Status != nil {
		sets, args = append(sets, "status = ?"), append(args, *ch.Status)
	}
	if ch.Handler != nil {
		sets, args = append(sets, "handler = ?"), append(args, *ch.Handler)
	}
	if ch.AssignedTo != nil {
		sets, args = append(sets, "assigned_to = ?"), append(args, *ch.AssignedTo)
	}
	if ch.AssignedName != nil {
		sets, args = append(sets, "assigned_name = ?"), append(args, *ch.AssignedName)
	}
	var c store.Conversation
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if len(sets) > 0 {
			res, err := tx.ExecContext(ctx, s.q(`UPDATE conversations SET `+strings.Join(sets, ", ")+` WHERE id = ?`), append(args, id)...)
			if err != nil {
				return fmt.Errorf("update conversation: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return errNotFound
			}
		}
		e.ConversationID = id
		var err error
		if e, err = s.append(ctx, tx, e); err != nil {
			return err
		}
		c, err = scanConversation(tx.QueryRowContext(ctx, s.q(`SELECT `+conversationColumns+` FROM conversations WHERE id = ?`), id))
		return err
	})
	return c, e, notFound(err)
}

// MarkRead implements store.Conversations.
func (s *Store) MarkRead(ctx context.Context, id, staffID string, seq int64) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO reads (conversation_id, staff_id, seq) VALUES (?, ?, ?)
		ON CONFLICT (conversation_id, staff_id) DO UPDATE SET seq = CASE WHEN excluded.seq > reads.seq THEN excluded.seq ELSE reads.seq END`),
		id, staffID, seq)
	if err != nil {
		return fmt.Errorf("mark read: %w", err)
	}
	return nil
}

// DeleteConversation implements store.Conversations. The schema's
// foreign keys cascade to everything the conversation holds; its
// recording key, if the database keeps keys (see KeyStore), goes in the
// same transaction, so a deleted conversation never leaves a readable
// recording behind.
func (s *Store) DeleteConversation(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM conversations WHERE id = ?`), id)
		if err != nil {
			return fmt.Errorf("delete conversation: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNotFound
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM blob_keys WHERE conversation_id = ?`), id); err != nil {
			return fmt.Errorf("delete conversation: destroy its key: %w", err)
		}
		return nil
	})
}
