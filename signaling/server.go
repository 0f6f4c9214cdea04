package signaling

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"videosupport/internal/wsconn"
	"videosupport/sfu"
)

// Limits of the wire protocol.
const (
	// MaxMessageSize is the largest frame handled; a larger one gets a
	// too_large error and is discarded.
	MaxMessageSize = 64 << 10
	// hardMessageSize closes the connection: reading a frame this large
	// only to discard it is already a waste.
	hardMessageSize = 1 << 20
	maxNameRunes    = 64
	sendQueueLen    = 256
)

// Errors an Authorizer returns to refuse a join.
var (
	ErrRoomNotFound = errors.New("room not found")
	ErrForbidden    = errors.New("not allowed to join this room")
	ErrCallEnded    = errors.New("the call has ended")
)

// JoinRequest is what a client asks for when it joins.
type JoinRequest struct {
	Room  string
	Name  string
	Token string
	// Cookies of the websocket's HTTP request: a browser's call session
	// travels in an HttpOnly cookie, never in a message.
	Cookies []*http.Cookie
}

// Grant is what an Authorizer allows.
type Grant struct {
	// Role is the participant's role: "guest" in an ad-hoc room;
	// "customer", "agent", "specialist" or "observer" in a call.
	Role string
	// CallID and ConversationID are set for a call tied to a
	// conversation: customers then wait until staff admit them, and the
	// steps land in the conversation's record.
	CallID         string
	ConversationID string
	// SessionID identifies the browser's call session (one per
	// exchanged join link).
	SessionID string
	// Name, when set, is the name the record knows, used instead of the
	// one the client sends.
	Name string
	// StaffID is the staff member's id, for staff.
	StaffID string
	// Seat, when set, admits one session at a time: a second join with
	// the same seat while the first is waiting or in the room is refused
	// (a customer's link used on a second device).
	Seat string
}

// Authorizer decides who may join which room. It is the seam where
// accounts and signed join links plug in.
type Authorizer interface {
	AuthorizeJoin(ctx context.Context, req JoinRequest) (Grant, error)
}

// Steps of a call that CallEvents hears about.
const (
	StepKnocked  = "knocked"
	StepAdmitted = "admitted"
	StepDeclined = "declined"
	StepJoined   = "joined"
	StepLeft     = "left"
)

// CallEvents hears the steps of calls tied to conversations, so that they
// land in the conversation's record. Calls may block briefly (a database
// write); they are made with no lock held.
type CallEvents interface {
	// CallStep reports that who knocked, was admitted or declined (by
	// a staff member), joined or left.
	CallStep(ctx context.Context, g Grant, step string, who Participant, by *Participant)
	// CallEnded reports that a call ended: staff ended it, or the last
	// staff member left.
	CallEnded(ctx context.Context, g Grant, by Participant)
}

// Config configures a Server.
type Config struct {
	Transport  *sfu.Transport
	Authorizer Authorizer
	Logger     *slog.Logger
	// Calls, when set, hears the steps of calls tied to conversations.
	Calls CallEvents
	// Recording, when set, lets staff record calls tied to
	// conversations, with everyone's consent to ConsentVersion of the
	// consent text (the pages show it); "" means "1".
	Recording      RecordingControl
	ConsentVersion string
	// MaxParticipants per room; 0 means 16.
	MaxParticipants int
	// PingInterval and PongWait detect dead sockets: a client silent for
	// PongWait is gone. Zero means 5 s and 12 s.
	PingInterval, PongWait time.Duration
}

// Server accepts signaling websockets and runs the rooms.
type Server struct {
	cfg      Config
	upgrader websocket.Upgrader

	mu       sync.Mutex
	rooms    map[string]*room
	sessions wsconn.Sessions[*session]
}

// NewServer returns a Server ready to be mounted at /ws.
func NewServer(cfg Config) *Server {
	if cfg.MaxParticipants == 0 {
		cfg.MaxParticipants = 16
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = 5 * time.Second
	}
	if cfg.PongWait == 0 {
		cfg.PongWait = 12 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ConsentVersion == "" {
		cfg.ConsentVersion = "1"
	}
	s := &Server{cfg: cfg, rooms: map[string]*room{}}
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		CheckOrigin:     wsconn.SameOrigin,
	}
	return s
}

