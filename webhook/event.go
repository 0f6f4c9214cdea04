package webhook

import (
	"encoding/json"
	"time"
)

// Headers on every delivery.
const (
	HeaderDelivery  = "Videosupport-Delivery"
	HeaderEvent     = "Videosupport-Event"
	HeaderSignature = "Videosupport-Signature"
	UserAgent       = "videosupport-webhook/1"
)

// Event is the JSON body of every delivery, as docs/api.md gives it.
type Event struct {
	// ID is the delivery's id, the same as the Videosupport-Delivery
	// header and the same on every retry.
	ID   string `json:"id"`
	Type string `json:"type"`
	// CreatedAt is when the event was published, in UTC (RFC 3339 with
	// nanoseconds on the wire).
	CreatedAt time.Time       `json:"createdAt"`
	Data      json.RawMessage `json:"data"`
}
