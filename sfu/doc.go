// Package sfu forwards media between the participants of a room.
//
// Each participant has two Pion peer connections: one on which it
// publishes (it offers, we answer) and one on which it receives everybody
// else (we offer, it answers). Every published track is read by one
// goroutine that writes each RTP packet, payload untouched, to one
// downTrack per subscriber. A downTrack is our own webrtc.TrackLocal, so a
// subscriber's bind is seen (to ask the publisher for a keyframe) and a
// slow subscriber never holds a lock that others wait on.
//
// The package knows nothing of websockets or message formats: it talks to
// its caller through the small Signal and RoomEvents interfaces, and the
// signaling package drives it.
package sfu
