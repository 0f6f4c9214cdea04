package auth

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	"videosupport/signaling"
)

// OpenRooms remembers the rooms the server created, for a limited time,
// and lets anybody who knows a room's id join it. There is deliberately
// no way to list them.
type OpenRooms struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	expires map[string]time.Time
}

// NewOpenRooms makes a registry whose rooms can be joined for ttl after
// they were created.
func NewOpenRooms(ttl time.Duration) *OpenRooms {
	return &OpenRooms{ttl: ttl, now: time.Now, expires: map[string]time.Time{}}
}

// NewRoomID returns a new unguessable room or call id (a version 4 UUID:
// 122 random bits).
func NewRoomID() string { return uuid.NewString() }

// Create makes a new room id.
func (o *OpenRooms) Create() (id string, expires time.Time) {
	id = NewRoomID()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sweepLocked()
	expires = o.now().Add(o.ttl)
	o.expires[id] = expires
	return id, expires
}

// AuthorizeJoin implements signaling.Authorizer.
func (o *OpenRooms) AuthorizeJoin(_ context.Context, req signaling.JoinRequest) (signaling.Grant, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	exp, ok := o.expires[req.Room]
	if !ok || o.now().After(exp) {
		return signaling.Grant{}, signaling.ErrRoomNotFound
	}
	return signaling.Grant{Role: "guest"}, nil
}

func (o *OpenRooms) sweepLocked() {
	now := o.now()
	for id, exp := range o.expires {
		if now.After(exp) {
			delete(o.expires, id)
		}
	}
}
