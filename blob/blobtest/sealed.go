package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"videosupport/blob"
)

// SealedBackend makes fresh, empty storage for a blob.Encrypted: the
// inner store and the key store it wraps.
type SealedBackend func(t *testing.T) (inner blob.Store, keys blob.KeyStore)

// Master is the master key the sealed contract uses.
var Master = Data(42, blob.MasterKeySize)

// RunSealed runs the contract of blob.Encrypted over a backend: what
// reaches the inner store is sealed; a destroyed key makes recordings
// unreadable, restored backups included; and damage of any kind to the
// stored bytes is an error, never wrong plaintext. It works through the
// inner store's own API, so it holds for S3 as for disk.
func RunSealed(t *testing.T, b SealedBackend) {
	for _, tc := range []struct {
		name string
		f    func(*testing.T, *sealed)
	}{
		{"StoredBytesAreSealed", testStoredBytesAreSealed},
		{"DestroyedKey", testDestroyedKey},
		{"WrongMasterKey", testWrongMasterKey},
		{"MasterKeyRotation", testMasterKeyRotation},
		{"KeyBoundToConversation", testKeyBoundToConversation},
		{"KeysOutsideConversations", testKeysOutsideConversations},
		{"CommitAfterKeyDestroyed", testCommitAfterKeyDestroyed},
		{"PlainObjectRefused", testPlainObjectRefused},
		{"MovedObject", testMovedObject},
		{"Tamper", testTamper},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.f(t, newSealed(t, b))
		})
	}
}

type sealed struct {
	*blob.Encrypted
	inner blob.Store
	keys  blob.KeyStore
}

func newSealed(t *testing.T, b SealedBackend) *sealed {
	t.Helper()
	inner, keys := b(t)
	e, err := blob.NewEncrypted(inner, keys, Master)
	if err != nil {
		t.Fatal(err)
	}
	return &sealed{Encrypted: e, inner: inner, keys: keys}
}

// WebM returns n bytes of plaintext that look like a recording: an EBML
// header, then recognisable text.
func WebM(n int) []byte {
	b := append([]byte{0x1a, 0x45, 0xdf, 0xa3}, bytes.Repeat([]byte("customer said: my account number is 12345678. "), n/46+1)...)
	return b[:n]
}

// HoldsPlaintext reports whether stored starts with an EBML header or
// holds any 32-byte piece of plain (sampled every 4093 bytes).
func HoldsPlaintext(stored, plain []byte) bool {
	if bytes.HasPrefix(stored, []byte{0x1a, 0x45, 0xdf, 0xa3}) {
		return true
	}
	for off := 0; off+32 <= len(plain); off += 4093 {
		if bytes.Contains(stored, plain[off:off+32]) {
			return true
		}
	}
	return false
}

// ReadAll reads a whole object through ReadAt in pieces smaller than a
// chunk, as http.ServeContent does.
func ReadAll(s blob.Store, k string) ([]byte, error) {
	return get(s, k)
}

// Format v1 as stored: a 53-byte header, then chunks of ChunkSize bytes
// and a 16-byte tag.
const (
	headerSize = 53
	sealedLen  = blob.ChunkSize + 16
)

func testStoredBytesAreSealed(t *testing.T, s *sealed) {
	plain := WebM(300_000)
	k := "conversations/c1/recordings/r1/call.webm"
	Put(t, s, k, plain)
	raw := Get(t, s.inner, k)
	if HoldsPlaintext(raw, plain) {
		t.Error("the inner store holds plaintext")
	}
	if want := len(plain) + headerSize + 5*16; len(raw) != want {
		t.Errorf("stored %d bytes for %d of plaintext, want %d (header and one tag per 64 KiB)", len(raw), len(plain), want)
	}
	w, err := s.keys.Get(context.Background(), "c1")
	if err != nil || bytes.Contains(w, Master) {
		t.Errorf("wrapped key: %v, or it holds the master key", err)
	}
	sameBytes(t, "decrypted", Get(t, s, k), plain)
}

