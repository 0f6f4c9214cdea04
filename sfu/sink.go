package sfu

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// A recorder is just another subscriber of a published track (as Galene's
// disk writer is): the room offers each track to a Recorder, which may
// return a TrackSink for it. The forward loop never waits for a sink: it
// copies each packet into a bounded queue, and one goroutine of the room
// per sink hands the packets on. When the queue is full the packet is
// dropped and counted; the sink sees a gap in the sequence numbers, as it
// would for a packet lost on the network.

// SinkQueueLength is how many packets wait for a slow sink before packets
// are dropped: about 2.5 s of 1 Mbit/s video.
const SinkQueueLength = 256

// Recorder decides which published tracks are recorded.
type Recorder interface {
	// OpenTrack is called once for each track published while the
	// recorder is set on the room, and for the tracks already published
	// when it is set. A nil sink means the track is not recorded. It may
	// do file I/O but should not take long: it holds up the track's
	// publication to the room.
	OpenTrack(t SinkTrack) (TrackSink, error)
}

// SinkTrack describes a published track to a Recorder.
type SinkTrack struct {
	Room string
	TrackInfo
	MimeType  string // as negotiated, e.g. "video/VP8", "audio/opus"
	ClockRate uint32
	Channels  uint16
	SSRC      uint32
	// RequestKeyframe asks the publisher for a keyframe (a PLI),
	// throttled with the subscribers' requests. Safe to call from any
	// goroutine, also after the track ended (it does nothing then).
	RequestKeyframe func()
}

// SenderReport is the part of a publisher's RTCP sender report that maps
// the track's RTP clock to the publisher's wall clock.
type SenderReport struct {
	NTPTime     uint64 // 32.32 fixed point seconds since 1900
	RTPTime     uint32
	PacketCount uint32
	OctetCount  uint32
	Received    time.Time // our clock, when it arrived
}

// TrackSink consumes one published track. All calls come from one
// goroutine of the room, never concurrently, so a sink needs no lock of
// its own. A call may take its time (the forward loop does not wait for
// it), but while it runs packets queue up and, past SinkQueueLength, are
// dropped.
type TrackSink interface {
	// WriteRTP receives the track's RTP packets in arrival order (not
	// reordered, lost packets missing). p, its header and its payload
	// are a read-only view valid only until WriteRTP returns: copy what
	// is kept.
	WriteRTP(p *rtp.Packet)
	// WriteSenderReport receives each sender report of the publisher
	// for this track.
	WriteSenderReport(sr SenderReport)
	// Close is called once, when the track ends, the room closes or the
	// recorder is removed; nothing is called after it. The room's Close
	// waits for it to return.
	Close()
}

// SetRecorder sets the recorder of the room's tracks, offering it every
// track already published and every later one. Setting nil (or another
// recorder) closes the sinks of the previous one.
func (r *Room) SetRecorder(rec Recorder) {
	r.mu.Lock()
	r.rec.recorder = rec
	tracks := make([]*upTrack, 0, len(r.tracks))
	for _, u := range r.tracks {
		tracks = append(tracks, u)
	}
	r.mu.Unlock()
	for _, u := range tracks {
		r.syncSink(u)
	}
}

// SinkDrops returns how many packets were dropped because a sink of this
// room was too slow.
func (r *Room) SinkDrops() uint64 { return r.rec.drops.Load() }

// roomRecording is the room's recorder state.
type roomRecording struct {
	recorder Recorder      // guarded by Room.mu
	drops    atomic.Uint64 // over all sinks of the room
}

// sinkSlot is the recording state of one upTrack.
type sinkSlot struct {
	q atomic.Pointer[sinkQueue] // read by the forward loop: nil when not recorded

	mu    sync.Mutex
	owner Recorder // that opened the attached sink
	ended bool     // the track ended: no sink is attached any more
}

// write is the forward loop's hook: one atomic load when not recording.
func (s *sinkSlot) write(p *rtp.Packet) {
	if q := s.q.Load(); q != nil {
		q.pushRTP(p)
	}
}

