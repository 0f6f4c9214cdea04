package sfu_test

import (
	"io"
	"log/slog"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"videosupport/internal/testmedia"
	"videosupport/recording"
	"videosupport/sfu"
)

// BenchmarkRecordingCost answers "what does recording a track cost,
// compared with forwarding it to one subscriber?" in one process, so that
// both figures see the same machine. Two rooms, each forwarding one track
// to one subscriber through the real forward loop (downTrack, Pion's
// interceptors, SRTP, the UDP socket), take turns at sending a pass over
// the test video. One of them is recorded for the whole run by the real
// recording.Recorder, into one file as a call's track would be: the sink
// queue, its goroutine, the jitter buffer, WebM blocks and clusters,
// flushes, and at the end the file's close. CPU time is the process's
// (all goroutines) from getrusage:
//
//	forward-cpu-ns/pkt  the passes of the room without a recorder
//	record-cpu-ns/pkt   what the passes of the recorded room cost more
//	record/forward      the ratio of the two
//
// Run it with a fixed count so that both kinds of pass happen often:
//
//	go test -run '^$' -bench RecordingCost -benchtime 60000x ./sfu
func BenchmarkRecordingCost(b *testing.B) {
	frames, err := testmedia.VP8Frames()
	if err != nil {
		b.Fatal(err)
	}
	// One pass over the clip starts on its keyframe, so each recorded
	// pass records from its first packet.
	var clip []*rtp.Packet
	var seq uint16
	var ts uint32
	for _, f := range frames {
		payloads := (&codecs.VP8Payloader{}).Payload(1200, f)
		for i, pl := range payloads {
			clip = append(clip, &rtp.Packet{Header: rtp.Header{
				Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, Marker: i == len(payloads)-1,
			}, Payload: pl})
			seq++
		}
		ts += uint32(testmedia.VideoFrameDuration.Seconds() * 90000)
	}
	passTS := ts

	// Two rooms of one subscriber each, one recorded for the whole run
	// (one file, as a call's track), take turns at forwarding a pass.
	plain, recorded := sfu.NewForwardRig(b, 1), sfu.NewForwardRig(b, 1)
	defer plain.Close()
	defer recorded.Close()
	rec, err := recording.New(recording.Config{Dir: b.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	counted := &countingRecorder{rec: rec}
	recorded.Room().SetRecorder(counted)
	if !counted.open.Load() {
		b.Fatal("the recorder did not open the track")
	}
	// The sink may also see a packet of the rig's set-up still on its
	// way (sent by the rig's publisher until every subscriber was
	// bound): hence signed arithmetic, one packet ahead is caught up.
	caughtUp := func(behind int64) {
		last, stalled := counted.seen.Load(), time.Now()
		for int64(counted.written)-int64(counted.seen.Load())-int64(recorded.Room().SinkDrops()) > behind {
			if n := counted.seen.Load(); n != last {
				last, stalled = n, time.Now()
			} else if time.Since(stalled) > 5*time.Second {
				b.Fatalf("the sink stopped at %d of %d packets (open: %v)", n, counted.written, counted.open.Load())
			}
			time.Sleep(100 * time.Microsecond)
		}
	}

	var cpu [2]time.Duration // plain, recorded
	var pkts [2]int
	pass, i, bytes := 0, 0, 0
	start := cpuTime()
	b.ReportAllocs()
	for b.Loop() {
		p := *clip[i]
		p.SequenceNumber += uint16(pass / 2 * len(clip))
		p.Timestamp += uint32(pass/2) * passTS
		if pass%2 == 0 {
			plain.Write(&p)
		} else {
			// Counted before it is written: the sink may see it
			// before Write returns.
			counted.written++
			recorded.Write(&p)
			// Keep the sink's queue from overflowing: a dropped packet
			// would be work not done, not work done fast.
			caughtUp(sfu.SinkQueueLength / 2)
		}
		bytes += len(p.Payload)
		if i++; i == len(clip) {
			if pass%2 == 1 {
				caughtUp(0) // the sink's work for this pass is done
			}
			now := cpuTime()
			cpu[pass%2] += now - start
			pkts[pass%2] += len(clip)
			start, i = now, 0
			pass++
		}
	}
	// Closing the file (cues, duration, sync) is part of recording.
	start = cpuTime()
	recorded.Room().SetRecorder(nil)
	for counted.open.Load() {
		time.Sleep(time.Millisecond)
	}
	cpu[1] += cpuTime() - start
	if drops := recorded.Room().SinkDrops(); drops > 0 {
		b.Fatalf("the sink dropped %d packets: the recording cost is undercounted", drops)
	}
	b.SetBytes(int64(bytes / max(b.N, 1)))
	if pkts[0] == 0 || pkts[1] == 0 {
		return // too few packets for a pass of each kind
	}
	fwd := float64(cpu[0].Nanoseconds()) / float64(pkts[0])
	cost := float64(cpu[1].Nanoseconds())/float64(pkts[1]) - fwd
	b.ReportMetric(fwd, "forward-cpu-ns/pkt")
	b.ReportMetric(cost, "record-cpu-ns/pkt")
	b.ReportMetric(cost/fwd, "record/forward")
}

// countingRecorder is the real recorder, whose sinks count the packets
// they were handed and say when they are closed.
type countingRecorder struct {
	rec     *recording.Recorder
	written uint64 // by the benchmark: packets given to the room
	seen    atomic.Uint64
	open    atomic.Bool
}

func (c *countingRecorder) OpenTrack(t sfu.SinkTrack) (sfu.TrackSink, error) {
	s, err := c.rec.OpenTrack(t)
	if err != nil || s == nil {
		return s, err
	}
	c.open.Store(true)
	return &countingSink{TrackSink: s, c: c}, nil
}

type countingSink struct {
	sfu.TrackSink
	c *countingRecorder
}

func (s *countingSink) WriteRTP(p *rtp.Packet) {
	s.TrackSink.WriteRTP(p)
	s.c.seen.Add(1)
}

func (s *countingSink) Close() {
	s.TrackSink.Close()
	s.c.open.Store(false)
}

// cpuTime is the process's CPU time (user and system) so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
