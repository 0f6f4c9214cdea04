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

const staffColumns = `id, email, name, role, availability, disabled, password_hash, created_at`

func scanStaff(row interface{ Scan(...any) error }) (store.Staff, error) {
	var st store.Staff
	var created int64
	err := row.Scan(&st.ID, &st.Email, &st.Name, &st.Role, &st.Availability, &st.Disabled, &st.PasswordHash, &created)
	st.CreatedAt = fromMicros(created)
	return st, notFound(err)
}

// CreateStaff implements store.Accounts. Emails are unique regardless of
// case.
func (s *Store) CreateStaff(ctx context.Context, st store.Staff) (store.Staff, error) {
	st.ID = "s-" + uuid.NewString()
	st.Email = strings.ToLower(strings.TrimSpace(st.Email))
	st.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	if st.Availability == "" {
		st.Availability = store.Away
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM staff WHERE email = ?`), st.Email).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return store.ErrConflict
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO staff (`+staffColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			st.ID, st.Email, st.Name, st.Role, st.Availability, st.Disabled, st.PasswordHash, micros(st.CreatedAt))
		return err
	})
	if err != nil {
		return store.Staff{}, fmt.Errorf("create staff: %w", err)
	}
	return st, nil
}

// StaffByID implements store.Accounts.
func (s *Store) StaffByID(ctx context.Context, id string) (store.Staff, error) {
	return scanStaff(s.db.QueryRowContext(ctx, s.q(`SELECT `+staffColumns+` FROM staff WHERE id = ?`), id))
}

// StaffByEmail implements store.Accounts.
func (s *Store) StaffByEmail(ctx context.Context, email string) (store.Staff, error) {
	return scanStaff(s.db.QueryRowContext(ctx, s.q(`SELECT `+staffColumns+` FROM staff WHERE email = ?`),
		strings.ToLower(strings.TrimSpace(email))))
}

// ListStaff implements store.Accounts.
func (s *Store) ListStaff(ctx context.Context) ([]store.Staff, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+staffColumns+` FROM staff ORDER BY name, id`)
	if err != nil {
		return nil, fmt.Errorf("list staff: %w", err)
	}
	defer rows.Close()
	var out []store.Staff
	for rows.Next() {
		st, err := scanStaff(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// UpdateStaff implements store.Accounts: name, role, availability,
// disabled and password hash.
func (s *Store) UpdateStaff(ctx context.Context, st store.Staff) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE staff SET name = ?, role = ?, availability = ?, disabled = ?,
		password_hash = ? WHERE id = ?`), st.Name, st.Role, st.Availability, st.Disabled, st.PasswordHash, st.ID)
	if err != nil {
		return fmt.Errorf("update staff: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// CreateSession implements store.Accounts.
func (s *Store) CreateSession(ctx context.Context, ss store.Session) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO sessions (token_hash, staff_id, csrf_token, expires_at) VALUES (?, ?, ?, ?)`),
		hex.EncodeToString(ss.TokenHash), ss.StaffID, ss.CSRFToken, micros(ss.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// SessionByHash implements store.Accounts. Expired sessions are not
// found (and are swept).
func (s *Store) SessionByHash(ctx context.Context, hash []byte) (store.Session, error) {
	var ss store.Session
	var h string
	var exp int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT token_hash, staff_id, csrf_token, expires_at FROM sessions WHERE token_hash = ?`),
		hex.EncodeToString(hash)).Scan(&h, &ss.StaffID, &ss.CSRFToken, &exp)
	if err != nil {
		return ss, notFound(err)
	}
	ss.TokenHash, ss.ExpiresAt = hash, fromMicros(exp)
	if time.Now().After(ss.ExpiresAt) {
		_, _ = s.db.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE expires_at < ?`), micros(time.Now()))
		return store.Session{}, store.ErrNotFound
	}
	return ss, nil
}

// DeleteSession implements store.Accounts.
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE token_hash = ?`), hex.EncodeToString(hash))
	return err
}

// CreateAPIKey implements store.Accounts. The caller sets ID (it is part
// of the key the client holds) and Hash.
func (s *Store) CreateAPIKey(ctx context.Context, k store.APIKey) (store.APIKey, error) {
	if k.ID == "" {
		return k, errors.New("create api key: no id")
	}
	k.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO api_keys (id, name, role, hash, created_at) VALUES (?, ?, ?, ?, ?)`),
		k.ID, k.Name, k.Role, hex.EncodeToString(k.Hash), micros(k.CreatedAt))
	if err != nil {
		return k, fmt.Errorf("create api key: %w", err)
	}
	return k, nil
}

const apiKeyColumns = `id, name, role, hash, created_at, revoked_at`

func scanAPIKey(row interface{ Scan(...any) error }) (store.APIKey, error) {
	var k store.APIKey
	var h string
	var created int64
	var revoked sql.NullInt64
	err := row.Scan(&k.ID, &k.Name, &k.Role, &h, &created, &revoked)
	k.Hash, _ = hex.DecodeString(h)
	k.CreatedAt, k.RevokedAt = fromMicros(created), fromNullMicros(revoked)
	return k, notFound(err)
}

// APIKeyByID implements store.Accounts.
func (s *Store) APIKeyByID(ctx context.Context, id string) (store.APIKey, error) {
	return scanAPIKey(s.db.QueryRowContext(ctx, s.q(`SELECT `+apiKeyColumns+` FROM api_keys WHERE id = ?`), id))
}

// ListAPIKeys implements store.Accounts.
func (s *Store) ListAPIKeys(ctx context.Context) ([]store.APIKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	defer rows.Close()
	var out []store.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeAPIKey implements store.Accounts.
func (s *Store) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`), micros(at), id)
	if err != nil {
		return fmt.Errorf("revoke api key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}
