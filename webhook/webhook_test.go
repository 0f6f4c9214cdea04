package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"videosupport/store"
	"videosupport/store/sqlite"
)

func TestSignMatchesTheContract(t *testing.T) {
	// docs/api.md: t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>.
	body := []byte(`{"id":"d-1"}`)
	h := hmac.New(sha256.New, []byte("whsec_x"))
	h.Write([]byte("1763888400." + string(body)))
	want := "t=1763888400,v1=" + hex.EncodeToString(h.Sum(nil))
	if got := Sign("whsec_x", time.Unix(1763888400, 999), body); got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1763888400, 0)
	body := []byte(`{"id":"d-1","type":"message.created"}`)
	good := Sign("s3cret", now, body)
	old := Sign("s3cret", now.Add(-6*time.Minute), body)
	sig := strings.SplitN(good, ",", 2)[1]
	for _, tc := range []struct {
		name, secret, header string
		body                 []byte
		want                 error // nil: accepted
	}{
		{"round trip", "s3cret", good, body, nil},
		{"spaces and unknown keys", "s3cret", " v0=abc , " + sig + " ,t=1763888400", body, nil},
		{"rotating secrets", "s3cret", good + ",v1=" + strings.Repeat("ab", 32), body, nil},
		{"tampered body", "s3cret", good, []byte(`{"id":"d-2","type":"message.created"}`), ErrSignatureMismatch},
		{"wrong secret", "other", good, body, ErrSignatureMismatch},
		{"old timestamp", "s3cret", old, body, ErrSignatureExpired},
		{"future timestamp", "s3cret", Sign("s3cret", now.Add(10*time.Minute), body), body, ErrSignatureExpired},
		{"timestamp swapped", "s3cret", "t=1763888401," + sig, body, ErrSignatureMismatch},
		{"empty", "s3cret", "", body, ErrMalformedSignature},
		{"no timestamp", "s3cret", sig, body, ErrMalformedSignature},
		{"no signature", "s3cret", "t=1763888400", body, ErrMalformedSignature},
		{"bad timestamp", "s3cret", "t=soon," + sig, body, ErrMalformedSignature},
		{"two timestamps", "s3cret", "t=1763888400,t=1763888400," + sig, body, ErrMalformedSignature},
		{"not hex", "s3cret", "t=1763888400,v1=zz", body, ErrMalformedSignature},
		{"short mac", "s3cret", "t=1763888400,v1=abcd", body, ErrMalformedSignature},
		{"no equals", "s3cret", "garbage", body, ErrMalformedSignature},
		{"huge", "s3cret", good + strings.Repeat(",x=y", 2000), body, ErrMalformedSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.secret, tc.header, tc.body, now, 5*time.Minute)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	if err := Verify("", Sign("", now, body), body, now, time.Minute); err == nil {
		t.Error("Verify accepted an empty secret")
	}
	// No tolerance means the default, not "any age".
	if err := Verify("s3cret", Sign("s3cret", now.Add(-time.Hour), body), body, now, 0); !errors.Is(err, ErrSignatureExpired) {
		t.Errorf("hour-old signature with zero tolerance: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	now := time.Unix(1763888400, 0)
	body := []byte(`{"id":"d-1"}`)
	for _, h := range []string{
		Sign("s3cret", now, body), "", "t=", "v1=", "t=1,v1=", "t=-9223372036854775808,v1=00",
		"t=9223372036854775807," + strings.SplitN(Sign("s3cret", now, body), ",", 2)[1],
		",,,", "t=1763888400,v1=" + strings.Repeat("0", 64), "t=+1763888400,v1=é",
	} {
		f.Add(h, body)
	}
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		_ = Verify("s3cret", header, body, now, 5*time.Minute)
		if err := Verify("s3cret", Sign("s3cret", now, body), body, now, time.Minute); err != nil {
			t.Fatalf("own signature refused: %v", err)
		}
	})
}

// receiver is a webhook endpoint on loopback that checks what it gets the
// way a careful integrator would.
type receiver struct {
	t       *testing.T
	srv     *httptest.Server
	secrets map[string]string // path -> secret

	down      atomic.Bool // answer 503 to everything
	failFirst int         // answer 503 to each delivery's first n requests
	failWith  int         // when set, answer this status to everything
	block     chan struct{}
	blockPath string // requests here wait for block to close

	mu          sync.Mutex
	requests    map[string]int      // delivery id -> requests
	delivered   map[string]received // delivery id -> what a 2xx accepted
	duplicates  int                 // 2xx answers to an id already delivered
	bad         []string            // what a careful receiver would refuse
	running     map[string]int      // path -> requests being handled
	maxParallel map[string]int      // path -> most at once
}

