package sfu

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// answeringSignal is a subscriber's client: it answers every offer of
// the subscribe connection with a real Pion peer connection (never
// connected: the test is about negotiation) and keeps the offers.
type answeringSignal struct {
	pc     *webrtc.PeerConnection
	peer   chan *Peer
	offers chan string
}

func (s *answeringSignal) Offer(sdp string) {
	s.offers <- sdp
	go func() {
		p := <-s.peer
		s.peer <- p
		if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
			return
		}
		answer, err := s.pc.CreateAnswer(nil)
		if err != nil || s.pc.SetLocalDescription(answer) != nil {
			return
		}
		_ = p.Answer(answer.SDP)
	}()
}
func (s *answeringSignal) Candidate(Direction, webrtc.ICECandidateInit) {}
func (s *answeringSignal) Failed(error)                                 {}

// trackEvents records the room's events.
type trackEvents struct {
	mu                     sync.Mutex
	published, unpublished []TrackInfo
}

func (e *trackEvents) TrackPublished(t TrackInfo) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.published = append(e.published, t)
}

func (e *trackEvents) TrackUnpublished(t TrackInfo) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.unpublished = append(e.unpublished, t)
}

// announceRoom is a room on a loopback transport, recording its events,
// and a publisher's client with a VP8 track that has not been added yet.
func announceRoom(t *testing.T, name string) (*Transport, *trackEvents, *Room, *webrtc.PeerConnection, *webrtc.TrackLocalStaticRTP) {
	t.Helper()
	tr, err := NewTransport(NetworkConfig{Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	events := &trackEvents{}
	room := NewRoom(name, tr, events, testLog())
	t.Cleanup(room.Close)
	pubClient, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pubClient.Close() })
	video, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "v", "pub")
	if err != nil {
		t.Fatal(err)
	}
	return tr, events, room, pubClient, video
}

// unpublishedSoFar returns the tracks unpublished so far.
func (e *trackEvents) unpublishedSoFar() []TrackInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]TrackInfo(nil), e.unpublished...)
}

// TestTrackAnnouncedFromOffer: a publisher's offer alone, before any
// media (here none ever comes), gets its track offered to the others,
// and a track announced and never started is unpublished, with its
// subscriptions, when its publisher leaves.
func TestTrackAnnouncedFromOffer(t *testing.T) {
	tr, events, room, pubClient, video := announceRoom(t, "announce")

	client, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	sig := &answeringSignal{pc: client, peer: make(chan *Peer, 1), offers: make(chan string, 16)}
	sub, err := room.Join("sub", sig)
	if err != nil {
		t.Fatal(err)
	}
	sig.peer <- sub

	if _, err := pubClient.AddTransceiverFromTrack(video, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := pubClient.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := room.Join("pub", &answeringSignal{peer: make(chan *Peer, 1), offers: make(chan string, 16)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Publish(offer.SDP); err != nil {
		t.Fatal(err)
	}

	deadline := time.After(10 * time.Second)
	for offered := false; !offered; {
		select {
		case sdp := <-sig.offers:
			offered = strings.Contains(sdp, "m=video") && strings.Contains(sdp, "VP8")
		case <-deadline:
			t.Fatal("the subscriber was not offered the announced video track")
		}
	}
	events.mu.Lock()
	published := append([]TrackInfo(nil), events.published...)
	events.mu.Unlock()
	if len(published) != 1 || published[0].Kind != "video" || published[0].PeerID != "pub" {
		t.Fatalf("published %+v, want one video track of pub", published)
	}

	room.Leave(pub)
	unpublished := events.unpublishedSoFar
	for tr.Streams() != 0 || len(unpublished()) == 0 {
		select {
		case <-deadline:
			t.Fatalf("after the publisher left: %d streams left, unpublished %+v", tr.Streams(), unpublished())
		case <-time.After(5 * time.Millisecond):
		}
	}
	if u := unpublished(); len(u) != 1 || u[0].ID != published[0].ID {
		t.Errorf("unpublished %+v, want %s", u, published[0].ID)
	}
}

// TestAnnouncedTrackWithdrawn: a track announced from an offer and never
// started is unpublished when the publisher's next offer no longer sends
// on its transceiver (the track removed before any media), not only when
// the publisher leaves.
func TestAnnouncedTrackWithdrawn(t *testing.T) {
	tr, events, room, pubClient, video := announceRoom(t, "withdraw")
	sender, err := pubClient.AddTrack(video)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := room.Join("pub", &answeringSignal{peer: make(chan *Peer, 1), offers: make(chan string, 16)})
	if err != nil {
		t.Fatal(err)
	}
	// negotiate sends the client's next offer and applies the answer.
	negotiate := func() {
		t.Helper()
		offer, err := pubClient.CreateOffer(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := pubClient.SetLocalDescription(offer); err != nil {
			t.Fatal(err)
		}
		answer, err := pub.Publish(offer.SDP)
		if err != nil {
			t.Fatal(err)
		}
		if err := pubClient.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
			t.Fatal(err)
		}
	}
	negotiate()
	events.mu.Lock()
	published := append([]TrackInfo(nil), events.published...)
	events.mu.Unlock()
	if len(published) != 1 || tr.Streams() != 0 {
		t.Fatalf("after the offer: published %+v", published)
	}

	// The same offer again changes nothing.
	negotiate()
	if err := pubClient.RemoveTrack(sender); err != nil {
		t.Fatal(err)
	}
	negotiate()
	unpublished := events.unpublishedSoFar
	deadline := time.Now().Add(10 * time.Second)
	for len(unpublished()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if u := unpublished(); len(u) != 1 || u[0].ID != published[0].ID {
		t.Fatalf("after the track was removed: unpublished %+v, want %s", u, published[0].ID)
	}
	events.mu.Lock()
	n := len(events.published)
	events.mu.Unlock()
	if n != 1 {
		t.Errorf("%d tracks published, want the one", n)
	}
}
