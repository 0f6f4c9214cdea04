package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Measure is what one system (our SFU, or the relay baseline) did under
// the load of a run. Every field is always present in the JSON; -1 means
// "not measured" (no samples, or no debug handlers, or no perf).
type Measure struct {
	System string `json:"system"`
	// Forwarded packets per second counted at the receivers.
	ForwardedPPS float64 `json:"forwarded_pps"`
	// CountedAtSocket is the share of the received packets that the
	// receivers counted at their sockets without decrypting them
	// (-count-at-socket, arrival.go); for those, the latency "to the
	// track reader" below is to the tool's socket read.
	CountedAtSocket float64 `json:"counted_at_socket"`
	// Packets the senders sent per second, and the rate the publishers
	// that joined (not refused) were set to send.
	SentPPS    float64 `json:"sent_pps"`
	OfferedPPS float64 `json:"offered_pps"`
	// CPU used by the process, in cores (1 = one core busy all the
	// time), and per forwarded packet.
	CPUCores        float64 `json:"cpu_cores"`
	CPUPerPacketUS  float64 `json:"cpu_per_packet_us"`
	PacketsPerCoreS float64 `json:"packets_per_core_second"`
	Loss            float64 `json:"loss"` // fraction of expected packets missing
	// Latency from the sender to the receiving track reader, after the
	// receiver's own Pion has decrypted the packet: it holds the load
	// tool's queueing too.
	LatencyP50MS float64 `json:"latency_p50_ms"`
	LatencyP95MS float64 `json:"latency_p95_ms"`
	LatencyP99MS float64 `json:"latency_p99_ms"`
	// Forwarding latency: from the sender to the receiver's socket (see
	// arrival.go); the relay's receivers read plain sockets, so for it
	// this is the same as the latency above.
	ForwardingP50MS  float64 `json:"forwarding_latency_p50_ms"`
	ForwardingP95MS  float64 `json:"forwarding_latency_p95_ms"`
	ForwardingP99MS  float64 `json:"forwarding_latency_p99_ms"`
	JoinToFrameP50MS float64 `json:"join_to_first_frame_p50_ms"`
	JoinToFrameP99MS float64 `json:"join_to_first_frame_p99_ms"`
	JoinsMeasured    int     `json:"joins_measured"`
	JoinsRefused     int     `json:"joins_refused"`
	JoinsFailed      int     `json:"joins_failed"`
	MemoryMiB        float64 `json:"memory_rss_mib"`
	Goroutines       int     `json:"goroutines"`
	AllocsPerPacket  float64 `json:"allocs_per_packet"`
	BytesPerPacket   float64 `json:"alloc_bytes_per_packet"`
	GCShare          float64 `json:"gc_cpu_share"` // of the process's CPU in the window
	SyscallsPerPkt   float64 `json:"syscalls_per_packet"`
	SendCallsPerPkt  float64 `json:"send_syscalls_per_packet"`
	// CPU of the load tool itself: near its share of the machine, its
	// own slowness shows as loss and latency that are not the server's.
	GeneratorCPUCores float64 `json:"generator_cpu_cores"`
}

// Probes are the idle latency probes through the SFU and on a bare Pion
// pair, in milliseconds.
type Probes struct {
	N                     int     `json:"n"`
	SFUPublishToPacketP50 float64 `json:"sfu_publish_to_first_packet_p50_ms"`
	SFUJoinToFrameP50     float64 `json:"sfu_join_to_first_frame_p50_ms"`
	PairPublishToPacket   float64 `json:"pair_publish_to_first_packet_p50_ms"`
	PairJoinToFrameP50    float64 `json:"pair_join_to_first_frame_p50_ms"`
}

// Ratios compare our SFU with the baselines of the same run; -1 when a
// side is missing.
type Ratios struct {
	CPUPerPacketVsRelay      float64 `json:"cpu_per_packet_vs_relay"`
	PublishToPacketVsPair    float64 `json:"publish_to_first_packet_vs_pair"`
	JoinToFrameVsPair        float64 `json:"join_to_first_frame_vs_pair"`
	LatencyP99VsRelay        float64 `json:"latency_p99_vs_relay"`
	ForwardingP99VsRelay     float64 `json:"forwarding_latency_p99_vs_relay"`
	PacketsPerCoreAt80PctCPU float64 `json:"packets_per_core_at_80pct_cpu"`
}

// Report is one run.
type Report struct {
	Name         string  `json:"name"`
	Rooms        int     `json:"rooms"`
	Participants int     `json:"participants"`
	Publishers   int     `json:"publishers"`
	BitrateBPS   int     `json:"bitrate_bps"`
	FPS          int     `json:"fps"`
	DurationS    float64 `json:"duration_s"`
	ServerCPUs   string  `json:"server_cpus"`
	// LoadAvg is the machine's 1-minute load average at the start and
	// the end of the run: other work on the machine skews every figure,
	// the ratios least.
	LoadAvg [2]float64 `json:"machine_load_avg"`
	// OfferedPPS is the packet rate all publishers were set to send,
	// refused ones included.
	OfferedPPS float64 `json:"offered_pps"`
	// GeneratorLimited says the load tool, not the server, was the
	// limit: it sent less than 90% of the offered rate, or the relay
	// baseline lost more than 0.5%. Such a run says little about the
	// server beyond its ratios.
	GeneratorLimited bool `json:"generator_limited"`
	// Tries is how many runs it took to get one that was not
	// generator-limited (bench only; 1 for a single run).
	Tries  int      `json:"tries"`
	Server Measure  `json:"server"`
	Relay  *Measure `json:"relay"`
	Probes Probes   `json:"probes"`
	Ratios Ratios   `json:"ratios"`
}

