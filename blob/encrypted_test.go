package blob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"videosupport/blob"
	"videosupport/blob/blobtest"
	"videosupport/blob/disk"
)

// sealed is an Encrypted store on disk with the inner store and keys at
// hand, so tests can look at and damage what is really stored.
type sealed struct {
	*blob.Encrypted
	inner   *disk.Store
	keys    *disk.KeyStore
	dir     string // the inner store's directory
	keysDir string
}

var master = blobtest.Data(42, blob.MasterKeySize)

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

// webm is plaintext that looks like a recording: an EBML header, then
// recognisable text.
func webm(n int) []byte {
	b := append([]byte{0x1a, 0x45, 0xdf, 0xa3}, bytes.Repeat([]byte("customer said: my account number is 12345678. "), n/46+1)...)
	return b[:n]
}

// assertNoPlaintext fails if any file under dir holds the EBML magic at its
// start or any 32-byte piece of plain.
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
		if bytes.HasPrefix(b, []byte{0x1a, 0x45, 0xdf, 0xa3}) {
			t.Errorf("%s starts with an EBML header", p)
		}
		for off := 0; off+32 <= len(plain); off += 4093 {
			if bytes.Contains(b, plain[off:off+32]) {
				t.Errorf("%s holds plaintext from offset %d", p, off)
				return nil
			}
		}
		return nil
	})
	if err != nil || files == 0 {
		t.Fatalf("looked at %d files: %v", files, err)
	}
}

func TestStoredBytesAreSealed(t *testing.T) {
	s := newSealed(t, disk.Options{})
	plain := webm(300_000)
	k := "conversations/c1/recordings/r1/call.webm"
	blobtest.Put(t, s, k, plain)
	assertNoPlaintext(t, s.dir, plain)
	assertNoPlaintext(t, s.keysDir, master) // the key files hold no master key either
	raw := blobtest.Get(t, s.inner, k)
	if want := len(plain) + 53 + 5*16; len(raw) != want {
		t.Errorf("stored %d bytes for %d of plaintext, want %d (header and one tag per 64 KiB)", len(raw), len(plain), want)
	}
	if got := blobtest.Get(t, s, k); !bytes.Equal(got, plain) {
		t.Error("decrypts to other bytes than were written")
	}
}

// TestDestroyedKey: once a conversation's key is destroyed its recordings
// fail with ErrKeyDestroyed, also from a backup of the stored files, and
// the conversation can record again under a new key.
func TestDestroyedKey(t *testing.T) {
	s := newSealed(t, disk.Options{})
	ctx := context.Background()
	plain := webm(200_000)
	k := "conversations/c1/recordings/r1/call.webm"
	other := "conversations/c2/recordings/r1/call.webm"
	blobtest.Put(t, s, k, plain)
	blobtest.Put(t, s, other, plain)
	backup := blobtest.Get(t, s.inner, k)

	if err := s.DestroyKey(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, k); !errors.Is(err, blob.ErrKeyDestroyed) {
		t.Fatalf("Open after DestroyKey: %v, want ErrKeyDestroyed", err)
	}
	if _, err := s.Open(ctx, k); err == nil || !bytes.Contains([]byte(err.Error()), []byte("destroyed")) {
		t.Errorf("the error does not say the key was destroyed: %v", err)
	}
	if got := blobtest.Get(t, s, other); !bytes.Equal(got, plain) {
		t.Error("another conversation's recording changed")
	}
	assertNoPlaintext(t, s.dir, plain)
	assertNoPlaintext(t, s.keysDir, plain)

	// A new recording in the same conversation gets a new key; the old
	// object, restored from a backup, stays unreadable.
	k2 := "conversations/c1/recordings/r2/call.webm"
	blobtest.Put(t, s, k2, plain[:1000])
	if got := blobtest.Get(t, s, k2); !bytes.Equal(got, plain[:1000]) {
		t.Error("new recording after DestroyKey reads back wrong")
	}
	blobtest.Put(t, s.inner, k, backup)
	if _, err := s.Open(ctx, k); !errors.Is(err, blob.ErrKeyDestroyed) {
		t.Errorf("Open of a restored backup: %v, want ErrKeyDestroyed", err)
	}
}

