package disk

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"videosupport/blob"
)

// KeyStore keeps each conversation's wrapped key in a file <id>.key of its
// own directory, apart from the objects so that a copy of the recordings
// does not carry their keys. Destroy overwrites the file with zeros, syncs
// it and removes it. On SSDs and copy-on-write filesystems the overwrite
// may land elsewhere than the old bytes; the key stays wrapped by the
// master key either way.
type KeyStore struct {
	root *os.Root
	// mu orders Replace and Destroy, so a key destroyed while it is
	// being replaced is not brought back. One process uses a key
	// directory.
	mu sync.Mutex
}

var _ blob.KeyStore = (*KeyStore)(nil)

const (
	tmpPrefix     = ".tmp-"
	destroyPrefix = ".destroy-"
)

// OpenKeys opens (creating if needed) a key directory, mode 0700. It
// finishes destroying keys a crash interrupted mid-Destroy, and removes
// temporary files of Puts that crashed over an hour ago.
func OpenKeys(dir string) (*KeyStore, error) {
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return nil, fmt.Errorf("disk: keys: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("disk: keys: %w", err)
	}
	k := &KeyStore{root: root}
	if err := k.cleanUp(); err != nil {
		_ = root.Close()
		return nil, err
	}
	return k, nil
}

func (k *KeyStore) cleanUp() error {
	entries, err := fs.ReadDir(k.root.FS(), ".")
	if err != nil {
		return fmt.Errorf("disk: keys: %w", err)
	}
	for _, e := range entries {
		switch name := e.Name(); {
		case strings.HasPrefix(name, destroyPrefix):
			if err := k.shred(name); err != nil {
				return fmt.Errorf("disk: keys: finish destroying %s: %w", name, err)
			}
		case strings.HasPrefix(name, tmpPrefix):
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Hour {
				_ = k.root.Remove(name)
			}
		}
	}
	return nil
}

// Close releases the directory.
func (k *KeyStore) Close() error { return k.root.Close() }

func keyFile(id string) (string, error) {
	if err := blob.ValidConversationID(id); err != nil {
		return "", err
	}
	return id + ".key", nil
}

// Put writes the key to a temporary file and links it into place, which
// fails if a key is already there: a reader never sees a partial key and
// two racing writers agree on one.
func (k *KeyStore) Put(ctx context.Context, id string, wrapped []byte) error {
	name, err := keyFile(id)
	if err != nil {
		return err
	}
	tmp, err := k.writeTemp(wrapped)
	if err != nil {
		return fmt.Errorf("disk: put key %s: %w", id, err)
	}
	defer k.root.Remove(tmp)
	if err := k.root.Link(tmp, name); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("disk: put key %s: %w", id, blob.ErrKeyExists)
		}
		return fmt.Errorf("disk: put key %s: %w", id, err)
	}
	syncDir(k.root, ".")
	return nil
}

// writeTemp writes b to a new temporary file, synced, and names it.
func (k *KeyStore) writeTemp(b []byte) (string, error) {
	tmp := tempName(tmpPrefix)
	f, err := k.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return "", err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = k.root.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

func tempName(prefix string) string {
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	return prefix + hex.EncodeToString(rnd[:])
}

// Replace swaps the key file for one holding next, atomically (a rename
// over it), after keeping a second link to the old file that is then
// shredded: the old bytes are overwritten as Destroy would.
func (k *KeyStore) Replace(ctx context.Context, id string, old, next []byte) error {
	name, err := keyFile(id)
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	have, err := k.root.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) || err == nil && !bytes.Equal(have, old) {
		return fmt.Errorf("disk: replace key %s: %w", id, blob.ErrKeyChanged)
	}
	if err != nil {
		return fmt.Errorf("disk: replace key %s: %w", id, err)
	}
	tmp, err := k.writeTemp(next)
	if err != nil {
		return fmt.Errorf("disk: replace key %s: %w", id, err)
	}
	defer k.root.Remove(tmp)
	doomed := tempName(destroyPrefix)
	if err := k.root.Link(name, doomed); err != nil {
		return fmt.Errorf("disk: replace key %s: %w", id, err)
	}
	if err := k.root.Rename(tmp, name); err != nil {
		_ = k.root.Remove(doomed)
		return fmt.Errorf("disk: replace key %s: %w", id, err)
	}
	syncDir(k.root, ".")
	if err := k.shred(doomed); err != nil {
		return fmt.Errorf("disk: replace key %s: erase the old one: %w", id, err)
	}
	return nil
}

// IDs lists the conversations with a key file.
func (k *KeyStore) IDs(ctx context.Context) ([]string, error) {
	entries, err := fs.ReadDir(k.root.FS(), ".")
	if err != nil {
		return nil, fmt.Errorf("disk: keys: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), ".key"); ok && blob.ValidConversationID(id) == nil {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// Get reads the key.
func (k *KeyStore) Get(ctx context.Context, id string) ([]byte, error) {
	name, err := keyFile(id)
	if err != nil {
		return nil, err
	}
	b, err := k.root.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("disk: key %s: %w", id, blob.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("disk: key %s: %w", id, err)
	}
	return b, nil
}

// Destroy first renames the key file out of the way, so a concurrent Get
// finds nothing rather than zeros, then overwrites it with zeros and
// removes it.
func (k *KeyStore) Destroy(ctx context.Context, id string) error {
	name, err := keyFile(id)
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	doomed := tempName(destroyPrefix)
	if err := k.root.Rename(name, doomed); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("disk: destroy key %s: %w", id, err)
	}
	if err := k.shred(doomed); err != nil {
		return fmt.Errorf("disk: destroy key %s: %w", id, err)
	}
	return nil
}

// shred overwrites a file with zeros, syncs it and removes it.
func (k *KeyStore) shred(name string) error {
	f, err := k.root.OpenFile(name, os.O_WRONLY, 0)
	if err == nil {
		var info fs.FileInfo
		if info, err = f.Stat(); err == nil {
			_, err = f.WriteAt(make([]byte, info.Size()), 0)
		}
		if err == nil {
			err = f.Sync()
		}
		_ = f.Close()
	}
	if rerr := k.root.Remove(name); err == nil {
		err = rerr
	}
	syncDir(k.root, ".")
	return err
}

func syncDir(root *os.Root, dir string) {
	d, err := root.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
