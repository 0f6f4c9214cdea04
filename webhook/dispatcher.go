package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"videosupport/store"
)

// Defaults for the zero values of Config, as docs/api.md promises them.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultMinBackoff   = time.Second
	DefaultMaxBackoff   = time.Hour
	DefaultMaxAttempts  = 12
	DefaultPollInterval = time.Second
	DefaultMaxInFlight  = 4
)

// dueBatch is how many due deliveries one look at the queue reads. It only
// needs to reach past the deliveries of endpoints already busy.
const dueBatch = 64

// Config configures a Dispatcher. Zero values take the defaults above.
type Config struct {
	// Store holds the webhooks and the delivery queue. Required.
	Store store.Webhooks
	// Client sends the POSTs. Nil: a client of our own with a 10 s
	// timeout that does not follow redirects (a 3xx is a failed attempt;
	// following one would turn the POST into a GET). A client without a
	// Timeout still gets 10 s per attempt.
	Client *http.Client
	Logger *slog.Logger
	// Now is the clock for signatures, backoff and the queue; nil:
	// time.Now.
	Now func() time.Time
	// Backoff: the first retry waits MinBackoff, each next one twice as
	// long up to MaxBackoff; after MaxAttempts attempts in all the
	// delivery is marked failed.
	MinBackoff, MaxBackoff time.Duration
	MaxAttempts            int
	// PollInterval is how often to look for due deliveries when nothing
	// wakes the sender.
	PollInterval time.Duration
	// MaxInFlight bounds the POSTs under way at once, over all
	// endpoints. Each endpoint has at most one.
	MaxInFlight int
}

// Dispatcher delivers queued webhook events: it enqueues them in the
// store (so a restart loses none) and POSTs them, signed, retrying with
// exponential backoff. Publish may be called from any goroutine, whether
// Run is running or not; Run runs once at a time.
type Dispatcher struct {
	cfg       Config
	client    *http.Client
	ownClient bool
	log       *slog.Logger
	wake      chan struct{} // capacity 1: a pending wake-up is enough
	running   atomic.Bool
}

// New returns a Dispatcher; it sends nothing until Run.
func New(cfg Config) *Dispatcher {
	if cfg.Store == nil {
		panic("webhook.New: Config.Store is nil")
	}
	d := &Dispatcher{cfg: cfg, client: cfg.Client, log: cfg.Logger, wake: make(chan struct{}, 1)}
	if d.client == nil {
		d.client, d.ownClient = defaultClient(), true
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	c := &d.cfg
	if c.Now == nil {
		c.Now = time.Now
	}
	c.MinBackoff = orDefault(c.MinBackoff, DefaultMinBackoff)
	c.MaxBackoff = max(orDefault(c.MaxBackoff, DefaultMaxBackoff), c.MinBackoff)
	c.MaxAttempts = orDefault(c.MaxAttempts, DefaultMaxAttempts)
	c.PollInterval = orDefault(c.PollInterval, DefaultPollInterval)
	c.MaxInFlight = orDefault(c.MaxInFlight, DefaultMaxInFlight)
	return d
}

func orDefault[T time.Duration | int](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

func defaultClient() *http.Client {
	c := &http.Client{
		Timeout:       DefaultTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	// A transport of our own, so Run can close its idle connections
	// (and their goroutines) without touching anyone else's.
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		c.Transport = t.Clone()
	}
	return c
}

// Publish queues event type typ (e.g. "message.created") with data for
// every webhook subscribed to typ and wakes the sender. Each body is an
// Event: {"id": <delivery id>, "type": typ, "createdAt": ..., "data": data}.
// When Publish returns nil the deliveries are in the store.
func (d *Dispatcher) Publish(ctx context.Context, typ string, data any) error {
	if typ == "" {
		return errors.New("publish webhook event: empty type")
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("publish webhook event %s: encode data: %w", typ, err)
	}
	created := d.cfg.Now().UTC()
	n, err := d.cfg.Store.Enqueue(ctx, typ, func(id string) ([]byte, error) {
		return json.Marshal(Event{ID: id, Type: typ, CreatedAt: created, Data: raw})
	})
	if err != nil {
		return fmt.Errorf("publish webhook event %s: %w", typ, err)
	}
	if n > 0 {
		d.log.Debug("webhook event queued", "event", typ, "deliveries", n)
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// outcome is what a finished attempt tells the send loop.
type outcome struct {
	delivery, webhook string
	retryAt           time.Time // zero unless a retry was scheduled
}

// Run sends due deliveries until ctx ends; it returns nil when its
// goroutines have stopped. An attempt cut short by ctx is not counted and
// goes out again on the next Run. Store errors are logged and retried.
func (d *Dispatcher) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("webhook dispatcher: Run is already running")
	}
	defer d.running.Store(false)
	if d.ownClient {
		defer d.client.CloseIdleConnections()
	}
	var wg sync.WaitGroup
	defer wg.Wait()

	// Buffered to MaxInFlight: a sender never waits to report, even
	// while the loop is leaving.
	done := make(chan outcome, d.cfg.MaxInFlight)
	inFlight := make(map[string]bool) // delivery ids: never sent twice at once
	busy := make(map[string]bool)     // webhook ids with a POST under way
	// soonest is the earliest retry this loop scheduled and has not
	// yet looked for; later ones wait for the next poll at worst.
	var soonest time.Time
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		// A retry now due is found by this look or, when every slot is
		// taken, by the look after the next attempt ends.
		if !soonest.After(d.cfg.Now()) {
			soonest = time.Time{}
		}
		if len(inFlight) < d.cfg.MaxInFlight {
			for _, del := range d.due(ctx) {
				if len(inFlight) >= d.cfg.MaxInFlight {
					break
				}
				if inFlight[del.ID] || busy[del.WebhookID] {
					continue
				}
				inFlight[del.ID], busy[del.WebhookID] = true, true
				wg.Go(func() { done <- d.attempt(ctx, del) })
			}
		}
		wait := d.cfg.PollInterval
		if !soonest.IsZero() {
			wait = max(min(wait, soonest.Sub(d.cfg.Now())), 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
		case <-timer.C:
		case o := <-done:
			delete(inFlight, o.delivery)
			delete(busy, o.webhook)
			if !o.retryAt.IsZero() && (soonest.IsZero() || o.retryAt.Before(soonest)) {
				soonest = o.retryAt
			}
		}
	}
}

func (d *Dispatcher) due(ctx context.Context) []store.Delivery {
	dues, err := d.cfg.Store.Due(ctx, d.cfg.Now(), dueBatch)
	if err != nil && ctx.Err() == nil {
		d.log.Error("webhook queue unreadable", "err", err)
	}
	return dues
}

// backoff is the wait after the attempts-th failed attempt.
func (d *Dispatcher) backoff(attempts int) time.Duration {
	b := d.cfg.MinBackoff
	for i := 1; i < attempts; i++ {
		if b >= d.cfg.MaxBackoff/2 {
			return d.cfg.MaxBackoff
		}
		b *= 2
	}
	return min(b, d.cfg.MaxBackoff)
}
