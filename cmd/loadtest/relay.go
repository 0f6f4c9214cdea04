package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/pion/rtp"
)

// The relay baseline is the floor of CPU per forwarded packet: a plain Go
// UDP relay, one goroutine, one sendto per packet and receiver, no
// encryption, no feedback. It runs as a child process (this program with
// LOADTEST_ROLE=relay) so that /proc measures it alone.
//
// Its protocol: a participant sends relayJoin+room and gets relayJoined
// back; a publisher sends relayMedia+room+packet, and the relay sends the
// whole datagram to every other member of the room.
const (
	relayJoin    = 1
	relayJoined  = 2
	relayMedia   = 3
	relayRoleEnv = "LOADTEST_ROLE"
)

// serveRelay relays on conn until it is closed.
func serveRelay(conn *net.UDPConn) error {
	rooms := map[uint32][]netip.AddrPort{}
	buf := make([]byte, 2048)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return err
		}
		if n < 5 {
			continue
		}
		room := binary.BigEndian.Uint32(buf[1:5])
		switch buf[0] {
		case relayJoin:
			known := false
			for _, a := range rooms[room] {
				known = known || a == from
			}
			if !known {
				rooms[room] = append(rooms[room], from)
			}
			_, _ = conn.WriteToUDPAddrPort([]byte{relayJoined}, from)
		case relayMedia:
			for _, a := range rooms[room] {
				if a != from {
					_, _ = conn.WriteToUDPAddrPort(buf[:n], a)
				}
			}
		}
	}
}

// relayMain is the child: it prints its address and relays until killed.
func relayMain() error {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	// The receive buffer the SFU asks for on its shared port (sfu/batch.go),
	// so that neither baseline nor server loses a burst the other keeps.
	_ = conn.SetReadBuffer(4 << 20)
	fmt.Println(conn.LocalAddr().String())
	return serveRelay(conn)
}

// relayJoiner joins members to the relay, each with its own UDP socket.
type relayJoiner struct {
	addr *net.UDPAddr
	l    *load
}

func (j *relayJoiner) join(ctx context.Context, mem *member) error {
	mem.rx.start = time.Now()
	mem.rx.video = false
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	_ = conn.SetReadBuffer(receiveBuffer)
	mem.close = func() { _ = conn.Close() }
	hello := binary.BigEndian.AppendUint32([]byte{relayJoin}, uint32(mem.room))
	buf := make([]byte, 2048)
	for {
		if _, err := conn.WriteToUDP(hello, j.addr); err != nil {
			return err
		}
		_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, _, err := conn.ReadFromUDP(buf)
		if err == nil && n == 1 && buf[0] == relayJoined {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	_ = conn.SetReadDeadline(time.Time{})
	mem.rx.wg.Add(1)
	go func() {
		defer mem.rx.wg.Done()
		mem.rx.readUDP(conn)
	}()
	if mem.publisher {
		s := j.l.senderFor(mem)
		head := binary.BigEndian.AppendUint32([]byte{relayMedia}, uint32(mem.room))
		var out []byte
		write := func(_ bool, p *rtp.Packet) {
			// The RTP header, as the SFU path sends it, so sizes match.
			out = append(append(out[:0], head...), make([]byte, 12)...)
			out = append(out, p.Payload...)
			_, _ = conn.WriteToUDP(out, j.addr)
		}
		go s.run(j.l.ctx, write, nil)
	}
	return nil
}

// readUDP reads relayed datagrams until conn is closed.
func (r *receiver) readUDP(conn *net.UDPConn) {
	buf := make([]byte, 2048)
	var oob [64]byte
	stamped := timestampArrivals(conn)
	var rx *rxTrack
	var rxKey uint32
	for {
		n, oobn, _, _, err := conn.ReadMsgUDP(buf, oob[:])
		if err != nil {
			return
		}
		now := time.Now()
		arrived := now
		if at, ok := kernelTime(oob[:oobn]); ok && stamped {
			arrived = time.Unix(0, at)
		}
		if n < 5 || buf[0] != relayMedia {
			continue
		}
		key, counter, sent, ok := readTrailer(buf[:n])
		if !ok {
			continue
		}
		if rx == nil || key != rxKey {
			rx, rxKey = r.track(key), key
		}
		rx.record(counter, sent, now, arrived, r.w)
	}
}

// runRelay puts the configured load on the relay baseline and measures it.
func runRelay(ctx context.Context, cfg *Config, m *mediaSet) (Measure, error) {
	meas := Measure{System: "relay"}
	exe, err := os.Executable()
	if err != nil {
		return meas, err
	}
	p, addr, err := spawnRelay(exe, cfg.ServerCPUs)
	if err != nil {
		return meas, err
	}
	defer p.stop()
	l := newLoad(cfg, m)
	defer l.closeAll()
	j := &relayJoiner{addr: addr, l: l}
	cfg.logf("relay: joining %d participants", cfg.Rooms*cfg.Participants)
	l.joinAll(ctx, j.join)
	cfg.logf("relay: measuring %v", cfg.Duration)
	if err := l.measure(ctx, &procSampler{p: p}, &meas); err != nil {
		return meas, err
	}
	return meas, nil
}

// spawnRelay starts this executable as the relay and reads its address.
func spawnRelay(exe, cpus string) (*process, *net.UDPAddr, error) {
	p, err := newProcess(exe, nil, []string{relayRoleEnv + "=relay"}, cpus)
	if err != nil {
		return nil, nil, err
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := p.start(); err != nil {
		return nil, nil, err
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		addr, err := net.ResolveUDPAddr("udp4", strings.TrimSpace(s))
		if err != nil {
			p.stop()
			return nil, nil, fmt.Errorf("relay said %q: %w: %s", s, err, p.errOut.String())
		}
		return p, addr, nil
	case <-time.After(10 * time.Second):
		p.stop()
		return nil, nil, errors.New("relay did not start: " + p.errOut.String())
	}
}
