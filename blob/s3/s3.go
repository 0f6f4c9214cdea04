package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"videosupport/blob"
)

// Part sizes of multipart uploads. S3 refuses parts under 5 MiB (but the
// last), and an upload has at most 10,000 parts: 8 MiB parts allow
// objects of 78 GiB, far past any call.
const (
	MinPartSize     = 5 << 20
	DefaultPartSize = 8 << 20
)

// ErrReplaced: the object an open Reader was reading has since been
// overwritten or deleted, and S3 no longer serves the bytes it opened.
var ErrReplaced = errors.New("s3: the object was overwritten or deleted after it was opened")

// Options say where the bucket is and how to reach it.
type Options struct {
	// Endpoint is host or host:port, without a scheme.
	Endpoint string
	// Bucket must exist; Open does not create it.
	Bucket string
	// Region of the bucket; empty asks the server.
	Region string
	// Secure speaks HTTPS; plain HTTP only for a server on a private
	// network or loopback (objects are sealed anyway, but not their keys
	// and sizes, nor the credentials' signatures).
	Secure bool
	// AccessKey and SecretKey sign requests (SigV4); SessionToken goes
	// with temporary credentials.
	AccessKey, SecretKey, SessionToken string
	// PartSize is the size of each part of a multipart upload, and so
	// the memory a Writer holds; 0 means DefaultPartSize.
	PartSize int64
	// Transport carries the requests; nil means minio-go's default.
	Transport http.RoundTripper
}

// Store is a blob.Store on one S3 bucket. It is safe for concurrent use.
type Store struct {
	core      *minio.Core
	bucket    string
	partSize  int64
	transport http.RoundTripper
}

var _ blob.Store = (*Store)(nil)

// Open connects to the bucket and checks that it exists and that the
// credentials may reach it.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Endpoint == "" || o.Bucket == "" {
		return nil, errors.New("s3: an endpoint and a bucket are needed")
	}
	if o.AccessKey == "" || o.SecretKey == "" {
		return nil, errors.New("s3: no credentials (an access key and a secret key)")
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < MinPartSize {
		return nil, fmt.Errorf("s3: part size %d is below S3's minimum of %d", o.PartSize, MinPartSize)
	}
	tr := o.Transport
	if tr == nil {
		t, err := minio.DefaultTransport(o.Secure)
		if err != nil {
			return nil, fmt.Errorf("s3: %w", err)
		}
		tr = t
	}
	core, err := minio.NewCore(o.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(o.AccessKey, o.SecretKey, o.SessionToken),
		Secure:    o.Secure,
		Region:    o.Region,
		Transport: tr,
	})
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	s := &Store{core: core, bucket: o.Bucket, partSize: o.PartSize, transport: tr}
	ok, err := core.BucketExists(ctx, o.Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3: bucket %s on %s: %w", o.Bucket, o.Endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("s3: bucket %s does not exist on %s (create it first)", o.Bucket, o.Endpoint)
	}
	return s, nil
}

// Close releases idle connections.
func (s *Store) Close() error {
	if t, ok := s.transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
	return nil
}

// Create starts an object; nothing reaches the bucket until a part fills
// or Commit.
func (s *Store) Create(ctx context.Context, key string) (blob.Writer, error) {
	if err := blob.ValidKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &writer{s: s, ctx: ctx, key: key}, nil
}

// Open fetches the object: whole when it is small, otherwise the start of
// a response the first sequential reads consume. ctx also bounds the
// reader's later requests.
func (s *Store) Open(ctx context.Context, key string) (blob.Reader, error) {
	if err := blob.ValidKey(key); err != nil {
		return nil, err
	}
	body, info, _, err := s.core.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.fail("open", key, err)
	}
	if info.Size < 0 {
		_ = body.Close()
		return nil, fmt.Errorf("s3: open %s: the server sent no length", key)
	}
	r := &reader{s: s, ctx: ctx, key: key, size: info.Size, etag: info.ETag}
	if r.size <= wholeMax {
		r.whole, err = readWhole(body, r.size)
		_ = body.Close()
		if err != nil {
			return nil, fmt.Errorf("s3: open %s: %w", key, err)
		}
		return r, nil
	}
	if r.etag == "" {
		_ = body.Close()
		return nil, fmt.Errorf("s3: open %s: the server sent no ETag, so reads could not be kept to one version", key)
	}
	r.streams = append(r.streams, &stream{body: body})
	return r, nil
}

// Stat asks for the object's size and time.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	if err := blob.ValidKey(key); err != nil {
		return blob.Info{}, err
	}
	info, err := s.core.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return blob.Info{}, s.fail("stat", key, err)
	}
	return blob.Info{Key: key, Size: info.Size, ModTime: info.LastModified}, nil
}

// List lists the objects under prefix, sorted by key.
func (s *Store) List(ctx context.Context, prefix string) ([]blob.Info, error) {
	if err := blob.ValidPrefix(prefix); err != nil {
		return nil, err
	}
	// The listing goroutine of minio-go stops when ctx does.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out []blob.Info
	for o := range s.core.Client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, fmt.Errorf("s3: list %q: %w", prefix, o.Err)
		}
		if strings.HasSuffix(o.Key, "/") {
			continue // a "directory" some tool made; never one of ours
		}
		out = append(out, blob.Info{Key: o.Key, Size: o.Size, ModTime: o.LastModified})
	}
	// S3 lists in byte order already; a gateway over a filesystem may
	// list by directory instead ("a/b" before "a.b").
	slices.SortFunc(out, func(a, b blob.Info) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete removes the object; a missing one is no error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := blob.ValidKey(key); err != nil {
		return err
	}
	err := s.core.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("s3: delete %s: %w", key, err)
	}
	return nil
}

