package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"videosupport/blob"
	"videosupport/blob/blobtest"
	"videosupport/blob/disk"
	"videosupport/internal/testenv"
	"videosupport/signaling"
	"videosupport/store"
	"videosupport/store/sqlite"
	"videosupport/store/sqlstore"
)

// TestConfigBlob: -blob names a bucket; credentials come from the URL or
// the environment, and no error repeats a secret.
func TestConfigBlob(t *testing.T) {
	env := map[string]string{"AWS_ACCESS_KEY_ID": "ENVKEY", "AWS_SECRET_ACCESS_KEY": "ENVSECRET", "AWS_SESSION_TOKEN": "TOKEN"}
	parse := func(env map[string]string, args ...string) (config, error) {
		return parseConfig(args, func(k string) string { return env[k] }, io.Discard)
	}
	c, err := parse(env)
	if err != nil || c.s3 != nil {
		t.Fatalf("no -blob: %+v, %v; want the data directory", c.s3, err)
	}
	c, err = parse(env, "-blob", "s3://127.0.0.1:9000/recordings?secure=false&region=eu-west-1")
	if err != nil || c.s3 == nil {
		t.Fatal(err)
	}
	if o := *c.s3; o.Endpoint != "127.0.0.1:9000" || o.Bucket != "recordings" || o.Secure || o.Region != "eu-west-1" ||
		o.AccessKey != "ENVKEY" || o.SecretKey != "ENVSECRET" || o.SessionToken != "TOKEN" {
		t.Errorf("from the environment: %+v", o)
	}
	c, err = parseConfig(nil, func(k string) string {
		if k == "VS_BLOB" {
			return "s3://URLKEY:URLSECRET@s3.example.com/rec"
		}
		return env[k]
	}, io.Discard)
	if err != nil || c.s3.AccessKey != "URLKEY" || c.s3.SecretKey != "URLSECRET" || !c.s3.Secure {
		t.Errorf("VS_BLOB with credentials: %+v, %v; want the URL's, over HTTPS", c.s3, err)
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
		says string
	}{
		{[]string{"-blob", "s3://h/b"}, nil, "AWS_ACCESS_KEY_ID"},
		{[]string{"-blob", "s3://h/b"}, map[string]string{"AWS_ACCESS_KEY_ID": "K"}, "AWS_SECRET_ACCESS_KEY"},
		{[]string{"-blob", "/var/recordings"}, env, "s3://"},
		{[]string{"-blob", "s3://K:TOPSECRET@h/b/c"}, env, "bucket"},
		{[]string{"-blob", "s3://K:TOPSECRET@h/b?secure=perhaps"}, env, "secure"},
	} {
		_, err := parse(tc.env, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.says) || strings.Contains(err.Error(), "TOPSECRET") {
			t.Errorf("%v: %v; want an error that says %q and no secret", tc.args, err, tc.says)
		}
	}
}

