package recording

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"videosupport/sfu"
)

// Config says where and how tracks are recorded.
type Config struct {
	// Dir holds one folder per room, each with a WebM file and its
	// sidecar per track and segment.
	Dir string
	// JitterWait is how long a missing packet is waited for (a NACK may
	// bring it back) before it is given up. Default 200 ms.
	JitterWait time.Duration
	// ClusterDuration is the longest WebM cluster. Default 1 s.
	ClusterDuration time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// OnFile, when set, hears of every track file finished cleanly. It is
	// called on the track's goroutine and must not block.
	OnFile func(path string, m Meta)
	// now is the clock, for tests.
	now func() time.Time
}

// Recorder writes every track a room offers it to WebM files. It
// implements sfu.Recorder.
type Recorder struct {
	cfg Config
}

// New checks cfg and makes the recording folder.
func New(cfg Config) (*Recorder, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("recording: no folder configured")
	}
	if cfg.JitterWait <= 0 {
		cfg.JitterWait = 200 * time.Millisecond
	}
	if cfg.ClusterDuration <= 0 {
		cfg.ClusterDuration = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("recording folder: %w", err)
	}
	return &Recorder{cfg: cfg}, nil
}

// OpenTrack implements sfu.Recorder: Opus and VP8 tracks are recorded,
// other codecs are not (nil sink).
func (r *Recorder) OpenTrack(t sfu.SinkTrack) (sfu.TrackSink, error) {
	var video bool
	switch strings.ToLower(t.MimeType) {
	case "audio/opus":
	case "video/vp8":
		video = true
	default:
		r.cfg.Logger.Info("codec not recorded", "room", t.Room, "peer", t.PeerID, "track", t.ID, "codec", t.MimeType)
		return nil, nil
	}
	dir := filepath.Join(r.cfg.Dir, safeName(t.Room))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("recording folder: %w", err)
	}
	s := &trackSink{
		cfg: r.cfg, t: t, video: video, dir: dir,
		log: r.cfg.Logger.With("room", t.Room, "peer", t.PeerID, "track", t.ID),
	}
	s.jb = newJitterBuffer(r.cfg.JitterWait, s.onPacket)
	if video {
		// Start on a keyframe: ask for one now rather than wait for the
		// publisher's next.
		s.waitKey = true
		t.RequestKeyframe()
	}
	return s, nil
}

// safeName keeps a name usable as a file name.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

// trackSink records one track: jitter buffer, frame assembly, segments.
// All its methods run on the one goroutine sfu gives each sink.
type trackSink struct {
	cfg   Config
	t     sfu.SinkTrack
	video bool
	dir   string
	log   *slog.Logger
	jb    *jitterBuffer

	// Frame assembly (video).
	frame    []byte
	frameTS  uint32
	frameExt int64 // unwrapped RTP time of the frame being assembled
	inFrame  bool
	waitKey  bool
	extTS    int64 // unwrapped RTP time of the last packet
	lastTS   uint32
	tsInited bool

	// The open segment, if any.
	seg      *webmWriter
	segPath  string
	segStart int64 // unwrapped RTP time of its first frame
	meta     Meta
	segments int
	failed   bool // a write failed: the track is no longer recorded

	lastSR    *sfu.SenderReport
	lastSRAt  time.Time // when one was last kept in the sidecar
	lost      int
	dropped   int
	framesOut int
}

// WriteRTP implements sfu.TrackSink.
func (s *trackSink) WriteRTP(p *rtp.Packet) {
	if s.failed {
		return
	}
	s.jb.push(p, s.cfg.now())
}

// WriteSenderReport implements sfu.TrackSink.
func (s *trackSink) WriteSenderReport(sr sfu.SenderReport) {
	s.lastSR = &sr
	if s.seg != nil && (len(s.meta.SenderReports) == 0 || sr.Received.Sub(s.lastSRAt) >= SRKeepEvery) {
		s.keepSR()
		s.saveMeta()
	}
}

// keepSR adds the last sender report to the open segment's sidecar.
func (s *trackSink) keepSR() {
	sr := s.lastSR
	if sr == nil {
		return
	}
	s.lastSRAt = sr.Received
	d := int64(int32(sr.RTPTime - uint32(s.segStart)))
	s.meta.SenderReports = append(s.meta.SenderReports, SRMapping{
		NTP: ntpTime(sr.NTPTime), RTPTime: sr.RTPTime, Received: sr.Received,
		MediaMs: float64(d) * 1000 / float64(s.t.ClockRate),
	})
}

// Close implements sfu.TrackSink: what is held is written and the file
// finished.
func (s *trackSink) Close() {
	if !s.failed {
		s.jb.flush()
		// A frame still being assembled is incomplete: the track ended
		// before its last packet, so it is dropped.
		if s.inFrame {
			s.inFrame = false
			s.dropped++
		}
	}
	s.closeSegment()
}

// onPacket receives packets in order from the jitter buffer.
func (s *trackSink) onPacket(p *jbPacket, lost int) {
	s.unwrap(p.ts)
	if lost > 0 {
		s.lost += lost
		if s.video {
			s.breakFrame()
		}
	}
	if !s.video {
		s.writeFrame(p.payload, true, s.extTS)
		return
	}
	var vp codecs.VP8Packet
	body, err := vp.Unmarshal(p.payload)
	if err != nil {
		s.breakFrame()
		return
	}
	if s.inFrame && p.ts != s.frameTS {
		// No packet is missing, yet the frame had no marker: take it
		// as whole, as a decoder would.
		s.finishFrame()
	}
	if !s.inFrame {
		if vp.S != 1 || vp.PID != 0 {
			return // the rest of a frame whose start was given up
		}
		s.inFrame, s.frameTS, s.frameExt, s.frame = true, p.ts, s.extTS, s.frame[:0]
	}
	s.frame = append(s.frame, body...)
	if p.marker {
		s.finishFrame()
	}
}

