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
