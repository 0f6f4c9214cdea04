package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"videosupport/signaling/client"
)

// The probes time what a person feels, one at a time on an idle server:
// how long after a publisher starts publishing its first packet reaches
// someone already in the call, and how long after someone starts joining
// a running call they have a whole video frame. The same two things are
// timed on a bare Pion pair, offer and answer passed in memory: that is
// the floor for any SFU built on Pion.

// probeSettle is how long the first participant of a probe is alone in
// the call before the publisher comes.
const probeSettle = 300 * time.Millisecond

// probeRunning is how long the call runs before the late joiner comes.
const probeRunning = 600 * time.Millisecond

// probeResult holds one probe kind's samples.
type probeResult struct {
	publishToPacket, joinToFrame durations
}

// waitFor polls cond until it is true or ctx ends.
func waitFor(ctx context.Context, what string, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}

// probeSFU runs n rounds: a subscriber is in an empty room, a publisher
// joins and publishes (publish to first packet), then a second subscriber
// joins (join to first frame).
func probeSFU(ctx context.Context, srv *server, m *mediaSet, n int) (*probeResult, error) {
	api, err := newPeerAPI(nil)
	if err != nil {
		return nil, err
	}
	res := &probeResult{}
	for range n {
		if err := probeSFUOnce(ctx, srv, api, m, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func probeSFUOnce(ctx context.Context, srv *server, api *webrtc.API, m *mediaSet, res *probeResult) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	room, err := srv.createRoom(ctx)
	if err != nil {
		return err
	}
	var w window
	dial := func(rx *receiver, name string) (*client.Client, error) {
		c, err := client.Dial(ctx, srv.wsURL(), api, rx.onTrack)
		if err != nil {
			return nil, err
		}
		if _, err := c.Join(ctx, room, name); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	first := newReceiver(&w)
	sub, err := dial(first, "first")
	if err != nil {
		return err
	}
	defer sub.Close()
	// Someone already in the call has been there a while (a customer
	// waiting for the agent): give their connections time to come up.
	select {
	case <-time.After(probeSettle):
	case <-ctx.Done():
		return ctx.Err()
	}
	pub, err := dial(newReceiver(&w), "publisher")
	if err != nil {
		return err
	}
	defer pub.Close()
	video, audio, write, err := pionTracks(pub.ID)
	if err != nil {
		return err
	}
	tracks := []*txTrack{{video: true}, {}}
	s := &sender{m: m, video: tracks[0], audio: tracks[1], vkey: 0, akey: 1}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	kf := make(chan struct{}, 1)
	go s.run(sctx, write, kf) // writes are dropped until the track is bound
	start := time.Now()
	senders, err := pub.Publish(ctx, video, audio)
	if err != nil {
		return err
	}
	go forwardKeyframes(keyframeRequests(senders[0]), kf)
	_ = keyframeRequests(senders[1])
	if err := waitFor(ctx, "first packet through the SFU", func() bool { return !first.firstPacket().IsZero() }); err != nil {
		return err
	}
	res.publishToPacket.add(first.firstPacket().Sub(start))

	// The late joiner comes to a call that has been running for a while,
	// past the keyframe throttle of the SFU: the first join's keyframe
	// request is not what it waits for.
	select {
	case <-time.After(probeRunning):
	case <-ctx.Done():
		return ctx.Err()
	}
	late := newReceiver(&w)
	late.start = time.Now()
	c, err := dial(late, "late")
	if err != nil {
		return err
	}
	defer c.Close()
	if err := waitFor(ctx, "first frame through the SFU", func() bool { return !late.firstFrame().IsZero() }); err != nil {
		return err
	}
	res.joinToFrame.add(late.firstFrame().Sub(late.start))
	return nil
}

func forwardKeyframes(from <-chan struct{}, to chan struct{}) {
	for range from {
		select {
		case to <- struct{}{}:
		default:
		}
	}
}

// probePair times the same two things on a bare Pion pair, n times each.
func probePair(ctx context.Context, m *mediaSet, n int) (*probeResult, error) {
	api, err := newPeerAPI(nil)
	if err != nil {
		return nil, err
	}
	res := &probeResult{}
	for range n {
		d, err := pairOnce(ctx, api, m, false)
		if err != nil {
			return nil, err
		}
		res.publishToPacket.add(d)
		if d, err = pairOnce(ctx, api, m, true); err != nil {
			return nil, err
		}
		res.joinToFrame.add(d)
	}
	return res, nil
}

// pairOnce connects a sender that is already playing to a new receiver
// and returns the time from the start of the negotiation to the first
// packet or, with frame, to the first whole keyframe. The sender starts
// the connection with a keyframe and, like a browser, the receiver also
// asks for one when the track arrives.
func pairOnce(ctx context.Context, api *webrtc.API, m *mediaSet, frame bool) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var w window
	rx := newReceiver(&w)
	video, audio, write, err := pionTracks("pair")
	if err != nil {
		return 0, err
	}
	tracks := []*txTrack{{video: true}, {}}
	s := &sender{m: m, video: tracks[0], audio: tracks[1], vkey: 0, akey: 1}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	kf := make(chan struct{}, 1)
	go s.run(sctx, write, kf)
	time.Sleep(100 * time.Millisecond) // the sender is mid-stream, as a publisher in a call is

	start := time.Now()
	snd, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return 0, err
	}
	defer snd.Close()
	rcv, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return 0, err
	}
	defer rcv.Close()
	rcv.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		if t.Kind() == webrtc.RTPCodecTypeVideo {
			_ = rcv.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(t.SSRC())}})
		}
		rx.onTrack(t, r)
	})
	var senders []*webrtc.RTPSender
	for _, t := range []webrtc.TrackLocal{video, audio} {
		tr, err := snd.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return 0, err
		}
		senders = append(senders, tr.Sender())
	}
	go forwardKeyframes(keyframeRequests(senders[0]), kf)
	_ = keyframeRequests(senders[1])
	// A browser's encoder starts a new connection with a keyframe: the
	// floor for the first frame.
	snd.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			select {
			case kf <- struct{}{}:
			default:
			}
		}
	})
	if err := connectPair(snd, rcv); err != nil {
		return 0, err
	}
	got := func() time.Time { return rx.firstPacket() }
	if frame {
		got = rx.firstFrame
	}
	if err := waitFor(ctx, "first media on a bare pair", func() bool { return !got().IsZero() }); err != nil {
		return 0, err
	}
	return got().Sub(start), nil
}

