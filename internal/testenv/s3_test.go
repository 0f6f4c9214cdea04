package testenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// s3HelperEnv makes the test binary, run again by TestS3DiesWithTestBinary,
// start a server and exit without StopS3.
const s3HelperEnv = "VS_TESTENV_S3_HELPER"

func TestStartS3(t *testing.T) {
	start := time.Now()
	b := StartS3(t)
	t.Logf("first StartS3 (server start if not yet running, new bucket): %v: %s/%s", time.Since(start).Round(time.Millisecond), b.Endpoint, b.Bucket)
	if !strings.HasPrefix(b.Endpoint, "127.0.0.1:") || b.AccessKey == "" || len(b.SecretKey) < 32 {
		t.Errorf("unexpected server %+v", b)
	}
	c, err := b.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data := bytes.Repeat([]byte("recording "), 100_000)
	if _, err := c.PutObject(ctx, b.Bucket, "a/b.webm", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	o, err := c.GetObject(ctx, b.Bucket, "a/b.webm", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(o)
	o.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, %v", len(got), err)
	}

	// A second bucket: same server, new and empty.
	b2 := StartS3(t)
	if b2.Endpoint != b.Endpoint || b2.Bucket == b.Bucket {
		t.Errorf("second bucket %s/%s, want a new bucket on %s", b2.Endpoint, b2.Bucket, b.Endpoint)
	}
	for o := range c.ListObjects(ctx, b2.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		t.Errorf("the new bucket holds %q (%v)", o.Key, o.Err)
	}

	// Wrong credentials are refused: the server checks signatures.
	bad := b
	bad.SecretKey = strings.Repeat("0", 40)
	bc, err := bad.Client()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bc.StatObject(ctx, b.Bucket, "a/b.webm", minio.StatObjectOptions{}); err == nil {
		t.Error("a request signed with the wrong secret succeeded")
	}
}

// TestS3Helper runs only inside TestS3DiesWithTestBinary.
func TestS3Helper(t *testing.T) {
	if os.Getenv(s3HelperEnv) == "" {
		return // only a helper process for TestS3DiesWithTestBinary
	}
	b := StartS3(t)
	srv := s3State.srv
	fmt.Printf("SERVER %d %d %s %s\n", srv.cmd.Process.Pid, srv.reaper.cmd.Process.Pid, srv.dir, b.Endpoint)
}

// A test binary that never calls StopS3 leaves neither a running
// versitygw nor its files behind.
func TestS3DiesWithTestBinary(t *testing.T) {
	if _, err := VersityGWPath(); err != nil {
		Missing(t, "%v", err)
	}
	checkDiesWithTestBinary(t, "TestS3Helper", s3HelperEnv)
}
