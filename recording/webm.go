package recording

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
)

// The file layout is the one a live muxer (libwebm, Chrome's
// MediaRecorder) writes, chosen so that every prefix of the file plays:
//
//	EBML header
//	Segment, size unknown (8-byte size field, patched on close)
//	  Void            room for the SeekHead written on close
//	  Info            with a Duration patched on close
//	  Tracks          one track
//	  Cluster...      size unknown (8-byte size field, patched on close)
//	  Cues            written on close
//
// ebml-go marshals the structured elements (headers, Info, Tracks, Cues,
// SeekHead); cluster heads and SimpleBlocks, written for every frame, are
// encoded by hand so that the write path allocates nothing.

// Element ids (Matroska).
const (
	idSegment     = 0x18538067
	idSeekHead    = 0x114D9B74
	idInfo        = 0x1549A966
	idTracks      = 0x1654AE6B
	idCluster     = 0x1F43B675
	idCues        = 0x1C53BB6B
	idTags        = 0x1254C367
	idChapters    = 0x1043A770
	idAttachments = 0x1941A469
	idVoid        = 0xEC
	idTimecode    = 0xE7
	idSimpleBlock = 0xA3
	idBlockGroup  = 0xA0
	idBlock       = 0xA1
	idDuration    = 0x4489
)

// unknownSize is the 8-byte EBML size "unknown"; a patched size keeps the
// 8-byte length so nothing moves.
var unknownSize = [8]byte{0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}

// flushEveryMs bounds, in media time, what a kill -9 can lose of what
// reached the writer.
const flushEveryMs = 250

// seekHeadRoom is the space reserved for the SeekHead written on close.
const seekHeadRoom = 96

// clusterRef is what finalising needs of one cluster.
type clusterRef struct {
	pos     int64 // offset of the Cluster id
	sizePos int64 // offset of its 8-byte size field, or -1 when not patchable
	timeMs  int64 // cluster timecode
	key     bool  // begins with a keyframe: a cue point
}

// layout is where the patchable parts of a file are.
type layout struct {
	segSizePos  int64 // the Segment's 8-byte size field
	segData     int64 // first byte of the Segment's data
	seekPos     int64 // reserved room for the SeekHead
	seekLen     int64
	infoPos     int64
	durationPos int64 // the 8 bytes of the Duration float
	tracksPos   int64
	clusters    []clusterRef
	end         int64 // end of the last complete cluster
}

// trackSpec is the one track of a file.
type trackSpec struct {
	video         bool
	codecID       string // "V_VP8", "A_OPUS"
	width, height int
	channels      int
	name          string
}

// webmWriter writes one single-track WebM file.
type webmWriter struct {
	f         *os.File
	w         *bufio.Writer
	pos       int64 // bytes written, buffered or not
	lay       layout
	video     bool
	cluster   bool  // a cluster is open
	clusterMs int64 // its timecode
	lastMs    int64 // time of the last block
	lastDelta int64 // between the last two blocks, to estimate the last one's duration
	blocks    int
	flushMs   int64 // media time of the last flush
	scratch   [32]byte
}

func createWebM(path string, t trackSpec, started time.Time) (*webmWriter, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create track file: %w", err)
	}
	w := &webmWriter{f: f, w: bufio.NewWriterSize(f, 64<<10), video: t.video, lastMs: -1}
	if err := w.writeHead(t, started); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, err
	}
	return w, nil
}

func (w *webmWriter) writeHead(t trackSpec, started time.Time) error {
	var b bytes.Buffer
	head := struct {
		Header webm.EBMLHeader `ebml:"EBML"`
	}{webm.EBMLHeader{
		EBMLVersion: 1, EBMLReadVersion: 1, EBMLMaxIDLength: 4, EBMLMaxSizeLength: 8,
		DocType: "webm", DocTypeVersion: 4, DocTypeReadVersion: 2,
	}}
	if err := ebml.Marshal(&head, &b); err != nil {
		return fmt.Errorf("marshal EBML header: %w", err)
	}
	w.lay.segSizePos = int64(b.Len()) + 4
	b.Write([]byte{0x18, 0x53, 0x80, 0x67})
	b.Write(unknownSize[:])
	w.lay.segData = int64(b.Len())
	w.lay.seekPos, w.lay.seekLen = int64(b.Len()), seekHeadRoom
	b.Write(voidElement(seekHeadRoom))

	w.lay.infoPos = int64(b.Len())
	info := struct {
		Info webm.Info `ebml:"Info"`
	}{webm.Info{
		TimecodeScale: uint64(time.Millisecond), MuxingApp: "videosupport", WritingApp: "videosupport",
		Duration: 1, // a placeholder, so that the element is there to patch
		DateUTC:  started.UTC(),
	}}
	var ib bytes.Buffer
	if err := ebml.Marshal(&info, &ib); err != nil {
		return fmt.Errorf("marshal Info: %w", err)
	}
	i := bytes.Index(ib.Bytes(), []byte{0x44, 0x89, 0x88})
	if i < 0 {
		return fmt.Errorf("marshal Info: no 8-byte Duration")
	}
	w.lay.durationPos = w.lay.infoPos + int64(i) + 3
	b.Write(ib.Bytes())

	w.lay.tracksPos = int64(b.Len())
	entry := webm.TrackEntry{Name: t.name, TrackNumber: 1, TrackUID: 1, CodecID: t.codecID}
	if t.video {
		entry.TrackType = 1
		entry.Video = &webm.Video{PixelWidth: uint64(t.width), PixelHeight: uint64(t.height)}
	} else {
		entry.TrackType = 2
		entry.CodecPrivate = opusHead(t.channels)
		entry.SeekPreRoll = uint64(80 * time.Millisecond)
		entry.Audio = &webm.Audio{SamplingFrequency: 48000, Channels: uint64(t.channels)}
	}
	tracks := struct {
		Tracks webm.Tracks `ebml:"Tracks"`
	}{webm.Tracks{TrackEntry: []webm.TrackEntry{entry}}}
	if err := ebml.Marshal(&tracks, &b); err != nil {
		return fmt.Errorf("marshal Tracks: %w", err)
	}
	return w.write(b.Bytes())
}

