package signaling_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"videosupport/auth"
	"videosupport/internal/testmedia"
	"videosupport/sfu"
	"videosupport/signaling"
	"videosupport/signaling/client"
)

// testServer is a signaling server with a real SFU on loopback.
type testServer struct {
	url       string // ws://…/ws
	rooms     *auth.OpenRooms
	srv       *signaling.Server
	transport *sfu.Transport
}

func startServer(t *testing.T) *testServer {
	t.Helper()
	tr, err := sfu.NewTransport(sfu.NetworkConfig{Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	rooms := auth.NewOpenRooms(time.Hour)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv := signaling.NewServer(signaling.Config{Transport: tr, Authorizer: rooms, Logger: log})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		hs.Close()
		_ = tr.Close()
	})
	return &testServer{url: "ws" + strings.TrimPrefix(hs.URL, "http"), rooms: rooms, srv: srv, transport: tr}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// media is what one participant received, by publisher id.
type media struct {
	mu     sync.Mutex
	frames map[string][]int // indices into the VP8 file, in arrival order
	first  map[string]time.Time
	audio  map[string]int
	bad    []string
}

// participant is a test client that publishes the test media and records
// what it receives.
type participant struct {
	*client.Client
	name string
	got  *media
}

func join(ctx context.Context, t *testing.T, ts *testServer, room, name string, index map[[32]byte]int, packets map[[32]byte]bool) *participant {
	t.Helper()
	api, err := client.NewAPI()
	if err != nil {
		t.Fatal(err)
	}
	got := &media{frames: map[string][]int{}, first: map[string]time.Time{}, audio: map[string]int{}}
	onTrack := func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		from := tr.StreamID()
		switch tr.Kind() {
		case webrtc.RTPCodecTypeVideo:
			testmedia.ReadVP8(tr, func(f []byte) {
				got.mu.Lock()
				defer got.mu.Unlock()
				i, ok := index[sha256.Sum256(f)]
				switch {
				case !ok:
					got.bad = append(got.bad, fmt.Sprintf("video frame from %s of %d bytes is not one that was sent", from, len(f)))
				case len(got.frames[from]) == 0 && !testmedia.IsVP8Keyframe(f):
					// A decoder drops frames before the first keyframe.
				default:
					if len(got.frames[from]) == 0 {
						got.first[from] = time.Now()
					}
					got.frames[from] = append(got.frames[from], i)
				}
			})
		case webrtc.RTPCodecTypeAudio:
			testmedia.ReadOpus(tr, func(p []byte) {
				got.mu.Lock()
				defer got.mu.Unlock()
				if !packets[sha256.Sum256(p)] {
					got.bad = append(got.bad, fmt.Sprintf("audio packet from %s of %d bytes is not one that was sent", from, len(p)))
				}
				got.audio[from]++
			})
		}
	}
	c, err := client.Dial(ctx, ts.url, api, onTrack)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if _, err := c.Join(ctx, room, name); err != nil {
		t.Fatal(err)
	}
	return &participant{Client: c, name: name, got: got}
}

// publish sends the test video and audio until ctx ends.
func (p *participant) publish(ctx context.Context, t *testing.T, frames, pkts [][]byte) {
	t.Helper()
	if err := testmedia.Publish(ctx, p.Publish, p.name, frames, pkts); err != nil {
		t.Fatal(err)
	}
}

func testMedia(t *testing.T) (frames, pkts [][]byte, index map[[32]byte]int, packets map[[32]byte]bool) {
	t.Helper()
	frames, pkts, err := testmedia.Media()
	if err != nil {
		t.Fatal(err)
	}
	index = map[[32]byte]int{}
	for i, f := range frames {
		index[sha256.Sum256(f)] = i
	}
	packets = map[[32]byte]bool{}
	for _, p := range pkts {
		packets[sha256.Sum256(p)] = true
	}
	return frames, pkts, index, packets
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestThreePublishersAndLateJoiner is the core call path: three people
// publish real VP8 and Opus, each receives the other two frame for frame,
// and a fourth who joins late gets a keyframe from everyone within 1 s.
func TestThreePublishersAndLateJoiner(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ts := startServer(t)
	room, _ := ts.rooms.Create()
	frames, pkts, index, packets := testMedia(t)

	var ps []*participant
	for _, name := range []string{"Amira", "Wei", "Dana"} {
		p := join(ctx, t, ts, room, name, index, packets)
		p.publish(ctx, t, frames, pkts)
		ps = append(ps, p)
	}
	// Enough for every stream to run through at least one keyframe and
	// 30 frames (2 s at 15 fps).
	for _, p := range ps {
		for _, q := range ps {
			if p == q {
				continue
			}
			eventually(t, 15*time.Second, fmt.Sprintf("%s receives 30 video frames and 100 audio packets from %s", p.name, q.name), func() bool {
				p.got.mu.Lock()
				defer p.got.mu.Unlock()
				return len(p.got.frames[q.ID]) >= 30 && p.got.audio[q.ID] >= 100
			})
		}
	}

	late := join(ctx, t, ts, room, "Late", index, packets)
	joined := time.Now()
	// The SFU's part starts once the late joiner's media connection is
	// up: setting it up (ICE, DTLS) takes what the machine's load makes
	// it take, and is measured by the browser test's join-to-first-frame.
	eventually(t, 10*time.Second, "the late joiner's subscribe connection is up", func() bool {
		return late.Sub.ConnectionState() == webrtc.PeerConnectionStateConnected
	})
	connected := time.Now()
	for _, q := range ps {
		eventually(t, 5*time.Second, "late joiner receives video from "+q.name, func() bool {
			late.got.mu.Lock()
			defer late.got.mu.Unlock()
			return len(late.got.frames[q.ID]) > 0
		})
	}
	late.got.mu.Lock()
	for _, q := range ps {
		d := late.got.first[q.ID].Sub(connected)
		t.Logf("late joiner: first keyframe from %s %v after join, %v after its connection was up", q.name,
			late.got.first[q.ID].Sub(joined).Round(time.Millisecond), d.Round(time.Millisecond))
		if d > time.Second {
			t.Errorf("late joiner waited %v after connecting for a keyframe from %s, want at most 1s", d, q.name)
		}
	}
	late.got.mu.Unlock()

	for _, p := range append(ps, late) {
		p.got.mu.Lock()
		for _, b := range p.got.bad {
			t.Errorf("%s: %s", p.name, b)
		}
		for from, idx := range p.got.frames {
			// Every frame after the first keyframe is the next frame
			// of the file, or the file's start again (loop or
			// keyframe request): nothing lost, nothing changed.
			for k := 1; k < len(idx); k++ {
				if idx[k] != (idx[k-1]+1)%len(frames) && idx[k] != 0 {
					t.Errorf("%s: frames from %s out of sequence at %d: %d after %d", p.name, from, k, idx[k], idx[k-1])
					break
				}
			}
		}
		p.got.mu.Unlock()
		if err := p.Err(); err != nil {
			t.Errorf("%s: %v", p.name, err)
		}
	}
}