func (s *trackSink) unwrap(ts uint32) {
	if !s.tsInited {
		s.tsInited, s.extTS, s.lastTS = true, int64(ts), ts
		return
	}
	s.extTS += int64(int32(ts - s.lastTS))
	s.lastTS = ts
}

// breakFrame drops the frame being assembled: a packet of it, or of a
// frame before it, is lost, so nothing decodes until a keyframe.
func (s *trackSink) breakFrame() {
	if s.inFrame {
		s.dropped++
		s.inFrame = false
	}
	if !s.waitKey {
		s.waitKey = true
		s.t.RequestKeyframe()
	}
}

func (s *trackSink) finishFrame() {
	s.inFrame = false
	key := len(s.frame) > 0 && s.frame[0]&0x01 == 0
	if s.waitKey && !key {
		s.dropped++
		s.t.RequestKeyframe() // throttled by sfu
		return
	}
	s.waitKey = false
	s.writeFrame(s.frame, key, s.frameExt)
}

// writeFrame writes one whole frame of unwrapped RTP time ext, opening a
// segment first when needed.
func (s *trackSink) writeFrame(frame []byte, key bool, ext int64) {
	if s.video && key {
		w, h, ok := vp8Size(frame)
		if ok && s.seg != nil && (w != s.meta.Width || h != s.meta.Height) {
			s.closeSegment() // a new resolution starts a new file
		}
		if s.seg == nil {
			s.openSegment(w, h, ext)
		}
	}
	if !s.video && s.seg == nil {
		s.openSegment(0, 0, ext)
	}
	if s.seg == nil {
		return
	}
	ms := (ext - s.segStart) * 1000 / int64(s.t.ClockRate)
	if err := s.seg.writeFrame(ms, key, frame, s.cfg.ClusterDuration.Milliseconds()); err != nil {
		s.fail(err)
		return
	}
	s.framesOut++
}

// vp8Size reads the frame size of a VP8 keyframe (RFC 6386 9.1).
func vp8Size(f []byte) (w, h int, ok bool) {
	if len(f) < 10 || f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a {
		return 0, 0, false
	}
	return int(f[6]) | int(f[7]&0x3f)<<8, int(f[8]) | int(f[9]&0x3f)<<8, true
}

func (s *trackSink) openSegment(w, h int, ext int64) {
	now := s.cfg.now()
	kind := "audio"
	if s.video {
		kind = "video"
	}
	// Numbered on from the files a previous writer of the track left:
	// one stopped when its publisher withdrew consent and agreed again.
	var name, path string
	for {
		name = fmt.Sprintf("%s_%s_%s_%d.webm", safeName(s.t.PeerID), kind, safeName(s.t.ID), s.segments)
		path = filepath.Join(s.dir, name)
		if _, err := os.Lstat(path + MetaSuffix); err != nil {
			break // free (or unreadable, and the write will say so)
		}
		s.segments++
	}
	channels := int(s.t.Channels)
	if channels == 0 {
		channels = 2
	}
	spec := trackSpec{video: s.video, width: w, height: h, channels: channels, name: s.t.PeerID, codecID: "A_OPUS"}
	if s.video {
		spec.codecID = "V_VP8"
	}
	s.meta = Meta{
		State: StateRecording, Room: s.t.Room, Participant: s.t.PeerID, Track: s.t.ID, Kind: kind,
		Codec: s.t.MimeType, ClockRate: s.t.ClockRate, Segment: s.segments, File: name,
		Started: now, FirstRTP: uint32(ext), Width: w, Height: h,
	}
	// The sidecar comes first: a file without one is never taken for
	// finished.
	s.segPath, s.segStart = path, ext
	s.keepSR()
	if err := writeMeta(path+MetaSuffix, &s.meta); err != nil {
		s.fail(err)
		return
	}
	seg, err := createWebM(path, spec, now)
	if err != nil {
		s.fail(err)
		return
	}
	s.seg = seg
	s.segments++
	s.log.Info("recording track", "file", path, "width", w, "height", h)
}

func (s *trackSink) closeSegment() {
	if s.seg == nil {
		return
	}
	seg := s.seg
	s.seg = nil
	if err := seg.close(); err != nil {
		s.log.Error("finish track file", "file", s.segPath, "err", err)
		return // the sidecar still says "recording": Repair will see it
	}
	s.meta.State = StateComplete
	s.fillStats(seg)
	s.meta.Ended = s.cfg.now()
	if err := writeMeta(s.segPath+MetaSuffix, &s.meta); err != nil {
		s.log.Error("finish track file", "file", s.segPath, "err", err)
		return
	}
	if s.cfg.OnFile != nil {
		s.cfg.OnFile(s.segPath, s.meta)
	}
}

func (s *trackSink) fillStats(seg *webmWriter) {
	s.meta.DurationMs = seg.durationMs()
	s.meta.Frames = seg.blocks
	s.meta.LostPackets = s.lost
	s.meta.DroppedFrames = s.dropped
}

// saveMeta rewrites the open segment's sidecar.
func (s *trackSink) saveMeta() {
	if s.seg == nil {
		return
	}
	s.fillStats(s.seg)
	if err := writeMeta(s.segPath+MetaSuffix, &s.meta); err != nil {
		s.log.Warn("update sidecar", "file", s.segPath, "err", err)
	}
}

// fail stops recording the track after a write error; what is on disk
// stays unfinished for Repair.
func (s *trackSink) fail(err error) {
	s.log.Error("recording failed", "file", s.segPath, "err", err)
	s.failed = true
	if s.seg != nil {
		_ = s.seg.f.Close()
		s.seg = nil
	}
}
