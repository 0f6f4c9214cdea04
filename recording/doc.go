// Package recording writes the tracks of a call to disk, one WebM file per
// published track, as one more subscriber of each track (an sfu.Recorder
// that cmd plugs into a room).
//
// Each track goes through a jitter buffer that puts packets back in order
// and waits a bounded time for retransmissions; a gap it cannot fill makes
// a video track ask for a keyframe and drop frames until it comes (an
// audio track just skips). A video file starts on a keyframe, and a change
// of resolution starts a new file (a segment).
//
// Files are written to survive a kill -9: clusters of about a second with
// sizes left unknown until the file is closed, flushed to the kernel every
// quarter second, and a sidecar JSON next to each file that says whether
// it was finished and maps the publisher's RTCP sender reports (NTP time
// to RTP time) onto the file's timeline, so tracks can be aligned later.
// After a crash, Unfinished finds the files their writer never closed and
// Repair finishes them (sizes, duration, cues) and marks them interrupted.
package recording
