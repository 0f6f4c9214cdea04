// Package store is the record: conversations with their ordered timeline,
// staff accounts and sessions, API keys, webhooks and their delivery
// queue. It defines the types and the small interfaces the rest of the
// server uses; backends (store/sqlite, store/postgres) implement them and
// pass one contract suite (store/storetest). Only cmd picks a backend.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Errors every backend returns, checked with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
)

// Status of a conversation.
type Status string

// Conversation statuses.
const (
	StatusOpen    Status = "open"    // someone is on it
	StatusWaiting Status = "waiting" // in the human queue, unassigned
	StatusClosed  Status = "closed"
)

// Handler says who answers a conversation now.
type Handler string

// Handlers.
const (
	HandlerBot   Handler = "bot"
	HandlerHuman Handler = "human"
)

// Roles of the people and programs that act on a record.
const (
	RoleCustomer    = "customer"
	RoleAgent       = "agent"
	RoleSpecialist  = "specialist"
	RoleAdmin       = "admin"
	RoleBot         = "bot"
	RoleIntegration = "integration"
	RoleSystem      = "system"
)

// Conversation is one customer's record.
type Conversation struct {
	ID              string    `json:"id"`
	CustomerName    string    `json:"customerName"`
	CustomerContact string    `json:"customerContact"`
	Channel         string    `json:"channel"`
	Status          Status    `json:"status"`
	Handler         Handler   `json:"handler"`
	AssignedTo      string    `json:"assignedTo,omitempty"`
	AssignedName    string    `json:"assignedName,omitempty"`
	CreatedAt       time.Time `json:"createdAt"`
	UpdatedAt       time.Time `json:"updatedAt"`
	// LastSeq is the position of the newest timeline event.
	LastSeq int64 `json:"lastSeq"`
	// LastMessage is the newest message's body, for lists.
	LastMessage string `json:"lastMessage,omitempty"`
	// Unread counts customer messages after the reader's mark; only
	// lists made for a staff member fill it.
	Unread int `json:"unread"`
	// CustomerTokenHash authenticates the customer; never sent out.
	CustomerTokenHash []byte `json:"-"`
}

// Event types of the timeline.
const (
	EventCreated     = "conversation.created"
	EventMessage     = "message"
	EventNote        = "note"
	EventAssigned    = "conversation.assigned"
	EventHandedOver  = "conversation.handed_over"
	EventWaiting     = "conversation.waiting"
	EventClosed      = "conversation.closed"
	EventReopened    = "conversation.reopened"
	EventCallStarted = "call.started"
	EventCallEnded   = "call.ended"
	EventJoined      = "participant.joined"
	EventLeft        = "participant.left"

	// Steps of a call and of the way to it.
	EventCallLinkOpened  = "call.link_opened"  // a join link was exchanged for a session
	EventCallLinkRefused = "call.link_refused" // a bad link was tried; Data says why
	EventCallKnocked     = "call.knocked"      // the customer waits to be let in
	EventCallAdmitted    = "call.admitted"     // staff let them in
	EventCallDeclined    = "call.declined"     // staff turned them away
	EventCallInvited     = "call.invited"      // staff asked a colleague to join
	EventCallTransferred = "call.transferred"  // the conversation moved to who stayed
	EventVideoRequested  = "call.requested"    // the customer asked for a video call
	EventCallbackOffered = "call.callback_offered"
	EventCallbackChosen  = "call.callback_requested"
	EventKeptWaiting     = "call.kept_waiting"
	EventVideoWithdrawn  = "call.request_withdrawn"

	// Recording and its audit trail.
	EventRecordingStarted = "recording.started"
	EventRecordingStopped = "recording.stopped"
	EventConsent          = "recording.consent" // who, consent text version, choice
	EventRecordingReady   = "recording.ready"
	EventRecordingFailed  = "recording.failed"
	EventRecordingPlayed  = "recording.played"     // audit: staff played it
	EventRecordingFetched = "recording.downloaded" // audit: staff downloaded it
	EventRecordingDeleted = "recording.deleted"
)

