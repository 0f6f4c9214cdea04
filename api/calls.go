package api

import (
	"errors"
	"net/http"
	"strings"

	"videosupport/auth"
	"videosupport/desk"
	"videosupport/store"
)

// CallCookie holds a browser's call session: HttpOnly, so page scripts
// never see it, and SameSite=Strict, so no other site can use it.
const CallCookie = "vs_call"

func (s *server) callRoutes(mux *http.ServeMux) {
	s.recordingRoutes(mux)
	mux.HandleFunc("POST /api/v1/conversations/{id}/calls", s.who(staffOrKey, s.startCall))
	mux.HandleFunc("GET /api/v1/calls/{id}", s.who(staffOrKey, s.getCall))
	mux.HandleFunc("POST /api/v1/calls/{id}/links", s.who(staffOrKey, s.newLink))
	mux.HandleFunc("POST /api/v1/calls/{id}/end", s.who(staffOrKey, s.endCall))
	mux.HandleFunc("POST /api/v1/calls/{id}/invite", s.who(staff, s.invite))
	mux.HandleFunc("POST /api/v1/calls/{id}/join", s.joinCall)
	mux.HandleFunc("POST /api/v1/calls/{id}/message", s.guestMessage)

	mux.HandleFunc("GET /api/v1/video-queue", s.who(staffOrKey, s.videoQueue))
	mux.HandleFunc("GET /api/v1/conversations/{id}/video-request", s.who(anyone, s.videoRequestStatus))
	mux.HandleFunc("POST /api/v1/conversations/{id}/video-request", s.who(anyone, s.requestVideo))
	mux.HandleFunc("DELETE /api/v1/conversations/{id}/video-request", s.who(anyone, s.withdrawVideo))
	mux.HandleFunc("POST /api/v1/conversations/{id}/video-request/callback", s.who(anyone, s.chooseCallback))
}

// StartedCall is the body of a started call.
type StartedCall struct {
	Call         store.Call `json:"call"`
	CustomerLink desk.Link  `json:"customerLink"`
}

func (s *server) startCall(w http.ResponseWriter, r *http.Request, c auth.Caller) {
	call, link, err := s.Desk.StartCall(r.Context(), r.PathValue("id"), c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, StartedCall{Call: call, CustomerLink: link})
}

func (s *server) getCall(w http.ResponseWriter, r *http.Request, _ auth.Caller) {
	call, err := s.st.Call(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, call)
}

// LinkRequest asks for a join link of a role.
type LinkRequest struct {
	Role string `json:"role"`
}

func (s *server) newLink(w http.ResponseWriter, r *http.Request, c auth.Caller) {
	var req LinkRequest
	if !decode(w, r, &req) {
		return
	}
	link, err := s.Desk.NewLink(r.Context(), r.PathValue("id"), req.Role, c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, link)
}

func (s *server) endCall(w http.ResponseWriter, r *http.Request, c auth.Caller) {
	call, err := s.Desk.EndCall(r.Context(), r.PathValue("id"), c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, call)
}

// InviteRequest brings a colleague into a call.
type InviteRequest struct {
	StaffID string `json:"staffId"`
	Note    string `json:"note"`
}

func (s *server) invite(w http.ResponseWriter, r *http.Request, c auth.Caller) {
	var req InviteRequest
	if !decode(w, r, &req) {
		return
	}
	e, err := s.Desk.Invite(r.Context(), r.PathValue("id"), req.StaffID, req.Note, c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, e)
}

// JoinRequest exchanges a join link's secret for a call session. Without
// a token, a signed-in staff member joins as themselves.
type JoinRequest struct {
	Token string `json:"token"`
}

