// Command loadtest measures the videosupport SFU. It starts the real
// server binary, joins synthetic participants (Pion peers speaking the
// signaling protocol) that publish VP8 and Opus at realistic sizes and
// rates with a send timestamp in every payload, and reports forwarded
// packets per second, the server's CPU per forwarded packet (from /proc),
// loss, latency, join-to-first-frame, memory, goroutines, allocations,
// GC share and system calls. The same load then runs through a plain UDP
// relay, and idle probes run on a bare Pion pair: every figure is also
// given as a ratio against these baselines, measured in the same run,
// because on a busy machine only ratios mean anything.
//
//	loadtest [flags]            one run, table on stderr, -json for the report
//	loadtest bench [flags]      the scenarios of docs/benchmarks.md and the sweep chart
//	loadtest chart DIR          redraw DIR/sweep.svg from DIR/sweep-*.json
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if os.Getenv(relayRoleEnv) == "relay" {
		if err := relayMain(); err != nil {
			fmt.Fprintln(os.Stderr, "relay:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "bench":
		err = benchMain(ctx, os.Args[2:], os.Stdout, os.Stderr)
	case len(os.Args) > 2 && os.Args[1] == "chart":
		err = chartMain(os.Args[2])
	default:
		err = runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// flags binds the load flags to cfg.
func flags(fs *flag.FlagSet, cfg *Config) {
	fs.StringVar(&cfg.Server, "server", cfg.Server, "videosupport binary to run (make build)")
	fs.StringVar(&cfg.ServerCPUs, "server-cpus", cfg.ServerCPUs, "pin the server and the relay to these CPUs (taskset list), e.g. 1")
	fs.IntVar(&cfg.Rooms, "rooms", cfg.Rooms, "calls")
	fs.IntVar(&cfg.Participants, "participants", cfg.Participants, "participants per call")
	fs.IntVar(&cfg.Publishers, "publishers", cfg.Publishers, "publishers per call (VP8 + Opus each)")
	fs.Float64Var(&cfg.JoinRate, "join-rate", cfg.JoinRate, "joins per second, all calls together")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "time after the last join before measuring")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "measured time")
	fs.IntVar(&cfg.Bitrate, "bitrate", cfg.Bitrate, "video bits per second per publisher")
	fs.IntVar(&cfg.FPS, "fps", cfg.FPS, "video frames per second")
	fs.IntVar(&cfg.Probes, "probes", cfg.Probes, "idle publish/join probes through the SFU and on a bare Pion pair (0: none)")
	fs.BoolVar(&cfg.CountAtSocket, "count-at-socket", cfg.CountAtSocket, "count received media at the participants' sockets once each track's first keyframe is whole, without decrypting it (receives more per core; no receiver reports or NACKs after that)")
	fs.BoolVar(&cfg.Relay, "relay", cfg.Relay, "also run the UDP relay baseline with the same load")
	fs.IntVar(&cfg.MaxStreams, "max-streams", cfg.MaxStreams, "server capacity in forwarded streams (admission control; 0: none)")
	fs.StringVar(&cfg.Profile, "cpuprofile", cfg.Profile, "write a CPU profile of the server during the measured time here")
	fs.StringVar(&cfg.ToolProfile, "tool-cpuprofile", cfg.ToolProfile, "write a CPU profile of the load tool during the measured time here")
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	flags(fs, &cfg)
	jsonOut := fs.String("json", "", `write the report as JSON to this file ("-": stdout)`)
	name := fs.String("name", "run", "name of the run in the report")
	quiet := fs.Bool("q", false, "no progress on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !*quiet {
		cfg.Log = func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	if err := pinIfAsked(&cfg); err != nil {
		return err
	}
	r, err := Run(ctx, *name, cfg)
	if err != nil {
		return err
	}
	r.writeTable(stderr)
	return writeJSON(*jsonOut, stdout, r)
}

func writeJSON(path string, stdout io.Writer, v any) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// pinIfAsked moves the load tool off the server's CPUs when the server
// is pinned.
func pinIfAsked(cfg *Config) error {
	if cfg.ServerCPUs == "" {
		return nil
	}
	n, err := pinTool(cfg.ServerCPUs)
	if err != nil {
		return err
	}
	cfg.logf("server and relay on CPUs %s, load tool on the other %d", cfg.ServerCPUs, n)
	return nil
}
