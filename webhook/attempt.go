package webhook

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"videosupport/store"
)

// maxErrorLen bounds LastError: enough to tell "maintenance" from "bad
// signature", not a dump of the receiver's page.
const maxErrorLen = 200

// drainLimit is how much of an answer we read so its connection can be
// reused; a longer answer costs a new connection, not our memory.
const drainLimit = 64 << 10

// recordTimeout bounds writing an outcome after Run's ctx has ended: an
// answer we got must be recorded, or the receiver gets it again.
const recordTimeout = 5 * time.Second

// attempt makes one attempt at del and records its outcome.
func (d *Dispatcher) attempt(ctx context.Context, del store.Delivery) outcome {
	out := outcome{delivery: del.ID, webhook: del.WebhookID}
	log := d.log.With("delivery", del.ID, "webhook", del.WebhookID, "event", del.Event)
	hook, err := d.cfg.Store.Webhook(ctx, del.WebhookID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Deleting a webhook deletes its queue; this one was read just
		// before. Marking it failed is a no-op then, and keeps it from
		// coming back on a backend that left it behind.
		log.Info("webhook deleted; delivery dropped")
		del.Status, del.LastError = store.DeliveryFailed, "webhook deleted"
		d.record(ctx, log, del)
		return out
	case err != nil:
		if ctx.Err() == nil {
			log.Error("webhook lookup failed; will retry", "err", err)
		}
		return out
	}

	start := d.cfg.Now()
	status, errText := d.post(ctx, hook, del)
	if status == 0 && ctx.Err() != nil {
		// We stopped, the endpoint did not fail: not an attempt.
		log.Debug("webhook attempt interrupted by shutdown")
		return out
	}
	now := d.cfg.Now()
	del.Attempts++
	del.LastStatus, del.LastError = status, errText
	attrs := []any{"attempt", del.Attempts, "status", status, "duration", now.Sub(start)}
	switch {
	case status >= 200 && status < 300:
		del.Status, del.DeliveredAt = store.DeliveryDelivered, &now
		log.Info("webhook delivered", attrs...)
	case del.Attempts >= d.cfg.MaxAttempts:
		del.Status = store.DeliveryFailed
		log.Warn("webhook delivery failed for good", append(attrs, "err", errText)...)
	default:
		del.NextAttempt = now.Add(d.backoff(del.Attempts))
		out.retryAt = del.NextAttempt
		log.Info("webhook attempt failed; will retry", append(attrs, "err", errText, "next", del.NextAttempt)...)
	}
	d.record(ctx, log, del)
	return out
}

func (d *Dispatcher) record(ctx context.Context, log *slog.Logger, del store.Delivery) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := d.cfg.Store.Attempted(ctx, del); err != nil {
		// It stays pending and goes out again; the receiver drops the
		// duplicate by its delivery id.
		log.Error("webhook outcome not recorded", "err", err)
	}
}

// post sends del to hook once. It returns the HTTP status (0 when there
// was no answer) and, unless it is 2xx, a short reason.
func (d *Dispatcher) post(ctx context.Context, hook store.Webhook, del store.Delivery) (int, string) {
	if d.client.Timeout <= 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(del.Payload))
	if err != nil {
		return 0, shorten(err.Error())
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderDelivery, del.ID)
	req.Header.Set(HeaderEvent, del.Event)
	req.Header.Set(HeaderSignature, Sign(hook.Secret, d.cfg.Now(), del.Payload))
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, shorten(err.Error())
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorLen))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, ""
	}
	return resp.StatusCode, shorten("HTTP " + strconv.Itoa(resp.StatusCode) + ": " + string(head))
}

// shorten makes s fit a log line: valid UTF-8, no control characters, at
// most maxErrorLen bytes.
func shorten(s string) string {
	s = strings.ToValidUTF8(s, "?")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(strings.Join(strings.Fields(s), " "))
	if len(s) > maxErrorLen {
		cut := maxErrorLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strings.TrimSuffix(s, ":")
}
