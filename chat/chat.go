// Package chat is the websocket door for live chat: a customer follows
// their conversation, a staff member follows one conversation or the
// console's list. The record (through desk and store) is the truth: the
// socket only says "something changed" and each session reads what it has
// not sent yet, so events arrive in order, once, with no gaps, even after
// a reconnect.
package chat

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"videosupport/auth"
	"videosupport/desk"
	"videosupport/internal/wsconn"
	"videosupport/store"
)

// MaxMessageSize is the largest frame handled.
const MaxMessageSize = 64 << 10

// Server accepts chat websockets.
type Server struct {
	desk     *desk.Desk
	auth     *auth.Authenticator
	log      *slog.Logger
	upgrader websocket.Upgrader

	sessions wsconn.Sessions[*session]
}

// NewServer returns a chat server to mount at /ws/chat.
func NewServer(d *desk.Desk, a *auth.Authenticator, log *slog.Logger) *Server {
	return &Server{desk: d, auth: a, log: log,
		upgrader: websocket.Upgrader{CheckOrigin: wsconn.SameOrigin}}
}

// ServeHTTP serves one chat socket.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.sessions.Begin() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	defer s.sessions.End()

	// A staff member's cookie comes with the handshake; customers prove
	// themselves in hello.
	cookieCaller, cookieErr := s.auth.Authenticate(r)
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	sess := &session{srv: s, wake: make(chan struct{}, 1), dirty: map[string]bool{}}
	if cookieErr == nil && cookieCaller.IsStaff() {
		sess.cookie = &cookieCaller
	}
	sess.conn = wsconn.New(ws, wsconn.Config{MaxMessage: MaxMessageSize, HardLimit: 1 << 20,
		PingInterval: 5 * time.Second, PongWait: 12 * time.Second, QueueLen: 512})
	if !s.sessions.Serve(sess, sess.serve) {
		wsconn.GoingAway(ws)
	}
}

// Shutdown closes every chat socket (pages reconnect to the next server)
// and waits for them.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.sessions.Close(ctx, func(sess *session) {
		sess.conn.Finish(websocket.CloseGoingAway, "server shutting down")
	})
}

type session struct {
	srv    *Server
	conn   *wsconn.Conn
	cookie *auth.Caller

	// Set by hello, read-only after.
	caller  auth.Caller
	follow  string // conversation id, or "" for a console
	console bool
	ready   bool

	wake  chan struct{}
	mu    sync.Mutex
	dirty map[string]bool // console: conversations to re-send
	sent  int64           // follow: last seq sent
	// queueDirty: the video queue changed since it was last sent;
	// lastQueue is what a customer was last told of their place.
	queueDirty bool
	queue      []desk.QueueEntry // as last heard of; nil before any change
	lastQueue  *desk.QueueStatus
	stopped    context.CancelFunc
}

func (s *session) serve() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	s.conn.Serve(wsconn.Handler{
		Frame: func(data []byte) bool {
			return s.handle(ctx, data, &wg)
		},
		TooLarge: func() { s.sendError("", CodeTooLarge, "message larger than 64 KiB") },
		Binary:   func() { s.sendError("", CodeBadMessage, "binary frames are not part of the protocol") },
	})
	if s.stopped != nil {
		s.stopped()
	}
}

func (s *session) handle(ctx context.Context, data []byte, wg *sync.WaitGroup) bool {
	m, err := ParseClientMessage(data)
	if err != nil {
		s.sendError(m.Type, CodeBadMessage, err.Error())
		return true
	}
	switch m.Type {
	case TypeHello:
		if s.ready {
			s.sendError(m.Type, CodeBadMessage, "hello was already said")
			return true
		}
		return s.hello(ctx, m, wg)
	case TypeSend, TypeRead:
		if !s.ready {
			s.sendError(m.Type, CodeNotReady, "say hello first")
			return true
		}
		if m.Type == TypeSend {
			s.send(ctx, m)
		} else {
			s.read(ctx, m)
		}
	default:
		s.sendError(m.Type, CodeUnknownType, "unknown message type")
	}
	return true
}

