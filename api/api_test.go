package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"videosupport/auth"
)

func TestCreateRoom(t *testing.T) {
	h := Handler(Config{PublicURL: "https://support.example.com/", Rooms: auth.NewOpenRooms(24 * time.Hour), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	seen := map[string]bool{}
	for range 3 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/rooms", nil))
		if rec.Code != http.StatusCreated || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("status %d, type %q", rec.Code, rec.Header().Get("Content-Type"))
		}
		var r Room
		if err := json.NewDecoder(rec.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
		id, err := uuid.Parse(r.ID)
		if err != nil || id.Version() != 4 {
			t.Errorf("room id %q is not a random (v4) UUID", r.ID)
		}
		if seen[r.ID] {
			t.Errorf("room id %s handed out twice", r.ID)
		}
		seen[r.ID] = true
		if r.URL != "https://support.example.com/call/"+r.ID {
			t.Errorf("url %q", r.URL)
		}
		if time.Until(r.Expires) < 23*time.Hour {
			t.Errorf("expires %v, want about a day", r.Expires)
		}
	}
}

func TestUnknownEndpoint(t *testing.T) {
	h := Handler(Config{Rooms: auth.NewOpenRooms(time.Hour)})
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/rooms"}, // no listing of rooms
		{http.MethodGet, "/api/v1/nothing"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		var e Error
		if err := json.NewDecoder(rec.Body).Decode(&e); err != nil || rec.Code < 400 || e.Error.Code == "" || e.Error.Message == "" {
			t.Errorf("%s %s: %d %+v %v, want a JSON error", tc.method, tc.path, rec.Code, e, err)
		}
	}
}
