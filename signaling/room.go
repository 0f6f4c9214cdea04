package signaling

import (
	"errors"
	"sync"

	"github.com/gorilla/websocket"

	"videosupport/sfu"
)

var (
	errRoomFull     = errors.New("room is full")
	errShuttingDown = errors.New("server is shutting down")
	errCallEnded    = errors.New("the call has ended")
	errLinkInUse    = errors.New("link in use by another session")
)

// room is the control plane of one call: who is in it, what they publish,
// whether they are muted. Its media plane is an sfu.Room.
type room struct {
	id    string
	media *sfu.Room

	mu      sync.Mutex
	members map[string]*session // by participant id
	info    map[string]*Participant
	waiting map[string]*session // knocking, not yet let in
	ended   bool
	rec     *RecordingState // nil: not recording
	recBusy bool            // a start or stop is under way
}

func newRoom(s *Server, id string) *room {
	r := &room{id: id, members: map[string]*session{}, info: map[string]*Participant{}, waiting: map[string]*session{}}
	r.media = sfu.NewRoom(id, s.cfg.Transport, r, s.cfg.Logger)
	return r
}

func (r *room) empty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.members) == 0 && len(r.waiting) == 0
}

// isStaff reports whether a role may admit people and end the call.
func isStaff(role string) bool {
	return role == "agent" || role == "specialist" || role == "admin"
}

// knock puts sess in the waiting room and tells the staff inside.
func (r *room) knock(sess *session) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return errCallEnded
	}
	if r.seatTakenLocked(sess) {
		return errLinkInUse
	}
	me := sess.participant()
	r.waiting[sess.id] = sess
	sess.enqueue(mustMarshal(Message{Type: TypeWaiting, Room: r.id, You: &me}))
	r.toStaffLocked(Message{Type: TypeKnock, Participant: &me})
	return nil
}

// waiter returns the session waiting to be let in under id, if any.
func (r *room) waiter(id string) *session {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w := r.waiting[id]; w != nil && !w.admitted.Load() {
		return w
	}
	return nil
}

// decide lets a waiting participant in (they are told to join again) or
// turns them away; the staff are told either way.
func (r *room) decide(id string, admit bool) (*session, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.waiting[id]
	if w == nil {
		return nil, false
	}
	who := w.participant()
	if admit {
		w.admitted.Store(true)
		w.enqueue(mustMarshal(Message{Type: TypeAdmitted, Participant: &who}))
		r.toStaffLocked(Message{Type: TypeAdmitted, Participant: &who})
		return w, true
	}
	delete(r.waiting, id)
	r.toStaffLocked(Message{Type: TypeDeclined, Participant: &who})
	return w, true
}

// end ends the call for everyone: each is told bye and disconnected.
// It reports whether the call was still going.
func (r *room) end() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return false
	}
	r.ended = true
	bye := mustMarshal(Message{Type: TypeBye, Reason: ReasonCallEnded})
	for _, m := range []map[string]*session{r.members, r.waiting} {
		for _, s := range m {
			s.enqueue(bye)
			s.finish(websocket.CloseNormalClosure, "call ended")
		}
	}
	return true
}

// staffLeft reports whether no staff member is in the room any more.
func (r *room) staffLeft() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.members {
		if isStaff(s.grant.Role) {
			return false
		}
	}
	return true
}

// seatTakenLocked reports whether another session holds sess's seat.
func (r *room) seatTakenLocked(sess *session) bool {
	if sess.grant.Seat == "" {
		return false
	}
	for _, m := range []map[string]*session{r.members, r.waiting} {
		for id, other := range m {
			if id != sess.id && other.grant.Seat == sess.grant.Seat {
				return true
			}
		}
	}
	return false
}

func (r *room) toStaffLocked(m Message) {
	b := mustMarshal(m)
	for _, s := range r.members {
		if isStaff(s.grant.Role) {
			s.enqueue(b)
		}
	}
}

