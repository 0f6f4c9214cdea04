package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"videosupport/internal/testmedia"
)

// newPeerAPI is the Pion API of the synthetic participants: the codecs
// and the feedback a browser uses (NACK both ways, RTCP reports), on
// loopback only. It leaves out the stats and TWCC interceptors, which
// only cost the load generator CPU it needs for receiving. With arr, the
// peers' sockets note when each RTP packet came in (see arrival.go).
func newPeerAPI(arr *arrivals) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("register codecs: %w", err)
	}
	reg := &interceptor.Registry{}
	if err := webrtc.ConfigureNack(m, reg); err != nil {
		return nil, fmt.Errorf("configure nack: %w", err)
	}
	if err := webrtc.ConfigureRTCPReports(reg); err != nil {
		return nil, fmt.Errorf("configure reports: %w", err)
	}
	s := webrtc.SettingEngine{}
	s.SetIncludeLoopbackCandidate(true)
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	if arr != nil {
		n, err := newArrivalNet(arr)
		if err != nil {
			return nil, fmt.Errorf("network: %w", err)
		}
		s.SetNet(n)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(s)), nil
}

// receiver is what one participant receives, by track key.
type receiver struct {
	w   *window
	arr *arrivals // when the packets reached the sockets; nil: unknown
	// counting is, with -count-at-socket, the run's tracks by trailer
	// key; each track is handed to the sockets once its reader has its
	// first whole keyframe (see arrival.go). nil: Pion reads everything.
	counting []*txTrack

	mu     sync.Mutex
	tracks map[uint32]*rxTrack
	socket map[uint32]*socketTrack // by key, the tracks counted at the socket
	start  time.Time               // when the participant began to join
	packet time.Time               // first packet of any track
	frame  time.Time               // first complete video keyframe
	video  bool                    // assembles frames (false for the relay, which has no VP8 reader)
	wg     sync.WaitGroup
}

func newReceiver(w *window) *receiver {
	return &receiver{w: w, tracks: map[uint32]*rxTrack{}, socket: map[uint32]*socketTrack{}, video: true}
}

func (r *receiver) track(key uint32) *rxTrack {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.tracks[key]
	if t == nil {
		t = &rxTrack{}
		r.tracks[key] = t
	}
	return t
}

func (r *receiver) gotFrame(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.frame.IsZero() {
		r.frame = now
	}
}

// firstFrame returns when the first complete video keyframe arrived.
func (r *receiver) firstFrame() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.frame
}

func (r *receiver) gotPacket(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.packet.IsZero() {
		r.packet = now
	}
}

// firstPacket returns when the first packet of any track arrived.
func (r *receiver) firstPacket() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.packet
}

// onTrack reads one received Pion track until it ends. Until the first
// keyframe is whole it also reassembles frames; after that it only reads
// the trailer, so receiving costs the generator as little as it can.
func (r *receiver) onTrack(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	r.wg.Add(1)
	defer r.wg.Done()
	video := t.Kind() == webrtc.RTPCodecTypeVideo
	var sb *samplebuilder.SampleBuilder
	if video {
		sb = samplebuilder.New(256, &codecs.VP8Packet{}, 90000)
	}
	buf := make([]byte, 1500)
	var rx *rxTrack
	handed := r.counting == nil
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		now := time.Now()
		p := buf[:n]
		if n > 0 && p[0]&0x20 != 0 { // RTP padding: the last byte says how much
			p = p[:n-int(p[n-1])]
		}
		key, counter, sent, ok := readTrailer(p)
		if !ok {
			continue
		}
		if rx == nil {
			rx = r.track(key)
			r.gotPacket(now)
		}
		arrived, ok := r.arr.lookup(p)
		if !ok {
			arrived = now
		}
		rx.record(counter, sent, now, arrived, r.w)
		if !handed && sb == nil && int(key) < len(r.counting) {
			st := r.arr.countAtSocket(uint32(t.SSRC()), binary.BigEndian.Uint16(p[2:4]), counter, r.counting[key])
			r.mu.Lock()
			r.socket[key] = st
			r.mu.Unlock()
			handed = true
		}
		if sb != nil {
			var pkt rtp.Packet
			if err := pkt.Unmarshal(append([]byte(nil), p...)); err != nil {
				continue
			}
			pkt.Payload = pkt.Payload[:len(pkt.Payload)-trailerLen]
			sb.Push(&pkt)
			for s := sb.Pop(); s != nil; s = sb.Pop() {
				if testmedia.IsVP8Keyframe(s.Data) {
					r.gotFrame(time.Now())
					sb = nil
					break
				}
			}
		}
	}
}

