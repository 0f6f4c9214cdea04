package recording

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrNotRepairable means a file is not a WebM file this package can
// finish in place (not ours, or cut before its first cluster).
var ErrNotRepairable = errors.New("recording: file cannot be repaired")

// Repair finishes a track file whose writer died: the partial block at
// the end is cut off, then cluster and segment sizes, the duration, cues
// and seek head are written as a clean close would have. The sidecar, if
// any, is marked interrupted and returned. Repairing a finished file
// changes nothing but its state.
func Repair(path string) (*Meta, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("repair: %w", err)
	}
	defer f.Close()
	lay, dur, blocks, err := scan(f)
	if err != nil {
		return nil, fmt.Errorf("repair %s: %w", path, err)
	}
	if err := finalize(f, lay, dur); err != nil {
		return nil, fmt.Errorf("repair %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("repair %s: %w", path, err)
	}
	m, err := ReadMeta(path)
	if err != nil {
		m = &Meta{File: path}
	}
	if m.State != StateComplete {
		m.State = StateInterrupted
	}
	m.DurationMs, m.Frames = dur, blocks
	if st, err := f.Stat(); err == nil && m.Ended.IsZero() {
		m.Ended = st.ModTime()
	}
	if err := writeMeta(path+MetaSuffix, m); err != nil {
		return nil, fmt.Errorf("repair %s: %w", path, err)
	}
	return m, nil
}

// fileReader reads elements of a file that may end anywhere.
type fileReader struct {
	f    io.ReaderAt
	size int64
	buf  [16]byte
}

// header reads the id and size of the element at off; ok is false when
// the header does not fit before the end of the file.
func (r *fileReader) header(off int64) (id uint32, size int64, unknown bool, dataOff int64, ok bool) {
	n, _ := r.f.ReadAt(r.buf[:], off)
	b := r.buf[:n]
	id, in, ok := readID(b)
	if !ok {
		return 0, 0, false, 0, false
	}
	v, sn, all, ok := readVint(b[in:])
	if !ok {
		return 0, 0, false, 0, false
	}
	return id, int64(v), all, off + int64(in+sn), true
}

// scan reads the layout of one of our track files as far as it is whole.
// It returns the layout ending after the last whole block, the duration,
// and the number of blocks.
func scan(f *os.File) (*layout, int64, int, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, 0, 0, err
	}
	r := &fileReader{f: f, size: st.Size()}
	id, size, _, data, ok := r.header(0)
	if !ok || id != 0x1A45DFA3 {
		return nil, 0, 0, fmt.Errorf("%w: no EBML header", ErrNotRepairable)
	}
	off := data + size
	id, _, _, data, ok = r.header(off)
	if !ok || id != idSegment || data-off != 12 {
		return nil, 0, 0, fmt.Errorf("%w: no segment with an 8-byte size", ErrNotRepairable)
	}
	lay := &layout{segSizePos: off + 4, segData: data, seekPos: -1, infoPos: -1, durationPos: -1, tracksPos: -1}
	var lastMs, prevMs int64 = -1, -1
	blocks := 0
	for off = data; off < r.size; {
		id, size, unknown, data, ok := r.header(off)
		if !ok {
			break
		}
		if id == idCluster {
			c, end, ok := r.cluster(off, data, size, unknown, &lastMs, &prevMs, &blocks)
			if !ok {
				break
			}
			lay.clusters = append(lay.clusters, c)
			lay.end = end
			off = end
			continue
		}
		if unknown || data+size > r.size {
			break
		}
		switch id {
		case idVoid, idSeekHead:
			if lay.seekPos < 0 {
				lay.seekPos = off
			}
			lay.seekLen = data + size - lay.seekPos
		case idInfo:
			lay.infoPos = off
			lay.durationPos = r.durationPos(data, data+size)
		case idTracks:
			lay.tracksPos = off
			lay.end = data + size
		case idCues:
			// Rewritten from the clusters.
		}
		if id == idCues || id == idTags {
			break
		}
		off = data + size
	}
	if lay.seekPos < 0 || lay.infoPos < 0 || lay.durationPos < 0 || lay.tracksPos < 0 {
		return nil, 0, 0, fmt.Errorf("%w: header incomplete or foreign", ErrNotRepairable)
	}
	var dur int64
	if lastMs >= 0 {
		dur = lastMs + max(lastMs-prevMs, 1)
		if prevMs < 0 {
			dur = lastMs + 1
		}
	}
	return lay, dur, blocks, nil
}

