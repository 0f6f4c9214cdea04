package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"

	"videosupport/internal/wsconn"
	"videosupport/sfu"
)

// session is one websocket connection and, once joined, one participant.
type session struct {
	srv  *Server
	conn *wsconn.Conn
	log  *slog.Logger
	id   string

	// Set by the reader goroutine before the session is in a room, then
	// only read.
	name    string
	grant   Grant
	room    *room
	peer    *sfu.Peer
	cookies []*http.Cookie
	// admitted is set by the staff member who lets this session in.
	admitted atomic.Bool

	reasonMu sync.Mutex
	reason   string // why the participant left, told to the others

	failMu sync.Once
}

func newSession(srv *Server, ws *websocket.Conn) *session {
	id := "p-" + uuid.NewString()
	return &session{
		srv: srv, id: id,
		conn: wsconn.New(ws, wsconn.Config{MaxMessage: MaxMessageSize, HardLimit: hardMessageSize,
			PingInterval: srv.cfg.PingInterval, PongWait: srv.cfg.PongWait, QueueLen: sendQueueLen}),
		log:    srv.cfg.Logger.With("peer", id, "remote", ws.RemoteAddr().String()),
		reason: ReasonGone,
	}
}

// serve runs the session until it ends, then takes the participant out of
// its room.
func (s *session) serve() {
	s.conn.Serve(wsconn.Handler{
		Frame:    s.handle,
		TooLarge: func() { s.sendError("", CodeTooLarge, "message larger than 64 KiB") },
		Binary:   func() { s.sendError("", CodeBadMessage, "binary frames are not part of the protocol") },
		Closed: func(goodbye bool) {
			// A close frame is a browser tab closing: a goodbye.
			// Anything else (reset, timeout) means the person is gone.
			if goodbye {
				s.setReason(ReasonLeft)
			}
		},
	})
	if s.room != nil {
		reason := s.leaveReason()
		s.srv.release(s.room, s, reason)
		s.log.Info("participant left", "reason", reason)
	}
}

// finish ends the session: queued frames are flushed, a close frame is
// sent and the socket closed, which ends the reader.
func (s *session) finish(code int, text string) { s.conn.Finish(code, text) }

// enqueue queues one frame. A client that cannot keep up with its queue is
// disconnected rather than allowed to hold anyone up.
func (s *session) enqueue(b []byte) { s.conn.Enqueue(b) }

// handle acts on one frame and reports whether the session goes on.
func (s *session) handle(data []byte) bool {
	m, err := ParseClientMessage(data)
	var werr *wireError
	if errors.As(err, &werr) {
		s.sendError(m.Type, werr.Code, werr.Message)
		return true
	}
	if m.Type != TypeJoin && s.peer == nil && (m.Type != TypeLeave || s.room == nil) {
		s.sendError(m.Type, CodeNotJoined, "join a room first")
		return true
	}
	switch m.Type {
	case TypeJoin:
		return s.join(m)
	case TypeOffer:
		s.offer(m)
	case TypeAnswer:
		s.answer(m)
	case TypeCandidate:
		s.candidate(m)
	case TypeMute:
		s.room.setMuted(s.id, m.Kind, *m.Muted)
	case TypeLeave:
		s.setReason(ReasonLeft)
		return false
	case TypeAdmit, TypeDecline:
		s.decide(m)
	case TypeEnd:
		s.end(m)
	case TypeRecord:
		s.record(m)
	case TypeConsent:
		s.consent(m)
	}
	return true
}

