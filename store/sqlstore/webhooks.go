package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"videosupport/store"
)

// CreateWebhook implements store.Webhooks.
func (s *Store) CreateWebhook(ctx context.Context, w store.Webhook) (store.Webhook, error) {
	w.ID = "w-" + uuid.NewString()
	w.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO webhooks (id, url, events, secret, created_at) VALUES (?, ?, ?, ?, ?)`),
		w.ID, w.URL, strings.Join(w.Events, ","), w.Secret, micros(w.CreatedAt))
	if err != nil {
		return w, fmt.Errorf("create webhook: %w", err)
	}
	return w, nil
}

func scanWebhook(row interface{ Scan(...any) error }) (store.Webhook, error) {
	var w store.Webhook
	var events string
	var created int64
	err := row.Scan(&w.ID, &w.URL, &events, &w.Secret, &created)
	if events != "" {
		w.Events = strings.Split(events, ",")
	}
	w.CreatedAt = fromMicros(created)
	return w, notFound(err)
}

// Webhook implements store.Webhooks.
func (s *Store) Webhook(ctx context.Context, id string) (store.Webhook, error) {
	return scanWebhook(s.db.QueryRowContext(ctx, s.q(`SELECT id, url, events, secret, created_at FROM webhooks WHERE id = ?`), id))
}

// ListWebhooks implements store.Webhooks.
func (s *Store) ListWebhooks(ctx context.Context) ([]store.Webhook, error) {
	return listWebhooks(ctx, s.db)
}

func listWebhooks(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) ([]store.Webhook, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, url, events, secret, created_at FROM webhooks ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	defer rows.Close()
	var out []store.Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// DeleteWebhook implements store.Webhooks; its queued deliveries go with
// it.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM deliveries WHERE webhook_id = ?`), id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM webhooks WHERE id = ?`), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}

// Enqueue implements store.Webhooks.
func (s *Store) Enqueue(ctx context.Context, event string, payload func(string) ([]byte, error)) (int, error) {
	now := micros(time.Now())
	n := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// Listed inside the transaction, so a webhook deleted meanwhile
		// cannot fail the insert for everybody else.
		hooks, err := listWebhooks(ctx, tx)
		if err != nil {
			return err
		}
		for _, w := range hooks {
			if !subscribed(w, event) {
				continue
			}
			id := "d-" + uuid.NewString()
			body, err := payload(id)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO deliveries (id, webhook_id, event, payload, status, next_attempt, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?)`), id, w.ID, event, string(body), store.DeliveryPending, now, now); err != nil {
				return fmt.Errorf("queue delivery: %w", err)
			}
			n++
		}
		return nil
	})
	return n, err
}

func subscribed(w store.Webhook, event string) bool {
	for _, e := range w.Events {
		if e == event {
			return true
		}
	}
	return false
}

const deliveryColumns = `id, webhook_id, event, payload, status, attempts, last_status, last_error, next_attempt, created_at, delivered_at`

func scanDelivery(row interface{ Scan(...any) error }) (store.Delivery, error) {
	var d store.Delivery
	var payload string
	var next, created int64
	var delivered sql.NullInt64
	err := row.Scan(&d.ID, &d.WebhookID, &d.Event, &payload, &d.Status, &d.Attempts, &d.LastStatus, &d.LastError,
		&next, &created, &delivered)
	d.Payload = []byte(payload)
	d.NextAttempt, d.CreatedAt, d.DeliveredAt = fromMicros(next), fromMicros(created), fromNullMicros(delivered)
	return d, err
}

func (s *Store) deliveries(ctx context.Context, query string, args ...any) ([]store.Delivery, error) {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("deliveries: %w", err)
	}
	defer rows.Close()
	var out []store.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Due implements store.Webhooks.
func (s *Store) Due(ctx context.Context, now time.Time, limit int) ([]store.Delivery, error) {
	return s.deliveries(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE status = ? AND next_attempt <= ?
		ORDER BY next_attempt, created_at LIMIT ?`, store.DeliveryPending, micros(now), limit)
}

// Deliveries implements store.Webhooks: newest first.
func (s *Store) Deliveries(ctx context.Context, webhookID string, limit int) ([]store.Delivery, error) {
	return s.deliveries(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE webhook_id = ?
		ORDER BY created_at DESC, id LIMIT ?`, webhookID, limit)
}

// Attempted implements store.Webhooks.
func (s *Store) Attempted(ctx context.Context, d store.Delivery) error {
	var delivered any
	if d.DeliveredAt != nil {
		delivered = micros(*d.DeliveredAt)
	}
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE deliveries SET status = ?, attempts = ?, last_status = ?, last_error = ?,
		next_attempt = ?, delivered_at = ? WHERE id = ?`),
		d.Status, d.Attempts, d.LastStatus, d.LastError, micros(d.NextAttempt), delivered, d.ID)
	if err != nil {
		return fmt.Errorf("record delivery attempt: %w", err)
	}
	return nil
}
