package main

import (
	"context"
	"errors"
	"expvar"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"videosupport/api"
	"videosupport/auth"
	"videosupport/chat"
	"videosupport/desk"
	"videosupport/sfu"
	"videosupport/signaling"
	"videosupport/store"
	"videosupport/web"
	"videosupport/webhook"
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
	chat      *chat.Server
	store     store.Store
	desk      *desk.Desk
	handler   http.Handler
	stopHooks context.CancelFunc
	hooksDone chan struct{}
	queueDone chan struct{}
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
		MaxStreams: cfg.MaxStreams,
	})
	if err != nil {
		return nil, err
	}
	st, err := cfg.openStore(context.Background())
	if err != nil {
		_ = t.Close()
		return nil, err
	}
	authn := &auth.Authenticator{Accounts: st, Conversations: st, SecureCookies: strings.HasPrefix(cfg.PublicURL, "https://")}
	hooks := webhook.New(webhook.Config{Store: st, Logger: log})
	hookCtx, stopHooks := context.WithCancel(context.Background())
	hooksDone, queueDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(hooksDone)
		_ = hooks.Run(hookCtx)
	}()
	secret, err := cfg.secret()
	if err != nil {
		stopHooks()
		<-hooksDone
		return nil, errors.Join(err, st.Close(), t.Close())
	}
	links, err := auth.NewLinkSigner(secret)
	if err != nil {
		stopHooks()
		<-hooksDone
		return nil, errors.Join(err, st.Close(), t.Close())
	}
	dsk := desk.New(st, hooks, log)
	chatSrv := chat.NewServer(dsk, authn, log)
	rooms := auth.NewOpenRooms(roomLifetime)
	door := callDoor{rooms: rooms, desk: dsk}
	sig := signaling.NewServer(signaling.Config{Transport: t, Authorizer: door, Calls: door, Logger: log, MaxParticipants: cfg.MaxPeople})
	dsk.EnableCalls(desk.CallConfig{PublicURL: cfg.PublicURL, Links: links, LinkTTL: cfg.LinkTTL,
		CallbackAfter: cfg.CallbackAfter, WaitLimit: cfg.WaitLimit, Rooms: sig})
	go func() {
		defer close(queueDone)
		dsk.RunQueue(hookCtx, time.Second)
	}()

	mux := http.NewServeMux()
	mux.Handle("/api/", api.Handler(api.Config{PublicURL: cfg.PublicURL, Rooms: rooms, Desk: dsk, Auth: authn, Logger: log}))
	mux.Handle("GET /ws", sig)
	mux.Handle("GET /ws/chat", chatSrv)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	if cfg.Debug { // profiles and runtime figures, read by cmd/loadtest
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.Handle("GET /debug/vars", expvar.Handler())
	}
	mux.Handle("/", web.Handler())
	return &app{cfg: cfg, log: log, transport: t, signaling: sig, chat: chatSrv, store: st, desk: dsk, handler: mux,
		stopHooks: stopHooks, hooksDone: hooksDone, queueDone: queueDone}, nil
}

// shutdown tells every participant the server is going and closes rooms
// and media sockets.
func (a *app) shutdown(ctx context.Context) error {
	err := a.signaling.Shutdown(ctx)
	err = errors.Join(err, a.chat.Shutdown(ctx))
	a.stopHooks()
	<-a.hooksDone
	<-a.queueDone
	return errors.Join(err, a.transport.Close(), a.store.Close())
}
