package blob_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"videosupport/blob"
	"videosupport/blob/blobtest"
	"videosupport/blob/disk"
)

// The contract of Encrypted itself (sealing, destroyed keys, tampering)
// runs in blob/disk's tests through blobtest.RunSealed, and will run over
// every later backend. Here: what only a look at the disk can show, and
// the parts above a store (HTTP ranges, retention).

// sealed is an Encrypted store on disk with the inner store and keys at
// hand, so tests can look at and damage what is really stored.
type sealed struct {
	*blob.Encrypted
	inner   *disk.Store
	keys    *disk.KeyStore
	dir     string // the inner store's directory
	keysDir string
}

var master = blobtest.Master

func newSealed(t *testing.T, opts disk.Options) *sealed {
	t.Helper()
	dir := t.TempDir()
	s := &sealed{dir: filepath.Join(dir, "blobs"), keysDir: filepath.Join(dir, "keys")}
	var err error
	if s.inner, err = disk.Open(s.dir, opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.inner.Close() })
	if s.keys, err = disk.OpenKeys(s.keysDir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.keys.Close() })
	if s.Encrypted, err = blob.NewEncrypted(s.inner, s.keys, master); err != nil {
		t.Fatal(err)
	}
	return s
}

// assertNoPlaintext fails if any file under dir starts with an EBML
// header or holds a piece of plain.
func assertNoPlaintext(t *testing.T, dir string, plain []byte) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		if blobtest.HoldsPlaintext(b, plain) {
			t.Errorf("%s holds plaintext", p)
		}
		return nil
	})
	if err != nil || files == 0 {
		t.Fatalf("looked at %d files: %v", files, err)
	}
}

// TestNoPlaintextOnDisk: no file the server writes, recordings or keys,
// holds the recording or the master key, before or after the key is
// destroyed.
func TestNoPlaintextOnDisk(t *testing.T) {
	s := newSealed(t, disk.Options{})
	plain := blobtest.WebM(300_000)
	blobtest.Put(t, s, "conversations/c1/recordings/r1/call.webm", plain)
	blobtest.Put(t, s, "conversations/c2/recordings/r1/call.webm", plain)
	assertNoPlaintext(t, s.dir, plain)
	assertNoPlaintext(t, s.keysDir, plain)
	assertNoPlaintext(t, s.keysDir, master)
	if err := s.DestroyKey(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	assertNoPlaintext(t, s.dir, plain)
	assertNoPlaintext(t, s.keysDir, plain)
	if _, err := os.Stat(filepath.Join(s.keysDir, "c1.key")); !os.IsNotExist(err) {
		t.Errorf("the destroyed key's file is still there: %v", err)
	}
}
