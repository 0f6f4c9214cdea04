package recording

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MergeProgress is how far a Merge is.
type MergeProgress struct {
	Done  time.Duration // of output written
	Total time.Duration // the output's expected length
}

// MergeConfig says how to build one file of a call.
type MergeConfig struct {
	// FFmpeg is the ffmpeg binary; "ffmpeg" when empty.
	FFmpeg string
	// Height of each track's tile (16:9); 240 when zero.
	Height int
	// Progress, when set, is called as ffmpeg reports progress.
	Progress func(MergeProgress)
}

// mergeInput is one track file placed on the call's timeline.
type mergeInput struct {
	index  int // among ffmpeg's inputs
	path   string
	meta   *Meta
	offset time.Duration // from the call's start
}

// tiles groups the video files by track: each track is one tile of the
// picture, in which its segments (a new one at each change of
// resolution) follow one another. Tiles are in order of first picture.
func tiles(ins []mergeInput) [][]mergeInput {
	var out [][]mergeInput
	at := map[string]int{}
	byStart := slices.Clone(ins)
	slices.SortStableFunc(byStart, func(a, b mergeInput) int { return cmp.Compare(a.offset, b.offset) })
	for _, in := range byStart {
		if in.meta.Kind != "video" {
			continue
		}
		k := in.meta.Participant + "\x00" + in.meta.Track
		j, ok := at[k]
		if !ok {
			j = len(out)
			at[k] = j
			out = append(out, nil)
		}
		out[j] = append(out[j], in)
	}
	return out
}

// Merge builds one WebM file of a call from its track files: every audio
// track mixed, every video track side by side in a 16:9 tile of its own
// (its segments one after another, each fitted to the tile), each placed on the call's
// timeline by its sender reports (by its arrival time when it has none).
// It runs ffmpeg as a subprocess and stops it when ctx ends.
func Merge(ctx context.Context, out string, tracks []string, cfg MergeConfig) error {
	if cfg.FFmpeg == "" {
		cfg.FFmpeg = "ffmpeg"
	}
	if cfg.Height == 0 {
		cfg.Height = 240
	}
	ins, total, err := placeTracks(tracks)
	if err != nil {
		return err
	}
	width := (cfg.Height*16/9 + 1) &^ 1 // a 16:9 tile, even for the encoder
	args := []string{"-y", "-v", "error", "-nostats", "-progress", "pipe:1"}
	for _, in := range ins {
		args = append(args, "-i", in.path)
	}
	var filters, videos, audios []string
	for j, t := range tiles(ins) {
		filters = append(filters, fmt.Sprintf("color=c=black:s=%dx%d:r=30:d=%.3f[t%db0]", width, cfg.Height, total.Seconds(), j))
		for k, in := range t {
			filters = append(filters,
				fmt.Sprintf("[%d:v]setpts=PTS-STARTPTS+%.3f/TB,scale=%d:%d:force_original_aspect_ratio=decrease,pad=%[3]d:%[4]d:(ow-iw)/2:(oh-ih)/2,setsar=1[t%ds%d]",
					in.index, in.offset.Seconds(), width, cfg.Height, j, k),
				fmt.Sprintf("[t%db%d][t%ds%d]overlay=eof_action=pass[t%db%d]", j, k, j, k, j, k+1))
		}
		videos = append(videos, fmt.Sprintf("[t%db%d]", j, len(t)))
	}
	for i, in := range ins {
		if in.meta.Kind != "video" {
			l := fmt.Sprintf("a%d", i)
			filters = append(filters, fmt.Sprintf("[%d:a]asetpts=PTS-STARTPTS,aresample=48000:async=1,adelay=%d:all=1[%s]", i, in.offset.Milliseconds(), l))
			audios = append(audios, "["+l+"]")
		}
	}
	var maps []string
	switch len(videos) {
	case 0:
	case 1:
		maps = append(maps, "-map", videos[0])
	default:
		filters = append(filters, fmt.Sprintf("%shstack=inputs=%d:shortest=0[v]", strings.Join(videos, ""), len(videos)))
		maps = append(maps, "-map", "[v]")
	}
	switch len(audios) {
	case 0:
	case 1:
		maps = append(maps, "-map", audios[0])
	default:
		filters = append(filters, fmt.Sprintf("%samix=inputs=%d:duration=longest:normalize=0[a]", strings.Join(audios, ""), len(audios)))
		maps = append(maps, "-map", "[a]")
	}
	args = append(args, "-filter_complex", strings.Join(filters, ";"))
	args = append(args, maps...)
	args = append(args, "-pix_fmt", "yuv420p", "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M",
		"-c:a", "libopus", "-b:a", "64k", "-t", fmt.Sprintf("%.3f", total.Seconds()), out)

	cmd := exec.CommandContext(ctx, cfg.FFmpeg, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("merge: start ffmpeg: %w", err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		if k == "out_time_us" && cfg.Progress != nil {
			if us, err := strconv.ParseInt(v, 10, 64); err == nil && us >= 0 {
				cfg.Progress(MergeProgress{Done: time.Duration(us) * time.Microsecond, Total: total})
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("merge: ffmpeg: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// placeTracks reads the sidecars and puts each track on one timeline.
// Within a participant, tracks are aligned by their sender reports (one
// clock: lip sync). Publishers' clocks differ, so each participant's
// clock is mapped to ours by the smallest gap seen between a report's NTP
// time and its arrival (the least network delay).
func placeTracks(tracks []string) ([]mergeInput, time.Duration, error) {
	if len(tracks) == 0 {
		return nil, 0, errors.New("merge: no tracks")
	}
	ins := make([]mergeInput, len(tracks))
	skew := map[string]time.Duration{} // our clock minus the participant's
	for i, p := range tracks {
		m, err := ReadMeta(p)
		if err != nil {
			return nil, 0, fmt.Errorf("merge: %w", err)
		}
		ins[i] = mergeInput{index: i, path: p, meta: m}
		for _, sr := range m.SenderReports {
			d := sr.Received.Sub(sr.NTP)
			if cur, ok := skew[m.Participant]; !ok || d < cur {
				skew[m.Participant] = d
			}
		}
	}
	starts := make([]time.Time, len(ins))
	var first time.Time
	for i, in := range ins {
		start, ok := in.meta.StartNTP()
		if ok {
			start = start.Add(skew[in.meta.Participant])
		} else {
			start = in.meta.Started
		}
		starts[i] = start
		if first.IsZero() || start.Before(first) {
			first = start
		}
	}
	var total time.Duration
	for i := range ins {
		ins[i].offset = starts[i].Sub(first)
		total = max(total, ins[i].offset+time.Duration(ins[i].meta.DurationMs)*time.Millisecond)
	}
	return ins, total, nil
}
