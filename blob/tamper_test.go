package blob_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"videosupport/blob"
	"videosupport/blob/blobtest"
	"videosupport/blob/disk"
)

const (
	headerSize = 53
	sealedLen  = blob.ChunkSize + 16 // a full chunk as stored
)

// TestTamper: whatever is done to the stored bytes, reading fails; a read
// never returns bytes that differ from what was written.
func TestTamper(t *testing.T) {
	plain := blobtest.Data(1, 3*blob.ChunkSize+5000) // four chunks, the last short
	k := "conversations/c1/recordings/r1/call.webm"
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
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newSealed(t, disk.Options{})
			blobtest.Put(t, s, k, plain)
			blobtest.Put(t, s.inner, k, damage(blobtest.Get(t, s.inner, k)))
			// A changed key id names a key the conversation does not have.
			want := blob.ErrCorrupt
			if name == "flip byte 5" || name == "flip byte 20" {
				want = blob.ErrKeyDestroyed
			}
			assertNeverWrong(t, s, k, plain, want)
		})
	}
}

// assertNeverWrong checks that the damaged object does not read whole,
// that the failure is want, and that the ranges that do read (chunks left
// intact) hold the right bytes.
func assertNeverWrong(t *testing.T, s blob.Store, k string, plain []byte, want error) {
	t.Helper()
	got, err := readAll(s, k)
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

// TestMovedObject: an object copied to another key, in the same
// conversation or another, does not read there.
func TestMovedObject(t *testing.T) {
	s := newSealed(t, disk.Options{})
	plain := blobtest.Data(2, 100_000)
	a := "conversations/c1/recordings/r1/call.webm"
	b := "conversations/c1/recordings/r2/call.webm"
	c := "conversations/c2/recordings/r1/call.webm"
	blobtest.Put(t, s, a, plain)
	blobtest.Put(t, s, c, []byte("gives c2 a key"))
	raw := blobtest.Get(t, s.inner, a)
	for _, to := range []string{b, c} {
		blobtest.Put(t, s.inner, to, raw)
		if _, err := readAll(s, to); !errors.Is(err, blob.ErrCorrupt) && !errors.Is(err, blob.ErrKeyDestroyed) {
			t.Errorf("object copied to %s: %v, want an error", to, err)
		}
	}
}
