package recording

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// States of a track file, in its sidecar.
const (
	// StateRecording: the file is being written, or its writer died.
	StateRecording = "recording"
	// StateComplete: the writer closed the file.
	StateComplete = "complete"
	// StateInterrupted: the writer died and Repair finished the file.
	StateInterrupted = "interrupted"
)

// MetaSuffix is appended to a track file's path to name its sidecar.
const MetaSuffix = ".json"

// Meta is the sidecar of one track file: what it holds, whether it was
// finished, and how its timeline maps to the publisher's wall clock.
type Meta struct {
	State       string    `json:"state"`
	Room        string    `json:"room"`
	Participant string    `json:"participant"`
	Track       string    `json:"track"`
	Kind        string    `json:"kind"`  // "audio" or "video"
	Codec       string    `json:"codec"` // e.g. "video/VP8"
	ClockRate   uint32    `json:"clock_rate"`
	Segment     int       `json:"segment"` // 0, then 1... after resolution changes
	File        string    `json:"file"`    // the track file's base name
	Started     time.Time `json:"started"` // our clock when the first frame arrived
	FirstRTP    uint32    `json:"first_rtp"`
	Width       int       `json:"width,omitempty"`
	Height      int       `json:"height,omitempty"`
	// SenderReports map the publisher's wall clock to the file's
	// timeline: the first, then about one every SRKeepEvery.
	SenderReports []SRMapping `json:"sender_reports"`
	DurationMs    int64       `json:"duration_ms"`
	Frames        int         `json:"frames"`
	LostPackets   int         `json:"lost_packets"`   // never arrived, given up by the jitter buffer
	DroppedFrames int         `json:"dropped_frames"` // incomplete, or waiting for a keyframe
	Ended         time.Time   `json:"ended,omitzero"`
}

// SRMapping is one RTCP sender report seen in the file's timeline.
type SRMapping struct {
	NTP      time.Time `json:"ntp"` // the publisher's wall clock
	RTPTime  uint32    `json:"rtp_time"`
	MediaMs  float64   `json:"media_ms"` // where RTPTime falls in the file (may be < 0)
	Received time.Time `json:"received"` // our clock
}

// SRKeepEvery thins the sender reports kept in a sidecar.
const SRKeepEvery = 10 * time.Second

// StartNTP returns the publisher's wall-clock time of the file's time
// zero, from its first sender report: the key to align tracks.
func (m *Meta) StartNTP() (time.Time, bool) {
	if len(m.SenderReports) == 0 {
		return time.Time{}, false
	}
	sr := m.SenderReports[0]
	return sr.NTP.Add(-time.Duration(sr.MediaMs * float64(time.Millisecond))), true
}

// ntpTime converts a 32.32 fixed-point NTP timestamp.
func ntpTime(v uint64) time.Time {
	const ntpEpochOffset = 2208988800 // 1900 to 1970 in seconds
	secs := int64(v>>32) - ntpEpochOffset
	frac := (v & 0xFFFFFFFF) * uint64(time.Second) >> 32
	return time.Unix(secs, int64(frac))
}

// writeMeta replaces the sidecar atomically: a crash leaves the old one
// or the new one, never half of one.
func writeMeta(path string, m *Meta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("marshal sidecar: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write sidecar: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write sidecar: %w", err)
	}
	return nil
}

// ReadMeta reads the sidecar of the track file at path.
func ReadMeta(path string) (*Meta, error) {
	b, err := os.ReadFile(path + MetaSuffix)
	if err != nil {
		return nil, fmt.Errorf("read sidecar: %w", err)
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read sidecar %s: %w", path+MetaSuffix, err)
	}
	return &m, nil
}

// Unfinished returns the track files under dir whose writer never closed
// them (state "recording"): after a crash, each is to be Repaired. Call
// it before any recorder writes under dir.
func Unfinished(dir string) ([]string, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".webm"+MetaSuffix) {
			return nil
		}
		track := strings.TrimSuffix(p, MetaSuffix)
		m, err := ReadMeta(track)
		if err != nil {
			return err
		}
		if m.State == StateRecording {
			paths = append(paths, track)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find unfinished recordings: %w", err)
	}
	return paths, nil
}
