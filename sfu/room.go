package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Direction names one of a participant's two peer connections.
type Direction int

const (
	// Publish carries the participant's own media to the server.
	Publish Direction = iota
	// Subscribe carries everyone else's media to the participant.
	Subscribe
)

// Errors a caller can tell apart with errors.Is.
var (
	ErrClosed         = errors.New("sfu: closed")
	ErrNoOfferPending = errors.New("sfu: answer received but no offer is pending")
	ErrBadSDP         = errors.New("sfu: session description refused")
)

// KeyframeInterval is the shortest time between two keyframe requests to
// one publisher's track.
const KeyframeInterval = 500 * time.Millisecond

// maxPendingCandidates bounds the candidates kept while a remote
// description is missing; a client that sends more is misbehaving.
const maxPendingCandidates = 64

// Signal is how the SFU talks back to one participant. The signaling
// package implements it; calls must not block.
type Signal interface {
	// Offer sends a new description of the subscribe connection.
	Offer(sdp string)
	// Candidate sends one of our ICE candidates.
	Candidate(dir Direction, c webrtc.ICECandidateInit)
	// Failed reports that the participant's media connection failed.
	Failed(err error)
}

// RoomEvents hears about tracks coming and going in a room. Calls must
// not block.
type RoomEvents interface {
	TrackPublished(TrackInfo)
	TrackUnpublished(TrackInfo)
}

// Room forwards every participant's tracks to every other participant.
type Room struct {
	id     string
	t      *Transport
	events RoomEvents
	log    *slog.Logger

	mu      sync.Mutex
	peers   map[string]*Peer
	tracks  map[string]*upTrack              // started: media flows
	pending map[*webrtc.RTPReceiver]*upTrack // announced from an offer, no packet yet
	rec     roomRecording                    // see sink.go
	closed  bool
	wg      sync.WaitGroup // forwarders and RTCP readers
}

// NewRoom makes an empty room.
func NewRoom(id string, t *Transport, events RoomEvents, log *slog.Logger) *Room {
	return &Room{
		id: id, t: t, events: events, log: log.With("room", id),
		peers: map[string]*Peer{}, tracks: map[string]*upTrack{},
		pending: map[*webrtc.RTPReceiver]*upTrack{},
	}
}

// Peer is one participant's media: its two peer connections and its
// subscriptions.
type Peer struct {
	id   string
	room *Room
	sig  Signal
	log  *slog.Logger
	pub  *webrtc.PeerConnection
	sub  *webrtc.PeerConnection

	pubMu      sync.Mutex // serialises publish negotiation
	pubPending []webrtc.ICECandidateInit
	announced  map[*webrtc.RTPReceiver]bool // publish receivers already announced

	negMu        sync.Mutex // serialises subscribe negotiation and its tracks
	offerPending bool
	again        bool
	subPending   []webrtc.ICECandidateInit
	downs        map[string]*downTrack // by up track id
	closed       bool

	failOnce sync.Once
}

// Join adds a participant and subscribes it to every track already
// published in the room.
func (r *Room) Join(id string, sig Signal) (*Peer, error) {
	pub, err := r.t.API.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("new publish connection: %w", err)
	}
	sub, err := r.t.API.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		_ = pub.Close()
		return nil, fmt.Errorf("new subscribe connection: %w", err)
	}
	r.t.open.Add(2)
	p := &Peer{
		id: id, room: r, sig: sig, log: r.log.With("peer", id), pub: pub, sub: sub,
		downs: map[string]*downTrack{}, announced: map[*webrtc.RTPReceiver]bool{},
	}
	pub.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			sig.Candidate(Publish, c.ToJSON())
		}
	})
	sub.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			sig.Candidate(Subscribe, c.ToJSON())
		}
	})
	pub.OnTrack(func(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) { r.publish(p, remote, recv) })
	pub.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateFailed {
			p.fail(errors.New("publish connection failed"))
		}
	})
	sub.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected:
			p.requestKeyframes()
		case webrtc.PeerConnectionStateFailed:
			p.fail(errors.New("subscribe connection failed"))
		}
	})

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		p.close()
		return nil, ErrClosed
	}
	r.peers[id] = p
	existing := make([]*upTrack, 0, len(r.tracks)+len(r.pending))
	for _, u := range r.tracks {
		existing = append(existing, u)
	}
	for _, u := range r.pending {
		existing = append(existing, u)
	}
	r.mu.Unlock()

	for _, u := range existing {
		p.subscribe(u)
	}
	// The subscribe connection comes up now even in an empty room, so
	// that when someone publishes, media flows after one renegotiation,
	// not after a whole ICE and DTLS handshake. A data channel is what
	// makes an offer without media worth connecting.
	if len(existing) == 0 {
		if _, err := sub.CreateDataChannel("sfu", nil); err != nil {
			p.log.Debug("subscribe data channel", "err", err)
		}
	}
	p.negotiate()
	p.log.Debug("peer joined", "tracks", len(existing))
	return p, nil
}