func (s *session) join(m Message) bool {
	if s.peer != nil {
		s.sendError(m.Type, CodeAlreadyJoined, "already in a room")
		return true
	}
	if s.room != nil { // in the waiting room
		if !s.admitted.Load() {
			s.sendError(m.Type, CodeOutOfOrder, "still waiting to be let in")
			return true
		}
		return s.enter(m.Type, s.room.id)
	}
	name := cleanName(m.Name)
	if name == "" {
		s.sendError(m.Type, CodeBadMessage, "a name is required")
		return true
	}
	if _, err := uuid.Parse(m.Room); err != nil {
		return s.fatal(m.Type, CodeRoomNotFound, "no such room")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g, err := s.srv.cfg.Authorizer.AuthorizeJoin(ctx, JoinRequest{Room: m.Room, Name: name, Token: m.Token, Cookies: s.cookies})
	switch {
	case errors.Is(err, ErrRoomNotFound):
		return s.fatal(m.Type, CodeRoomNotFound, "no such room")
	case errors.Is(err, ErrForbidden):
		return s.fatal(m.Type, CodeForbidden, "not allowed to join this room")
	case errors.Is(err, ErrCallEnded):
		return s.fatal(m.Type, CodeCallEnded, "the call has ended")
	case err != nil:
		s.log.Error("authorize join", "err", err)
		return s.fatal(m.Type, CodeInternal, "could not check the join")
	}
	if s.srv.cfg.Transport.Full() {
		return s.fatal(m.Type, CodeServerBusy, "the server is at capacity, try again later")
	}
	s.grant, s.name = g, name
	if g.Name != "" {
		s.name = cleanName(g.Name)
	}
	if g.CallID != "" && g.Role == "customer" {
		r, err := s.srv.knock(m.Room, s)
		if err != nil {
			return s.refused(m.Type, err)
		}
		s.room = r
		s.step(StepKnocked, nil)
		return true
	}
	return s.enter(m.Type, m.Room)
}

// enter puts the participant in the room and starts its media.
func (s *session) enter(about, roomID string) bool {
	r, err := s.srv.admit(roomID, s)
	if err != nil {
		return s.refused(about, err)
	}
	s.room = r
	peer, err := r.media.Join(s.id, s)
	if err != nil {
		s.log.Error("media join", "err", err)
		return s.fatal(about, CodeInternal, "could not set up media")
	}
	s.peer = peer
	s.log = s.log.With("room", r.id)
	s.log.Info("participant joined", "role", s.grant.Role)
	s.step(StepJoined, nil)
	return true
}

func (s *session) refused(about string, err error) bool {
	switch {
	case errors.Is(err, errRoomFull):
		return s.fatal(about, CodeRoomFull, "the room is full")
	case errors.Is(err, errShuttingDown):
		return s.fatal(about, CodeServerBusy, "the server is shutting down")
	case errors.Is(err, errCallEnded):
		return s.fatal(about, CodeCallEnded, "the call has ended")
	case errors.Is(err, errLinkInUse):
		return s.fatal(about, CodeLinkInUse, "this link is in use on another device")
	}
	return s.fatal(about, CodeInternal, "could not join")
}

// decide handles a staff member's admit or decline.
func (s *session) decide(m Message) {
	if !isStaff(s.grant.Role) {
		s.sendError(m.Type, CodeForbidden, "only staff let people in")
		return
	}
	admit := m.Type == TypeAdmit
	w := s.room.waiter(m.Participant.ID)
	if w == nil {
		s.sendError(m.Type, CodeOutOfOrder, "nobody by that id is waiting")
		return
	}
	// The record hears of the decision before the person does, so their
	// joining comes after it in the record too.
	me := s.participant()
	step := StepDeclined
	if admit {
		step = StepAdmitted
	}
	w.step(step, &me)
	if _, ok := s.room.decide(m.Participant.ID, admit); !ok || admit {
		return // gone meanwhile, or let in
	}
	w.sendError(TypeJoin, CodeDeclined, "the host could not let you in")
	w.finish(websocket.CloseNormalClosure, "declined")
}

// end ends the call for everyone (staff only).
func (s *session) end(m Message) {
	if !isStaff(s.grant.Role) {
		s.sendError(m.Type, CodeForbidden, "only staff end the call")
		return
	}
	s.srv.endCall(s.room, s.grant, s.participant())
}

// participant is how others see this session.
func (s *session) participant() Participant {
	return Participant{ID: s.id, Name: s.name, Role: s.grant.Role}
}

// step tells the record about a step of a call tied to a conversation.
func (s *session) step(step string, by *Participant) {
	if s.srv.cfg.Calls == nil || s.grant.CallID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.srv.cfg.Calls.CallStep(ctx, s.grant, step, s.participant(), by)
}

func (s *session) offer(m Message) {
	if m.PC != PCPublish {
		s.sendError(m.Type, CodeOutOfOrder, "only the publish connection takes offers from the client")
		return
	}
	answer, err := s.peer.Publish(m.SDP)
	if err != nil {
		s.log.Info("publish offer refused", "err", err)
		s.sendError(m.Type, CodeNegotiationFailed, "the offer could not be used")
		return
	}
	s.enqueue(mustMarshal(Message{Type: TypeAnswer, PC: PCPublish, SDP: answer}))
}

func (s *session) answer(m Message) {
	if m.PC != PCSubscribe {
		s.sendError(m.Type, CodeOutOfOrder, "only the subscribe connection takes answers from the client")
		return
	}
	err := s.peer.Answer(m.SDP)
	switch {
	case errors.Is(err, sfu.ErrNoOfferPending):
		s.sendError(m.Type, CodeOutOfOrder, "answer received but no offer is pending")
	case err != nil:
		s.log.Info("subscribe answer refused", "err", err)
		s.sendError(m.Type, CodeNegotiationFailed, "the answer could not be used")
	}
}

func (s *session) candidate(m Message) {
	dir := sfu.Publish
	if m.PC == PCSubscribe {
		dir = sfu.Subscribe
	}
	if err := s.peer.AddCandidate(dir, *m.Candidate); err != nil {
		s.sendError(m.Type, CodeBadMessage, "candidate refused")
	}
}

// fatal sends an error and ends the session.
func (s *session) fatal(about, code, msg string) bool {
	s.sendError(about, code, msg)
	return false
}

func (s *session) sendError(about, code, msg string) {
	s.enqueue(mustMarshal(Message{Type: TypeError, Code: code, Message: msg, About: about}))
}

// Offer implements sfu.Signal.
func (s *session) Offer(sdp string) {
	s.enqueue(mustMarshal(Message{Type: TypeOffer, PC: PCSubscribe, SDP: sdp}))
}

// Candidate implements sfu.Signal.
func (s *session) Candidate(dir sfu.Direction, c webrtc.ICECandidateInit) {
	pc := PCPublish
	if dir == sfu.Subscribe {
		pc = PCSubscribe
	}
	s.enqueue(mustMarshal(Message{Type: TypeCandidate, PC: pc, Candidate: &c}))
}

// Failed implements sfu.Signal: media cannot flow, so the participant is
// told and removed.
func (s *session) Failed(error) {
	s.failMu.Do(func() {
		s.sendError("", CodeConnectionFailed, "the media connection failed")
		s.setReason(ReasonConnectionFailed)
		s.finish(websocket.CloseNormalClosure, "media connection failed")
	})
}

func (s *session) setReason(r string) {
	s.reasonMu.Lock()
	defer s.reasonMu.Unlock()
	s.reason = r
}

func (s *session) leaveReason() string {
	s.reasonMu.Lock()
	defer s.reasonMu.Unlock()
	return s.reason
}

// cleanName trims a display name, drops control characters and cuts it to
// maxNameRunes.
func cleanName(n string) string {
	n = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, n)
	n = strings.TrimSpace(n)
	if utf8.RuneCountInString(n) > maxNameRunes {
		n = string([]rune(n)[:maxNameRunes])
	}
	return n
}

func mustMarshal(m Message) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic("signaling: marshal " + m.Type + ": " + err.Error()) // only plain data: cannot happen
	}
	return b
}
