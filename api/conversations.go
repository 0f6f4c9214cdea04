package api

import (
	"net/http"
	"strconv"

	"videosupport/auth"
	"videosupport/desk"
	"videosupport/store"
)

func (s *server) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/login", s.login)
	s.callRoutes(mux)
	mux.HandleFunc("POST /api/v1/logout", s.logout)
	mux.HandleFunc("GET /api/v1/me", s.who(staff, s.me))
	mux.HandleFunc("PUT /api/v1/me/availability", s.who(staff, s.availability))

	mux.HandleFunc("POST /api/v1/conversations", s.startConversation)
	mux.HandleFunc("GET /api/v1/conversations", s.who(staffOrKey, s.listConversations))
	mux.HandleFunc("GET /api/v1/conversations/{id}", s.who(anyone, s.getConversation))
	mux.HandleFunc("GET /api/v1/conversations/{id}/messages", s.who(anyone, s.listEvents(true)))
	mux.HandleFunc("GET /api/v1/conversations/{id}/timeline", s.who(anyone, s.listEvents(false)))
	mux.HandleFunc("POST /api/v1/conversations/{id}/messages", s.who(anyone, s.postMessage))
	mux.HandleFunc("POST /api/v1/conversations/{id}/notes", s.who(staffOrKey, s.postNote))
	mux.HandleFunc("POST /api/v1/conversations/{id}/assign", s.who(staff, s.assign))
	mux.HandleFunc("POST /api/v1/conversations/{id}/handover", s.who(func(c auth.Caller) bool {
		return c.Kind == auth.KindAPIKey && c.Role == store.RoleBot
	}, s.handover))
	mux.HandleFunc("POST /api/v1/conversations/{id}/read", s.who(staff, s.read))
	mux.HandleFunc("POST /api/v1/conversations/{id}/close", s.who(staff, s.closeConversation))
	mux.HandleFunc("POST /api/v1/conversations/{id}/reopen", s.who(staff, s.reopen))

	mux.HandleFunc("GET /api/v1/staff", s.who(staff, s.listStaff))
	mux.HandleFunc("POST /api/v1/staff", s.who(admin, s.createStaff))
	mux.HandleFunc("PATCH /api/v1/staff/{id}", s.who(admin, s.updateStaff))
	mux.HandleFunc("GET /api/v1/api-keys", s.who(admin, s.listKeys))
	mux.HandleFunc("POST /api/v1/api-keys", s.who(admin, s.createKey))
	mux.HandleFunc("DELETE /api/v1/api-keys/{id}", s.who(admin, s.revokeKey))
	mux.HandleFunc("GET /api/v1/webhooks", s.who(admin, s.listWebhooks))
	mux.HandleFunc("POST /api/v1/webhooks", s.who(admin, s.createWebhook))
	mux.HandleFunc("DELETE /api/v1/webhooks/{id}", s.who(admin, s.deleteWebhook))
	mux.HandleFunc("GET /api/v1/webhooks/{id}/deliveries", s.who(admin, s.listDeliveries))
}

type startBody struct {
	CustomerName    string `json:"customerName"`
	CustomerContact string `json:"customerContact"`
	Channel         string `json:"channel"`
	Message         string `json:"message"`
}

// startConversation is open to anyone (a customer on the web chat); with
// an API key it is a gateway, which may name its channel.
func (s *server) startConversation(w http.ResponseWriter, r *http.Request) {
	var body startBody
	if !decode(w, r, &body) {
		return
	}
	channel := "web"
	if r.Header.Get("Authorization") != "" {
		c, err := s.Auth.Authenticate(r)
		if err != nil || c.Kind != auth.KindAPIKey {
			writeError(w, http.StatusUnauthorized, "unauthorized", "missing or invalid credentials")
			return
		}
		channel = body.Channel
	}
	c, token, err := s.Desk.Start(r.Context(), desk.StartRequest{CustomerName: body.CustomerName,
		CustomerContact: body.CustomerContact, Channel: channel, Message: body.Message})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"conversation": c, "customerToken": token})
}