// ServeHTTP upgrades the request to a websocket and serves it until the
// client leaves, vanishes or the server shuts down.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.sessions.Begin() {
		http.Error(w, "server is shutting down", http.StatusServiceUnavailable)
		return
	}
	defer s.sessions.End()

	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	sess := newSession(s, conn)
	sess.cookies = r.Cookies()
	if !s.sessions.Serve(sess, sess.serve) {
		wsconn.GoingAway(conn)
	}
}

// Shutdown tells every connected client that the server is stopping,
// closes their connections and rooms, and waits for them to end (or for
// ctx).
func (s *Server) Shutdown(ctx context.Context) error {
	bye := mustMarshal(Message{Type: TypeBye, Reason: ReasonServerShutdown})
	err := s.sessions.Close(ctx, func(sess *session) {
		sess.enqueue(bye)
		sess.finish(websocket.CloseGoingAway, "server shutting down")
	})
	if err != nil {
		return fmt.Errorf("signaling shutdown: %w", err)
	}
	return nil
}

// EndCall ends the call in room id, if it is open: everyone is told and
// disconnected. It is for an end decided elsewhere (the REST API), so
// CallEvents does not hear of it again.
func (s *Server) EndCall(id string) bool {
	s.mu.Lock()
	r := s.rooms[id]
	s.mu.Unlock()
	return r != nil && r.end()
}

// Rooms returns the number of open rooms (for metrics and tests).
func (s *Server) Rooms() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rooms)
}

// admit puts sess in its room, creating the room on first join. The
// joined message is queued to sess before anybody else hears of it.
func (s *Server) admit(roomID string, sess *session) (*room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions.Closing() {
		return nil, errShuttingDown
	}
	r := s.rooms[roomID]
	if r == nil {
		r = newRoom(s, roomID)
		s.rooms[roomID] = r
	}
	if err := r.add(sess, s.cfg.MaxParticipants); err != nil {
		if r.empty() {
			delete(s.rooms, roomID)
			r.media.Close()
		}
		return nil, err
	}
	return r, nil
}

// knock puts sess in the waiting room of roomID, creating the room if
// nobody is there yet.
func (s *Server) knock(roomID string, sess *session) (*room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions.Closing() {
		return nil, errShuttingDown
	}
	r := s.rooms[roomID]
	if r == nil {
		r = newRoom(s, roomID)
		s.rooms[roomID] = r
	}
	if err := r.knock(sess); err != nil {
		return nil, err
	}
	return r, nil
}

// endCall ends a call for everyone in it and tells the record.
func (s *Server) endCall(r *room, g Grant, by Participant) {
	if s.cfg.Recording != nil && r.claimRecording(false) {
		s.stopRecording(r, g, by)
	}
	if !r.end() {
		return
	}
	s.cfg.Logger.Info("call ended", "room", r.id, "call", g.CallID, "by", by.ID)
	if s.cfg.Calls != nil && g.CallID != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.cfg.Calls.CallEnded(ctx, g, by)
	}
}

// release takes sess out of its room and closes the room when it was the
// last one in it. In a call tied to a conversation, the call ends when the
// last staff member leaves.
func (s *Server) release(r *room, sess *session, reason string) {
	s.mu.Lock()
	last := r.remove(sess, reason)
	if last {
		delete(s.rooms, r.id)
	}
	s.mu.Unlock()
	if sess.peer != nil {
		r.media.Leave(sess.peer)
		sess.step(StepLeft, nil)
	}
	if !last && sess.peer != nil && sess.grant.CallID != "" && isStaff(sess.grant.Role) && r.staffLeft() {
		s.endCall(r, sess.grant, sess.participant())
	}
	if last && s.cfg.Recording != nil && r.claimRecording(false) {
		s.stopRecording(r, sess.grant, sess.participant())
	}
	if last {
		r.media.Close()
		s.cfg.Logger.Info("room closed", "room", r.id)
	}
}
