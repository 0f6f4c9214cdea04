package sfu

import (
	"sync"

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

// resender answers one subscriber's NACKs for one track. It is used by
// that downTrack's RTCP reader only, so its buffers need no lock, and no
// lock is held while it writes.
type resender struct {
	buf []byte
	pkt rtp.Packet
}

// resend writes again every packet of nack still in the cache.
func (r *resender) resend(d *downTrack, nack *rtcp.TransportLayerNack) {
	c := d.up.cache
	if c == nil {
		return
	}
	for _, pair := range nack.Nacks {
		pair.Range(func(seq uint16) bool {
			b, ok := c.get(seq, r.buf[:0])
			r.buf = b
			if ok && r.pkt.Unmarshal(b) == nil {
				d.write(&r.pkt.Header, r.pkt.Payload)
			}
			return true
		})
	}
}
