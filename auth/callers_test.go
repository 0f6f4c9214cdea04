package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"videosupport/store"
	"videosupport/store/sqlite"
)

func newAuth(t *testing.T) (*Authenticator, store.Store) {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &Authenticator{Accounts: s, Conversations: s}, s
}

func TestPasswords(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$") {
		t.Errorf("hash %q is not argon2id PHC", h)
	}
	if ok, err := CheckPassword(h, "correct horse battery"); !ok || err != nil {
		t.Errorf("right password refused: %v", err)
	}
	if ok, _ := CheckPassword(h, "correct horse batterY"); ok {
		t.Error("wrong password accepted")
	}
	if _, err := HashPassword("short"); !errors.Is(err, ErrWeakPassword) {
		t.Errorf("short password: %v", err)
	}
	if _, err := CheckPassword("$2a$10$bcrypt", "x"); err == nil {
		t.Error("a foreign hash format was not refused")
	}
}

func TestLoginAndSession(t *testing.T) {
	ctx := context.Background()
	a, s := newAuth(t)
	hash, _ := HashPassword("a long enough password")
	st, err := s.CreateStaff(ctx, store.Staff{Email: "amira@example.com", Name: "Amira", Role: store.RoleAgent, PasswordHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ email, password string }{
		{"amira@example.com", "wrong password here"},
		{"nobody@example.com", "a long enough password"},
	} {
		if _, _, _, err := a.Login(ctx, tc.email, tc.password); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("login %s/%s: %v", tc.email, tc.password, err)
		}
	}
	_, token, csrf, err := a.Login(ctx, "Amira@Example.com", "a long enough password")
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	a.SetSessionCookie(rec, token)
	cookie := rec.Result().Cookies()[0]
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode {
		t.Errorf("cookie %+v is not HttpOnly and SameSite=Lax", cookie)
	}
	req := httptest.NewRequest(http.MethodPost, "/api/v1/x", nil)
	req.AddCookie(cookie)
	c, err := a.Authenticate(req)
	if err != nil || c.ID != st.ID || c.Role != store.RoleAgent || !c.IsStaff() {
		t.Fatalf("authenticate: %+v %v", c, err)
	}
	if err := CheckCSRF(req, c); !errors.Is(err, ErrCSRF) {
		t.Errorf("POST without CSRF token: %v", err)
	}
	req.Header.Set("X-CSRF-Token", csrf+"x")
	if err := CheckCSRF(req, c); !errors.Is(err, ErrCSRF) {
		t.Errorf("POST with a wrong CSRF token: %v", err)
	}
	req.Header.Set("X-CSRF-Token", csrf)
	if err := CheckCSRF(req, c); err != nil {
		t.Errorf("POST with the CSRF token: %v", err)
	}
	// A disabled account's session stops working at once.
	st.Disabled = true
	if err := s.UpdateStaff(ctx, st); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(req); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("disabled staff still authenticated: %v", err)
	}
}

func TestAPIKeysAndCustomerTokens(t *testing.T) {
	ctx := context.Background()
	a, s := newAuth(t)
	key, k, err := a.NewAPIKey(ctx, "gateway", store.RoleIntegration)
	if err != nil {
		t.Fatal(err)
	}
	bearer := func(tok string) (Caller, error) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		return a.Authenticate(r)
	}
	if c, err := bearer(key); err != nil || c.Kind != KindAPIKey || c.Role != store.RoleIntegration {
		t.Errorf("api key: %+v %v", c, err)
	}
	id := NewConversationID()
	tok, hash := NewCustomerToken(id)
	if _, _, err := s.CreateConversation(ctx, store.Conversation{ID: id, CustomerName: "Wei", Channel: "web",
		Status: store.StatusWaiting, Handler: store.HandlerHuman, CustomerTokenHash: hash}, store.Actor{Name: "Wei", Role: store.RoleCustomer}, ""); err != nil {
		t.Fatal(err)
	}
	if c, err := bearer(tok); err != nil || c.ConversationID != id || c.Role != store.RoleCustomer {
		t.Errorf("customer token: %+v %v", c, err)
	}
	other := NewConversationID()
	forged := strings.Replace(tok, id, other, 1)
	if err := s.RevokeAPIKey(ctx, k.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"revoked key":        key,
		"tampered key":       key[:len(key)-2] + "xx",
		"malformed key":      "vsk_nodot",
		"unknown prefix":     "abc_" + key,
		"empty":              "",
		"token for another":  forged,
		"tampered customer":  tok + "A",
		"customer no secret": "vsc_" + id + ".",
	} {
		if _, err := bearer(bad); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%s: %v, want ErrUnauthenticated", name, err)
		}
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Basic Zm9vOmJhcg==")
	if _, err := a.Authenticate(r); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("basic auth: %v", err)
	}
}
