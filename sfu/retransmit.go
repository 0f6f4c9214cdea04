package sfu

import (
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// The SFU answers its subscribers' NACKs itself instead of with Pion's
// NACK responder interceptor. That interceptor keeps a copy of every
// packet for every subscriber: with 80 subscribers, 80 copies and about
// three allocations for each forwarded packet, most of the cost of the
// send path. Forwarded packets keep the publisher's sequence numbers, so
// one cache of the published track serves every subscriber's NACKs.

// retransmitCacheSize is how many packets of a video track are kept for
// retransmission: at 1.5 Mbit/s about 3.5 s, well past any round trip
// after which a resent packet is still of use.
const retransmitCacheSize = 512

// retransmitCache holds the latest packets of one published track,
// marshalled, by sequence number. The forwarder puts; subscribers' RTCP
// readers get. Slot buffers are allocated once and reused.
type retransmitCache struct {
	mu    sync.Mutex
	slots [retransmitCacheSize]cachedPacket
	count uint64 // packets put, ever: the budget of resends grows with it
}

type cachedPacket struct {
	seq   uint16
	valid bool
	buf   []byte
}

// put keeps p, replacing the packet retransmitCacheSize numbers older.
func (c *retransmitCache) put(p *rtp.Packet) {
	n := p.MarshalSize()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count++
	s := &c.slots[p.SequenceNumber%retransmitCacheSize]
	if cap(s.buf) < n {
		s.buf = make([]byte, n, max(n, 1500))
	}
	s.buf = s.buf[:n]
	if _, err := p.MarshalTo(s.buf); err != nil {
		s.valid = false
		return
	}
	s.seq, s.valid = p.SequenceNumber, true
}

// forwarded returns how many packets were put.
func (c *retransmitCache) forwarded() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count
}

// get appends packet seq to buf, or reports false when it is no longer
// (or never was) in the cache.
func (c *retransmitCache) get(seq uint16, buf []byte) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.slots[seq%retransmitCacheSize]
	if !s.valid || s.seq != seq {
		return buf, false
	}
	return append(buf, s.buf...), true
}

// resendGap is the shortest time between two resends of one packet to
// one subscriber. A receiver repeats its NACK for a packet still missing
// every round trip or so; a subscriber that falls far behind (a starved
// client) would otherwise draw every packet again and again, and the
// retransmissions would bury what it is missing anyway.
const resendGap = 100 * time.Millisecond

// The resend budget of one subscriber of one track. A receiver that
// falls behind (a starved client, a congested link) NACKs everything it
// missed, again and again; answering all of it multiplies what it has
// to take in and deepens the hole it is in: in a sweep of calls of 4
// the server once sent 10 datagrams for every one delivered. So a
// subscriber gets at most resendShare of the track's packets again, with
// resendBurst in hand (a lost keyframe is 30-60 packets), and one packet
// at most resendTries times.
const (
	resendShare = 0.2
	resendBurst = 96
	resendTries = 3
)

// resender answers one subscriber's NACKs for one track. It is used by
// that downTrack's RTCP reader only, so its buffers need no lock, and no
// lock is held while it writes.
type resender struct {
	buf  []byte
	pkt  rtp.Packet
	last [retransmitCacheSize]resent // by cache slot

	budget  float64 // resends allowed now
	counted uint64  // the cache's count when budget was last topped up
	started bool
}

// resent is when a packet was last resent, and how often.
type resent struct {
	seq   uint16
	at    int64 // unix nanoseconds; 0 never
	tries uint8
}

// due reports whether seq may be resent now, and notes it if so.
func (r *resender) due(seq uint16, now int64) bool {
	l := &r.last[seq%retransmitCacheSize]
	if l.at != 0 && l.seq == seq {
		if now-l.at < int64(resendGap) {
			return false
		}
		if l.tries >= resendTries || r.budget < 1 {
			return false
		}
	} else if r.budget < 1 {
		return false
	} else {
		l.seq, l.tries = seq, 0
	}
	l.at = now
	l.tries++
	r.budget--
	return true
}

// topUp adds to the budget the share of the packets forwarded since the
// last top-up.
func (r *resender) topUp(forwarded uint64) {
	if !r.started {
		r.started, r.budget = true, resendBurst
	} else {
		r.budget = min(r.budget+float64(forwarded-r.counted)*resendShare, resendBurst)
	}
	r.counted = forwarded
}

// resend writes again every packet of nack still in the cache.
func (r *resender) resend(d *downTrack, nack *rtcp.TransportLayerNack) {
	c := d.up.cache
	if c == nil {
		return
	}
	now := time.Now().UnixNano()
	r.topUp(c.forwarded())
	// The packets of one NACK leave in one batch, as a forwarded
	// packet's copies do.
	d.up.batch.begin()
	defer d.up.batch.end()
	for _, pair := range nack.Nacks {
		pair.Range(func(seq uint16) bool {
			if !r.due(seq, now) {
				return true
			}
			b, ok := c.get(seq, r.buf[:0])
			r.buf = b
			if ok && r.pkt.Unmarshal(b) == nil {
				d.write(&r.pkt.Header, r.pkt.Payload)
			}
			return true
		})
	}
}
