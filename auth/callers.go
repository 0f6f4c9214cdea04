package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"videosupport/store"
)

// Errors of authentication, checked with errors.Is.
var (
	// ErrUnauthenticated: no credentials, or credentials that are
	// malformed, unknown, expired or revoked. Always answered the same
	// way, so nothing is learnt from the difference.
	ErrUnauthenticated = errors.New("missing or invalid credentials")
	// ErrCSRF: a cookie request that changes something without the
	// session's CSRF token.
	ErrCSRF = errors.New("missing or wrong CSRF token")
)

// Kinds of caller.
const (
	KindStaff    = "staff"
	KindAPIKey   = "apikey"
	KindCustomer = "customer"
)

// Caller is who is making a request.
type Caller struct {
	Kind string
	// ID is the staff id, the API key id, or for a customer the
	// conversation id.
	ID   string
	Name string
	// Role: admin, agent or specialist for staff; bot or integration
	// for keys; customer.
	Role string
	// ConversationID is the one conversation a customer may reach.
	ConversationID string
	// CSRFToken of a staff session.
	CSRFToken string
	// viaCookie: the credential came in a cookie, so CSRF applies.
	viaCookie bool
}

// Actor returns the caller as the author of a timeline event.
func (c Caller) Actor() store.Actor {
	return store.Actor{ID: c.ID, Name: c.Name, Role: c.Role}
}

// IsStaff reports whether the caller is a signed-in person of any role.
func (c Caller) IsStaff() bool { return c.Kind == KindStaff }

// IsAdmin reports whether the caller is a signed-in admin.
func (c Caller) IsAdmin() bool { return c.Kind == KindStaff && c.Role == store.RoleAdmin }

// SessionCookie is the name of the staff session cookie.
const SessionCookie = "vs_session"

// Prefixes of the secrets we hand out, so a leaked one is recognisable.
const (
	apiKeyPrefix   = "vsk_"
	customerPrefix = "vsc_"
)

// Authenticator turns credentials into callers.
type Authenticator struct {
	Accounts      store.Accounts
	Conversations store.Conversations
	// SecureCookies marks the session cookie Secure (public URL is https).
	SecureCookies bool
	// SessionTTL is how long a login lasts; 0 means 12 hours.
	SessionTTL time.Duration
}

// dummyHash is checked against when the email is unknown, so a login
// takes as long whether or not the account exists.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("not-a-real-password-at-all")
	return h
})

// Login checks an email and password and starts a session. It returns
// the session token (for the cookie) and its CSRF token.
func (a *Authenticator) Login(ctx context.Context, email, password string) (store.Staff, string, string, error) {
	st, err := a.Accounts.StaffByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		_, _ = CheckPassword(dummyHash(), password)
		return store.Staff{}, "", "", ErrUnauthenticated
	}
	if err != nil {
		return store.Staff{}, "", "", err
	}
	ok, err := CheckPassword(st.PasswordHash, password)
	if err != nil || !ok || st.Disabled {
		return store.Staff{}, "", "", ErrUnauthenticated
	}
	token, csrf := randomSecret(), randomSecret()
	ttl := a.SessionTTL
	if ttl == 0 {
		ttl = 12 * time.Hour
	}
	sum := sha256.Sum256([]byte(token))
	if err := a.Accounts.CreateSession(ctx, store.Session{TokenHash: sum[:], StaffID: st.ID, CSRFToken: csrf,
		ExpiresAt: time.Now().Add(ttl)}); err != nil {
		return store.Staff{}, "", "", err
	}
	return st, token, csrf, nil
}

// SetSessionCookie sets the session cookie on a response.
func (a *Authenticator) SetSessionCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: token, Path: "/", HttpOnly: true,
		Secure: a.SecureCookies, SameSite: http.SameSiteLaxMode})
}

// Logout ends the request's session and clears its cookie.
func (a *Authenticator) Logout(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(SessionCookie); err == nil {
		sum := sha256.Sum256([]byte(c.Value))
		if err := a.Accounts.DeleteSession(r.Context(), sum[:]); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: a.SecureCookies, SameSite: http.SameSiteLaxMode})
	return nil
}

// Authenticate finds the caller of a request: a bearer token (API key or
// customer token) or the session cookie. It returns ErrUnauthenticated
// when there is none or it is not valid.
func (a *Authenticator) Authenticate(r *http.Request) (Caller, error) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return Caller{}, ErrUnauthenticated
		}
		return a.Token(ctx, strings.TrimSpace(token))
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return Caller{}, ErrUnauthenticated
	}
	return a.session(ctx, c.Value)
}