// EventData encodes v as an event's Data. Values of ours always
// encode; a value that would not is a programming error and gives null.
func EventData(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

// CustomerSees reports whether the customer's own views of the record
// show an event: notes and staff-only steps (hand-over notes, invitations,
// refused links) are for staff.
func CustomerSees(e Event) bool {
	switch e.Type {
	case EventNote, EventCallInvited, EventCallLinkRefused, EventCallTransferred,
		EventRecordingPlayed, EventRecordingFetched:
		return false
	}
	return true
}

// Actor is who did something.
type Actor struct {
	ID   string `json:"actorId,omitempty"`
	Name string `json:"actorName"`
	Role string `json:"actorRole"`
}

// Event is one entry of a conversation's timeline. Messages are events of
// type "message" with a Body, so one sequence orders everything.
type Event struct {
	ConversationID string `json:"conversationId"`
	// Seq is the event's position in its conversation: 1, 2, 3, ...
	// with no gaps.
	Seq  int64  `json:"seq"`
	ID   string `json:"id"`
	Type string `json:"type"`
	Actor
	Body string `json:"body,omitempty"`
	// ClientID makes a retried message idempotent.
	ClientID  string          `json:"clientId,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
	CreatedAt time.Time       `json:"createdAt"`
}

// ListFilter selects conversations.
type ListFilter struct {
	ID         string   // "": any conversation
	Statuses   []Status // none: every status
	AssignedTo string   // "": anyone
	Handler    Handler  // "": any
	// Reader, when set, fills Unread for that staff member.
	Reader string
	Limit  int
}

// Conversations stores records. Every change to a conversation appends
// its event in the same transaction, so the timeline is the truth.
type Conversations interface {
	// CreateConversation stores c and its created event (and the first
	// message, if any). It fills c's ID, times and seq.
	CreateConversation(ctx context.Context, c Conversation, by Actor, firstMessage string) (Conversation, []Event, error)
	Conversation(ctx context.Context, id string) (Conversation, error)
	ListConversations(ctx context.Context, f ListFilter) ([]Conversation, error)
	// Append adds an event at the end of the timeline. A message with a
	// ClientID already used in the conversation returns the stored one
	// and ErrConflict.
	Append(ctx context.Context, e Event) (Event, error)
	// Events returns events with Seq > after, in order; types filters
	// when not empty.
	Events(ctx context.Context, conversationID string, after int64, limit int, types ...string) ([]Event, error)
	// Update changes the conversation's status, handler and assignment
	// and appends e, atomically.
	Update(ctx context.Context, id string, change Change, e Event) (Conversation, Event, error)
	// MarkRead records that staffID has read up to seq.
	MarkRead(ctx context.Context, conversationID, staffID string, seq int64) error
	// DeleteConversation removes a conversation and everything in it
	// (timeline, calls, recordings' entries); ErrNotFound if none.
	DeleteConversation(ctx context.Context, id string) error
}

// Change is what Update may set; nil fields stay as they are.
type Change struct {
	Status       *Status
	Handler      *Handler
	AssignedTo   *string
	AssignedName *string
}

// Availability of a staff member.
const (
	Online = "online"
	Busy   = "busy"
	Away   = "away"
)

// Staff is a person who works conversations.
type Staff struct {
	ID           string    `json:"id"`
	Email        string    `json:"email"`
	Name         string    `json:"name"`
	Role         string    `json:"role"`
	Availability string    `json:"availability"`
	Disabled     bool      `json:"disabled"`
	CreatedAt    time.Time `json:"createdAt"`
	PasswordHash string    `json:"-"`
}

// Session is a signed-in browser.
type Session struct {
	TokenHash []byte
	StaffID   string
	CSRFToken string
	ExpiresAt time.Time
}

// APIKey lets a program use the API.
type APIKey struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	CreatedAt time.Time  `json:"createdAt"`
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
	Hash      []byte     `json:"-"`
}

// Accounts stores staff, their sessions and API keys.
type Accounts interface {
	CreateStaff(ctx context.Context, s Staff) (Staff, error)
	StaffByID(ctx context.Context, id string) (Staff, error)
	StaffByEmail(ctx context.Context, email string) (Staff, error)
	ListStaff(ctx context.Context) ([]Staff, error)
	UpdateStaff(ctx context.Context, s Staff) error

	CreateSession(ctx context.Context, s Session) error
	SessionByHash(ctx context.Context, hash []byte) (Session, error)
	DeleteSession(ctx context.Context, hash []byte) error

	CreateAPIKey(ctx context.Context, k APIKey) (APIKey, error)
	APIKeyByID(ctx context.Context, id string) (APIKey, error)
	ListAPIKeys(ctx context.Context) ([]APIKey, error)
	RevokeAPIKey(ctx context.Context, id string, at time.Time) error
}

// Webhook is an endpoint an admin registered.
type Webhook struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	CreatedAt time.Time `json:"createdAt"`
	Secret    string    `json:"-"`
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Delivery is one event on its way to one webhook.
type Delivery struct {
	ID          string          `json:"id"`
	WebhookID   string          `json:"webhookId"`
	Event       string          `json:"event"`
	Payload     json.RawMessage `json:"-"`
	Status      string          `json:"status"`
	Attempts    int             `json:"attempts"`
	LastStatus  int             `json:"lastStatus,omitempty"`
	LastError   string          `json:"lastError,omitempty"`
	NextAttempt time.Time       `json:"nextAttempt"`
	CreatedAt   time.Time       `json:"createdAt"`
	DeliveredAt *time.Time      `json:"deliveredAt,omitempty"`
}

// Webhooks stores endpoints and the queue of deliveries to them.
type Webhooks interface {
	CreateWebhook(ctx context.Context, w Webhook) (Webhook, error)
	ListWebhooks(ctx context.Context) ([]Webhook, error)
	DeleteWebhook(ctx context.Context, id string) error
	// Enqueue queues one delivery per webhook subscribed to d.Event.
	// payload builds the body for a delivery id.
	Enqueue(ctx context.Context, event string, payload func(deliveryID string) ([]byte, error)) (int, error)
	// Due returns pending deliveries whose next attempt is at or before
	// now, oldest first.
	Due(ctx context.Context, now time.Time, limit int) ([]Delivery, error)
	// Attempted records the outcome of an attempt.
	Attempted(ctx context.Context, d Delivery) error
	Deliveries(ctx context.Context, webhookID string, limit int) ([]Delivery, error)
	Webhook(ctx context.Context, id string) (Webhook, error)
}

// Call states.
const (
	CallActive = "active"
	CallEnded  = "ended"
)

// Call is a video call tied to a conversation.
type Call struct {
	ID             string     `json:"id"`
	ConversationID string     `json:"conversationId"`
	Status         string     `json:"status"`
	StartedBy      string     `json:"startedBy,omitempty"`
	StartedByName  string     `json:"startedByName,omitempty"`
	StartedAt      time.Time  `json:"startedAt"`
	EndedAt        *time.Time `json:"endedAt,omitempty"`
}

// VideoRequest is a customer waiting in the video queue.
type VideoRequest struct {
	ConversationID string    `json:"conversationId"`
	CustomerName   string    `json:"customerName"`
	RequestedAt    time.Time `json:"requestedAt"`
	// WaitingSince is when the wait for a callback offer started: the
	// request, or the customer's choice to keep waiting.
	WaitingSince time.Time  `json:"waitingSince"`
	OfferedAt    *time.Time `json:"callbackOfferedAt,omitempty"`
}

// Calls stores calls and the video queue. Each change appends its event
// to the conversation's timeline in the same transaction.
type Calls interface {
	// StartCall stores a new active call and e, and takes the
	// conversation out of the video queue. A conversation with a call
	// going on returns that call and ErrConflict.
	StartCall(ctx context.Context, c Call, e Event) (Call, Event, error)
	Call(ctx context.Context, id string) (Call, error)
	// ActiveCall is the conversation's call going on, or ErrNotFound.
	ActiveCall(ctx context.Context, conversationID string) (Call, error)
	// EndCall marks the call ended and appends e; a call already ended
	// returns ErrConflict and appends nothing.
	EndCall(ctx context.Context, id string, e Event) (Call, Event, error)

	// RequestVideo puts the conversation in the video queue and appends
	// e; already there, it returns ErrConflict and appends nothing.
	RequestVideo(ctx context.Context, conversationID string, e Event) (Event, error)
	// LeaveVideoQueue takes the conversation out of the queue and
	// appends e; not there, ErrNotFound.
	LeaveVideoQueue(ctx context.Context, conversationID string, e Event) (Event, error)
	// OfferCallback marks the request offered a callback and appends e,
	// once: a request already offered, or gone, returns ErrConflict.
	OfferCallback(ctx context.Context, conversationID string, e Event) (Event, error)
	// RenewVideoRequest restarts the wait of a request that was offered
	// a callback (the customer chose to keep waiting) and appends e.
	RenewVideoRequest(ctx context.Context, conversationID string, e Event) (Event, error)
	// VideoQueue lists the queue, longest waiting first.
	VideoQueue(ctx context.Context) ([]VideoRequest, error)
}

// Recording states.
const (
	RecordingActive     = "recording"  // tracks are being written
	RecordingProcessing = "processing" // the call's file is being built
	RecordingReady      = "ready"
	RecordingFailed     = "failed"
	RecordingDeleted    = "deleted" // past retention, or its conversation's key destroyed
)

// Recording is one recorded call (or part of one), attached to its
// conversation.
type Recording struct {
	ID             string `json:"id"`
	ConversationID string `json:"conversationId"`
	CallID         string `json:"callId"`
	Status         string `json:"status"`
	// Interrupted: the server stopped while recording; the files were
	// repaired up to about that moment.
	Interrupted  bool       `json:"interrupted"`
	StartedAt    time.Time  `json:"startedAt"`
	EndedAt      *time.Time `json:"endedAt,omitempty"`
	DurationMs   int64      `json:"durationMs"`
	Participants []string   `json:"participants"`
	Size         int64      `json:"size"`
	SHA256       string     `json:"sha256,omitempty"`
	// Progress of building the call's file, 0 to 1, while processing.
	Progress float64 `json:"progress"`
	Error    string  `json:"error,omitempty"`
	// BlobKey is where the call's file is kept; never sent out.
	BlobKey string `json:"-"`
}

// Recordings stores recordings. Changes may append an event to the
// conversation's timeline in the same transaction.
type Recordings interface {
	// CreateRecording stores r (its ID filled when empty) and e.
	CreateRecording(ctx context.Context, r Recording, e Event) (Recording, Event, error)
	Recording(ctx context.Context, id string) (Recording, error)
	// ListRecordings lists a conversation's recordings, oldest first.
	ListRecordings(ctx context.Context, conversationID string) ([]Recording, error)
	// RecordingsByStatus lists recordings in any of the statuses, oldest
	// first (unfinished ones after a crash; ready ones for retention).
	RecordingsByStatus(ctx context.Context, statuses ...string) ([]Recording, error)
	// UpdateRecording saves every field of r but its ids and start, and
	// appends e when it is not nil.
	UpdateRecording(ctx context.Context, r Recording, e *Event) (Event, error)
}

// Store is everything a backend provides.
type Store interface {
	Conversations
	Accounts
	Webhooks
	Calls
	Recordings
	Close() error
}
