package sfu

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// The forwarding benchmarks run the real send path (our downTrack, Pion's
// interceptors, SRTP, ICE, the UDP socket) from one publisher to n
// subscribers on loopback. The subscribers are Pion peers of this process
// that share one UDP socket; once every subscription is bound that socket
// stops being read, so the subscribers cost nothing and allocate nothing
// while the benchmark runs, and the figures are the server's alone.

// pausableConn is a UDP socket whose reads can be stopped: while paused
// the kernel drops what arrives, and no CPU of this process is spent.
type pausableConn struct {
	net.PacketConn
	paused atomic.Bool
	resume chan struct{}
}

func (c *pausableConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for c.paused.Load() {
		<-c.resume
	}
	return c.PacketConn.ReadFrom(b)
}

// forwardRig is a room with one publisher and n bound subscribers.
type forwardRig struct {
	room  *Room
	up    *upTrack
	close func()
}

type nopEvents struct{}

func (nopEvents) TrackPublished(TrackInfo)   {}
func (nopEvents) TrackUnpublished(TrackInfo) {}

// pipeSignal connects a server Peer to client peer connections in memory.
type pipeSignal struct {
	pub, sub *webrtc.PeerConnection
	peer     chan *Peer // the server side, once joined
	mu       sync.Mutex
	pending  map[Direction][]webrtc.ICECandidateInit
	errs     chan error
}

func newPipeSignal(pub, sub *webrtc.PeerConnection) *pipeSignal {
	return &pipeSignal{pub: pub, sub: sub, peer: make(chan *Peer, 1), pending: map[Direction][]webrtc.ICECandidateInit{}, errs: make(chan error, 16)}
}

func (s *pipeSignal) Offer(sdp string) {
	go func() {
		p := <-s.peer
		s.peer <- p
		if err := s.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
			s.errs <- err
			return
		}
		s.flush(Subscribe)
		ans, err := s.sub.CreateAnswer(nil)
		if err == nil {
			err = s.sub.SetLocalDescription(ans)
		}
		if err == nil {
			err = p.Answer(ans.SDP)
		}
		if err != nil {
			s.errs <- err
		}
	}()
}

func (s *pipeSignal) Candidate(dir Direction, c webrtc.ICECandidateInit) {
	pc := s.pub
	if dir == Subscribe {
		pc = s.sub
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if pc.RemoteDescription() == nil {
		s.pending[dir] = append(s.pending[dir], c)
		return
	}
	_ = pc.AddICECandidate(c)
}

func (s *pipeSignal) flush(dir Direction) {
	pc := s.pub
	if dir == Subscribe {
		pc = s.sub
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.pending[dir] {
		_ = pc.AddICECandidate(c)
	}
	delete(s.pending, dir)
}

func (s *pipeSignal) Failed(err error) { s.errs <- err }

// trickleTo sends a client's candidates to the server peer.
func trickleTo(s *pipeSignal, dir Direction) func(*webrtc.ICECandidate) {
	return func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		go func() {
			p := <-s.peer
			s.peer <- p
			_ = p.AddCandidate(dir, c.ToJSON())
		}()
	}
}

func newForwardRig(tb testing.TB, n int) *forwardRig {
	tb.Helper()
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := udp.LocalAddr().(*net.UDPAddr).Port
	_ = udp.Close()
	tr, err := NewTransport(NetworkConfig{UDPPort: port, Loopback: true})
	if err != nil {
		tb.Fatal(err)
	}
	room := NewRoom("bench", tr, nopEvents{}, slog.New(slog.NewTextHandler(io.Discard, nil)))

	// Each client peer connection has its own socket, behind a mux so
	// that the socket can be paused: the server's single port means all
	// client connections talk to one remote address, which one shared
	// client mux could not tell apart.
	var conns []*pausableConn
	var muxes []*ice.UDPMuxDefault
	newPC := func() *webrtc.PeerConnection {
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		pc := &pausableConn{PacketConn: conn, resume: make(chan struct{})}
		mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: pc})
		conns, muxes = append(conns, pc), append(muxes, mux)
		m := &webrtc.MediaEngine{}
		if err := m.RegisterDefaultCodecs(); err != nil {
			tb.Fatal(err)
		}
		reg := &interceptor.Registry{}
		if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
			tb.Fatal(err)
		}
		se := webrtc.SettingEngine{}
		se.SetICEUDPMux(mux)
		se.SetIncludeLoopbackCandidate(true)
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
		p, err := api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			tb.Fatal(err)
		}
		return p
	}

	var pcs []*webrtc.PeerConnection
	var sigs []*pipeSignal
	join := func(name string) (*pipeSignal, *Peer) {
		pub, sub := newPC(), newPC()
		pcs = append(pcs, pub, sub)
		s := newPipeSignal(pub, sub)
		pub.OnICECandidate(trickleTo(s, Publish))
		sub.OnICECandidate(trickleTo(s, Subscribe))
		sub.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			for {
				if _, _, err := t.ReadRTP(); err != nil {
					return
				}
			}
		})
		p, err := room.Join(name, s)
		if err != nil {
			tb.Fatal(err)
		}
		s.peer <- p
		sigs = append(sigs, s)
		return s, p
	}
	for i := range n {
		join(fmt.Sprintf("sub%d", i))
	}
	ps, pp := join("pub")
	video, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "v", "pub")
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := ps.pub.AddTransceiverFromTrack(video, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		tb.Fatal(err)
	}
	offer, err := ps.pub.CreateOffer(nil)
	if err == nil {
		err = ps.pub.SetLocalDescription(offer)
	}
	if err != nil {
		tb.Fatal(err)
	}
	answer, err := pp.Publish(offer.SDP)
	if err != nil {
		tb.Fatal(err)
	}
	if err := ps.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		tb.Fatal(err)
	}
	ps.flush(Publish)

	// The track is published on its first packet: send until every
	// subscriber has received one.
	rig := &forwardRig{room: room}
	deadline := time.Now().Add(20 * time.Second)
	var seq uint16
	for {
		seq++
		_ = video.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, Marker: true}, Payload: make([]byte, 1000)})
		room.mu.Lock()
		for _, u := range room.tracks {
			rig.up = u
		}
		room.mu.Unlock()
		if rig.up != nil && boundAndConnected(rig.up, n) {
			break
		}
		select {
		case err := <-firstErr(sigs):
			tb.Fatal(err)
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("subscribers not all bound after 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, c := range conns {
		c.paused.Store(true)
	}
	rig.close = func() {
		for _, c := range conns {
			c.paused.Store(false)
			close(c.resume)
		}
		room.Close()
		for _, pc := range pcs {
			_ = pc.Close()
		}
		for _, m := range muxes {
			_ = m.Close()
		}
		_ = tr.Close()
	}
	return rig
}

