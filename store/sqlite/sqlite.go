// Package sqlite is the embedded store backend: one file on local disk,
// pure Go (modernc.org/sqlite), in WAL mode so readers never wait for the
// writer.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"videosupport/store/sqlstore"
)

// Open opens (creating if needed) the database file at path and brings
// its schema up to date. Its Keys can hold recording keys too, though a
// single server keeps them as files (blob/disk) by default.
func Open(ctx context.Context, path string) (*sqlstore.Store, error) {
	// The record holds health and banking conversations: only the
	// server's user may read the file (SQLite gives its -wal and -shm
	// files the same mode).
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	_ = f.Close()
	q := url.Values{}
	// secure_delete: what is deleted (a conversation, a destroyed
	// recording key) is overwritten with zeros in the file, not left in
	// free pages.
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)", "secure_delete(1)"} {
		q.Add("_pragma", p)
	}
	// Writers take the lock when their transaction begins, so two
	// read-then-write transactions never deadlock into SQLITE_BUSY.
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	s := sqlstore.New(db, sqlstore.Dialect{Name: "sqlite"})
	if err := s.Migrate(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	return s, nil
}
