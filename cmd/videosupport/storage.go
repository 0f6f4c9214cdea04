package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"videosupport/blob"
	"videosupport/blob/disk"
	"videosupport/blob/s3"
	"videosupport/store/sqlstore"
)

// staleUploads: an unfinished S3 upload this old at start belongs to a
// writer that crashed (a recording is sealed in minutes).
const staleUploads = 24 * time.Hour

// blobOptions reads -blob: nothing for the data directory, or the S3
// bucket it names, with credentials from the URL or else from the
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, for
// temporary credentials, AWS_SESSION_TOKEN).
func (c *config) blobOptions(getenv func(string) string) error {
	c.s3 = nil
	if c.Blob == "" {
		return nil
	}
	o, err := s3.ParseURL(c.Blob)
	if err != nil {
		return fmt.Errorf("-blob: %w", err)
	}
	if o.AccessKey == "" {
		o.AccessKey, o.SecretKey, o.SessionToken = getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN")
	}
	if o.AccessKey == "" || o.SecretKey == "" {
		return errors.New("-blob: no credentials for the bucket: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or put ACCESS:SECRET@ in the URL)")
	}
	c.s3 = &o
	return nil
}

// openRecordings opens the encrypted recording store. Objects go to the
// -blob bucket, or under recordings/ in the data directory. Keys go
// where the record is when that is PostgreSQL, so that every node of a
// cluster reads them; with SQLite (one server) they stay files under
// keys/, apart from the database and its backups.
func (c *config) openRecordings(ctx context.Context, db *sqlstore.Store, log *slog.Logger) (*blob.Encrypted, func() error, error) {
	master, err := c.recordingKey()
	if err != nil {
		return nil, nil, err
	}
	objects, closeObjects, err := c.openObjects(ctx, log)
	if err != nil {
		return nil, nil, err
	}
	keys, closeKeys, err := c.openKeys(ctx, db, log)
	if err != nil {
		return nil, nil, errors.Join(err, closeObjects())
	}
	previous, err := c.previousKeys()
	if err == nil {
		previous, err = c.withKeyFile(master, previous)
	}
	var enc *blob.Encrypted
	if err == nil {
		enc, err = blob.NewEncrypted(objects, keys, master, previous...)
	}
	if err == nil && len(previous) > 0 {
		err = rewrapKeys(ctx, enc, log)
	}
	if err != nil {
		return nil, nil, errors.Join(err, closeObjects(), closeKeys())
	}
	return enc, func() error { return errors.Join(closeObjects(), closeKeys()) }, nil
}

// rewrapKeys moves every recording key to the master key, and says
// whether the previous ones are still needed.
func rewrapKeys(ctx context.Context, enc *blob.Encrypted, log *slog.Logger) error {
	st, err := enc.Rewrap(ctx)
	if err != nil {
		return fmt.Errorf("wrap recording keys with -recording-key: %w", err)
	}
	if len(st.Unreadable) > 0 {
		// Their recordings cannot be played, but calls and chat can go
		// on: the start goes on and a person finds the key.
		log.Error("recording keys wrapped with a master key that was not given: their recordings cannot be played",
			"count", len(st.Unreadable), "conversations", strings.Join(st.Unreadable[:min(len(st.Unreadable), 20)], ","))
		return nil
	}
	log.Info("every recording key is wrapped with -recording-key; the previous master keys are no longer needed",
		"rewrapped", st.Rewrapped, "already", st.Current)
	return nil
}

