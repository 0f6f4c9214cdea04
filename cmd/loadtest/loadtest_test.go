package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"videosupport/internal/testenv"
)

// TestMain lets the test binary be the relay baseline's child process, as
// the loadtest binary is.
func TestMain(m *testing.M) {
	if os.Getenv(relayRoleEnv) == "relay" {
		if err := relayMain(); err != nil {
			fmt.Fprintln(os.Stderr, "relay:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// buildServer builds the real videosupport binary for the run.
func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "videosupport")
	cmd := exec.Command("go", "build", "-o", bin, "../videosupport")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the server: %v\n%s", err, out)
	}
	return bin
}

// runSmoke runs a few seconds of light load (300 kbit/s video at 15 fps)
// on a freshly built server, with set changing the default run, and
// logs the report's table.
func runSmoke(t *testing.T, name string, set func(*Config)) *Report {
	t.Helper()
	if testing.Short() {
		testenv.Missing(t, "-short: this test builds and runs the server")
	}
	cfg := DefaultConfig()
	cfg.Server = buildServer(t)
	cfg.Bitrate, cfg.FPS = 300_000, 15
	cfg.Warmup, cfg.Duration = 300*time.Millisecond, 2*time.Second
	cfg.Log = t.Logf
	set(&cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	r, err := Run(ctx, name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	r.writeTable(&table)
	t.Log("\n" + table.String())
	return r
}

// TestSmoke is a few seconds of load on the real server and on the relay
// baseline: packets flow, none is lost on loopback, and the report has
// every field, with a value where one must have been measured.
func TestSmoke(t *testing.T) {
	r := runSmoke(t, "smoke", func(cfg *Config) {
		cfg.Rooms, cfg.Participants, cfg.Publishers = 2, 2, 2
		cfg.Probes = 1
	})

	for _, m := range []*Measure{&r.Server, r.Relay} {
		if m == nil {
			t.Fatal("no relay baseline in the report")
		}
		if m.ForwardedPPS < 50 {
			t.Errorf("%s forwarded %.0f packets/s, want the media of 4 publishers", m.System, m.ForwardedPPS)
		}
		if m.Loss != 0 {
			t.Errorf("%s lost %.3f%% of packets on loopback", m.System, m.Loss*100)
		}
		if m.CPUPerPacketUS <= 0 || m.LatencyP50MS < 0 || m.LatencyP99MS < m.LatencyP50MS || m.MemoryMiB <= 0 {
			t.Errorf("%s: CPU, latency or memory not measured: %+v", m.System, m)
		}
		if m.ForwardingP50MS < 0 || m.ForwardingP99MS < m.ForwardingP50MS || m.ForwardingP99MS > m.LatencyP99MS {
			t.Errorf("%s: forwarding latency p50 %.2f ms, p99 %.2f ms (to the track reader %.2f ms)", m.System, m.ForwardingP50MS, m.ForwardingP99MS, m.LatencyP99MS)
		}
		if m.JoinsFailed != 0 || m.JoinsRefused != 0 {
			t.Errorf("%s: %d joins failed, %d refused", m.System, m.JoinsFailed, m.JoinsRefused)
		}
	}
	if r.OfferedPPS <= 0 || r.LoadAvg[0] < 0 {
		t.Errorf("offered rate %.0f or machine load %v not measured", r.OfferedPPS, r.LoadAvg)
	}
	s := r.Server
	if s.Goroutines <= 0 || s.AllocsPerPacket < 0 || s.GCShare < 0 {
		t.Errorf("server runtime figures missing (debug handlers?): %+v", s)
	}
	if s.ForwardingP50MS >= s.LatencyP50MS {
		t.Errorf("SFU: forwarding latency p50 %.3f ms is not below the latency to the track reader, %.3f ms: the sockets noted no arrivals", s.ForwardingP50MS, s.LatencyP50MS)
	}
	if s.JoinsMeasured == 0 || s.JoinToFrameP50MS <= 0 {
		t.Errorf("no join-to-first-frame measured: %+v", s)
	}
	if p := r.Probes; p.SFUPublishToPacketP50 <= 0 || p.PairPublishToPacket <= 0 || p.SFUJoinToFrameP50 <= 0 || p.PairJoinToFrameP50 <= 0 {
		t.Errorf("probes missing: %+v", p)
	}

	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	checkFields(t, "", reflect.TypeFor[Report](), got)
}

// checkFields fails for every JSON field of typ missing from m.
func checkFields(t *testing.T, path string, typ reflect.Type, m map[string]any) {
	t.Helper()
	for f := range typ.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		v, ok := m[name]
		if !ok || v == nil {
			t.Errorf("report JSON lacks %s%s", path, name)
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			sub, ok := v.(map[string]any)
			if !ok {
				t.Errorf("%s%s is not an object", path, name)
				continue
			}
			checkFields(t, path+name+".", ft, sub)
		}
	}
}

// TestSmokeCountAtSocket is the same load with the receivers counting
// at their sockets: after the first keyframe most packets are counted
// there, none is lost, and each is still timed.
func TestSmokeCountAtSocket(t *testing.T) {
	r := runSmoke(t, "smoke-socket", func(cfg *Config) {
		cfg.Rooms, cfg.Participants, cfg.Publishers = 2, 3, 2
		cfg.Probes, cfg.Relay, cfg.CountAtSocket = 0, false, true
	})
	s := r.Server
	if s.ForwardedPPS < 50 || s.Loss != 0 {
		t.Errorf("forwarded %.0f packets/s and lost %.3f%%: want the media of 4 publishers, none lost", s.ForwardedPPS, s.Loss*100)
	}
	if s.CountedAtSocket < 0.9 {
		t.Errorf("%.0f%% of the packets were counted at the sockets, want nearly all of the window", s.CountedAtSocket*100)
	}
	if s.ForwardingP50MS <= 0 || s.ForwardingP99MS < s.ForwardingP50MS {
		t.Errorf("packets counted at the socket were not timed: forwarding latency p50 %.3f ms, p99 %.3f ms", s.ForwardingP50MS, s.ForwardingP99MS)
	}
}

// TestCountedHere feeds RTP headers of a track handed to the socket:
// sequence numbers map to packet numbers across a wrap, out of order and
// after a gap, and other datagrams pass on to Pion.
func TestCountedHere(t *testing.T) {
	w := &window{}
	w.start.Store(1)
	a := &arrivals{w: w}
	tx := &txTrack{}
	const ssrc = 0xdecafbad
	// The reader saw packet 100 with sequence number 65530.
	st := a.countAtSocket(ssrc, 65530, 100, tx)
	rtpHeader := func(seq uint16, ssrc uint32) []byte {
		p := make([]byte, 40)
		p[0], p[1] = 0x80, 96
		binary.BigEndian.PutUint16(p[2:], seq)
		binary.BigEndian.PutUint32(p[8:], ssrc)
		return p
	}
	now := time.Now().UnixNano()
	counted := func(p []byte) bool { // as the socket's read loop decides
		ssrc, seq, ok := rtpIDs(p)
		return ok && a.countedHere(ssrc, seq, now)
	}
	for _, c := range []uint32{101, 102, 104, 103, 120, 105} {
		tx.sending(c, now-int64(time.Millisecond))
		if !counted(rtpHeader(uint16(65530+c-100), ssrc)) {
			t.Fatalf("packet %d was not counted at the socket", c)
		}
	}
	if counted(rtpHeader(7, ssrc+1)) {
		t.Error("a packet of another SSRC was counted")
	}
	rtcp := rtpHeader(0, ssrc)
	rtcp[1] = 200 // sender report
	if counted(rtcp) {
		t.Error("an RTCP packet was counted")
	}
	if n := st.rx.countIn(101, 106); n != 5 {
		t.Errorf("packets 101-105: %d counted, want 5", n)
	}
	if !st.rx.has(120) || st.rx.has(119) {
		t.Error("packet 120 after a gap: not where it belongs")
	}
	if st.rx.wire.n != 6 || st.rx.wire.quantile(0.5) < 0.9 || st.rx.wire.quantile(0.5) > 1.1 {
		t.Errorf("%d packets timed, p50 %.2f ms; want 6 at 1 ms", st.rx.wire.n, st.rx.wire.quantile(0.5))
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct{ q, want float64 }{{0.5, 500}, {0.99, 990}} {
		if got := h.quantile(c.q); got < c.want*0.95 || got > c.want*1.01 {
			t.Errorf("q%.2f = %.1f ms, want about %.0f", c.q, got, c.want)
		}
	}
	for us := uint64(0); us < 1<<20; us = us*9/8 + 1 {
		if lb := lowerBound(bucketOf(us)); lb > us || (us >= 32 && float64(us-lb) > 0.07*float64(us)) {
			t.Fatalf("%d us falls in a bucket starting at %d", us, lb)
		}
	}
}

func TestTrailer(t *testing.T) {
	p := make([]byte, 40)
	putTrailer(p, 7, 123456, 987654321)
	key, c, sent, ok := readTrailer(p)
	if !ok || key != 7 || c != 123456 || sent != 987654321 {
		t.Errorf("trailer read back as %d %d %d %v", key, c, sent, ok)
	}
	if _, _, _, ok := readTrailer(make([]byte, 40)); ok {
		t.Error("a payload without the magic has a trailer")
	}
}
