package main

import (
	"context"
	"errors"

	"videosupport/api"
	"videosupport/auth"
	"videosupport/desk"
	"videosupport/signaling"
	"videosupport/store"
)

// callDoor lets the signaling server ask the desk about calls tied to
// conversations, and tells the desk what happens in them. It sits in cmd
// so that neither package imports the other.
type callDoor struct {
	rooms *auth.OpenRooms
	desk  *desk.Desk
}

// AuthorizeJoin implements signaling.Authorizer: an ad-hoc room by its
// id, or a call by the browser's call session cookie.
func (c callDoor) AuthorizeJoin(ctx context.Context, req signaling.JoinRequest) (signaling.Grant, error) {
	g, err := c.rooms.AuthorizeJoin(ctx, req)
	if !errors.Is(err, signaling.ErrRoomNotFound) {
		return g, err
	}
	var token string
	for _, ck := range req.Cookies {
		if ck.Name == api.CallCookie {
			token = ck.Value
		}
	}
	if token == "" {
		return signaling.Grant{}, signaling.ErrRoomNotFound
	}
	cg, err := c.desk.AuthorizeCall(ctx, req.Room, token)
	switch {
	case errors.Is(err, desk.ErrLinkRevoked):
		return signaling.Grant{}, signaling.ErrCallEnded
	case errors.Is(err, desk.ErrForbidden):
		return signaling.Grant{}, signaling.ErrForbidden
	case errors.Is(err, store.ErrNotFound):
		return signaling.Grant{}, signaling.ErrRoomNotFound
	case err != nil:
		return signaling.Grant{}, err
	}
	return signaling.Grant{Role: cg.Role, CallID: cg.CallID, ConversationID: cg.ConversationID, SessionID: cg.SessionID,
		Name: cg.Name, StaffID: cg.StaffID, Seat: cg.Seat}, nil
}

func deskGrant(g signaling.Grant) desk.CallGrant {
	return desk.CallGrant{Role: g.Role, CallID: g.CallID, ConversationID: g.ConversationID, SessionID: g.SessionID,
		Name: g.Name, StaffID: g.StaffID, Seat: g.Seat}
}

// CallStep implements signaling.CallEvents.
func (c callDoor) CallStep(ctx context.Context, g signaling.Grant, step string, who signaling.Participant, by *signaling.Participant) {
	var byp *desk.CallPerson
	if by != nil {
		byp = &desk.CallPerson{ID: by.ID, Name: by.Name, Role: by.Role}
	}
	c.desk.CallStep(ctx, deskGrant(g), step, desk.CallPerson{ID: who.ID, Name: who.Name, Role: who.Role}, byp)
}

// CallEnded implements signaling.CallEvents.
func (c callDoor) CallEnded(ctx context.Context, g signaling.Grant, by signaling.Participant) {
	c.desk.CallEnded(ctx, g.CallID, store.Actor{ID: g.StaffID, Name: by.Name, Role: by.Role})
}
