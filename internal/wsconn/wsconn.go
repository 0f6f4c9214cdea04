// Package wsconn runs one websocket the way both of our sockets (call
// signaling and chat) need: one reader handling frames in order, one
// writer fed by a bounded queue so a slow client never blocks anyone,
// pings to notice a dead peer, and a soft size limit answered with an
// error frame instead of a dropped connection.
package wsconn

import (
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Config sets a connection's limits.
type Config struct {
	// MaxMessage is the largest frame handled; larger ones go to
	// TooLarge and are discarded. HardLimit closes the connection.
	MaxMessage, HardLimit int64
	// PingInterval and PongWait: a peer silent for PongWait is gone.
	PingInterval, PongWait time.Duration
	// QueueLen bounds the frames waiting to be written.
	QueueLen int
}

const writeWait = 10 * time.Second

// Conn is one websocket being served.
type Conn struct {
	ws   *websocket.Conn
	cfg  Config
	send chan []byte
	quit chan struct{}
	once sync.Once
	code int
	text string
}

// New wraps an upgraded websocket.
func New(ws *websocket.Conn, cfg Config) *Conn {
	return &Conn{ws: ws, cfg: cfg, send: make(chan []byte, cfg.QueueLen), quit: make(chan struct{})}
}

// Handler gets what the reader reads.
type Handler struct {
	// Frame handles one text frame and reports whether to go on.
	Frame func(data []byte) bool
	// TooLarge is told of a frame over MaxMessage.
	TooLarge func()
	// Binary is told of a binary frame.
	Binary func()
	// Closed is told why reading ended: true if the peer said goodbye
	// with a close frame, false if it vanished.
	Closed func(goodbye bool)
}

// Serve reads until the peer goes, h.Frame says stop, or Finish is
// called; then it closes the socket and returns when the writer is done.
func (c *Conn) Serve(h Handler) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.writeLoop()
	}()
	c.readLoop(h)
	c.Finish(websocket.CloseNormalClosure, "")
	<-done
	_ = c.ws.Close()
}

// Enqueue queues one frame; a peer too slow to take its queue is
// disconnected.
func (c *Conn) Enqueue(b []byte) {
	select {
	case c.send <- b:
	default:
		c.Finish(websocket.ClosePolicyViolation, "too slow")
	}
}

// Finish ends the connection: queued frames are flushed, then a close
// frame with code and text is sent.
func (c *Conn) Finish(code int, text string) {
	c.once.Do(func() {
		c.code, c.text = code, text
		close(c.quit)
	})
}

func (c *Conn) readLoop(h Handler) {
	c.ws.SetReadLimit(c.cfg.HardLimit)
	alive := func() { _ = c.ws.SetReadDeadline(time.Now().Add(c.cfg.PongWait)) }
	alive()
	c.ws.SetPongHandler(func(string) error { alive(); return nil })
	for {
		kind, r, err := c.ws.NextReader()
		if err != nil {
			if h.Closed != nil {
				h.Closed(websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway))
			}
			return
		}
		alive()
		data, err := io.ReadAll(io.LimitReader(r, c.cfg.MaxMessage+1))
		if err != nil {
			return
		}
		if int64(len(data)) > c.cfg.MaxMessage {
			if _, err := io.Copy(io.Discard, r); err != nil {
				return
			}
			h.TooLarge()
			continue
		}
		if kind != websocket.TextMessage {
			h.Binary()
			continue
		}
		if !h.Frame(data) {
			return
		}
	}
}

func (c *Conn) writeLoop() {
	ping := time.NewTicker(c.cfg.PingInterval)
	defer ping.Stop()
	write := func(b []byte) bool {
		_ = c.ws.SetWriteDeadline(time.Now().Add(writeWait))
		return c.ws.WriteMessage(websocket.TextMessage, b) == nil
	}
	for {
		select {
		case b := <-c.send:
			if !write(b) {
				_ = c.ws.Close()
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				_ = c.ws.Close()
				return
			}
		case <-c.quit:
			c.flush(write)
			_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(c.code, c.text), time.Now().Add(time.Second))
			_ = c.ws.Close()
			return
		}
	}
}

func (c *Conn) flush(write func([]byte) bool) {
	for {
		select {
		case b := <-c.send:
			if !write(b) {
				return
			}
		default:
			return
		}
	}
}

// SameOrigin is an upgrader's CheckOrigin that refuses websockets opened
// by other sites' pages (which would ride on the visitor's cookies).
// Clients that are not browsers send no Origin and are let through.
func SameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}
