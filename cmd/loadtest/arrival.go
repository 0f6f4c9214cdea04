package main

import (
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// Forwarding latency is the SFU's part of a packet's trip: from the
// sender to the receiver's socket. Timed after the receiver's Pion has
// read, decrypted and handed it over, it also holds the load tool's own
// queueing, which on a busy core is most of the tail (a run of 12 calls
// of 4: p99 11 ms timed at the track, under 3 ms at the server's
// forwarder). So the participants' sockets note when each datagram came
// in, by its RTP SSRC and sequence number, which SRTP leaves in clear,
// and the track reader looks the packet up. The time is the kernel's
// (SO_TIMESTAMPNS: when the datagram reached the socket, not when the
// tool got round to reading it), or the read's where the kernel gives
// none. The relay's receivers, plain sockets, are timed the same way.

// arrivals remembers when RTP packets reached the participants' sockets.
// Writers are the sockets' read loops, readers the track readers; a slot
// overwritten in between (65,536 packets later) is a miss, and the
// reader falls back to its own clock.
type arrivals struct {
	slots [1 << 16]arrivalSlot
	// counted are the tracks counted at the sockets, by SSRC
	// (*socketTrack): see countAtSocket.
	counted sync.Map
	w       *window
}

type arrivalSlot struct {
	key atomic.Uint64 // ssrc<<16 | seq, plus 1 << 48 so that 0 is empty
	at  atomic.Int64  // unix nanoseconds
}

func arrivalKey(ssrc uint32, seq uint16) (uint64, int) {
	k := uint64(ssrc)<<16 | uint64(seq) | 1<<48
	return k, int((ssrc*2654435761)^uint32(seq)) & (1<<16 - 1)
}

// rtpIDs returns the SSRC and sequence number of datagram p if it is
// RTP (not RTCP, STUN or DTLS).
func rtpIDs(p []byte) (ssrc uint32, seq uint16, ok bool) {
	if len(p) < 12 || p[0]&0xc0 != 0x80 {
		return 0, 0, false
	}
	if pt := p[1] & 0x7f; pt >= 64 && pt <= 95 { // RTCP packet types 192-223
		return 0, 0, false
	}
	return binary.BigEndian.Uint32(p[8:12]), binary.BigEndian.Uint16(p[2:4]), true
}

// note records the arrival at at of the RTP packet ssrc, seq.
func (a *arrivals) note(ssrc uint32, seq uint16, at int64) {
	k, i := arrivalKey(ssrc, seq)
	s := &a.slots[i]
	s.at.Store(at)
	s.key.Store(k)
}

// lookup returns when the RTP packet rtp (its header is enough) reached
// its socket, if that is still known.
func (a *arrivals) lookup(rtp []byte) (time.Time, bool) {
	if a == nil || len(rtp) < 12 {
		return time.Time{}, false
	}
	k, i := arrivalKey(binary.BigEndian.Uint32(rtp[8:12]), binary.BigEndian.Uint16(rtp[2:4]))
	s := &a.slots[i]
	at := s.at.Load()
	if s.key.Load() != k {
		return time.Time{}, false
	}
	return time.Unix(0, at), true
}

// arrivalNet is the participants' network: the standard one, with every
// UDP socket noting arrivals.
type arrivalNet struct {
	*stdnet.Net
	a *arrivals
}

func newArrivalNet(a *arrivals) (*arrivalNet, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return &arrivalNet{Net: n, a: a}, nil
}

// ListenUDP implements transport.Net.
func (n *arrivalNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	ac := &arrivalConn{UDPConn: c, a: n.a}
	_ = c.SetReadBuffer(receiveBuffer)
	if uc, ok := c.(*net.UDPConn); ok && timestampArrivals(uc) {
		ac.uc = uc
	}
	return ac, nil
}

// receiveBuffer is the participants' socket receive buffer (the kernel
// caps it at net.core.rmem_max, 4 MiB here). With the default 208 KiB a
// load tool that stalls for a few milliseconds on its busy core drops
// datagrams at its sockets, and their NACK recovery, not the server,
// becomes the tail; the arrival time is the kernel's, so a datagram that
// waits in a larger buffer is timed from when it came.
const receiveBuffer = 2 << 20

// timestampArrivals asks the kernel to stamp each datagram conn receives
// with the time it arrived, and reports whether it will.
func timestampArrivals(conn *net.UDPConn) bool {
	rc, err := conn.SyscallConn()
	if err != nil {
		return false
	}
	on := false
	_ = rc.Control(func(fd uintptr) {
		on = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1) == nil
	})
	return on
}

