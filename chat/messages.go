package chat

import (
	"encoding/json"
	"errors"
	"unicode/utf8"

	"videosupport/desk"
	"videosupport/store"
)

// ClientMessage is a frame from a page: hello, send or read.
type ClientMessage struct {
	Type         string `json:"type"`
	Conversation string `json:"conversation,omitempty"`
	Token        string `json:"token,omitempty"`
	Console      bool   `json:"console,omitempty"`
	After        int64  `json:"after,omitempty"`
	Body         string `json:"body,omitempty"`
	ClientID     string `json:"clientId,omitempty"`
	Seq          int64  `json:"seq,omitempty"`
}

// ServerMessage is a frame to a page. Conversation is the conversation
// (welcome, summary) or its id (event).
type ServerMessage struct {
	Type         string       `json:"type"`
	You          *Who         `json:"you,omitempty"`
	Conversation any          `json:"conversation,omitempty"`
	Event        *store.Event `json:"event,omitempty"`
	Code         string       `json:"code,omitempty"`
	Name         string       `json:"name,omitempty"`
	Message      string       `json:"message,omitempty"`
	About        string       `json:"about,omitempty"`
	// Queue is, for a customer, their place in the video queue
	// (desk.QueueStatus); for a console, the whole queue.
	Queue any `json:"queue,omitempty"`
	// Notice is an invitation to a call, for a console.
	Notice *desk.Notice `json:"notice,omitempty"`
}

// Who is the person on the socket.
type Who struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

// Frame types.
const (
	TypeHello   = "hello"
	TypeSend    = "send"
	TypeRead    = "read"
	TypeWelcome = "welcome"
	TypeEvent   = "event"
	TypeSummary = "summary"
	TypeNotice  = "notice"
	TypeError   = "error"
	TypeQueue   = "queue"
	TypeInvite  = "invite"
)

// Error and notice codes; pages translate them.
const (
	CodeBadMessage   = "bad_message"
	CodeTooLarge     = "too_large"
	CodeUnknownType  = "unknown_type"
	CodeNotReady     = "not_ready"
	CodeUnauthorized = "unauthorized"
	CodeForbidden    = "forbidden"
	CodeInternal     = "internal"

	NoticeNoAgentOnline = "no_agent_online"
	NoticeAgentAssigned = "agent_assigned"
)

// ParseClientMessage decodes one frame from a page. Unknown types pass (the
// session answers them); what is not a JSON object with a type, or is not
// valid UTF-8, is refused.
func ParseClientMessage(data []byte) (ClientMessage, error) {
	var m ClientMessage
	if len(data) > MaxMessageSize {
		return m, errors.New("message larger than 64 KiB")
	}
	if !utf8.Valid(data) {
		// JSON decoding would quietly turn bad bytes into U+FFFD.
		return m, errors.New("text is not valid UTF-8")
	}
	if err := json.Unmarshal(data, &m); err != nil || m.Type == "" {
		return ClientMessage{}, errors.New("not a JSON object with a type")
	}
	if m.After < 0 || m.Seq < 0 {
		return m, errors.New("after and seq cannot be negative")
	}
	return m, nil
}
