package blob

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Errors a Store returns, checked with errors.Is.
var (
	// ErrNotFound: no committed object under the key.
	ErrNotFound = errors.New("blob: object not found")
	// ErrBadKey: the key is empty, absolute, escapes with "..", or has an
	// empty segment; see ValidKey.
	ErrBadKey = errors.New("blob: invalid key")
	// ErrCommitted: the writer was already committed or closed.
	ErrCommitted = errors.New("blob: writer already committed or closed")
)

// Store is where recordings live. Keys are slash-separated paths such as
// conversations/<id>/recordings/<id>/call.webm (see ValidKey). Objects are
// written whole and never appended to: a reader sees either the previous
// object under a key or the complete new one, never part of a write.
//
// Implementations are safe for concurrent use.
type Store interface {
	// Create starts a new object under key. Nothing is visible until the
	// writer's Commit succeeds, which replaces any object under that key.
	Create(ctx context.Context, key string) (Writer, error)
	// Open opens the committed object under key for random-access reads;
	// ErrNotFound if there is none.
	Open(ctx context.Context, key string) (Reader, error)
	// Stat describes the object under key; ErrNotFound if there is none.
	Stat(ctx context.Context, key string) (Info, error)
	// List returns the committed objects whose keys start with prefix (a
	// plain string prefix, as in S3: "a/b" matches "a/b/c" and "a/bc"),
	// sorted by key. The empty prefix lists everything.
	List(ctx context.Context, prefix string) ([]Info, error)
	// Delete removes the object under key. Deleting a key that holds no
	// object is not an error, so retries are safe.
	Delete(ctx context.Context, key string) error
}

// Writer streams one object into a Store. Close without a successful
// Commit discards what was written, so the usual shape is
//
//	w, err := s.Create(ctx, key)
//	...
//	defer w.Close()
//	if _, err := io.Copy(w, src); err != nil { return err }
//	return w.Commit()
type Writer interface {
	io.Writer
	// Commit makes the object visible under its key, atomically.
	Commit() error
	// Close discards the object unless Commit succeeded. It is safe to
	// call after Commit and more than once.
	Close() error
}

// Reader reads one committed object. ReadAt may be called from several
// goroutines at once. http.ServeContent takes an io.ReadSeeker: pass it
// io.NewSectionReader(r, 0, r.Size()).
//
// A reader keeps returning the bytes of the object it opened, or an error,
// if the key is overwritten or deleted meanwhile; never a mix of two.
type Reader interface {
	io.ReaderAt
	io.Closer
	// Size is the object's length in bytes.
	Size() int64
}

// Info describes a committed object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time // when it was committed
}

// MaxKeyLen is the longest key in bytes, S3's limit.
const MaxKeyLen = 1024

// ValidKey reports whether key may name an object: non-empty UTF-8 of at
// most MaxKeyLen bytes, slash-separated segments that are neither empty,
// "." nor "..", no leading or trailing slash, no backslash and no control
// characters. Such a key is a clean relative path on every backend, so it
// cannot escape a disk backend's directory. It returns nil or an error
// wrapping ErrBadKey.
func ValidKey(key string) error {
	if key == "" || len(key) > MaxKeyLen {
		return badKey(key, "empty or longer than 1024 bytes")
	}
	if !utf8.ValidString(key) {
		return badKey(key, "not UTF-8")
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return badKey(key, "control character or backslash")
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return badKey(key, "empty segment (leading, trailing or double slash)")
		case ".", "..":
			return badKey(key, `"." or ".." segment`)
		}
	}
	return nil
}

// ValidPrefix reports whether prefix may be passed to List: empty, or the
// beginning of some valid key (for example "conversations/" or
// "conversations/ab").
func ValidPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := ValidKey(prefix + "x"); err != nil {
		return badKey(prefix, "not the beginning of a valid key")
	}
	return nil
}

func badKey(key, why string) error {
	if len(key) > 80 {
		key = key[:80] + "..."
	}
	return &keyError{key: key, why: why}
}

type keyError struct{ key, why string }

func (e *keyError) Error() string { return "blob: invalid key " + quote(e.key) + ": " + e.why }
func (e *keyError) Unwrap() error { return ErrBadKey }

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' {
			b.WriteString(`\x`)
			b.WriteByte("0123456789abcdef"[r>>4&0xf])
			b.WriteByte("0123456789abcdef"[r&0xf])
			continue
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// ConversationPrefix is the prefix under which a conversation's objects
// live: conversations/<id>/.
func ConversationPrefix(id string) string { return conversationsRoot + id + "/" }

const conversationsRoot = "conversations/"

// ConversationID returns the conversation a key belongs to: the <id> of
// conversations/<id>/..., or an error wrapping ErrBadKey when key is not
// under a conversation.
func ConversationID(key string) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", err
	}
	rest, ok := strings.CutPrefix(key, conversationsRoot)
	if !ok {
		return "", badKey(key, "not under conversations/<id>/")
	}
	id, _, ok := strings.Cut(rest, "/")
	if !ok {
		return "", badKey(key, "not under conversations/<id>/")
	}
	if err := ValidConversationID(id); err != nil {
		return "", err
	}
	return id, nil
}

// ValidConversationID reports whether id can name a conversation's key and
// prefix: one valid key segment.
func ValidConversationID(id string) error {
	if strings.Contains(id, "/") {
		return badKey(id, "conversation id contains a slash")
	}
	if err := ValidKey(id); err != nil {
		return err
	}
	if len(id) > 200 {
		return badKey(id, "conversation id longer than 200 bytes")
	}
	return nil
}
