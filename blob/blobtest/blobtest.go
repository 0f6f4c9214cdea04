// Package blobtest is the contract every blob backend passes: one suite,
// run against the disk backend, against the disk backend under
// encryption, and against every later backend (S3), so that recordings
// behave the same wherever they are kept.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"videosupport/blob"
)

// Backend makes fresh, empty storage for one test and returns a function
// that opens it; calling it again opens the same storage anew, as a
// restarted server would. The backend closes what it opens in t.Cleanup.
type Backend func(t *testing.T) (open func() blob.Store)

// Run runs the whole Store contract against a backend. Every key it uses
// lies under conversations/<id>/, as recordings do.
func Run(t *testing.T, b Backend) {
	for _, tc := range []struct {
		name string
		f    func(*testing.T, func() blob.Store)
	}{
		{"RoundTripLarge", testRoundTripLarge},
		{"EmptyObject", testEmpty},
		{"ReadAtOddRanges", testReadAtOddRanges},
		{"ConcurrentReadAt", testConcurrentReadAt},
		{"UncommittedIsInvisible", testUncommitted},
		{"OverwriteIsAtomic", testOverwrite},
		{"OpenReaderKeepsItsVersion", testOpenReaderKeepsVersion},
		{"ReadersNeverSeeAMix", testReadersNeverSeeMix},
		{"List", testList},
		{"Delete", testDelete},
		{"BadKeys", testBadKeys},
		{"ConcurrentWriters", testConcurrentWriters},
		{"WritersAndDeletersSideBySide", testWritersAndDeleters},
		{"WriterLifecycle", testWriterLifecycle},
		{"SurvivesReopen", testSurvivesReopen},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.f(t, b(t))
		})
	}
}

// Data returns n reproducible pseudo-random bytes.
func Data(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// Put writes data under key in writes of odd sizes and commits.
func Put(t testing.TB, s blob.Store, key string, data []byte) {
	t.Helper()
	if err := put(s, key, data); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func put(s blob.Store, key string, data []byte) error {
	w, err := s.Create(context.Background(), key)
	if err != nil {
		return err
	}
	defer w.Close()
	r := rand.New(rand.NewPCG(uint64(len(data)), 7))
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1+r.IntN(100_000))
		if m, err := w.Write(rest[:n]); err != nil || m != n {
			return fmt.Errorf("write %d bytes: wrote %d, %v", n, m, err)
		}
		rest = rest[n:]
	}
	return w.Commit()
}

// Get reads the whole object under key.
func Get(t testing.TB, s blob.Store, key string) []byte {
	t.Helper()
	b, err := get(s, key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return b
}

func get(s blob.Store, key string) ([]byte, error) {
	r, err := s.Open(context.Background(), key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
}

func key(conv, name string) string {
	return blob.ConversationPrefix(conv) + "recordings/r1/" + name
}

func sameBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %d bytes (sha256 %x), want %d bytes (sha256 %x)",
			what, len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
	}
}

func testRoundTripLarge(t *testing.T, open func() blob.Store) {
	s := open()
	ctx := context.Background()
	data := Data(1, 5<<20+12345) // many chunks and an odd tail
	k := key("c1", "call.webm")
	Put(t, s, k, data)
	info, err := s.Stat(ctx, k)
	if err != nil || info.Size != int64(len(data)) || info.Key != k {
		t.Fatalf("stat: %+v, %v; want size %d", info, err, len(data))
	}
	if d := time.Since(info.ModTime); d < -time.Hour || d > time.Hour {
		t.Errorf("ModTime %v is not about now", info.ModTime)
	}
	sameBytes(t, "read back", Get(t, s, k), data)
	// The exact multiple of 64 KiB and its neighbours, where a chunked
	// backend changes its last chunk.
	for _, n := range []int{64 << 10, 64<<10 - 1, 64<<10 + 1, 128 << 10} {
		k := key("c1", fmt.Sprintf("size-%d", n))
		d := Data(uint64(n), n)
		Put(t, s, k, d)
		sameBytes(t, k, Get(t, s, k), d)
	}
}