// arrivalConn notes each datagram it reads. Pion's ICE reads with
// ReadFrom.
type arrivalConn struct {
	transport.UDPConn
	a   *arrivals
	uc  *net.UDPConn // with kernel timestamps on; nil: none
	oob [64]byte     // only the ICE read loop reads
}

func (c *arrivalConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, at, err := c.read(p)
		if err != nil {
			return n, addr, err
		}
		if ssrc, seq, ok := rtpIDs(p[:n]); ok {
			if c.a.countedHere(ssrc, seq, at) {
				continue
			}
			c.a.note(ssrc, seq, at)
		}
		return n, addr, nil
	}
}

// read reads one datagram and when it arrived.
func (c *arrivalConn) read(p []byte) (int, net.Addr, int64, error) {
	if c.uc == nil {
		n, addr, err := c.UDPConn.ReadFrom(p)
		return n, addr, time.Now().UnixNano(), err
	}
	n, oobn, _, addr, err := c.uc.ReadMsgUDP(p, c.oob[:])
	if err != nil {
		return n, nil, 0, err
	}
	at, ok := kernelTime(c.oob[:oobn])
	if !ok {
		at = time.Now().UnixNano()
	}
	return n, addr, at, nil
}

// Counting at the socket. A Pion receiver costs the load tool about as
// much CPU per packet as the SFU spends forwarding it (a read system
// call, then five goroutines: ICE, the DTLS/SRTP demultiplexer, the SRTP
// session with its decryption, the interceptors, the track reader), so
// one core of the tool cannot receive what one core of the server
// forwards. With -count-at-socket, once a track's reader has its first
// whole keyframe (audio: its first packet), and so knows which track the
// SSRC carries and which packet number goes with which sequence number
// (the SFU forwards sequence numbers untouched), the track's datagrams
// are counted where the socket reads them and not passed to Pion: the
// packet number comes from the sequence number, the send time from the
// sender's record of it. STUN, DTLS and RTCP still go to Pion, so the
// connection stays up; what a receiver no longer sends for such a track
// is receiver reports and NACKs, so a lost packet stays lost.

// socketTrack is one track counted at its receiver's socket.
type socketTrack struct {
	tx *txTrack

	mu          sync.Mutex // the socket's read loop; count after the run
	rx          rxTrack
	lastSeq     uint16
	lastCounter uint32
}

// countAtSocket hands the track carried by ssrc over to the sockets,
// from the packet numbered counter with sequence number seq on.
func (a *arrivals) countAtSocket(ssrc uint32, seq uint16, counter uint32, tx *txTrack) *socketTrack {
	st := &socketTrack{tx: tx, lastSeq: seq, lastCounter: counter}
	a.counted.Store(ssrc, st)
	return st
}

// countedHere counts the RTP packet ssrc, seq, which arrived at at, if
// its track is counted at the socket, and reports whether it was.
func (a *arrivals) countedHere(ssrc uint32, seq uint16, at int64) bool {
	v, ok := a.counted.Load(ssrc)
	if !ok {
		return false
	}
	st := v.(*socketTrack)
	st.mu.Lock()
	defer st.mu.Unlock()
	d := int16(seq - st.lastSeq)
	counter := st.lastCounter + uint32(int32(d))
	if d > 0 {
		st.lastSeq, st.lastCounter = seq, counter
	}
	sent, _ := st.tx.sentAt(counter) // 0 if too old to time: still counted
	st.rx.record(counter, sent, time.Now(), time.Unix(0, at), a.w)
	return true
}

// kernelTime reads an SCM_TIMESTAMPNS control message (one cmsghdr on
// 64-bit Linux: length, level, type, then a timespec), without the
// allocations of syscall.ParseSocketControlMessage.
func kernelTime(oob []byte) (int64, bool) {
	if len(oob) < 32 {
		return 0, false
	}
	level := int32(binary.NativeEndian.Uint32(oob[8:12]))
	typ := int32(binary.NativeEndian.Uint32(oob[12:16]))
	if level != syscall.SOL_SOCKET || typ != syscall.SCM_TIMESTAMPNS {
		return 0, false
	}
	sec := int64(binary.NativeEndian.Uint64(oob[16:24]))
	nsec := int64(binary.NativeEndian.Uint64(oob[24:32]))
	return sec*1e9 + nsec, true
}