// TestMoveDiskKeys: keys a server kept as files are moved into the
// database at its first start on PostgreSQL; a key the database already
// holds differently stays in both places for a person to decide.
func TestMoveDiskKeys(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	files, err := disk.OpenKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer files.Close()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "vs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	keys := db.Keys()
	put := func(k blob.KeyStore, id string, seed uint64) {
		t.Helper()
		if err := k.Put(ctx, id, blobtest.Data(seed, 77)); err != nil {
			t.Fatal(err)
		}
	}
	put(files, "c1", 1)
	put(files, "c2", 2)
	put(files, "c3", 3)
	put(keys, "c2", 2)  // the same key: the file goes
	put(keys, "c3", 33) // another key: both stay
	if err := moveDiskKeys(ctx, dir, keys, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	for id, seed := range map[string]uint64{"c1": 1, "c2": 2, "c3": 33} {
		if got, err := keys.Get(ctx, id); err != nil || !bytes.Equal(got, blobtest.Data(seed, 77)) {
			t.Errorf("database key of %s: %v", id, err)
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*.key"))
	if len(left) != 1 || filepath.Base(left[0]) != "c3.key" {
		t.Errorf("key files left: %v, want c3.key alone", left)
	}
	// Nothing to move: a no-op, also for a directory that is not there.
	if err := moveDiskKeys(ctx, filepath.Join(dir, "none"), keys, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
}

// s3URL is a -blob value for a test bucket.
func s3URL(b testenv.S3) string {
	u := url.URL{Scheme: "s3", User: url.UserPassword(b.AccessKey, b.SecretKey), Host: b.Endpoint, Path: "/" + b.Bucket,
		RawQuery: url.Values{"secure": {"false"}, "region": {b.Region}}.Encode()}
	return u.String()
}

func randomKey(t *testing.T) string {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k)
}

// downloadRecording fetches a recording's file through a download grant.
func downloadRecording(t *testing.T, c *apiClient, recID string) []byte {
	t.Helper()
	var grant struct{ URL string }
	if code := c.do("POST", "/api/v1/recordings/"+recID+"/download", nil, &grant); code != 200 {
		t.Fatalf("download grant: %d", code)
	}
	code, _, file := c.fetch(grant.URL, nil)
	if code != 200 {
		t.Fatalf("download: %d", code)
	}
	return file
}

// keyRows counts the rows of a conversation's key in the database.
func keyRows(t *testing.T, a *app, convID string) int {
	t.Helper()
	var n int
	if err := a.store.(*sqlstore.Store).DB().QueryRow(`SELECT COUNT(*) FROM blob_keys WHERE conversation_id = $1`, convID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRecordingOnS3AndPostgres: two servers share a PostgreSQL database
// and an S3 bucket (real ones: postgres and versitygw). A call recorded
// on the first is sealed into the bucket, its key a row of the database,
// nothing of it on the server's disk; it plays with range requests and
// downloads whole on the first server and on the second, which never saw
// the call. Deleted on the second, the key's row and the objects are
// gone, and a copy of the sealed file put back cannot be read.
func TestRecordingOnS3AndPostgres(t *testing.T) {
	testenv.LookTool(t, "ffmpeg")
	bucket := testenv.StartS3(t)
	dsn := testenv.StartPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	shared := []string{"-db", dsn, "-blob", s3URL(bucket), "-recording-key", randomKey(t), "-secret-key", randomKey(t)}
	dir1 := t.TempDir()
	base1, a1, _ := startAppIn(t, dir1, shared...)
	call := startRecordedCall(ctx, t, base1, a1)
	call.record(t, true)
	waitMsg(ctx, t, call.custWS, signaling.TypeRecording, nil)
	_ = call.custWS.Send(signaling.Message{Type: signaling.TypeConsent, Consent: "agree", Version: consentVersion})
	waitMsg(ctx, t, call.agentWS, signaling.TypeConsent, func(m signaling.Message) bool { return m.Participant.Consent == signaling.ConsentAgreed })
	time.Sleep(2 * time.Second) // two seconds of call to record
	call.record(t, false)
	rec := waitRecording(t, call.agent, call.convID, 60*time.Second)
	if rec.Status != store.RecordingReady || rec.Size == 0 {
		t.Fatalf("recording %+v", rec)
	}

	// In the bucket: the call file and the four tracks, sealed. On the
	// server's disk: no recording, no key.
	s3c, err := bucket.Client()
	if err != nil {
		t.Fatal(err)
	}
	prefix := blob.ConversationPrefix(call.convID)
	var stored []string
	for o := range s3c.ListObjects(ctx, bucket.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		stored = append(stored, strings.TrimPrefix(o.Key, prefix+"recordings/"+rec.ID+"/"))
	}
	if len(stored) != 5 || stored[0] != "call.webm" {
		t.Errorf("objects in the bucket: %q, want call.webm and four tracks", stored)
	}
	callKey := prefix + "recordings/" + rec.ID + "/call.webm"
	obj, err := s3c.GetObject(ctx, bucket.Bucket, callKey, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := io.ReadAll(obj)
	obj.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, pattern := range []string{"recordings/objects/*", "keys/*.key"} {
		if local, _ := filepath.Glob(filepath.Join(dir1, pattern)); len(local) != 0 {
			t.Errorf("on the server's disk: %v", local)
		}
	}
	if n := keyRows(t, a1, call.convID); n != 1 {
		t.Errorf("key rows of the conversation: %d, want 1", n)
	}

	// Played and downloaded on the first server.
	var grant struct{ URL string }
	if code := call.agent.do("POST", "/api/v1/recordings/"+rec.ID+"/play", nil, &grant); code != 200 {
		t.Fatalf("play: %d", code)
	}
	code, h, part := call.agent.fetch(grant.URL, map[string]string{"Range": "bytes=1000-1999"})
	if code != 206 || len(part) != 1000 || h.Get("Content-Range") != fmt.Sprintf("bytes 1000-1999/%d", rec.Size) {
		t.Fatalf("range request: %d %q %d bytes", code, h.Get("Content-Range"), len(part))
	}
	file := downloadRecording(t, call.agent, rec.ID)
	if sum := sha256.Sum256(file); hex.EncodeToString(sum[:]) != rec.SHA256 || !bytes.Equal(file[1000:2000], part) {
		t.Fatalf("download: %d bytes, sha256 %x, want %s", len(file), sum, rec.SHA256)
	}
	if blobtest.HoldsPlaintext(sealed, file) {
		t.Error("the bucket holds the recording in the clear")
	}
	path := filepath.Join(t.TempDir(), "call.webm")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	if p := ffprobe(t, path); len(p.Streams) != 2 {
		t.Errorf("the call file has streams %+v, want video and audio", p.Streams)
	}

	// The second server, with an empty data directory of its own, plays
	// it too: same record, same bucket, same keys.
	base2, a2, _ := startAppIn(t, t.TempDir(), shared...)
	agent2, _ := login(t, base2, "amira@example.com")
	if again := downloadRecording(t, agent2, rec.ID); !bytes.Equal(again, file) {
		t.Fatalf("the second server served %d bytes, not the recording", len(again))
	}

	// Deleted there: the key's row goes, and the objects.
	addStaff(t, a2, "admin@example.com", "Admin", store.RoleAdmin)
	admin, _ := login(t, base2, "admin@example.com")
	if code := admin.do("DELETE", "/api/v1/conversations/"+call.convID, nil, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if n := keyRows(t, a1, call.convID); n != 0 {
		t.Errorf("key rows after delete: %d, want 0", n)
	}
	for o := range s3c.ListObjects(ctx, bucket.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		t.Errorf("left in the bucket after delete: %s %v", o.Key, o.Err)
	}
	// A backup of the bucket, put back, reads on neither server.
	if _, err := s3c.PutObject(ctx, bucket.Bucket, callKey, bytes.NewReader(sealed), int64(len(sealed)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	rec.BlobKey = callKey // not sent out by the API
	for _, a := range []*app{a1, a2} {
		r, err := a.recordings.Open(ctx, rec)
		if err == nil {
			r.Close()
		}
		if !errors.Is(err, blob.ErrKeyDestroyed) {
			t.Errorf("reading a restored copy: %v, want ErrKeyDestroyed", err)
		}
	}
}