func testEmpty(t *testing.T, open func() blob.Store) {
	s := open()
	k := key("c1", "empty")
	Put(t, s, k, nil)
	r, err := s.Open(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Size() != 0 {
		t.Errorf("size %d, want 0", r.Size())
	}
	if n, err := r.ReadAt(make([]byte, 4), 0); n != 0 || err != io.EOF {
		t.Errorf("ReadAt on empty: %d, %v; want 0, io.EOF", n, err)
	}
	if info, err := s.Stat(context.Background(), k); err != nil || info.Size != 0 {
		t.Errorf("stat: %+v, %v", info, err)
	}
}

func testReadAtOddRanges(t *testing.T, open func() blob.Store) {
	s := open()
	data := Data(2, 3*65536+1001)
	size := int64(len(data))
	k := key("c1", "odd")
	Put(t, s, k, data)
	r, err := s.Open(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Size() != size {
		t.Fatalf("size %d, want %d", r.Size(), size)
	}
	type rng struct{ off, n int64 }
	cases := []rng{
		{0, 1}, {1, 65535}, {65535, 2}, {65536, 65536}, {65537, 131071}, {7, 3 * 65536},
		{size - 1, 1}, {size - 1001, 1001}, {0, size}, {12345, 0},
		{size - 1, 10}, {size - 5000, 10000}, // run past the end: short, io.EOF
		{size, 5}, {size + 100, 1}, // at or after the end: 0, io.EOF
	}
	rnd := rand.New(rand.NewPCG(3, 3))
	for range 200 {
		off := rnd.Int64N(size + 10)
		cases = append(cases, rng{off, rnd.Int64N(200_000)})
	}
	for _, c := range cases {
		p := make([]byte, c.n)
		n, err := r.ReadAt(p, c.off)
		wantN := max(0, min(c.n, size-c.off))
		if int64(n) != wantN {
			t.Fatalf("ReadAt(%d bytes, off %d) = %d, %v; want %d", c.n, c.off, n, err, wantN)
		}
		if wantN < c.n && err != io.EOF {
			t.Fatalf("ReadAt(%d bytes, off %d) past the end: err %v, want io.EOF", c.n, c.off, err)
		}
		if wantN == c.n && err != nil && err != io.EOF {
			t.Fatalf("ReadAt(%d bytes, off %d): %v", c.n, c.off, err)
		}
		if n > 0 && !bytes.Equal(p[:n], data[c.off:c.off+int64(n)]) {
			t.Fatalf("ReadAt(%d bytes, off %d): wrong bytes", c.n, c.off)
		}
	}
	if _, err := r.ReadAt(make([]byte, 1), -1); err == nil {
		t.Error("ReadAt at offset -1 succeeded")
	}
}

func testConcurrentReadAt(t *testing.T, open func() blob.Store) {
	s := open()
	data := Data(4, 1<<20+333)
	k := key("c1", "shared")
	Put(t, s, k, data)
	r, err := s.Open(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(g), 5))
			for range 100 {
				off := rnd.Int64N(int64(len(data)))
				p := make([]byte, min(1+rnd.Int64N(100_000), int64(len(data))-off))
				if n, err := r.ReadAt(p, off); n != len(p) || (err != nil && err != io.EOF) {
					errs <- fmt.Errorf("ReadAt(%d, %d) = %d, %v", len(p), off, n, err)
					return
				}
				if !bytes.Equal(p, data[off:off+int64(len(p))]) {
					errs <- fmt.Errorf("ReadAt(%d, %d): wrong bytes", len(p), off)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testUncommitted(t *testing.T, open func() blob.Store) {
	s := open()
	ctx := context.Background()
	k := key("c1", "pending")
	w, err := s.Create(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(Data(5, 200_000)); err != nil {
		t.Fatal(err)
	}
	absent := func(when string) {
		t.Helper()
		if _, err := s.Stat(ctx, k); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("%s: Stat: %v, want ErrNotFound", when, err)
		}
		if _, err := s.Open(ctx, k); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("%s: Open: %v, want ErrNotFound", when, err)
		}
		if infos, err := s.List(ctx, ""); err != nil || len(infos) != 0 {
			t.Errorf("%s: List: %v, %v; want nothing", when, infos, err)
		}
	}
	absent("before Commit")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	absent("after Close without Commit")
}

func testOverwrite(t *testing.T, open func() blob.Store) {
	s := open()
	ctx := context.Background()
	k := key("c1", "call.webm")
	v1, v2 := Data(6, 150_000), Data(7, 90_001)
	Put(t, s, k, v1)
	w, err := s.Create(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(v2[:50_000]); err != nil {
		t.Fatal(err)
	}
	sameBytes(t, "while the new version is half written", Get(t, s, k), v1)
	if _, err := w.Write(v2[50_000:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	sameBytes(t, "after Commit", Get(t, s, k), v2)
	if infos, err := s.List(ctx, ""); err != nil || len(infos) != 1 || infos[0].Size != int64(len(v2)) {
		t.Errorf("List: %+v, %v; want the one new object", infos, err)
	}
}

func testOpenReaderKeepsVersion(t *testing.T, open func() blob.Store) {
	s := open()
	ctx := context.Background()
	k := key("c1", "call.webm")
	v1, v2 := Data(8, 300_000), Data(9, 300_000)
	Put(t, s, k, v1)
	r, err := s.Open(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	check := func(when string) {
		t.Helper()
		p := make([]byte, 200_000)
		n, err := r.ReadAt(p, 70_000)
		if err != nil && err != io.EOF {
			return // an error is allowed; a mix is not
		}
		if !bytes.Equal(p[:n], v1[70_000:70_000+n]) {
			t.Errorf("%s: an open reader returned bytes of another version", when)
		}
	}
	Put(t, s, k, v2)
	check("after overwrite")
	if err := s.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	check("after delete")
}

func testReadersNeverSeeMix(t *testing.T, open func() blob.Store) {
	s := open()
	k := key("c1", "hot")
	const size = 200_000
	version := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, size) }
	Put(t, s, k, version(0))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 1; g <= 3; g++ {
		wg.Go(func() {
			for i := range 10 {
				if err := put(s, k, version(g*10+i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 3 {
		readers.Go(func() {
			for reads := 0; ; reads++ {
				select {
				case <-stop:
					if reads > 0 {
						return
					}
				case <-ctx.Done():
					errs <- ctx.Err()
					return
				default:
				}
				b, err := get(s, k)
				if err != nil {
					errs <- fmt.Errorf("read during overwrites: %v", err)
					return
				}
				if len(b) != size || !bytes.Equal(b, version(int(b[0]))) {
					errs <- fmt.Errorf("read %d bytes that are not one whole version", len(b))
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testList(t *testing.T, open func() blob.Store) {
	s := open()
	ctx := context.Background()
	keys := []string{
		"conversations/c1/recordings/r1/call.webm",
		"conversations/c1/recordings/r1/a-audio.webm",
		"conversations/c1/recordings/r2/call.webm",
		"conversations/c10/recordings/r1/call.webm",
		"conversations/c2/recordings/r1/call.webm",
		"conversations/c2/x",
	}
	sizes := map[string]int64{}
	for i, k := range keys {
		d := Data(uint64(i), 1000*i+17)
		Put(t, s, k, d)
		sizes[k] = int64(len(d))
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", keys},
		{"conversations/", keys},
		{"conversations/c1/", keys[:3]},
		{"conversations/c1", keys[:4]},
		{"conversations/c1/recordings/r1/", keys[:2]},
		{"conversations/c1/recordings/r1/call", keys[:1]},
		{"conversations/c2/x", keys[5:]},
		{"conversations/c3/", nil},
		{"conversations/c1/recordings/r1/call.webm/", nil},
		{"elsewhere/", nil},
	} {
		infos, err := s.List(ctx, tc.prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", tc.prefix, err)
		}
		var got []string
		for _, in := range infos {
			got = append(got, in.Key)
			if in.Size != sizes[in.Key] {
				t.Errorf("List(%q): %s has size %d, want %d", tc.prefix, in.Key, in.Size, sizes[in.Key])
			}
			if d := time.Since(in.ModTime); d < -time.Hour || d > time.Hour {
				t.Errorf("List(%q): %s ModTime %v is not about now", tc.prefix, in.Key, in.ModTime)
			}
		}
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("List(%q) = %q, want %q (sorted)", tc.prefix, got, want)
		}
	}
}

func testDelete(t *testing.T, open func() blob.Store) {
	s := open()
	ctx := context.Background()
	a, b := key("c1", "a"), key("c1", "b")
	Put(t, s, a, Data(1, 70_000))
	Put(t, s, b, Data(2, 10))
	if err := s.Delete(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, a); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat after Delete: %v, want ErrNotFound", err)
	}
	if _, err := s.Open(ctx, a); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Open after Delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, a); err != nil {
		t.Errorf("second Delete: %v, want nil", err)
	}
	if err := s.Delete(ctx, key("c9", "never")); err != nil {
		t.Errorf("Delete of a key never written: %v, want nil", err)
	}
	sameBytes(t, "the other object", Get(t, s, b), Data(2, 10))
	if err := s.Delete(ctx, b); err != nil {
		t.Fatal(err)
	}
	if infos, err := s.List(ctx, ""); err != nil || len(infos) != 0 {
		t.Errorf("List after deleting everything: %v, %v", infos, err)
	}
	Put(t, s, a, Data(3, 100))
	sameBytes(t, "written again after Delete", Get(t, s, a), Data(3, 100))
}

// BadKeys are keys every Store refuses with ErrBadKey.
var BadKeys = []string{
	"",
	"/",
	"/conversations/c1/x",
	"conversations/c1/x/",
	"conversations//x",
	"conversations/c1/../../../etc/passwd",
	"conversations/../x",
	"..",
	"../x",
	"conversations/./x",
	".",
	"conversations/c1/x\x00y",
	"conversations/c1/x\ny",
	`conversations\c1\x`,
	"conversations/c1/\xff",
	"conversations/c1/" + string(bytes.Repeat([]byte("a"), 1100)),
}

func testBadKeys(t *testing.T, open func() blob.Store) {
	s := open()
	ctx := context.Background()
	for _, k := range BadKeys {
		if w, err := s.Create(ctx, k); !errors.Is(err, blob.ErrBadKey) {
			t.Errorf("Create(%q): %v, want ErrBadKey", k, err)
			if err == nil {
				_ = w.Close()
			}
		}
		if r, err := s.Open(ctx, k); !errors.Is(err, blob.ErrBadKey) {
			t.Errorf("Open(%q): %v, want ErrBadKey", k, err)
			if err == nil {
				_ = r.Close()
			}
		}
		if _, err := s.Stat(ctx, k); !errors.Is(err, blob.ErrBadKey) {
			t.Errorf("Stat(%q): %v, want ErrBadKey", k, err)
		}
		if err := s.Delete(ctx, k); !errors.Is(err, blob.ErrBadKey) {
			t.Errorf("Delete(%q): %v, want ErrBadKey", k, err)
		}
	}
	for _, p := range []string{"/", "../", "conversations//", "conversations/../", "x\x00"} {
		if _, err := s.List(ctx, p); !errors.Is(err, blob.ErrBadKey) {
			t.Errorf("List(%q): %v, want ErrBadKey", p, err)
		}
	}
}

func testConcurrentWriters(t *testing.T, open func() blob.Store) {
	s := open()
	const n = 16
	shared := key("c1", "shared")
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			own := key(fmt.Sprintf("c%d", i%4), fmt.Sprintf("w%d", i))
			if err := put(s, own, Data(uint64(100+i), 100_000+i)); err != nil {
				errs <- err
			}
			if err := put(s, shared, Data(uint64(200+i), 80_000+i)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range n {
		own := key(fmt.Sprintf("c%d", i%4), fmt.Sprintf("w%d", i))
		sameBytes(t, own, Get(t, s, own), Data(uint64(100+i), 100_000+i))
	}
	got := Get(t, s, shared)
	i := len(got) - 80_000
	if i < 0 || i >= n {
		t.Fatalf("shared object has %d bytes: no writer wrote that", len(got))
	}
	sameBytes(t, "shared object: one writer's whole version", got, Data(uint64(200+i), 80_000+i))
	infos, err := s.List(context.Background(), "")
	if err != nil || len(infos) != n+1 {
		t.Errorf("List: %d objects, %v; want %d", len(infos), err, n+1)
	}
}

// testWritersAndDeleters: deleting the last object of a "directory" while
// another writer commits into it loses nothing (on disk, Delete prunes
// empty directories that a commit is about to use).
func testWritersAndDeleters(t *testing.T, open func() blob.Store) {
	s := open()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() {
			for i := range 60 {
				k := blob.ConversationPrefix("c1") + fmt.Sprintf("recordings/g%d-%d/call.webm", g, i)
				if err := put(s, k, []byte(k)); err != nil {
					errs <- err
					return
				}
				if i%2 == 0 {
					if err := s.Delete(ctx, k); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	infos, err := s.List(ctx, "")
	if err != nil || len(infos) != 4*30 {
		t.Fatalf("List: %d objects, %v; want %d", len(infos), err, 4*30)
	}
	for _, in := range infos {
		sameBytes(t, in.Key, Get(t, s, in.Key), []byte(in.Key))
	}
}

func testWriterLifecycle(t *testing.T, open func() blob.Store) {
	s := open()
	k := key("c1", "x")
	w, err := s.Create(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("more")); err == nil {
		t.Error("Write after Commit succeeded")
	}
	if err := w.Commit(); err == nil {
		t.Error("second Commit succeeded")
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close after Commit: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	sameBytes(t, "committed object", Get(t, s, k), []byte("hello"))
}

func testSurvivesReopen(t *testing.T, open func() blob.Store) {
	data := Data(10, 700_001)
	k := key("c1", "call.webm")
	Put(t, open(), k, data)
	sameBytes(t, "after reopening", Get(t, open(), k), data)
}
