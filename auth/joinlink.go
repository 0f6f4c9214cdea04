package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Why a join link or call session is refused, checked with errors.Is.
// Pages show each its own words, so these stay distinct.
var (
	ErrTampered = errors.New("the link is not one we made")
	ErrExpired  = errors.New("the link has expired")
)

// Call roles a link can carry.
const (
	CallCustomer   = "customer"
	CallAgent      = "agent"
	CallSpecialist = "specialist"
	CallObserver   = "observer"
)

// ValidCallRole reports whether role is one a link can carry.
func ValidCallRole(role string) bool {
	switch role {
	case CallCustomer, CallAgent, CallSpecialist, CallObserver:
		return true
	}
	return false
}

// JoinClaims is what a signed join link or call session says.
type JoinClaims struct {
	CallID string `json:"c"`
	Role   string `json:"r"`
	// Expires is a Unix time in seconds.
	Expires int64 `json:"e"`
	// Link identifies the link (random), so one customer link admits
	// one device at a time and the record can tell links apart.
	Link string `json:"l"`
	// Session, in a call session only, identifies the browser that
	// exchanged the link.
	Session string `json:"s,omitempty"`
	// StaffID, in a call session of a signed-in staff member.
	StaffID string `json:"u,omitempty"`
	// Name, in a call session: who the record says this is.
	Name string `json:"n,omitempty"`
}

// ExpiresAt is Expires as a time.
func (c JoinClaims) ExpiresAt() time.Time { return time.Unix(c.Expires, 0) }

// LinkSigner signs and checks join links and the call sessions they are
// exchanged for, with HMAC-SHA256 under keys derived from one server
// secret. Links and sessions use different keys, so one can never pass
// for the other. Nothing is stored: a link is revoked by ending its call.
type LinkSigner struct {
	linkKey, sessionKey, mediaKey []byte
}

// NewLinkSigner derives the signing keys from the server secret (at
// least 32 bytes).
func NewLinkSigner(secret []byte) (*LinkSigner, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("server secret is %d bytes, want at least 32", len(secret))
	}
	return &LinkSigner{linkKey: derive(secret, "videosupport join link v1"),
		sessionKey: derive(secret, "videosupport call session v1"),
		mediaKey:   derive(secret, "videosupport media grant v1")}, nil
}

func derive(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// NewLinkID returns a fresh random link id.
func NewLinkID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// SignLink makes the secret part of a join link (it goes in the URL
// fragment, never the query string).
func (s *LinkSigner) SignLink(c JoinClaims) string { return sign(s.linkKey, c) }

// CheckLink verifies a join link's secret: ErrTampered or ErrExpired.
func (s *LinkSigner) CheckLink(token string, now time.Time) (JoinClaims, error) {
	return check(s.linkKey, token, now)
}

// SignSession makes a call session token (kept in an HttpOnly cookie).
func (s *LinkSigner) SignSession(c JoinClaims) string { return sign(s.sessionKey, c) }

// CheckSession verifies a call session token.
func (s *LinkSigner) CheckSession(token string, now time.Time) (JoinClaims, error) {
	return check(s.sessionKey, token, now)
}

func sign(key []byte, v any) string {
	body, _ := json.Marshal(v)
	payload := base64.RawURLEncoding.EncodeToString(body)
	return payload + "." + base64.RawURLEncoding.EncodeToString(mac(key, payload))
}

func mac(key []byte, payload string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// maxTokenLen bounds the work done on a token from outside.
const maxTokenLen = 1024

// verify checks a token's signature and decodes its payload into v,
// refusing fields v does not have.
func verify(key []byte, token string, v any) error {
	if len(token) > maxTokenLen {
		return ErrTampered
	}
	payload, sig, ok := strings.Cut(token, ".")
	if !ok {
		return ErrTampered
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(key, payload)) {
		return ErrTampered
	}
	body, err := base64.RawURLEncoding.Strict().DecodeString(payload)
	if err != nil {
		return ErrTampered
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return ErrTampered
	}
	return nil
}

func check(key []byte, token string, now time.Time) (JoinClaims, error) {
	var c JoinClaims
	if err := verify(key, token, &c); err != nil || c.CallID == "" || !ValidCallRole(c.Role) {
		return JoinClaims{}, ErrTampered
	}
	if now.Unix() >= c.Expires {
		return c, ErrExpired
	}
	return c, nil
}

// A media grant lets one caller fetch one recording's media for a short
// while, after the fetch was recorded as a playback or download (the
// audit trail): a <video> element cannot send headers, so the grant
// rides in the URL, and is worth nothing to anyone but that caller.
type mediaGrant struct {
	Recording string `json:"r"`
	Caller    string `json:"c"`
	Download  bool   `json:"d,omitempty"`
	Expires   int64  `json:"e"`
}

// SignMedia makes a media grant.
func (s *LinkSigner) SignMedia(recordingID, callerID string, download bool, expires time.Time) string {
	return sign(s.mediaKey, mediaGrant{Recording: recordingID, Caller: callerID, Download: download, Expires: expires.Unix()})
}

// CheckMedia verifies a media grant for a recording and caller; it
// reports whether it is a download.
func (s *LinkSigner) CheckMedia(token, recordingID, callerID string, now time.Time) (bool, error) {
	var g mediaGrant
	if err := verify(s.mediaKey, token, &g); err != nil || g.Recording != recordingID || g.Caller != callerID {
		return false, ErrTampered
	}
	if now.Unix() >= g.Expires {
		return false, ErrExpired
	}
	return g.Download, nil
}
