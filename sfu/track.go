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
//
// It exists from the publisher's offer on, before its first packet (see
// Room.announce), so that subscribers are offered it while the publish
// connection is still coming up; start gives it the remote track.
type upTrack struct {
	info   TrackInfo
	kind   webrtc.RTPCodecType
	codec  webrtc.RTPCodecCapability
	remote *webrtc.TrackRemote // set by start, before the forwarder runs
	ssrc   atomic.Uint32       // the publisher's, once started; 0 before
	kf     *keyframeThrottle

	mu      sync.Mutex                   // serialises changes to downs
	ended   bool                         // guarded by mu: no more downs
	downs   atomic.Pointer[[]*downTrack] // copy on write: the forwarder never locks
	streams *atomic.Int64                // the transport's count of forwarded streams
	batch   *sendBatcher                 // the transport's, nil without a shared UDP port
	cache   *retransmitCache             // answers NACKs; nil for audio (no NACK negotiated)
	vp8     bool                         // keyframes are seen, to answer keyframe requests
	rec     sinkSlot                     // recording, see sink.go
}

// newUpTrack makes a track of kind and codec, not started yet.
func newUpTrack(info TrackInfo, kind webrtc.RTPCodecType, codec webrtc.RTPCodecCapability, pub *webrtc.PeerConnection, every time.Duration, t *Transport) *upTrack {
	u := &upTrack{info: info, kind: kind, codec: codec, streams: &t.streams, batch: t.batch}
	if kind == webrtc.RTPCodecTypeVideo {
		u.cache = &retransmitCache{}
	}
	u.vp8 = strings.EqualFold(u.codec.MimeType, webrtc.MimeTypeVP8)
	u.downs.Store(&[]*downTrack{})
	u.kf = newKeyframeThrottle(every, func() {
		if ssrc := u.ssrc.Load(); ssrc != 0 {
			_ = pub.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
		}
	})
	return u
}

// start gives u the publisher's track. The caller starts the forwarder
// after it.
func (u *upTrack) start(remote *webrtc.TrackRemote) {
	u.remote = remote
	u.ssrc.Store(uint32(remote.SSRC()))
}

// started reports whether the publisher's track has arrived: before it,
// a keyframe request has no SSRC to go to.
func (u *upTrack) started() bool { return u.ssrc.Load() != 0 }

// requestKeyframe asks the publisher for a keyframe once the track has
// started. Before, there is no need: an encoder begins a new connection
// with a keyframe, and start asks for one if subscribers wait.
func (u *upTrack) requestKeyframe() {
	if u.started() {
		u.kf.request()
	}
}

// addDown adds a subscriber, or reports false if the track has ended.
func (u *upTrack) addDown(d *downTrack) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.ended {
		return false
	}
	old := *u.downs.Load()
	next := make([]*downTrack, len(old), len(old)+1)
	copy(next, old)
	next = append(next, d)
	u.downs.Store(&next)
	u.streams.Add(1)
	return true
}

// end closes u to new subscribers and returns the current ones, for the
// caller to remove.
func (u *upTrack) end() []*downTrack {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.ended = true
	return *u.downs.Load()
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
	if u.vp8 && isVP8KeyframeStart(p.Payload) {
		u.kf.keyframe()
	}
}

// isVP8KeyframeStart reports whether payload, a VP8 RTP payload, starts a
// keyframe (RFC 7741: S set, partition 0, and P clear in the frame).
func isVP8KeyframeStart(payload []byte) bool {
	if len(payload) < 1 || payload[0]&0x10 == 0 || payload[0]&0x07 != 0 {
		return false
	}
	i := 1
	if payload[0]&0x80 != 0 { // X: extension bytes follow
		if len(payload) < 2 {
			return false
		}
		x := payload[1]
		i = 2
		if x&0x80 != 0 { // I: picture id, one or two bytes
			if len(payload) <= i {
				return false
			}
			if payload[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K: TID/KEYIDX
			i++
		}
	}
	return len(payload) > i && payload[i]&0x01 == 0
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
				d.up.requestKeyframe()
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
func (d *downTrack) Kind() webrtc.RTPCodecType { return d.up.kind }

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
				d.up.requestKeyframe()
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
//
// A keyframe passing through the forwarder answers the request sent
// before it, so the next request, from a new joiner, may follow after a
// short gap instead of the whole interval: a joiner then waits about
// one round trip to the publisher, not for the throttle, and a burst of
// joiners still costs a keyframe or two. A request already waiting is
// brought forward to the end of the gap rather than dropped: its
// subscriber may have connected too late for the start of that keyframe.
type keyframeThrottle struct {
	every time.Duration
	send  func()

	mu       sync.Mutex
	last     time.Time
	answered bool // a keyframe went out after the last request sent
	timer    *time.Timer
	gen      int // of timer, so that a stopped timer that fired anyway does nothing
	closed   bool
}

func newKeyframeThrottle(every time.Duration, send func()) *keyframeThrottle {
	return &keyframeThrottle{every: every, send: send}
}

// answeredGap is how soon after the last request an answered one may be
// followed by the next, as a fraction of the interval.
const answeredGap = 5

// wait is how long until the next request may be sent.
func (k *keyframeThrottle) wait() time.Duration {
	gap := k.every
	if k.answered {
		gap = k.every / answeredGap
	}
	return gap - time.Since(k.last)
}

func (k *keyframeThrottle) request() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed || k.timer != nil {
		return
	}
	if wait := k.wait(); wait > 0 {
		k.schedule(wait)
		return
	}
	k.last, k.answered = time.Now(), false
	go k.send()
}

// schedule sends a request after wait, replacing a scheduled one.
func (k *keyframeThrottle) schedule(wait time.Duration) {
	if k.timer != nil {
		k.timer.Stop()
	}
	k.gen++
	gen := k.gen
	k.timer = time.AfterFunc(wait, func() {
		k.mu.Lock()
		if k.closed || k.gen != gen {
			k.mu.Unlock()
			return
		}
		k.timer = nil
		k.last, k.answered = time.Now(), false
		k.mu.Unlock()
		k.send()
	})
}

// keyframe notes that a keyframe is being forwarded.
func (k *keyframeThrottle) keyframe() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.answered {
		return
	}
	k.answered = true
	if k.timer != nil {
		k.schedule(max(k.wait(), 0))
	}
}

func (k *keyframeThrottle) stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed = true
	if k.timer != nil {
		k.timer.Stop()
		k.timer = nil
		k.gen++
	}
}
