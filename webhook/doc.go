// Package webhook delivers events to the HTTP endpoints admins register,
// signed so receivers can trust them. Every event is queued in the store
// before anything is sent, so a crash or restart loses none; a Dispatcher
// then POSTs due deliveries, a few at a time and at most one per endpoint
// so a slow receiver cannot hold the others back, and retries failures
// with exponential backoff until they succeed or run out of attempts.
//
// Delivery is at least once: a receiver that answered 2xx may see the same
// delivery again if the server stopped before recording the answer, and
// drops it by its Videosupport-Delivery id. docs/api.md is the contract.
package webhook