func testDestroyedKey(t *testing.T, s *sealed) {
	ctx := context.Background()
	plain := WebM(200_000)
	k := "conversations/c1/recordings/r1/call.webm"
	other := "conversations/c2/recordings/r1/call.webm"
	Put(t, s, k, plain)
	Put(t, s, other, plain)
	backup := Get(t, s.inner, k)

	if err := s.DestroyKey(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	_, err := s.Open(ctx, k)
	if !errors.Is(err, blob.ErrKeyDestroyed) {
		t.Fatalf("Open after DestroyKey: %v, want ErrKeyDestroyed", err)
	}
	if !strings.Contains(err.Error(), "destroyed") {
		t.Errorf("the error does not say the key was destroyed: %v", err)
	}
	sameBytes(t, "another conversation's recording", Get(t, s, other), plain)

	// A new recording in the same conversation gets a new key; the old
	// object, restored from a backup, stays unreadable.
	k2 := "conversations/c1/recordings/r2/call.webm"
	Put(t, s, k2, plain[:1000])
	sameBytes(t, "new recording after DestroyKey", Get(t, s, k2), plain[:1000])
	Put(t, s.inner, k, backup)
	if _, err := s.Open(ctx, k); !errors.Is(err, blob.ErrKeyDestroyed) {
		t.Errorf("Open of a restored backup: %v, want ErrKeyDestroyed", err)
	}
}

func testWrongMasterKey(t *testing.T, s *sealed) {
	k := "conversations/c1/x"
	Put(t, s, k, []byte("hello"))
	other, err := blob.NewEncrypted(s.inner, s.keys, Data(7, 32))
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

// testMasterKeyRotation: with a new master key and the old one given as
// previous, recordings stay readable; Rewrap moves every key to the new
// one, after which the old master key opens nothing and is not needed.
func testMasterKeyRotation(t *testing.T, s *sealed) {
	ctx := context.Background()
	plain := WebM(3000)
	for _, c := range []string{"c1", "c2", "c3"} {
		Put(t, s, "conversations/"+c+"/x", plain)
	}
	newMaster := Data(8, blob.MasterKeySize)
	rotating, err := blob.NewEncrypted(s.inner, s.keys, newMaster, Data(99, blob.MasterKeySize), Master)
	if err != nil {
		t.Fatal(err)
	}
	// Read through the new store: c1's key moves on the way.
	sameBytes(t, "read during the rotation", Get(t, rotating, "conversations/c1/x"), plain)
	if err := s.keys.Destroy(ctx, "c3"); err != nil {
		t.Fatal(err)
	}
	st, err := rotating.Rewrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Current != 1 || st.Rewrapped != 1 || len(st.Unreadable) != 0 {
		t.Errorf("Rewrap: %+v, want c1 current, c2 rewrapped, nothing unreadable", st)
	}
	if st, _ := rotating.Rewrap(ctx); st.Current != 2 || st.Rewrapped != 0 {
		t.Errorf("a second Rewrap: %+v, want both current", st)
	}
	after, err := blob.NewEncrypted(s.inner, s.keys, newMaster)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"c1", "c2"} {
		sameBytes(t, "read with the new master key alone", Get(t, after, "conversations/"+c+"/x"), plain)
		if _, err := s.Open(ctx, "conversations/"+c+"/x"); !errors.Is(err, blob.ErrKeyUnwrap) {
			t.Errorf("the old master key still opens %s: %v", c, err)
		}
	}
	if _, err := after.Open(ctx, "conversations/c3/x"); !errors.Is(err, blob.ErrKeyDestroyed) {
		t.Errorf("a key destroyed during the rotation: %v, want ErrKeyDestroyed", err)
	}
	// A key under a master key nobody gave is reported, not lost.
	Put(t, s, "conversations/c4/x", plain)
	if st, _ := after.Rewrap(ctx); len(st.Unreadable) != 1 || st.Unreadable[0] != "c4" {
		t.Errorf("Rewrap without the key c4 was wrapped with: %+v, want c4 unreadable", st)
	}
}

func testKeyBoundToConversation(t *testing.T, s *sealed) {
	ctx := context.Background()
	Put(t, s, "conversations/c1/x", []byte("one"))
	Put(t, s, "conversations/c2/x", []byte("two"))
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

func testKeysOutsideConversations(t *testing.T, s *sealed) {
	ctx := context.Background()
	for _, k := range []string{"x", "conversations/c1", "recordings/c1/x", "conversations/" + strings.Repeat("a", 201) + "/x"} {
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

// testCommitAfterKeyDestroyed: a recording finished after its
// conversation's key was destroyed is refused, not kept unreadable.
func testCommitAfterKeyDestroyed(t *testing.T, s *sealed) {
	ctx := context.Background()
	k := "conversations/c1/recordings/r1/call.webm"
	w, err := s.Create(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(WebM(100_000)); err != nil {
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

// testPlainObjectRefused: an object that was never sealed is reported as
// such, not decrypted into garbage.
func testPlainObjectRefused(t *testing.T, s *sealed) {
	k := "conversations/c1/x"
	Put(t, s, "conversations/c1/y", []byte("makes the key"))
	Put(t, s.inner, k, WebM(100_000))
	if _, err := s.Open(context.Background(), k); !errors.Is(err, blob.ErrCorrupt) {
		t.Errorf("Open of a plain object: %v, want ErrCorrupt", err)
	}
}

// testMovedObject: an object copied to another key, in the same
// conversation or another, does not read there.
func testMovedObject(t *testing.T, s *sealed) {
	plain := Data(2, 100_000)
	a := "conversations/c1/recordings/r1/call.webm"
	b := "conversations/c1/recordings/r2/call.webm"
	c := "conversations/c2/recordings/r1/call.webm"
	Put(t, s, a, plain)
	Put(t, s, c, []byte("gives c2 a key"))
	raw := Get(t, s.inner, a)
	for _, to := range []string{b, c} {
		Put(t, s.inner, to, raw)
		if _, err := get(s, to); !errors.Is(err, blob.ErrCorrupt) && !errors.Is(err, blob.ErrKeyDestroyed) {
			t.Errorf("object copied to %s: %v, want an error", to, err)
		}
	}
}

// testTamper: whatever is done to the stored bytes, reading fails; a read
// never returns bytes that differ from what was written.
func testTamper(t *testing.T, s *sealed) {
	plain := Data(1, 3*blob.ChunkSize+5000) // four chunks, the last short
	chunk := func(raw []byte, i int) []byte {
		off := headerSize + i*sealedLen
		return raw[off:min(off+sealedLen, len(raw))]
	}
	flip := func(at int) func([]byte) []byte {
		return func(raw []byte) []byte {
			if at < 0 {
				at += len(raw)
			}
			raw[at] ^= 0x01
			return raw
		}
	}
	cases := map[string]func(raw []byte) []byte{
		"swap chunks 0 and 1": func(raw []byte) []byte {
			c0, c1 := bytes.Clone(chunk(raw, 0)), bytes.Clone(chunk(raw, 1))
			copy(chunk(raw, 0), c1)
			copy(chunk(raw, 1), c0)
			return raw
		},
		"repeat chunk 0 as chunk 1": func(raw []byte) []byte { copy(chunk(raw, 1), chunk(raw, 0)); return raw },
		"drop chunk 1": func(raw []byte) []byte {
			return append(raw[:headerSize+sealedLen:headerSize+sealedLen], raw[headerSize+2*sealedLen:]...)
		},
		"truncate to three full chunks":  func(raw []byte) []byte { return raw[:headerSize+3*sealedLen] },
		"truncate inside the last chunk": func(raw []byte) []byte { return raw[:len(raw)-100] },
		"truncate by one byte":           func(raw []byte) []byte { return raw[:len(raw)-1] },
		"truncate to the header":         func(raw []byte) []byte { return raw[:headerSize] },
		"truncate inside the header":     func(raw []byte) []byte { return raw[:20] },
		"empty":                          func(raw []byte) []byte { return nil },
		"append a byte":                  func(raw []byte) []byte { return append(raw, 0) },
		"append a chunk":                 func(raw []byte) []byte { return append(raw, chunk(raw, 0)...) },
		"flip last byte":                 flip(-1),
	}
	for _, at := range []int{
		0, 3, 4, 5, 20, 21, 40, headerSize - 1, // magic, version, key id, salt
		headerSize, headerSize + 11, headerSize + blob.ChunkSize - 1, headerSize + blob.ChunkSize + 15, // chunk 0 body and tag
		headerSize + sealedLen, headerSize + 2*sealedLen + 999, headerSize + 3*sealedLen + 7, // later chunks
	} {
		cases[fmt.Sprintf("flip byte %d", at)] = flip(at)
	}
	// One object a case, side by side in one store.
	i := 0
	for name, damage := range cases {
		k := fmt.Sprintf("conversations/c1/recordings/t%d/call.webm", i)
		i++
		Put(t, s, k, plain)
		Put(t, s.inner, k, damage(Get(t, s.inner, k)))
		// A changed key id names a key the conversation does not have.
		want := blob.ErrCorrupt
		if name == "flip byte 5" || name == "flip byte 20" {
			want = blob.ErrKeyDestroyed
		}
		t.Run(name, func(t *testing.T) { assertNeverWrong(t, s, k, plain, want) })
	}
}

// assertNeverWrong checks that the damaged object does not read whole,
// that the failure is want, and that the ranges that do read (chunks left
// intact) hold the right bytes.
func assertNeverWrong(t *testing.T, s blob.Store, k string, plain []byte, want error) {
	t.Helper()
	got, err := get(s, k)
	if err == nil {
		t.Fatalf("the damaged object read whole (%d bytes, equal to the original: %v)", len(got), bytes.Equal(got, plain))
	}
	if !errors.Is(err, want) {
		t.Errorf("error %v, want %v", err, want)
	}
	r, err := s.Open(context.Background(), k)
	if err != nil {
		return // refused at once
	}
	defer r.Close()
	for off := int64(0); off < r.Size(); off += 10_007 {
		p := make([]byte, 20_000)
		n, err := r.ReadAt(p, off)
		if off+int64(n) > int64(len(plain)) || !bytes.Equal(p[:n], plain[off:off+int64(n)]) {
			t.Fatalf("ReadAt(off %d) returned %d wrong bytes (err %v)", off, n, err)
		}
		if err != nil && err != io.EOF && !errors.Is(err, blob.ErrCorrupt) {
			t.Errorf("ReadAt(off %d): %v, want ErrCorrupt", off, err)
		}
	}
}
