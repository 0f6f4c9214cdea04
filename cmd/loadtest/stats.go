package main

import (
	"math"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// histogram counts durations in microseconds in log-linear buckets (32 a
// power of two, so about 3% wide). One writer; merged after the run.
type histogram struct {
	counts [64 * 32]uint32
	n      uint64
}

func bucketOf(us uint64) int {
	if us < 32 {
		return int(us)
	}
	e := bits.Len64(us) - 5 // us >> e is in [16, 32)
	return e*16 + int(us>>e)
}

// lowerBound is the smallest value in bucket i, in microseconds.
func lowerBound(i int) uint64 {
	if i < 32 {
		return uint64(i)
	}
	e := i/16 - 1
	m := uint64(i%16 + 16)
	return m << e
}

func (h *histogram) add(d time.Duration) {
	us := max(d.Microseconds(), 0)
	h.counts[min(bucketOf(uint64(us)), len(h.counts)-1)]++
	h.n++
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// quantile returns the q-th quantile in milliseconds, or -1 without data.
func (h *histogram) quantile(q float64) float64 {
	if h.n == 0 {
		return -1
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	var seen uint64
	for i, c := range h.counts {
		seen += uint64(c)
		if seen >= max(rank, 1) {
			return float64(lowerBound(i)) / 1000
		}
	}
	return -1
}

// durations keeps a few exact samples (join times, probes).
type durations struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *durations) add(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
}

// quantile in milliseconds, -1 without samples (nearest rank).
func (s *durations) quantile(q float64) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.d) == 0 {
		return -1
	}
	d := slices.Clone(s.d)
	slices.Sort(d)
	i := max(int(math.Ceil(q*float64(len(d))))-1, 0)
	return float64(d[i].Microseconds()) / 1000
}

func (s *durations) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.d)
}

// txTrack is one published track: how many packets it sent, and where
// the measured window starts and ends in its numbering.
type txTrack struct {
	room    int
	sender  int // participant index in the room
	video   bool
	counter atomic.Uint32 // next packet number
	c0, c1  uint32
	// sent is when the last sendRing packets were sent, by packet
	// number modulo sendRing (for receivers counting at the socket,
	// which do not decrypt the trailer).
	sent [sendRing]sentSlot
}

const sendRing = 4096 // 23 s of 1.5 Mbit/s video

type sentSlot struct {
	counter atomic.Uint32
	at      atomic.Int64
}

// sending notes that packet counter left at at.
func (t *txTrack) sending(counter uint32, at int64) {
	s := &t.sent[counter%sendRing]
	s.at.Store(at)
	s.counter.Store(counter)
}

// sentAt returns when packet counter was sent, if it is still known.
func (t *txTrack) sentAt(counter uint32) (int64, bool) {
	s := &t.sent[counter%sendRing]
	at := s.at.Load()
	if s.counter.Load() != counter || at == 0 {
		return 0, false
	}
	return at, true
}

// rxTrack is what one participant received of one track. Only its reader
// goroutine touches it until the run is over.
type rxTrack struct {
	seen     []uint64  // bitmap of packet numbers
	latency  histogram // send to the track reader
	wire     histogram // send to the receiver's socket: forwarding latency
	received uint64
}

// window is the measured interval, shared by senders and receivers.
type window struct {
	start, end atomic.Int64 // unix nanos; 0 until set
}

func (w *window) inside(sent int64) bool {
	s, e := w.start.Load(), w.end.Load()
	return s != 0 && sent >= s && (e == 0 || sent < e)
}

// record notes the arrival of packet counter sent at sent: at the
// receiver's socket at arrived, read now.
func (r *rxTrack) record(counter uint32, sent int64, now, arrived time.Time, w *window) {
	r.received++
	i := int(counter / 64)
	if i >= len(r.seen) {
		r.seen = slices.Grow(r.seen, i+1-len(r.seen))[:i+1]
	}
	r.seen[i] |= 1 << (counter % 64)
	if w.inside(sent) {
		r.latency.add(now.Sub(time.Unix(0, sent)))
		r.wire.add(arrived.Sub(time.Unix(0, sent)))
	}
}

// countIn returns how many of the packets numbered [c0, c1) arrived.
func (r *rxTrack) countIn(c0, c1 uint32) uint64 {
	var n uint64
	for c := c0; c < c1; c++ {
		if r.has(c) {
			n++
		}
	}
	return n
}

// has reports whether packet counter arrived.
func (r *rxTrack) has(counter uint32) bool {
	i := int(counter / 64)
	return i < len(r.seen) && r.seen[i]&(1<<(counter%64)) != 0
}

func msDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }
