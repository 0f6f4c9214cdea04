package recording

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"

	"videosupport/internal/testmedia"
)

// benchmarkRecorderWrite is the recorder's write path per RTP packet:
// jitter buffer, frame assembly, WebM blocks and clusters, flushes to the
// file every 250 ms of media. A new file every 20,000 packets keeps the
// disk in use small; its finishing is counted too.
func benchmarkRecorderWrite(b *testing.B, video bool) {
	var payloads [][]byte
	var err error
	dur := testmedia.AudioFrameDuration
	if video {
		payloads, err = testmedia.VP8Frames()
		dur = testmedia.VideoFrameDuration
	} else {
		payloads, err = testmedia.OpusPackets()
	}
	if err != nil {
		b.Fatal(err)
	}
	pz := &packetizer{video: video}
	var pkts []*rtp.Packet
	for _, f := range payloads {
		pkts = append(pkts, pz.packets(f, dur)...)
	}
	loopTS := pz.ts // the RTP time one pass over the file takes
	dir := b.TempDir()
	clock := &fakeClock{t: time.Unix(1000, 0)}
	s := testSink(b, dir, video, clock, nil)
	var p rtp.Packet
	bytes := 0
	b.ReportAllocs()
	cpu0 := cpuTime()
	i, loops, n := 0, 0, 0
	for b.Loop() {
		if i == len(pkts) {
			i = 0
			loops++
		}
		p = *pkts[i]
		p.SequenceNumber += uint16(loops * len(pkts))
		p.Timestamp += uint32(loops) * loopTS
		s.WriteRTP(&p)
		bytes += len(p.Payload)
		i++
		if n++; n%20000 == 0 {
			s.Close()
			_ = os.RemoveAll(dir)
			s = testSink(b, dir, video, clock, nil)
		}
	}
	s.Close()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	b.SetBytes(int64(bytes / max(b.N, 1)))
}

// cpuTime is the process's CPU time (user and system) so far: on a busy
// machine it says more than the wall time of ns/op.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRecorderWriteVP8 records the test video, per packet.
func BenchmarkRecorderWriteVP8(b *testing.B) { benchmarkRecorderWrite(b, true) }

// BenchmarkRecorderWriteOpus records the test audio, per packet.
func BenchmarkRecorderWriteOpus(b *testing.B) { benchmarkRecorderWrite(b, false) }
