package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"videosupport/blob"
	"videosupport/blob/blobtest"
	"videosupport/blob/disk"
	"videosupport/blob/s3"
	"videosupport/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopS3()
	os.Exit(code)
}

func options(b testenv.S3) s3.Options {
	return s3.Options{Endpoint: b.Endpoint, Bucket: b.Bucket, Region: b.Region, AccessKey: b.AccessKey, SecretKey: b.SecretKey,
		// The smallest parts S3 takes, so that the contract's 5 MiB
		// object goes up as a multipart upload of two parts.
		PartSize: s3.MinPartSize}
}

func openStore(t *testing.T, o s3.Options) *s3.Store {
	t.Helper()
	s, err := s3.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// bucketStore is a store on a new bucket of the test S3 server, and a
// client of the server to look behind the store's back.
func bucketStore(t *testing.T) (testenv.S3, *s3.Store, *minio.Client) {
	t.Helper()
	b := testenv.StartS3(t)
	s := openStore(t, options(b))
	c, err := b.Client()
	if err != nil {
		t.Fatal(err)
	}
	return b, s, c
}

func openKeys(t *testing.T, dir string) *disk.KeyStore {
	t.Helper()
	k, err := disk.OpenKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return k
}

// TestS3Contract runs the blob.Store contract against a real S3 server.
func TestS3Contract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) func() blob.Store {
		o := options(testenv.StartS3(t))
		return func() blob.Store { return openStore(t, o) }
	})
}

// TestS3ContractEncrypted: the same contract with every object sealed on
// its way to S3, as the server stores recordings.
func TestS3ContractEncrypted(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) func() blob.Store {
		o := options(testenv.StartS3(t))
		keys := t.TempDir()
		return func() blob.Store {
			e, err := blob.NewEncrypted(openStore(t, o), openKeys(t, keys), blobtest.Master)
			if err != nil {
				t.Fatal(err)
			}
			return e
		}
	})
}

// TestS3SealedContract: encryption's own contract (what reaches the bucket
// is sealed, destroyed keys, tampering) with S3 underneath.
func TestS3SealedContract(t *testing.T) {
	blobtest.RunSealed(t, func(t *testing.T) (blob.Store, blob.KeyStore) {
		return openStore(t, options(testenv.StartS3(t))), openKeys(t, t.TempDir())
	})
}

