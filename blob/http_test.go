package blob_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"

	"videosupport/blob"
	"videosupport/blob/blobtest"
	"videosupport/blob/disk"
)

// TestServeContentRanges: a browser seeking in an encrypted recording
// gets the right bytes through http.ServeContent.
func TestServeContentRanges(t *testing.T) {
	s := newSealed(t, disk.Options{})
	plain := blobtest.Data(3, 5*blob.ChunkSize+777)
	size := len(plain)
	k := "conversations/c1/recordings/r1/call.webm"
	blobtest.Put(t, s, k, plain)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r, err := s.Open(req.Context(), k)
		if errors.Is(err, blob.ErrKeyDestroyed) {
			http.Error(w, "this recording's key was destroyed", http.StatusGone)
			return
		}
		if err != nil {
			http.Error(w, "cannot open recording", http.StatusInternalServerError)
			return
		}
		defer r.Close()
		info, err := s.Stat(req.Context(), k)
		if err != nil {
			http.Error(w, "cannot stat recording", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "video/webm")
		http.ServeContent(w, req, "call.webm", info.ModTime, io.NewSectionReader(r, 0, r.Size()))
	}))
	defer srv.Close()

	get := func(rangeHeader string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if rangeHeader != "" {
			req.Header.Set("Range", rangeHeader)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}

	resp, body := get("")
	if resp.StatusCode != 200 || !bytes.Equal(body, plain) || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("whole file: %s, %d bytes, Accept-Ranges %q", resp.Status, len(body), resp.Header.Get("Accept-Ranges"))
	}
	for _, tc := range []struct {
		header     string
		start, end int // inclusive
	}{
		{"bytes=0-0", 0, 0},
		{"bytes=100-200", 100, 200},
		{"bytes=65530-65545", 65530, 65545}, // across a chunk boundary
		{"bytes=65536-131071", 65536, 131071},
		{"bytes=70000-", 70000, size - 1},
		{"bytes=-500", size - 500, size - 1},
		{fmt.Sprintf("bytes=%d-%d", size-10, size+1000), size - 10, size - 1},
		{"bytes=1-327679", 1, 327679},
	} {
		resp, body := get(tc.header)
		wantCR := fmt.Sprintf("bytes %d-%d/%d", tc.start, tc.end, size)
		if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Range") != wantCR {
			t.Errorf("%s: %s, Content-Range %q; want 206, %q", tc.header, resp.Status, resp.Header.Get("Content-Range"), wantCR)
			continue
		}
		if !bytes.Equal(body, plain[tc.start:tc.end+1]) {
			t.Errorf("%s: wrong bytes", tc.header)
		}
	}

	// Several ranges at once come back as multipart/byteranges.
	resp, body = get("bytes=0-9,70000-70009,327000-")
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusPartialContent || err != nil || mt != "multipart/byteranges" {
		t.Fatalf("multi-range: %s, %q, %v", resp.Status, resp.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for _, want := range [][2]int{{0, 10}, {70000, 70010}, {327000, size}} {
		part, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(part)
		if !bytes.Equal(got, plain[want[0]:want[1]]) {
			t.Errorf("multi-range part %v: wrong bytes", want)
		}
	}

	if resp, _ := get(fmt.Sprintf("bytes=%d-", size+5)); resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("range past the end: %s, want 416", resp.Status)
	}

	if err := s.DestroyKey(t.Context(), "c1"); err != nil {
		t.Fatal(err)
	}
	if resp, body := get("bytes=0-9"); resp.StatusCode != http.StatusGone || !bytes.Contains(body, []byte("destroyed")) {
		t.Errorf("after DestroyKey: %s %q, want 410 saying the key was destroyed", resp.Status, body)
	}
}
