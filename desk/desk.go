// Package desk is the support logic between the two doors (the REST API
// and the websockets) and the record: starting conversations, posting
// messages, routing to agents round-robin, bot hand-over, and telling
// everyone who watches a conversation what changed, live.
package desk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"videosupport/auth"
	"videosupport/store"
)

// MaxBodyRunes is the longest message or note.
const MaxBodyRunes = 4000

// Errors callers map to answers.
var (
	ErrBadInput  = errors.New("bad input")
	ErrForbidden = errors.New("not allowed")
)

// Publisher sends events to the outside (webhooks).
type Publisher interface {
	Publish(ctx context.Context, typ string, data any) error
}

// Desk runs conversations.
type Desk struct {
	st    store.Store
	hooks Publisher
	log   *slog.Logger

	mu       sync.Mutex
	present  map[string]int // staff id -> open consoles
	rr       int
	watchers map[string]map[*watcher]struct{} // conversation id -> watchers
	consoles map[*watcher]struct{}

	calls *calls // nil until EnableCalls
}

type watcher struct {
	event   func(store.Event)
	summary func(store.Conversation)
}

// New returns a Desk. hooks may be nil.
func New(st store.Store, hooks Publisher, log *slog.Logger) *Desk {
	return &Desk{st: st, hooks: hooks, log: log, present: map[string]int{},
		watchers: map[string]map[*watcher]struct{}{}, consoles: map[*watcher]struct{}{}}
}

// Store returns the record the desk writes to, for reads.
func (d *Desk) Store() store.Store { return d.st }

// Watch calls fn with every new event of a conversation until cancel. fn
// must not block.
func (d *Desk) Watch(conversationID string, fn func(store.Event)) (cancel func()) {
	w := &watcher{event: fn}
	d.mu.Lock()
	if d.watchers[conversationID] == nil {
		d.watchers[conversationID] = map[*watcher]struct{}{}
	}
	d.watchers[conversationID][w] = struct{}{}
	d.mu.Unlock()
	return func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		delete(d.watchers[conversationID], w)
		if len(d.watchers[conversationID]) == 0 {
			delete(d.watchers, conversationID)
		}
	}
}

// WatchConsole calls fn with a conversation's summary whenever it
// changes, until cancel. fn must not block. A staff console counts as
// present for routing while it watches.
func (d *Desk) WatchConsole(ctx context.Context, staffID string, fn func(store.Conversation)) (cancel func()) {
	w := &watcher{summary: fn}
	d.mu.Lock()
	d.consoles[w] = struct{}{}
	d.present[staffID]++
	d.mu.Unlock()
	d.assignWaiting(ctx)
	return func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		delete(d.consoles, w)
		if d.present[staffID]--; d.present[staffID] <= 0 {
			delete(d.present, staffID)
		}
	}
}

// publish tells watchers and consoles about new events of c.
func (d *Desk) publish(c store.Conversation, events ...store.Event) {
	d.mu.Lock()
	var ws, cs []*watcher
	for w := range d.watchers[c.ID] {
		ws = append(ws, w)
	}
	for w := range d.consoles {
		cs = append(cs, w)
	}
	d.mu.Unlock()
	for _, e := range events {
		for _, w := range ws {
			w.event(e)
		}
	}
	for _, w := range cs {
		w.summary(c)
	}
}

// hook sends a webhook event, logging (not failing) on error: the record
// is already written.
func (d *Desk) hook(ctx context.Context, typ string, data any) {
	if d.hooks == nil {
		return
	}
	if err := d.hooks.Publish(ctx, typ, data); err != nil {
		d.log.Error("queue webhook", "event", typ, "err", err)
	}
}

// StartRequest is a new conversation.
type StartRequest struct {
	CustomerName    string
	CustomerContact string
	Channel         string
	Message         string
}

