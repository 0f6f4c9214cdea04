// Package api serves the REST API under /api/v1. Bodies are JSON; errors
// are {"error": {"code": "...", "message": "..."}} with a matching HTTP
// status. docs/api.md documents every endpoint.
package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// RoomCreator makes new rooms.
type RoomCreator interface {
	Create() (id string, expires time.Time)
}

// Config configures the API handler.
type Config struct {
	// PublicURL is where people reach this server, used to build links.
	PublicURL string
	Rooms     RoomCreator
	Logger    *slog.Logger
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

// Handler returns the /api/v1 routes.
func Handler(cfg Config) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/rooms", func(w http.ResponseWriter, r *http.Request) {
		id, exp := cfg.Rooms.Create()
		base := strings.TrimRight(cfg.PublicURL, "/")
		writeJSON(w, http.StatusCreated, Room{ID: id, URL: base + "/call/" + id, Expires: exp.UTC()})
	})
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, Error{ErrorDetail{Code: "not_found", Message: "no such endpoint"}})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