// add queues joined to sess and participant-joined to the others.
func (r *room) add(sess *session, max int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.members) >= max {
		return errRoomFull
	}
	if r.ended {
		return errCallEnded
	}
	if r.seatTakenLocked(sess) {
		return errLinkInUse
	}
	others := make([]Participant, 0, len(r.info))
	for _, p := range r.info {
		others = append(others, clone(p))
	}
	var waiting []Participant
	if isStaff(sess.grant.Role) {
		for _, w := range r.waiting {
			if !w.admitted.Load() {
				waiting = append(waiting, w.participant())
			}
		}
	}
	delete(r.waiting, sess.id)
	p := sess.participant()
	me := &p
	var rec *RecordingState
	if r.rec != nil {
		c := *r.rec
		rec = &c
	}
	sess.enqueue(mustMarshal(Message{Type: TypeJoined, Room: r.id, You: me, Participants: others, Waiting: waiting, Recording: rec}))
	r.broadcastLocked(sess.id, Message{Type: TypeParticipantJoined, Participant: me})
	r.members[sess.id] = sess
	r.info[sess.id] = me
	return nil
}

// remove reports whether sess was the last one in the room.
func (r *room) remove(sess *session, reason string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.waiting[sess.id] == sess {
		delete(r.waiting, sess.id)
		who := sess.participant()
		r.toStaffLocked(Message{Type: TypeParticipantLeft, Participant: &who, Reason: reason})
	}
	if r.members[sess.id] != sess {
		return len(r.members) == 0 && len(r.waiting) == 0
	}
	p := r.info[sess.id]
	delete(r.members, sess.id)
	delete(r.info, sess.id)
	left := Participant{ID: p.ID, Name: p.Name, Role: p.Role, AudioMuted: p.AudioMuted, VideoMuted: p.VideoMuted}
	r.broadcastLocked("", Message{Type: TypeParticipantLeft, Participant: &left, Reason: reason})
	return len(r.members) == 0 && len(r.waiting) == 0
}

func (r *room) setMuted(id, kind string, muted bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.info[id]
	if p == nil {
		return
	}
	if kind == "audio" {
		p.AudioMuted = muted
	} else {
		p.VideoMuted = muted
	}
	who := Participant{ID: p.ID, Name: p.Name, AudioMuted: p.AudioMuted, VideoMuted: p.VideoMuted}
	r.broadcastLocked(id, Message{Type: TypeMute, Kind: kind, Muted: &muted, Participant: &who})
}

// TrackPublished implements sfu.RoomEvents.
func (r *room) TrackPublished(t sfu.TrackInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.info[t.PeerID]
	if p == nil {
		return
	}
	tr := Track{ID: t.ID, StreamID: t.StreamID, Kind: t.Kind}
	p.Tracks = append(p.Tracks, tr)
	who := Participant{ID: p.ID, Name: p.Name, AudioMuted: p.AudioMuted, VideoMuted: p.VideoMuted}
	r.broadcastLocked(p.ID, Message{Type: TypeTrackPublished, Participant: &who, Track: &tr})
}

// TrackUnpublished implements sfu.RoomEvents.
func (r *room) TrackUnpublished(t sfu.TrackInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tr := Track{ID: t.ID, StreamID: t.StreamID, Kind: t.Kind}
	who := Participant{ID: t.PeerID}
	if p := r.info[t.PeerID]; p != nil {
		for i, x := range p.Tracks {
			if x.ID == t.ID {
				p.Tracks = append(p.Tracks[:i], p.Tracks[i+1:]...)
				break
			}
		}
		who = Participant{ID: p.ID, Name: p.Name, AudioMuted: p.AudioMuted, VideoMuted: p.VideoMuted}
	}
	r.broadcastLocked(t.PeerID, Message{Type: TypeTrackUnpublished, Participant: &who, Track: &tr})
}

// broadcastLocked queues m to every member but except. r.mu is held.
func (r *room) broadcastLocked(except string, m Message) {
	b := mustMarshal(m)
	for id, s := range r.members {
		if id != except {
			s.enqueue(b)
		}
	}
}

func clone(p *Participant) Participant {
	c := *p
	c.Tracks = append([]Track(nil), p.Tracks...)
	return c
}