// previousKeys reads -recording-key-previous.
func (c *config) previousKeys() ([][]byte, error) {
	var keys [][]byte
	for i, s := range strings.Split(c.PreviousKeys, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		k, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(k) != blob.MasterKeySize {
			return nil, fmt.Errorf("-recording-key-previous: key %d must be base64 of %d bytes", i+1, blob.MasterKeySize)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// withKeyFile adds the master key a server made in the data directory to
// the previous keys when -recording-key names another: moving from the
// made key to a configured one keeps the recordings readable.
func (c *config) withKeyFile(master []byte, previous [][]byte) ([][]byte, error) {
	if c.RecordingKey == "" {
		return previous, nil
	}
	path := filepath.Join(c.DataDir, "recording.key")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return previous, nil
	}
	made, err := keyFile(path, blob.MasterKeySize)
	if err != nil {
		return nil, fmt.Errorf("recording key in the data directory: %w", err)
	}
	if bytes.Equal(made, master) {
		return previous, nil
	}
	return append(previous, made), nil
}

func (c *config) openObjects(ctx context.Context, log *slog.Logger) (blob.Store, func() error, error) {
	if c.s3 == nil {
		d, err := disk.Open(filepath.Join(c.DataDir, "recordings"), disk.Options{})
		if err != nil {
			return nil, nil, err
		}
		return d, d.Close, nil
	}
	// A store that does not answer fails the start, rather than hang it.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := s3.Open(ctx, *c.s3)
	if err != nil {
		return nil, nil, fmt.Errorf("-blob: %w", err)
	}
	// Left by writers that crashed: invisible, but stored and billed.
	// Not every S3-compatible service lists uploads; the server works
	// without it.
	if n, err := s.AbortStaleUploads(ctx, staleUploads); err != nil {
		log.Warn("unfinished recording uploads not cleared", "bucket", c.s3.Bucket, "err", err)
	} else if n > 0 {
		log.Info("unfinished recording uploads of crashed writers aborted", "bucket", c.s3.Bucket, "count", n)
	}
	log.Info("recordings kept in object storage", "where", c.s3.String())
	return s, s.Close, nil
}

func (c *config) openKeys(ctx context.Context, db *sqlstore.Store, log *slog.Logger) (blob.KeyStore, func() error, error) {
	dir := filepath.Join(c.DataDir, "keys")
	if c.DB == "" {
		k, err := disk.OpenKeys(dir)
		if err != nil {
			return nil, nil, err
		}
		return k, k.Close, nil
	}
	if c.RecordingKey == "" {
		log.Warn("the recording master key is the one in the data directory: every node sharing this database needs the same, given with -recording-key")
	}
	keys := db.Keys()
	if err := moveDiskKeys(ctx, dir, keys, log); err != nil {
		return nil, nil, err
	}
	return keys, func() error { return nil }, nil
}

// moveDiskKeys moves the key files a server kept in dir (before it kept
// keys in PostgreSQL) into dst, destroying each file once dst holds the
// same key, so the recordings sealed with them stay readable. A
// conversation that has another key in dst already keeps its file, and
// an error is logged: which key is right is for a person to decide.
func moveDiskKeys(ctx context.Context, dir string, dst blob.KeyStore, log *slog.Logger) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.key"))
	if err != nil || len(files) == 0 {
		return err
	}
	src, err := disk.OpenKeys(dir)
	if err != nil {
		return err
	}
	defer src.Close()
	moved := 0
	var conflicts []string
	for _, f := range files {
		id := strings.TrimSuffix(filepath.Base(f), ".key")
		w, err := src.Get(ctx, id)
		if errors.Is(err, blob.ErrNotFound) {
			continue // destroyed meanwhile
		}
		if err != nil {
			return fmt.Errorf("move recording keys to the database: %w", err)
		}
		switch err := dst.Put(ctx, id, w); {
		case errors.Is(err, blob.ErrKeyExists):
			have, err := dst.Get(ctx, id)
			if err != nil {
				return fmt.Errorf("move recording keys to the database: %w", err)
			}
			if !bytes.Equal(have, w) {
				conflicts = append(conflicts, id)
				continue
			}
		case err != nil:
			return fmt.Errorf("move recording keys to the database: %w", err)
		}
		if err := src.Destroy(ctx, id); err != nil {
			return fmt.Errorf("move recording keys to the database: %w", err)
		}
		moved++
	}
	if moved > 0 {
		log.Info("recording keys moved from files into the database", "count", moved, "dir", dir)
	}
	if len(conflicts) > 0 {
		// Calls and chat need no key: the server starts, and the
		// recordings of these conversations wait for a person.
		log.Error("recording keys in files differ from the database's; both kept, the database's is used",
			"dir", dir, "conversations", strings.Join(conflicts, ","))
	}
	return nil
}

// recordingKey is the master key that wraps each conversation's key:
// -recording-key, or one made once and kept in the data directory.
func (c *config) recordingKey() ([]byte, error) {
	if c.RecordingKey != "" {
		k, err := base64.StdEncoding.DecodeString(c.RecordingKey)
		if err != nil || len(k) != blob.MasterKeySize {
			return nil, fmt.Errorf("-recording-key must be base64 of %d bytes", blob.MasterKeySize)
		}
		return k, nil
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	return keyFile(filepath.Join(c.DataDir, "recording.key"), blob.MasterKeySize)
}
