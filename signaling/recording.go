package signaling

import (
	"context"
	"errors"
	"time"

	"videosupport/sfu"
)

// Recording a call takes everyone's consent. Staff start and stop it;
// while it runs every page shows it; each participant answers the
// consent prompt (late joiners on joining) and nothing of theirs is
// recorded before they agree. Whoever starts it agrees by doing so.
//
// signaling keeps the state everyone sees and tells a RecordingControl;
// the control (wired in cmd) writes the record and gives the room the
// sfu.Recorder that does the writing, which must honour the consents.

// RecordingControl records calls tied to conversations.
type RecordingControl interface {
	// StartRecording begins recording a call; the recorder it returns is
	// set on the call's media. It must record nothing of a participant
	// until Consent says they agreed.
	StartRecording(ctx context.Context, g Grant, by Participant) (sfu.Recorder, error)
	// StopRecording is told once the recorder has been taken off the
	// media (its sinks are closed).
	StopRecording(ctx context.Context, g Grant, by Participant)
	// Consent reports one participant's answer to the prompt of a
	// version of the consent text.
	Consent(ctx context.Context, g Grant, who Participant, agreed bool, version string)
}

// RecordingState is what every page in the call shows.
type RecordingState struct {
	On bool `json:"on"`
	// By is who started (or stopped) it.
	By string `json:"by,omitempty"`
	// Version of the consent text the pages show.
	Version string `json:"version,omitempty"`
}

// Consent answers.
const (
	ConsentAgreed   = "agreed"
	ConsentDeclined = "declined"
)

var errNotRecordable = errors.New("only calls tied to a conversation are recorded")

// record starts or stops recording (staff only).
func (s *session) record(m Message) {
	ctl := s.srv.cfg.Recording
	switch {
	case !isStaff(s.grant.Role):
		s.sendError(m.Type, CodeForbidden, "only staff start or stop recording")
		return
	case ctl == nil || s.grant.CallID == "":
		s.sendError(m.Type, CodeForbidden, errNotRecordable.Error())
		return
	}
	me := s.participant()
	if *m.On {
		s.startRecording(m, ctl, me)
		return
	}
	if !s.room.claimRecording(false) {
		s.sendError(m.Type, CodeOutOfOrder, "the call is not being recorded")
		return
	}
	s.srv.stopRecording(s.room, s.grant, me)
}

func (s *session) startRecording(m Message, ctl RecordingControl, me Participant) {
	r := s.room
	if !r.claimRecording(true) {
		s.sendError(m.Type, CodeOutOfOrder, "the call is already being recorded")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec, err := ctl.StartRecording(ctx, s.grant, me)
	if err != nil {
		s.log.Error("start recording", "err", err)
		r.releaseRecording()
		s.sendError(m.Type, CodeInternal, "could not start recording")
		return
	}
	version := s.srv.cfg.ConsentVersion
	r.startRecording(me, version)
	ctl.Consent(ctx, s.grant, me, true, version)
	r.media.SetRecorder(rec)
	s.log.Info("recording started", "call", s.grant.CallID)
}

// stopRecording takes the recorder off the room's media and tells the
// control and everyone in the call. The caller has claimed the stop.
func (s *Server) stopRecording(r *room, g Grant, by Participant) {
	r.media.SetRecorder(nil)
	r.stopRecording(by)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.cfg.Recording.StopRecording(ctx, g, by)
	s.cfg.Logger.Info("recording stopped", "room", r.id, "call", g.CallID)
}

// consent records a participant's answer to the prompt.
func (s *session) consent(m Message) {
	if s.srv.cfg.Recording == nil || s.grant.CallID == "" || !s.room.recordingOn() {
		s.sendError(m.Type, CodeOutOfOrder, "the call is not being recorded")
		return
	}
	if m.Version != s.srv.cfg.ConsentVersion {
		s.sendError(m.Type, CodeBadMessage, "consent to another version of the text; reload the page")
		return
	}
	agreed := m.Consent == "agree"
	s.room.setConsent(s.id, agreed)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.srv.cfg.Recording.Consent(ctx, s.grant, s.participant(), agreed, m.Version)
}

// claimRecording reserves the start (on) or stop (off) of recording for
// one staff member, so two pressing at once do not both act. It reports
// whether the caller got it.
func (r *room) claimRecording(on bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.recBusy || (on && r.ended) || (r.rec != nil) == on {
		return false
	}
	r.recBusy = true
	return true
}

func (r *room) releaseRecording() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recBusy = false
}

func (r *room) recordingOn() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rec != nil
}

// startRecording sets the state, asks everyone (but the starter, who
// agreed) for consent, and tells them all.
func (r *room) startRecording(by Participant, version string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recBusy = false
	r.rec = &RecordingState{On: true, By: by.Name, Version: version}
	for id, p := range r.info {
		p.Consent = ""
		if id == by.ID {
			p.Consent = ConsentAgreed
		}
	}
	r.broadcastLocked("", Message{Type: TypeRecording, Recording: r.rec, Participants: r.participantsLocked()})
}

// stopRecording clears the state and tells everyone.
func (r *room) stopRecording(by Participant) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recBusy = false
	r.rec = nil
	for _, p := range r.info {
		p.Consent = ""
	}
	r.broadcastLocked("", Message{Type: TypeRecording, Recording: &RecordingState{On: false, By: by.Name},
		Participants: r.participantsLocked()})
}

// setConsent records an answer and tells everyone (staff see who
// declined and can choose what to do).
func (r *room) setConsent(id string, agreed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.info[id]
	if p == nil {
		return
	}
	p.Consent = ConsentDeclined
	if agreed {
		p.Consent = ConsentAgreed
	}
	who := Participant{ID: p.ID, Name: p.Name, Role: p.Role, Consent: p.Consent}
	r.broadcastLocked("", Message{Type: TypeConsent, Participant: &who})
}

func (r *room) participantsLocked() []Participant {
	out := make([]Participant, 0, len(r.info))
	for _, p := range r.info {
		out = append(out, clone(p))
	}
	return out
}