// durationPos finds the 8-byte Duration inside Info.
func (r *fileReader) durationPos(off, end int64) int64 {
	for off < end {
		id, size, _, data, ok := r.header(off)
		if !ok {
			return -1
		}
		if id == idDuration && size == 8 {
			return data
		}
		off = data + size
	}
	return -1
}

// cluster reads one cluster up to its last whole block. ok is false when
// it holds no whole block.
func (r *fileReader) cluster(off, data, size int64, unknown bool, lastMs, prevMs *int64, blocks *int) (clusterRef, int64, bool) {
	c := clusterRef{pos: off, sizePos: -1}
	if data-off == 12 {
		c.sizePos = off + 4 // an 8-byte size: ours, patchable
	}
	limit := r.size
	if !unknown && data+size < limit {
		limit = data + size
	}
	var tc int64 = -1
	end, n := int64(-1), 0
	for p := data; p < limit; {
		id, esize, eunknown, edata, ok := r.header(p)
		if !ok || eunknown || edata+esize > limit {
			break
		}
		switch id {
		case idTimecode:
			var b [8]byte
			if esize > 8 {
				return c, 0, false
			}
			if _, err := r.f.ReadAt(b[8-esize:], edata); err != nil {
				return c, 0, false
			}
			tc = int64(uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
				uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7]))
			c.timeMs = tc
		case idSimpleBlock, idBlockGroup:
			if tc < 0 {
				return c, 0, false
			}
			rel, key, ok := r.blockTime(id, edata, esize)
			if !ok {
				break
			}
			if n == 0 {
				c.key = key
			}
			*prevMs, *lastMs = *lastMs, tc+rel
			*blocks++
			n++
			end = edata + esize
		case idCluster, idCues, idTags, idChapters, idAttachments:
			limit = p // an unknown-size cluster ends at the next top-level element
			continue
		}
		p = edata + esize
	}
	if n == 0 {
		return c, 0, false
	}
	if c.sizePos < 0 && end != data+size {
		// A cluster of known size that is cut cannot be patched.
		return c, 0, false
	}
	return c, end, true
}

// blockTime reads a block's relative time and keyframe flag.
func (r *fileReader) blockTime(id uint32, data, size int64) (rel int64, key bool, ok bool) {
	if id == idBlockGroup {
		for p := data; p < data+size; {
			bid, bsize, _, bdata, ok := r.header(p)
			if !ok {
				return 0, false, false
			}
			if bid == idBlock {
				rel, _, ok := r.blockTime(idSimpleBlock, bdata, bsize)
				return rel, false, ok
			}
			p = bdata + bsize
		}
		return 0, false, false
	}
	var b [12]byte
	n, _ := r.f.ReadAt(b[:], data)
	_, tn, _, ok := readVint(b[:n])
	if !ok || n < tn+3 {
		return 0, false, false
	}
	rel = int64(int16(uint16(b[tn])<<8 | uint16(b[tn+1])))
	return rel, b[tn+2]&0x80 != 0, true
}

// RepairAll repairs every unfinished track file under dir and returns
// their sidecars. A file that cannot be repaired is reported in the error
// and the others are still repaired.
func RepairAll(dir string) ([]*Meta, error) {
	paths, err := Unfinished(dir)
	if err != nil {
		return nil, err
	}
	var out []*Meta
	var errs []error
	for _, p := range paths {
		m, err := Repair(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, m)
	}
	return out, errors.Join(errs...)
}