// joinCall is the one door into a call for a browser. The link's secret
// arrives in the body (it lives in the URL fragment, which browsers never
// send), and leaves as an HttpOnly cookie bound to this browser.
func (s *server) joinCall(w http.ResponseWriter, r *http.Request) {
	if !jsonRequest(w, r) {
		return
	}
	var req JoinRequest
	if !decode(w, r, &req) {
		return
	}
	var me *auth.Caller
	if c, err := s.Auth.Authenticate(r); err == nil && c.IsStaff() {
		if err := auth.CheckCSRF(r, c); err != nil {
			writeError(w, http.StatusForbidden, "csrf", "missing or wrong X-CSRF-Token header")
			return
		}
		me = &c
	}
	ctx := r.Context()
	var sess desk.CallSession
	var err error
	switch {
	case req.Token != "":
		sess, err = s.Desk.ExchangeLink(ctx, r.PathValue("id"), req.Token, me)
	case me != nil:
		sess, err = s.Desk.JoinAsStaff(ctx, r.PathValue("id"), *me)
	default:
		writeError(w, http.StatusUnauthorized, "unauthorized", "open the link you were sent, or sign in")
		return
	}
	for _, le := range []error{desk.ErrLinkTampered, desk.ErrLinkExpired, desk.ErrLinkRevoked, desk.ErrLinkWrongCall, desk.ErrLinkWrongRole} {
		if errors.Is(err, le) {
			writeError(w, http.StatusForbidden, le.Error(), linkMessages[le])
			return
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CallCookie, Value: sess.Token, Path: "/", HttpOnly: true,
		Secure: s.Auth.SecureCookies, SameSite: http.SameSiteStrictMode, Expires: sess.Expires})
	writeJSON(w, http.StatusOK, sess)
}

var linkMessages = map[error]string{
	desk.ErrLinkTampered:  "this link is not complete or was changed",
	desk.ErrLinkExpired:   "this link has expired",
	desk.ErrLinkRevoked:   "this call has ended",
	desk.ErrLinkWrongCall: "this link is for another call",
	desk.ErrLinkWrongRole: "this link is for someone else",
}

// jsonRequest refuses a request whose body is not declared JSON: a form
// posted from another site cannot declare it without a preflight.
func jsonRequest(w http.ResponseWriter, r *http.Request) bool {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "bad_request", "send JSON with Content-Type: application/json")
		return false
	}
	return true
}

// GuestMessage is a message left from the waiting room.
type GuestMessage struct {
	Body string `json:"body"`
}

func (s *server) guestMessage(w http.ResponseWriter, r *http.Request) {
	if !jsonRequest(w, r) {
		return
	}
	var req GuestMessage
	if !decode(w, r, &req) {
		return
	}
	ck, err := r.Cookie(CallCookie)
	if err != nil {
		writeError(w, http.StatusUnauthorized, "unauthorized", "open the link you were sent first")
		return
	}
	e, err := s.Desk.PostAsCallGuest(r.Context(), r.PathValue("id"), ck.Value, req.Body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, e)
}

func (s *server) videoQueue(w http.ResponseWriter, r *http.Request, _ auth.Caller) {
	q, err := s.Desk.VideoQueue(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if q == nil {
		q = []desk.QueueEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"queue": q})
}

func (s *server) videoRequestStatus(w http.ResponseWriter, r *http.Request, c auth.Caller) {
	id := r.PathValue("id")
	if c.Kind == auth.KindCustomer && c.ConversationID != id {
		s.fail(w, r, desk.ErrForbidden)
		return
	}
	st, err := s.Desk.QueueStatus(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *server) requestVideo(w http.ResponseWriter, r *http.Request, c auth.Caller) {
	st, err := s.Desk.RequestVideo(r.Context(), r.PathValue("id"), c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *server) withdrawVideo(w http.ResponseWriter, r *http.Request, c auth.Caller) {
	if err := s.Desk.WithdrawVideo(r.Context(), r.PathValue("id"), c); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// CallbackChoice answers a callback offer.
type CallbackChoice struct {
	// Callback: true to be called back (and leave the queue), false to
	// keep waiting.
	Callback bool   `json:"callback"`
	Contact  string `json:"contact"`
}

func (s *server) chooseCallback(w http.ResponseWriter, r *http.Request, c auth.Caller) {
	var req CallbackChoice
	if !decode(w, r, &req) {
		return
	}
	st, err := s.Desk.ChooseCallback(r.Context(), r.PathValue("id"), req.Callback, req.Contact, c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}