// TestWrongMasterKey: a server started with another master key cannot
// read, and says why.
func TestWrongMasterKey(t *testing.T) {
	s := newSealed(t, disk.Options{})
	k := "conversations/c1/x"
	blobtest.Put(t, s, k, []byte("hello"))
	other, err := blob.NewEncrypted(s.inner, s.keys, blobtest.Data(7, 32))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Open(context.Background(), k); !errors.Is(err, blob.ErrKeyUnwrap) {
		t.Errorf("Open with another master key: %v, want ErrKeyUnwrap", err)
	}
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := blob.NewEncrypted(s.inner, s.keys, make([]byte, n)); err == nil {
			t.Errorf("a %d-byte master key was accepted", n)
		}
	}
}

// TestKeyBoundToConversation: a wrapped key copied to another
// conversation does not unwrap.
func TestKeyBoundToConversation(t *testing.T) {
	s := newSealed(t, disk.Options{})
	ctx := context.Background()
	blobtest.Put(t, s, "conversations/c1/x", []byte("one"))
	blobtest.Put(t, s, "conversations/c2/x", []byte("two"))
	w1, err := s.keys.Get(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.keys.Destroy(ctx, "c2"); err != nil {
		t.Fatal(err)
	}
	if err := s.keys.Put(ctx, "c2", w1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, "conversations/c2/x"); !errors.Is(err, blob.ErrKeyUnwrap) {
		t.Errorf("Open with another conversation's key: %v, want ErrKeyUnwrap", err)
	}
}

func TestKeysOutsideConversations(t *testing.T) {
	s := newSealed(t, disk.Options{})
	ctx := context.Background()
	for _, k := range []string{"x", "conversations/c1", "recordings/c1/x", "conversations/" + string(bytes.Repeat([]byte("a"), 201)) + "/x"} {
		if _, err := s.Create(ctx, k); !errors.Is(err, blob.ErrBadKey) {
			t.Errorf("Create(%q): %v, want ErrBadKey", k, err)
		}
		if _, err := s.Open(ctx, k); !errors.Is(err, blob.ErrBadKey) {
			t.Errorf("Open(%q): %v, want ErrBadKey", k, err)
		}
	}
	for _, id := range []string{"", "a/b", ".."} {
		if err := s.DestroyKey(ctx, id); !errors.Is(err, blob.ErrBadKey) {
			t.Errorf("DestroyKey(%q): %v, want ErrBadKey", id, err)
		}
	}
}

// TestCommitAfterKeyDestroyed: a recording finished after its
// conversation's key was destroyed is refused, not kept unreadable.
func TestCommitAfterKeyDestroyed(t *testing.T) {
	s := newSealed(t, disk.Options{})
	ctx := context.Background()
	k := "conversations/c1/recordings/r1/call.webm"
	w, err := s.Create(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(webm(100_000)); err != nil {
		t.Fatal(err)
	}
	if err := s.DestroyKey(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); !errors.Is(err, blob.ErrKeyDestroyed) {
		t.Errorf("Commit after DestroyKey: %v, want ErrKeyDestroyed", err)
	}
	if _, err := s.Stat(ctx, k); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("the unreadable object was kept: %v", err)
	}
}

// TestPlainObjectRefused: an object that was never sealed is reported as
// such, not decrypted into garbage.
func TestPlainObjectRefused(t *testing.T) {
	s := newSealed(t, disk.Options{})
	k := "conversations/c1/x"
	blobtest.Put(t, s, "conversations/c1/y", []byte("makes the key"))
	blobtest.Put(t, s.inner, k, webm(100_000))
	if _, err := s.Open(context.Background(), k); !errors.Is(err, blob.ErrCorrupt) {
		t.Errorf("Open of a plain object: %v, want ErrCorrupt", err)
	}
}

// readAll reads the whole object through ReadAt in pieces smaller than a
// chunk, as http.ServeContent does.
func readAll(s blob.Store, k string) ([]byte, error) {
	r, err := s.Open(context.Background(), k)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
}