// Leave removes a participant: its tracks are unpublished from the others
// and its connections closed.
func (r *Room) Leave(p *Peer) {
	r.mu.Lock()
	if _, ok := r.peers[p.id]; !ok {
		r.mu.Unlock()
		return
	}
	delete(r.peers, p.id)
	var never []*webrtc.RTPReceiver // announced, never started
	for recv, u := range r.pending {
		if u.info.PeerID == p.id {
			never = append(never, recv)
		}
	}
	r.mu.Unlock()
	for _, recv := range never {
		r.withdraw(recv)
	}

	p.negMu.Lock()
	downs := p.downs
	p.downs = map[string]*downTrack{}
	p.negMu.Unlock()
	for _, d := range downs {
		d.up.removeDown(d)
	}
	// Closing the publish connection ends its forwarders, which
	// unpublish its tracks from everybody else.
	p.close()
}

// Close ends the room: every peer connection is closed and every
// goroutine of the room has returned when Close does.
func (r *Room) Close() {
	r.mu.Lock()
	r.closed = true
	peers := make([]*Peer, 0, len(r.peers))
	for _, p := range r.peers {
		peers = append(peers, p)
	}
	r.peers = map[string]*Peer{}
	r.mu.Unlock()
	for _, p := range peers {
		p.close()
	}
	r.wg.Wait()
}

// announce makes a track of p known to the room from p's offer, before
// its first packet: everybody else is offered it at once, so that their
// renegotiation runs while p's publish connection is still coming up,
// and the first packet to arrive is forwarded. (Pion reports a track
// only with its first packet; waiting for that put a whole renegotiation
// of every subscriber between the first packet and the first packet
// forwarded.) A track announced and never started is unpublished when p
// leaves.
func (r *Room) announce(p *Peer, recv *webrtc.RTPReceiver, kind webrtc.RTPCodecType) {
	codec, ok := r.t.codecs[kind]
	if !ok {
		return
	}
	info := TrackInfo{ID: "t-" + uuid.NewString(), StreamID: p.id, PeerID: p.id, Kind: kind.String()}
	u := newUpTrack(info, kind, codec, p.pub, KeyframeInterval, r.t)
	r.mu.Lock()
	if r.closed || r.peers[p.id] != p {
		r.mu.Unlock()
		return
	}
	r.pending[recv] = u
	subs := r.othersLocked(p)
	r.wg.Add(1)
	r.mu.Unlock()
	p.log.Debug("track announced", "track", info.ID, "kind", info.Kind)
	r.events.TrackPublished(info)
	// Not in the caller's way: the publisher's answer goes out first.
	go func() {
		defer r.wg.Done()
		for _, q := range subs {
			q.subscribe(u)
			q.negotiate()
		}
	}()
}

// withdraw unpublishes the track announced for recv if it has not
// started (its publisher left, or stopped sending on it), and reports
// whether there was one.
func (r *Room) withdraw(recv *webrtc.RTPReceiver) bool {
	r.mu.Lock()
	u := r.pending[recv]
	if u == nil {
		r.mu.Unlock()
		return false
	}
	delete(r.pending, recv)
	r.wg.Add(1)
	r.mu.Unlock()
	// As a started track's forwarder does when it ends: the others'
	// renegotiations are not the publisher's to wait for.
	go func() {
		defer r.wg.Done()
		r.unpublish(u)
	}()
	return true
}

// receivingMids returns the media sections of our answer on which we
// receive, by mid: not rejected (port 0), and recvonly or sendrecv.
func receivingMids(answer string) (map[string]bool, error) {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(answer); err != nil {
		return nil, err
	}
	mids := map[string]bool{}
	for _, m := range d.MediaDescriptions {
		mid, ok := m.Attribute(sdp.AttrKeyMID)
		if !ok || m.MediaName.Port.Value == 0 {
			continue
		}
		_, sendonly := m.Attribute(sdp.AttrKeySendOnly)
		_, inactive := m.Attribute(sdp.AttrKeyInactive)
		mids[mid] = !sendonly && !inactive // recvonly, sendrecv, or the default (sendrecv)
	}
	return mids, nil
}

