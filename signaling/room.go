package signaling

import (
	"errors"
	"sync"

	"videosupport/sfu"
)

var (
	errRoomFull     = errors.New("room is full")
	errShuttingDown = errors.New("server is shutting down")
)

// room is the control plane of one call: who is in it, what they publish,
// whether they are muted. Its media plane is an sfu.Room.
type room struct {
	id    string
	media *sfu.Room

	mu      sync.Mutex
	members map[string]*session // by participant id
	info    map[string]*Participant
}

func newRoom(s *Server, id string) *room {
	r := &room{id: id, members: map[string]*session{}, info: map[string]*Participant{}}
	r.media = sfu.NewRoom(id, s.cfg.Transport, r, s.cfg.Logger)
	return r
}

func (r *room) empty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.members) == 0
}

// add queues joined to sess and participant-joined to the others.
func (r *room) add(sess *session, max int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.members) >= max {
		return errRoomFull
	}
	others := make([]Participant, 0, len(r.info))
	for _, p := range r.info {
		others = append(others, clone(p))
	}
	me := &Participant{ID: sess.id, Name: sess.name}
	sess.enqueue(mustMarshal(Message{Type: TypeJoined, Room: r.id, You: me, Participants: others}))
	r.broadcastLocked(sess.id, Message{Type: TypeParticipantJoined, Participant: me})
	r.members[sess.id] = sess
	r.info[sess.id] = me
	return nil
}

// remove reports whether sess was the last member.
func (r *room) remove(sess *session, reason string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.members[sess.id] != sess {
		return len(r.members) == 0
	}
	p := r.info[sess.id]
	delete(r.members, sess.id)
	delete(r.info, sess.id)
	left := Participant{ID: p.ID, Name: p.Name, AudioMuted: p.AudioMuted, VideoMuted: p.VideoMuted}
	r.broadcastLocked("", Message{Type: TypeParticipantLeft, Participant: &left, Reason: reason})
	return len(r.members) == 0
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
