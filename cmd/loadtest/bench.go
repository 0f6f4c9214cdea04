package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// benchMain runs the scenarios of docs/benchmarks.md: 1:1 calls, one
// publisher to 80 subscribers, ten rooms of one publisher to 40, and
// calls of 4 added until the server's
// CPU passes 80% of its core or loss passes 0.5%, then the same past a
// configured capacity (admission control). It writes every report as
// JSON, the sweep chart as SVG, and a Markdown summary (printed, and in
// summary.md).
func benchMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	base := DefaultConfig()
	base.ServerCPUs = "1"
	fs := flag.NewFlagSet("loadtest bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	flags(fs, &base)
	out := fs.String("out", "docs/bench", "directory for the JSON reports and the SVG chart")
	only := fs.String("only", "", "comma-separated scenarios to run: one-to-one, one-to-80, fan-out, sweep, admission (default all)")
	maxRooms := fs.Int("max-rooms", 40, "largest number of calls of 4 in the sweep")
	tries := fs.Int("tries", 3, "runs of a scenario while the load tool is the limit (a busy machine)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	base.Log = func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }
	if err := base.validate(); err != nil {
		return err
	}
	if err := pinIfAsked(&base); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	want := func(s string) bool { return *only == "" || strings.Contains(","+*only+",", ","+s+",") }
	var summary []*Report
	save := func(r *Report) error {
		r.writeTable(stderr)
		summary = append(summary, r)
		return writeJSON(filepath.Join(*out, r.Name+".json"), stdout, r)
	}
	if want("one-to-one") {
		cfg := base
		cfg.Rooms, cfg.Participants, cfg.Publishers = 10, 2, 2
		r, err := runTries(ctx, *tries, "one-to-one", cfg)
		if err != nil {
			return fmt.Errorf("one-to-one: %w", err)
		}
		if err := save(r); err != nil {
			return err
		}
	}
	if want("one-to-80") {
		cfg := base
		cfg.Rooms, cfg.Participants, cfg.Publishers = 1, 81, 1
		cfg.JoinRate = 40
		r, err := runTries(ctx, *tries, "one-to-80", cfg)
		if err != nil {
			return fmt.Errorf("one-to-80: %w", err)
		}
		if err := save(r); err != nil {
			return err
		}
	}
	if want("fan-out") {
		// Rooms of one publisher and 40 subscribers, about 88,000
		// forwarded packets/s: a load that one core of the tool sends
		// without bunching its publishers' frames.
		cfg := base
		cfg.Rooms, cfg.Participants, cfg.Publishers = 10, 41, 1
		cfg.JoinRate, cfg.Probes, cfg.CountAtSocket = 40, 0, true
		r, err := runTries(ctx, *tries, "fan-out", cfg)
		if err != nil {
			return fmt.Errorf("fan-out: %w", err)
		}
		if err := save(r); err != nil {
			return err
		}
	}
	var knee *Report
	if want("sweep") {
		var sweep []*Report
		for _, rooms := range sweepSteps(*maxRooms) {
			cfg := base
			cfg.Rooms, cfg.Participants, cfg.Publishers = rooms, 4, 4
			cfg.Probes = 0
			// Past 25,000 packets/s a load tool with Pion
			// receivers is the limit, not the server.
			cfg.CountAtSocket = true
			r, err := runTries(ctx, *tries, fmt.Sprintf("sweep-%02d", rooms), cfg)
			if err != nil {
				return fmt.Errorf("sweep at %d calls: %w", rooms, err)
			}
			if err := save(r); err != nil {
				return err
			}
			sweep = append(sweep, r)
			// Past the knee. A generator-limited step (flagged in
			// its report) goes on: the server may still keep up.
			if r.Server.CPUCores > 0.8 || r.Server.Loss > 0.005 {
				break
			}
			knee = r
		}
		if err := writeChartFile(filepath.Join(*out, "sweep.svg"), sweep); err != nil {
			return err
		}
	}
	if want("admission") {
		// Capacity set at three quarters of the last step that kept
		// CPU and loss in bounds (or 6 calls), as an operator leaves
		// headroom for the signaling, joins and refusals the sweep did
		// not have, then twice as many calls try to join.
		rooms := 6
		if knee != nil {
			rooms = max(knee.Rooms*3/4, 1)
		}
		cfg := base
		cfg.Rooms, cfg.Participants, cfg.Publishers = 2*rooms, 4, 4
		cfg.MaxStreams = rooms * 4 * 3 * 2 // each of 4 receives 3 others' audio and video
		cfg.Probes, cfg.Relay, cfg.CountAtSocket = 0, false, true
		// Slowly enough that the streams of each join are counted before
		// the next: the capacity is in forwarded streams, which exist
		// only once media flows.
		cfg.JoinRate = 4
		r, err := Run(ctx, "admission", cfg)
		if err != nil {
			return fmt.Errorf("admission: %w", err)
		}
		if err := save(r); err != nil {
			return err
		}
	}
	var md strings.Builder
	writeSummary(&md, summary)
	_, _ = io.WriteString(stdout, md.String())
	return os.WriteFile(filepath.Join(*out, "summary.md"), []byte(md.String()), 0o644)
}

// runTries runs a scenario until a run is not generator-limited, at most
// tries times, and returns the last run: on a machine shared with other
// work, a moment when the load tool gets its CPU is worth waiting for.
func runTries(ctx context.Context, tries int, name string, cfg Config) (*Report, error) {
	for i := 1; ; i++ {
		r, err := Run(ctx, name, cfg)
		if err != nil || !r.GeneratorLimited || i >= tries {
			if r != nil {
				r.Tries = i
			}
			return r, err
		}
		cfg.logf("%s: the load tool was the limit (machine load %.1f), again", name, r.LoadAvg[1])
	}
}

// chartMain redraws the sweep chart from the reports of a bench run.
func chartMain(dir string) error {
	paths, err := filepath.Glob(filepath.Join(dir, "sweep-*.json"))
	if err != nil {
		return err
	}
	var sweep []*Report
	for _, p := range paths { // sweep-NN sorts by load
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		r := &Report{}
		if err := json.Unmarshal(b, r); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		sweep = append(sweep, r)
	}
	if len(sweep) == 0 {
		return fmt.Errorf("no sweep-*.json in %s", dir)
	}
	return writeChartFile(filepath.Join(dir, "sweep.svg"), sweep)
}

// writeChartFile writes the sweep chart to path.
func writeChartFile(path string, sweep []*Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = writeSweepChart(f, "Calls of 4 on one core, 1.5 Mbit/s VP8 + Opus each", sweep)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// sweepSteps are the numbers of calls the sweep tries.
func sweepSteps(maxRooms int) []int {
	var s []int
	for _, n := range []int{1, 2, 4, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64} {
		if n <= maxRooms {
			s = append(s, n)
		}
	}
	return s
}

// writeSummary prints a Markdown table of the reports, for the doc.
func writeSummary(w io.Writer, rs []*Report) {
	fmt.Fprintf(w, "Measured %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintln(w, "| run | calls | fwd pkt/s | server CPU (cores) | µs CPU/pkt (SFU / relay) | ratio | loss % (SFU / relay) | latency p50/p99 ms (SFU / relay) | forwarding latency p50/p99 ms (SFU) | join→frame p50/p99 ms | allocs/pkt | syscalls/pkt (all / sends) | refused | machine load | tool-limited |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		relayCPU, relayLoss, relayLat := "-", "-", "-"
		if r.Relay != nil {
			relayCPU, relayLoss = f2(r.Relay.CPUPerPacketUS), pct(r.Relay.Loss, 2)
			relayLat = f2(r.Relay.LatencyP50MS) + "/" + f2(r.Relay.LatencyP99MS)
		}
		s := r.Server
		limited := "no"
		if r.GeneratorLimited {
			limited = "yes"
		}
		fmt.Fprintf(w, "| %s | %d×%d | %s | %s | %s / %s | %s | %s / %s | %s/%s / %s | %s/%s | %s/%s | %s | %s / %s | %d | %.0f-%.0f | %s |\n",
			r.Name, r.Rooms, r.Participants, f0(s.ForwardedPPS), f2(s.CPUCores), f2(s.CPUPerPacketUS), relayCPU,
			x(r.Ratios.CPUPerPacketVsRelay), pct(s.Loss, 2), relayLoss, f2(s.LatencyP50MS), f2(s.LatencyP99MS), relayLat,
			f2(s.ForwardingP50MS), f2(s.ForwardingP99MS), f0(s.JoinToFrameP50MS), f0(s.JoinToFrameP99MS), f2(s.AllocsPerPacket), f2(s.SyscallsPerPkt), f2(s.SendCallsPerPkt),
			s.JoinsRefused, r.LoadAvg[0], r.LoadAvg[1], limited)
	}
	for _, r := range rs {
		if p := r.Probes; p.N > 0 {
			fmt.Fprintf(w, "\n%s idle probes (p50 of %d): publish→first packet SFU %.0f ms vs pair %.0f ms (%s); join→first frame SFU %.0f ms vs pair %.0f ms (%s)\n",
				r.Name, p.N, p.SFUPublishToPacketP50, p.PairPublishToPacket, x(r.Ratios.PublishToPacketVsPair),
				p.SFUJoinToFrameP50, p.PairJoinToFrameP50, x(r.Ratios.JoinToFrameVsPair))
		}
	}
}
