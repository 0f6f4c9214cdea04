package blobtest

import (
	"bytes"
	"context"
	"errors"
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
