package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/minio/minio-go/v7"
)

const (
	// wholeMax: an object this small is read whole at Open, in the one
	// request, and then reads from memory whatever happens to its key.
	wholeMax = 1 << 20
	// keptStreams is how many open responses a reader keeps for reads to
	// continue: the sealed reader alternates between two places at
	// first (the header and chunk 0, then the last chunk).
	keptStreams = 2
	// maxSkip: a read this far past a response's position reads on
	// through it rather than asking again.
	maxSkip = 256 << 10
)

// reader reads one version of an object. Each response it opens runs
// from some offset to the end of the object; a read that starts where a
// kept response stands continues it, any other read opens a new one with
// If-Match, so every byte comes from the version seen at Open.
type reader struct {
	s     *Store
	ctx   context.Context
	key   string
	size  int64
	etag  string
	whole []byte // the object, when it is at most wholeMax

	mu      sync.Mutex
	streams []*stream // idle responses, least recently used first
	closed  bool
}

type stream struct {
	body io.ReadCloser
	pos  int64
}

func (r *reader) Size() int64 { return r.size }

func (r *reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("s3: %s: negative offset %d", r.key, off)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := int(min(int64(len(p)), r.size-off))
	var err error
	if r.whole != nil {
		if r.isClosed() {
			return 0, fmt.Errorf("s3: read %s: reader closed", r.key)
		}
		copy(p, r.whole[off:])
	} else {
		err = r.readRange(p[:want], off)
	}
	if err != nil {
		return 0, err
	}
	if want < len(p) {
		return want, io.EOF
	}
	return want, nil
}

// readRange fills p from off, through a kept response if one stands at or
// a little before off, else through a new one. A kept response that
// fails (the server closed an idle connection, say) is replaced once.
func (r *reader) readRange(p []byte, off int64) error {
	st, err := r.take(off)
	if err != nil {
		return err
	}
	reused := st != nil
	for {
		if st == nil {
			if st, err = r.request(off); err != nil {
				return err
			}
		}
		err = st.readAt(p, off)
		if err == nil {
			r.keep(st)
			return nil
		}
		_ = st.body.Close()
		if !reused {
			return fmt.Errorf("s3: read %s at %d: %w", r.key, off, err)
		}
		st, reused = nil, false
	}
}

// take removes from the kept responses one that can serve a read at off.
func (r *reader) take(off int64) (*stream, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, fmt.Errorf("s3: read %s: reader closed", r.key)
	}
	for i, st := range r.streams {
		if st.pos <= off && off-st.pos <= maxSkip {
			r.streams = append(r.streams[:i], r.streams[i+1:]...)
			return st, nil
		}
	}
	return nil, nil
}

// keep puts a response back for the next read, closing the least
// recently used one past keptStreams, or this one when it is spent.
func (r *reader) keep(st *stream) {
	if st.pos >= r.size {
		_ = st.body.Close()
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		_ = st.body.Close()
		return
	}
	r.streams = append(r.streams, st)
	if len(r.streams) > keptStreams {
		_ = r.streams[0].body.Close()
		r.streams = r.streams[1:]
	}
}

// request opens the object from off to its end, on condition that it is
// still the version opened.
func (r *reader) request(off int64) (*stream, error) {
	var opts minio.GetObjectOptions
	if err := opts.SetMatchETag(r.etag); err != nil {
		return nil, fmt.Errorf("s3: read %s: %w", r.key, err)
	}
	if err := opts.SetRange(off, r.size-1); err != nil {
		return nil, fmt.Errorf("s3: read %s: %w", r.key, err)
	}
	body, _, _, err := r.s.core.GetObject(r.ctx, r.s.bucket, r.key, opts)
	if err != nil {
		if code, status := errorCode(err); status == http.StatusPreconditionFailed || code == "PreconditionFailed" || isNotFound(err) {
			return nil, fmt.Errorf("s3: read %s: %w", r.key, ErrReplaced)
		}
		return nil, fmt.Errorf("s3: read %s at %d: %w", r.key, off, err)
	}
	return &stream{body: body, pos: off}, nil
}

// readAt reads p at off from the response, skipping up to off first.
func (st *stream) readAt(p []byte, off int64) error {
	if skip := off - st.pos; skip > 0 {
		n, err := io.CopyN(io.Discard, st.body, skip)
		st.pos += n
		if err != nil {
			return err
		}
	}
	n, err := io.ReadFull(st.body, p)
	st.pos += int64(n)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF // the object is longer than that
	}
	return err
}

// Close closes the kept responses; reads after it fail.
func (r *reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	for _, st := range r.streams {
		_ = st.body.Close()
	}
	r.streams = nil
	return nil
}

func (r *reader) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// readWhole reads a small object's body: exactly size bytes.
func readWhole(body io.Reader, size int64) ([]byte, error) {
	b := make([]byte, size)
	if _, err := io.ReadFull(body, b); err != nil {
		return nil, err
	}
	return b, nil
}
