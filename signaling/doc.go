// Package signaling is the websocket door of a call: it admits people to
// rooms (asking an Authorizer), relays session descriptions and ICE
// candidates between each browser and the SFU, and keeps every member of a
// room told who is there, who publishes what and who is muted.
//
// Each connection has one reader (the HTTP handler's goroutine, which
// handles messages in order) and one writer fed by a bounded queue, so a
// slow client can never block a room. docs/protocol.md describes the wire
// format.
package signaling
