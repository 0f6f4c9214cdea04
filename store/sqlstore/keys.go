package sqlstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"videosupport/blob"
)

// KeyStore is a blob.KeyStore in the database (table blob_keys), for a
// cluster: every node sharing the PostgreSQL database reads the same
// recording keys. The keys are wrapped by the master key, which the
// database never sees.
//
// Destroy deletes the row. What a database keeps of a deleted row is
// another matter: PostgreSQL leaves the old tuple in its data files until
// VACUUM reuses the space, and in its WAL, replicas and backups for as
// long as they are kept; SQLite (opened with secure_delete) zeroes the
// row in the database file, though an older copy may stay in its WAL
// until a checkpoint overwrites it. A backup of the database thus holds
// keys that were destroyed after it was taken: keep such backups for a
// shorter time than the recordings would have been, or destroying a key
// does not erase the recordings in the backups of the blob store.
type KeyStore struct{ s *Store }

var _ blob.KeyStore = (*KeyStore)(nil)

// Keys returns the key store kept in this database.
func (s *Store) Keys() *KeyStore { return &KeyStore{s: s} }

// Put inserts the key unless the conversation has one; the primary key
// settles racing writers, across nodes too.
func (k *KeyStore) Put(ctx context.Context, id string, wrapped []byte) error {
	if err := blob.ValidConversationID(id); err != nil {
		return err
	}
	res, err := k.s.db.ExecContext(ctx, k.s.q(`INSERT INTO blob_keys (conversation_id, wrapped, created_at)
		VALUES (?, ?, ?) ON CONFLICT (conversation_id) DO NOTHING`), id, hex.EncodeToString(wrapped), micros(time.Now()))
	if err != nil {
		return fmt.Errorf("put key of conversation %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("put key of conversation %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("put key of conversation %s: %w", id, blob.ErrKeyExists)
	}
	return nil
}

// Get reads the key.
func (k *KeyStore) Get(ctx context.Context, id string) ([]byte, error) {
	if err := blob.ValidConversationID(id); err != nil {
		return nil, err
	}
	var h string
	err := k.s.db.QueryRowContext(ctx, k.s.q(`SELECT wrapped FROM blob_keys WHERE conversation_id = ?`), id).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("key of conversation %s: %w", id, blob.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("key of conversation %s: %w", id, err)
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("key of conversation %s: not hex: %w", id, blob.ErrKeyUnwrap)
	}
	return b, nil
}

// Destroy deletes the key's row; see KeyStore for what a database keeps
// of it.
func (k *KeyStore) Destroy(ctx context.Context, id string) error {
	if err := blob.ValidConversationID(id); err != nil {
		return err
	}
	if _, err := k.s.db.ExecContext(ctx, k.s.q(`DELETE FROM blob_keys WHERE conversation_id = ?`), id); err != nil {
		return fmt.Errorf("destroy key of conversation %s: %w", id, err)
	}
	return nil
}

// Replace updates the key's row if it still holds old: one statement, so
// racing servers and a Destroy meanwhile are settled by the database.
func (k *KeyStore) Replace(ctx context.Context, id string, old, next []byte) error {
	if err := blob.ValidConversationID(id); err != nil {
		return err
	}
	res, err := k.s.db.ExecContext(ctx, k.s.q(`UPDATE blob_keys SET wrapped = ? WHERE conversation_id = ? AND wrapped = ?`),
		hex.EncodeToString(next), id, hex.EncodeToString(old))
	if err != nil {
		return fmt.Errorf("replace key of conversation %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("replace key of conversation %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("replace key of conversation %s: %w", id, blob.ErrKeyChanged)
	}
	return nil
}

// IDs lists the conversations with a key.
func (k *KeyStore) IDs(ctx context.Context) ([]string, error) {
	rows, err := k.s.db.QueryContext(ctx, `SELECT conversation_id FROM blob_keys`)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
