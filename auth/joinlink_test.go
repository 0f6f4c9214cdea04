package auth

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func testSigner(t *testing.T) *LinkSigner {
	t.Helper()
	s, err := NewLinkSigner(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJoinLinks(t *testing.T) {
	s := testSigner(t)
	now := time.Unix(1_800_000_000, 0)
	claims := JoinClaims{CallID: "7f1c", Role: CallCustomer, Expires: now.Add(24 * time.Hour).Unix(), Link: NewLinkID()}
	link := s.SignLink(claims)
	got, err := s.CheckLink(link, now)
	if err != nil || got != claims {
		t.Fatalf("CheckLink = %+v, %v; want %+v", got, err, claims)
	}
	if _, err := s.CheckLink(link, now.Add(24*time.Hour)); !errors.Is(err, ErrExpired) {
		t.Fatalf("at expiry: %v, want ErrExpired", err)
	}
	// A link is not a session, nor the other way round.
	if _, err := s.CheckSession(link, now); !errors.Is(err, ErrTampered) {
		t.Fatalf("link used as a session: %v, want ErrTampered", err)
	}
	if _, err := s.CheckLink(s.SignSession(claims), now); !errors.Is(err, ErrTampered) {
		t.Fatalf("session used as a link: %v, want ErrTampered", err)
	}
	// Another server secret, another signature.
	other, _ := NewLinkSigner(bytes.Repeat([]byte{8}, 32))
	if _, err := other.CheckLink(link, now); !errors.Is(err, ErrTampered) {
		t.Fatalf("other key: %v, want ErrTampered", err)
	}
	// Every single-character change is caught.
	for i := range link {
		for _, c := range []byte{'A', 'B', 'Q', 'g', 'w', '_', '-', '.', '0'} {
			if link[i] == c {
				continue
			}
			bad := link[:i] + string(c) + link[i+1:]
			if got, err := s.CheckLink(bad, now); err == nil {
				t.Fatalf("changed byte %d (%q) passed as %+v", i, bad, got)
			}
		}
	}
	// A payload re-signed by nobody: role raised to agent.
	_, sig, _ := strings.Cut(link, ".")
	forged := sign([]byte("guess"), JoinClaims{CallID: "7f1c", Role: CallAgent, Expires: claims.Expires})
	if _, err := s.CheckLink(forged, now); !errors.Is(err, ErrTampered) {
		t.Fatalf("forged: %v", err)
	}
	for _, bad := range []string{"", ".", "abc", sig, strings.Repeat("a", 5000) + "." + sig,
		sign(s.linkKey, JoinClaims{CallID: "x", Role: "root", Expires: claims.Expires})} {
		if _, err := s.CheckLink(bad, now); !errors.Is(err, ErrTampered) {
			t.Errorf("CheckLink(%.40q) = %v, want ErrTampered", bad, err)
		}
	}
	if _, err := NewLinkSigner([]byte("short")); err == nil {
		t.Error("a short server secret was accepted")
	}
}

func FuzzCheckLink(f *testing.F) {
	s, _ := NewLinkSigner(bytes.Repeat([]byte{7}, 32))
	f.Add(s.SignLink(JoinClaims{CallID: "c", Role: CallCustomer, Expires: 1 << 40, Link: "l"}))
	f.Add("e30.AAAA")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := s.CheckLink(token, time.Unix(0, 0))
		if err == nil && (c.CallID == "" || !ValidCallRole(c.Role)) {
			t.Fatalf("accepted %+v", c)
		}
	})
}

func TestMediaGrants(t *testing.T) {
	s := testSigner(t)
	now := time.Unix(1_800_000_000, 0)
	g := s.SignMedia("r-1", "s-1", true, now.Add(time.Minute))
	if dl, err := s.CheckMedia(g, "r-1", "s-1", now); err != nil || !dl {
		t.Fatalf("CheckMedia = %v, %v", dl, err)
	}
	for _, tc := range []struct {
		name, token, rec, caller string
		at                       time.Time
		want                     error
	}{
		{"another recording", g, "r-2", "s-1", now, ErrTampered},
		{"another caller", g, "r-1", "s-2", now, ErrTampered},
		{"expired", g, "r-1", "s-1", now.Add(time.Minute), ErrExpired},
		{"a join link", s.SignLink(JoinClaims{CallID: "r-1", Role: CallCustomer, Expires: now.Add(time.Hour).Unix()}), "r-1", "s-1", now, ErrTampered},
		{"garbage", "x.y", "r-1", "s-1", now, ErrTampered},
	} {
		if _, err := s.CheckMedia(tc.token, tc.rec, tc.caller, tc.at); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
