package recording

import (
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"videosupport/internal/testmedia"
	"videosupport/sfu"
)

// testCall is an SFU room on loopback with Pion clients that publish the
// test media, as browsers would.
type testCall struct {
	t    *testing.T
	tr   *sfu.Transport
	room *sfu.Room
	pcs  []*webrtc.PeerConnection
}

func newTestCall(t *testing.T) *testCall {
	t.Helper()
	tr, err := sfu.NewTransport(sfu.NetworkConfig{Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	c := &testCall{t: t, tr: tr, room: sfu.NewRoom("room-1", tr, nopEvents{}, testLogger(t))}
	t.Cleanup(func() {
		c.room.Close()
		for _, pc := range c.pcs {
			_ = pc.Close()
		}
		_ = tr.Close()
	})
	return c
}

// newRecordedCall is a test call whose room a Recorder records into a
// new folder, dir.
func newRecordedCall(t *testing.T) (dir string, c *testCall) {
	t.Helper()
	dir = t.TempDir()
	rec, err := New(Config{Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	c = newTestCall(t)
	c.room.SetRecorder(rec)
	return dir, c
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

type nopEvents struct{}

func (nopEvents) TrackPublished(sfu.TrackInfo)   {}
func (nopEvents) TrackUnpublished(sfu.TrackInfo) {}

// lossyConn drops a share of the RTP packets it sends (never STUN, DTLS
// or RTCP, so the connection still comes up the same way).
type lossyConn struct {
	net.PacketConn
	loss    float64
	mu      sync.Mutex
	rnd     *rand.Rand
	dropped atomic.Int64
	sent    atomic.Int64
}

func (c *lossyConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if len(b) > 12 && b[0]>>6 == 2 && !(b[1] >= 192 && b[1] <= 223) {
		c.sent.Add(1)
		c.mu.Lock()
		drop := c.rnd.Float64() < c.loss
		c.mu.Unlock()
		if drop {
			c.dropped.Add(1)
			return len(b), nil
		}
	}
	return c.PacketConn.WriteTo(b, addr)
}

// client is one participant: its two peer connections and the server's
// side of it.
type client struct {
	name     string
	pub, sub *webrtc.PeerConnection
	peer     chan *sfu.Peer
	conn     *lossyConn
	errs     chan error
	mu       sync.Mutex
	pending  map[sfu.Direction][]webrtc.ICECandidateInit
}

func (c *testCall) newPC(conn net.PacketConn) *webrtc.PeerConnection {
	t := c.t
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	if conn != nil {
		mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
		t.Cleanup(func() { _ = mux.Close() })
		se.SetICEUDPMux(mux)
	}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	c.pcs = append(c.pcs, pc)
	return pc
}

// join adds a client whose published RTP is dropped with probability
// loss on its way to the server.
func (c *testCall) join(name string, loss float64) *client {
	t := c.t
	t.Helper()
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lc := &lossyConn{PacketConn: udp, loss: loss, rnd: rand.New(rand.NewPCG(1, uint64(len(name))))}
	cl := &client{
		name: name, pub: c.newPC(lc), sub: c.newPC(nil), peer: make(chan *sfu.Peer, 1), conn: lc,
		errs: make(chan error, 16), pending: map[sfu.Direction][]webrtc.ICECandidateInit{},
	}
	cl.pub.OnICECandidate(cl.trickle(sfu.Publish))
	cl.sub.OnICECandidate(cl.trickle(sfu.Subscribe))
	cl.sub.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
		}
	})
	p, err := c.room.Join(name, cl)
	if err != nil {
		t.Fatal(err)
	}
	cl.peer <- p
	return cl
}

func (cl *client) server() *sfu.Peer {
	p := <-cl.peer
	cl.peer <- p
	return p
}

// Offer implements sfu.Signal.
func (cl *client) Offer(sdp string) {
	go func() {
		p := cl.server()
		if err := cl.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
			cl.errs <- err
			return
		}
		cl.flush(sfu.Subscribe)
		ans, err := cl.sub.CreateAnswer(nil)
		if err == nil {
			err = cl.sub.SetLocalDescription(ans)
		}
		if err == nil {
			err = p.Answer(ans.SDP)
		}
		if err != nil {
			cl.errs <- err
		}
	}()
}

func (cl *client) pc(dir sfu.Direction) *webrtc.PeerConnection {
	if dir == sfu.Subscribe {
		return cl.sub
	}
	return cl.pub
}

// Candidate implements sfu.Signal.
func (cl *client) Candidate(dir sfu.Direction, c webrtc.ICECandidateInit) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.pc(dir).RemoteDescription() == nil {
		cl.pending[dir] = append(cl.pending[dir], c)
		return
	}
	_ = cl.pc(dir).AddICECandidate(c)
}