// connectPair negotiates a (offerer) with b in memory, trickling
// candidates as the signaling server does.
func connectPair(a, b *webrtc.PeerConnection) error {
	var mu sync.Mutex
	pending := map[*webrtc.PeerConnection][]webrtc.ICECandidateInit{}
	trickle := func(to *webrtc.PeerConnection) func(*webrtc.ICECandidate) {
		return func(c *webrtc.ICECandidate) {
			if c == nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if to.RemoteDescription() == nil {
				pending[to] = append(pending[to], c.ToJSON())
				return
			}
			_ = to.AddICECandidate(c.ToJSON())
		}
	}
	a.OnICECandidate(trickle(b))
	b.OnICECandidate(trickle(a))
	setRemote := func(pc *webrtc.PeerConnection, d webrtc.SessionDescription) error {
		mu.Lock()
		defer mu.Unlock()
		if err := pc.SetRemoteDescription(d); err != nil {
			return err
		}
		for _, c := range pending[pc] {
			_ = pc.AddICECandidate(c)
		}
		delete(pending, pc)
		return nil
	}
	offer, err := a.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := a.SetLocalDescription(offer); err != nil {
		return err
	}
	if err := setRemote(b, offer); err != nil {
		return err
	}
	answer, err := b.CreateAnswer(nil)
	if err != nil {
		return err
	}
	if err := b.SetLocalDescription(answer); err != nil {
		return err
	}
	return errors.Join(setRemote(a, answer))
}
