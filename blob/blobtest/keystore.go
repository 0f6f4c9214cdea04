package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"videosupport/blob"
)

// KeyBackend makes a fresh, empty KeyStore for one test and returns a
// function that opens it; calling it again opens the same keys anew.
type KeyBackend func(t *testing.T) (open func() blob.KeyStore)

// RunKeyStore runs the KeyStore contract against a backend.
func RunKeyStore(t *testing.T, b KeyBackend) {
	for _, tc := range []struct {
		name string
		f    func(*testing.T, func() blob.KeyStore)
	}{
		{"PutGetDestroy", testPutGetDestroy},
		{"PutKeepsTheFirst", testPutKeepsFirst},
		{"RacingPutsAgree", testRacingPuts},
		{"SurvivesReopen", testKeysSurviveReopen},
		{"ReplaceOnlyWhatIsThere", testReplace},
		{"RacingReplaceAndDestroy", testReplaceDestroyRace},
		{"IDs", testIDs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.f(t, b(t))
		})
	}
}

func testPutGetDestroy(t *testing.T, open func() blob.KeyStore) {
	k := open()
	ctx := context.Background()
	if _, err := k.Get(ctx, "c1"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Get before Put: %v, want ErrNotFound", err)
	}
	w1, w2 := Data(1, 77), Data(2, 77)
	if err := k.Put(ctx, "c1", w1); err != nil {
		t.Fatal(err)
	}
	if err := k.Put(ctx, "c2", w2); err != nil {
		t.Fatal(err)
	}
	if got, err := k.Get(ctx, "c1"); err != nil || !bytes.Equal(got, w1) {
		t.Fatalf("Get: %x, %v; want %x", got, err, w1)
	}
	if err := k.Destroy(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Get(ctx, "c1"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Get after Destroy: %v, want ErrNotFound", err)
	}
	if got, err := k.Get(ctx, "c2"); err != nil || !bytes.Equal(got, w2) {
		t.Errorf("the other conversation's key after Destroy: %x, %v", got, err)
	}
	if err := k.Destroy(ctx, "c1"); err != nil {
		t.Errorf("second Destroy: %v, want nil", err)
	}
	if err := k.Destroy(ctx, "never"); err != nil {
		t.Errorf("Destroy of a key never stored: %v, want nil", err)
	}
	// A conversation whose key retention destroyed may record again.
	w3 := Data(3, 77)
	if err := k.Put(ctx, "c1", w3); err != nil {
		t.Fatalf("Put after Destroy: %v", err)
	}
	if got, err := k.Get(ctx, "c1"); err != nil || !bytes.Equal(got, w3) {
		t.Errorf("Get of the new key: %x, %v", got, err)
	}
}

func testPutKeepsFirst(t *testing.T, open func() blob.KeyStore) {
	k := open()
	ctx := context.Background()
	w1 := Data(1, 77)
	if err := k.Put(ctx, "c1", w1); err != nil {
		t.Fatal(err)
	}
	if err := k.Put(ctx, "c1", Data(2, 77)); !errors.Is(err, blob.ErrKeyExists) {
		t.Errorf("second Put: %v, want ErrKeyExists", err)
	}
	if got, err := k.Get(ctx, "c1"); err != nil || !bytes.Equal(got, w1) {
		t.Errorf("Get: %x, %v; want the first key", got, err)
	}
}

func testRacingPuts(t *testing.T, open func() blob.KeyStore) {
	k := open()
	ctx := context.Background()
	const n = 16
	won := make([]bool, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var unexpected []error
	for i := range n {
		wg.Go(func() {
			err := k.Put(ctx, "c1", Data(uint64(i), 77))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won[i] = true
			case !errors.Is(err, blob.ErrKeyExists):
				unexpected = append(unexpected, err)
			}
		})
	}
	wg.Wait()
	for _, err := range unexpected {
		t.Error(err)
	}
	winners := 0
	var winner int
	for i, w := range won {
		if w {
			winners++
			winner = i
		}
	}
	if winners != 1 {
		t.Fatalf("%d racing Puts succeeded, want exactly 1", winners)
	}
	if got, err := k.Get(ctx, "c1"); err != nil || !bytes.Equal(got, Data(uint64(winner), 77)) {
		t.Errorf("Get: %x, %v; want the winner's key", got, err)
	}
}

func testKeysSurviveReopen(t *testing.T, open func() blob.KeyStore) {
	ctx := context.Background()
	w := Data(1, 77)
	if err := open().Put(ctx, "c1", w); err != nil {
		t.Fatal(err)
	}
	if got, err := open().Get(ctx, "c1"); err != nil || !bytes.Equal(got, w) {
		t.Errorf("Get after reopening: %x, %v", got, err)
	}
}

func testReplace(t *testing.T, open func() blob.KeyStore) {
	k := open()
	ctx := context.Background()
	w1, w2, w3 := Data(1, 77), Data(2, 77), Data(3, 77)
	if err := k.Replace(ctx, "c1", w1, w2); !errors.Is(err, blob.ErrKeyChanged) {
		t.Errorf("Replace of a key never stored: %v, want ErrKeyChanged", err)
	}
	if _, err := k.Get(ctx, "c1"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Replace of a key never stored stored one: %v", err)
	}
	if err := k.Put(ctx, "c1", w1); err != nil {
		t.Fatal(err)
	}
	if err := k.Replace(ctx, "c1", w3, w2); !errors.Is(err, blob.ErrKeyChanged) {
		t.Errorf("Replace of another key than the stored one: %v, want ErrKeyChanged", err)
	}
	if got, _ := k.Get(ctx, "c1"); !bytes.Equal(got, w1) {
		t.Errorf("a refused Replace changed the key to %x", got)
	}
	if err := k.Replace(ctx, "c1", w1, w2); err != nil {
		t.Fatal(err)
	}
	if got, err := open().Get(ctx, "c1"); err != nil || !bytes.Equal(got, w2) {
		t.Errorf("Get after Replace: %x, %v; want the new key", got, err)
	}
	if err := k.Destroy(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := k.Replace(ctx, "c1", w2, w3); !errors.Is(err, blob.ErrKeyChanged) {
		t.Errorf("Replace of a destroyed key: %v, want ErrKeyChanged", err)
	}
	if _, err := k.Get(ctx, "c1"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Replace brought a destroyed key back: %v", err)
	}
}

// testReplaceDestroyRace: whatever the order a Replace and a Destroy of
// one key take, the key ends destroyed.
func testReplaceDestroyRace(t *testing.T, open func() blob.KeyStore) {
	k := open()
	ctx := context.Background()
	for i := range 20 {
		id := fmt.Sprintf("c%d", i)
		old, next := Data(uint64(2*i), 77), Data(uint64(2*i+1), 77)
		if err := k.Put(ctx, id, old); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var rerr, derr error
		wg.Go(func() { rerr = k.Replace(ctx, id, old, next) })
		wg.Go(func() { derr = k.Destroy(ctx, id) })
		wg.Wait()
		if derr != nil || rerr != nil && !errors.Is(rerr, blob.ErrKeyChanged) {
			t.Fatalf("Replace: %v; Destroy: %v", rerr, derr)
		}
		if got, err := k.Get(ctx, id); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("after a Replace racing a Destroy the key is %x (%v), want destroyed", got, err)
		}
	}
}

func testIDs(t *testing.T, open func() blob.KeyStore) {
	k := open()
	ctx := context.Background()
	for _, id := range []string{"c1", "c2", "c3"} {
		if err := k.Put(ctx, id, Data(1, 77)); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.Destroy(ctx, "c2"); err != nil {
		t.Fatal(err)
	}
	ids, err := open().IDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"c1", "c3"}) {
		t.Errorf("IDs: %q, want c1 and c3", ids)
	}
}
