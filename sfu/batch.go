package sfu

import (
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"golang.org/x/net/ipv4"
)

// Batched UDP writes. One sendto per datagram is most of the cost of a
// forwarded packet once the rest of the path is lean. When all media
// share one UDP port (NetworkConfig.UDPPort), the sockets of that port
// are wrapped so that while a forwarder is sending one packet to all its
// subscribers, the datagrams are queued and leave together, one sendmmsg
// per socket, of up to maxBatch datagrams, without a timer.
//
// The batch does not end with the forwarder: when the last open batch
// closes, a flusher goroutine is woken, and it yields once before it
// sends, so that it runs after the goroutines already runnable: the
// other forwarders with a packet in hand, and the reads that feed them.
// In a call of 4 a forwarded packet goes to only 3 subscribers; under
// load the datagrams of many forwarders then share one sendmmsg. On an
// idle server the flusher runs at once, so a lone packet waits no longer
// than before; a busy one holds a datagram for one round of runnable
// work at most, and a full batch leaves at once.
//
// Pion's own batching conn (transport/udp.BatchConn) flushes on a timer
// instead, which adds up to its interval to every packet and a goroutine
// that wakes while the server is idle; ice.UDPMuxDefault uses any conn
// that has WriteToAddrPort, so a wrapper is all it takes.
//
// A datagram written while no forwarder is inside a batch (RTCP, STUN,
// DTLS, retransmissions) goes out at once. One written by another
// goroutine while a batch is open joins it and leaves when the next batch
// ends. No lock is held during a system call.

// maxBatch is the most datagrams one sendmmsg carries.
const maxBatch = 64

// muxReadBuffer is the receive buffer of a shared port's socket. That
// one socket takes every publisher's media: at 23,000 datagrams/s the
// kernel's default (208 KiB) holds 7 ms, less than a scheduler slice of
// a busy core, and what does not fit is lost and NACKed back. 4 MiB holds
// about 150 ms; the kernel caps it at net.core.rmem_max (README).
const muxReadBuffer = 4 << 20

// batchMTU is the largest datagram a batch holds; larger ones go alone.
const batchMTU = 1500

// sendBatcher coordinates the batched sockets of a transport.
type sendBatcher struct {
	mu    sync.Mutex
	open  int          // forwarders inside a batch
	conns []*batchConn // append only
	free  []*sendBatch

	wake chan struct{} // to the flusher: something is queued
	done chan struct{} // closed by stop
	wg   sync.WaitGroup

	batches   atomic.Uint64 // sendmmsg calls made
	datagrams atomic.Uint64 // datagrams they carried
}

// newSendBatcher starts a batcher and its flusher; stop ends it.
func newSendBatcher() *sendBatcher {
	b := &sendBatcher{wake: make(chan struct{}, 1), done: make(chan struct{})}
	b.wg.Go(b.flusher)
	return b
}

// stop ends the flusher, sending what is still queued.
func (b *sendBatcher) stop() {
	if b == nil {
		return
	}
	close(b.done)
	b.wg.Wait()
	b.flushAll()
}

// flusher sends the queued datagrams of every socket each time it is
// woken, after letting the goroutines already runnable go first.
func (b *sendBatcher) flusher() {
	for {
		select {
		case <-b.wake:
		case <-b.done:
			return
		}
		// Gosched puts the flusher behind every runnable goroutine
		// (on the global run queue): forwarders with a packet in hand
		// add theirs to the batch before it leaves.
		runtime.Gosched()
		b.flushAll()
	}
}

// sendBatch is one sendmmsg worth of datagrams, its buffers reused.
type sendBatch struct {
	msgs  []ipv4.Message
	addrs []net.UDPAddr
	n     int
}

func newSendBatch() *sendBatch {
	s := &sendBatch{msgs: make([]ipv4.Message, maxBatch), addrs: make([]net.UDPAddr, maxBatch)}
	for i := range s.msgs {
		s.addrs[i].IP = make(net.IP, net.IPv4len)
		s.msgs[i].Buffers = [][]byte{make([]byte, 0, batchMTU)}
		s.msgs[i].Addr = &s.addrs[i]
	}
	return s
}

// begin opens a batch: datagrams written until end are queued. A nil
// batcher does nothing.
func (b *sendBatcher) begin() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.open++
	b.mu.Unlock()
}

