package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"videosupport/api"
	"videosupport/auth"
	"videosupport/sfu"
	"videosupport/signaling"
	"videosupport/web"
)

// roomLifetime is how long a created room can be joined.
const roomLifetime = 24 * time.Hour

// app is the whole server, wired: this is the one place that picks
// concrete parts.
type app struct {
	cfg       config
	log       *slog.Logger
	transport *sfu.Transport
	signaling *signaling.Server
	handler   http.Handler
}

func newApp(cfg config, log *slog.Logger) (*app, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	t, err := sfu.NewTransport(sfu.NetworkConfig{
		UDPPort:    cfg.UDPPort,
		UDPPortMin: uint16(cfg.UDPPortMin),
		UDPPortMax: uint16(cfg.UDPPortMax),
		NAT1To1IPs: cfg.natIPs(),
		Loopback:   cfg.Loopback,
	})
	if err != nil {
		return nil, err
	}
	rooms := auth.NewOpenRooms(roomLifetime)
	sig := signaling.NewServer(signaling.Config{Transport: t, Authorizer: rooms, Logger: log})

	mux := http.NewServeMux()
	mux.Handle("/api/", api.Handler(api.Config{PublicURL: cfg.PublicURL, Rooms: rooms, Logger: log}))
	mux.Handle("GET /ws", sig)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("/", web.Handler())
	return &app{cfg: cfg, log: log, transport: t, signaling: sig, handler: mux}, nil
}

// shutdown tells every participant the server is going and closes rooms
// and media sockets.
func (a *app) shutdown(ctx context.Context) error {
	err := a.signaling.Shutdown(ctx)
	return errors.Join(err, a.transport.Close())
}
