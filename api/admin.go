package api

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"videosupport/auth"
	"videosupport/store"
)

type meBody struct {
	Staff     store.Staff `json:"staff"`
	CSRFToken string      `json:"csrfToken"`
}

func (s *server) login(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if !decode(w, r, &body) {
		return
	}
	st, token, csrf, err := s.Auth.Login(r.Context(), body.Email, body.Password)
	if errors.Is(err, auth.ErrUnauthenticated) {
		writeError(w, http.StatusUnauthorized, "unauthorized", "wrong email or password")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.Auth.SetSessionCookie(w, token)
	s.Logger.Info("staff signed in", "staff", st.ID)
	writeJSON(w, http.StatusOK, meBody{Staff: st, CSRFToken: csrf})
}

func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	if err := s.Auth.Logout(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) me(w http.ResponseWriter, r *http.Request, c auth.Caller) {
	st, err := s.st.StaffByID(r.Context(), c.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, meBody{Staff: st, CSRFToken: c.CSRFToken})
}

func (s *server) availability(w http.ResponseWriter, r *http.Request, c auth.Caller) {
	var body struct {
		Availability string `json:"availability"`
	}
	if !decode(w, r, &body) {
		return
	}
	st, err := s.Desk.SetAvailability(r.Context(), c.ID, body.Availability)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *server) listStaff(w http.ResponseWriter, r *http.Request, _ auth.Caller) {
	list, err := s.st.ListStaff(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if list == nil {
		list = []store.Staff{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"staff": list})
}

func validRole(role string) bool {
	return role == store.RoleAgent || role == store.RoleSpecialist || role == store.RoleAdmin
}

func (s *server) createStaff(w http.ResponseWriter, r *http.Request, _ auth.Caller) {
	var body struct {
		Email, Name, Role, Password string
	}
	if !decode(w, r, &body) {
		return
	}
	if !strings.Contains(body.Email, "@") || strings.TrimSpace(body.Name) == "" || !validRole(body.Role) {
		writeError(w, http.StatusBadRequest, "bad_request", "email, name and a role of agent, specialist or admin are required")
		return
	}
	hash, err := auth.HashPassword(body.Password)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st, err := s.st.CreateStaff(r.Context(), store.Staff{Email: body.Email, Name: strings.TrimSpace(body.Name), Role: body.Role, PasswordHash: hash})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, st)
}

func (s *server) updateStaff(w http.ResponseWriter, r *http.Request, c auth.Caller) {
	var body struct {
		Name     *string `json:"name"`
		Role     *string `json:"role"`
		Disabled *bool   `json:"disabled"`
	}
	if !decode(w, r, &body) {
		return
	}
	st, err := s.st.StaffByID(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if body.Name != nil && strings.TrimSpace(*body.Name) != "" {
		st.Name = strings.TrimSpace(*body.Name)
	}
	if body.Role != nil {
		if !validRole(*body.Role) {
			writeError(w, http.StatusBadRequest, "bad_request", "role must be agent, specialist or admin")
			return
		}
		st.Role = *body.Role
	}
	if body.Disabled != nil {
		if st.ID == c.ID && *body.Disabled {
			writeError(w, http.StatusBadRequest, "bad_request", "you cannot disable your own account")
			return
		}
		st.Disabled = *body.Disabled
	}
	if err := s.st.UpdateStaff(r.Context(), st); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *server) listKeys(w http.ResponseWriter, r *http.Request, _ auth.Caller) {
	keys, err := s.st.ListAPIKeys(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if keys == nil {
		keys = []store.APIKey{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"apiKeys": keys})
}

func (s *server) createKey(w http.ResponseWriter, r *http.Request, _ auth.Caller) {
	var body struct {
		Name string `json:"name"`
		Role string `json:"role"`
	}
	if !decode(w, r, &body) {
		return
	}
	if strings.TrimSpace(body.Name) == "" || (body.Role != store.RoleBot && body.Role != store.RoleIntegration) {
		writeError(w, http.StatusBadRequest, "bad_request", "name and a role of bot or integration are required")
		return
	}
	key, k, err := s.Auth.NewAPIKey(r.Context(), strings.TrimSpace(body.Name), body.Role)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"apiKey": k, "key": key})
}

func (s *server) revokeKey(w http.ResponseWriter, r *http.Request, _ auth.Caller) {
	if err := s.st.RevokeAPIKey(r.Context(), r.PathValue("id"), time.Now()); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// WebhookEvents are the events a webhook may subscribe to.
var WebhookEvents = []string{"conversation.created", "message.created", "conversation.assigned",
	"conversation.handed_over", "call.started", "call.ended", "recording.ready",
	store.EventCallLinkOpened, store.EventCallLinkRefused, store.EventCallKnocked, store.EventCallAdmitted,
	store.EventCallDeclined, store.EventJoined, store.EventLeft, store.EventCallInvited, store.EventCallTransferred,
	store.EventVideoRequested, store.EventCallbackOffered, store.EventCallbackChosen, store.EventKeptWaiting,
	store.EventVideoWithdrawn}

func (s *server) listWebhooks(w http.ResponseWriter, r *http.Request, _ auth.Caller) {
	hooks, err := s.st.ListWebhooks(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if hooks == nil {
		hooks = []store.Webhook{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": hooks})
}

func (s *server) createWebhook(w http.ResponseWriter, r *http.Request, _ auth.Caller) {
	var body struct {
		URL    string   `json:"url"`
		Events []string `json:"events"`
	}
	if !decode(w, r, &body) {
		return
	}
	u, err := url.Parse(body.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		writeError(w, http.StatusBadRequest, "bad_request", "url must be an absolute http or https URL")
		return
	}
	if len(body.Events) == 0 {
		writeError(w, http.StatusBadRequest, "bad_request", "pick at least one event")
		return
	}
	for _, e := range body.Events {
		known := false
		for _, k := range WebhookEvents {
			known = known || e == k
		}
		if !known {
			writeError(w, http.StatusBadRequest, "bad_request", "unknown event "+e)
			return
		}
	}
	secret := auth.NewSecret("whsec_")
	hook, err := s.st.CreateWebhook(r.Context(), store.Webhook{URL: body.URL, Events: body.Events, Secret: secret})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"webhook": hook, "secret": secret})
}

func (s *server) deleteWebhook(w http.ResponseWriter, r *http.Request, _ auth.Caller) {
	if err := s.st.DeleteWebhook(r.Context(), r.PathValue("id")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) listDeliveries(w http.ResponseWriter, r *http.Request, _ auth.Caller) {
	if _, err := s.st.Webhook(r.Context(), r.PathValue("id")); err != nil {
		s.fail(w, r, err)
		return
	}
	ds, err := s.st.Deliveries(r.Context(), r.PathValue("id"), 100)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if ds == nil {
		ds = []store.Delivery{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": ds})
}