func (s *server) listConversations(w http.ResponseWriter, r *http.Request, c auth.Caller) {
	q := r.URL.Query()
	f := store.ListFilter{Limit: 100}
	switch q.Get("status") {
	case "", "active":
		f.Statuses = []store.Status{store.StatusOpen, store.StatusWaiting}
	case "open", "waiting", "closed":
		f.Statuses = []store.Status{store.Status(q.Get("status"))}
	default:
		writeError(w, http.StatusBadRequest, "bad_request", "status must be active, open, waiting or closed")
		return
	}
	if c.IsStaff() {
		f.Reader = c.ID
		if q.Get("mine") == "true" {
			f.AssignedTo = c.ID
		}
	}
	if h := q.Get("handler"); h != "" {
		f.Handler = store.Handler(h)
	}
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 && n <= 500 {
		f.Limit = n
	}
	list, err := s.st.ListConversations(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if list == nil {
		list = []store.Conversation{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"conversations": list})
}

// conversation loads the conversation of the path, if the caller may see
// it: staff and keys see all, a customer only their own. Anything else
// is "not found", so ids cannot be probed.
func (s *server) conversation(w http.ResponseWriter, r *http.Request, c auth.Caller) (store.Conversation, bool) {
	id := r.PathValue("id")
	if c.Kind == auth.KindCustomer && c.ConversationID != id {
		writeError(w, http.StatusNotFound, "not_found", "no such conversation")
		return store.Conversation{}, false
	}
	conv, err := s.st.Conversation(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return conv, false
	}
	return conv, true
}

func (s *server) getConversation(w http.ResponseWriter, r *http.Request, c auth.Caller) {
	if conv, ok := s.conversation(w, r, c); ok {
		writeJSON(w, http.StatusOK, conv)
	}
}

// listEvents lists messages only, or the whole timeline (notes are for
// staff and programs, never customers).
func (s *server) listEvents(messagesOnly bool) handler {
	return func(w http.ResponseWriter, r *http.Request, c auth.Caller) {
		conv, ok := s.conversation(w, r, c)
		if !ok {
			return
		}
		after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		var types []string
		if messagesOnly {
			types = []string{store.EventMessage}
		}
		events, err := s.st.Events(r.Context(), conv.ID, after, limit, types...)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out := []store.Event{}
		for _, e := range events {
			if c.Kind == auth.KindCustomer && !store.CustomerSees(e) {
				continue
			}
			out = append(out, e)
		}
		key := "events"
		if messagesOnly {
			key = "messages"
		}
		writeJSON(w, http.StatusOK, map[string]any{key: out})
	}
}

type postBody struct {
	Body     string `json:"body"`
	ClientID string `json:"clientId"`
	// As: "integration" makes an integration key post as itself rather
	// than as the channel's customer.
	As string `json:"as"`
}

func (s *server) postMessage(w http.ResponseWriter, r *http.Request, c auth.Caller) {
	s.post(w, r, c, false)
}

func (s *server) postNote(w http.ResponseWriter, r *http.Request, c auth.Caller) {
	s.post(w, r, c, true)
}

func (s *server) post(w http.ResponseWriter, r *http.Request, c auth.Caller, note bool) {
	var body postBody
	if !decode(w, r, &body) {
		return
	}
	conv, ok := s.conversation(w, r, c)
	if !ok {
		return
	}
	author := c
	// A gateway relays what the customer wrote on SMS or WhatsApp.
	if c.Kind == auth.KindAPIKey && c.Role == store.RoleIntegration && body.As != "integration" && !note {
		author = auth.Caller{Kind: auth.KindCustomer, ID: conv.ID, Name: conv.CustomerName, Role: store.RoleCustomer, ConversationID: conv.ID}
	}
	e, err := s.Desk.Post(r.Context(), conv.ID, author, body.Body, body.ClientID, note)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, e)
}

func (s *server) assign(w http.ResponseWriter, r *http.Request, c auth.Caller) {
	var body struct {
		StaffID string `json:"staffId"`
	}
	if !decode(w, r, &body) {
		return
	}
	if body.StaffID == "" {
		body.StaffID = c.ID
	}
	conv, err := s.Desk.Assign(r.Context(), r.PathValue("id"), body.StaffID, c.Actor())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, conv)
}

func (s *server) handover(w http.ResponseWriter, r *http.Request, c auth.Caller) {
	var body struct {
		Summary string `json:"summary"`
	}
	if !decode(w, r, &body) {
		return
	}
	conv, err := s.Desk.Handover(r.Context(), r.PathValue("id"), c, body.Summary)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, conv)
}

func (s *server) read(w http.ResponseWriter, r *http.Request, c auth.Caller) {
	var body struct {
		Seq int64 `json:"seq"`
	}
	if !decode(w, r, &body) {
		return
	}
	if err := s.Desk.MarkRead(r.Context(), r.PathValue("id"), c.ID, body.Seq); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) closeConversation(w http.ResponseWriter, r *http.Request, c auth.Caller) {
	conv, err := s.Desk.Close(r.Context(), r.PathValue("id"), c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, conv)
}

func (s *server) reopen(w http.ResponseWriter, r *http.Request, c auth.Caller) {
	conv, err := s.Desk.Reopen(r.Context(), r.PathValue("id"), c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, conv)
}