func ratio(a, b float64) float64 {
	if a < 0 || b <= 0 {
		return -1
	}
	return a / b
}

// checkGenerator sets GeneratorLimited.
func (r *Report) checkGenerator() {
	short := func(m *Measure) bool { return m.SentPPS < 0.9*m.OfferedPPS }
	r.GeneratorLimited = short(&r.Server) || (r.Relay != nil && (short(r.Relay) || r.Relay.Loss > 0.005))
}

func (r *Report) computeRatios() {
	r.Ratios = Ratios{CPUPerPacketVsRelay: -1, LatencyP99VsRelay: -1, ForwardingP99VsRelay: -1, PacketsPerCoreAt80PctCPU: -1}
	if r.Relay != nil {
		r.Ratios.CPUPerPacketVsRelay = ratio(r.Server.CPUPerPacketUS, r.Relay.CPUPerPacketUS)
		r.Ratios.LatencyP99VsRelay = ratio(r.Server.LatencyP99MS, r.Relay.LatencyP99MS)
		r.Ratios.ForwardingP99VsRelay = ratio(r.Server.ForwardingP99MS, r.Relay.ForwardingP99MS)
	}
	r.Ratios.PublishToPacketVsPair = ratio(r.Probes.SFUPublishToPacketP50, r.Probes.PairPublishToPacket)
	r.Ratios.JoinToFrameVsPair = ratio(r.Probes.SFUJoinToFrameP50, r.Probes.PairJoinToFrameP50)
	if r.Server.CPUPerPacketUS > 0 {
		r.Ratios.PacketsPerCoreAt80PctCPU = 0.8e6 / r.Server.CPUPerPacketUS
	}
}

// writeTable prints the report for people.
func (r *Report) writeTable(w io.Writer) {
	fmt.Fprintf(w, "%s: %d rooms x %d participants (%d publishing), %.1f Mbit/s VP8 at %d fps + Opus, %.0fs measured, machine load %.1f -> %.1f\n",
		r.Name, r.Rooms, r.Participants, r.Publishers, float64(r.BitrateBPS)/1e6, r.FPS, r.DurationS, r.LoadAvg[0], r.LoadAvg[1])
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	ms := []*Measure{&r.Server}
	if r.Relay != nil {
		ms = append(ms, r.Relay)
	}
	head := []string{"", "fwd pkt/s", "CPU cores", "us CPU/pkt", "loss %", "lat p50 ms", "p95", "p99", "fwd lat p50", "p99",
		"join->frame p50", "p99", "RSS MiB", "goroutines", "allocs/pkt", "B/pkt", "GC %", "syscalls/pkt", "sends/pkt", "tool CPU"}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, m := range ms {
		row := []string{m.System, f0(m.ForwardedPPS), f2(m.CPUCores), f2(m.CPUPerPacketUS), pct(m.Loss, 3),
			f2(m.LatencyP50MS), f2(m.LatencyP95MS), f2(m.LatencyP99MS), f2(m.ForwardingP50MS), f2(m.ForwardingP99MS),
			f0(m.JoinToFrameP50MS), f0(m.JoinToFrameP99MS),
			f0(m.MemoryMiB), fmt.Sprint(m.Goroutines), f2(m.AllocsPerPacket), f0(m.BytesPerPacket), pct(m.GCShare, 1),
			f2(m.SyscallsPerPkt), f2(m.SendCallsPerPkt), f2(m.GeneratorCPUCores)}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	_ = tw.Flush()
	if r.GeneratorLimited {
		fmt.Fprintf(w, "generator-limited: the load tool sent %.0f of %.0f packets/s or the relay lost packets; the machine was too busy for this load\n", r.Server.SentPPS, r.Server.OfferedPPS)
	}
	if r.Server.JoinsRefused > 0 || r.Server.JoinsFailed > 0 {
		fmt.Fprintf(w, "joins refused (server_busy): %d, failed: %d\n", r.Server.JoinsRefused, r.Server.JoinsFailed)
	}
	p := r.Probes
	if p.N > 0 {
		fmt.Fprintf(w, "idle probes (p50 of %d): publish->first packet SFU %.0f ms, pair %.0f ms; join->first frame SFU %.0f ms, pair %.0f ms\n",
			p.N, p.SFUPublishToPacketP50, p.PairPublishToPacket, p.SFUJoinToFrameP50, p.PairJoinToFrameP50)
	}
	q := r.Ratios
	fmt.Fprintf(w, "ratios: CPU/pkt vs relay %s, p99 latency vs relay %s (forwarding %s), publish->packet vs pair %s, join->frame vs pair %s; %s pkt/s per core at 80%% CPU\n",
		x(q.CPUPerPacketVsRelay), x(q.LatencyP99VsRelay), x(q.ForwardingP99VsRelay), x(q.PublishToPacketVsPair), x(q.JoinToFrameVsPair), f0(q.PacketsPerCoreAt80PctCPU))
}

func f0(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}

func f2(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

func pct(v float64, prec int) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.*f", prec, v*100)
}

func x(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", v)
}
