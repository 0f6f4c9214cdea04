package blob_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"videosupport/blob"
	"videosupport/blob/blobtest"
	"videosupport/blob/disk"
)

// memStore keeps objects in memory: the baseline that shows what the
// encryption itself costs, apart from the disk.
type memStore struct {
	mu   sync.Mutex
	objs map[string][]byte
}

func newMem() *memStore { return &memStore{objs: map[string][]byte{}} }

func (m *memStore) Create(_ context.Context, key string) (blob.Writer, error) {
	return &memWriter{m: m, key: key}, nil
}

func (m *memStore) Open(_ context.Context, key string) (blob.Reader, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objs[key]
	if !ok {
		return nil, blob.ErrNotFound
	}
	return memReader{bytes.NewReader(b)}, nil
}

func (m *memStore) Stat(_ context.Context, key string) (blob.Info, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objs[key]
	if !ok {
		return blob.Info{}, blob.ErrNotFound
	}
	return blob.Info{Key: key, Size: int64(len(b)), ModTime: time.Now()}, nil
}

func (m *memStore) List(_ context.Context, prefix string) ([]blob.Info, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []blob.Info
	for k, b := range m.objs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, blob.Info{Key: k, Size: int64(len(b))})
		}
	}
	slices.SortFunc(out, func(a, b blob.Info) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

func (m *memStore) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objs, key)
	return nil
}

type memWriter struct {
	m   *memStore
	key string
	buf bytes.Buffer
}

func (w *memWriter) Write(p []byte) (int, error) { return w.buf.Write(p) }
func (w *memWriter) Close() error                { return nil }
func (w *memWriter) Commit() error {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	w.m.objs[w.key] = w.buf.Bytes()
	return nil
}

type memReader struct{ *bytes.Reader }

func (memReader) Close() error { return nil }

// memKeys is a KeyStore in memory.
type memKeys struct {
	mu   sync.Mutex
	keys map[string][]byte
}

func (k *memKeys) Put(_ context.Context, id string, w []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.keys[id]; ok {
		return blob.ErrKeyExists
	}
	k.keys[id] = bytes.Clone(w)
	return nil
}

func (k *memKeys) Get(_ context.Context, id string) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	w, ok := k.keys[id]
	if !ok {
		return nil, blob.ErrNotFound
	}
	return w, nil
}

func (k *memKeys) Destroy(_ context.Context, id string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.keys, id)
	return nil
}

func (k *memKeys) Replace(_ context.Context, id string, old, next []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !bytes.Equal(k.keys[id], old) {
		return blob.ErrKeyChanged
	}
	k.keys[id] = bytes.Clone(next)
	return nil
}

func (k *memKeys) IDs(context.Context) ([]string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Collect(maps.Keys(k.keys)), nil
}

// discardStore takes writes and keeps nothing: the baseline of the write
// benchmark, so that the sealed figure beside it is the cost of sealing.
type discardStore struct{ *memStore }

func (discardStore) Create(context.Context, string) (blob.Writer, error) { return discardWriter{}, nil }

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (discardWriter) Commit() error               { return nil }
func (discardWriter) Close() error                { return nil }

// benchStores are the four stores compared: plain and sealed, in memory
// (or discarding, for writes) and on disk. Compare each sealed figure with
// the plain one beside it.
func benchStores(b *testing.B, discard bool) []struct {
	name string
	s    blob.Store
} {
	b.Helper()
	d, err := disk.Open(b.TempDir(), disk.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = d.Close() })
	k, err := disk.OpenKeys(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = k.Close() })
	sealedDisk, err := blob.NewEncrypted(d, k, master)
	if err != nil {
		b.Fatal(err)
	}
	base := blob.Store(newMem())
	if discard {
		base = discardStore{newMem()}
	}
	sealedBase, err := blob.NewEncrypted(base, &memKeys{keys: map[string][]byte{}}, master)
	if err != nil {
		b.Fatal(err)
	}
	name := "mem"
	if discard {
		name = "discard"
	}
	return []struct {
		name string
		s    blob.Store
	}{{name, base}, {name + "+sealed", sealedBase}, {"disk", d}, {"disk+sealed", sealedDisk}}
}

// BenchmarkWrite: an 8 MiB recording written in 32 KiB pieces, committed.
func BenchmarkWrite(b *testing.B) {
	const size, piece = 8 << 20, 32 << 10
	data := blobtest.Data(1, size)
	// The floor: AES-256-GCM over the same bytes in 64 KiB pieces, with
	// nothing else. discard+sealed over this is the framing's overhead.
	b.Run("aes-gcm-only", func(b *testing.B) {
		blk, _ := aes.NewCipher(master)
		aead, _ := cipher.NewGCM(blk)
		out := make([]byte, 0, blob.ChunkSize+16)
		nonce := make([]byte, 12)
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			for off := 0; off < size; off += blob.ChunkSize {
				out = aead.Seal(out[:0], nonce, data[off:off+blob.ChunkSize], nil)
			}
		}
	})
	for _, st := range benchStores(b, true) {
		b.Run(st.name, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				w, err := st.s.Create(ctx, fmt.Sprintf("conversations/c1/recordings/r%d/call.webm", i%4))
				if err != nil {
					b.Fatal(err)
				}
				for off := 0; off < size; off += piece {
					if _, err := w.Write(data[off : off+piece]); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRandomRead: reads of a player seeking in a 32 MiB recording,
// at random offsets, through one open reader.
func BenchmarkRandomRead(b *testing.B) {
	const size = 32 << 20
	data := blobtest.Data(2, size)
	const key = "conversations/c1/recordings/r1/call.webm"
	for _, st := range benchStores(b, false) {
		blobtest.Put(b, st.s, key, data)
		r, err := st.s.Open(context.Background(), key)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = r.Close() })
		for _, n := range []int{4 << 10, 64 << 10, 1 << 20} {
			b.Run(fmt.Sprintf("%s/%dKiB", st.name, n>>10), func(b *testing.B) {
				b.SetBytes(int64(n))
				b.ReportAllocs()
				rnd := rand.New(rand.NewPCG(1, 2))
				p := make([]byte, n)
				for b.Loop() {
					off := rnd.Int64N(size - int64(n))
					if _, err := r.ReadAt(p, off); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
