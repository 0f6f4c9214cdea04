package sfu

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestKeyframeThrottle: a burst of requests (N late joiners) costs one
// keyframe now and one at the end of the interval, not N; and the last
// requester is served within one interval.
func TestKeyframeThrottle(t *testing.T) {
	var sent atomic.Int32
	done := make(chan time.Time, 10)
	k := newKeyframeThrottle(200*time.Millisecond, func() {
		sent.Add(1)
		done <- time.Now()
	})
	defer k.stop()
	start := time.Now()
	for range 20 {
		k.request()
	}
	<-done
	last := <-done
	if d := last.Sub(start); d > 300*time.Millisecond {
		t.Errorf("second keyframe after %v, want within the 200ms interval", d)
	}
	select {
	case <-done:
		t.Fatalf("more than two keyframe requests for one burst")
	case <-time.After(300 * time.Millisecond):
	}
	if n := sent.Load(); n != 2 {
		t.Errorf("sent %d keyframe requests for a burst of 20, want 2", n)
	}
}

// TestKeyframeThrottleStop: nothing is sent after stop, even if a request
// was waiting.
func TestKeyframeThrottleStop(t *testing.T) {
	var sent atomic.Int32
	k := newKeyframeThrottle(50*time.Millisecond, func() { sent.Add(1) })
	k.request()
	k.request()
	k.stop()
	time.Sleep(100 * time.Millisecond) // the interval has passed: a timer would have fired
	if n := sent.Load(); n > 1 {
		t.Errorf("sent %d after stop, want at most the first", n)
	}
}

// TestKeyframeThrottleAnswered: after a keyframe, the next request is
// sent after the short gap, not the whole interval, and a request that
// was waiting is brought forward to the end of the gap.
func TestKeyframeThrottleAnswered(t *testing.T) {
	const every = 600 * time.Millisecond
	const gap = every / answeredGap
	done := make(chan time.Time, 10)
	k := newKeyframeThrottle(every, func() { done <- time.Now() })
	defer k.stop()
	k.request()
	first := <-done
	k.request()  // waits for the interval...
	k.keyframe() // ...or only the gap, once a keyframe answered the first
	if d := (<-done).Sub(first); d > gap+100*time.Millisecond {
		t.Errorf("waiting request sent %v after the first, want about %v", d, gap)
	}
	time.Sleep(gap)
	k.keyframe()
	start := time.Now()
	k.request()
	if d := (<-done).Sub(start); d > 100*time.Millisecond {
		t.Errorf("request after an answered one and the gap waited %v", d)
	}
	k.request() // not answered yet: the whole interval
	select {
	case <-done:
		t.Fatal("an unanswered request was followed within the interval")
	case <-time.After(every / 2):
	}
	select {
	case <-done:
	case <-time.After(every):
		t.Fatal("the waiting request was never sent")
	}
}

func TestVP8KeyframeStart(t *testing.T) {
	for _, c := range []struct {
		name    string
		payload []byte
		want    bool
	}{
		{"keyframe, no extension", []byte{0x10, 0x00}, true},
		{"delta frame", []byte{0x10, 0x01}, false},
		{"not the start", []byte{0x00, 0x00}, false},
		{"partition 1", []byte{0x11, 0x00}, false},
		{"7-bit picture id", []byte{0x90, 0x80, 0x05, 0x00}, true},
		{"15-bit picture id", []byte{0x90, 0x80, 0x85, 0x05, 0x01}, false},
		{"15-bit picture id keyframe", []byte{0x90, 0x80, 0x85, 0x05, 0x00}, true},
		{"picture id, TL0PICIDX, TID", []byte{0x90, 0xe0, 0x85, 0x05, 0x01, 0x20, 0x00}, true},
		{"truncated", []byte{0x90, 0x80}, false},
		{"empty", nil, false},
	} {
		if got := isVP8KeyframeStart(c.payload); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
