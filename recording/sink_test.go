package recording

import (
	"bytes"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"

	"videosupport/internal/testenv"
	"videosupport/internal/testmedia"
	"videosupport/sfu"
)

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// packetizer turns frames into RTP packets as a publisher would.
type packetizer struct {
	seq   uint16
	ts    uint32
	video bool
}

func (pz *packetizer) packets(frame []byte, dur time.Duration) []*rtp.Packet {
	var payloads [][]byte
	if pz.video {
		payloads = (&codecs.VP8Payloader{}).Payload(1200, frame)
	} else {
		payloads = [][]byte{frame}
	}
	out := make([]*rtp.Packet, len(payloads))
	for i, pl := range payloads {
		out[i] = &rtp.Packet{Header: rtp.Header{
			Version: 2, PayloadType: 96, SequenceNumber: pz.seq, Timestamp: pz.ts, Marker: i == len(payloads)-1,
		}, Payload: pl}
		pz.seq++
	}
	rate := 48000
	if pz.video {
		rate = 90000
	}
	pz.ts += uint32(dur.Seconds() * float64(rate))
	return out
}

// testSink opens a sink of a recorder in dir on a fake clock.
func testSink(t testing.TB, dir string, video bool, clock *fakeClock, keyframes *atomic.Int32) *trackSink {
	t.Helper()
	s, err := openTestSink(dir, video, clock, keyframes, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openTestSink is a recorder's sink for one test track (VP8 or Opus) on
// clock's time.
func openTestSink(dir string, video bool, clock *fakeClock, keyframes *atomic.Int32, log *slog.Logger) (*trackSink, error) {
	rec, err := New(Config{Dir: dir, now: clock.now, Logger: log})
	if err != nil {
		return nil, err
	}
	st := sfu.SinkTrack{
		Room: "r", TrackInfo: sfu.TrackInfo{ID: "t1", PeerID: "p", Kind: "audio"},
		MimeType: "audio/opus", ClockRate: 48000, Channels: 2, RequestKeyframe: func() {},
	}
	if video {
		st.Kind, st.MimeType, st.ClockRate = "video", "video/VP8", 90000
	}
	if keyframes != nil {
		st.RequestKeyframe = func() { keyframes.Add(1) }
	}
	s, err := rec.OpenTrack(st)
	if err != nil {
		return nil, err
	}
	return s.(*trackSink), nil
}

func TestJitterBufferReorders(t *testing.T) {
	var got []uint16
	var losses []int
	jb := newJitterBuffer(100*time.Millisecond, func(p *jbPacket, lost int) {
		got = append(got, p.seq)
		losses = append(losses, lost)
	})
	t0 := time.Unix(0, 0)
	push := func(seq uint16, at time.Duration) {
		jb.push(&rtp.Packet{Header: rtp.Header{SequenceNumber: seq}}, t0.Add(at))
	}
	// 65534 65535 0 (wrap), 2 before 1, 4 lost for good, 5..6, 3 late
	// but within the wait.
	push(65534, 0)
	push(65535, 0)
	push(0, 0)
	push(2, 10*time.Millisecond)
	push(1, 20*time.Millisecond)
	push(5, 30*time.Millisecond)
	push(3, 50*time.Millisecond) // a retransmission in time
	push(6, 60*time.Millisecond)
	push(7, 200*time.Millisecond) // 4 has waited long enough
	push(4, 210*time.Millisecond) // too late
	want := []uint16{65534, 65535, 0, 1, 2, 3, 5, 6, 7}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	if losses[6] != 1 || slices.Max(losses[:6]) != 0 || jb.late != 1 {
		t.Fatalf("losses %v late %d", losses, jb.late)
	}
}

// TestLossWaitsForKeyframe: a packet lost for good makes the video ask
// for a keyframe and drop frames until it comes; the file still decodes
// cleanly and holds only whole frames sent.
func TestLossWaitsForKeyframe(t *testing.T) {
	ffmpegBin := testenv.LookTool(t, "ffmpeg")
	frames, err := testmedia.VP8Frames()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	clock := &fakeClock{t: time.Unix(1000, 0)}
	var kf atomic.Int32
	s := testSink(t, dir, true, clock, &kf)
	startKF := kf.Load()
	pz := &packetizer{video: true, seq: 100, ts: 5000}
	i := 0
	for n := range 45 {
		if n == 40 {
			i = 0 // the publisher answers the keyframe request
		}
		pkts := pz.packets(frames[i], testmedia.VideoFrameDuration)
		for k, p := range pkts {
			if n == 20 && k == 0 {
				continue // lost, never retransmitted
			}
			s.WriteRTP(p)
		}
		clock.t = clock.t.Add(testmedia.VideoFrameDuration)
		i++
	}
	s.Close()
	if kf.Load() == startKF {
		t.Fatal("no keyframe requested after a loss")
	}
	files := trackFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("files %v", files)
	}
	got, times := webmFrames(t, files[0])
	// Frames 0..19 and the keyframe round 40..44: 25 frames.
	if len(got) != 25 || !testmedia.IsVP8Keyframe(got[20]) {
		t.Fatalf("%d frames recorded, want 25 with a keyframe at 20", len(got))
	}
	checkVP8Sequence(t, files[0], got, frames)
	if gap := times[20] - times[19]; gap < 1300 {
		t.Errorf("the gap in the file lasts %d ms, want the 20 frames dropped", gap)
	}
	if e := decodeErrors(t, ffmpegBin, files[0]); e != "" {
		t.Errorf("ffmpeg decode: %s", e)
	}
	m, err := ReadMeta(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if m.LostPackets != 1 || m.DroppedFrames != 19 {
		t.Errorf("sidecar says %d lost, %d dropped; want 1 and 19", m.LostPackets, m.DroppedFrames)
	}
}

// encodeVP8 makes VP8 frames with ffmpeg from a lavfi source; args go
// before the output (a filter, the keyframe interval, a frame count).
func encodeVP8(t *testing.T, ffmpegBin, src string, args ...string) [][]byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "v.ivf")
	all := append([]string{"-v", "error", "-f", "lavfi", "-i", src}, args...)
	all = append(all, "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k", out)
	if b, err := exec.Command(ffmpegBin, all...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	return readIVFFrames(t, out)
}

// readIVFFrames reads the frames of an IVF file.
func readIVFFrames(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := ivfreader.NewWith(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	for {
		f, _, err := r.ParseNextFrame()
		if err != nil {
			return frames
		}
		frames = append(frames, f)
	}
}

// TestResolutionChangeStartsSegment: a keyframe of a new size closes the
// file and starts the next, each playing at its own size.
func TestResolutionChangeStartsSegment(t *testing.T) {
	ffmpegBin := testenv.LookTool(t, "ffmpeg")
	probeBin := testenv.LookTool(t, "ffprobe")
	big, err := testmedia.VP8Frames()
	if err != nil {
		t.Fatal(err)
	}
	small := encodeVP8(t, ffmpegBin, "testsrc=size=160x120:rate=15", "-frames:v", "30", "-g", "1000")
	dir := t.TempDir()
	clock := &fakeClock{t: time.Unix(1000, 0)}
	s := testSink(t, dir, true, clock, nil)
	pz := &packetizer{video: true}
	for _, f := range append(slices.Clone(big[:30]), small...) {
		for _, p := range pz.packets(f, testmedia.VideoFrameDuration) {
			s.WriteRTP(p)
		}
		clock.t = clock.t.Add(testmedia.VideoFrameDuration)
	}
	s.Close()
	files := trackFiles(t, dir)
	if len(files) != 2 {
		t.Fatalf("files %v, want 2 segments", files)
	}
	for i, want := range []string{"320x240", "160x120"} {
		out, err := exec.Command(probeBin, "-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0:s=x", files[i]).Output()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(out)); got != want {
			t.Errorf("segment %d is %s, want %s", i, got, want)
		}
		if p := ffprobe(t, probeBin, files[i]); math.Abs(p.duration-2) > 0.1 {
			t.Errorf("segment %d lasts %.3f s, want 2", i, p.duration)
		}
		if e := decodeErrors(t, ffmpegBin, files[i]); e != "" {
			t.Errorf("segment %d: %s", i, e)
		}
	}
}
