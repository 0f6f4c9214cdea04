package blob

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// testChunk is small so that every boundary case fits in a few hundred
// bytes; the format does not depend on the size.
const testChunk = 64

var (
	testKey  = dataKey{id: [16]byte{1, 2, 3}, key: sha256.Sum256([]byte("test data key"))}
	testSalt = bytes.Repeat([]byte{7}, saltSize)
)

const testObject = "conversations/c1/recordings/r1/call.webm"

// seal seals plain as Encrypted would, with a fixed salt.
func seal(t testing.TB, plain []byte, chunk int) []byte {
	t.Helper()
	header := newHeader(testKey, testSalt)
	s, err := newSealer(testKey, header, testObject, chunk)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	out.Write(header)
	w := newChunkWriter(&out, s)
	for rest := plain; len(rest) > 0; {
		n := min(len(rest), 1+len(rest)%37) // odd write sizes
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := w.finish(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// openBytes opens stored bytes as a sealed object with the test key.
func openBytes(stored []byte, chunk int) (*sealedReader, error) {
	if len(stored) < headerSize {
		return nil, ErrCorrupt
	}
	header := bytes.Clone(stored[:headerSize])
	id, err := parseHeader(header)
	if err != nil {
		return nil, err
	}
	if id != testKey.id {
		return nil, ErrKeyDestroyed
	}
	s, err := newSealer(testKey, header, testObject, chunk)
	if err != nil {
		return nil, err
	}
	return openSealed(bytes.NewReader(stored), int64(len(stored)), s, testObject)
}

// TestChunkBoundaries reads every offset of objects of every size up to
// four chunks, with lengths on both sides of each boundary, fetching one
// chunk, three or all at once.
func TestChunkBoundaries(t *testing.T) {
	for _, batch := range []int{1, 3, maxBatch} {
		t.Run(fmt.Sprint("batch", batch), func(t *testing.T) {
			t.Parallel()
			testChunkBoundaries(t, batch)
		})
	}
}

func testChunkBoundaries(t *testing.T, batch int) {
	for size := 0; size <= 4*testChunk+1; size++ {
		plain := make([]byte, size)
		for i := range plain {
			plain[i] = byte(i*7 + size)
		}
		stored := seal(t, plain, testChunk)
		chunks := max(1, (size+testChunk-1)/testChunk)
		if want := headerSize + size + chunks*tagSize; len(stored) != want {
			t.Fatalf("size %d: stored %d bytes, want %d", size, len(stored), want)
		}
		if got := sealedSize(int64(len(stored)), testChunk); got != int64(size) {
			t.Fatalf("size %d: sealedSize says %d", size, got)
		}
		r, err := openBytes(stored, testChunk)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if r.Size() != int64(size) {
			t.Fatalf("size %d: reader says %d", size, r.Size())
		}
		r.batch = batch
		for off := 0; off <= size+1; off++ {
			for _, n := range []int{0, 1, testChunk - 1, testChunk, testChunk + 1, 2*testChunk + 3, size} {
				p := make([]byte, n)
				got, err := r.ReadAt(p, int64(off))
				want := max(0, min(n, size-off))
				if got != want || (want < n && err != io.EOF) || (want == n && err != nil) {
					t.Fatalf("size %d: ReadAt(%d, off %d) = %d, %v; want %d", size, n, off, got, err, want)
				}
				if !bytes.Equal(p[:got], plain[min(off, size):min(off, size)+got]) {
					t.Fatalf("size %d: ReadAt(%d, off %d): wrong bytes", size, n, off)
				}
			}
		}
	}
}

// TestLayoutIsExact: every stored size either is the size of exactly one
// plaintext size or is refused, so Stat never guesses.
func TestLayoutIsExact(t *testing.T) {
	for stored := int64(0); stored < headerSize+6*(testChunk+tagSize); stored++ {
		l, err := newLayout(stored, testChunk)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("stored %d: %v", stored, err)
			}
			continue
		}
		chunks := max(1, (l.size+testChunk-1)/testChunk)
		if back := headerSize + l.size + chunks*tagSize; back != stored || chunks != l.chunks {
			t.Fatalf("stored %d: layout %+v maps back to %d", stored, l, back)
		}
	}
}

// FuzzOpenSealed feeds arbitrary bytes to the chunk decoder as a stored
// object. It must never panic, and it may only succeed on bytes that the
// sealer itself would produce: anything it accepts re-seals to the same
// bytes.
func FuzzOpenSealed(f *testing.F) {
	for _, n := range []int{0, 1, testChunk, testChunk + 1, 3*testChunk + 5} {
		f.Add(seal(f, bytes.Repeat([]byte("x"), n), testChunk))
	}
	f.Fuzz(func(t *testing.T, stored []byte) {
		r, err := openBytes(stored, testChunk)
		if err != nil {
			return
		}
		r.batch = 2
		plain := make([]byte, r.Size())
		// Read in odd pieces, to take the cache's and the batches' paths.
		for _, step := range []int{testChunk/2 + 1, 3, 3*testChunk + 1} {
			for off := 0; off < len(plain); off += step {
				if _, err := r.ReadAt(plain[off:min(off+step, len(plain))], int64(off)); err != nil && err != io.EOF {
					return
				}
			}
		}
		if again := seal(t, plain, testChunk); !bytes.Equal(again, stored) {
			t.Fatalf("decoder accepted %d bytes that the sealer does not produce", len(stored))
		}
	})
}

// FuzzUnwrapKey feeds arbitrary bytes as a wrapped key, as a damaged key
// store would: never a panic, never a key but from the real wrapping.
func FuzzUnwrapKey(f *testing.F) {
	m, err := newMasterAEAD(bytes.Repeat([]byte{9}, MasterKeySize))
	if err != nil {
		f.Fatal(err)
	}
	w, err := wrapKey(m, "c1", testKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(w, "c1")
	f.Add(w[:40], "c1")
	f.Add([]byte{}, "")
	f.Fuzz(func(t *testing.T, wrapped []byte, conv string) {
		k, err := unwrapKey(m, conv, wrapped)
		if err == nil && (k != testKey || conv != "c1" || len(wrapped) != wrappedSize) {
			t.Fatalf("unwrapped a key from %x for %q", wrapped, conv)
		}
		if err != nil && !errors.Is(err, ErrKeyUnwrap) {
			t.Fatalf("error %v is not ErrKeyUnwrap", err)
		}
	})
}

// FuzzValidKey: whatever ValidKey accepts is a clean, local relative path
// that maps to itself on disk and, under conversations/, to one id.
func FuzzValidKey(f *testing.F) {
	for _, k := range []string{"conversations/c1/recordings/r1/call.webm", "a", "../x", "a//b", "/a", "a/./b", "a\\b", "\x00", "..."} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if ValidKey(key) != nil {
			return
		}
		if path.Clean(key) != key || !filepath.IsLocal(key) || filepath.ToSlash(filepath.Clean(key)) != key {
			t.Fatalf("ValidKey accepted %q, which is not a clean local path", key)
		}
		if ValidPrefix(key) != nil {
			t.Fatalf("%q is a valid key but not a valid prefix", key)
		}
		if id, err := ConversationID(key); err == nil && !strings.HasPrefix(key, ConversationPrefix(id)) {
			t.Fatalf("ConversationID(%q) = %q, not its prefix", key, id)
		}
	})
}

