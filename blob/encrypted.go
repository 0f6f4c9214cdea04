package blob

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
)

// Encrypted is a Store that seals every object at rest with AES-256-GCM in
// chunks (see ChunkSize), under a data key per conversation that a master
// key wraps. Objects must live under conversations/<id>/ (see
// ConversationID): that id picks the key. Destroying a conversation's key
// makes all its objects unreadable for good, in every copy and backup of
// the inner store, since the inner store never sees a key.
//
// Readers opened before a key is destroyed keep working until closed. An
// open Writer keeps retention from destroying its conversation's key (see
// DestroyKeyIfEmpty), so close every writer. Only writers of this process
// are seen: a writer elsewhere whose key is destroyed under it fails at
// Commit with ErrKeyDestroyed rather than leaving an unreadable object.
type Encrypted struct {
	inner    Store
	keys     KeyStore
	master   cipher.AEAD
	previous []cipher.AEAD // master keys being retired, see Rewrap

	mu      sync.Mutex
	writers map[string]int // open writers by conversation, see DestroyKeyIfEmpty
}

// NewEncrypted seals objects into inner, keeping wrapped keys in keys.
// masterKey must be MasterKeySize bytes; it is copied. previous are
// master keys being retired: keys still wrapped with one of them are read,
// and wrapped anew with masterKey as they are read or by Rewrap.
func NewEncrypted(inner Store, keys KeyStore, masterKey []byte, previous ...[]byte) (*Encrypted, error) {
	m, err := newMasterAEAD(masterKey)
	if err != nil {
		return nil, err
	}
	e := &Encrypted{inner: inner, keys: keys, master: m, writers: map[string]int{}}
	for i, k := range previous {
		p, err := newMasterAEAD(k)
		if err != nil {
			return nil, fmt.Errorf("previous master key %d: %w", i+1, err)
		}
		e.previous = append(e.previous, p)
	}
	return e, nil
}

// RewrapStats counts what Rewrap found.
type RewrapStats struct {
	Current   int // already wrapped with the master key
	Rewrapped int // moved from a previous master key to it
	// Unreadable keys open under none of the master keys given: wrapped
	// with a master key that was not passed, or damaged. Their
	// conversations' recordings cannot be read until it is.
	Unreadable []string
}

// Rewrap wraps every conversation key still under a previous master key
// with the master key. Once it reports nothing unreadable, the previous
// keys are no longer needed. Safe to run while the store is in use, and on
// several servers at once: a key replaced or destroyed meanwhile is left
// as it is.
func (e *Encrypted) Rewrap(ctx context.Context) (RewrapStats, error) {
	var st RewrapStats
	ids, err := e.keys.IDs(ctx)
	if err != nil {
		return st, fmt.Errorf("blob: list keys: %w", err)
	}
	for _, id := range ids {
		wrapped, err := e.keys.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // destroyed meanwhile
		}
		if err != nil {
			return st, fmt.Errorf("blob: key of conversation %s: %w", id, err)
		}
		if _, err := unwrapKey(e.master, id, wrapped); err == nil {
			st.Current++
			continue
		}
		switch _, moved, err := e.unwrapPrevious(ctx, id, wrapped); {
		case err != nil:
			st.Unreadable = append(st.Unreadable, id)
		case moved:
			st.Rewrapped++
		}
	}
	return st, ctx.Err()
}

// unwrapPrevious opens a key wrapped with a previous master key and
// stores it wrapped with the current one; moved says whether this call
// did (another may have first).
func (e *Encrypted) unwrapPrevious(ctx context.Context, conv string, wrapped []byte) (dataKey, bool, error) {
	for _, p := range e.previous {
		dk, err := unwrapKey(p, conv, wrapped)
		if err != nil {
			continue
		}
		next, err := wrapKey(e.master, conv, dk)
		if err != nil {
			return dk, false, err
		}
		switch err := e.keys.Replace(ctx, conv, wrapped, next); {
		case err == nil:
			return dk, true, nil
		case errors.Is(err, ErrKeyChanged):
			return dk, false, nil
		default:
			return dk, false, fmt.Errorf("blob: rewrap key of conversation %s: %w", conv, err)
		}
	}
	return dataKey{}, false, fmt.Errorf("conversation %s: %w", conv, ErrKeyUnwrap)
}

