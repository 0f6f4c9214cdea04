package blob_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"videosupport/blob"
	"videosupport/blob/blobtest"
	"videosupport/blob/disk"
)

// clock is a settable time for the disk store's stamps and retention.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const day = 24 * time.Hour

func TestRetention(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s := newSealed(t, disk.Options{Now: clk.Now})
	ctx := context.Background()
	rec := func(conv, name string) string {
		return blob.ConversationPrefix(conv) + "recordings/" + name + "/call.webm"
	}
	old := []string{rec("gone", "r1"), rec("gone", "r2"), rec("mixed", "r1")}
	for _, k := range old {
		blobtest.Put(t, s, k, blobtest.WebM(1000))
	}
	// A conversation whose objects are all old but where a recording is
	// under way (below): its key must survive.
	blobtest.Put(t, s, rec("busy", "r1"), blobtest.WebM(10))
	backup := blobtest.Get(t, s.inner, old[0])
	clk.Advance(20 * day)
	recent := []string{rec("mixed", "r2"), rec("fresh", "r1")}
	for _, k := range recent {
		blobtest.Put(t, s, k, blobtest.WebM(1000))
	}
	clk.Advance(15 * day)
	w, err := s.Create(ctx, rec("busy", "r2"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	r := blob.Retention{Store: s, MaxAge: 30 * day, Now: clk.Now}
	res, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantDeleted := append(slices.Clone(old), rec("busy", "r1"))
	slices.Sort(wantDeleted)
	if !slices.Equal(res.Deleted, wantDeleted) {
		t.Errorf("deleted %q, want %q", res.Deleted, wantDeleted)
	}
	if !slices.Equal(res.KeysDestroyed, []string{"gone"}) {
		t.Errorf("destroyed keys of %q, want only [gone]", res.KeysDestroyed)
	}
	for _, k := range old {
		if _, err := s.Stat(ctx, k); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("%s still there: %v", k, err)
		}
	}
	for _, k := range recent {
		if _, err := blobtest.ReadAll(s, k); err != nil {
			t.Errorf("recent %s: %v", k, err)
		}
	}
	if _, err := w.Write(blobtest.WebM(500)); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("the recording under way lost its key: %v", err)
	}
	if _, err := blobtest.ReadAll(s, rec("busy", "r2")); err != nil {
		t.Error(err)
	}

	// A backup of a deleted recording, restored, stays unreadable.
	blobtest.Put(t, s.inner, old[0], backup)
	if _, err := s.Open(ctx, old[0]); !errors.Is(err, blob.ErrKeyDestroyed) {
		t.Errorf("restored backup after retention: %v, want ErrKeyDestroyed", err)
	}
	_ = s.inner.Delete(ctx, old[0])

	// Nothing more to do the same day; a month later, everything goes.
	if res, err := r.Run(ctx); err != nil || len(res.Deleted)+len(res.KeysDestroyed) != 0 {
		t.Errorf("second run: %+v, %v; want nothing done", res, err)
	}
	clk.Advance(31 * day)
	res, err = r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Deleted) != 3 || !slices.Equal(res.KeysDestroyed, []string{"busy", "fresh", "mixed"}) {
		t.Errorf("a month later: %+v", res)
	}
	for _, conv := range []string{"gone", "mixed", "fresh", "busy"} {
		if _, err := s.keys.Get(ctx, conv); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("key of %s: %v, want it destroyed", conv, err)
		}
	}
}

// TestRetentionPlainStore: on a store without keys it only deletes.
func TestRetentionPlainStore(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	s, err := disk.Open(t.TempDir(), disk.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	blobtest.Put(t, s, "conversations/c1/a", []byte("a"))
	blobtest.Put(t, s, "other/b", []byte("b"))
	clk.Advance(10 * day)
	blobtest.Put(t, s, "conversations/c1/c", []byte("c"))
	res, err := blob.Retention{Store: s, MaxAge: 7 * day, Now: clk.Now}.Run(context.Background())
	if err != nil || !slices.Equal(res.Deleted, []string{"conversations/c1/a"}) || len(res.KeysDestroyed) != 0 {
		t.Errorf("run: %+v, %v", res, err)
	}
	if _, err := s.Stat(context.Background(), "other/b"); err != nil {
		t.Errorf("object outside the prefix: %v", err)
	}
	if _, err := (blob.Retention{Store: s}).Run(context.Background()); err == nil {
		t.Error("a retention of zero days ran")
	}
}
