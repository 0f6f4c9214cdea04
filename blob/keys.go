package blob

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// Errors about data keys, checked with errors.Is.
var (
	// ErrKeyExists: KeyStore.Put found a key already stored for the
	// conversation; the caller uses that one.
	ErrKeyExists = errors.New("blob: a key is already stored for this conversation")
	// ErrKeyDestroyed: the object was sealed with a conversation key that
	// has since been destroyed (retention, or the conversation was
	// deleted), so it can never be read again.
	ErrKeyDestroyed = errors.New("blob: the conversation's encryption key was destroyed; the recording cannot be read")
	// ErrKeyUnwrap: a stored key does not open under the master key: the
	// master key is not the one it was wrapped with, or the stored key was
	// damaged.
	ErrKeyUnwrap = errors.New("blob: cannot unwrap the conversation's key (wrong master key or damaged key)")
	// ErrKeyChanged: KeyStore.Replace found another key stored for the
	// conversation than the one to replace, or none.
	ErrKeyChanged = errors.New("blob: the conversation's stored key changed meanwhile")
)

// KeyStore keeps one wrapped data key per conversation. The bytes are
// opaque and already encrypted under the master key, so a KeyStore needs no
// secrecy of its own, only durability and a real Destroy. blob/disk has a
// file-based one; the conversation database can hold them too.
//
// Implementations are safe for concurrent use.
type KeyStore interface {
	// Put stores the wrapped key of conversation id if it has none yet;
	// otherwise it returns ErrKeyExists and keeps the stored one, so two
	// writers racing to create a key agree on one.
	Put(ctx context.Context, id string, wrapped []byte) error
	// Get returns the wrapped key of conversation id, or ErrNotFound.
	Get(ctx context.Context, id string) ([]byte, error)
	// Destroy erases the key of conversation id beyond recovery, as far as
	// the medium allows. Destroying a key that is not there is not an error.
	Destroy(ctx context.Context, id string) error
	// Replace stores next as the wrapped key of conversation id if the
	// stored one is still old, and erases old as Destroy would; otherwise
	// it returns ErrKeyChanged and changes nothing, so a key destroyed
	// meanwhile stays destroyed. It is how keys move to a new master key.
	Replace(ctx context.Context, id string, old, next []byte) error
	// IDs lists the conversations that have a key, in no set order.
	IDs(ctx context.Context) ([]string, error)
}

// MasterKeySize is the length of the master key in bytes (AES-256).
const MasterKeySize = 32

const (
	keyIDSize     = 16
	dataKeySize   = 32
	wrapVersion   = 1
	wrapNonceSize = 12
	// wrapped key: version | key id | nonce | AES-GCM(data key)
	wrappedSize = 1 + keyIDSize + wrapNonceSize + dataKeySize + 16
)

// dataKey is one conversation's key. The id is random and also written into
// every object sealed with the key, so an object whose key has been
// destroyed (and perhaps replaced by a new one for a later recording) is
// told apart from a damaged one.
type dataKey struct {
	id  [keyIDSize]byte
	key [dataKeySize]byte
}

func newDataKey() (dataKey, error) {
	var k dataKey
	if _, err := rand.Read(k.id[:]); err != nil {
		return k, fmt.Errorf("blob: random key id: %w", err)
	}
	if _, err := rand.Read(k.key[:]); err != nil {
		return k, fmt.Errorf("blob: random data key: %w", err)
	}
	return k, nil
}

// newMasterAEAD checks the master key and makes its AES-256-GCM.
func newMasterAEAD(master []byte) (cipher.AEAD, error) {
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("blob: master key is %d bytes, want %d", len(master), MasterKeySize)
	}
	b, err := aes.NewCipher(master)
	if err != nil {
		return nil, fmt.Errorf("blob: master key: %w", err)
	}
	return cipher.NewGCM(b)
}

// wrapAAD binds a wrapped key to its conversation: a key row copied to
// another conversation does not unwrap.
func wrapAAD(head []byte, conv string) []byte {
	aad := make([]byte, 0, len("videosupport blob key\x00")+len(head)+len(conv))
	aad = append(aad, "videosupport blob key\x00"...)
	aad = append(aad, head...)
	return append(aad, conv...)
}

// wrapKey seals k under the master key with a random nonce (AES-GCM key
// wrapping: few keys are ever wrapped under one master key, far below the
// random-nonce limit).
func wrapKey(master cipher.AEAD, conv string, k dataKey) ([]byte, error) {
	out := make([]byte, 1+keyIDSize+wrapNonceSize, wrappedSize)
	out[0] = wrapVersion
	copy(out[1:], k.id[:])
	nonce := out[1+keyIDSize:]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("blob: random nonce: %w", err)
	}
	return master.Seal(out, nonce, k.key[:], wrapAAD(out[:1+keyIDSize], conv)), nil
}

// unwrapKey opens a wrapped key read from a KeyStore: outside input.
func unwrapKey(master cipher.AEAD, conv string, wrapped []byte) (dataKey, error) {
	var k dataKey
	if len(wrapped) != wrappedSize || wrapped[0] != wrapVersion {
		return k, fmt.Errorf("conversation %s: %w", conv, ErrKeyUnwrap)
	}
	head := wrapped[:1+keyIDSize]
	nonce := wrapped[1+keyIDSize : 1+keyIDSize+wrapNonceSize]
	plain, err := master.Open(nil, nonce, wrapped[1+keyIDSize+wrapNonceSize:], wrapAAD(head, conv))
	if err != nil || len(plain) != dataKeySize {
		return k, fmt.Errorf("conversation %s: %w", conv, ErrKeyUnwrap)
	}
	copy(k.id[:], wrapped[1:])
	copy(k.key[:], plain)
	clear(plain)
	return k, nil
}
