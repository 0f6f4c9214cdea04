package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"
)

// member is one synthetic participant of a run.
type member struct {
	room, index int
	publisher   bool
	rx          *receiver
	// expectFrame is set when a video publisher was already in the room
	// when this member started to join: its join-to-first-frame counts.
	expectFrame bool
	joined      atomic.Bool
	refused     bool
	err         error
	close       func()
}

// load is the participants of one run and what they sent and received.
// The SFU run and the relay baseline each build one.
type load struct {
	cfg    *Config
	m      *mediaSet
	w      window
	tracks []*txTrack     // by trailer key: 2*publisher (video), 2*publisher+1 (audio)
	rooms  [][]*member    // by room, by index
	live   []atomic.Int32 // per room: publishers whose video is on its way
	ctx    context.Context
	stop   context.CancelFunc
	closed sync.Once
	// toolProfile is where to write a CPU profile of the load tool over
	// the window ("": none).
	toolProfile string
}

func newLoad(cfg *Config, m *mediaSet) *load {
	l := &load{cfg: cfg, m: m, live: make([]atomic.Int32, cfg.Rooms)}
	l.ctx, l.stop = context.WithCancel(context.Background())
	for r := range cfg.Rooms {
		var ms []*member
		for i := range cfg.Participants {
			mem := &member{room: r, index: i, publisher: i < cfg.Publishers, rx: newReceiver(&l.w)}
			if mem.publisher {
				l.tracks = append(l.tracks, &txTrack{room: r, sender: i, video: true}, &txTrack{room: r, sender: i})
			}
			ms = append(ms, mem)
		}
		l.rooms = append(l.rooms, ms)
	}
	return l
}

// senderFor returns the sender of a publishing member.
func (l *load) senderFor(mem *member) *sender {
	pub := mem.room*l.cfg.Publishers + mem.index
	return &sender{m: l.m, video: l.tracks[2*pub], audio: l.tracks[2*pub+1], vkey: uint32(2 * pub), akey: uint32(2*pub + 1)}
}

// joinAll joins every member at the configured rate, publishers of every
// room first, then the others, with join doing the work of one member.
// It returns when every join has ended.
func (l *load) joinAll(ctx context.Context, join func(ctx context.Context, mem *member) error) {
	every := time.Duration(float64(time.Second) / l.cfg.JoinRate)
	tick := time.NewTicker(every)
	defer tick.Stop()
	var wg sync.WaitGroup
	for i := range l.cfg.Participants {
		for r := range l.cfg.Rooms {
			mem := l.rooms[r][i]
			select {
			case <-ctx.Done():
				wg.Wait()
				return
			case <-tick.C:
			}
			mem.expectFrame = l.live[r].Load() > 0
			wg.Go(func() {
				jctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				defer cancel()
				if err := join(jctx, mem); err != nil {
					mem.err = err
					return
				}
				mem.joined.Store(true)
				if mem.publisher {
					l.live[r].Add(1)
				}
			})
		}
	}
	wg.Wait()
}

// errRefused marks a join the server refused as busy.
var errRefused = errors.New("server busy")

// counts is what the receivers saw of the measured window.
type counts struct {
	expected, received uint64
	atSocket           uint64 // of received, counted at the sockets
	latency            histogram
	wire               histogram
	joinToFrame        durations
	joinsMeasured      int
	refused, failed    int
	publishers         int // that joined
}

// markStart and markEnd bound the measured window in every track's
// numbering.
func (l *load) markStart() {
	for _, t := range l.tracks {
		t.c0 = t.counter.Load()
	}
	l.w.start.Store(time.Now().UnixNano())
}

func (l *load) markEnd() {
	l.w.end.Store(time.Now().UnixNano())
	for _, t := range l.tracks {
		t.c1 = t.counter.Load()
	}
}

// closeAll stops the senders and closes every member, then waits for
// their readers: after it the receivers can be read without locks.
func (l *load) closeAll() {
	l.closed.Do(l.closeMembers)
}

func (l *load) closeMembers() {
	l.stop()
	var wg sync.WaitGroup
	for _, room := range l.rooms {
		for _, mem := range room {
			if mem.close != nil {
				wg.Go(mem.close)
			}
		}
	}
	wg.Wait()
	for _, room := range l.rooms {
		for _, mem := range room {
			mem.rx.wg.Wait()
		}
	}
}