// TestFuzzSeeds makes the seed corpus of the fuzz tests and checks that
// the committed one (testdata/fuzz) is what this version of the format
// makes, so a change of format cannot leave the fuzzers seeding stale
// bytes. BLOB_WRITE_FUZZ_SEEDS=1 go test -run TestFuzzSeeds ./blob writes
// it anew.
func TestFuzzSeeds(t *testing.T) {
	root := t.TempDir()
	if os.Getenv("BLOB_WRITE_FUZZ_SEEDS") != "" {
		root = filepath.Join("testdata", "fuzz")
	}
	dir := filepath.Join(root, "FuzzOpenSealed")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []int{0, 5, testChunk, 2*testChunk + 1} {
		plain := make([]byte, n)
		for i := range plain {
			plain[i] = byte(i)
		}
		stored := seal(t, plain, testChunk)
		write(fmt.Sprintf("valid-%d", n), stored)
		if n > testChunk { // the two first chunks swapped, and the last cut
			c := testChunk + tagSize
			swapped := bytes.Clone(stored)
			copy(swapped[headerSize:], stored[headerSize+c:headerSize+2*c])
			copy(swapped[headerSize+c:], stored[headerSize:headerSize+c])
			write(fmt.Sprintf("swapped-%d", n), swapped)
			write(fmt.Sprintf("truncated-%d", n), stored[:headerSize+2*c])
		}
		flipped := bytes.Clone(stored)
		flipped[len(flipped)-1] ^= 1
		write(fmt.Sprintf("flipped-%d", n), flipped)
	}
	write("header-only", stored(t))
	write("short", []byte("VSBE\x01"))

	m, err := newMasterAEAD(bytes.Repeat([]byte{9}, MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	w, err := wrapKey(m, "c1", testKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, seed := range map[string]string{
		"FuzzUnwrapKey/valid":          fmt.Sprintf("[]byte(%q)\nstring(%q)", w, "c1"),
		"FuzzUnwrapKey/other-conv":     fmt.Sprintf("[]byte(%q)\nstring(%q)", w, "c2"),
		"FuzzUnwrapKey/cut":            fmt.Sprintf("[]byte(%q)\nstring(%q)", w[:wrappedSize-1], "c1"),
		"FuzzValidKey/recording":       fmt.Sprintf("string(%q)", "conversations/0b5e/recordings/9f1c/call.webm"),
		"FuzzValidKey/escape":          fmt.Sprintf("string(%q)", "conversations/../../etc/passwd"),
		"FuzzValidKey/windows":         fmt.Sprintf("string(%q)", `conversations\c1\x`),
		"FuzzValidKey/dots-in-segment": fmt.Sprintf("string(%q)", "conversations/c1/..x/.y/z.."),
	} {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("go test fuzz v1\n"+seed+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Sealing is deterministic for a key and plaintext; wrapping a key
	// is not (its nonce is random), so only the sealed seeds compare.
	made, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range made {
		want, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		got, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzOpenSealed", e.Name()))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("testdata/fuzz/FuzzOpenSealed/%s is not what this format makes (%v): run BLOB_WRITE_FUZZ_SEEDS=1 go test -run TestFuzzSeeds ./blob", e.Name(), err)
		}
	}
}

func stored(t *testing.T) []byte { return seal(t, nil, testChunk)[:headerSize] }