// opusHead is the Opus identification header (RFC 7845 5.1), WebM's
// CodecPrivate for A_OPUS. The stream joins mid-call: no pre-skip.
func opusHead(channels int) []byte {
	h := []byte("OpusHead\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	h[9] = byte(channels)
	binary.LittleEndian.PutUint32(h[12:], 48000)
	return h
}

func (w *webmWriter) write(b []byte) error {
	n, err := w.w.Write(b)
	w.pos += int64(n)
	if err != nil {
		return fmt.Errorf("write track file: %w", err)
	}
	return nil
}

// writeFrame appends one frame at timeMs, opening a new cluster when the
// open one is long enough (or on a keyframe, so cues point at keyframes).
func (w *webmWriter) writeFrame(timeMs int64, key bool, frame []byte, clusterDur int64) error {
	if timeMs < w.lastMs {
		timeMs = w.lastMs // a sender's clock that steps back must not break the file
	}
	if !w.cluster || timeMs-w.clusterMs >= clusterDur || (w.video && key && timeMs > w.clusterMs) || timeMs-w.clusterMs > math.MaxInt16 {
		if err := w.openCluster(timeMs, key || !w.video); err != nil {
			return err
		}
	}
	if w.lastMs >= 0 {
		w.lastDelta = timeMs - w.lastMs
	}
	w.lastMs = timeMs
	w.blocks++
	if timeMs-w.flushMs >= flushEveryMs {
		w.flushMs = timeMs
		if err := w.flush(); err != nil {
			return err
		}
	}
	// SimpleBlock: id, size, track number 1, int16 relative time, flags.
	s := w.scratch[:0]
	s = append(s, idSimpleBlock)
	s = appendSize(s, uint64(4+len(frame)))
	var flags byte
	if key {
		flags = 0x80
	}
	rel := timeMs - w.clusterMs
	s = append(s, 0x81, byte(rel>>8), byte(rel), flags)
	if err := w.write(s); err != nil {
		return err
	}
	return w.write(frame)
}

func (w *webmWriter) openCluster(timeMs int64, key bool) error {
	w.lay.clusters = append(w.lay.clusters, clusterRef{pos: w.pos, sizePos: w.pos + 4, timeMs: timeMs, key: key})
	w.cluster, w.clusterMs = true, timeMs
	s := append(w.scratch[:0], 0x1F, 0x43, 0xB6, 0x75)
	s = append(s, unknownSize[:]...)
	s = append(s, idTimecode, 0x88)
	s = binary.BigEndian.AppendUint64(s, uint64(timeMs))
	return w.write(s)
}

// flush hands what is buffered to the kernel: after a kill -9 the file
// holds everything up to here.
func (w *webmWriter) flush() error {
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("write track file: %w", err)
	}
	return nil
}

// durationMs is the time from the first frame to the end of the last.
func (w *webmWriter) durationMs() int64 {
	if w.lastMs < 0 {
		return 0
	}
	return w.lastMs + max(w.lastDelta, 1)
}

// close finishes the file: sizes, duration, cues, seek head.
func (w *webmWriter) close() error {
	err := w.flush()
	if err == nil {
		w.lay.end = w.pos
		err = finalize(w.f, &w.lay, w.durationMs())
	}
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close track file: %w", cerr)
	}
	return err
}