// TestS3MultipartStreams: a large object leaves the process part by part
// while it is written (the writer holds one part, not the recording), is
// invisible until Commit, and is one object after it.
func TestS3MultipartStreams(t *testing.T) {
	b, s, c := bucketStore(t)
	ctx := context.Background()
	k := "conversations/c1/recordings/r1/call.webm"
	data := blobtest.Data(1, 2*s3.MinPartSize+123_456)
	w, err := s.Create(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(data[:2*s3.MinPartSize+1]); err != nil {
		t.Fatal(err)
	}
	uploads := incompleteUploads(t, c, b.Bucket)
	if len(uploads) != 1 || uploads[0].Key != k {
		t.Fatalf("unfinished uploads while writing: %+v, want one for %s", uploads, k)
	}
	parts, err := minio.Core{Client: c}.ListObjectParts(ctx, b.Bucket, k, uploads[0].UploadID, 0, 100)
	if err != nil || len(parts.ObjectParts) != 2 {
		t.Fatalf("parts sent before Commit: %+v, %v; want 2", parts.ObjectParts, err)
	}
	if _, err := s.Stat(ctx, k); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat before Commit: %v, want ErrNotFound", err)
	}
	if _, err := w.Write(data[2*s3.MinPartSize+1:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	info, err := c.StatObject(ctx, b.Bucket, k, minio.StatObjectOptions{})
	if err != nil || info.Size != int64(len(data)) || !strings.HasSuffix(info.ETag, "-3") {
		t.Errorf("committed object: size %d, ETag %q, %v; want %d bytes in 3 parts", info.Size, info.ETag, err, len(data))
	}
	if got := blobtest.Get(t, s, k); !bytes.Equal(got, data) {
		t.Error("the object read back differs")
	}
	if u := incompleteUploads(t, c, b.Bucket); len(u) != 0 {
		t.Errorf("unfinished uploads after Commit: %+v", u)
	}
}

// TestS3CloseAbortsUpload: a writer closed without Commit leaves neither an
// object nor stored parts behind.
func TestS3CloseAbortsUpload(t *testing.T) {
	b, s, c := bucketStore(t)
	ctx := context.Background()
	w, err := s.Create(ctx, "conversations/c1/x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(blobtest.Data(2, s3.MinPartSize+10)); err != nil {
		t.Fatal(err)
	}
	if len(incompleteUploads(t, c, b.Bucket)) != 1 {
		t.Fatal("no upload under way after a whole part")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if u := incompleteUploads(t, c, b.Bucket); len(u) != 0 {
		t.Errorf("unfinished uploads after Close: %+v", u)
	}
	if infos, err := s.List(ctx, ""); err != nil || len(infos) != 0 {
		t.Errorf("List after Close: %v, %v", infos, err)
	}
}

// TestS3AbortStaleUploads: uploads a crashed writer left are aborted once
// old enough; a young one (a writer of another node, working) is left.
func TestS3AbortStaleUploads(t *testing.T) {
	b, s, c := bucketStore(t)
	ctx := context.Background()
	core := minio.Core{Client: c}
	for _, k := range []string{"conversations/c1/a", "conversations/c2/b"} {
		if _, err := core.NewMultipartUpload(ctx, b.Bucket, k, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.AbortStaleUploads(ctx, time.Hour); err != nil || n != 0 {
		t.Errorf("AbortStaleUploads(1h) of fresh uploads: %d, %v; want 0", n, err)
	}
	if n, err := s.AbortStaleUploads(ctx, -time.Minute); err != nil || n != 2 {
		t.Errorf("AbortStaleUploads of stale uploads: %d, %v; want 2", n, err)
	}
	if u := incompleteUploads(t, c, b.Bucket); len(u) != 0 {
		t.Errorf("uploads left: %+v", u)
	}
}

func incompleteUploads(t *testing.T, c *minio.Client, bucket string) []minio.ObjectMultipartInfo {
	t.Helper()
	res, err := minio.Core{Client: c}.ListMultipartUploads(context.Background(), bucket, "", "", "", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return res.Uploads
}

// countingTransport counts the GET requests a store makes.
type countingTransport struct {
	next http.RoundTripper
	gets atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && r.URL.Query().Get("location") == "" {
		c.gets.Add(1)
	}
	return c.next.RoundTrip(r)
}

// TestS3PlaybackRequests: playing a recording through the API's path
// (encrypted, read sequentially in small pieces by http.ServeContent)
// costs a couple of requests, not one per read.
func TestS3PlaybackRequests(t *testing.T) {
	b := testenv.StartS3(t)
	tr := &countingTransport{next: http.DefaultTransport.(*http.Transport).Clone()}
	o := options(b)
	o.Transport = tr
	inner := openStore(t, o)
	e, err := blob.NewEncrypted(inner, openKeys(t, t.TempDir()), blobtest.Master)
	if err != nil {
		t.Fatal(err)
	}
	k := "conversations/c1/recordings/r1/call.webm"
	plain := blobtest.WebM(3<<20 + 999)
	blobtest.Put(t, e, k, plain)
	for _, tc := range []struct {
		name    string
		store   blob.Store
		want    []byte
		maxGets int64
	}{
		{"plain", inner, nil, 1},
		// Open reads the header, then the last chunk (a second
		// response), then reads on from the header's response.
		{"encrypted", e, plain, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tr.gets.Load()
			r, err := tc.store.Open(context.Background(), k)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var got bytes.Buffer
			sr, buf := io.NewSectionReader(r, 0, r.Size()), make([]byte, 32<<10)
			for {
				n, err := sr.Read(buf)
				got.Write(buf[:n])
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if n := tr.gets.Load() - before; n > tc.maxGets {
				t.Errorf("%d GET requests for one sequential read, want at most %d", n, tc.maxGets)
			}
			if tc.want != nil && !bytes.Equal(got.Bytes(), tc.want) {
				t.Error("read back differs")
			}
		})
	}
}

// TestS3ReaderNeverMixesVersions: a large object overwritten while open is
// read from the version opened, or fails with ErrReplaced.
func TestS3ReaderNeverMixesVersions(t *testing.T) {
	s := openStore(t, options(testenv.StartS3(t)))
	ctx := context.Background()
	k := "conversations/c1/recordings/r1/call.webm"
	v1, v2 := blobtest.Data(1, 3<<20), blobtest.Data(2, 3<<20)
	blobtest.Put(t, s, k, v1)
	r, err := s.Open(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := make([]byte, 1000)
	if _, err := r.ReadAt(p, 0); err != nil || !bytes.Equal(p, v1[:1000]) {
		t.Fatalf("first read: %v", err)
	}
	blobtest.Put(t, s, k, v2)
	// Where the open response stands, the old bytes still come.
	if _, err := r.ReadAt(p, 1000); err != nil || !bytes.Equal(p, v1[1000:2000]) {
		t.Errorf("read on from the open response: %v, or bytes of another version", err)
	}
	// Elsewhere a new request is needed, and the version is gone.
	if _, err := r.ReadAt(p, 2<<20); !errors.Is(err, s3.ErrReplaced) {
		t.Errorf("read elsewhere after the overwrite: %v, want ErrReplaced", err)
	}
}

// TestS3OpenRefusals: a missing bucket and wrong credentials fail at Open,
// with words that say which.
func TestS3OpenRefusals(t *testing.T) {
	b := testenv.StartS3(t)
	ctx := context.Background()
	o := options(b)
	o.Bucket = "no-such-bucket-here"
	if _, err := s3.Open(ctx, o); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Open of a missing bucket: %v", err)
	}
	o = options(b)
	o.SecretKey = strings.Repeat("x", 40)
	if _, err := s3.Open(ctx, o); err == nil {
		t.Error("Open with a wrong secret succeeded")
	}
	o = options(b)
	o.PartSize = 1 << 20
	if _, err := s3.Open(ctx, o); err == nil {
		t.Error("a 1 MiB part size was accepted")
	}
}

func TestS3ParseURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want s3.Options
	}{
		{"s3://AK:SK@127.0.0.1:9000/recordings?secure=false",
			s3.Options{Endpoint: "127.0.0.1:9000", Bucket: "recordings", AccessKey: "AK", SecretKey: "SK"}},
		{"s3://s3.eu-west-1.amazonaws.com/vs-recordings?region=eu-west-1",
			s3.Options{Endpoint: "s3.eu-west-1.amazonaws.com", Bucket: "vs-recordings", Region: "eu-west-1", Secure: true}},
		{"s3://AK:a%2Fb%2Bc@minio.internal/rec?part-size-mib=16",
			s3.Options{Endpoint: "minio.internal", Bucket: "rec", AccessKey: "AK", SecretKey: "a/b+c", Secure: true, PartSize: 16 << 20}},
	} {
		got, err := s3.ParseURL(tc.url)
		if err != nil || got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tc.url, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"http://host/bucket",
		"s3:///bucket",
		"s3://host",
		"s3://host/",
		"s3://host/bucket/extra",
		"s3://AK@host/bucket",
		"s3://host/bucket?secure=maybe",
		"s3://host/bucket?part-size-mib=1",
		"s3://host/bucket?sekure=false",
	} {
		if _, err := s3.ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) accepted", bad)
		}
	}
	o, _ := s3.ParseURL("s3://AK:TOPSECRET@h:1/b?secure=false")
	if s := o.String(); strings.Contains(s, "TOPSECRET") || strings.Contains(s, "AK") || !strings.Contains(s, "http://h:1") {
		t.Errorf("String() = %q: it must name the bucket and leave the credentials out", s)
	}
	if _, err := s3.ParseURL("s3://AK:TOPSECRET@h:1/b?secure=%zz"); err != nil && strings.Contains(err.Error(), "TOPSECRET") {
		t.Errorf("an error repeats the secret: %v", err)
	}
}
