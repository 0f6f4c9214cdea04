// Package postgres is the store backend for deployments past one machine:
// PostgreSQL through pgx, sharing every query with the SQLite backend
// (store/sqlstore).
package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver "pgx"

	"videosupport/store/sqlstore"
)

// Open connects to the database at dsn (postgres://user:pass@host/db)
// and brings its schema up to date. Its Keys are the recording keys a
// cluster shares (see sqlstore.KeyStore).
func Open(ctx context.Context, dsn string) (*sqlstore.Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(20)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	s := sqlstore.New(db, sqlstore.Dialect{Name: "postgres", Numbered: true})
	if err := s.Migrate(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return s, nil
}