// hello authenticates and starts following. A failed hello ends the
// socket.
func (s *session) hello(ctx context.Context, m ClientMessage, wg *sync.WaitGroup) bool {
	switch {
	case m.Token != "":
		c, err := s.srv.auth.Token(ctx, m.Token)
		if err != nil || c.Kind != auth.KindCustomer {
			s.sendError(m.Type, CodeUnauthorized, "this chat link is not valid")
			return false
		}
		s.caller = c
	case s.cookie != nil:
		s.caller = *s.cookie
	default:
		s.sendError(m.Type, CodeUnauthorized, "sign in or give the conversation's token")
		return false
	}
	st := s.srv.desk.Store()
	welcome := ServerMessage{Type: TypeWelcome, You: &Who{ID: s.caller.ID, Name: s.caller.Name, Role: s.caller.Role}}
	switch {
	case m.Console && s.caller.IsStaff():
		s.console = true
		stopConsole := s.srv.desk.WatchConsole(ctx, s.caller.ID, func(c store.Conversation) { s.mark(c.ID) })
		stopQueue := s.srv.desk.WatchQueue(s.queueChanged)
		s.stopped = func() { stopConsole(); stopQueue() }
		s.queueDirty = true
		list, err := st.ListConversations(ctx, store.ListFilter{Statuses: []store.Status{store.StatusOpen, store.StatusWaiting}, Limit: 200})
		if err != nil {
			s.sendError(m.Type, CodeInternal, "could not load conversations")
			return false
		}
		for _, c := range list {
			s.dirty[c.ID] = true
		}
	case m.Conversation != "":
		if s.caller.Kind == auth.KindCustomer && s.caller.ConversationID != m.Conversation {
			s.sendError(m.Type, CodeForbidden, "not your conversation")
			return false
		}
		c, err := st.Conversation(ctx, m.Conversation)
		if err != nil {
			s.sendError(m.Type, CodeForbidden, "no such conversation")
			return false
		}
		s.follow, s.sent = c.ID, max(m.After, 0)
		welcome.Conversation = c
		stopEvents := s.srv.desk.Watch(c.ID, func(store.Event) { s.poke() })
		stopQueue := s.srv.desk.WatchQueue(s.queueChanged)
		s.stopped = func() { stopEvents(); stopQueue() }
		s.queueDirty = true
	default:
		s.sendError(m.Type, CodeBadMessage, "hello needs a conversation, or console for staff")
		return false
	}
	s.ready = true
	s.enqueue(welcome)
	if s.console {
		// After welcome: invitations still pending are sent at once.
		stopNotices := s.srv.desk.WatchStaff(s.caller.ID, func(n desk.Notice) {
			s.enqueue(ServerMessage{Type: TypeInvite, Notice: &n})
		})
		stop := s.stopped
		s.stopped = func() { stop(); stopNotices() }
	}
	s.poke()
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.pump(ctx)
	}()
	return true
}

// queueChanged keeps the new video queue for sending.
func (s *session) queueChanged(q []desk.QueueEntry) {
	s.mu.Lock()
	s.queue, s.queueDirty = q, true
	s.mu.Unlock()
	s.poke()
}

// pumpQueue sends the video queue when it changed: the whole queue to a
// console, their own place to a customer (only when it differs from
// what they were last told).
func (s *session) pumpQueue(ctx context.Context) error {
	s.mu.Lock()
	dirty, q := s.queueDirty, s.queue
	s.queueDirty = false
	s.mu.Unlock()
	if !dirty {
		return nil
	}
	if q == nil { // not heard of any change yet: the queue as it is
		var err error
		if q, err = s.srv.desk.VideoQueue(ctx); err != nil {
			return err
		}
	}
	if s.console {
		if q == nil {
			q = []desk.QueueEntry{}
		}
		s.enqueue(ServerMessage{Type: TypeQueue, Queue: q})
		return nil
	}
	st := s.srv.desk.StatusIn(q, s.follow)
	if s.lastQueue != nil && *s.lastQueue == st {
		return nil
	}
	s.lastQueue = &st
	s.enqueue(ServerMessage{Type: TypeQueue, Queue: st})
	return nil
}

