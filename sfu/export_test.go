package sfu

import (
	"testing"

	"github.com/pion/rtp"
)

// ForwardRig lets the tests of package sfu_test, which may import
// packages that import sfu (recording), drive the forwarding benchmark's
// room: one publisher's track forwarded to bound subscribers.
type ForwardRig struct{ r *forwardRig }

// NewForwardRig starts a room whose one track is forwarded to n
// subscribers; see newForwardRig.
func NewForwardRig(tb testing.TB, n int) ForwardRig { return ForwardRig{newForwardRig(tb, n)} }

// Write forwards p as the publisher's track: the forward loop's work for
// one packet, sinks included.
func (f ForwardRig) Write(p *rtp.Packet) { f.r.up.writeAll(p) }

// Room is the rig's room.
func (f ForwardRig) Room() *Room { return f.r.room }

// Close ends the room and its peers.
func (f ForwardRig) Close() { f.r.close() }
