package main

import (
	"context"
	"fmt"
)

// Run measures one load on a fresh server, then, with the same load, the
// baselines, and returns the report with its ratios.
func Run(ctx context.Context, name string, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m, err := newMediaSet(cfg.Bitrate, cfg.FPS)
	if err != nil {
		return nil, err
	}
	r := &Report{
		Name: name, Tries: 1, Rooms: cfg.Rooms, Participants: cfg.Participants, Publishers: cfg.Publishers,
		BitrateBPS: cfg.Bitrate, FPS: cfg.FPS, DurationS: cfg.Duration.Seconds(), ServerCPUs: cfg.ServerCPUs,
		Probes: Probes{SFUPublishToPacketP50: -1, SFUJoinToFrameP50: -1, PairPublishToPacket: -1, PairJoinToFrameP50: -1},
	}
	r.LoadAvg[0] = loadAvg()
	defer func() { r.LoadAvg[1] = loadAvg() }()
	srv, err := startServer(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	if cfg.Probes > 0 {
		cfg.logf("probes: %d rounds through the SFU and on a bare pair", cfg.Probes)
		// Alternate, so that a slow moment of the machine hits both.
		sp, pp := &probeResult{}, &probeResult{}
		for range cfg.Probes {
			s, err := probeSFU(ctx, srv, m, 1)
			if err != nil {
				return nil, fmt.Errorf("SFU probe: %w", err)
			}
			p, err := probePair(ctx, m, 1)
			if err != nil {
				return nil, fmt.Errorf("pair probe: %w", err)
			}
			sp.publishToPacket.add(msDuration(s.publishToPacket.quantile(0.5)))
			sp.joinToFrame.add(msDuration(s.joinToFrame.quantile(0.5)))
			pp.publishToPacket.add(msDuration(p.publishToPacket.quantile(0.5)))
			pp.joinToFrame.add(msDuration(p.joinToFrame.quantile(0.5)))
		}
		r.Probes = Probes{
			N:                     cfg.Probes,
			SFUPublishToPacketP50: sp.publishToPacket.quantile(0.5),
			SFUJoinToFrameP50:     sp.joinToFrame.quantile(0.5),
			PairPublishToPacket:   pp.publishToPacket.quantile(0.5),
			PairJoinToFrameP50:    pp.joinToFrame.quantile(0.5),
		}
	}
	if r.Server, err = runSFU(ctx, &cfg, m, srv); err != nil {
		return nil, fmt.Errorf("SFU run: %w", err)
	}
	srv.stop()
	if cfg.Relay {
		relay, err := runRelay(ctx, &cfg, m)
		if err != nil {
			return nil, fmt.Errorf("relay run: %w", err)
		}
		r.Relay = &relay
	}
	r.OfferedPPS = float64(cfg.Rooms*cfg.Publishers) * m.packetsPerSecond()
	r.checkGenerator()
	r.computeRatios()
	return r, nil
}
