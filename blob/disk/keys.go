package disk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
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
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	tmp := tmpPrefix + hex.EncodeToString(rnd[:])
	f, err := k.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return fmt.Errorf("disk: put key %s: %w", id, err)
	}
	defer k.root.Remove(tmp)
	_, err = f.Write(wrapped)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("disk: put key %s: %w", id, err)
	}
	if err := k.root.Link(tmp, name); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("disk: put key %s: %w", id, blob.ErrKeyExists)
		}
		return fmt.Errorf("disk: put key %s: %w", id, err)
	}
	syncDir(k.root, ".")
	return nil
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
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	doomed := destroyPrefix + hex.EncodeToString(rnd[:])
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
