package desk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"videosupport/auth"
	"videosupport/store"
)

// Why a join link was refused; pages show each its own words, and the
// record keeps the reason.
var (
	ErrLinkTampered  = errors.New("link_tampered")
	ErrLinkExpired   = errors.New("link_expired")
	ErrLinkRevoked   = errors.New("link_revoked") // its call has ended
	ErrLinkWrongCall = errors.New("link_wrong_call")
	ErrLinkWrongRole = errors.New("link_wrong_role")
)

// CallConfig turns on calls tied to conversations.
type CallConfig struct {
	// PublicURL is where people reach the server, for links.
	PublicURL string
	Links     *auth.LinkSigner
	// LinkTTL is how long a join link can be opened; 0 means 24 h.
	LinkTTL time.Duration
	// CallbackAfter is how long a customer waits in the video queue
	// before a callback is offered; 0 means 3 minutes.
	CallbackAfter time.Duration
	// WaitLimit is how long a customer waits to be let in before the
	// page offers to leave a message instead; 0 means 5 minutes.
	WaitLimit time.Duration
	// Rooms disconnects everyone from a call ended through the API.
	Rooms CallRooms
}

// CallRooms is the live side of calls (the signaling server).
type CallRooms interface {
	EndCall(callID string) bool
}

// Link is a join link to give someone.
type Link struct {
	URL     string    `json:"url"`
	Role    string    `json:"role"`
	Expires time.Time `json:"expires"`
}

// CallSession is what a browser holds once it has exchanged a link (or a
// staff member chose to join): the signed token goes in an HttpOnly
// cookie; the rest tells the page where it is.
type CallSession struct {
	Token          string    `json:"-"`
	CallID         string    `json:"callId"`
	ConversationID string    `json:"conversationId"`
	Role           string    `json:"role"`
	Name           string    `json:"name"`
	HostName       string    `json:"hostName,omitempty"`
	Expires        time.Time `json:"expires"`
	// WaitLimitSeconds: after this long in the waiting room the page
	// offers to leave a message instead.
	WaitLimitSeconds int `json:"waitLimitSeconds"`
}

// CallGrant is who may be in a call, as the signaling door needs it.
type CallGrant struct {
	Role, CallID, ConversationID, SessionID, Name, StaffID, Seat string
}

// CallPerson is someone in a call, as signaling sees them.
type CallPerson struct {
	ID   string // participant id
	Name string
	Role string
}

// Steps of a call reported by the signaling door.
const (
	StepKnocked  = "knocked"
	StepAdmitted = "admitted"
	StepDeclined = "declined"
	StepJoined   = "joined"
	StepLeft     = "left"
)

// Notice is something a staff member's consoles are told directly.
type Notice struct {
	Type           string `json:"type"` // "invite"
	ConversationID string `json:"conversationId"`
	CallID         string `json:"callId"`
	CustomerName   string `json:"customerName"`
	From           string `json:"from"`
	Note           string `json:"note,omitempty"`
}

// QueueStatus is a customer's place in the video queue.
type QueueStatus struct {
	InQueue         bool `json:"inQueue"`
	Position        int  `json:"position,omitempty"`
	EstimateSeconds int  `json:"estimateSeconds,omitempty"`
	CallbackOffered bool `json:"callbackOffered,omitempty"`
}

// calls is the desk's state for calls: who of the staff is in which call
// (for transfers), queue watchers, staff notice watchers.
type calls struct {
	cfg CallConfig

	mu      sync.Mutex
	inCall  map[string]map[string]CallGrant // call id -> participant id -> grant
	queueWs map[*func([]QueueEntry)]struct{}
	staffWs map[string]map[*func(Notice)]struct{}
	// pending invitations by staff id, until they join the call or it
	// ends: a console that opens later still shows them.
	pending  map[string][]Notice
	avgWait  time.Duration // recent time from request to a call, for estimates
	stopLoop context.CancelFunc
}

