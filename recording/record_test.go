package recording

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"

	"videosupport/internal/testenv"
	"videosupport/internal/testmedia"
)

// probe is what ffprobe says of a file.
type probe struct {
	codec    string
	duration float64
}

func ffprobe(t *testing.T, bin, path string) probe {
	t.Helper()
	out, err := exec.Command(bin, "-v", "error", "-show_entries", "format=duration:stream=codec_name",
		"-of", "default=noprint_wrappers=1", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, out)
	}
	var p probe
	for _, line := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch k {
		case "codec_name":
			p.codec = v
		case "duration":
			p.duration, _ = strconv.ParseFloat(v, 64)
		}
	}
	return p
}

// decodeErrors decodes the whole file and returns what ffmpeg complains
// of: nothing for a clean file.
func decodeErrors(t *testing.T, bin, path string) string {
	t.Helper()
	out, err := exec.Command(bin, "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("%v: %s", err, out)
	}
	return string(out)
}

// webmFrames parses a file back with ebml-go and returns its frames and
// their times in ms.
func webmFrames(t *testing.T, path string) ([][]byte, []int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var doc struct {
		Header  webm.EBMLHeader `ebml:"EBML"`
		Segment webm.Segment    `ebml:"Segment"`
	}
	if err := ebml.Unmarshal(f, &doc); err != nil {
		t.Fatalf("parse %s with ebml-go: %v", path, err)
	}
	var frames [][]byte
	var times []int64
	for _, c := range doc.Segment.Cluster {
		for _, b := range c.SimpleBlock {
			frames = append(frames, b.Data[0])
			times = append(times, int64(c.Timecode)+int64(b.Timecode))
		}
	}
	if doc.Segment.Cues == nil || len(doc.Segment.Cues.CuePoint) == 0 {
		t.Errorf("%s: no cues", path)
	}
	if doc.Segment.Info.Duration <= 0 {
		t.Errorf("%s: no duration", path)
	}
	return frames, times
}

// checkVP8Sequence checks that the recorded frames are frames of the
// file sent, in the order sent: each is the next one, or the first (the
// publisher restarts there when asked for a keyframe).
func checkVP8Sequence(t *testing.T, name string, got, sent [][]byte) {
	t.Helper()
	index := map[string]int{}
	for i, f := range sent {
		index[string(f)] = i
	}
	prev := -1
	for n, f := range got {
		i, ok := index[string(f)]
		if !ok {
			t.Fatalf("%s: frame %d (%d bytes) is none of the frames sent", name, n, len(f))
		}
		if n == 0 && i != 0 {
			t.Fatalf("%s: starts with frame %d, not the keyframe", name, i)
		}
		if n > 0 && i != (prev+1)%len(sent) && i != 0 {
			t.Fatalf("%s: frame %d is sent frame %d after %d", name, n, i, prev)
		}
		prev = i
	}
}

func trackFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.webm"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// TestRecordTwoClients: two Pion clients publish VP8 and Opus through
// the SFU; each track's file plays in ffprobe with the right codec and
// duration, decodes cleanly, and holds the very VP8 frames sent.
func TestRecordTwoClients(t *testing.T) {
	probeBin := testenv.LookTool(t, "ffprobe")
	ffmpegBin := testenv.LookTool(t, "ffmpeg")
	frames, pkts, err := testmedia.Media()
	if err != nil {
		t.Fatal(err)
	}
	dir, call := newRecordedCall(t)
	pubs := []*publishing{call.join("alice", 0).publish(t), call.join("bob", 0).publish(t)}

	const length = 5 * time.Second // more than one loop of the 4 s test video
	playStart := time.Now()
	played := make([]time.Duration, len(pubs))
	errs := make([]error, len(pubs))
	var wg sync.WaitGroup
	for i, p := range pubs {
		wg.Go(func() { played[i], errs[i] = p.play(length, frames, pkts) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	call.room.Close() // ends the tracks: every file is finished when it returns

	files := trackFiles(t, dir)
	if len(files) != 4 {
		t.Fatalf("got track files %v, want 4", files)
	}
	for _, f := range files {
		m, err := ReadMeta(f)
		if err != nil {
			t.Fatal(err)
		}
		if m.State != StateComplete {
			t.Errorf("%s: state %q", f, m.State)
		}
		if len(m.SenderReports) == 0 {
			t.Errorf("%s: no sender report in the sidecar", f)
		}
		p := ffprobe(t, probeBin, f)
		want := map[string]string{"audio": "opus", "video": "vp8"}[m.Kind]
		if p.codec != want {
			t.Errorf("%s: codec %q, want %q", f, p.codec, want)
		}
		pub := played[0]
		if m.Participant == "bob" {
			pub = played[1]
		}
		if math.Abs(p.duration-pub.Seconds()) > 0.5 {
			t.Errorf("%s: duration %.3f s, published %.3f s", f, p.duration, pub.Seconds())
		}
		if e := decodeErrors(t, ffmpegBin, f); e != "" {
			t.Errorf("%s: ffmpeg decode: %s", f, e)
		}
		got, _ := webmFrames(t, f)
		if m.Kind == "video" {
			checkVP8Sequence(t, f, got, frames)
			if m.Width != 320 || m.Height != 240 {
				t.Errorf("%s: %dx%d, want 320x240", f, m.Width, m.Height)
			}
		}
		t.Logf("%s: %s %.3f s (published %.3f s), %d frames, %d lost, %d dropped, %d SRs, first frame %v after play, ended %v after",
			filepath.Base(f), p.codec, p.duration, pub.Seconds(), len(got), m.LostPackets, m.DroppedFrames, len(m.SenderReports),
			m.Started.Sub(playStart), m.Ended.Sub(playStart))
	}
	if d := call.room.SinkDrops(); d != 0 {
		t.Errorf("%d packets dropped on the way to the recorder", d)
	}
}

// TestRecordLossy: with 5% of the published RTP dropped on its way to the
// server, every file still decodes end to end without an error.
func TestRecordLossy(t *testing.T) {
	probeBin := testenv.LookTool(t, "ffprobe")
	ffmpegBin := testenv.LookTool(t, "ffmpeg")
	frames, pkts, err := testmedia.Media()
	if err != nil {
		t.Fatal(err)
	}
	dir, call := newRecordedCall(t)
	cl := call.join("carol", 0.05)
	p := cl.publish(t)
	played, err := p.play(6*time.Second, frames, pkts)
	if err != nil {
		t.Fatal(err)
	}
	call.room.Close()

	sent, dropped := cl.conn.sent.Load(), cl.conn.dropped.Load()
	if dropped == 0 {
		t.Fatalf("no packet dropped of %d", sent)
	}
	files := trackFiles(t, dir)
	if len(files) != 2 {
		t.Fatalf("got track files %v, want 2", files)
	}
	for _, f := range files {
		m, err := ReadMeta(f)
		if err != nil {
			t.Fatal(err)
		}
		if e := decodeErrors(t, ffmpegBin, f); e != "" {
			t.Errorf("%s: ffmpeg decode with loss: %s", f, e)
		}
		pr := ffprobe(t, probeBin, f)
		if math.Abs(pr.duration-played.Seconds()) > 0.5 {
			t.Errorf("%s: duration %.3f s, published %.3f s", f, pr.duration, played.Seconds())
		}
		got, _ := webmFrames(t, f)
		if m.Kind == "video" {
			for i, fr := range got {
				if !bytes.Equal(fr, frames[indexOf(frames, fr)]) {
					t.Fatalf("%s: frame %d is none of the frames sent", f, i)
				}
			}
		}
		t.Logf("%s: %.3f s of %.3f s, %d frames, %d packets lost for good, %d frames dropped",
			filepath.Base(f), pr.duration, played.Seconds(), len(got), m.LostPackets, m.DroppedFrames)
	}
	t.Logf("%d of %d RTP packets dropped on the way in", dropped, sent)
}

func indexOf(frames [][]byte, f []byte) int {
	for i, x := range frames {
		if bytes.Equal(x, f) {
			return i
		}
	}
	return 0
}

// TestSetRecorderMidCall: recording started in a running call begins
// with a keyframe (the recorder asks for one), and removing the recorder
// finishes the files while the call goes on.
func TestSetRecorderMidCall(t *testing.T) {
	probeBin := testenv.LookTool(t, "ffprobe")
	frames, pkts, err := testmedia.Media()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	done := make(chan string, 4)
	rec, err := New(Config{Dir: dir, Logger: testLogger(t), OnFile: func(p string, _ Meta) { done <- p }})
	if err != nil {
		t.Fatal(err)
	}
	call := newTestCall(t)
	p := call.join("dave", 0).publish(t)
	playing := make(chan error, 1)
	go func() {
		_, err := p.play(4500*time.Millisecond, frames, pkts)
		playing <- err
	}()
	time.Sleep(time.Second) // the call runs a while unrecorded
	call.room.SetRecorder(rec)
	time.Sleep(2 * time.Second) // the length recorded
	call.room.SetRecorder(nil)
	var files []string
	for len(files) < 2 {
		select {
		case f := <-done:
			files = append(files, f)
		case <-time.After(10 * time.Second):
			t.Fatalf("files finished: %v, want 2", files)
		}
	}
	if err := <-playing; err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		m, err := ReadMeta(f)
		if err != nil {
			t.Fatal(err)
		}
		pr := ffprobe(t, probeBin, f)
		if math.Abs(pr.duration-2) > 0.5 || m.State != StateComplete {
			t.Errorf("%s: %s, %.3f s, want about 2 s", f, m.State, pr.duration)
		}
		if m.Kind == "video" {
			got, _ := webmFrames(t, f)
			checkVP8Sequence(t, f, got, frames)
		}
		t.Logf("%s: %.3f s", filepath.Base(f), pr.duration)
	}
}
