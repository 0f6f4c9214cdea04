package sqlite_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"videosupport/blob"
	"videosupport/blob/blobtest"
	"videosupport/store"
	"videosupport/store/sqlite"
	"videosupport/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func() store.Store {
		path := filepath.Join(t.TempDir(), "videosupport.db")
		return func() store.Store {
			s, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}

// TestKeys: the recording keys kept in the database pass the key
// store contract.
func TestKeys(t *testing.T) {
	storetest.RunKeys(t, func(t *testing.T) func() (storetest.KeyDB, blob.KeyStore) {
		path := filepath.Join(t.TempDir(), "videosupport.db")
		return func() (storetest.KeyDB, blob.KeyStore) {
			s, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			return s, s.Keys()
		}
	})
}

// TestDestroyedKeyLeavesNoBytes: SQLite (with secure_delete) zeroes a
// destroyed key in the file; once the WAL is checkpointed no copy is
// left in either.
func TestDestroyedKeyLeavesNoBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vs.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	wrapped := blobtest.Data(7, 77)
	if err := s.Keys().Put(ctx, "c1", wrapped); err != nil {
		t.Fatal(err)
	}
	checkpoint := func() {
		t.Helper()
		if _, err := s.DB().ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			t.Fatal(err)
		}
	}
	holds := func() bool {
		t.Helper()
		found := false
		for _, p := range []string{path, path + "-wal"} {
			b, err := os.ReadFile(p)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			found = found || bytes.Contains(b, []byte(hex.EncodeToString(wrapped)))
		}
		return found
	}
	checkpoint()
	if !holds() {
		t.Fatal("the stored key is not in the file: the test looks for the wrong bytes")
	}
	if err := s.Keys().Destroy(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	checkpoint()
	if holds() {
		t.Error("the destroyed key's bytes are still in the database file")
	}
}

// TestWAL: the embedded default runs in WAL mode, so the console's reads
// never wait for a writer.
func TestWAL(t *testing.T) {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mode string
	if err := s.DB().QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q, %v; want wal", mode, err)
	}
}

// TestFileIsPrivate: the database file is readable by the server's user
// alone.
func TestFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vs.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(p)
		if err != nil {
			continue // -wal and -shm come and go
		}
		if mode := st.Mode().Perm(); mode&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for group or others", filepath.Base(p), mode)
		}
	}
}
