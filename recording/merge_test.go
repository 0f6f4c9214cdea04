package recording

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"

	"videosupport/internal/testenv"
	"videosupport/internal/testmedia"
)

// encodeOpus makes Opus packets of 20 ms with ffmpeg from a lavfi source.
func encodeOpus(t *testing.T, ffmpegBin, src, af string) [][]byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "a.ogg")
	cmd := exec.Command(ffmpegBin, "-v", "error", "-f", "lavfi", "-i", src, "-af", af,
		"-c:a", "libopus", "-b:a", "32k", "-page_duration", "20000", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := oggreader.NewWith(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var pkts [][]byte
	for {
		p, _, err := r.ParseNextPage()
		if err != nil {
			return pkts
		}
		if !bytes.HasPrefix(p, []byte("OpusTags")) {
			pkts = append(pkts, p)
		}
	}
}

// TestMergeAligned: a participant publishes a flash and a beep at the
// same instant, the video starting half a second after the audio; in the
// merged file the flash and the beep are within 100 ms of each other.
func TestMergeAligned(t *testing.T) {
	ffmpegBin := testenv.LookTool(t, "ffmpeg")
	probeBin := testenv.LookTool(t, "ffprobe")
	// The flash is video frame 30 (2 s into the video), the beep 2.5 s
	// into the audio: the same instant once the video starts 0.5 s late.
	const videoDelay = 500 * time.Millisecond
	frames := encodeVP8(t, ffmpegBin, "color=black:s=160x120:r=15:d=4", "-vf", "drawbox=color=white:t=fill:enable='between(n,30,32)'", "-g", "15")
	if len(frames) < 40 {
		t.Fatalf("%d frames", len(frames))
	}
	pkts := encodeOpus(t, ffmpegBin, "sine=f=1000:sample_rate=48000:d=4.5", "volume=volume=0:enable='not(between(t,2.5,2.7))'")

	dir, call := newRecordedCall(t)
	p := call.join("erin", 0).publish(t)
	start := time.Now()
	var wg sync.WaitGroup
	var verr, aerr error
	wg.Go(func() {
		for n, f := range frames {
			time.Sleep(time.Until(start.Add(videoDelay + time.Duration(n)*testmedia.VideoFrameDuration)))
			if verr = p.video.WriteSample(media.Sample{Data: f, Duration: testmedia.VideoFrameDuration}); verr != nil {
				return
			}
		}
	})
	wg.Go(func() {
		for n, pk := range pkts {
			time.Sleep(time.Until(start.Add(time.Duration(n) * testmedia.AudioFrameDuration)))
			if aerr = p.audio.WriteSample(media.Sample{Data: pk, Duration: testmedia.AudioFrameDuration}); aerr != nil {
				return
			}
		}
	})
	wg.Wait()
	if verr != nil || aerr != nil {
		t.Fatal(verr, aerr)
	}
	call.room.Close()

	files := trackFiles(t, dir)
	if len(files) != 2 {
		t.Fatalf("files %v", files)
	}
	out := filepath.Join(t.TempDir(), "call.webm")
	var progress []MergeProgress
	err := Merge(context.Background(), out, files, MergeConfig{FFmpeg: ffmpegBin, Progress: func(p MergeProgress) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(progress) == 0 || progress[len(progress)-1].Done <= 0 {
		t.Errorf("progress reported: %v", progress)
	}
	if pr := ffprobe(t, probeBin, out); math.Abs(pr.duration-4.5) > 0.5 {
		t.Errorf("merged file lasts %.3f s, want about 4.5", pr.duration)
	}
	flash := firstFlash(t, ffmpegBin, out)
	beep := firstBeep(t, ffmpegBin, out)
	t.Logf("flash at %.3f s, beep at %.3f s in the merged file", flash, beep)
	if math.Abs(flash-beep) > 0.1 {
		t.Errorf("flash at %.3f s and beep at %.3f s: %.0f ms apart", flash, beep, math.Abs(flash-beep)*1000)
	}
}

// firstFlash returns the time of the first bright picture.
func firstFlash(t *testing.T, ffmpegBin, path string) float64 {
	t.Helper()
	raw, err := exec.Command(ffmpegBin, "-v", "error", "-i", path, "-map", "0:v", "-vf", "fps=100,scale=8:6,format=gray", "-f", "rawvideo", "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; (i+1)*48 <= len(raw); i++ {
		sum := 0
		for _, b := range raw[i*48 : (i+1)*48] {
			sum += int(b)
		}
		if sum/48 > 128 {
			return float64(i) / 100
		}
	}
	t.Fatal("no flash in the merged file")
	return 0
}

// firstBeep returns the time of the first loud sample.
func firstBeep(t *testing.T, ffmpegBin, path string) float64 {
	t.Helper()
	raw, err := exec.Command(ffmpegBin, "-v", "error", "-i", path, "-map", "0:a", "-ac", "1", "-ar", "8000", "-f", "s16le", "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; 2*i+1 < len(raw); i++ {
		if v := int16(binary.LittleEndian.Uint16(raw[2*i:])); v > 3000 || v < -3000 {
			return float64(i) / 8000
		}
	}
	t.Fatal("no beep in the merged file")
	return 0
}

// TestMergeSegmentsShareATile: a camera that changes resolution mid-call
// leaves two segment files of one track; the merged picture holds one
// tile for it, in which the second segment follows the first at its time.
func TestMergeSegmentsShareATile(t *testing.T) {
	ffmpegBin := testenv.LookTool(t, "ffmpeg")
	probeBin := testenv.LookTool(t, "ffprobe")
	// 2 s of a dark 160x120 picture, then 2 s of a bright 320x240 one.
	var frames [][]byte
	for _, src := range []string{"color=black:s=160x120:r=15:d=2", "color=white:s=320x240:r=15:d=2"} {
		frames = append(frames, encodeVP8(t, ffmpegBin, src, "-g", "15")...)
	}
	dir, call := newRecordedCall(t)
	p := call.join("farid", 0).publish(t)
	start := time.Now()
	for n, f := range frames {
		time.Sleep(time.Until(start.Add(time.Duration(n) * testmedia.VideoFrameDuration)))
		if err := p.video.WriteSample(media.Sample{Data: f, Duration: testmedia.VideoFrameDuration}); err != nil {
			t.Fatal(err)
		}
	}
	call.room.Close()

	files := trackFiles(t, dir)
	if len(files) != 2 {
		t.Fatalf("want two segments of the video track, got %v", files)
	}
	out := filepath.Join(t.TempDir(), "call.webm")
	if err := Merge(context.Background(), out, files, MergeConfig{FFmpeg: ffmpegBin}); err != nil {
		t.Fatal(err)
	}
	size, err := exec.Command(probeBin, "-v", "error", "-select_streams", "v", "-show_entries", "stream=width,height",
		"-of", "csv=p=0", out).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(size)); got != "426,240" {
		t.Errorf("merged picture is %s, want one 16:9 tile of 426,240", got)
	}
	if pr := ffprobe(t, probeBin, out); math.Abs(pr.duration-4) > 0.5 {
		t.Errorf("merged file lasts %.3f s, want about 4", pr.duration)
	}
	if at := firstFlash(t, ffmpegBin, out); math.Abs(at-2) > 0.2 {
		t.Errorf("the second segment shows at %.3f s, want about 2", at)
	}
}
