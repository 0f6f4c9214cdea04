// Package client is a Go participant of a videosupport call: it speaks
// the signaling protocol over a websocket and sends and receives media
// with Pion. The integration tests and the load tool use it, so they go
// through exactly the doors a browser does.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"videosupport/signaling"
)

// NewAPI returns a Pion API for clients on the server's machine: default
// codecs and interceptors, loopback candidates, no mDNS.
func NewAPI() (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("register codecs: %w", err)
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		return nil, fmt.Errorf("register interceptors: %w", err)
	}
	s := webrtc.SettingEngine{}
	s.SetIncludeLoopbackCandidate(true)
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(s)), nil
}

// Client is one participant.
type Client struct {
	conn *websocket.Conn
	// Pub and Sub are the publish and subscribe peer connections.
	Pub, Sub *webrtc.PeerConnection
	// ID is the participant id the server gave, set by Join.
	ID string

	writeMu sync.Mutex

	mu      sync.Mutex
	msgs    []signaling.Message
	changed chan struct{} // closed and replaced on every new message
	pending map[string][]webrtc.ICECandidateInit
	readErr error
	errs    []error // handling server messages

	frozen atomic.Bool
	done   chan struct{}
}

// Dial connects to the signaling websocket at url (ws://host/ws). onTrack
// is called for every track the server sends.
func Dial(ctx context.Context, url string, api *webrtc.API, onTrack func(*webrtc.TrackRemote, *webrtc.RTPReceiver)) (*Client, error) {
	return DialHeader(ctx, url, nil, api, onTrack)
}

// DialHeader is Dial with HTTP headers on the websocket request: the
// Origin and Cookie a browser would send.
func DialHeader(ctx context.Context, url string, h http.Header, api *webrtc.API, onTrack func(*webrtc.TrackRemote, *webrtc.RTPReceiver)) (*Client, error) {
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, url, h)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	c := &Client{conn: conn, changed: make(chan struct{}), pending: map[string][]webrtc.ICECandidateInit{}, done: make(chan struct{})}
	if c.Pub, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("publish connection: %w", err)
	}
	if c.Sub, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		_ = c.Pub.Close()
		_ = conn.Close()
		return nil, fmt.Errorf("subscribe connection: %w", err)
	}
	c.Pub.OnICECandidate(c.trickle(signaling.PCPublish))
	c.Sub.OnICECandidate(c.trickle(signaling.PCSubscribe))
	if onTrack != nil {
		c.Sub.OnTrack(onTrack)
	}
	conn.SetPingHandler(func(data string) error {
		if c.frozen.Load() {
			return nil
		}
		c.writeMu.Lock()
		defer c.writeMu.Unlock()
		return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	go c.readLoop()
	return c, nil
}

func (c *Client) trickle(pc string) func(*webrtc.ICECandidate) {
	return func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		init := cand.ToJSON()
		_ = c.Send(signaling.Message{Type: signaling.TypeCandidate, PC: pc, Candidate: &init})
	}
}

// Send writes one message.
func (c *Client) Send(m signaling.Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return c.SendRaw(b)
}

// SendRaw writes one text frame as it is, valid or not.
func (c *Client) SendRaw(b []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.conn.WriteMessage(websocket.TextMessage, b)
}

// Join joins a room and waits for the server's answer.
func (c *Client) Join(ctx context.Context, room, name string) (signaling.Message, error) {
	n := c.Len()
	if err := c.Send(signaling.Message{Type: signaling.TypeJoin, Room: room, Name: name}); err != nil {
		return signaling.Message{}, err
	}
	m, err := c.WaitFrom(ctx, n, func(m signaling.Message) bool {
		return m.Type == signaling.TypeJoined || (m.Type == signaling.TypeError && m.About == signaling.TypeJoin)
	})
	if err != nil {
		return m, err
	}
	if m.Type == signaling.TypeError {
		return m, fmt.Errorf("join refused: %s: %s", m.Code, m.Message)
	}
	c.ID = m.You.ID
	return m, nil
}

// Publish sends tracks on the publish connection and returns their
// senders once the server has answered.
func (c *Client) Publish(ctx context.Context, tracks ...webrtc.TrackLocal) ([]*webrtc.RTPSender, error) {
	var senders []*webrtc.RTPSender
	for _, t := range tracks {
		tr, err := c.Pub.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return nil, fmt.Errorf("add track: %w", err)
		}
		senders = append(senders, tr.Sender())
	}
	offer, err := c.Pub.CreateOffer(nil)
	if err != nil {
		return nil, fmt.Errorf("create offer: %w", err)
	}
	if err := c.Pub.SetLocalDescription(offer); err != nil {
		return nil, fmt.Errorf("set offer: %w", err)
	}
	n := c.Len()
	if err := c.Send(signaling.Message{Type: signaling.TypeOffer, PC: signaling.PCPublish, SDP: offer.SDP}); err != nil {
		return nil, err
	}
	m, err := c.WaitFrom(ctx, n, func(m signaling.Message) bool {
		return (m.Type == signaling.TypeAnswer && m.PC == signaling.PCPublish) ||
			(m.Type == signaling.TypeError && m.About == signaling.TypeOffer)
	})
	if err != nil {
		return nil, err
	}
	if m.Type == signaling.TypeError {
		return nil, fmt.Errorf("offer refused: %s", m.Code)
	}
	return senders, nil
}

