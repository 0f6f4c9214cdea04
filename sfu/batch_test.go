package sfu

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// listenBatched opens a shared-port socket of b on loopback.
func listenBatched(t *testing.T, b *sendBatcher) *batchConn {
	t.Helper()
	bn, err := newBatchNet(b)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := bn.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn.(*batchConn)
}

// batchedPair opens a shared-port socket of b and a plain socket it can
// send to, with a receive buffer that holds a test's datagrams.
func batchedPair(t *testing.T, b *sendBatcher) (*batchConn, *net.UDPConn, netip.AddrPort) {
	t.Helper()
	bc := listenBatched(t, b)
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rx.Close() })
	_ = rx.SetReadBuffer(4 << 20)
	return bc, rx, rx.LocalAddr().(*net.UDPAddr).AddrPort()
}

// TestBatchConnDelivers writes from several forwarders at once, inside
// and outside batches, and checks that every datagram arrives, that
// batches carried them, and that nothing is left queued.
func TestBatchConnDelivers(t *testing.T) {
	b := newSendBatcher()
	t.Cleanup(b.stop)
	bc, rx, to := batchedPair(t, b)

	const writers, perBatch, rounds = 4, 100, 5
	const want = writers*perBatch*rounds + rounds
	got := make(chan map[uint32]bool, 1)
	go func() {
		seen := map[uint32]bool{}
		buf := make([]byte, 1500)
		for len(seen) < want {
			_ = rx.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := rx.Read(buf)
			if err != nil {
				break
			}
			seen[binary.BigEndian.Uint32(buf[:n])] = true
		}
		got <- seen
	}()

	payload := make([]byte, 1200)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			p := make([]byte, len(payload))
			for r := range rounds {
				b.begin()
				for i := range perBatch {
					binary.BigEndian.PutUint32(p, uint32((w*rounds+r)*perBatch+i))
					if _, err := bc.WriteToAddrPort(p, to); err != nil {
						t.Error(err)
					}
				}
				b.end()
				time.Sleep(time.Millisecond) // let the receiver keep up
			}
		})
	}
	wg.Go(func() {
		p := make([]byte, len(payload))
		for r := range rounds {
			binary.BigEndian.PutUint32(p, uint32(writers*rounds*perBatch+r))
			if _, err := bc.WriteTo(p, net.UDPAddrFromAddrPort(to)); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	seen := <-got
	if len(seen) != want {
		t.Errorf("received %d distinct datagrams, want %d", len(seen), want)
	}
	if n := b.batches.Load(); n == 0 || b.datagrams.Load() < writers*perBatch*rounds || n*8 > b.datagrams.Load() {
		t.Errorf("%d sendmmsg calls carried %d datagrams: batching did not happen", n, b.datagrams.Load())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if bc.cur != nil && bc.cur.n > 0 || b.open != 0 {
		t.Errorf("left behind: open %d, queued %v", b.open, bc.cur)
	}
}

func TestRetransmitCache(t *testing.T) {
	c := &retransmitCache{}
	for i := range 700 {
		seq := uint16(65000 + i) // wraps
		p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, SSRC: 7}, Payload: []byte{byte(i), 1, 2}}
		c.put(p)
	}
	last := uint16(65000 + 699 - 65536)
	b, ok := c.get(last, nil)
	var p rtp.Packet
	if !ok || p.Unmarshal(b) != nil || p.SequenceNumber != last || p.Payload[0] != byte(699%256) {
		t.Fatalf("latest packet: ok %v, %v", ok, p.Header)
	}
	if _, ok := c.get(last-retransmitCacheSize, nil); ok {
		t.Error("a packet older than the cache is still in it")
	}
	if _, ok := c.get(last-retransmitCacheSize+1, nil); !ok {
		t.Error("the oldest packet the cache holds is missing")
	}
	if _, ok := c.get(last+1, nil); ok {
		t.Error("a packet not yet sent is in the cache")
	}
}

// TestResendAnswersNACK checks that a subscriber's NACK is answered from
// the track's cache with the subscriber's SSRC and payload type.
func TestResendAnswersNACK(t *testing.T) {
	u := &upTrack{cache: &retransmitCache{}}
	w := &recordingWriter{}
	d := &downTrack{up: u}
	d.bound.Store(&binding{ssrc: 99, pt: 96, w: w})
	for seq := range uint16(20) {
		p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, SSRC: 1, PayloadType: 100}, Payload: []byte{byte(seq)}}
		if err := p.SetExtension(3, []byte{1}); err != nil {
			t.Fatal(err)
		}
		u.cache.put(p)
	}
	var r resender
	r.resend(d, &rtcp.TransportLayerNack{Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{3, 5, 6})})
	if len(w.seqs) != 3 || w.seqs[0] != 3 || w.seqs[1] != 5 || w.seqs[2] != 6 {
		t.Fatalf("resent %v, want [3 5 6]", w.seqs)
	}
	// The same NACK again at once (a receiver repeating itself) resends
	// nothing; a packet not resent yet still goes.
	r.resend(d, &rtcp.TransportLayerNack{Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{3, 5, 6, 7})})
	if len(w.seqs) != 4 || w.seqs[3] != 7 {
		t.Fatalf("after a repeated NACK resent %v, want [3 5 6 7]", w.seqs)
	}
	for _, h := range w.headers {
		if h.SSRC != 99 || h.PayloadType != 96 || h.Extension {
			t.Errorf("resent header %+v: not rewritten for the subscriber", h)
		}
	}
}

