package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/pion/webrtc/v4"

	"videosupport/signaling"
	"videosupport/signaling/client"
)

// procSampler measures a child process over the window: CPU from /proc,
// system calls from perf, and, for the server, its Go runtime's own
// figures from its debug handlers.
type procSampler struct {
	p        *process
	srv      *server // nil for the relay
	profile  string
	duration time.Duration
	log      func(string, ...any)
	procs    int // the server's GOMAXPROCS

	cpu0, cpu1 time.Duration
	own0, own1 time.Duration // the load tool's
	rt0, rt1   runtimeStats
	rtOK       bool
	perf       *syscallCounter
	all, sends float64
	perfOK     bool
	rss        float64
	profErr    chan error
}

func (s *procSampler) start() error {
	if s.srv != nil {
		s.rt0, s.rtOK = s.srv.runtimeStats()
	}
	var err error
	s.own0, _ = cpuTimeOf(os.Getpid())
	if s.cpu0, err = s.p.cpuTime(); err != nil {
		return fmt.Errorf("read CPU time: %w", err)
	}
	s.perf = countSyscalls(s.p.pid())
	if s.profile != "" && s.srv != nil {
		s.profErr = make(chan error, 1)
		go func() { s.profErr <- s.srv.profile(s.profile, s.duration) }()
	}
	return nil
}

func (s *procSampler) end() {
	s.cpu1, _ = s.p.cpuTime()
	s.own1, _ = cpuTimeOf(os.Getpid())
	s.all, s.sends, s.perfOK = s.perf.stop()
	s.rss = s.p.rssMiB()
	if s.srv != nil && s.rtOK {
		s.rt1, s.rtOK = s.srv.runtimeStats()
	}
	if s.profErr != nil {
		// A profile is a bonus: the run goes on without it.
		if err := <-s.profErr; err != nil && s.log != nil {
			s.log("CPU profile: %v", err)
		}
	}
}

func (s *procSampler) fill(m *Measure, d time.Duration, packets uint64) {
	cpu := s.cpu1 - s.cpu0
	m.CPUCores = cpu.Seconds() / d.Seconds()
	m.CPUPerPacketUS, m.PacketsPerCoreS = -1, -1
	if packets > 0 {
		m.CPUPerPacketUS = float64(cpu.Microseconds()) / float64(packets)
		if cpu > 0 {
			m.PacketsPerCoreS = float64(packets) / cpu.Seconds()
		}
	}
	m.GeneratorCPUCores = (s.own1 - s.own0).Seconds() / d.Seconds()
	m.MemoryMiB = s.rss
	m.Goroutines, m.AllocsPerPacket, m.BytesPerPacket, m.GCShare = -1, -1, -1, -1
	if s.rtOK && packets > 0 {
		m.Goroutines = s.rt1.Goroutines
		m.AllocsPerPacket = float64(s.rt1.Mallocs-s.rt0.Mallocs) / float64(packets)
		m.BytesPerPacket = float64(s.rt1.TotalAlloc-s.rt0.TotalAlloc) / float64(packets)
		m.GCShare = s.gcShare(cpu)
	}
	m.SyscallsPerPkt, m.SendCallsPerPkt = -1, -1
	if s.perfOK && packets > 0 {
		m.SyscallsPerPkt = s.all / float64(packets)
		m.SendCallsPerPkt = s.sends / float64(packets)
	}
}

// gcShare is the share of the server's CPU time in the window that its
// garbage collector took. The runtime reports GC time only as a fraction
// of all CPU time available since the process started (GCCPUFraction),
// so the window's GC time is the difference of the two products.
func (s *procSampler) gcShare(cpu time.Duration) float64 {
	if cpu <= 0 || s.procs <= 0 {
		return -1
	}
	gc := func(st runtimeStats) float64 {
		return st.GCCPUFraction * st.at.Sub(s.p.started).Seconds() * float64(s.procs)
	}
	return min(max((gc(s.rt1)-gc(s.rt0))/cpu.Seconds(), 0), 1)
}

// sfuJoiner joins members to the server through the signaling protocol,
// as the browser page does.
type sfuJoiner struct {
	srv   *server
	api   *webrtc.API
	rooms []string
	l     *load
}

func (j *sfuJoiner) join(ctx context.Context, mem *member) error {
	mem.rx.start = time.Now()
	c, err := client.Dial(ctx, j.srv.wsURL(), j.api, mem.rx.onTrack)
	if err != nil {
		return err
	}
	mem.close = c.Close
	m, err := c.Join(ctx, j.rooms[mem.room], fmt.Sprintf("load %d.%d", mem.room, mem.index))
	if err != nil {
		if m.Code == signaling.CodeServerBusy {
			mem.refused = true
			return errRefused
		}
		return err
	}
	if !mem.publisher {
		return nil
	}
	s := j.l.senderFor(mem)
	video, audio, write, err := pionTracks(c.ID)
	if err != nil {
		return err
	}
	senders, err := c.Publish(ctx, video, audio)
	if err != nil {
		return err
	}
	kf := keyframeRequests(senders[0])
	_ = keyframeRequests(senders[1]) // drains the audio sender's RTCP
	go s.run(j.l.ctx, write, kf)
	return nil
}

// runSFU puts the configured load on the server and measures it.
func runSFU(ctx context.Context, cfg *Config, m *mediaSet, srv *server) (Measure, error) {
	meas := Measure{System: "sfu"}
	l := newLoad(cfg, m)
	l.toolProfile = cfg.ToolProfile
	defer l.closeAll()
	arr := &arrivals{w: &l.w}
	api, err := newPeerAPI(arr)
	if err != nil {
		return meas, err
	}
	for _, room := range l.rooms {
		for _, mem := range room {
			mem.rx.arr = arr
			if cfg.CountAtSocket {
				mem.rx.counting = l.tracks
			}
		}
	}
	j := &sfuJoiner{srv: srv, api: api, l: l}
	for range cfg.Rooms {
		id, err := srv.createRoom(ctx)
		if err != nil {
			return meas, err
		}
		j.rooms = append(j.rooms, id)
	}
	cfg.logf("sfu: joining %d participants at %.0f/s", cfg.Rooms*cfg.Participants, cfg.JoinRate)
	l.joinAll(ctx, j.join)
	cfg.logf("sfu: measuring %v", cfg.Duration)
	s := &procSampler{p: srv.process, srv: srv, profile: cfg.Profile, duration: cfg.Duration, log: cfg.Log, procs: cfg.serverProcs()}
	if err := l.measure(ctx, s, &meas); err != nil {
		return meas, err
	}
	return meas, nil
}