func (s *session) mark(id string) {
	s.mu.Lock()
	s.dirty[id] = true
	s.mu.Unlock()
	s.poke()
}

func (s *session) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// pump sends what changed each time it is woken, reading it from the
// record.
func (s *session) pump(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		var err error
		if s.console {
			err = s.pumpSummaries(ctx)
		} else {
			err = s.pumpEvents(ctx)
		}
		if err == nil {
			err = s.pumpQueue(ctx)
		}
		if err != nil && ctx.Err() == nil {
			s.srv.log.Error("chat pump", "err", err)
		}
	}
}

func (s *session) pumpEvents(ctx context.Context) error {
	for {
		events, err := s.srv.desk.Store().Events(ctx, s.follow, s.sent, 200)
		if err != nil {
			return err
		}
		for i := range events {
			e := events[i]
			s.sent = e.Seq
			if s.caller.Kind == auth.KindCustomer && !store.CustomerSees(e) {
				continue
			}
			s.enqueue(ServerMessage{Type: TypeEvent, Conversation: s.follow, Event: &e})
			if s.caller.Kind == auth.KindCustomer {
				s.notice(e)
			}
		}
		if len(events) < 200 {
			return nil
		}
	}
}

// notice tells a customer, as a code to translate, what an event means
// for them.
func (s *session) notice(e store.Event) {
	switch e.Type {
	case store.EventWaiting:
		s.enqueue(ServerMessage{Type: TypeNotice, Code: NoticeNoAgentOnline})
	case store.EventAssigned:
		var d struct {
			StaffName string `json:"staffName"`
		}
		_ = json.Unmarshal(e.Data, &d)
		s.enqueue(ServerMessage{Type: TypeNotice, Code: NoticeAgentAssigned, Name: d.StaffName})
	}
}

func (s *session) pumpSummaries(ctx context.Context) error {
	s.mu.Lock()
	ids := s.dirty
	s.dirty = map[string]bool{}
	s.mu.Unlock()
	for id := range ids {
		list, err := s.srv.desk.Store().ListConversations(ctx, store.ListFilter{ID: id, Reader: s.caller.ID, Limit: 1})
		if err != nil {
			return err
		}
		for _, c := range list {
			s.enqueue(ServerMessage{Type: TypeSummary, Conversation: c})
		}
	}
	return nil
}

func (s *session) send(ctx context.Context, m ClientMessage) {
	id := m.Conversation
	if id == "" {
		id = s.follow
	}
	_, err := s.srv.desk.Post(ctx, id, s.caller, m.Body, m.ClientID, false)
	switch {
	case err == nil:
	case errors.Is(err, desk.ErrBadInput):
		s.sendError(m.Type, CodeBadMessage, err.Error())
	case errors.Is(err, desk.ErrForbidden), errors.Is(err, store.ErrNotFound):
		s.sendError(m.Type, CodeForbidden, "not your conversation")
	default:
		s.srv.log.Error("chat send", "err", err)
		s.sendError(m.Type, CodeInternal, "the message could not be saved; try again")
	}
}

func (s *session) read(ctx context.Context, m ClientMessage) {
	if !s.caller.IsStaff() {
		s.sendError(m.Type, CodeForbidden, "only staff mark conversations read")
		return
	}
	if err := s.srv.desk.MarkRead(ctx, m.Conversation, s.caller.ID, m.Seq); err != nil {
		s.sendError(m.Type, CodeBadMessage, "could not mark read")
	}
}

func (s *session) enqueue(m ServerMessage) {
	b, err := json.Marshal(m)
	if err != nil {
		s.srv.log.Error("chat marshal", "err", err)
		return
	}
	s.conn.Enqueue(b)
}

func (s *session) sendError(about, code, msg string) {
	s.enqueue(ServerMessage{Type: TypeError, About: about, Code: code, Message: msg})
}