// Create starts a sealed object, making the conversation's key if it has
// none.
func (e *Encrypted) Create(ctx context.Context, key string) (Writer, error) {
	conv, err := ConversationID(key)
	if err != nil {
		return nil, err
	}
	e.addWriter(conv, 1)
	w, err := e.create(ctx, conv, key)
	if err != nil {
		e.addWriter(conv, -1)
		return nil, err
	}
	return w, nil
}

func (e *Encrypted) create(ctx context.Context, conv, key string) (*sealedWriter, error) {
	dk, err := e.dataKey(ctx, conv, true)
	if err != nil {
		return nil, err
	}
	salt := make([]byte, saltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("blob: random salt: %w", err)
	}
	header := newHeader(dk, salt)
	s, err := newSealer(dk, header, key, ChunkSize)
	if err != nil {
		return nil, err
	}
	inner, err := e.inner.Create(ctx, key)
	if err != nil {
		return nil, err
	}
	if _, err := inner.Write(header); err != nil {
		_ = inner.Close()
		return nil, fmt.Errorf("blob: %s: write header: %w", key, err)
	}
	return &sealedWriter{e: e, ctx: ctx, conv: conv, key: key, keyID: dk.id, inner: inner, cw: newChunkWriter(inner, s)}, nil
}

func (e *Encrypted) addWriter(conv string, d int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.writers[conv] += d
	if e.writers[conv] == 0 {
		delete(e.writers, conv)
	}
}

// dataKey fetches and unwraps the key of conv; with create, it makes one
// when there is none (and takes the winner's when two writers race).
func (e *Encrypted) dataKey(ctx context.Context, conv string, create bool) (dataKey, error) {
	for range 3 {
		wrapped, err := e.keys.Get(ctx, conv)
		if err == nil {
			dk, err := unwrapKey(e.master, conv, wrapped)
			if err != nil && len(e.previous) > 0 {
				// Moved to the master key on the way; a failed move
				// is Rewrap's to retry, the key is good either way.
				dk, _, err = e.unwrapPrevious(ctx, conv, wrapped)
				if errors.Is(err, ErrKeyUnwrap) {
					return dataKey{}, err
				}
				return dk, nil
			}
			return dk, err
		}
		if !errors.Is(err, ErrNotFound) {
			return dataKey{}, fmt.Errorf("blob: key of conversation %s: %w", conv, err)
		}
		if !create {
			return dataKey{}, fmt.Errorf("conversation %s: %w", conv, ErrKeyDestroyed)
		}
		dk, err := newDataKey()
		if err != nil {
			return dataKey{}, err
		}
		w, err := wrapKey(e.master, conv, dk)
		if err != nil {
			return dataKey{}, err
		}
		switch err := e.keys.Put(ctx, conv, w); {
		case err == nil:
			return dk, nil
		case !errors.Is(err, ErrKeyExists):
			return dataKey{}, fmt.Errorf("blob: store key of conversation %s: %w", conv, err)
		}
		// Another writer stored one first: read it on the next round.
	}
	return dataKey{}, fmt.Errorf("blob: key of conversation %s keeps changing", conv)
}

// Open opens a sealed object. It fails with ErrKeyDestroyed when the key
// it was sealed with is gone, and ErrCorrupt when the stored bytes are
// not intact.
func (e *Encrypted) Open(ctx context.Context, key string) (Reader, error) {
	conv, err := ConversationID(key)
	if err != nil {
		return nil, err
	}
	inner, err := e.inner.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	r, err := e.open(ctx, conv, key, inner)
	if err != nil {
		_ = inner.Close()
		return nil, err
	}
	return r, nil
}

func (e *Encrypted) open(ctx context.Context, conv, key string, inner Reader) (*sealedReader, error) {
	header := make([]byte, headerSize)
	if n, _ := inner.ReadAt(header, 0); n < headerSize {
		return nil, fmt.Errorf("blob: %s: short header: %w", key, ErrCorrupt)
	}
	id, err := parseHeader(header)
	if err != nil {
		return nil, fmt.Errorf("blob: %s: %w", key, err)
	}
	dk, err := e.dataKey(ctx, conv, false)
	if err != nil {
		return nil, fmt.Errorf("blob: %s: %w", key, err)
	}
	if dk.id != id {
		// The key it was sealed with is gone; the conversation has a newer one.
		return nil, fmt.Errorf("blob: %s: sealed with an older key of conversation %s: %w", key, conv, ErrKeyDestroyed)
	}
	s, err := newSealer(dk, header, key, ChunkSize)
	if err != nil {
		return nil, err
	}
	r, err := openSealed(inner, inner.Size(), s, key)
	if err != nil {
		return nil, err
	}
	r.closer = inner
	return r, nil
}

