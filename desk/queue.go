package desk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"videosupport/auth"
	"videosupport/store"
)

// The video queue: customers who asked for a call wait in the order they
// asked; staff accept from the console (StartCall). Whoever waits past
// CallbackAfter is offered a callback once, and their answer goes in the
// record. The queue lives in the store, so every node sees one queue and
// a restart loses nobody's place.

// RequestVideo puts a customer's conversation in the video queue.
func (d *Desk) RequestVideo(ctx context.Context, conversationID string, by auth.Caller) (QueueStatus, error) {
	if d.calls == nil {
		return QueueStatus{}, errCallsOff
	}
	if err := d.mayReach(by, conversationID); err != nil {
		return QueueStatus{}, err
	}
	if _, err := d.st.ActiveCall(ctx, conversationID); err == nil {
		return QueueStatus{}, fmt.Errorf("%w: a video call is already going on", ErrBadInput)
	}
	e, err := d.st.RequestVideo(ctx, conversationID, store.Event{Type: store.EventVideoRequested, Actor: by.Actor()})
	switch {
	case errors.Is(err, store.ErrConflict): // asked twice: the first place stands
	case err != nil:
		return QueueStatus{}, err
	default:
		d.announce(ctx, e, map[string]any{})
		d.queueChanged()
	}
	return d.QueueStatus(ctx, conversationID)
}

// WithdrawVideo takes a conversation out of the video queue.
func (d *Desk) WithdrawVideo(ctx context.Context, conversationID string, by auth.Caller) error {
	if d.calls == nil {
		return errCallsOff
	}
	if err := d.mayReach(by, conversationID); err != nil {
		return err
	}
	e, err := d.st.LeaveVideoQueue(ctx, conversationID, store.Event{Type: store.EventVideoWithdrawn, Actor: by.Actor()})
	if err != nil {
		return err
	}
	d.announce(ctx, e, map[string]any{})
	d.queueChanged()
	return nil
}

// ChooseCallback records the customer's answer to a callback offer: a
// callback (they leave the queue; staff see the request and the contact
// in the record) or keep waiting (their place stands, the wait restarts).
func (d *Desk) ChooseCallback(ctx context.Context, conversationID string, callback bool, contact string, by auth.Caller) (QueueStatus, error) {
	if d.calls == nil {
		return QueueStatus{}, errCallsOff
	}
	if err := d.mayReach(by, conversationID); err != nil {
		return QueueStatus{}, err
	}
	var e store.Event
	var err error
	if callback {
		c, cerr := d.st.Conversation(ctx, conversationID)
		if cerr != nil {
			return QueueStatus{}, cerr
		}
		if contact = cleanLine(contact, 120); contact == "" {
			contact = c.CustomerContact
		}
		if contact == "" {
			return QueueStatus{}, fmt.Errorf("%w: say how we can call you back", ErrBadInput)
		}
		e, err = d.st.LeaveVideoQueue(ctx, conversationID, store.Event{Type: store.EventCallbackChosen, Actor: by.Actor(),
			Data: store.EventData(map[string]string{"contact": contact})})
	} else {
		e, err = d.st.RenewVideoRequest(ctx, conversationID, store.Event{Type: store.EventKeptWaiting, Actor: by.Actor()})
	}
	if err != nil {
		return QueueStatus{}, err
	}
	d.announce(ctx, e, map[string]any{})
	d.queueChanged()
	return d.QueueStatus(ctx, conversationID)
}

// QueueEntry is a line of the video queue as staff see it.
type QueueEntry struct {
	store.VideoRequest
	Position int `json:"position"`
}

// VideoQueue lists who waits for a video call, longest first.
func (d *Desk) VideoQueue(ctx context.Context) ([]QueueEntry, error) {
	q, err := d.st.VideoQueue(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]QueueEntry, len(q))
	for i, r := range q {
		out[i] = QueueEntry{VideoRequest: r, Position: i + 1}
	}
	return out, nil
}

// QueueStatus is a conversation's place in the video queue, with an
// estimate of the wait: its position times the recent time from asking
// to a call.
func (d *Desk) QueueStatus(ctx context.Context, conversationID string) (QueueStatus, error) {
	if d.calls == nil {
		return QueueStatus{}, errCallsOff
	}
	q, err := d.VideoQueue(ctx)
	if err != nil {
		return QueueStatus{}, err
	}
	return d.StatusIn(q, conversationID), nil
}

// StatusIn is a conversation's place in q, a VideoQueue.
func (d *Desk) StatusIn(q []QueueEntry, conversationID string) QueueStatus {
	if d.calls == nil {
		return QueueStatus{}
	}
	for _, e := range q {
		if e.ConversationID == conversationID {
			d.calls.mu.Lock()
			avg := d.calls.avgWait
			d.calls.mu.Unlock()
			return QueueStatus{InQueue: true, Position: e.Position,
				EstimateSeconds: int((time.Duration(e.Position) * avg).Seconds()), CallbackOffered: e.OfferedAt != nil}
		}
	}
	return QueueStatus{}
}

// learnWait folds one observed wait into the estimate.
func (d *Desk) learnWait(w time.Duration) {
	d.calls.mu.Lock()
	defer d.calls.mu.Unlock()
	d.calls.avgWait = (3*d.calls.avgWait + w) / 4
}

// WatchQueue calls fn with the video queue whenever it changes, until
// cancel: the queue is read once for every watcher. fn must not block.
func (d *Desk) WatchQueue(fn func([]QueueEntry)) (cancel func()) {
	if d.calls == nil {
		return func() {}
	}
	c := d.calls
	p := &fn
	c.mu.Lock()
	c.queueWs[p] = struct{}{}
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.queueWs, p)
	}
}

func (d *Desk) queueChanged() {
	d.calls.mu.Lock()
	fns := make([]func([]QueueEntry), 0, len(d.calls.queueWs))
	for p := range d.calls.queueWs {
		fns = append(fns, *p)
	}
	d.calls.mu.Unlock()
	if len(fns) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	q, err := d.VideoQueue(ctx)
	if err != nil {
		d.log.Error("video queue", "err", err)
		return
	}
	for _, fn := range fns {
		fn(q)
	}
}

// RunQueue offers callbacks to those who waited too long, until ctx ends.
// Every node may run it: the store lets one offer through.
func (d *Desk) RunQueue(ctx context.Context, every time.Duration) {
	if d.calls == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.offerCallbacks(ctx)
	}
}

func (d *Desk) offerCallbacks(ctx context.Context) {
	q, err := d.st.VideoQueue(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error("video queue", "err", err)
		}
		return
	}
	changed := false
	for _, r := range q {
		if r.OfferedAt != nil || time.Since(r.WaitingSince) < d.calls.cfg.CallbackAfter {
			continue
		}
		e, err := d.st.OfferCallback(ctx, r.ConversationID, store.Event{Type: store.EventCallbackOffered,
			Actor: store.Actor{Name: "system", Role: store.RoleSystem},
			Data:  store.EventData(map[string]int{"waitedSeconds": int(time.Since(r.WaitingSince).Seconds())})})
		if errors.Is(err, store.ErrConflict) {
			continue // another node made the offer, or the request is gone
		}
		if err != nil {
			d.log.Error("offer callback", "conversation", r.ConversationID, "err", err)
			continue
		}
		d.announce(ctx, e, map[string]any{})
		changed = true
	}
	if changed {
		d.queueChanged()
	}
}
