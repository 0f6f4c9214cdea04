package blob

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Retention deletes objects older than MaxAge under Prefix and, when Store
// is an *Encrypted, destroys the keys of conversations it left without
// any object, so their recordings are unreadable even from a backup.
type Retention struct {
	Store  Store
	MaxAge time.Duration    // objects committed longer ago than this go
	Prefix string           // "" means "conversations/"
	Now    func() time.Time // nil means time.Now
}

// RetentionResult says what one Run did.
type RetentionResult struct {
	Deleted       []string // object keys
	KeysDestroyed []string // conversation ids
}

// keyDestroyer is what Retention needs of an encrypting store.
type keyDestroyer interface {
	DestroyKeyIfEmpty(ctx context.Context, conversationID string) (bool, error)
}

// Run makes one pass. It goes on past a failed deletion and returns every
// failure joined, with what it did do.
func (r Retention) Run(ctx context.Context) (RetentionResult, error) {
	var res RetentionResult
	if r.MaxAge <= 0 {
		return res, fmt.Errorf("blob: retention: MaxAge %v must be positive", r.MaxAge)
	}
	now, prefix := time.Now, r.Prefix
	if r.Now != nil {
		now = r.Now
	}
	if prefix == "" {
		prefix = conversationsRoot
	}
	cutoff := now().Add(-r.MaxAge)
	infos, err := r.Store.List(ctx, prefix)
	if err != nil {
		return res, fmt.Errorf("blob: retention: %w", err)
	}
	var errs []error
	left := map[string]int{} // objects kept, by conversation
	var convs []string       // in the order met
	for _, info := range infos {
		conv, convErr := ConversationID(info.Key)
		if convErr == nil {
			if _, seen := left[conv]; !seen {
				convs = append(convs, conv)
				left[conv] = 0
			}
		}
		if !info.ModTime.Before(cutoff) {
			if convErr == nil {
				left[conv]++
			}
			continue
		}
		if err := r.Store.Delete(ctx, info.Key); err != nil {
			errs = append(errs, fmt.Errorf("blob: retention: delete %s: %w", info.Key, err))
			if convErr == nil {
				left[conv]++
			}
			continue
		}
		res.Deleted = append(res.Deleted, info.Key)
	}
	kd, ok := r.Store.(keyDestroyer)
	if !ok {
		return res, errors.Join(errs...)
	}
	for _, conv := range convs {
		if left[conv] > 0 {
			continue
		}
		destroyed, err := kd.DestroyKeyIfEmpty(ctx, conv)
		if err != nil {
			errs = append(errs, fmt.Errorf("blob: retention: %w", err))
			continue
		}
		if destroyed {
			res.KeysDestroyed = append(res.KeysDestroyed, conv)
		}
	}
	return res, errors.Join(errs...)
}