// EnableCalls turns on calls with cfg. Call it once, before serving.
func (d *Desk) EnableCalls(cfg CallConfig) {
	if cfg.LinkTTL == 0 {
		cfg.LinkTTL = 24 * time.Hour
	}
	if cfg.CallbackAfter == 0 {
		cfg.CallbackAfter = 3 * time.Minute
	}
	if cfg.WaitLimit == 0 {
		cfg.WaitLimit = 5 * time.Minute
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	d.calls = &calls{cfg: cfg, inCall: map[string]map[string]CallGrant{}, queueWs: map[*func([]QueueEntry)]struct{}{},
		staffWs: map[string]map[*func(Notice)]struct{}{}, pending: map[string][]Notice{}, avgWait: 2 * time.Minute}
}

var errCallsOff = errors.New("calls are not enabled")

// record appends e to its conversation, tells watchers and consoles, and
// fires the webhook of the same name when hook is set.
func (d *Desk) record(ctx context.Context, e store.Event, hook map[string]any) (store.Event, error) {
	e, err := d.st.Append(ctx, e)
	if err != nil {
		return e, err
	}
	d.announce(ctx, e, hook)
	return e, nil
}

// Record appends an event to its conversation and tells the live pages;
// hook, when not nil, is also sent to webhooks under the event's type.
// It is for parts that write the record beside the desk (recording).
func (d *Desk) Record(ctx context.Context, e store.Event, hook map[string]any) (store.Event, error) {
	return d.record(ctx, e, hook)
}

// Announce tells the live pages (and webhooks, when hook is not nil) of
// an event already stored.
func (d *Desk) Announce(ctx context.Context, e store.Event, hook map[string]any) {
	d.announce(ctx, e, hook)
}

// announce tells watchers and consoles of an event already stored, and
// fires its webhook when hook is set.
func (d *Desk) announce(ctx context.Context, e store.Event, hook map[string]any) {
	c, err := d.st.Conversation(ctx, e.ConversationID)
	if err != nil {
		d.log.Error("read conversation", "conversation", e.ConversationID, "err", err)
		return
	}
	d.publish(c, e)
	if hook != nil {
		hook["conversation"] = c
		hook["event"] = e
		d.hook(ctx, e.Type, hook)
	}
}

// StartCall escalates a conversation to video: a call tied to it, whose
// customer join link is posted into the chat (as a call.started event the
// customer's page shows as a button). A conversation with a call going on
// gets that call back, with its link. Staff who start it from the queue
// take the conversation.
func (d *Desk) StartCall(ctx context.Context, conversationID string, by auth.Caller) (store.Call, Link, error) {
	if d.calls == nil {
		return store.Call{}, Link{}, errCallsOff
	}
	if by.Kind == auth.KindCustomer {
		return store.Call{}, Link{}, ErrForbidden
	}
	c, err := d.st.Conversation(ctx, conversationID)
	if err != nil {
		return store.Call{}, Link{}, err
	}
	if c.Status == store.StatusClosed {
		return store.Call{}, Link{}, fmt.Errorf("%w: the conversation is closed", ErrBadInput)
	}
	queue, _ := d.st.VideoQueue(ctx)
	id := newCallID()
	link := d.customerLink(id)
	call, e, err := d.st.StartCall(ctx, store.Call{ID: id, ConversationID: c.ID, StartedBy: by.ID, StartedByName: by.Name},
		store.Event{Type: store.EventCallStarted, Actor: by.Actor(),
			Data: store.EventData(map[string]any{"callId": id, "joinUrl": link.URL, "expires": link.Expires})})
	if errors.Is(err, store.ErrConflict) {
		return call, d.customerLink(call.ID), nil
	}
	if err != nil {
		return call, Link{}, err
	}
	d.log.Info("call started", "conversation", c.ID, "call", call.ID, "by", by.ID)
	d.announce(ctx, e, map[string]any{"call": call, "customerLink": link})
	for _, q := range queue {
		if q.ConversationID == c.ID {
			d.learnWait(time.Since(q.RequestedAt))
			d.queueChanged()
		}
	}
	if by.IsStaff() && c.AssignedTo == "" {
		if _, err := d.Assign(ctx, c.ID, by.ID, by.Actor()); err != nil {
			d.log.Error("assign on call start", "conversation", c.ID, "err", err)
		}
	}
	return call, link, nil
}

func newCallID() string { return auth.NewRoomID() }

// customerLink is the call's customer link. Its link id is the call's,
// so every customer link of a call shares one seat: one device at a time.
func (d *Desk) customerLink(callID string) Link {
	return d.link(callID, auth.CallCustomer, "customer-"+callID)
}

func (d *Desk) link(callID, role, linkID string) Link {
	exp := time.Now().Add(d.calls.cfg.LinkTTL).Truncate(time.Second)
	token := d.calls.cfg.Links.SignLink(auth.JoinClaims{CallID: callID, Role: role, Expires: exp.Unix(), Link: linkID})
	return Link{URL: d.calls.cfg.PublicURL + "/join/" + callID + "#" + token, Role: role, Expires: exp.UTC()}
}

// NewLink makes another join link for a call going on: for the customer
// (the same seat as the first), an observer, or a staff role.
func (d *Desk) NewLink(ctx context.Context, callID, role string, by auth.Caller) (Link, error) {
	if d.calls == nil {
		return Link{}, errCallsOff
	}
	if !auth.ValidCallRole(role) {
		return Link{}, fmt.Errorf("%w: role must be customer, agent, specialist or observer", ErrBadInput)
	}
	call, err := d.activeCall(ctx, callID)
	if err != nil {
		return Link{}, err
	}
	if role == auth.CallCustomer {
		return d.customerLink(call.ID), nil
	}
	return d.link(call.ID, role, auth.NewLinkID()), nil
}

func (d *Desk) activeCall(ctx context.Context, callID string) (store.Call, error) {
	call, err := d.st.Call(ctx, callID)
	if err != nil {
		return call, err
	}
	if call.Status != store.CallActive {
		return call, fmt.Errorf("%w: the call has ended", ErrBadInput)
	}
	return call, nil
}

// ExchangeLink checks a join link opened in a browser and gives that
// browser a call session. staff is the signed-in staff member of that
// browser, if any: staff links need one of the right role, and a staff
// member may not take a customer's seat. A refusal is recorded in the
// conversation with its reason, and returned as one of ErrLink*.
func (d *Desk) ExchangeLink(ctx context.Context, callID, token string, staff *auth.Caller) (CallSession, error) {
	if d.calls == nil {
		return CallSession{}, errCallsOff
	}
	claims, err := d.calls.cfg.Links.CheckLink(token, time.Now())
	call, callErr := d.st.Call(ctx, callID)
	if errors.Is(callErr, store.ErrNotFound) {
		// Nothing to record in: no such call behind this address.
		if err != nil {
			return CallSession{}, linkError(err)
		}
		return CallSession{}, ErrLinkWrongCall
	}
	if callErr != nil {
		return CallSession{}, callErr
	}
	switch {
	case err != nil:
		err = linkError(err)
	case claims.CallID != callID:
		err = ErrLinkWrongCall
	case call.Status != store.CallActive:
		err = ErrLinkRevoked
	case !roleFits(claims.Role, staff):
		err = ErrLinkWrongRole
	}
	if err != nil {
		d.refuseLink(ctx, call, claims.Role, err)
		return CallSession{}, err
	}
	c, err := d.st.Conversation(ctx, call.ConversationID)
	if err != nil {
		return CallSession{}, err
	}
	s := CallSession{CallID: call.ID, ConversationID: c.ID, Role: claims.Role, HostName: call.StartedByName,
		Expires: claims.ExpiresAt().UTC(), WaitLimitSeconds: int(d.calls.cfg.WaitLimit / time.Second)}
	sc := auth.JoinClaims{CallID: call.ID, Role: claims.Role, Expires: claims.Expires, Link: claims.Link, Session: auth.NewLinkID()}
	who := store.Actor{ID: c.ID, Name: c.CustomerName, Role: store.RoleCustomer}
	switch {
	case claims.Role == auth.CallCustomer:
		s.Name = c.CustomerName
	case staff != nil:
		s.Name, sc.StaffID, who = staff.Name, staff.ID, staff.Actor()
	}
	sc.Name = s.Name
	s.Token = d.calls.cfg.Links.SignSession(sc)
	if _, err := d.record(ctx, store.Event{ConversationID: c.ID, Type: store.EventCallLinkOpened, Actor: who,
		Data: store.EventData(map[string]string{"callId": call.ID, "role": claims.Role})}, map[string]any{"call": call}); err != nil {
		return CallSession{}, err
	}
	return s, nil
}

// roleFits: customer links are for people without a staff session (a
// staff member would take the customer's seat); staff links need a
// staff member whose role may act so.
func roleFits(role string, staff *auth.Caller) bool {
	if staff == nil {
		return role == auth.CallCustomer
	}
	switch role {
	case auth.CallAgent:
		return staff.Role == store.RoleAgent || staff.Role == store.RoleAdmin
	case auth.CallSpecialist, auth.CallObserver:
		return true
	}
	return false
}

func linkError(err error) error {
	if errors.Is(err, auth.ErrExpired) {
		return ErrLinkExpired
	}
	return ErrLinkTampered
}

func (d *Desk) refuseLink(ctx context.Context, call store.Call, role string, why error) {
	d.log.Info("join link refused", "call", call.ID, "reason", why.Error())
	_, err := d.record(ctx, store.Event{ConversationID: call.ConversationID, Type: store.EventCallLinkRefused,
		Actor: store.Actor{Name: "system", Role: store.RoleSystem},
		Data:  store.EventData(map[string]string{"callId": call.ID, "reason": why.Error(), "role": role})}, map[string]any{"call": call})
	if err != nil {
		d.log.Error("record refused link", "call", call.ID, "err", err)
	}
}

// JoinAsStaff gives a signed-in staff member a call session without a
// link: an admin, the conversation's assignee, whoever started the call,
// or someone invited to it.
func (d *Desk) JoinAsStaff(ctx context.Context, callID string, by auth.Caller) (CallSession, error) {
	if d.calls == nil {
		return CallSession{}, errCallsOff
	}
	if !by.IsStaff() {
		return CallSession{}, ErrForbidden
	}
	call, err := d.st.Call(ctx, callID)
	if err != nil {
		return CallSession{}, err
	}
	if call.Status != store.CallActive {
		return CallSession{}, ErrLinkRevoked // the same answer as for a link
	}
	c, err := d.st.Conversation(ctx, call.ConversationID)
	if err != nil {
		return CallSession{}, err
	}
	ok := by.IsAdmin() || c.AssignedTo == by.ID || call.StartedBy == by.ID
	if !ok {
		if ok, err = d.invited(ctx, call, by.ID); err != nil {
			return CallSession{}, err
		}
	}
	if !ok {
		return CallSession{}, ErrForbidden
	}
	role := auth.CallAgent
	if by.Role == store.RoleSpecialist {
		role = auth.CallSpecialist
	}
	exp := time.Now().Add(d.calls.cfg.LinkTTL).Truncate(time.Second)
	token := d.calls.cfg.Links.SignSession(auth.JoinClaims{CallID: call.ID, Role: role, Expires: exp.Unix(),
		Link: "staff-" + by.ID, Session: auth.NewLinkID(), StaffID: by.ID, Name: by.Name})
	return CallSession{Token: token, CallID: call.ID, ConversationID: c.ID, Role: role, Name: by.Name,
		HostName: call.StartedByName, Expires: exp.UTC(), WaitLimitSeconds: int(d.calls.cfg.WaitLimit / time.Second)}, nil
}

func (d *Desk) invited(ctx context.Context, call store.Call, staffID string) (bool, error) {
	events, err := d.st.Events(ctx, call.ConversationID, 0, 1000, store.EventCallInvited)
	if err != nil {
		return false, err
	}
	for _, e := range events {
		var v struct{ CallID, StaffID string }
		if json.Unmarshal(e.Data, &v) == nil && v.CallID == call.ID && v.StaffID == staffID {
			return true, nil
		}
	}
	return false, nil
}

// AuthorizeCall checks a browser's call session for joining callID.
func (d *Desk) AuthorizeCall(ctx context.Context, callID, token string) (CallGrant, error) {
	if d.calls == nil {
		return CallGrant{}, errCallsOff
	}
	claims, err := d.calls.cfg.Links.CheckSession(token, time.Now())
	if err != nil || claims.CallID != callID || claims.Session == "" {
		return CallGrant{}, ErrForbidden
	}
	call, err := d.st.Call(ctx, callID)
	if err != nil {
		return CallGrant{}, err
	}
	if call.Status != store.CallActive {
		return CallGrant{}, ErrLinkRevoked
	}
	g := CallGrant{Role: claims.Role, CallID: call.ID, ConversationID: call.ConversationID, SessionID: claims.Session,
		Name: claims.Name, StaffID: claims.StaffID}
	if claims.Role == auth.CallCustomer {
		g.Seat = claims.Link
	}
	return g, nil
}

// CallStep records a step of a call reported by the signaling door.
func (d *Desk) CallStep(ctx context.Context, g CallGrant, step string, who CallPerson, by *CallPerson) {
	if d.calls == nil {
		return
	}
	data := map[string]string{"callId": g.CallID, "participantId": who.ID, "name": who.Name, "role": who.Role}
	actor := store.Actor{ID: g.StaffID, Name: who.Name, Role: who.Role}
	if g.Role == auth.CallCustomer {
		actor = store.Actor{ID: g.ConversationID, Name: who.Name, Role: store.RoleCustomer}
	}
	var typ string
	switch step {
	case StepKnocked:
		typ = store.EventCallKnocked
	case StepAdmitted, StepDeclined:
		typ = store.EventCallAdmitted
		if step == StepDeclined {
			typ = store.EventCallDeclined
		}
		if by != nil {
			data["by"] = by.Name
			actor = store.Actor{Name: by.Name, Role: by.Role}
		}
	case StepJoined:
		typ = store.EventJoined
		d.calls.present(g, who.ID, true)
		d.calls.dropInvites(g.CallID, g.StaffID)
	case StepLeft:
		typ = store.EventLeft
		d.calls.present(g, who.ID, false)
	default:
		return
	}
	if _, err := d.record(ctx, store.Event{ConversationID: g.ConversationID, Type: typ, Actor: actor, Data: store.EventData(data)},
		map[string]any{"callId": g.CallID}); err != nil {
		d.log.Error("record call step", "call", g.CallID, "step", step, "err", err)
		return
	}
	if step == StepLeft && g.StaffID != "" {
		d.transferIfNeeded(ctx, g)
	}
}

func (c *calls) present(g CallGrant, participant string, in bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.inCall[g.CallID]
	if in {
		if m == nil {
			m = map[string]CallGrant{}
			c.inCall[g.CallID] = m
		}
		m[participant] = g
		return
	}
	delete(m, participant)
	if len(m) == 0 {
		delete(c.inCall, g.CallID)
	}
}

// dropInvites forgets pending invitations to a call: those of one staff
// member (who joined), or everyone's (staffID "": the call ended).
func (c *calls) dropInvites(callID, staffID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, ns := range c.pending {
		if staffID != "" && id != staffID {
			continue
		}
		kept := ns[:0]
		for _, n := range ns {
			if n.CallID != callID {
				kept = append(kept, n)
			}
		}
		if len(kept) == 0 {
			delete(c.pending, id)
		} else {
			c.pending[id] = kept
		}
	}
}

// staffIn returns a staff member still in the call, if any.
func (c *calls) staffIn(callID string) (CallGrant, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, g := range c.inCall[callID] {
		if g.StaffID != "" {
			return g, true
		}
	}
	return CallGrant{}, false
}

// transferIfNeeded moves the conversation to a staff member who stays in
// the call when its assignee leaves it: a warm transfer.
func (d *Desk) transferIfNeeded(ctx context.Context, left CallGrant) {
	c, err := d.st.Conversation(ctx, left.ConversationID)
	if err != nil || c.AssignedTo != left.StaffID {
		return
	}
	stays, ok := d.calls.staffIn(left.CallID)
	if !ok || stays.StaffID == left.StaffID {
		return
	}
	if _, err := d.Assign(ctx, c.ID, stays.StaffID, store.Actor{ID: left.StaffID, Name: left.Name, Role: left.Role}); err != nil {
		d.log.Error("transfer", "conversation", c.ID, "err", err)
		return
	}
	_, err = d.record(ctx, store.Event{ConversationID: c.ID, Type: store.EventCallTransferred,
		Actor: store.Actor{ID: left.StaffID, Name: left.Name, Role: left.Role},
		Data:  store.EventData(map[string]string{"callId": left.CallID, "from": left.Name, "to": stays.Name, "toId": stays.StaffID})},
		map[string]any{"callId": left.CallID})
	if err != nil {
		d.log.Error("record transfer", "conversation", c.ID, "err", err)
	}
}

// CallEnded records that a call ended in its room (staff ended it, or
// the last staff member left). The call's links stop working.
func (d *Desk) CallEnded(ctx context.Context, callID string, by store.Actor) {
	if _, err := d.endCall(ctx, callID, by); err != nil && !errors.Is(err, store.ErrConflict) {
		d.log.Error("record call end", "call", callID, "err", err)
	}
}

// EndCall ends a call from outside its room (the API): the record first,
// then everyone in it is disconnected.
func (d *Desk) EndCall(ctx context.Context, callID string, by auth.Caller) (store.Call, error) {
	if d.calls == nil {
		return store.Call{}, errCallsOff
	}
	if by.Kind == auth.KindCustomer {
		return store.Call{}, ErrForbidden
	}
	call, err := d.endCall(ctx, callID, by.Actor())
	if errors.Is(err, store.ErrConflict) {
		return call, nil // already ended: the same answer
	}
	if err != nil {
		return call, err
	}
	if d.calls.cfg.Rooms != nil {
		d.calls.cfg.Rooms.EndCall(callID)
	}
	return call, nil
}

func (d *Desk) endCall(ctx context.Context, callID string, by store.Actor) (store.Call, error) {
	// The data goes in the stored event, not only in the announced copy:
	// pages and the timeline API read the record, and match the end to
	// its start by callId.
	data := map[string]any{"callId": callID}
	if c, err := d.st.Call(ctx, callID); err == nil {
		data["seconds"] = int(time.Since(c.StartedAt).Seconds())
	}
	call, e, err := d.st.EndCall(ctx, callID, store.Event{Type: store.EventCallEnded, Actor: by, Data: store.EventData(data)})
	if err != nil {
		return call, err
	}
	d.log.Info("call ended", "call", call.ID, "conversation", call.ConversationID)
	d.calls.mu.Lock()
	delete(d.calls.inCall, call.ID)
	d.calls.mu.Unlock()
	d.calls.dropInvites(call.ID, "")
	d.announce(ctx, e, map[string]any{"call": call})
	return call, nil
}

// Invite asks a colleague to join a call, with a hand-over note that
// goes in the record (so the colleague reads it with everything else)
// and a notice on their consoles.
func (d *Desk) Invite(ctx context.Context, callID, staffID, note string, by auth.Caller) (store.Event, error) {
	if d.calls == nil {
		return store.Event{}, errCallsOff
	}
	if !by.IsStaff() {
		return store.Event{}, ErrForbidden
	}
	text, err := cleanBody(note, true)
	if err != nil {
		return store.Event{}, err
	}
	call, err := d.activeCall(ctx, callID)
	if err != nil {
		return store.Event{}, err
	}
	st, err := d.st.StaffByID(ctx, staffID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (st.Disabled || st.ID == by.ID)) {
		return store.Event{}, fmt.Errorf("%w: no such colleague to invite", ErrBadInput)
	}
	if err != nil {
		return store.Event{}, err
	}
	c, err := d.st.Conversation(ctx, call.ConversationID)
	if err != nil {
		return store.Event{}, err
	}
	if text != "" {
		if _, err := d.record(ctx, store.Event{ConversationID: c.ID, Type: store.EventNote, Actor: by.Actor(), Body: text}, nil); err != nil {
			return store.Event{}, err
		}
	}
	e, err := d.record(ctx, store.Event{ConversationID: c.ID, Type: store.EventCallInvited, Actor: by.Actor(),
		Data: store.EventData(map[string]string{"callId": call.ID, "staffId": st.ID, "staffName": st.Name, "note": text})},
		map[string]any{"call": call, "staff": st})
	if err != nil {
		return e, err
	}
	d.notify(st.ID, Notice{Type: "invite", ConversationID: c.ID, CallID: call.ID, CustomerName: c.CustomerName, From: by.Name, Note: text})
	return e, nil
}

// WatchStaff calls fn with every notice for a staff member until cancel.
// fn must not block.
func (d *Desk) WatchStaff(staffID string, fn func(Notice)) (cancel func()) {
	if d.calls == nil {
		return func() {}
	}
	c := d.calls
	p := &fn
	c.mu.Lock()
	if c.staffWs[staffID] == nil {
		c.staffWs[staffID] = map[*func(Notice)]struct{}{}
	}
	c.staffWs[staffID][p] = struct{}{}
	pending := append([]Notice(nil), c.pending[staffID]...)
	c.mu.Unlock()
	for _, n := range pending {
		fn(n)
	}
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.staffWs[staffID], p)
		if len(c.staffWs[staffID]) == 0 {
			delete(c.staffWs, staffID)
		}
	}
}