// end closes a batch. The last one to close wakes the flusher.
func (b *sendBatcher) end() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.open--
	last := b.open == 0
	b.mu.Unlock()
	if last {
		select {
		case b.wake <- struct{}{}:
		default: // already woken: it has not flushed yet
		}
	}
}

// flushAll sends what is queued on every socket.
func (b *sendBatcher) flushAll() {
	b.mu.Lock()
	conns := b.conns
	b.mu.Unlock()
	for _, c := range conns {
		b.mu.Lock()
		s := c.cur
		if s != nil && s.n > 0 {
			c.cur = nil
		} else {
			s = nil
		}
		b.mu.Unlock()
		if s != nil {
			c.flush(s)
		}
	}
}

// enqueue copies p into c's batch if a batch is open. full is a batch
// that p filled up, for the caller to send.
func (b *sendBatcher) enqueue(c *batchConn, p []byte, addr netip.AddrPort) (queued bool, full *sendBatch) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open == 0 {
		return false, nil
	}
	s := c.cur
	if s == nil {
		if n := len(b.free); n > 0 {
			s, b.free = b.free[n-1], b.free[:n-1]
		} else {
			s = newSendBatch()
		}
		c.cur = s
	}
	m := &s.msgs[s.n]
	m.Buffers[0] = append(m.Buffers[0][:0], p...)
	a := &s.addrs[s.n]
	ip := addr.Addr().As4()
	copy(a.IP, ip[:])
	a.Port = int(addr.Port())
	s.n++
	if s.n == len(s.msgs) {
		c.cur = nil
		return true, s
	}
	return true, nil
}

func (b *sendBatcher) release(s *sendBatch) {
	s.n = 0
	b.mu.Lock()
	b.free = append(b.free, s)
	b.mu.Unlock()
}

// batchConn is one UDP socket of the shared port. It implements
// ice.AddrPortReaderWriter, which the ICE UDP mux prefers to WriteTo.
type batchConn struct {
	*net.UDPConn
	pc  *ipv4.PacketConn
	b   *sendBatcher
	cur *sendBatch // guarded by b.mu
}

// ReadFromAddrPort implements ice.AddrPortReaderWriter.
func (c *batchConn) ReadFromAddrPort(p []byte) (int, netip.AddrPort, error) {
	return c.ReadFromUDPAddrPort(p)
}

// WriteToAddrPort implements ice.AddrPortReaderWriter: it queues p while
// a batch is open, and sends it at once otherwise.
func (c *batchConn) WriteToAddrPort(p []byte, addr netip.AddrPort) (int, error) {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	if !addr.Addr().Is4() || len(p) > batchMTU {
		return c.WriteToUDPAddrPort(p, addr)
	}
	queued, full := c.b.enqueue(c, p, addr)
	if !queued {
		return c.WriteToUDPAddrPort(p, addr)
	}
	if full != nil {
		c.flush(full)
	}
	return len(p), nil
}

// WriteTo sends through WriteToAddrPort, so that every write of the mux
// takes the same way.
func (c *batchConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if ua, ok := addr.(*net.UDPAddr); ok {
		return c.WriteToAddrPort(p, ua.AddrPort())
	}
	return c.UDPConn.WriteTo(p, addr)
}

// flush sends a batch. A datagram the kernel refuses is dropped, as a
// single send would have lost it; the rest still go.
func (c *batchConn) flush(s *sendBatch) {
	for sent := 0; sent < s.n; {
		k, err := c.pc.WriteBatch(s.msgs[sent:s.n], 0)
		c.b.batches.Add(1)
		if err != nil || k <= 0 {
			k = 1
		}
		c.b.datagrams.Add(uint64(k))
		sent += k
	}
	c.b.release(s)
}

// batchNet is the network the ICE UDP mux listens on: the standard one,
// with every UDP socket batched.
type batchNet struct {
	*stdnet.Net
	b *sendBatcher
}

func newBatchNet(b *sendBatcher) (*batchNet, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return &batchNet{Net: n, b: b}, nil
}

// ListenUDP implements transport.Net.
func (n *batchNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	conn, err := net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	// Best effort: the kernel caps it at net.core.rmem_max.
	_ = conn.SetReadBuffer(muxReadBuffer)
	c := &batchConn{UDPConn: conn, pc: ipv4.NewPacketConn(conn), b: n.b}
	n.b.mu.Lock()
	n.b.conns = append(n.b.conns, c)
	n.b.mu.Unlock()
	return c, nil
}