// Start opens a conversation and routes it: to the bot when one is
// configured, otherwise to the next online agent, otherwise to the queue
// (and the customer is told). It returns the customer's token.
func (d *Desk) Start(ctx context.Context, req StartRequest) (store.Conversation, string, error) {
	name := cleanLine(req.CustomerName, 80)
	if name == "" {
		return store.Conversation{}, "", fmt.Errorf("%w: a name is required", ErrBadInput)
	}
	msg, err := cleanBody(req.Message, true)
	if err != nil {
		return store.Conversation{}, "", err
	}
	channel := req.Channel
	switch channel {
	case "":
		channel = "web"
	case "web", "sms", "whatsapp", "email", "api":
	default:
		return store.Conversation{}, "", fmt.Errorf("%w: unknown channel %q", ErrBadInput, channel)
	}
	handler := store.HandlerHuman
	if d.botConfigured(ctx) {
		handler = store.HandlerBot
	}
	id := auth.NewConversationID()
	token, hash := auth.NewCustomerToken(id)
	c, events, err := d.st.CreateConversation(ctx, store.Conversation{
		ID: id, CustomerName: name, CustomerContact: cleanLine(req.CustomerContact, 120), Channel: channel,
		Status: store.StatusWaiting, Handler: handler, CustomerTokenHash: hash,
	}, store.Actor{ID: id, Name: name, Role: store.RoleCustomer}, msg)
	if err != nil {
		return store.Conversation{}, "", err
	}
	d.log.Info("conversation started", "conversation", c.ID, "channel", channel, "handler", handler)
	d.publish(c, events...)
	d.hook(ctx, "conversation.created", map[string]any{"conversation": c})
	for _, e := range events[1:] {
		d.hook(ctx, "message.created", map[string]any{"conversation": c, "message": e})
	}
	if handler == store.HandlerHuman {
		if c, err = d.route(ctx, c); err != nil {
			return c, token, err
		}
	}
	return c, token, nil
}

func (d *Desk) botConfigured(ctx context.Context) bool {
	keys, err := d.st.ListAPIKeys(ctx)
	if err != nil {
		d.log.Error("list api keys", "err", err)
		return false
	}
	for _, k := range keys {
		if k.Role == store.RoleBot && k.RevokedAt == nil {
			return true
		}
	}
	return false
}

// Post adds a message (or, for staff and bots, a note) as caller.
func (d *Desk) Post(ctx context.Context, conversationID string, caller auth.Caller, body, clientID string, note bool) (store.Event, error) {
	if err := d.mayReach(caller, conversationID); err != nil {
		return store.Event{}, err
	}
	if note && caller.Kind == auth.KindCustomer {
		return store.Event{}, fmt.Errorf("%w: customers cannot write notes", ErrForbidden)
	}
	text, err := cleanBody(body, false)
	if err != nil {
		return store.Event{}, err
	}
	if len(clientID) > 64 {
		return store.Event{}, fmt.Errorf("%w: clientId longer than 64 characters", ErrBadInput)
	}
	typ := store.EventMessage
	if note {
		typ = store.EventNote
	}
	c, err := d.st.Conversation(ctx, conversationID)
	if err != nil {
		return store.Event{}, err
	}
	e, err := d.st.Append(ctx, store.Event{ConversationID: conversationID, Type: typ, Actor: caller.Actor(), Body: text, ClientID: clientID})
	if errors.Is(err, store.ErrConflict) {
		return e, nil // a retry: the first copy stands
	}
	if err != nil {
		return store.Event{}, err
	}
	c.LastSeq, c.UpdatedAt = e.Seq, e.CreatedAt
	if typ == store.EventMessage {
		c.LastMessage = text
	}
	d.publish(c, e)
	if typ == store.EventMessage {
		d.hook(ctx, "message.created", map[string]any{"conversation": c, "message": e})
	}
	// A customer who writes into a closed conversation opens it again.
	if caller.Kind == auth.KindCustomer && c.Status == store.StatusClosed {
		if _, err := d.Reopen(ctx, conversationID, caller); err != nil {
			d.log.Error("reopen", "conversation", conversationID, "err", err)
		}
	}
	return e, nil
}

