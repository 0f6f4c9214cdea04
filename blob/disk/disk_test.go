package disk_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"videosupport/blob"
	"videosupport/blob/blobtest"
	"videosupport/blob/disk"
)

func openStore(t *testing.T, dir string) *disk.Store {
	t.Helper()
	s, err := disk.Open(dir, disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func openKeys(t *testing.T, dir string) *disk.KeyStore {
	t.Helper()
	k, err := disk.OpenKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return k
}

func TestContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) func() blob.Store {
		dir := t.TempDir()
		return func() blob.Store { return openStore(t, dir) }
	})
}

// TestContractEncrypted: the same contract holds with every object sealed.
func TestContractEncrypted(t *testing.T) {
	master := blobtest.Data(99, blob.MasterKeySize)
	blobtest.Run(t, func(t *testing.T) func() blob.Store {
		dir := t.TempDir()
		return func() blob.Store {
			e, err := blob.NewEncrypted(openStore(t, filepath.Join(dir, "objects")), openKeys(t, filepath.Join(dir, "keys")), master)
			if err != nil {
				t.Fatal(err)
			}
			return e
		}
	})
}

func TestKeyStoreContract(t *testing.T) {
	blobtest.RunKeyStore(t, func(t *testing.T) func() blob.KeyStore {
		dir := t.TempDir()
		return func() blob.KeyStore { return openKeys(t, dir) }
	})
}

// TestPermissions: recordings and keys are readable by the server's user
// only.
func TestPermissions(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "blobs"))
	k := openKeys(t, filepath.Join(dir, "keys"))
	blobtest.Put(t, s, "conversations/c1/recordings/r1/call.webm", []byte("x"))
	if err := k.Put(context.Background(), "c1", []byte("wrapped")); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, info.Mode().Perm(), want)
		}
		n++
		return nil
	})
	if err != nil || n < 8 {
		t.Fatalf("walked %d entries, %v", n, err)
	}
}

// TestNoLeftovers: a discarded write and a deleted object leave no file
// and no empty directory behind.
func TestNoLeftovers(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	ctx := context.Background()
	w, err := s.Create(ctx, "conversations/c1/recordings/r1/a.webm")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	blobtest.Put(t, s, "conversations/c1/recordings/r1/b.webm", []byte("b"))
	if err := s.Delete(ctx, "conversations/c1/recordings/r1/b.webm"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"tmp", "objects"} {
		entries, err := os.ReadDir(filepath.Join(dir, d))
		if err != nil || len(entries) != 0 {
			t.Errorf("%s holds %v (%v), want nothing", d, entries, err)
		}
	}
}

// TestStaleTempRemoved: Open clears temporary files a crash left behind a
// day ago, and leaves a fresh one (a writer of another process) alone.
func TestStaleTempRemoved(t *testing.T) {
	dir := t.TempDir()
	_ = openStore(t, dir)
	old, fresh := filepath.Join(dir, "tmp", "old"), filepath.Join(dir, "tmp", "fresh")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	_ = openStore(t, dir)
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("stale temp file still there: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temp file removed: %v", err)
	}
}

// TestModTimeFromClock: objects carry the injected clock's time, which
// the retention tests rely on.
func TestModTimeFromClock(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	s, err := disk.Open(t.TempDir(), disk.Options{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	blobtest.Put(t, s, "conversations/c1/x", []byte("x"))
	info, err := s.Stat(context.Background(), "conversations/c1/x")
	if err != nil || !info.ModTime.Equal(at) {
		t.Errorf("ModTime %v, %v; want %v", info.ModTime, err, at)
	}
}

// TestKeyDestroyLeavesNothing: the key file and any copy of its bytes
// are gone from the key directory.
func TestKeyDestroyLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	k := openKeys(t, dir)
	ctx := context.Background()
	if err := k.Put(ctx, "c1", []byte("secret-wrapped-key")); err != nil {
		t.Fatal(err)
	}
	if err := k.Destroy(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("key directory holds %v (%v) after Destroy", entries, err)
	}
}

func TestKeyStoreRejectsBadIDs(t *testing.T) {
	k := openKeys(t, t.TempDir())
	ctx := context.Background()
	for _, id := range []string{"", ".", "..", "a/b", "../x", "a\x00"} {
		if err := k.Put(ctx, id, []byte("w")); err == nil {
			t.Errorf("Put(%q) succeeded", id)
		}
		if _, err := k.Get(ctx, id); err == nil {
			t.Errorf("Get(%q) succeeded", id)
		}
		if err := k.Destroy(ctx, id); err == nil {
			t.Errorf("Destroy(%q) succeeded", id)
		}
	}
}

// TestKeyDestroyFinishedAfterCrash: a key a crash left half destroyed is
// destroyed when the store opens again; a Put's fresh temporary file is
// left to its writer.
func TestKeyDestroyFinishedAfterCrash(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{".destroy-1": "wrapped key", ".tmp-2": "being put"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_ = openKeys(t, dir)
	if _, err := os.Stat(filepath.Join(dir, ".destroy-1")); !os.IsNotExist(err) {
		t.Errorf("half-destroyed key still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".tmp-2")); err != nil {
		t.Errorf("a fresh Put's temporary file was removed: %v", err)
	}
}

// TestSealedContract: encryption's own contract over the disk backend.
func TestSealedContract(t *testing.T) {
	blobtest.RunSealed(t, func(t *testing.T) (blob.Store, blob.KeyStore) {
		dir := t.TempDir()
		return openStore(t, filepath.Join(dir, "objects")), openKeys(t, filepath.Join(dir, "keys"))
	})
}
