// Package api serves the REST API under /api/v1: the door for programs
// (gateways, helpdesks, bots, with API keys), for the staff pages (with a
// session cookie and CSRF token) and for customers (with their
// conversation's token). Bodies are JSON; errors are
// {"error": {"code": "...", "message": "..."}} with a matching status.
// docs/api.md documents every endpoint; openapi.json describes them.
package api

import (
	_ "embed"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"videosupport/auth"
	"videosupport/desk"
	"videosupport/store"
)

//go:embed openapi.json
var openAPI []byte

// maxBody is the largest request body accepted.
const maxBody = 64 << 10

// RoomCreator makes new ad-hoc call rooms.
type RoomCreator interface {
	Create() (id string, expires time.Time)
}

// Config configures the API handler.
type Config struct {
	// PublicURL is where people reach this server, used to build links.
	PublicURL string
	Rooms     RoomCreator
	Desk      *desk.Desk
	Auth      *auth.Authenticator
	Logger    *slog.Logger
	// Links signs media grants for recordings.
	Links *auth.LinkSigner
	// Recordings opens ready recordings; nil: none are kept.
	Recordings RecordingFiles
	// CustomerRecordings lets customers play their own conversation's
	// recordings (an admin's policy; off by default).
	CustomerRecordings bool
}

// Room is the body of a created room.
type Room struct {
	ID      string    `json:"id"`
	URL     string    `json:"url"`
	Expires time.Time `json:"expires"`
}

// Error is the body of every failed request.
type Error struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong, as a code for programs and a message
// for people.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type server struct {
	Config
	st store.Store
}

// Handler returns the /api/v1 routes.
func Handler(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &server{Config: cfg}
	if cfg.Desk != nil {
		s.st = cfg.Desk.Store()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/rooms", s.createRoom)
	mux.HandleFunc("GET /api/v1/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})
	if cfg.Desk != nil {
		s.routes(mux)
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint")
	})
	return mux
}

func (s *server) createRoom(w http.ResponseWriter, _ *http.Request) {
	id, exp := s.Rooms.Create()
	base := strings.TrimRight(s.PublicURL, "/")
	writeJSON(w, http.StatusCreated, Room{ID: id, URL: base + "/call/" + id, Expires: exp.UTC()})
}

// handler is an endpoint that needs a caller.
type handler func(w http.ResponseWriter, r *http.Request, c auth.Caller)

// who authenticates the request (and checks CSRF on cookie requests that
// change something), then checks allow.
func (s *server) who(allow func(auth.Caller) bool, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := s.Auth.Authenticate(r)
		if errors.Is(err, auth.ErrUnauthenticated) {
			writeError(w, http.StatusUnauthorized, "unauthorized", "missing or invalid credentials")
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if err := auth.CheckCSRF(r, c); err != nil {
			writeError(w, http.StatusForbidden, "csrf", "missing or wrong X-CSRF-Token header")
			return
		}
		if allow != nil && !allow(c) {
			writeError(w, http.StatusForbidden, "forbidden", "you may not do this")
			return
		}
		h(w, r, c)
	}
}

func anyone(auth.Caller) bool { return true }

func staff(c auth.Caller) bool { return c.IsStaff() }

func admin(c auth.Caller) bool { return c.IsAdmin() }

func staffOrKey(c auth.Caller) bool { return c.IsStaff() || c.Kind == auth.KindAPIKey }

// decode reads a JSON body of at most maxBody bytes into v.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "could not read the body")
		return false
	}
	if len(body) > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "body larger than 64 KiB")
		return false
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	if !utf8.Valid(body) {
		// JSON decoding would quietly turn the bad bytes into U+FFFD.
		writeError(w, http.StatusBadRequest, "bad_request", "body is not valid UTF-8")
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "body is not the JSON this endpoint takes")
		return false
	}
	return true
}

// fail answers an error from the layers below: known ones with their
// status, anything else as a 500 that is logged, never shown.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no such thing")
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, "conflict", "it already exists")
	case errors.Is(err, desk.ErrForbidden):
		writeError(w, http.StatusForbidden, "forbidden", "you may not do this")
	case errors.Is(err, desk.ErrBadInput), errors.Is(err, auth.ErrWeakPassword):
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
	default:
		s.Logger.Error("api", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "something went wrong on our side")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, Error{ErrorDetail{Code: code, Message: msg}})
}
