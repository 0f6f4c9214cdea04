package blob

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// maxBatch is how many chunks one ReadAt fetches from the inner store in
// one call: on S3 each call is a request, so a 1 MiB range costs one round
// trip rather than sixteen.
const maxBatch = 16

// sealedReader decrypts a sealed object on demand: ReadAt opens only the
// chunks the range covers. It keeps the last chunk a read ended inside,
// because http.ServeContent reads sequentially in pieces smaller than a
// chunk.
type sealedReader struct {
	src    io.ReaderAt
	closer io.Closer
	name   string
	s      *sealer
	l      layout
	batch  int // chunks fetched at once, maxBatch; smaller in tests
	bufs   sync.Pool

	mu       sync.Mutex
	cacheIdx int64
	cache    []byte
}

// openSealed reads the layout from the stored size and authenticates the
// final chunk, so a truncated object fails at once, not at the end of a
// playback.
func openSealed(src io.ReaderAt, stored int64, s *sealer, name string) (*sealedReader, error) {
	l, err := newLayout(stored, s.chunk)
	if err != nil {
		return nil, fmt.Errorf("blob: %s: %w", name, err)
	}
	r := &sealedReader{src: src, name: name, s: s, l: l, batch: maxBatch, cacheIdx: -1}
	last := l.chunks - 1
	if _, err := r.readChunks(nil, last, last, 0); err != nil {
		return nil, err
	}
	return r, nil
}

// Size is the plaintext size.
func (r *sealedReader) Size() int64 { return r.l.size }

// Close closes the underlying object.
func (r *sealedReader) Close() error {
	if r.closer == nil {
		return nil
	}
	return r.closer.Close()
}

// ReadAt implements io.ReaderAt over the plaintext.
func (r *sealedReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("blob: %s: negative offset %d", r.name, off)
	}
	chunk := int64(r.l.chunk)
	n := 0
	for n < len(p) && off < r.l.size {
		first := off / chunk
		within := int(off - first*chunk)
		if m, ok := r.fromCache(p[n:], first, within); ok {
			n += m
			off += int64(m)
			continue
		}
		end := min(off+int64(len(p)-n), r.l.size) // exclusive
		last := min((end-1)/chunk, first+int64(r.batch)-1)
		m, err := r.readChunks(p[n:], first, last, within)
		n += m
		off += int64(m)
		if err != nil {
			return n, err
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (r *sealedReader) fromCache(dst []byte, idx int64, within int) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cacheIdx != idx {
		return 0, false
	}
	return copy(dst, r.cache[within:]), true
}

// readChunks fetches chunks first..last in one read, opens each in place
// and copies their plaintext, from offset within of the first, into dst.
// A chunk the copy ends inside is kept for the next sequential read.
func (r *sealedReader) readChunks(dst []byte, first, last int64, within int) (int, error) {
	start, _, _ := r.l.span(first)
	lastOff, lastLen, _ := r.l.span(last)
	total := int(lastOff - start + int64(lastLen))
	bp := r.getBuf(total)
	defer r.bufs.Put(bp)
	buf := (*bp)[:total]
	got, err := r.src.ReadAt(buf, start)
	if got < total {
		if err == nil || errors.Is(err, io.EOF) {
			err = ErrCorrupt // shorter than when opened
		}
		return 0, fmt.Errorf("blob: %s: read chunks %d-%d: %w", r.name, first, last, err)
	}
	n := 0
	full := r.l.chunk + tagSize
	for idx := first; idx <= last; idx++ {
		sealed := buf[int(idx-first)*full:]
		_, sealedLen, _ := r.l.span(idx)
		sealed = sealed[:sealedLen]
		plain, err := r.s.open(sealed[:0], sealed, idx, idx == r.l.chunks-1)
		if err != nil {
			return n, fmt.Errorf("blob: %s: chunk %d of %d does not authenticate: %w", r.name, idx, r.l.chunks, ErrCorrupt)
		}
		m := copy(dst[n:], plain[within:])
		n += m
		if within+m < len(plain) {
			r.keep(idx, plain)
		}
		within = 0
	}
	return n, nil
}

func (r *sealedReader) getBuf(n int) *[]byte {
	if bp, ok := r.bufs.Get().(*[]byte); ok && cap(*bp) >= n {
		return bp
	}
	b := make([]byte, max(n, r.l.chunk+tagSize))
	return &b
}

func (r *sealedReader) keep(idx int64, plain []byte) {
	r.mu.Lock()
	r.cache = append(r.cache[:0], plain...)
	r.cacheIdx = idx
	r.mu.Unlock()
}