// AbortStaleUploads aborts the multipart uploads of the bucket begun
// more than olderThan ago: writers that crashed before Commit or Close.
// Their parts are invisible but stored, and billed, until then. It
// reports how many it aborted.
func (s *Store) AbortStaleUploads(ctx context.Context, olderThan time.Duration) (int, error) {
	cutoff := time.Now().Add(-olderThan)
	n := 0
	var keyMarker, idMarker string
	for {
		res, err := s.core.ListMultipartUploads(ctx, s.bucket, "", keyMarker, idMarker, "", 1000)
		if err != nil {
			return n, fmt.Errorf("s3: list unfinished uploads: %w", err)
		}
		for _, u := range res.Uploads {
			if u.Initiated.After(cutoff) {
				continue
			}
			if err := s.core.AbortMultipartUpload(ctx, s.bucket, u.Key, u.UploadID); err != nil && !isNoSuchUpload(err) {
				return n, fmt.Errorf("s3: abort unfinished upload of %s: %w", u.Key, err)
			}
			n++
		}
		if !res.IsTruncated || (res.NextKeyMarker == keyMarker && res.NextUploadIDMarker == idMarker) {
			return n, nil
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
}

// fail maps S3's errors onto blob's.
func (s *Store) fail(op, key string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("s3: %s %s: %w", op, key, blob.ErrNotFound)
	}
	return fmt.Errorf("s3: %s %s: %w", op, key, err)
}

func errorCode(err error) (string, int) {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		return resp.Code, resp.StatusCode
	}
	return "", 0
}

func isNotFound(err error) bool {
	code, status := errorCode(err)
	return code == "NoSuchKey" || (status == http.StatusNotFound && code != "NoSuchBucket")
}

func isNoSuchUpload(err error) bool {
	code, _ := errorCode(err)
	return code == "NoSuchUpload"
}

// writer buffers one part at a time; see the package comment.
type writer struct {
	s        *Store
	ctx      context.Context
	key      string
	buf      []byte
	uploadID string // set once the first part is sent
	parts    []minio.CompletePart
	err      error // sticky: a failed part fails the object
	done     bool
	complete bool // Commit succeeded: nothing to abort
}

func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, blob.ErrCommitted
	}
	if w.err != nil {
		return 0, w.err
	}
	n := 0
	for len(p) > 0 {
		room := int(w.s.partSize) - len(w.buf)
		k := min(room, len(p))
		w.grow(k)
		w.buf = append(w.buf, p[:k]...)
		n += k
		p = p[k:]
		if len(w.buf) == int(w.s.partSize) {
			if err := w.sendPart(); err != nil {
				return n - k, err
			}
		}
	}
	return n, nil
}

// grow makes room for k more bytes, doubling up to one part, so a small
// object does not cost a whole part's memory.
func (w *writer) grow(k int) {
	need := len(w.buf) + k
	if need <= cap(w.buf) {
		return
	}
	c := min(int(w.s.partSize), max(need, 2*cap(w.buf), 64<<10))
	nb := make([]byte, len(w.buf), c)
	copy(nb, w.buf)
	w.buf = nb
}

// sendPart uploads the buffer as the next part, starting the multipart
// upload first if this is the first part.
func (w *writer) sendPart() error {
	if w.uploadID == "" {
		id, err := w.s.core.NewMultipartUpload(w.ctx, w.s.bucket, w.key, minio.PutObjectOptions{})
		if err != nil {
			w.err = fmt.Errorf("s3: start upload of %s: %w", w.key, err)
			return w.err
		}
		w.uploadID = id
	}
	num := len(w.parts) + 1
	part, err := w.s.core.PutObjectPart(w.ctx, w.s.bucket, w.key, w.uploadID, num,
		bytes.NewReader(w.buf), int64(len(w.buf)), minio.PutObjectPartOptions{})
	if err != nil {
		w.err = fmt.Errorf("s3: upload part %d of %s: %w", num, w.key, err)
		return w.err
	}
	w.parts = append(w.parts, minio.CompletePart{PartNumber: num, ETag: part.ETag})
	w.buf = w.buf[:0]
	return nil
}

// Commit sends what is left and makes the object visible: one PutObject
// for an object that fit in one part, else the last part and
// CompleteMultipartUpload.
func (w *writer) Commit() error {
	if w.done {
		return blob.ErrCommitted
	}
	defer w.Close()
	if w.err != nil {
		return w.err
	}
	if w.uploadID == "" {
		_, err := w.s.core.PutObject(w.ctx, w.s.bucket, w.key, bytes.NewReader(w.buf), int64(len(w.buf)), "", "",
			minio.PutObjectOptions{ContentType: "application/octet-stream"})
		if err != nil {
			w.err = fmt.Errorf("s3: put %s: %w", w.key, err)
			return w.err
		}
		w.complete = true
		return nil
	}
	if len(w.buf) > 0 {
		if err := w.sendPart(); err != nil {
			return err
		}
	}
	if _, err := w.s.core.CompleteMultipartUpload(w.ctx, w.s.bucket, w.key, w.uploadID, w.parts,
		minio.PutObjectOptions{ContentType: "application/octet-stream"}); err != nil {
		w.err = fmt.Errorf("s3: complete upload of %s: %w", w.key, err)
		return w.err
	}
	w.complete = true
	return nil
}

// Close drops the buffer and, unless Commit succeeded, aborts the
// upload, so its parts do not linger in the bucket.
func (w *writer) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	w.buf = nil
	if w.uploadID == "" || w.complete {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), 30*time.Second)
	defer cancel()
	if err := w.s.core.AbortMultipartUpload(ctx, w.s.bucket, w.key, w.uploadID); err != nil && !isNoSuchUpload(err) {
		return fmt.Errorf("s3: abort upload of %s: %w", w.key, err)
	}
	return nil
}
