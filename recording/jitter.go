package recording

import (
	"time"

	"github.com/pion/rtp"
)

// jitterSize is how many packets the jitter buffer holds: far more than
// arrive in its wait at any rate a call uses.
const jitterSize = 512

// jbPacket is one packet held by the jitter buffer: a copy of what the
// recorder needs, in storage the buffer reuses.
type jbPacket struct {
	used    bool
	seq     uint16
	ts      uint32
	marker  bool
	arrived time.Time
	payload []byte
}

// jitterBuffer puts packets back in sequence order. A missing packet is
// waited for (a NACK may bring it back) until the packet after it has
// waited for wait; then it is given up and the next packet out says how
// many were lost before it. It allocates nothing once its slots have held
// packets of the largest size.
type jitterBuffer struct {
	wait    time.Duration
	out     func(p *jbPacket, lost int)
	slots   [jitterSize]jbPacket
	started bool
	next    uint16 // the sequence number to emit next
	held    int
	lost    int // given up since the last packet out
	late    int // packets that came after their turn was given up
}

func newJitterBuffer(wait time.Duration, out func(p *jbPacket, lost int)) *jitterBuffer {
	return &jitterBuffer{wait: wait, out: out}
}

// push takes one packet arrived at now and emits what is ready.
func (j *jitterBuffer) push(p *rtp.Packet, now time.Time) {
	seq := p.SequenceNumber
	if !j.started {
		j.started, j.next = true, seq
	}
	switch d := int(int16(seq - j.next)); {
	case d < 0 && d >= -jitterSize:
		j.late++ // a duplicate, or a retransmission too late
		return
	case d < 0 || d >= jitterSize:
		// Far ahead, or far behind: the sender restarted its sequence,
		// or a long outage. Emit what is held and start again here.
		j.flush()
		j.next = seq
		j.lost++ // a discontinuity: video waits for a keyframe
	}
	s := &j.slots[seq%jitterSize]
	if s.used {
		return // a duplicate
	}
	s.used, s.seq, s.ts, s.marker, s.arrived = true, seq, p.Timestamp, p.Marker, now
	s.payload = append(s.payload[:0], p.Payload...)
	j.held++
	j.drain(now, false)
}

// drain emits packets in order; at a hole it waits unless the packet
// after the hole has waited long enough, or force is set.
func (j *jitterBuffer) drain(now time.Time, force bool) {
	for j.held > 0 {
		s := &j.slots[j.next%jitterSize]
		if s.used && s.seq == j.next {
			j.emit(s)
			continue
		}
		k := 1
		for ; k < jitterSize; k++ {
			t := &j.slots[(j.next+uint16(k))%jitterSize]
			if t.used && t.seq == j.next+uint16(k) {
				break
			}
		}
		t := &j.slots[(j.next+uint16(k))%jitterSize]
		if !force && now.Sub(t.arrived) < j.wait {
			return
		}
		j.lost += k
		j.next += uint16(k)
	}
}

func (j *jitterBuffer) emit(s *jbPacket) {
	lost := j.lost
	j.lost = 0
	s.used = false
	j.held--
	j.next++
	j.out(s, lost)
}

// flush emits everything held, giving up every hole.
func (j *jitterBuffer) flush() { j.drain(time.Time{}, true) }