func (d *Desk) notify(staffID string, n Notice) {
	d.calls.mu.Lock()
	d.calls.pending[staffID] = append(d.calls.pending[staffID], n)
	var fns []func(Notice)
	for p := range d.calls.staffWs[staffID] {
		fns = append(fns, *p)
	}
	d.calls.mu.Unlock()
	for _, fn := range fns {
		fn(n)
	}
}

// PostAsCallGuest posts a message for the customer of a call, from the
// waiting room: someone who waited too long leaves a message instead.
func (d *Desk) PostAsCallGuest(ctx context.Context, callID, sessionToken, body string) (store.Event, error) {
	g, err := d.AuthorizeCall(ctx, callID, sessionToken)
	if errors.Is(err, ErrLinkRevoked) {
		// The call is over but the person's message still counts.
		claims, cerr := d.calls.cfg.Links.CheckSession(sessionToken, time.Now())
		if cerr != nil || claims.CallID != callID {
			return store.Event{}, ErrForbidden
		}
		call, cerr := d.st.Call(ctx, callID)
		if cerr != nil {
			return store.Event{}, cerr
		}
		g, err = CallGrant{Role: claims.Role, ConversationID: call.ConversationID, Name: claims.Name}, nil
	}
	if err != nil {
		return store.Event{}, err
	}
	if g.Role != auth.CallCustomer {
		return store.Event{}, ErrForbidden
	}
	return d.Post(ctx, g.ConversationID, auth.Caller{Kind: auth.KindCustomer, ID: g.ConversationID, Name: g.Name,
		Role: store.RoleCustomer, ConversationID: g.ConversationID}, body, "", false)
}
