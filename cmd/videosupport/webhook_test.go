package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"videosupport/store"
	"videosupport/webhook"
)

// TestWebhooksSurviveOutageAndRestart: a receiver that is down for
// several retries, and a server restart in the middle, still get every
// event exactly once, signed.
func TestWebhooksSurviveOutageAndRestart(t *testing.T) {
	var up atomic.Bool
	var mu sync.Mutex
	got := map[string]int{} // delivery id -> times accepted
	var secret atomic.Value
	secret.Store("")
	var badSig atomic.Int32
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(secret.Load().(string), r.Header.Get("Videosupport-Signature"), body, time.Now(), 5*time.Minute); err != nil {
			badSig.Add(1)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if !up.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		var ev struct{ ID, Type string }
		_ = json.Unmarshal(body, &ev)
		if ev.ID != r.Header.Get("Videosupport-Delivery") {
			t.Errorf("body id %q, header %q", ev.ID, r.Header.Get("Videosupport-Delivery"))
		}
		mu.Lock()
		got[ev.Type+" "+ev.ID]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()

	dir := t.TempDir()
	base, a, stop := startAppIn(t, dir)
	addStaff(t, a, "admin@example.com", "Admin", store.RoleAdmin)
	admin, _ := login(t, base, "admin@example.com")
	var hook struct {
		Webhook store.Webhook `json:"webhook"`
		Secret  string        `json:"secret"`
	}
	if code := admin.do("POST", "/api/v1/webhooks", map[string]any{"url": recv.URL, "events": []string{"conversation.created", "message.created"}}, &hook); code != 201 {
		t.Fatalf("register webhook: %d", code)
	}
	secret.Store(hook.Secret)
	var conv struct{ Conversation store.Conversation }
	newAPIClient(t, base).do("POST", "/api/v1/conversations", map[string]string{"customerName": "Wei", "message": "hello"}, &conv)
	// Two events so far; the receiver refuses them. Let the first
	// attempts fail, then restart the server.
	eventually(t, 10*time.Second, "first attempts fail", func() bool {
		var log struct{ Deliveries []store.Delivery }
		admin.do("GET", "/api/v1/webhooks/"+hook.Webhook.ID+"/deliveries", nil, &log)
		return len(log.Deliveries) == 2 && log.Deliveries[0].Attempts >= 1 && log.Deliveries[1].Attempts >= 1
	})
	stop()
	base, _, _ = startAppIn(t, dir)
	admin, _ = login(t, base, "admin@example.com")
	up.Store(true)
	eventually(t, 20*time.Second, "every event delivered after the outage and the restart", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 2
	})
	mu.Lock()
	for k, n := range got {
		if n != 1 {
			t.Errorf("%s accepted %d times", k, n)
		}
	}
	mu.Unlock()
	if badSig.Load() != 0 {
		t.Errorf("%d deliveries had a bad signature", badSig.Load())
	}
	var log struct{ Deliveries []store.Delivery }
	admin.do("GET", "/api/v1/webhooks/"+hook.Webhook.ID+"/deliveries", nil, &log)
	for _, d := range log.Deliveries {
		if d.Status != store.DeliveryDelivered || d.Attempts < 2 || d.LastStatus != http.StatusNoContent {
			t.Errorf("delivery log: %+v", d)
		}
	}
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