// mayReach refuses a customer any conversation but their own.
func (d *Desk) mayReach(caller auth.Caller, conversationID string) error {
	if caller.Kind == auth.KindCustomer && caller.ConversationID != conversationID {
		return ErrForbidden
	}
	return nil
}

// Assign gives a conversation to a staff member.
func (d *Desk) Assign(ctx context.Context, conversationID, staffID string, by store.Actor) (store.Conversation, error) {
	st, err := d.st.StaffByID(ctx, staffID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && st.Disabled) {
		return store.Conversation{}, fmt.Errorf("%w: no such staff member", ErrBadInput)
	}
	if err != nil {
		return store.Conversation{}, err
	}
	open, handler := store.StatusOpen, store.HandlerHuman
	data, _ := json.Marshal(map[string]string{"staffId": st.ID, "staffName": st.Name})
	c, e, err := d.st.Update(ctx, conversationID, store.Change{Status: &open, Handler: &handler, AssignedTo: &st.ID, AssignedName: &st.Name},
		store.Event{Type: store.EventAssigned, Actor: by, Data: data})
	if err != nil {
		return store.Conversation{}, err
	}
	d.publish(c, e)
	d.hook(ctx, "conversation.assigned", map[string]any{"conversation": c, "staff": st})
	return c, nil
}

// Handover moves a conversation from the bot to the human queue, with the
// bot's summary as the note the agent reads first.
func (d *Desk) Handover(ctx context.Context, conversationID string, bot auth.Caller, summary string) (store.Conversation, error) {
	text, err := cleanBody(summary, false)
	if err != nil {
		return store.Conversation{}, err
	}
	c, err := d.st.Conversation(ctx, conversationID)
	if err != nil {
		return c, err
	}
	note, err := d.st.Append(ctx, store.Event{ConversationID: conversationID, Type: store.EventNote, Actor: bot.Actor(), Body: text})
	if err != nil {
		return c, err
	}
	waiting, human, nobody := store.StatusWaiting, store.HandlerHuman, ""
	data, _ := json.Marshal(map[string]string{"summary": text})
	c, e, err := d.st.Update(ctx, conversationID, store.Change{Status: &waiting, Handler: &human, AssignedTo: &nobody, AssignedName: &nobody},
		store.Event{Type: store.EventHandedOver, Actor: bot.Actor(), Data: data})
	if err != nil {
		return c, err
	}
	d.publish(c, note, e)
	d.hook(ctx, "conversation.handed_over", map[string]any{"conversation": c, "summary": text})
	return d.route(ctx, c)
}

// Close ends a conversation; Reopen puts it back in the queue.
func (d *Desk) Close(ctx context.Context, conversationID string, by auth.Caller) (store.Conversation, error) {
	closed := store.StatusClosed
	c, e, err := d.st.Update(ctx, conversationID, store.Change{Status: &closed}, store.Event{Type: store.EventClosed, Actor: by.Actor()})
	if err != nil {
		return c, err
	}
	d.publish(c, e)
	return c, nil
}

// Reopen puts a closed conversation back with its agent, or in the queue.
func (d *Desk) Reopen(ctx context.Context, conversationID string, by auth.Caller) (store.Conversation, error) {
	c, err := d.st.Conversation(ctx, conversationID)
	if err != nil {
		return c, err
	}
	status := store.StatusWaiting
	if c.AssignedTo != "" {
		status = store.StatusOpen
	}
	c, e, err := d.st.Update(ctx, conversationID, store.Change{Status: &status}, store.Event{Type: store.EventReopened, Actor: by.Actor()})
	if err != nil {
		return c, err
	}
	d.publish(c, e)
	if c.AssignedTo == "" && c.Handler == store.HandlerHuman {
		return d.route(ctx, c)
	}
	return c, nil
}

// MarkRead records what a staff member has read and refreshes their
// consoles' unread counts.
func (d *Desk) MarkRead(ctx context.Context, conversationID, staffID string, seq int64) error {
	if err := d.st.MarkRead(ctx, conversationID, staffID, seq); err != nil {
		return err
	}
	c, err := d.st.Conversation(ctx, conversationID)
	if err != nil {
		return err
	}
	d.publish(c)
	return nil
}

