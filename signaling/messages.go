package signaling

import (
	"encoding/json"

	"github.com/pion/webrtc/v4"
)

// Message is one JSON frame on the signaling websocket, in either
// direction. Type says which fields are set; docs/protocol.md has an
// example of every type. One flat struct keeps the wire format obvious in
// both Go and JavaScript.
type Message struct {
	Type string `json:"type"`

	// join (client): which room, the name others will see, and the
	// credential the Authorizer checks.
	Room  string `json:"room,omitempty"`
	Name  string `json:"name,omitempty"`
	Token string `json:"token,omitempty"`

	// offer, answer, candidate: which peer connection ("publish" carries
	// the client's media up, "subscribe" carries everyone else's down).
	PC        string                   `json:"pc,omitempty"`
	SDP       string                   `json:"sdp,omitempty"`
	Candidate *webrtc.ICECandidateInit `json:"candidate,omitempty"`

	// mute (both directions).
	Kind  string `json:"kind,omitempty"`
	Muted *bool  `json:"muted,omitempty"`

	// joined (server): who you are and who is already there.
	You          *Participant  `json:"you,omitempty"`
	Participants []Participant `json:"participants,omitempty"`

	// participant-joined, participant-left, track-*, mute (server).
	Participant *Participant `json:"participant,omitempty"`
	Track       *Track       `json:"track,omitempty"`

	// joined (server, to staff): who is knocking in the waiting room.
	Waiting []Participant `json:"waiting,omitempty"`

	// recording (server), joined: whether the call is being recorded.
	Recording *RecordingState `json:"recording,omitempty"`
	// record (staff): start (true) or stop recording.
	On *bool `json:"on,omitempty"`
	// consent (client): "agree" or "decline", to a version of the text.
	Consent string `json:"consent,omitempty"`
	Version string `json:"version,omitempty"`

	// participant-left and bye (server): why.
	Reason string `json:"reason,omitempty"`

	// error (server).
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// About names the type of the client message that caused an error.
	About string `json:"about,omitempty"`
}

// Participant is one person in a room as others see them.
type Participant struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	Role       string  `json:"role,omitempty"`
	AudioMuted bool    `json:"audioMuted"`
	VideoMuted bool    `json:"videoMuted"`
	Tracks     []Track `json:"tracks,omitempty"`
	// Consent to the recording going on: "agreed", "declined", or
	// empty (not answered yet, or nothing is recorded).
	Consent string `json:"consent,omitempty"`
}

// Track describes a published media track. StreamID equals the
// publisher's participant id, so a browser maps a received MediaStream to
// a person by its id.
type Track struct {
	ID       string `json:"id"`
	StreamID string `json:"streamId"`
	Kind     string `json:"kind"`
}

// Message types. Clients send join, offer, answer, candidate, mute and
// leave; the server sends the rest (and answer, offer, candidate, mute).
const (
	TypeJoin              = "join"
	TypeJoined            = "joined"
	TypeOffer             = "offer"
	TypeAnswer            = "answer"
	TypeCandidate         = "candidate"
	TypeMute              = "mute"
	TypeLeave             = "leave"
	TypeParticipantJoined = "participant-joined"
	TypeParticipantLeft   = "participant-left"
	TypeTrackPublished    = "track-published"
	TypeTrackUnpublished  = "track-unpublished"
	TypeBye               = "bye"
	TypeError             = "error"

	// The waiting room of calls tied to conversations.
	TypeWaiting  = "waiting"  // server to a customer: wait to be let in
	TypeKnock    = "knock"    // server to staff: someone waits
	TypeAdmit    = "admit"    // staff: let participant in
	TypeDecline  = "decline"  // staff: turn participant away
	TypeAdmitted = "admitted" // server: participant was let in
	TypeDeclined = "declined" // server to staff: participant was turned away
	TypeEnd      = "end"      // staff: end the call for everyone

	// Recording, with consent.
	TypeRecord    = "record"    // staff: start or stop recording
	TypeRecording = "recording" // server: recording started or stopped
	TypeConsent   = "consent"   // client: an answer; server: someone's answer
)

// Peer connection names used in the pc field.
const (
	PCPublish   = "publish"
	PCSubscribe = "subscribe"
)

// Error codes sent in error frames. The page translates each code; the
// message is English text for logs and non-browser clients.
const (
	CodeBadMessage        = "bad_message"
	CodeTooLarge          = "too_large"
	CodeUnknownType       = "unknown_type"
	CodeNotJoined         = "not_joined"
	CodeAlreadyJoined     = "already_joined"
	CodeOutOfOrder        = "out_of_order"
	CodeRoomNotFound      = "room_not_found"
	CodeForbidden         = "forbidden"
	CodeRoomFull          = "room_full"
	CodeNegotiationFailed = "negotiation_failed"
	CodeConnectionFailed  = "connection_failed"
	CodeServerBusy        = "server_busy"
	CodeDeclined          = "declined"
	CodeCallEnded         = "call_ended"
	CodeLinkInUse         = "link_in_use"
	CodeInternal          = "internal"
)

// Reasons in participant-left and bye frames.
const (
	ReasonLeft             = "left"
	ReasonGone             = "gone"
	ReasonConnectionFailed = "connection-failed"
	ReasonServerShutdown   = "server-shutdown"
	ReasonCallEnded        = "call-ended"
)

// wireError is a refusal of one client frame: a code from the list above
// and a message for people reading logs.
type wireError struct {
	Code    string
	Message string
}

func (e *wireError) Error() string { return e.Code + ": " + e.Message }

// ParseClientMessage decodes one frame from a client and checks that it
// carries what its type needs. It does not know the session's state:
// whether the message comes in the right order is the session's call.
func ParseClientMessage(data []byte) (Message, error) {
	var m Message
	if len(data) > MaxMessageSize {
		return m, &wireError{CodeTooLarge, "message larger than 64 KiB"}
	}
	if err := json.Unmarshal(data, &m); err != nil || m.Type == "" {
		return Message{}, &wireError{CodeBadMessage, "not a JSON object with a type"}
	}
	bad := func(msg string) (Message, error) { return m, &wireError{CodeBadMessage, msg} }
	switch m.Type {
	case TypeJoin:
		if m.Room == "" {
			return bad("join needs a room")
		}
	case TypeOffer, TypeAnswer:
		if m.SDP == "" {
			return bad(m.Type + " needs an sdp")
		}
		if m.PC != PCPublish && m.PC != PCSubscribe {
			return bad(`pc must be "publish" or "subscribe"`)
		}
	case TypeCandidate:
		if m.Candidate == nil {
			return bad("candidate missing")
		}
		if m.PC != PCPublish && m.PC != PCSubscribe {
			return bad(`pc must be "publish" or "subscribe"`)
		}
	case TypeMute:
		if (m.Kind != "audio" && m.Kind != "video") || m.Muted == nil {
			return bad(`mute needs kind "audio" or "video" and muted`)
		}
	case TypeAdmit, TypeDecline:
		if m.Participant == nil || m.Participant.ID == "" {
			return bad(m.Type + " needs participant.id")
		}
	case TypeRecord:
		if m.On == nil {
			return bad("record needs on: true or false")
		}
	case TypeConsent:
		if (m.Consent != "agree" && m.Consent != "decline") || m.Version == "" {
			return bad(`consent needs consent "agree" or "decline" and the text's version`)
		}
	case TypeLeave, TypeEnd:
	default:
		return m, &wireError{CodeUnknownType, "unknown message type"}
	}
	return m, nil
}