// Token authenticates an API key or a customer token.
func (a *Authenticator) Token(ctx context.Context, token string) (Caller, error) {
	switch {
	case strings.HasPrefix(token, apiKeyPrefix):
		return a.apiKey(ctx, strings.TrimPrefix(token, apiKeyPrefix))
	case strings.HasPrefix(token, customerPrefix):
		return a.customer(ctx, strings.TrimPrefix(token, customerPrefix))
	}
	return Caller{}, ErrUnauthenticated
}

func (a *Authenticator) session(ctx context.Context, token string) (Caller, error) {
	sum := sha256.Sum256([]byte(token))
	ss, err := a.Accounts.SessionByHash(ctx, sum[:])
	if errors.Is(err, store.ErrNotFound) {
		return Caller{}, ErrUnauthenticated
	}
	if err != nil {
		return Caller{}, err
	}
	st, err := a.Accounts.StaffByID(ctx, ss.StaffID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && st.Disabled) {
		return Caller{}, ErrUnauthenticated
	}
	if err != nil {
		return Caller{}, err
	}
	return Caller{Kind: KindStaff, ID: st.ID, Name: st.Name, Role: st.Role, CSRFToken: ss.CSRFToken, viaCookie: true}, nil
}

// CheckCSRF refuses a state-changing cookie request without the session's
// token in the X-CSRF-Token header. Bearer requests are exempt: a browser
// never adds an Authorization header on its own.
func CheckCSRF(r *http.Request, c Caller) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if !c.viaCookie {
		return nil
	}
	got := r.Header.Get("X-CSRF-Token")
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(c.CSRFToken)) != 1 {
		return ErrCSRF
	}
	return nil
}

// NewAPIKey creates a key for a program. The returned secret is the only
// copy: only its hash is stored.
func (a *Authenticator) NewAPIKey(ctx context.Context, name, role string) (string, store.APIKey, error) {
	if role != store.RoleBot && role != store.RoleIntegration {
		return "", store.APIKey{}, fmt.Errorf("api key role must be %q or %q", store.RoleBot, store.RoleIntegration)
	}
	id := strings.ReplaceAll(uuid.NewString(), "-", "")
	secret := randomSecret()
	sum := sha256.Sum256([]byte(secret))
	k, err := a.Accounts.CreateAPIKey(ctx, store.APIKey{ID: id, Name: name, Role: role, Hash: sum[:]})
	if err != nil {
		return "", store.APIKey{}, err
	}
	return apiKeyPrefix + id + "." + secret, k, nil
}

func (a *Authenticator) apiKey(ctx context.Context, rest string) (Caller, error) {
	id, secret, ok := strings.Cut(rest, ".")
	if !ok || id == "" || secret == "" {
		return Caller{}, ErrUnauthenticated
	}
	k, err := a.Accounts.APIKeyByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Caller{}, ErrUnauthenticated
	}
	if err != nil {
		return Caller{}, err
	}
	sum := sha256.Sum256([]byte(secret))
	if k.RevokedAt != nil || subtle.ConstantTimeCompare(sum[:], k.Hash) != 1 {
		return Caller{}, ErrUnauthenticated
	}
	return Caller{Kind: KindAPIKey, ID: k.ID, Name: k.Name, Role: k.Role}, nil
}

// NewCustomerToken makes the token a customer uses for one conversation
// and the hash to store with it. The conversation id is part of the
// token, so it names what it opens.
func NewCustomerToken(conversationID string) (token string, hash []byte) {
	secret := randomSecret()
	sum := sha256.Sum256([]byte(secret))
	return customerPrefix + conversationID + "." + secret, sum[:]
}

// NewConversationID makes the id a conversation will be stored under, so
// that its customer token can be made before it is stored.
func NewConversationID() string { return "c-" + uuid.NewString() }

func (a *Authenticator) customer(ctx context.Context, rest string) (Caller, error) {
	id, secret, ok := strings.Cut(rest, ".")
	if !ok || id == "" || secret == "" {
		return Caller{}, ErrUnauthenticated
	}
	c, err := a.Conversations.Conversation(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Caller{}, ErrUnauthenticated
	}
	if err != nil {
		return Caller{}, err
	}
	sum := sha256.Sum256([]byte(secret))
	if len(c.CustomerTokenHash) == 0 || subtle.ConstantTimeCompare(sum[:], c.CustomerTokenHash) != 1 {
		return Caller{}, ErrUnauthenticated
	}
	return Caller{Kind: KindCustomer, ID: c.ID, Name: c.CustomerName, Role: store.RoleCustomer, ConversationID: c.ID}, nil
}

// NewSecret returns a fresh random secret (256 bits, URL-safe) with a
// prefix that says what it is, e.g. "whsec_".
func NewSecret(prefix string) string { return prefix + randomSecret() }

// randomSecret returns 256 random bits, URL-safe.
func randomSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("auth: no randomness: " + err.Error()) // the OS is broken
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