// count adds up what every member received of every other member's
// tracks during the window. A member that failed to join expects nothing
// (its failure is counted apart); a publisher that failed sent nothing.
func (l *load) count() *counts {
	c := &counts{}
	for _, room := range l.rooms {
		for _, mem := range room {
			if mem.publisher && mem.joined.Load() {
				c.publishers++
			}
			switch {
			case mem.refused:
				c.refused++
			case mem.err != nil:
				c.failed++
				l.cfg.logf("join failed: room %d member %d: %v", mem.room, mem.index, mem.err)
			}
		}
	}
	for key, t := range l.tracks {
		if !l.rooms[t.room][t.sender].joined.Load() || t.c1 <= t.c0 {
			continue
		}
		for _, q := range l.rooms[t.room] {
			if q.index == t.sender || !q.joined.Load() {
				continue
			}
			c.expected += uint64(t.c1 - t.c0)
			n, atSocket := q.rx.countIn(uint32(key), t.c0, t.c1)
			c.received += n
			c.atSocket += atSocket
		}
	}
	for _, room := range l.rooms {
		for _, mem := range room {
			mem.rx.mergeLatency(&c.latency, &c.wire)
			if mem.expectFrame && mem.joined.Load() {
				c.joinsMeasured++
				if f := mem.rx.frame; !f.IsZero() {
					c.joinToFrame.add(f.Sub(mem.rx.start))
				}
			}
		}
	}
	return c
}

// fill sets the receiver side of m from c for a window of d.
func (c *counts) fill(m *Measure, d time.Duration, sent uint64) {
	m.ForwardedPPS = float64(c.received) / d.Seconds()
	m.CountedAtSocket = -1
	if c.received > 0 {
		m.CountedAtSocket = float64(c.atSocket) / float64(c.received)
	}
	m.SentPPS = float64(sent) / d.Seconds()
	m.Loss = -1
	if c.expected > 0 {
		m.Loss = 1 - float64(c.received)/float64(c.expected)
	}
	m.LatencyP50MS = c.latency.quantile(0.50)
	m.LatencyP95MS = c.latency.quantile(0.95)
	m.LatencyP99MS = c.latency.quantile(0.99)
	m.ForwardingP50MS = c.wire.quantile(0.50)
	m.ForwardingP95MS = c.wire.quantile(0.95)
	m.ForwardingP99MS = c.wire.quantile(0.99)
	m.JoinToFrameP50MS = c.joinToFrame.quantile(0.50)
	m.JoinToFrameP99MS = c.joinToFrame.quantile(0.99)
	m.JoinsMeasured = c.joinsMeasured
	m.JoinsRefused = c.refused
	m.JoinsFailed = c.failed
}

func (l *load) sent() uint64 {
	var n uint64
	for _, t := range l.tracks {
		n += uint64(t.c1 - t.c0)
	}
	return n
}

// sampler measures the process under load: snapshots at the start and
// the end of the window, then the figures per forwarded packet.
type sampler interface {
	start() error
	end()
	fill(m *Measure, d time.Duration, packets uint64)
}

// measure lets the load settle, then measures for the configured
// duration and collects what the receivers saw.
func (l *load) measure(ctx context.Context, s sampler, m *Measure) error {
	l.waitFlowing(ctx, 30*time.Second)
	select {
	case <-time.After(l.cfg.Warmup):
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := s.start(); err != nil {
		return err
	}
	stopProfile := l.profileTool()
	l.markStart()
	start := time.Now()
	select {
	case <-time.After(l.cfg.Duration):
	case <-ctx.Done():
		return ctx.Err()
	}
	l.markEnd()
	d := time.Since(start)
	stopProfile()
	s.end()
	// Packets sent just before the end are still on their way, and lost
	// ones may still be resent after a NACK.
	time.Sleep(500 * time.Millisecond)
	l.closeAll()
	c := l.count()
	c.fill(m, d, l.sent())
	m.OfferedPPS = float64(c.publishers) * l.m.packetsPerSecond()
	s.fill(m, d, c.received)
	if c.failed > 0 && c.refused == 0 && c.failed == l.cfg.Rooms*l.cfg.Participants {
		return fmt.Errorf("every join failed, the first: %w", l.rooms[0][0].err)
	}
	return nil
}

// profileTool starts a CPU profile of the load tool if one was asked
// for, and returns what stops it. A profile is a bonus: the run goes on
// without it.
func (l *load) profileTool() (stop func()) {
	if l.toolProfile == "" {
		return func() {}
	}
	f, err := os.Create(l.toolProfile)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		l.cfg.logf("load tool CPU profile: %v", err)
		if f != nil {
			f.Close()
		}
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// waitFlowing waits until every member that joined receives every track
// of the others who joined, and has a whole video frame if there is
// video: a join is not over when the server says "joined" but when its
// media connections are up, and their handshakes and first keyframes are
// not part of the steady load the window measures.
func (l *load) waitFlowing(ctx context.Context, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if l.flowing() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	l.cfg.logf("not every member receives all its media after %v; measuring anyway", limit)
}

func (l *load) flowing() bool {
	for _, room := range l.rooms {
		want := 0
		for _, mem := range room {
			if mem.publisher && mem.joined.Load() {
				want += 2
			}
		}
		for _, mem := range room {
			if !mem.joined.Load() {
				continue
			}
			n := want
			if mem.publisher {
				n -= 2
			}
			mem.rx.mu.Lock()
			got, frame := len(mem.rx.tracks), !mem.rx.frame.IsZero()
			mem.rx.mu.Unlock()
			if got < n || (n > 0 && !frame && mem.rx.video) {
				return false
			}
		}
	}
	return true
}