// syncSink attaches a sink of the room's current recorder to u, or
// detaches the one attached, so that u follows the latest SetRecorder.
func (r *Room) syncSink(u *upTrack) {
	s := &u.rec
	s.mu.Lock()
	defer s.mu.Unlock()
	r.mu.Lock()
	rec, closed := r.rec.recorder, r.closed
	r.mu.Unlock()
	if s.ended || closed {
		return
	}
	if q := s.q.Load(); q != nil {
		if s.owner == rec {
			return
		}
		s.q.Store(nil)
		close(q.done)
		s.owner = nil
	}
	if rec == nil {
		return
	}
	t := SinkTrack{
		Room: r.id, TrackInfo: u.info,
		MimeType: u.codec.MimeType, ClockRate: u.codec.ClockRate, Channels: u.codec.Channels,
		SSRC: uint32(u.remote.SSRC()), RequestKeyframe: u.kf.request,
	}
	sink, err := rec.OpenTrack(t)
	if err != nil {
		r.log.Warn("recorder refused track", "track", u.info.ID, "peer", u.info.PeerID, "err", err)
		return
	}
	if sink == nil {
		return
	}
	q := newSinkQueue(sink, &r.rec.drops)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		sink.Close()
		return
	}
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		q.run(r.log.With("track", u.info.ID, "peer", u.info.PeerID))
	}()
	s.owner = rec
	s.q.Store(q)
}

// endSink detaches the sink for good: the track has ended.
func (s *sinkSlot) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = true
	if q := s.q.Swap(nil); q != nil {
		close(q.done)
	}
}

// readRTCP drains the publisher's RTCP for one track (the interceptors
// work as it is read) and passes its sender reports to the sink.
func (s *sinkSlot) readRTCP(recv *webrtc.RTPReceiver) {
	for {
		pkts, _, err := recv.ReadRTCP()
		if err != nil {
			return
		}
		q := s.q.Load()
		if q == nil {
			continue
		}
		for _, p := range pkts {
			if sr, ok := p.(*rtcp.SenderReport); ok {
				q.pushSR(SenderReport{
					NTPTime: sr.NTPTime, RTPTime: sr.RTPTime, PacketCount: sr.PacketCount,
					OctetCount: sr.OctetCount, Received: time.Now(),
				})
			}
		}
	}
}

// sinkItem is one queued packet or sender report.
type sinkItem struct {
	buf []byte // a marshalled RTP packet, when sr is nil
	sr  *SenderReport
}

// sinkQueue hands packets from the forward loop to a sink's goroutine.
// Items circulate between free and full, so the queue allocates nothing
// once every item has held a packet of the largest size.
type sinkQueue struct {
	sink  TrackSink
	free  chan *sinkItem
	full  chan *sinkItem
	done  chan struct{} // closed when the sink is to be closed
	drops *atomic.Uint64
}

func newSinkQueue(sink TrackSink, drops *atomic.Uint64) *sinkQueue {
	q := &sinkQueue{
		sink: sink, drops: drops, done: make(chan struct{}),
		free: make(chan *sinkItem, SinkQueueLength), full: make(chan *sinkItem, SinkQueueLength),
	}
	for range SinkQueueLength {
		q.free <- &sinkItem{}
	}
	return q
}

// pushRTP copies p into the queue, or drops it when the sink is behind.
// A push after the sink was detached lands in a queue nobody reads, which
// is harmless.
func (q *sinkQueue) pushRTP(p *rtp.Packet) {
	var it *sinkItem
	select {
	case it = <-q.free:
	default:
		q.drops.Add(1)
		return
	}
	n := p.MarshalSize()
	if cap(it.buf) < n {
		it.buf = make([]byte, n, max(n, 1500))
	}
	it.buf = it.buf[:n]
	if _, err := p.MarshalTo(it.buf); err != nil {
		q.free <- it
		return
	}
	it.sr = nil
	q.full <- it // never blocks: there are as many slots as items
}

func (q *sinkQueue) pushSR(sr SenderReport) {
	select {
	case it := <-q.free:
		it.sr = &sr
		q.full <- it
	default:
		q.drops.Add(1)
	}
}

// run delivers queued items to the sink until the queue is detached,
// then delivers what is left and closes the sink.
func (q *sinkQueue) run(log *slog.Logger) {
	var p rtp.Packet
	deliver := func(it *sinkItem) {
		if it.sr != nil {
			q.sink.WriteSenderReport(*it.sr)
		} else if err := p.Unmarshal(it.buf); err == nil {
			q.sink.WriteRTP(&p)
		} else {
			log.Debug("sink packet unreadable", "err", err)
		}
		q.free <- it
	}
	defer q.sink.Close()
	for {
		select {
		case it := <-q.full:
			deliver(it)
		case <-q.done:
			for {
				select {
				case it := <-q.full:
					deliver(it)
				default:
					return
				}
			}
		}
	}
}