func (cl *client) flush(dir sfu.Direction) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for _, c := range cl.pending[dir] {
		_ = cl.pc(dir).AddICECandidate(c)
	}
	delete(cl.pending, dir)
}

// Failed implements sfu.Signal.
func (cl *client) Failed(err error) {
	select {
	case cl.errs <- err:
	default:
	}
}

func (cl *client) trickle(dir sfu.Direction) func(*webrtc.ICECandidate) {
	return func(c *webrtc.ICECandidate) {
		if c != nil {
			go func() { _ = cl.server().AddCandidate(dir, c.ToJSON()) }()
		}
	}
}

// publishing is a client sending the test media.
type publishing struct {
	video, audio *webrtc.TrackLocalStaticSample
	keyframes    <-chan struct{}
}

// publish negotiates the client's VP8 and Opus tracks and waits until
// its publish connection is up.
func (cl *client) publish(t *testing.T) *publishing {
	t.Helper()
	video, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", cl.name)
	if err != nil {
		t.Fatal(err)
	}
	audio, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", cl.name)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := cl.pub.AddTrack(video)
	if err != nil {
		t.Fatal(err)
	}
	as, err := cl.pub.AddTrack(audio)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			if _, _, err := as.ReadRTCP(); err != nil {
				return
			}
		}
	}()
	connected := make(chan struct{})
	var once sync.Once
	cl.pub.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})
	offer, err := cl.pub.CreateOffer(nil)
	if err == nil {
		err = cl.pub.SetLocalDescription(offer)
	}
	if err != nil {
		t.Fatal(err)
	}
	answer, err := cl.server().Publish(offer.SDP)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	cl.flush(sfu.Publish)
	select {
	case <-connected:
	case err := <-cl.errs:
		t.Fatal(err)
	case <-time.After(20 * time.Second):
		t.Fatal("publish connection not up after 20 s")
	}
	return &publishing{video: video, audio: audio, keyframes: testmedia.KeyframeRequests(vs)}
}

// play sends the test media for d and returns how long it played. Each
// sample goes out at its time from the start, catching up after a stall,
// so that on a loaded machine the media sent still spans the wall time
// (testmedia's tickers skip ticks instead).
func (p *publishing) play(d time.Duration, frames, pkts [][]byte) (time.Duration, error) {
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	var verr, aerr error
	wg.Go(func() {
		i := 0
		for n := 0; ; n++ {
			at := start.Add(time.Duration(n) * testmedia.VideoFrameDuration)
			if !at.Before(end) {
				return
			}
			time.Sleep(time.Until(at))
			select {
			case <-p.keyframes:
				i = 0 // as an encoder answers a PLI
			default:
			}
			if verr = p.video.WriteSample(media.Sample{Data: frames[i], Duration: testmedia.VideoFrameDuration}); verr != nil {
				return
			}
			i = (i + 1) % len(frames)
		}
	})
	wg.Go(func() {
		for n := 0; ; n++ {
			at := start.Add(time.Duration(n) * testmedia.AudioFrameDuration)
			if !at.Before(end) {
				return
			}
			time.Sleep(time.Until(at))
			if aerr = p.audio.WriteSample(media.Sample{Data: pkts[n%len(pkts)], Duration: testmedia.AudioFrameDuration}); aerr != nil {
				return
			}
		}
	})
	wg.Wait()
	return d, errors.Join(verr, aerr)
}
