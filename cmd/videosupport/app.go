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
	"path/filepath"
	"strings"
	"sync"
	"time"

	"videosupport/api"
	"videosupport/auth"
	"videosupport/chat"
	"videosupport/desk"
	"videosupport/recording"
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

	recordings *recording.Calls
	closeBlobs func() error
}

// consentVersion names the consent text the pages show (the
// consent.* strings of the catalogs): change it when they change, so
// every answer on record says which words the person agreed to.
const consentVersion = "2026-11-23.2"

// runRetention deletes recordings past maxAge, once an hour.
func runRetention(ctx context.Context, recs *recording.Calls, maxAge time.Duration, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := recs.Expire(ctx, maxAge, time.Now())
		if err != nil && ctx.Err() == nil {
			log.Error("recording retention", "err", err)
		}
		if n > 0 {
			log.Info("recordings past retention deleted", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func newApp(cfg config, log *slog.Logger) (*app, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
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
	blobs, closeBlobs, err := cfg.openRecordings(context.Background(), st, log)
	if err != nil {
		stopHooks()
		<-hooksDone
		return nil, errors.Join(err, st.Close(), t.Close())
	}
	recs, err := recording.NewCalls(recording.CallsConfig{Spool: filepath.Join(cfg.DataDir, "spool"), Store: st,
		Blobs: blobs, Announce: dsk.Announce, Logger: log})
	if err == nil {
		// Recordings a crash left unfinished are repaired and attached.
		err = recs.Recover(context.Background())
	}
	if err != nil {
		stopHooks()
		<-hooksDone
		return nil, errors.Join(err, closeBlobs(), st.Close(), t.Close())
	}
	chatSrv := chat.NewServer(dsk, authn, log)
	rooms := auth.NewOpenRooms(roomLifetime)
	door := callDoor{rooms: rooms, desk: dsk}
	recDoor := &recordingDoor{calls: recs, desk: dsk, active: map[string]*recording.CallRecording{}}
	sig := signaling.NewServer(signaling.Config{Transport: t, Authorizer: door, Calls: door, Logger: log, MaxParticipants: cfg.MaxPeople,
		Recording: recDoor, ConsentVersion: consentVersion})
	dsk.EnableCalls(desk.CallConfig{PublicURL: cfg.PublicURL, Links: links, LinkTTL: cfg.LinkTTL,
		CallbackAfter: cfg.CallbackAfter, WaitLimit: cfg.WaitLimit, Rooms: sig})
	go func() {
		defer close(queueDone)
		var wg sync.WaitGroup
		if cfg.RetentionDays > 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runRetention(hookCtx, recs, time.Duration(cfg.RetentionDays)*24*time.Hour, log)
			}()
		}
		dsk.RunQueue(hookCtx, time.Second)
		wg.Wait()
	}()

	mux := http.NewServeMux()
	mux.Handle("/api/", api.Handler(api.Config{PublicURL: cfg.PublicURL, Rooms: rooms, Desk: dsk, Auth: authn, Logger: log,
		Links: links, Recordings: recordingFiles{recs}, CustomerRecordings: cfg.CustomerRecordings}))
	mux.Handle("GET /ws", sig)
	mux.Handle("GET /ws/chat", chatSrv)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	if cfg.Debug { // profiles and runtime figures, read by cmd/loadtest
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		mux.Handle("GET /debug/vars", expvar.Handler())
	}
	mux.Handle("/", web.Handler())
	return &app{cfg: cfg, log: log, transport: t, signaling: sig, chat: chatSrv, store: st, desk: dsk, handler: mux,
		stopHooks: stopHooks, hooksDone: hooksDone, queueDone: queueDone, recordings: recs, closeBlobs: closeBlobs}, nil
}

// shutdown tells every participant the server is going and closes rooms
// and media sockets.
func (a *app) shutdown(ctx context.Context) error {
	err := a.signaling.Shutdown(ctx)
	err = errors.Join(err, a.chat.Shutdown(ctx))
	// Recordings stopped by the end of their calls are being finished:
	// wait for them while ctx allows (what is not done is finished on
	// the next start).
	finished := make(chan struct{})
	go func() {
		a.recordings.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-ctx.Done():
		a.log.Warn("shutting down with recordings still being finished")
	}
	a.stopHooks()
	<-a.hooksDone
	<-a.queueDone
	return errors.Join(err, a.transport.Close(), a.closeBlobs(), a.store.Close())
}