// othersLocked lists the peers other than p. r.mu is held.
func (r *Room) othersLocked(p *Peer) []*Peer {
	subs := make([]*Peer, 0, len(r.peers))
	for _, q := range r.peers {
		if q != p {
			subs = append(subs, q)
		}
	}
	return subs
}

// publish starts forwarding a new track from p to everybody else: the
// one announced for recv, or, for a track that was not, a new one.
func (r *Room) publish(p *Peer, remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	// From pending to tracks in one step, so that a joiner sees it in
	// one or the other.
	r.mu.Lock()
	u, stale := r.pending[recv], (*upTrack)(nil)
	delete(r.pending, recv)
	if u != nil && (u.kind != remote.Kind() || !strings.EqualFold(u.codec.MimeType, remote.Codec().MimeType)) {
		// Not what the offer said: start afresh.
		u, stale = nil, u
	}
	announced := u != nil
	if !announced {
		info := TrackInfo{ID: "t-" + uuid.NewString(), StreamID: p.id, PeerID: p.id, Kind: remote.Kind().String()}
		u = newUpTrack(info, remote.Kind(), remote.Codec().RTPCodecCapability, p.pub, KeyframeInterval, r.t)
	}
	u.start(remote)
	if r.closed || r.peers[p.id] != p {
		r.mu.Unlock()
		if stale != nil {
			r.unpublish(stale)
		}
		if announced {
			r.unpublish(u)
		}
		return
	}
	r.tracks[u.info.ID] = u
	var subs []*Peer
	if !announced {
		subs = r.othersLocked(p)
	}
	r.wg.Add(2)
	r.mu.Unlock()
	if stale != nil {
		r.unpublish(stale)
	}

	r.syncSink(u) // before the first packet is forwarded
	go func() {
		defer r.wg.Done()
		u.rec.readRTCP(recv)
	}()
	go func() {
		defer r.wg.Done()
		u.forward()
		r.unpublish(u)
	}()
	p.log.Debug("track published", "track", u.info.ID, "kind", u.info.Kind, "codec", u.codec.MimeType, "announced", announced)
	if announced {
		// Subscribers bound before the first packet get the
		// encoder's first keyframe, unless they bound too late for
		// it: ask for one as a renegotiated subscriber would.
		if u.kind == webrtc.RTPCodecTypeVideo && len(*u.downs.Load()) > 0 {
			u.kf.request()
		}
		return
	}
	r.events.TrackPublished(u.info)
	for _, q := range subs {
		q.subscribe(u)
		q.negotiate()
	}
}

// unpublish removes an ended track from every subscriber.
func (r *Room) unpublish(u *upTrack) {
	u.rec.end()
	u.kf.stop()
	r.mu.Lock()
	delete(r.tracks, u.info.ID)
	closed := r.closed
	r.mu.Unlock()
	for _, d := range u.end() {
		u.removeDown(d)
		d.sub.unsubscribe(d)
	}
	if !closed {
		r.events.TrackUnpublished(u.info)
	}
}

// ID returns the participant's id.
func (p *Peer) ID() string { return p.id }

// Publish applies the client's offer for its publish connection and
// returns our answer.
func (p *Peer) Publish(offer string) (string, error) {
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	if err := p.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("%w: publish offer: %w", ErrBadSDP, err)
	}
	answer, err := p.pub.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: publish answer: %w", ErrBadSDP, err)
	}
	if err := p.pub.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("set publish answer: %w", err)
	}
	for _, c := range p.pubPending {
		_ = p.pub.AddICECandidate(c)
	}
	p.pubPending = nil
	receiving, err := receivingMids(answer.SDP)
	if err != nil {
		return "", fmt.Errorf("read our publish answer: %w", err)
	}
	current := map[*webrtc.RTPReceiver]bool{}
	for _, tr := range p.pub.GetTransceivers() {
		recv := tr.Receiver()
		if recv == nil || tr.Mid() == "" || !receiving[tr.Mid()] {
			continue
		}
		current[recv] = true
		if !p.announced[recv] {
			p.announced[recv] = true
			p.room.announce(p, recv, tr.Kind())
		}
	}
	// The publisher no longer sends on a transceiver (its track removed
	// or stopped; Pion then gives the transceiver a new receiver): a
	// track announced for it that never started goes, as it would when
	// the publisher leaves.
	for recv := range p.announced {
		if !current[recv] && p.room.withdraw(recv) {
			delete(p.announced, recv)
		}
	}
	return answer.SDP, nil
}

