package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"videosupport/signaling"
)

func TestOpenRooms(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	o := NewOpenRooms(time.Hour)
	o.now = func() time.Time { return now }
	id, _ := o.Create()
	ctx := context.Background()
	if _, err := o.AuthorizeJoin(ctx, signaling.JoinRequest{Room: id}); err != nil {
		t.Fatalf("fresh room refused: %v", err)
	}
	if _, err := o.AuthorizeJoin(ctx, signaling.JoinRequest{Room: uuid.NewString()}); !errors.Is(err, signaling.ErrRoomNotFound) {
		t.Errorf("unknown room: %v", err)
	}
	now = now.Add(61 * time.Minute)
	if _, err := o.AuthorizeJoin(ctx, signaling.JoinRequest{Room: id}); !errors.Is(err, signaling.ErrRoomNotFound) {
		t.Errorf("expired room: %v", err)
	}
	o.Create() // sweeps
	if len(o.expires) != 1 {
		t.Errorf("%d rooms kept, want the expired one swept", len(o.expires))
	}
}
