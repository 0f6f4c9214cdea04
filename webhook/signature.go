package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultTolerance is how old (or how far ahead of the receiver's clock) a
// signature may be when Verify is given no tolerance.
const DefaultTolerance = 5 * time.Minute

// Errors Verify returns, checked with errors.Is.
var (
	ErrMalformedSignature = errors.New("malformed webhook signature header")
	ErrSignatureMismatch  = errors.New("webhook signature does not match")
	ErrSignatureExpired   = errors.New("webhook signature timestamp outside tolerance")
)

// Sign returns the Videosupport-Signature header value for body at time t:
// "t=<unix>,v1=<hex HMAC-SHA256(secret, "<unix>." + body)>".
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// maxHeaderLen bounds the work an outside header can ask of Verify; ours
// are under 100 bytes.
const maxHeaderLen = 4096

// Verify checks a Videosupport-Signature header against body and secret,
// for receivers and for our tests. It refuses a timestamp more than
// tolerance away from now in either direction (tolerance <= 0 means
// DefaultTolerance), so a captured request cannot be replayed later. Any
// one matching v1 value is enough, so a sender may sign with an old and a
// new secret while they rotate; keys it does not know are ignored. An
// empty secret is refused: anyone could sign with it.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if secret == "" {
		return errors.New("verify webhook signature: empty secret")
	}
	if len(header) > maxHeaderLen {
		return fmt.Errorf("%w: %d bytes", ErrMalformedSignature, len(header))
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%w: %q is not key=value", ErrMalformedSignature, part)
		}
		switch k {
		case "t":
			if ts != "" {
				return fmt.Errorf("%w: two timestamps", ErrMalformedSignature)
			}
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return fmt.Errorf("%w: v1 is not a hex SHA-256 HMAC", ErrMalformedSignature)
			}
			sigs = append(sigs, sig)
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: no valid timestamp", ErrMalformedSignature)
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w: no v1 signature", ErrMalformedSignature)
	}
	want := mac(secret, ts, body)
	matched := false
	for _, sig := range sigs {
		matched = hmac.Equal(sig, want) || matched
	}
	if !matched {
		return ErrSignatureMismatch
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	// Sub saturates, so absurd timestamps cannot overflow into range.
	if age := now.Sub(time.Unix(unix, 0)); age > tolerance || age < -tolerance {
		return fmt.Errorf("%w: signed %v ago", ErrSignatureExpired, age.Round(time.Second))
	}
	return nil
}
