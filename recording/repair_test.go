package recording

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"videosupport/internal/testenv"
	"videosupport/internal/testmedia"
)

// TestRepairTruncated cuts an unfinished file at several points inside
// its last cluster: Repair makes each play, to the last whole frame, with
// the right duration, and marks it interrupted.
func TestRepairTruncated(t *testing.T) {
	probeBin := testenv.LookTool(t, "ffprobe")
	ffmpegBin := testenv.LookTool(t, "ffmpeg")
	pkts, err := testmedia.OpusPackets()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	clock := &fakeClock{t: time.Unix(1000, 0)}
	s := testSink(t, dir, false, clock, nil)
	pz := &packetizer{}
	for n := range 150 { // 3 s
		for _, p := range pz.packets(pkts[n%len(pkts)], testmedia.AudioFrameDuration) {
			s.WriteRTP(p)
		}
		clock.t = clock.t.Add(testmedia.AudioFrameDuration)
	}
	// What a kill -9 leaves: what was flushed, no close.
	if err := s.seg.flush(); err != nil {
		t.Fatal(err)
	}
	src := s.segPath
	whole, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := os.ReadFile(src + MetaSuffix)
	if err != nil {
		t.Fatal(err)
	}
	last := s.seg.lay.clusters[len(s.seg.lay.clusters)-1].pos
	for _, cut := range []int64{int64(len(whole)), int64(len(whole)) - 1, int64(len(whole)) - 37, (last + int64(len(whole))) / 2, last + 30} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cut.webm")
			if err := os.WriteFile(path, whole[:cut], 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path+MetaSuffix, meta, 0o600); err != nil {
				t.Fatal(err)
			}
			if u, err := Unfinished(filepath.Dir(path)); err != nil || len(u) != 1 {
				t.Fatalf("unfinished: %v %v", u, err)
			}
			m, err := Repair(path)
			if err != nil {
				t.Fatal(err)
			}
			if m.State != StateInterrupted {
				t.Errorf("state %q", m.State)
			}
			if u, _ := Unfinished(filepath.Dir(path)); len(u) != 0 {
				t.Errorf("still unfinished after repair: %v", u)
			}
			_, times := webmFrames(t, path)
			want := float64(times[len(times)-1]+20) / 1000
			p := ffprobe(t, probeBin, path)
			if math.Abs(p.duration-want) > 0.03 || p.duration < 1.9 {
				t.Errorf("repaired file lasts %.3f s, its last frame ends at %.3f s", p.duration, want)
			}
			if e := decodeErrors(t, ffmpegBin, path); e != "" {
				t.Errorf("ffmpeg decode: %s", e)
			}
		})
	}
	s.Close()
	m, err := Repair(src)
	if err != nil || m.State != StateComplete {
		t.Fatalf("repairing a finished file: %v, state %q", err, m.State)
	}
	if _, err := Repair(filepath.Join(dir, "missing.webm")); err == nil {
		t.Error("repaired a missing file")
	}
	garbage := filepath.Join(dir, "garbage.webm")
	if err := os.WriteFile(garbage, []byte("not a webm file at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Repair(garbage); !errors.Is(err, ErrNotRepairable) {
		t.Errorf("repair of garbage: %v", err)
	}
}

// crashWriterEnv makes the test binary a recorder that never stops, for
// TestKill9 to kill: TestMain runs crashWriter instead of the tests.
const crashWriterEnv = "RECORDING_CRASH_WRITER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashWriterEnv); dir != "" {
		if err := crashWriter(dir); err != nil {
			fmt.Fprintln(os.Stderr, "crash writer:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashWriter records test audio and video in real time into dir for a
// minute, saying "recording" once it has begun.
func crashWriter(dir string) error {
	frames, pkts, err := testmedia.Media()
	if err != nil {
		return err
	}
	clock := &fakeClock{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	video, err := openTestSink(dir, true, clock, nil, log)
	if err != nil {
		return err
	}
	audio, err := openTestSink(dir, false, clock, nil, log)
	if err != nil {
		return err
	}
	video.t.ID, audio.t.ID = "v", "a"
	vz, az := &packetizer{video: true}, &packetizer{}
	start := time.Now()
	for n := 0; time.Since(start) < time.Minute; n++ {
		at := start.Add(time.Duration(n) * testmedia.AudioFrameDuration)
		time.Sleep(time.Until(at)) // real time, as a call
		clock.t = at
		for _, p := range az.packets(pkts[n%len(pkts)], testmedia.AudioFrameDuration) {
			audio.WriteRTP(p)
		}
		if n%10 < 3 { // 15 frames a second among 50 audio packets
			for _, p := range vz.packets(frames[(n/10*3+n%10)%len(frames)], testmedia.VideoFrameDuration) {
				video.WriteRTP(p)
			}
		}
		if n == 0 {
			fmt.Println("recording")
		}
	}
	return nil
}

// TestKill9: a recorder process killed with SIGKILL leaves files that
// Unfinished finds and Repair makes play to about the moment of the kill.
func TestKill9(t *testing.T) {
	probeBin := testenv.LookTool(t, "ffprobe")
	ffmpegBin := testenv.LookTool(t, "ffmpeg")
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), crashWriterEnv+"="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() && !strings.Contains(sc.Text(), "recording") {
	}
	started := time.Now()
	const length = 3 * time.Second
	time.Sleep(length) // the length of the recording under test
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	recorded := time.Since(started)
	_ = cmd.Wait()

	paths, err := Unfinished(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2 {
		t.Fatalf("unfinished files %v, want 2", paths)
	}
	for _, p := range paths {
		m, err := Repair(p)
		if err != nil {
			t.Fatal(err)
		}
		pr := ffprobe(t, probeBin, p)
		if pr.duration < recorded.Seconds()-0.5 || pr.duration > recorded.Seconds()+0.2 {
			t.Errorf("%s: plays %.3f s after a kill at %.3f s", filepath.Base(p), pr.duration, recorded.Seconds())
		}
		if e := decodeErrors(t, ffmpegBin, p); e != "" {
			t.Errorf("%s: ffmpeg decode: %s", filepath.Base(p), e)
		}
		if m.State != StateInterrupted {
			t.Errorf("%s: state %q", p, m.State)
		}
		t.Logf("%s: %s, plays %.3f s of %.3f s recorded", filepath.Base(p), m.State, pr.duration, recorded.Seconds())
	}
}