type received struct {
	path  string
	event Event
}

func newReceiver(t *testing.T, secrets map[string]string) *receiver {
	t.Helper()
	r := &receiver{t: t, secrets: secrets, requests: map[string]int{}, delivered: map[string]received{},
		running: map[string]int{}, maxParallel: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) url(path string) string { return r.srv.URL + path }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	path := req.URL.Path
	r.mu.Lock()
	r.running[path]++
	r.maxParallel[path] = max(r.maxParallel[path], r.running[path])
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running[path]--
		r.mu.Unlock()
	}()
	if path == r.blockPath {
		select {
		case <-r.block:
		case <-req.Context().Done():
			return
		}
	}
	body, _ := io.ReadAll(req.Body)
	id := req.Header.Get(HeaderDelivery)
	if problem := r.check(req, path, body); problem != "" {
		r.mu.Lock()
		r.bad = append(r.bad, problem)
		r.mu.Unlock()
		http.Error(w, problem, http.StatusBadRequest)
		return
	}
	var ev Event
	_ = json.Unmarshal(body, &ev)

	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests[id]++
	switch {
	case r.failWith != 0:
		http.Error(w, "broken: "+strings.Repeat("stack frame\n", 1000), r.failWith)
		return
	case r.down.Load() || r.requests[id] <= r.failFirst:
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	if _, ok := r.delivered[id]; ok {
		r.duplicates++
	}
	r.delivered[id] = received{path, ev}
	w.WriteHeader(http.StatusOK)
}

// check returns why a careful receiver would refuse req, or "".
func (r *receiver) check(req *http.Request, path string, body []byte) string {
	secret, ok := r.secrets[path]
	switch {
	case !ok:
		return "unknown endpoint " + path
	case req.Method != http.MethodPost:
		return "method " + req.Method
	case req.Header.Get("Content-Type") != "application/json":
		return "content type " + req.Header.Get("Content-Type")
	case req.Header.Get("User-Agent") != "videosupport-webhook/1":
		return "user agent " + req.Header.Get("User-Agent")
	}
	if err := Verify(secret, req.Header.Get(HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
		return "signature: " + err.Error()
	}
	var shape map[string]json.RawMessage
	if err := json.Unmarshal(body, &shape); err != nil || len(shape) != 4 {
		return "body is not {id, type, createdAt, data}: " + string(body)
	}
	var ev struct {
		ID, Type, CreatedAt string
	}
	_ = json.Unmarshal(body, &ev)
	created, err := time.Parse(time.RFC3339Nano, ev.CreatedAt)
	switch {
	case ev.ID == "" || ev.ID != req.Header.Get(HeaderDelivery):
		return "body id " + ev.ID + " is not the delivery header " + req.Header.Get(HeaderDelivery)
	case ev.Type != req.Header.Get(HeaderEvent):
		return "body type " + ev.Type + " is not the event header " + req.Header.Get(HeaderEvent)
	case err != nil || !strings.HasSuffix(ev.CreatedAt, "Z") || time.Since(created) > time.Minute:
		return "createdAt " + ev.CreatedAt
	}
	return ""
}

// snapshot returns copies, under the lock.
func (r *receiver) snapshot() (requests map[string]int, delivered map[string]received, duplicates int, bad []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return clone(r.requests), clone(r.delivered), r.duplicates, slices.Clone(r.bad)
}

func clone[V any](m map[string]V) map[string]V {
	c := make(map[string]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func (r *receiver) assertClean(t *testing.T) {
	t.Helper()
	_, _, dups, bad := r.snapshot()
	if dups != 0 {
		t.Errorf("receiver got %d duplicate deliveries", dups)
	}
	if len(bad) > 0 {
		t.Errorf("receiver refused %d requests, first: %s", len(bad), bad[0])
	}
}

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// openStore opens the SQLite database at path; close may be called
// early, and is called at cleanup otherwise.
func openStore(t *testing.T, path string) (s store.Store, close func()) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	close = sync.OnceFunc(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	t.Cleanup(close)
	return st, close
}

func addWebhook(t *testing.T, s store.Webhooks, url, secret string, events ...string) store.Webhook {
	t.Helper()
	w, err := s.CreateWebhook(context.Background(), store.Webhook{URL: url, Events: events, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// fast is a config with a test-sized schedule.
func fast(t *testing.T, s store.Webhooks, logs io.Writer) Config {
	var out io.Writer = t.Output()
	if logs != nil {
		out = io.MultiWriter(out, logs)
	}
	return Config{
		Store:        s,
		Logger:       slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug})),
		MinBackoff:   20 * time.Millisecond,
		MaxBackoff:   80 * time.Millisecond,
		PollInterval: 50 * time.Millisecond,
	}
}

// run starts d and returns a stop that cancels it and waits for Run to
// return; it also runs at cleanup.
func run(t *testing.T, d *Dispatcher) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- d.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
	})
	t.Cleanup(stop)
	return stop
}

