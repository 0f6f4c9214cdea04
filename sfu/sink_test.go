package sfu

import (
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// countSink counts what it gets; block, when set, holds up WriteRTP.
type countSink struct {
	block  chan struct{}
	pkts   atomic.Int64
	seqs   []uint16
	closed chan struct{}
}

func (s *countSink) WriteRTP(p *rtp.Packet) {
	if s.block != nil {
		<-s.block
	}
	s.seqs = append(s.seqs, p.SequenceNumber)
	s.pkts.Add(1)
}
func (s *countSink) WriteSenderReport(SenderReport) {}
func (s *countSink) Close()                         { close(s.closed) }

// TestSinkQueueNeverBlocks: a sink that does not read costs the forward
// loop nothing but counted drops, and what was queued is delivered in
// order before the sink is closed.
func TestSinkQueueNeverBlocks(t *testing.T) {
	sink := &countSink{block: make(chan struct{}), closed: make(chan struct{})}
	var drops atomic.Uint64
	q := newSinkQueue(sink, &drops)
	var wg sync.WaitGroup
	wg.Go(func() { q.run(testLog()) })
	p := &rtp.Packet{Header: rtp.Header{Version: 2}, Payload: make([]byte, 1000)}
	start := time.Now()
	const n = 1000
	for i := range n {
		p.SequenceNumber = uint16(i)
		q.pushRTP(p)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("pushing %d packets to a stuck sink took %v", n, d)
	}
	// The run goroutine may hold one packet besides the full queue.
	if got := drops.Load(); got != n-SinkQueueLength && got != n-SinkQueueLength-1 {
		t.Errorf("%d dropped, want %d", got, n-SinkQueueLength)
	}
	close(sink.block)
	close(q.done)
	wg.Wait()
	<-sink.closed
	if got := int(sink.pkts.Load()); got+int(drops.Load()) != n {
		t.Errorf("%d delivered and %d dropped of %d", got, drops.Load(), n)
	}
	for i := 1; i < len(sink.seqs); i++ {
		if sink.seqs[i] != sink.seqs[i-1]+1 {
			t.Fatalf("delivered out of order: %v", sink.seqs[:i+1])
		}
	}
}

// BenchmarkSinkHandoff is what the queue costs per packet on both sides:
// the copy in on the forward loop, the parse out on the sink's goroutine
// (run here in turn on one goroutine, so nothing is dropped).
func BenchmarkSinkHandoff(b *testing.B) {
	sink := &countSink{closed: make(chan struct{})}
	var drops atomic.Uint64
	q := newSinkQueue(sink, &drops)
	p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SSRC: 1234}, Payload: make([]byte, 1100)}
	var out rtp.Packet
	b.ReportAllocs()
	for b.Loop() {
		p.SequenceNumber++
		q.pushRTP(p)
		it := <-q.full
		if err := out.Unmarshal(it.buf); err != nil {
			b.Fatal(err)
		}
		q.free <- it
	}
	if drops.Load() != 0 {
		b.Fatal("dropped")
	}
}

func testLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