// Leave says goodbye and closes everything.
func (c *Client) Leave() error {
	err := c.Send(signaling.Message{Type: signaling.TypeLeave})
	c.Close()
	return err
}

// Close closes the peer connections and the websocket without a leave.
func (c *Client) Close() {
	_ = c.Pub.Close()
	_ = c.Sub.Close()
	c.writeMu.Lock()
	_ = c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	c.writeMu.Unlock()
	_ = c.conn.Close()
	<-c.done
}

// Vanish drops the TCP connection and the media with no goodbye of any
// kind, as a phone that loses its network does.
func (c *Client) Vanish() {
	_ = c.conn.UnderlyingConn().Close()
	_ = c.Pub.Close()
	_ = c.Sub.Close()
	<-c.done
}

// DropSignaling cuts the websocket's TCP connection and nothing else:
// the peer connections stay up until Close, so only the server can end
// them.
func (c *Client) DropSignaling() {
	_ = c.conn.UnderlyingConn().Close()
	<-c.done
}

// Freeze stops answering the server's pings while keeping the socket and
// the media open: what the server sees of a phone whose network died
// without closing anything.
func (c *Client) Freeze() { c.frozen.Store(true) }

// Messages returns every message received so far.
func (c *Client) Messages() []signaling.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]signaling.Message(nil), c.msgs...)
}

// Err returns the errors met while applying the server's messages.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return errors.Join(c.errs...)
}

// WaitFor returns the first message received so far, or from now on, for
// which match is true.
func (c *Client) WaitFor(ctx context.Context, match func(signaling.Message) bool) (signaling.Message, error) {
	return c.WaitFrom(ctx, 0, match)
}

// Len returns how many messages have been received.
func (c *Client) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

// WaitFrom waits for a matching message among those received from the
// from-th on (see Len).
func (c *Client) WaitFrom(ctx context.Context, from int, match func(signaling.Message) bool) (signaling.Message, error) {
	for {
		c.mu.Lock()
		for i := from; i < len(c.msgs); i++ {
			if match(c.msgs[i]) {
				m := c.msgs[i]
				c.mu.Unlock()
				return m, nil
			}
		}
		from = len(c.msgs)
		changed, readErr := c.changed, c.readErr
		c.mu.Unlock()
		if readErr != nil {
			return signaling.Message{}, fmt.Errorf("connection closed: %w", readErr)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return signaling.Message{}, ctx.Err()
		}
	}
}

func (c *Client) readLoop() {
	defer close(c.done)
	for {
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
			return
		}
		var m signaling.Message
		if err := json.Unmarshal(b, &m); err != nil {
			continue
		}
		c.handle(m)
		c.mu.Lock()
		c.msgs = append(c.msgs, m)
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}
}

// handle does what a browser does with server messages: answer offers,
// apply answers, add candidates.
func (c *Client) handle(m signaling.Message) {
	var err error
	switch {
	case m.Type == signaling.TypeOffer && m.PC == signaling.PCSubscribe:
		err = c.answer(m.SDP)
	case m.Type == signaling.TypeAnswer && m.PC == signaling.PCPublish:
		err = c.Pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP})
		if err == nil {
			c.flush(signaling.PCPublish, c.Pub)
		}
	case m.Type == signaling.TypeCandidate && m.Candidate != nil:
		pc := c.Pub
		if m.PC == signaling.PCSubscribe {
			pc = c.Sub
		}
		if pc.RemoteDescription() == nil {
			c.mu.Lock()
			c.pending[m.PC] = append(c.pending[m.PC], *m.Candidate)
			c.mu.Unlock()
			return
		}
		err = pc.AddICECandidate(*m.Candidate)
	}
	if err != nil && !errors.Is(err, webrtc.ErrConnectionClosed) {
		c.mu.Lock()
		c.errs = append(c.errs, fmt.Errorf("%s %s: %w", m.Type, m.PC, err))
		c.mu.Unlock()
	}
}

func (c *Client) answer(sdp string) error {
	if err := c.Sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return err
	}
	c.flush(signaling.PCSubscribe, c.Sub)
	ans, err := c.Sub.CreateAnswer(nil)
	if err != nil {
		return err
	}
	if err := c.Sub.SetLocalDescription(ans); err != nil {
		return err
	}
	return c.Send(signaling.Message{Type: signaling.TypeAnswer, PC: signaling.PCSubscribe, SDP: ans.SDP})
}

func (c *Client) flush(name string, pc *webrtc.PeerConnection) {
	c.mu.Lock()
	cands := c.pending[name]
	delete(c.pending, name)
	c.mu.Unlock()
	for _, cand := range cands {
		_ = pc.AddICECandidate(cand)
	}
}