// Answer applies the client's answer to our last subscribe offer.
func (p *Peer) Answer(sdp string) error {
	p.negMu.Lock()
	if !p.offerPending {
		p.negMu.Unlock()
		return ErrNoOfferPending
	}
	p.offerPending = false
	again := p.again
	p.again = false
	err := p.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
	if err == nil {
		for _, c := range p.subPending {
			_ = p.sub.AddICECandidate(c)
		}
		p.subPending = nil
	}
	p.negMu.Unlock()
	if err != nil {
		// Offer again, so one bad answer does not wedge the
		// connection in have-local-offer.
		p.negotiate()
		return fmt.Errorf("%w: subscribe answer: %w", ErrBadSDP, err)
	}
	if again {
		p.negotiate()
	}
	return nil
}

// AddCandidate adds one of the client's ICE candidates, keeping it until
// the connection has a remote description.
func (p *Peer) AddCandidate(dir Direction, c webrtc.ICECandidateInit) error {
	if c.Candidate == "" {
		return nil // end of candidates
	}
	mu, pc, pending := &p.pubMu, p.pub, &p.pubPending
	if dir == Subscribe {
		mu, pc, pending = &p.negMu, p.sub, &p.subPending
	}
	mu.Lock()
	defer mu.Unlock()
	if pc.RemoteDescription() == nil {
		if len(*pending) >= maxPendingCandidates {
			return errors.New("too many ICE candidates before the description")
		}
		*pending = append(*pending, c)
		return nil
	}
	if err := pc.AddICECandidate(c); err != nil {
		return fmt.Errorf("add ICE candidate: %w", err)
	}
	return nil
}

// subscribe adds u to p's subscribe connection. The caller negotiates.
func (p *Peer) subscribe(u *upTrack) {
	d := &downTrack{up: u, sub: p}
	p.negMu.Lock()
	if p.closed {
		p.negMu.Unlock()
		return
	}
	sender, err := p.sub.AddTrack(d)
	if err != nil {
		p.negMu.Unlock()
		p.log.Warn("subscribe failed", "track", u.info.ID, "err", err)
		return
	}
	d.sender = sender
	p.downs[u.info.ID] = d
	p.room.wg.Add(1)
	p.negMu.Unlock()
	go func() {
		defer p.room.wg.Done()
		d.readRTCP()
	}()
	if !u.addDown(d) {
		p.unsubscribe(d) // the track ended meanwhile
	}
}

// unsubscribe removes d from p's subscribe connection and renegotiates.
func (p *Peer) unsubscribe(d *downTrack) {
	p.negMu.Lock()
	if p.closed || p.downs[d.up.info.ID] != d {
		p.negMu.Unlock()
		return
	}
	delete(p.downs, d.up.info.ID)
	err := p.sub.RemoveTrack(d.sender)
	p.negMu.Unlock()
	if err != nil {
		p.log.Debug("remove track", "err", err)
	}
	p.negotiate()
}

// negotiate offers the subscribe connection's current tracks, or, while an
// offer is already out, remembers to offer again when its answer comes.
func (p *Peer) negotiate() {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if p.closed {
		return
	}
	if p.offerPending {
		p.again = true
		return
	}
	offer, err := p.sub.CreateOffer(nil)
	if err == nil {
		err = p.sub.SetLocalDescription(offer)
	}
	if err != nil {
		p.log.Warn("subscribe offer failed", "err", err)
		return
	}
	p.offerPending = true
	p.sig.Offer(offer.SDP)
}

// requestKeyframes asks the publisher of every video track p receives
// for a keyframe, so p's first video frame is decodable.
func (p *Peer) requestKeyframes() {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	for _, d := range p.downs {
		if d.up.info.Kind == webrtc.RTPCodecTypeVideo.String() {
			d.up.requestKeyframe()
		}
	}
}

func (p *Peer) fail(err error) {
	p.failOnce.Do(func() {
		p.log.Info("media connection failed", "err", err)
		p.sig.Failed(err)
	})
}

func (p *Peer) close() {
	p.negMu.Lock()
	already := p.closed
	p.closed = true
	p.negMu.Unlock()
	if already {
		return
	}
	defer p.room.t.open.Add(-2)
	p.failOnce.Do(func() {}) // a closing peer has not failed
	if err := p.pub.Close(); err != nil {
		p.log.Debug("close publish connection", "err", err)
	}
	if err := p.sub.Close(); err != nil {
		p.log.Debug("close subscribe connection", "err", err)
	}
}