// finalize turns a file whose layout is known and whose clusters end at
// lay.end into a complete one: Cues are written at lay.end, the sizes of
// the clusters and of the segment, the duration and the seek head are
// patched in place. The writer and Repair share it.
func finalize(f *os.File, lay *layout, durationMs int64) error {
	var cues []webm.CuePoint
	for _, c := range lay.clusters {
		if c.key {
			cues = append(cues, webm.CuePoint{CueTime: uint64(c.timeMs), CueTrackPositions: []webm.CueTrackPosition{
				{CueTrack: 1, CueClusterPosition: uint64(c.pos - lay.segData)},
			}})
		}
	}
	end := lay.end
	var cuesPos int64 = -1
	if len(cues) > 0 {
		var b bytes.Buffer
		v := struct {
			Cues webm.Cues `ebml:"Cues"`
		}{webm.Cues{CuePoint: cues}}
		if err := ebml.Marshal(&v, &b); err != nil {
			return fmt.Errorf("marshal Cues: %w", err)
		}
		if _, err := f.WriteAt(b.Bytes(), end); err != nil {
			return fmt.Errorf("write Cues: %w", err)
		}
		cuesPos, end = end, end+int64(b.Len())
	}
	if err := f.Truncate(end); err != nil {
		return fmt.Errorf("truncate track file: %w", err)
	}
	var size [8]byte
	for i, c := range lay.clusters {
		if c.sizePos < 0 {
			continue
		}
		next := lay.end
		if i+1 < len(lay.clusters) {
			next = lay.clusters[i+1].pos
		}
		if _, err := f.WriteAt(size8(size[:], next-(c.sizePos+8)), c.sizePos); err != nil {
			return fmt.Errorf("patch cluster size: %w", err)
		}
	}
	var d [8]byte
	binary.BigEndian.PutUint64(d[:], math.Float64bits(float64(durationMs)))
	if _, err := f.WriteAt(d[:], lay.durationPos); err != nil {
		return fmt.Errorf("patch duration: %w", err)
	}
	if err := writeSeekHead(f, lay, cuesPos); err != nil {
		return err
	}
	if _, err := f.WriteAt(size8(size[:], end-lay.segData), lay.segSizePos); err != nil {
		return fmt.Errorf("patch segment size: %w", err)
	}
	return nil
}

func writeSeekHead(f *os.File, lay *layout, cuesPos int64) error {
	seek := func(id uint32, pos int64) webm.Seek {
		return webm.Seek{SeekID: binary.BigEndian.AppendUint32(nil, id), SeekPosition: uint64(pos - lay.segData)}
	}
	sh := webm.SeekHead{Seek: []webm.Seek{seek(idInfo, lay.infoPos), seek(idTracks, lay.tracksPos)}}
	if cuesPos >= 0 {
		sh.Seek = append(sh.Seek, seek(idCues, cuesPos))
	}
	var b bytes.Buffer
	v := struct {
		SeekHead webm.SeekHead `ebml:"SeekHead"`
	}{sh}
	if err := ebml.Marshal(&v, &b); err != nil {
		return fmt.Errorf("marshal SeekHead: %w", err)
	}
	rest := lay.seekLen - int64(b.Len())
	if rest < 2 {
		return fmt.Errorf("SeekHead of %d bytes does not fit in %d", b.Len(), lay.seekLen)
	}
	b.Write(voidElement(int(rest)))
	if _, err := f.WriteAt(b.Bytes(), lay.seekPos); err != nil {
		return fmt.Errorf("write SeekHead: %w", err)
	}
	return nil
}

// voidElement is a Void element of n bytes in all (n >= 2).
func voidElement(n int) []byte {
	b := make([]byte, n)
	b[0] = idVoid
	if n-2 < 0x7F {
		b[1] = 0x80 | byte(n-2)
		return b
	}
	size8(b[1:9], int64(n-9))
	return b
}

// size8 encodes v as an 8-byte EBML size.
func size8(b []byte, v int64) []byte {
	binary.BigEndian.PutUint64(b[:8], uint64(v))
	b[0] = 0x01
	return b[:8]
}

// appendSize appends v as the shortest EBML size.
func appendSize(b []byte, v uint64) []byte {
	switch {
	case v < 1<<7-1:
		return append(b, 0x80|byte(v))
	case v < 1<<14-1:
		return append(b, 0x40|byte(v>>8), byte(v))
	case v < 1<<21-1:
		return append(b, 0x20|byte(v>>16), byte(v>>8), byte(v))
	case v < 1<<28-1:
		return append(b, 0x10|byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	var s [8]byte
	return append(b, size8(s[:], int64(v))...)
}

// readVint reads an EBML variable-size integer at b: its value with the
// length marker removed, its length, and whether all value bits are set
// ("unknown" for a size). ok is false when b is too short or invalid.
func readVint(b []byte) (v uint64, n int, allOnes bool, ok bool) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0, false, false
	}
	n = 1
	for mask := byte(0x80); b[0]&mask == 0; mask >>= 1 {
		n++
	}
	if len(b) < n {
		return 0, 0, false, false
	}
	v = uint64(b[0] & (0xFF >> n))
	for _, c := range b[1:n] {
		v = v<<8 | uint64(c)
	}
	return v, n, v == 1<<(7*n)-1, true
}

// readID reads an element id (its length marker kept, as ids are
// written).
func readID(b []byte) (id uint32, n int, ok bool) {
	_, n, _, ok = readVint(b)
	if !ok || n > 4 {
		return 0, 0, false
	}
	for _, c := range b[:n] {
		id = id<<8 | uint32(c)
	}
	return id, n, true
}
