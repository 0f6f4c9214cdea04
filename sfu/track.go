package sfu

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// TrackInfo names a published track. StreamID is the publisher's peer id,
// so a receiver can tell whose track it got.
type TrackInfo struct {
	ID       string
	StreamID string
	PeerID   string
	Kind     string // "audio" or "video"
}

// upTrack is one published track: read once, written to every subscriber.
type upTrack struct {
	info   TrackInfo
	remote *webrtc.TrackRemote
	codec  webrtc.RTPCodecCapability
	kf     *keyframeThrottle

	mu      sync.Mutex                   // serialises changes to downs
	downs   atomic.Pointer[[]*downTrack] // copy on write: the forwarder never locks
	streams *atomic.Int64                // the transport's count of forwarded streams
	batch   *sendBatcher                 // the transport's, nil without a shared UDP port
	cache   *retransmitCache             // answers NACKs; nil for audio (no NACK negotiated)
	rec     sinkSlot                     // recording, see sink.go
}

func newUpTrack(info TrackInfo, remote *webrtc.TrackRemote, pub *webrtc.PeerConnection, every time.Duration, t *Transport) *upTrack {
	u := &upTrack{info: info, remote: remote, codec: remote.Codec().RTPCodecCapability, streams: &t.streams, batch: t.batch}
	if remote.Kind() == webrtc.RTPCodecTypeVideo {
		u.cache = &retransmitCache{}
	}
	u.downs.Store(&[]*downTrack{})
	ssrc := uint32(remote.SSRC())
	u.kf = newKeyframeThrottle(every, func() {
		_ = pub.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
	})
	return u
}

func (u *upTrack) addDown(d *downTrack) {
	u.mu.Lock()
	defer u.mu.Unlock()
	old := *u.downs.Load()
	next := make([]*downTrack, len(old), len(old)+1)
	copy(next, old)
	next = append(next, d)
	u.downs.Store(&next)
	u.streams.Add(1)
}

func (u *upTrack) removeDown(d *downTrack) {
	u.mu.Lock()
	defer u.mu.Unlock()
	old := *u.downs.Load()
	next := make([]*downTrack, 0, len(old))
	for _, x := range old {
		if x != d {
			next = append(next, x)
		}
	}
	if len(next) < len(old) {
		u.downs.Store(&next)
		u.streams.Add(-1)
	}
}

// forward copies packets from the publisher to every subscriber until the
// publisher's track ends. One buffer and one packet are reused: every
// write below is synchronous and keeps no reference to them.
func (u *upTrack) forward() {
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for {
		n, _, err := u.remote.Read(buf)
		if err != nil {
			return
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		u.writeAll(&pkt)
	}
}

// writeAll sends one packet to every subscriber: the hot path. The
// datagrams of one packet to all subscribers leave in one batch (one
// sendmmsg per socket) when the transport batches.
func (u *upTrack) writeAll(p *rtp.Packet) {
	if u.cache != nil {
		u.cache.put(p)
	}
	u.batch.begin()
	for _, d := range *u.downs.Load() {
		d.writeRTP(p)
	}
	u.batch.end()
	u.rec.write(p)
}

// binding is what a subscriber's peer connection negotiated for a track.
type binding struct {
	ssrc uint32
	pt   uint8
	w    webrtc.TrackLocalWriter
}

// downTrack is one subscriber's copy of an upTrack. It implements
// webrtc.TrackLocal so that it learns the subscriber's SSRC and payload
// type, and when the subscriber is ready for a keyframe.
type downTrack struct {
	up     *upTrack
	sub    *Peer
	sender *webrtc.RTPSender
	bound  atomic.Pointer[binding]
	hdr    rtp.Header // the forwarder's, reused: Pion keeps no reference past a write
}

// Bind implements webrtc.TrackLocal.
func (d *downTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, d.up.codec.MimeType) {
			d.bound.Store(&binding{ssrc: uint32(ctx.SSRC()), pt: uint8(c.PayloadType), w: ctx.WriteStream()})
			// On a renegotiation of a live connection the track can be
			// decoded as soon as a keyframe comes; on a new connection
			// the request waits for the connection to come up.
			if d.sub.sub.ConnectionState() == webrtc.PeerConnectionStateConnected {
				d.up.kf.request()
			}
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}

// Unbind implements webrtc.TrackLocal.
func (d *downTrack) Unbind(webrtc.TrackLocalContext) error {
	d.bound.Store(nil)
	return nil
}

// ID implements webrtc.TrackLocal.
func (d *downTrack) ID() string { return d.up.info.ID }

// RID implements webrtc.TrackLocal.
func (d *downTrack) RID() string { return "" }

// StreamID implements webrtc.TrackLocal.
func (d *downTrack) StreamID() string { return d.up.info.StreamID }

// Kind implements webrtc.TrackLocal.
func (d *downTrack) Kind() webrtc.RTPCodecType { return d.up.remote.Kind() }

// writeRTP sends one packet with the subscriber's SSRC and payload type.
// The payload is untouched. Header extensions are dropped: their ids were
// negotiated with the publisher, not with this subscriber.
// Only the forwarder calls it.
func (d *downTrack) writeRTP(p *rtp.Packet) {
	d.hdr = p.Header
	d.write(&d.hdr, p.Payload)
}

// write rewrites h for the subscriber and sends it with payload.
func (d *downTrack) write(h *rtp.Header, payload []byte) {
	b := d.bound.Load()
	if b == nil {
		return
	}
	h.SSRC = b.ssrc
	h.PayloadType = b.pt
	h.Extension = false
	h.ExtensionProfile = 0
	h.Extensions = nil
	_, _ = b.w.WriteRTP(h, payload)
}

// readRTCP drains the subscriber's RTCP for this track (the reports
// interceptor works as it is read), resends what it NACKs and passes
// keyframe requests on to the publisher.
func (d *downTrack) readRTCP() {
	var r resender
	for {
		pkts, _, err := d.sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				d.up.kf.request()
			case *rtcp.TransportLayerNack:
				r.resend(d, p)
			}
		}
	}
}

// keyframeThrottle sends at most one keyframe request per interval. A
// request inside the interval is not lost: one request is sent when the
// interval ends, however many came in, so N late joiners cost one
// keyframe and each still gets it within one interval.
type keyframeThrottle struct {
	every time.Duration
	send  func()

	mu     sync.Mutex
	last   time.Time
	timer  *time.Timer
	closed bool
}

func newKeyframeThrottle(every time.Duration, send func()) *keyframeThrottle {
	return &keyframeThrottle{every: every, send: send}
}

func (k *keyframeThrottle) request() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed || k.timer != nil {
		return
	}
	wait := k.every - time.Since(k.last)
	if wait <= 0 {
		k.last = time.Now()
		go k.send()
		return
	}
	k.timer = time.AfterFunc(wait, func() {
		k.mu.Lock()
		k.timer = nil
		if k.closed {
			k.mu.Unlock()
			return
		}
		k.last = time.Now()
		k.mu.Unlock()
		k.send()
	})
}

func (k *keyframeThrottle) stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed = true
	if k.timer != nil {
		k.timer.Stop()
		k.timer = nil
	}
}