func deliveries(t *testing.T, s store.Webhooks, webhookID string) []store.Delivery {
	t.Helper()
	ds, err := s.Deliveries(context.Background(), webhookID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func allIn(ds []store.Delivery, status string) bool {
	for _, d := range ds {
		if d.Status != status {
			return false
		}
	}
	return len(ds) > 0
}

type message struct {
	Conversation string `json:"conversation"`
	N            int    `json:"n"`
}

func publish(t *testing.T, d *Dispatcher, typ string, n int) {
	t.Helper()
	if err := d.Publish(context.Background(), typ, message{Conversation: "c-1", N: n}); err != nil {
		t.Fatal(err)
	}
}

// assertEvents checks that got holds exactly the messages 0..n-1 of typ.
func assertEvents(t *testing.T, got map[string]received, typ string, n int) {
	t.Helper()
	var seen []int
	for id, r := range got {
		var m message
		if err := json.Unmarshal(r.event.Data, &m); err != nil || r.event.Type != typ || r.event.ID != id || m.Conversation != "c-1" {
			t.Errorf("delivery %s: %+v (%v)", id, r.event, err)
		}
		seen = append(seen, m.N)
	}
	slices.Sort(seen)
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(seen, want) {
		t.Errorf("received messages %v, want %v", seen, want)
	}
}

func TestRetriesUntilDelivered(t *testing.T) {
	s, _ := openStore(t, filepath.Join(t.TempDir(), "vs.db"))
	rcv := newReceiver(t, map[string]string{"/hook": "whsec_a"})
	rcv.failFirst = 3
	hook := addWebhook(t, s, rcv.url("/hook"), "whsec_a", "message.created")
	d := New(fast(t, s, nil))
	stop := run(t, d)
	const n = 5
	for i := range n {
		publish(t, d, "message.created", i)
	}
	waitFor(t, "every event delivered and recorded", func() bool {
		ds := deliveries(t, s, hook.ID)
		return len(ds) == n && allIn(ds, store.DeliveryDelivered)
	})
	stop()

	requests, delivered, _, _ := rcv.snapshot()
	rcv.assertClean(t)
	assertEvents(t, delivered, "message.created", n)
	for _, del := range deliveries(t, s, hook.ID) {
		if del.Attempts != 4 || del.LastStatus != 200 || del.LastError != "" || del.DeliveredAt == nil || requests[del.ID] != 4 {
			t.Errorf("delivery %s: attempts %d, last status %d, error %q, delivered at %v; receiver saw %d requests; want 4 attempts ending in 200",
				del.ID, del.Attempts, del.LastStatus, del.LastError, del.DeliveredAt, requests[del.ID])
		}
	}
	waitFor(t, "the dispatcher's goroutines and connections to end", func() bool {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		return !strings.Contains(stacks, "webhook.(*Dispatcher)") && !strings.Contains(stacks, "net/http.(*persistConn)")
	})
}

func TestRestartLosesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vs.db")
	rcv := newReceiver(t, map[string]string{"/hook": "whsec_r"})
	rcv.down.Store(true)

	s1, close1 := openStore(t, path)
	hook := addWebhook(t, s1, rcv.url("/hook"), "whsec_r", "message.created")
	d1 := New(fast(t, s1, nil))
	stop1 := run(t, d1)
	for i := range 4 {
		publish(t, d1, "message.created", i)
	}
	waitFor(t, "every delivery to have failed once", func() bool {
		ds := deliveries(t, s1, hook.ID)
		return len(ds) == 4 && !slices.ContainsFunc(ds, func(d store.Delivery) bool { return d.Attempts == 0 })
	})
	stop1()
	// Publishing needs no running sender: these wait in the queue.
	publish(t, d1, "message.created", 4)
	publish(t, d1, "message.created", 5)
	close1()

	s2, _ := openStore(t, path)
	d2 := New(fast(t, s2, nil))
	rcv.down.Store(false)
	run(t, d2)
	waitFor(t, "every event delivered after the restart", func() bool {
		_, delivered, _, _ := rcv.snapshot()
		ds := deliveries(t, s2, hook.ID)
		return len(delivered) == 6 && len(ds) == 6 && allIn(ds, store.DeliveryDelivered)
	})
	_, delivered, _, _ := rcv.snapshot()
	rcv.assertClean(t)
	assertEvents(t, delivered, "message.created", 6)
	for _, del := range deliveries(t, s2, hook.ID) {
		if _, ok := delivered[del.ID]; !ok || del.LastStatus != 200 {
			t.Errorf("delivery %s: %+v, received %v", del.ID, del, ok)
		}
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	refused := httptest.NewServer(http.NotFoundHandler())
	refusedURL := refused.URL + "/hook"
	refused.Close() // nothing listens there now

	for _, tc := range []struct {
		name       string
		url        func(*receiver) string
		wantStatus int
		wantError  string
	}{
		{"HTTP 500", func(r *receiver) string { return r.url("/hook") }, 500, "HTTP 500: broken: stack frame"},
		{"connection refused", func(*receiver) string { return refusedURL }, 0, "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openStore(t, filepath.Join(t.TempDir(), "vs.db"))
			rcv := newReceiver(t, map[string]string{"/hook": "whsec_f"})
			rcv.failWith = http.StatusInternalServerError
			hook := addWebhook(t, s, tc.url(rcv), "whsec_f", "call.started")
			cfg := fast(t, s, nil)
			cfg.MaxAttempts = 3
			d := New(cfg)
			stop := run(t, d)
			publish(t, d, "call.started", 0)
			waitFor(t, "the delivery to fail for good", func() bool {
				return allIn(deliveries(t, s, hook.ID), store.DeliveryFailed)
			})
			stop()
			del := deliveries(t, s, hook.ID)[0]
			if del.Attempts != 3 || del.LastStatus != tc.wantStatus || del.DeliveredAt != nil ||
				!strings.Contains(del.LastError, tc.wantError) || len(del.LastError) > 210 {
				t.Errorf("failed delivery: attempts %d, last status %d, error (%d bytes) %q", del.Attempts, del.LastStatus, len(del.LastError), del.LastError)
			}
			if requests, _, _, _ := rcv.snapshot(); tc.wantStatus != 0 && requests[del.ID] != 3 {
				t.Errorf("receiver saw %d requests, want 3", requests[del.ID])
			}
			rcv.assertClean(t)
		})
	}
}

func TestOnlySubscribersGetAnEvent(t *testing.T) {
	s, _ := openStore(t, filepath.Join(t.TempDir(), "vs.db"))
	rcv := newReceiver(t, map[string]string{"/a": "whsec_a", "/b": "whsec_b", "/c": "whsec_c"})
	a := addWebhook(t, s, rcv.url("/a"), "whsec_a", "message.created")
	b := addWebhook(t, s, rcv.url("/b"), "whsec_b", "call.started")
	c := addWebhook(t, s, rcv.url("/c"), "whsec_c", "message.created", "call.started")
	d := New(fast(t, s, nil))
	stop := run(t, d)
	publish(t, d, "message.created", 0)
	publish(t, d, "call.started", 0)
	publish(t, d, "conversation.closed", 0) // nobody subscribes
	// Delivered at the receiver and recorded as such: a response that
	// stop cuts off leaves its delivery pending, to be sent again.
	waitFor(t, "four deliveries", func() bool {
		_, delivered, _, _ := rcv.snapshot()
		if len(delivered) != 4 {
			return false
		}
		for _, w := range []store.Webhook{a, b, c} {
			if !allIn(deliveries(t, s, w.ID), store.DeliveryDelivered) {
				return false
			}
		}
		return true
	})
	stop()
	rcv.assertClean(t)
	_, delivered, _, _ := rcv.snapshot()
	got := map[string][]string{}
	for _, r := range delivered {
		got[r.path] = append(got[r.path], r.event.Type)
	}
	for path, want := range map[string][]string{"/a": {"message.created"}, "/b": {"call.started"}, "/c": {"call.started", "message.created"}} {
		slices.Sort(got[path])
		if !slices.Equal(got[path], want) {
			t.Errorf("%s received %v, want %v", path, got[path], want)
		}
	}
	for _, w := range []store.Webhook{a, b, c} {
		for _, del := range deliveries(t, s, w.ID) {
			if !slices.Contains(w.Events, del.Event) || del.Status != store.DeliveryDelivered {
				t.Errorf("webhook %v has delivery %+v", w.Events, del)
			}
		}
	}
}

func TestSlowEndpointDoesNotHoldOthersBack(t *testing.T) {
	s, _ := openStore(t, filepath.Join(t.TempDir(), "vs.db"))
	rcv := newReceiver(t, map[string]string{"/slow": "whsec_s", "/fast": "whsec_f"})
	rcv.block, rcv.blockPath = make(chan struct{}), "/slow"
	slow := addWebhook(t, s, rcv.url("/slow"), "whsec_s", "call.started")
	addWebhook(t, s, rcv.url("/fast"), "whsec_f", "message.created")
	d := New(fast(t, s, nil))
	run(t, d)
	for i := range 6 { // more than MaxInFlight, queued first
		publish(t, d, "call.started", i)
	}
	publish(t, d, "message.created", 0)
	waitFor(t, "the fast endpoint served while the slow one hangs", func() bool {
		_, delivered, _, _ := rcv.snapshot()
		return len(delivered) == 1
	})
	close(rcv.block)
	waitFor(t, "the slow endpoint's deliveries", func() bool {
		return allIn(deliveries(t, s, slow.ID), store.DeliveryDelivered)
	})
	rcv.assertClean(t)
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.maxParallel["/slow"] != 1 {
		t.Errorf("slow endpoint had %d requests at once, want 1", rcv.maxParallel["/slow"])
	}
}

// deleteOnDue deletes a webhook right after the queue read its delivery,
// so the sender meets a delivery whose webhook is gone.
type deleteOnDue struct {
	store.Webhooks
	victim string
	once   sync.Once
}

func (s *deleteOnDue) Due(ctx context.Context, now time.Time, limit int) ([]store.Delivery, error) {
	ds, err := s.Webhooks.Due(ctx, now, limit)
	if len(ds) > 0 {
		s.once.Do(func() {
			if err := s.Webhooks.DeleteWebhook(ctx, s.victim); err != nil {
				panic(err)
			}
		})
	}
	return ds, err
}

func TestDeletedWebhookIsDropped(t *testing.T) {
	s, _ := openStore(t, filepath.Join(t.TempDir(), "vs.db"))
	rcv := newReceiver(t, map[string]string{"/gone": "whsec_g", "/kept": "whsec_k"})
	gone := addWebhook(t, s, rcv.url("/gone"), "whsec_g", "message.created")
	kept := addWebhook(t, s, rcv.url("/kept"), "whsec_k", "message.created")
	var logs lockedBuffer
	d := New(fast(t, &deleteOnDue{Webhooks: s, victim: gone.ID}, &logs))
	publish(t, d, "message.created", 0)
	stop := run(t, d)
	waitFor(t, "the dropped delivery logged", func() bool {
		return strings.Contains(logs.String(), `"msg":"webhook deleted; delivery dropped","delivery":"d-`) &&
			strings.Contains(logs.String(), `"webhook":"`+gone.ID+`","event":"message.created"`)
	})
	waitFor(t, "the other webhook's delivery", func() bool { return allIn(deliveries(t, s, kept.ID), store.DeliveryDelivered) })
	stop()
	rcv.assertClean(t)
	if _, delivered, _, _ := rcv.snapshot(); len(delivered) != 1 {
		t.Errorf("receiver got %d deliveries, want only the kept webhook's", len(delivered))
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestBackoffDoubles(t *testing.T) {
	d := New(Config{Store: &deleteOnDue{}})
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}
	for i, w := range want {
		if got := d.backoff(i + 1); got != w {
			t.Errorf("backoff after attempt %d = %v, want %v", i+1, got, w)
		}
	}
	if got := d.backoff(13); got != time.Hour {
		t.Errorf("backoff after attempt 13 = %v, want the 1 h cap", got)
	}
	if got := d.backoff(1000); got != time.Hour {
		t.Errorf("backoff after attempt 1000 = %v, want the 1 h cap", got)
	}
}