// Stat describes the object with its plaintext size (0 for an object too
// damaged to have one; Open reports it).
func (e *Encrypted) Stat(ctx context.Context, key string) (Info, error) {
	if _, err := ConversationID(key); err != nil {
		return Info{}, err
	}
	info, err := e.inner.Stat(ctx, key)
	if err != nil {
		return Info{}, err
	}
	info.Size = sealedSize(info.Size, ChunkSize)
	return info, nil
}

// List lists objects with their plaintext sizes (0 for an object too
// damaged to have one; Open reports it).
func (e *Encrypted) List(ctx context.Context, prefix string) ([]Info, error) {
	infos, err := e.inner.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	for i := range infos {
		infos[i].Size = sealedSize(infos[i].Size, ChunkSize)
	}
	return infos, nil
}

// Delete deletes the sealed object; the conversation's key stays.
func (e *Encrypted) Delete(ctx context.Context, key string) error {
	if _, err := ConversationID(key); err != nil {
		return err
	}
	return e.inner.Delete(ctx, key)
}

// DestroyKey destroys the key of conversation id at once, whatever it
// still holds: for a deleted conversation. Its objects stay in the inner
// store, unreadable; a later write for the conversation gets a new key.
func (e *Encrypted) DestroyKey(ctx context.Context, id string) error {
	if err := ValidConversationID(id); err != nil {
		return err
	}
	if err := e.keys.Destroy(ctx, id); err != nil {
		return fmt.Errorf("blob: destroy key of conversation %s: %w", id, err)
	}
	return nil
}

// DestroyKeyIfEmpty destroys the key of conversation id if it holds no
// object and no writer of this Encrypted is open for it, and reports
// whether it did. Retention calls it after deleting old objects, so a
// recording being written meanwhile keeps its key.
func (e *Encrypted) DestroyKeyIfEmpty(ctx context.Context, id string) (bool, error) {
	if err := ValidConversationID(id); err != nil {
		return false, err
	}
	// Holding mu keeps new writers of any conversation from starting
	// until the key is gone; retention runs rarely and this is short.
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.writers[id] > 0 {
		return false, nil
	}
	left, err := e.inner.List(ctx, ConversationPrefix(id))
	if err != nil {
		return false, err
	}
	if len(left) > 0 {
		return false, nil
	}
	if err := e.keys.Destroy(ctx, id); err != nil {
		return false, fmt.Errorf("blob: destroy key of conversation %s: %w", id, err)
	}
	return true, nil
}

// sealedWriter streams one sealed object into the inner store.
type sealedWriter struct {
	e     *Encrypted
	ctx   context.Context
	conv  string
	key   string
	keyID [keyIDSize]byte
	inner Writer
	cw    *chunkWriter
	err   error // sticky
	done  bool
}

func (w *sealedWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, ErrCommitted
	}
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.cw.Write(p)
	if err != nil {
		w.err = fmt.Errorf("blob: %s: %w", w.key, err)
	}
	return n, w.err
}

// Commit seals the final chunk and commits the object. If the
// conversation's key was destroyed meanwhile (by another process, say),
// the object could never be read: it is deleted and Commit reports
// ErrKeyDestroyed.
func (w *sealedWriter) Commit() error {
	if w.done {
		return ErrCommitted
	}
	if w.err != nil {
		return w.err
	}
	defer w.Close()
	if err := w.cw.finish(); err != nil {
		w.err = fmt.Errorf("blob: %s: %w", w.key, err)
		return w.err
	}
	if err := w.inner.Commit(); err != nil {
		w.err = err
		return err
	}
	// Only a key known to be gone condemns the object: a key store that
	// fails to answer now says nothing about it.
	dk, err := w.e.dataKey(w.ctx, w.conv, false)
	if (err == nil && dk.id != w.keyID) || errors.Is(err, ErrKeyDestroyed) {
		_ = w.e.inner.Delete(context.WithoutCancel(w.ctx), w.key)
		w.err = fmt.Errorf("blob: %s: conversation key destroyed while writing: %w", w.key, ErrKeyDestroyed)
		return w.err
	}
	return nil
}

// Close discards the object unless it was committed.
func (w *sealedWriter) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	w.e.addWriter(w.conv, -1)
	return w.inner.Close()
}