type recordingWriter struct {
	seqs    []uint16
	headers []rtp.Header
}

func (w *recordingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if len(payload) != 1 || payload[0] != byte(h.SequenceNumber) {
		return 0, nil
	}
	w.seqs = append(w.seqs, h.SequenceNumber)
	w.headers = append(w.headers, *h)
	return len(payload), nil
}
func (w *recordingWriter) Write(b []byte) (int, error) { return len(b), nil }

// TestResendBudget: a receiver that NACKs everything again and again
// gets a bounded share of the track resent, and no packet more than
// resendTries times.
func TestResendBudget(t *testing.T) {
	const ms = int64(time.Millisecond)
	start := time.Now().UnixNano()
	var r resender
	resendAll := func(now int64) (n int) {
		for seq := range uint16(200) {
			if r.due(seq, now) {
				n++
			}
		}
		return n
	}
	r.topUp(0)
	if n := resendAll(start); n != resendBurst {
		t.Fatalf("first NACK of 200: %d resent, want the burst of %d", n, resendBurst)
	}
	r.topUp(100) // 100 packets forwarded since
	if n, want := resendAll(start+200*ms), int(100*resendShare); n != want {
		t.Fatalf("after 100 packets: %d resent, want %d", n, want)
	}

	var one resender
	one.topUp(0)
	tries := 0
	for i := range int64(10) {
		one.topUp(uint64(1000 * (i + 1)))
		if one.due(7, start+i*200*ms) {
			tries++
		}
	}
	if tries != resendTries {
		t.Errorf("one packet NACKed 10 times was resent %d times, want %d", tries, resendTries)
	}
}

// TestSharedPortReadBuffer checks that a shared port's socket gets the
// large receive buffer (as far as net.core.rmem_max allows): with the
// default, a busy server loses publishers' packets at its socket.
func TestSharedPortReadBuffer(t *testing.T) {
	b := newSendBatcher()
	t.Cleanup(b.stop)
	conn := listenBatched(t, b)
	want := muxReadBuffer
	if b, err := os.ReadFile("/proc/sys/net/core/rmem_max"); err == nil {
		if limit, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			want = min(want, limit)
		}
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got int
	var serr error
	if err := rc.Control(func(fd uintptr) {
		got, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	}); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	// Linux reports twice the size asked for (its bookkeeping included).
	if got < want {
		t.Errorf("receive buffer %d bytes, want at least %d", got, want)
	}
}

// TestBatchFlusherSends checks that with a flusher the datagrams of
// closed batches leave without anyone else writing, and that stop leaves
// nothing queued.
func TestBatchFlusherSends(t *testing.T) {
	b := newSendBatcher()
	bc, rx, to := batchedPair(t, b)

	const forwarders, perPacket = 5, 3
	p := make([]byte, 100)
	for f := range forwarders {
		b.begin()
		for i := range perPacket {
			binary.BigEndian.PutUint32(p, uint32(f*perPacket+i))
			if _, err := bc.WriteToAddrPort(p, to); err != nil {
				t.Fatal(err)
			}
		}
		b.end()
	}
	seen := map[uint32]bool{}
	buf := make([]byte, 1500)
	for len(seen) < forwarders*perPacket {
		_ = rx.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := rx.Read(buf)
		if err != nil {
			t.Fatalf("after %d datagrams: %v", len(seen), err)
		}
		seen[binary.BigEndian.Uint32(buf[:n])] = true
	}
	b.stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	if bc.cur != nil && bc.cur.n > 0 {
		t.Errorf("left queued after stop: %d", bc.cur.n)
	}
}