func firstErr(sigs []*pipeSignal) <-chan error {
	for _, s := range sigs {
		select {
		case err := <-s.errs:
			ch := make(chan error, 1)
			ch <- err
			return ch
		default:
		}
	}
	return nil
}

func boundAndConnected(u *upTrack, n int) bool {
	downs := *u.downs.Load()
	if len(downs) != n {
		return false
	}
	for _, d := range downs {
		if d.bound.Load() == nil || d.sub.sub.ConnectionState() != webrtc.PeerConnectionStateConnected {
			return false
		}
	}
	return true
}

// benchmarkForward sends one 1,100-byte VP8-sized packet to n subscribers
// per op and reports the cost per forwarded packet.
func benchmarkForward(b *testing.B, n int, batched bool) {
	rig := newForwardRig(b, n)
	defer rig.close()
	if !batched {
		rig.up.batch = nil // one sendto per datagram, as without a shared port
	}
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SSRC: 1234, Timestamp: 90000}, Payload: make([]byte, 1100)}
	b.ReportAllocs()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	b.ResetTimer()
	for b.Loop() {
		pkt.SequenceNumber++
		rig.up.writeAll(pkt)
	}
	b.StopTimer()
	runtime.ReadMemStats(&m1)
	pkts := float64(b.N) * float64(n)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/pkts, "ns/pkt")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/pkts, "allocs/pkt")
}

// BenchmarkForward1To80 is the workload of the targets: one publisher,
// 80 subscribers.
func BenchmarkForward1To80(b *testing.B) { benchmarkForward(b, 80, true) }

// BenchmarkForward1To80Unbatched is the same without batched writes: what
// sendmmsg buys, measured in the same run.
func BenchmarkForward1To80Unbatched(b *testing.B) { benchmarkForward(b, 80, false) }

// BenchmarkForward1To3 is a call of four.
func BenchmarkForward1To3(b *testing.B) { benchmarkForward(b, 3, true) }

// discardWriter is a TrackLocalWriter that keeps nothing.
type discardWriter struct{ n int }

func (w *discardWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.n += len(payload)
	return len(payload), nil
}
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// BenchmarkForwardDownTrack is our own share of the hot path: the header
// rewrite of one downTrack, without Pion below it.
func BenchmarkForwardDownTrack(b *testing.B) {
	d := &downTrack{}
	d.bound.Store(&binding{ssrc: 99, pt: 96, w: &discardWriter{}})
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 100, SSRC: 1234}, Payload: make([]byte, 1100)}
	if err := pkt.SetExtension(1, []byte{1, 2}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		pkt.SequenceNumber++
		d.writeRTP(pkt)
	}
}
