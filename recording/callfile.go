package recording

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The call's file: every participant's video side by side and all their
// audio mixed, each track placed on one timeline. A participant's tracks
// are placed against each other by their sender reports (the publisher's
// own clock, so lip sync holds); participants against each other by when
// their first frame reached us.

// tile is the size of one participant's picture in the call's file.
const tileW, tileH = 640, 360

// placed is a track file and where it starts on the call's timeline.
type placed struct {
	trackFile
	at time.Duration
}

// place puts each track on the call's timeline.
func place(tracks []trackFile) []placed {
	byPerson := map[string][]trackFile{}
	for _, t := range tracks {
		byPerson[t.meta.Participant] = append(byPerson[t.meta.Participant], t)
	}
	var abs []struct {
		t  trackFile
		at time.Time
	}
	for _, ts := range byPerson {
		sort.Slice(ts, func(i, j int) bool { return ts[i].meta.Started.Before(ts[j].meta.Started) })
		anchor := ts[0]
		anchorNTP, anchorHas := anchor.meta.StartNTP()
		for _, t := range ts {
			at := t.meta.Started
			if ntp, ok := t.meta.StartNTP(); ok && anchorHas {
				at = anchor.meta.Started.Add(ntp.Sub(anchorNTP))
			}
			abs = append(abs, struct {
				t  trackFile
				at time.Time
			}{t, at})
		}
	}
	if len(abs) == 0 {
		return nil
	}
	t0 := abs[0].at
	for _, a := range abs {
		if a.at.Before(t0) {
			t0 = a.at
		}
	}
	out := make([]placed, len(abs))
	for i, a := range abs {
		out[i] = placed{trackFile: a.t, at: a.at.Sub(t0)}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].meta.Participant != out[j].meta.Participant {
			return out[i].meta.Participant < out[j].meta.Participant
		}
		return out[i].at < out[j].at
	})
	return out
}

// callFileArgs is the ffmpeg command line that builds the call's file,
// and the length it will have.
func callFileArgs(tracks []placed, out string) ([]string, time.Duration) {
	args := []string{"-hide_banner", "-nostdin", "-y", "-v", "error", "-progress", "pipe:1", "-nostats"}
	var filters, audio []string
	videoByPerson := map[string][]string{}
	var people []string
	var total time.Duration
	for i, t := range tracks {
		args = append(args, "-i", t.path)
		if end := t.at + time.Duration(t.meta.DurationMs)*time.Millisecond; end > total {
			total = end
		}
		ms := t.at.Milliseconds()
		if t.meta.Kind == "audio" {
			label := fmt.Sprintf("a%d", i)
			filters = append(filters, fmt.Sprintf("[%d:a]aresample=48000,adelay=%d:all=1[%s]", i, ms, label))
			audio = append(audio, "["+label+"]")
			continue
		}
		label := fmt.Sprintf("v%d", i)
		p := t.meta.Participant
		if len(videoByPerson[p]) == 0 {
			people = append(people, p)
		}
		pad := ""
		if len(videoByPerson[p]) == 0 && ms > 0 {
			pad = fmt.Sprintf(",tpad=start_duration=%.3f:color=black", t.at.Seconds())
		}
		filters = append(filters, fmt.Sprintf("[%d:v]scale=%d:%d:force_original_aspect_ratio=decrease,"+
			"pad=%d:%d:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=30%s[%s]", i, tileW, tileH, tileW, tileH, pad, label))
		videoByPerson[p] = append(videoByPerson[p], "["+label+"]")
	}
	var tiles []string
	for _, p := range people {
		segs := videoByPerson[p]
		if len(segs) == 1 {
			tiles = append(tiles, segs[0])
			continue
		}
		label := fmt.Sprintf("[p%d]", len(tiles))
		filters = append(filters, fmt.Sprintf("%sconcat=n=%d:v=1:a=0%s", strings.Join(segs, ""), len(segs), label))
		tiles = append(tiles, label)
	}
	var maps []string
	switch len(tiles) {
	case 0:
	case 1:
		maps = append(maps, "-map", tiles[0])
	default:
		filters = append(filters, fmt.Sprintf("%shstack=inputs=%d[v]", strings.Join(tiles, ""), len(tiles)))
		maps = append(maps, "-map", "[v]")
	}
	switch len(audio) {
	case 0:
	case 1:
		maps = append(maps, "-map", audio[0])
	default:
		filters = append(filters, fmt.Sprintf("%samix=inputs=%d:duration=longest:normalize=0[a]", strings.Join(audio, ""), len(audio)))
		maps = append(maps, "-map", "[a]")
	}
	args = append(args, "-filter_complex", strings.Join(filters, ";"))
	args = append(args, maps...)
	if len(tiles) > 0 {
		args = append(args, "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1500k")
	}
	if len(audio) > 0 {
		args = append(args, "-c:a", "libopus", "-b:a", "64k")
	}
	return append(args, "-f", "webm", out), total
}

// buildCallFile runs ffmpeg to build the call's file at out, reporting
// progress (0 to 1) as it goes, and returns the file's length.
func buildCallFile(ctx context.Context, ffmpeg string, tracks []trackFile, out string, progress func(float64)) (time.Duration, error) {
	args, total := callFileArgs(place(tracks), out)
	cmd := exec.CommandContext(ctx, ffmpeg, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("build the call's file: %w", err)
	}
	var last float64
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "out_time_us=")
		if !ok || total <= 0 {
			continue
		}
		us, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		p := min(float64(us)/float64(total.Microseconds()), 0.99)
		if p-last >= 0.05 && progress != nil { // a write every 5%
			last = p
			progress(p)
		}
	}
	if err := cmd.Wait(); err != nil {
		return 0, fmt.Errorf("build the call's file: ffmpeg: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	if st, err := os.Stat(out); err != nil || st.Size() == 0 {
		return 0, fmt.Errorf("build the call's file: ffmpeg wrote nothing to %s", filepath.Base(out))
	}
	return total, nil
}
