package storetest

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"videosupport/blob"
	"videosupport/blob/blobtest"
	"videosupport/store"
)

// KeyDB is a record that keeps recording keys too, seen through its SQL
// handle so that a test can look at the rows themselves.
type KeyDB interface {
	store.Store
	DB() *sql.DB
}

// KeyBackend makes a fresh, empty database for one test and returns a
// function that opens it with the key store it keeps.
type KeyBackend func(t *testing.T) (open func() (KeyDB, blob.KeyStore))

// RunKeys runs blob's KeyStore contract on the keys a database keeps,
// and what the record adds to it: Destroy deletes the row, and deleting
// a conversation destroys its key.
func RunKeys(t *testing.T, b KeyBackend) {
	opened := func(t *testing.T, open func() (KeyDB, blob.KeyStore)) (KeyDB, blob.KeyStore) {
		db, keys := open()
		t.Cleanup(func() { _ = db.Close() })
		return db, keys
	}
	t.Run("Contract", func(t *testing.T) {
		blobtest.RunKeyStore(t, func(t *testing.T) func() blob.KeyStore {
			open := b(t)
			return func() blob.KeyStore { _, k := opened(t, open); return k }
		})
	})
	t.Run("DestroyDeletesTheRow", func(t *testing.T) {
		t.Parallel()
		db, keys := opened(t, b(t))
		ctx := context.Background()
		for _, id := range []string{"c1", "c2"} {
			if err := keys.Put(ctx, id, blobtest.Data(1, 77)); err != nil {
				t.Fatal(err)
			}
		}
		if err := keys.Destroy(ctx, "c1"); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM blob_keys WHERE conversation_id = 'c1'`).Scan(&n); err != nil || n != 0 {
			t.Errorf("rows of a destroyed key: %d, %v; want 0", n, err)
		}
		if err := db.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM blob_keys`).Scan(&n); err != nil || n != 1 {
			t.Errorf("rows left: %d, %v; want the other conversation's", n, err)
		}
	})
	t.Run("DeletedConversationTakesItsKey", func(t *testing.T) {
		t.Parallel()
		db, keys := opened(t, b(t))
		ctx := context.Background()
		c := newConversation(t, db, "")
		other := newConversation(t, db, "")
		for _, id := range []string{c.ID, other.ID} {
			if err := keys.Put(ctx, id, blobtest.Data(2, 77)); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.DeleteConversation(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := keys.Get(ctx, c.ID); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("key of a deleted conversation: %v, want ErrNotFound", err)
		}
		if _, err := keys.Get(ctx, other.ID); err != nil {
			t.Errorf("key of another conversation: %v", err)
		}
		// The recordings' key is usually destroyed first (the API's
		// order): then deleting the conversation still works.
		if err := keys.Destroy(ctx, other.ID); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteConversation(ctx, other.ID); err != nil {
			t.Errorf("delete a conversation whose key is gone: %v", err)
		}
	})
}