// SetAvailability changes a staff member's availability; an agent who
// comes online picks up waiting conversations.
func (d *Desk) SetAvailability(ctx context.Context, staffID, availability string) (store.Staff, error) {
	switch availability {
	case store.Online, store.Busy, store.Away:
	default:
		return store.Staff{}, fmt.Errorf("%w: availability must be online, busy or away", ErrBadInput)
	}
	st, err := d.st.StaffByID(ctx, staffID)
	if err != nil {
		return st, err
	}
	st.Availability = availability
	if err := d.st.UpdateStaff(ctx, st); err != nil {
		return st, err
	}
	if availability == store.Online {
		d.assignWaiting(ctx)
	}
	return st, nil
}

// route assigns c to the next online agent with a console open, or, with
// nobody there, records that it waits (the customer sees it).
func (d *Desk) route(ctx context.Context, c store.Conversation) (store.Conversation, error) {
	agent, ok, err := d.nextAgent(ctx)
	if err != nil {
		return c, err
	}
	system := store.Actor{Name: "system", Role: store.RoleSystem}
	if !ok {
		waiting := store.StatusWaiting
		c, e, err := d.st.Update(ctx, c.ID, store.Change{Status: &waiting}, store.Event{Type: store.EventWaiting, Actor: system})
		if err != nil {
			return c, err
		}
		d.publish(c, e)
		return c, nil
	}
	return d.Assign(ctx, c.ID, agent.ID, system)
}

// nextAgent picks round-robin among agents (and admins) who are online
// and have a console open.
func (d *Desk) nextAgent(ctx context.Context) (store.Staff, bool, error) {
	all, err := d.st.ListStaff(ctx)
	if err != nil {
		return store.Staff{}, false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var ready []store.Staff
	for _, st := range all {
		if !st.Disabled && st.Availability == store.Online && d.present[st.ID] > 0 &&
			(st.Role == store.RoleAgent || st.Role == store.RoleAdmin) {
			ready = append(ready, st)
		}
	}
	if len(ready) == 0 {
		return store.Staff{}, false, nil
	}
	sort.Slice(ready, func(i, j int) bool { return ready[i].ID < ready[j].ID })
	st := ready[d.rr%len(ready)]
	d.rr++
	return st, true, nil
}

// assignWaiting routes every human-queue conversation nobody has.
func (d *Desk) assignWaiting(ctx context.Context) {
	waiting, err := d.st.ListConversations(ctx, store.ListFilter{Statuses: []store.Status{store.StatusWaiting}, Handler: store.HandlerHuman})
	if err != nil {
		d.log.Error("list waiting", "err", err)
		return
	}
	for i := len(waiting) - 1; i >= 0; i-- { // oldest first
		c := waiting[i]
		if c.AssignedTo != "" {
			continue
		}
		agent, ok, err := d.nextAgent(ctx)
		if err != nil || !ok {
			return
		}
		if _, err := d.Assign(ctx, c.ID, agent.ID, store.Actor{Name: "system", Role: store.RoleSystem}); err != nil {
			d.log.Error("assign waiting", "conversation", c.ID, "err", err)
		}
	}
}

// cleanBody checks a message: valid UTF-8, no control characters but
// newlines and tabs, 1 to MaxBodyRunes characters after trimming.
func cleanBody(s string, optional bool) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: text is not valid UTF-8", ErrBadInput)
	}
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || !unicode.IsControl(r) {
			return r
		}
		return -1
	}, s)
	s = strings.TrimSpace(s)
	if s == "" && !optional {
		return "", fmt.Errorf("%w: the message is empty", ErrBadInput)
	}
	if utf8.RuneCountInString(s) > MaxBodyRunes {
		return "", fmt.Errorf("%w: the message is longer than %d characters", ErrBadInput, MaxBodyRunes)
	}
	return s, nil
}

// cleanLine is cleanBody for one-line fields, cut to max characters.
func cleanLine(s string, max int) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max])
	}
	return s
}