// sender plays one publisher's video and audio until ctx ends, numbering
// packets in their trailers.
type sender struct {
	m            *mediaSet
	video, audio *txTrack
	vkey, akey   uint32
}

// writeFunc sends one packet of a track.
type writeFunc func(video bool, p *rtp.Packet)

func (s *sender) run(ctx context.Context, write writeFunc, keyframe <-chan struct{}) {
	vs := &videoSource{m: s.m}
	as := &audioSource{m: s.m}
	vt := time.NewTicker(time.Second / time.Duration(s.m.fps))
	defer vt.Stop()
	at := time.NewTicker(testmedia.AudioFrameDuration)
	defer at.Stop()
	var vseq, aseq uint16
	var batch []packet
	send := func(video bool, p packet) {
		tr, key, seq := s.audio, s.akey, &aseq
		if video {
			tr, key, seq = s.video, s.vkey, &vseq
		}
		c := tr.counter.Load()
		now := time.Now().UnixNano()
		tr.sending(c, now)
		putTrailer(p.payload, key, c, now)
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, Marker: p.marker, SequenceNumber: *seq, Timestamp: p.timestamp}, Payload: p.payload}
		write(video, &pkt)
		*seq++
		tr.counter.Store(c + 1)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-keyframe:
			vs.restart()
		case <-vt.C:
			batch = vs.frame(batch[:0])
			for _, p := range batch {
				send(true, p)
			}
		case <-at.C:
			send(false, as.packet())
		}
	}
}

// keyframeRequests passes on every PLI or FIR read from a sender's RTCP.
func keyframeRequests(s *webrtc.RTPSender) <-chan struct{} {
	ch := make(chan struct{}, 1)
	go func() {
		for {
			pkts, _, err := s.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				switch p.(type) {
				case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
					select {
					case ch <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	return ch
}

// pionTracks makes a publisher's two tracks and the write function that
// sends on them. Before the peer connection is up Pion drops the packets;
// they still count as sent, which does not matter: losses are counted
// over the measured window only, when every connection is up.
func pionTracks(streamID string) (video, audio *webrtc.TrackLocalStaticRTP, write writeFunc, err error) {
	video, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", streamID)
	if err != nil {
		return nil, nil, nil, err
	}
	audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", streamID)
	if err != nil {
		return nil, nil, nil, err
	}
	write = func(isVideo bool, p *rtp.Packet) {
		t := audio
		if isVideo {
			t = video
		}
		_ = t.WriteRTP(p)
	}
	return video, audio, write, nil
}

// countIn returns how many of the packets numbered [c0, c1) of track key
// arrived, read by Pion or counted at the socket (a resent packet may
// have come both ways: it counts once), and how many of them only the
// socket counted. Only after the run.
func (r *receiver) countIn(key, c0, c1 uint32) (n, atSocket uint64) {
	rx, st := r.tracks[key], r.socket[key]
	if st == nil {
		if rx == nil {
			return 0, 0
		}
		return rx.countIn(c0, c1), 0
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for c := c0; c < c1; c++ {
		switch {
		case rx != nil && rx.has(c):
			n++
		case st.rx.has(c):
			n++
			atSocket++
		}
	}
	return n, atSocket
}

// mergeLatency adds the latencies of every track received to latency
// and wire. Only after the run.
func (r *receiver) mergeLatency(latency, wire *histogram) {
	for _, rx := range r.tracks {
		latency.merge(&rx.latency)
		wire.merge(&rx.wire)
	}
	for _, st := range r.socket {
		st.mu.Lock()
		latency.merge(&st.rx.latency)
		wire.merge(&st.rx.wire)
		st.mu.Unlock()
	}
}
