// Package disk is the default blob backend: objects are files under one
// directory, written to a temporary file and renamed into place so a
// reader never sees half an object, and a crash leaves either the old
// object or the new one. It also has a file-based blob.KeyStore.
package disk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"videosupport/blob"
)

const (
	objectsDir = "objects"
	tmpDir     = "tmp"
	filePerm   = 0o600
	dirPerm    = 0o700
	// staleTmp: a temporary file this old at Open is a leftover of a crash.
	staleTmp = 24 * time.Hour
)

// Options adjust a Store; the zero value is the default.
type Options struct {
	// Now stamps committed objects (their ModTime); nil means time.Now.
	// Tests of retention set it.
	Now func() time.Time
}

// Store keeps objects as files: <dir>/objects/<key>, with files 0600 and
// directories 0700. Every path goes through an os.Root, so even a key
// that slipped past blob.ValidKey could not leave the directory.
//
// A key cannot name both an object and a "directory" of other objects
// (a/b and a/b/c): committing the second fails. Recording keys never do.
type Store struct {
	root *os.Root
	now  func() time.Time
	dirs sync.RWMutex // commits (read) against pruning empty directories (write)
}

var _ blob.Store = (*Store)(nil)

// Open opens (creating if needed) a store in dir and removes temporary
// files that crashed writers left more than a day ago.
func Open(dir string, opts Options) (*Store, error) {
	for _, d := range []string{dir, path.Join(dir, objectsDir), path.Join(dir, tmpDir)} {
		if err := os.MkdirAll(d, dirPerm); err != nil {
			return nil, fmt.Errorf("disk: %w", err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("disk: %w", err)
	}
	s := &Store{root: root, now: opts.Now}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.removeStale(); err != nil {
		_ = root.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the directory.
func (s *Store) Close() error { return s.root.Close() }

func (s *Store) removeStale() error {
	entries, err := fs.ReadDir(s.root.FS(), tmpDir)
	if err != nil {
		return fmt.Errorf("disk: %w", err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || s.now().Sub(info.ModTime()) < staleTmp {
			continue
		}
		_ = s.root.Remove(path.Join(tmpDir, e.Name()))
	}
	return nil
}

func objectPath(key string) string { return objectsDir + "/" + key }

// Create starts a temporary file for key.
func (s *Store) Create(ctx context.Context, key string) (blob.Writer, error) {
	if err := blob.ValidKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(tmpDir, hex.EncodeToString(rnd[:]))
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return nil, fmt.Errorf("disk: create %s: %w", key, err)
	}
	return &writer{s: s, key: key, tmp: tmp, f: f}, nil
}

// Open opens the object's file; a reader keeps the file it opened even if
// the key is overwritten or deleted.
func (s *Store) Open(ctx context.Context, key string) (blob.Reader, error) {
	if err := blob.ValidKey(key); err != nil {
		return nil, err
	}
	f, err := s.root.Open(objectPath(key))
	if err != nil {
		return nil, notFound(key, err)
	}
	info, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("disk: stat %s: %w", key, err)
	}
	if !info.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("disk: %s: %w", key, blob.ErrNotFound)
	}
	return &reader{File: f, size: info.Size()}, nil
}

// Stat describes the object.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	if err := blob.ValidKey(key); err != nil {
		return blob.Info{}, err
	}
	info, err := s.root.Stat(objectPath(key))
	if err != nil {
		return blob.Info{}, notFound(key, err)
	}
	if !info.Mode().IsRegular() {
		return blob.Info{}, fmt.Errorf("disk: %s: %w", key, blob.ErrNotFound)
	}
	return blob.Info{Key: key, Size: info.Size(), ModTime: info.ModTime()}, nil
}

// List walks the directory that holds prefix and keeps the files whose
// keys start with it.
func (s *Store) List(ctx context.Context, prefix string) ([]blob.Info, error) {
	if err := blob.ValidPrefix(prefix); err != nil {
		return nil, err
	}
	start := objectsDir
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = objectPath(prefix[:i])
	}
	var out []blob.Info
	err := fs.WalkDir(s.root.FS(), start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // a directory deleted while walking, or no such prefix
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		key := strings.TrimPrefix(p, objectsDir+"/")
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted while walking
		}
		if err != nil {
			return err
		}
		out = append(out, blob.Info{Key: key, Size: info.Size(), ModTime: info.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("disk: list %q: %w", prefix, err)
	}
	slices.SortFunc(out, func(a, b blob.Info) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete removes the object and the directories it leaves empty.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := blob.ValidKey(key); err != nil {
		return err
	}
	p := objectPath(key)
	info, err := s.root.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && info.IsDir()) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("disk: delete %s: %w", key, err)
	}
	if err := s.root.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("disk: delete %s: %w", key, err)
	}
	s.syncDir(path.Dir(p))
	s.pruneDirs(path.Dir(p))
	return nil
}

// pruneDirs removes empty directories from dir up to objects/. A commit
// racing with it may find its directory gone; commit retries for that.
func (s *Store) pruneDirs(dir string) {
	s.dirs.Lock()
	defer s.dirs.Unlock()
	for dir != objectsDir && strings.HasPrefix(dir, objectsDir+"/") {
		if err := s.root.Remove(dir); err != nil {
			return // not empty, most often
		}
		dir = path.Dir(dir)
	}
}

// syncDir makes a rename or removal in dir durable; best effort, since
// the data itself is already synced.
func (s *Store) syncDir(dir string) { syncDir(s.root, dir) }

func notFound(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("disk: %s: %w", key, blob.ErrNotFound)
	}
	return fmt.Errorf("disk: %s: %w", key, err)
}

type reader struct {
	*os.File
	size int64
}

func (r *reader) Size() int64 { return r.size }

// writer is one temporary file on its way to becoming an object.
type writer struct {
	s    *Store
	key  string
	tmp  string
	f    *os.File
	done bool
}

func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, blob.ErrCommitted
	}
	n, err := w.f.Write(p)
	if err != nil {
		err = fmt.Errorf("disk: write %s: %w", w.key, err)
	}
	return n, err
}

// Commit syncs the file, stamps it, and renames it over the key.
func (w *writer) Commit() error {
	if w.done {
		return blob.ErrCommitted
	}
	defer w.Close()
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("disk: sync %s: %w", w.key, err)
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("disk: close %s: %w", w.key, err)
	}
	now := w.s.now()
	if err := w.s.root.Chtimes(w.tmp, now, now); err != nil {
		return fmt.Errorf("disk: stamp %s: %w", w.key, err)
	}
	dst := objectPath(w.key)
	// A Delete pruning empty directories may remove ours (or a parent)
	// while MkdirAll builds them or before Rename uses them. In this
	// process dirs keeps them apart; against another process sharing the
	// directory, a few tries settle it.
	w.s.dirs.RLock()
	defer w.s.dirs.RUnlock()
	var err error
	for range 20 {
		err = w.s.root.MkdirAll(path.Dir(dst), dirPerm)
		if err == nil {
			err = w.s.root.Rename(w.tmp, dst)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("disk: commit %s: %w", w.key, err)
	}
	w.tmp = "" // nothing left to remove
	w.s.syncDir(path.Dir(dst))
	return nil
}

// Close removes the temporary file unless Commit renamed it.
func (w *writer) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	_ = w.f.Close()
	if w.tmp != "" {
		if err := w.s.root.Remove(w.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("disk: discard %s: %w", w.key, err)
		}
	}
	return nil
}
