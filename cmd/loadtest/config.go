package main

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// Config is one load run.
type Config struct {
	// Server is the videosupport binary; ServerArgs are added to the
	// flags the tool sets; ServerEnv to its environment.
	Server     string
	ServerArgs []string
	ServerEnv  []string
	// ServerCPUs pins the server and the relay to these CPUs (a taskset
	// list such as "1"), so that their CPU share is per core.
	ServerCPUs string

	Rooms        int           // calls
	Participants int           // per room
	Publishers   int           // per room; each sends VP8 and Opus
	JoinRate     float64       // joins per second, all rooms together
	Warmup       time.Duration // after the last join, before measuring
	Duration     time.Duration // measured window
	Bitrate      int           // video bits per second per publisher
	FPS          int           // video frames per second

	// Probes is how many times the idle publish-to-first-packet and
	// join-to-first-frame probes run, through the SFU and on a bare Pion
	// pair. 0 skips them.
	Probes int
	// CountAtSocket hands each received track, once its first keyframe
	// is whole, from the receiver's Pion to its socket, where the packets
	// are counted and timed without being decrypted (arrival.go): one
	// core of the tool then receives about twice as much.
	CountAtSocket bool
	// Relay runs the UDP relay baseline with the same load.
	Relay bool
	// MaxStreams is passed to the server's -max-streams (admission
	// control); 0 leaves the server unlimited.
	MaxStreams int
	// Profile, when set, is where a CPU profile of the server during the
	// measured window is written.
	Profile string
	// ToolProfile, when set, is where a CPU profile of the load tool
	// itself during the measured window is written (its receivers are
	// what limits the load one machine can drive).
	ToolProfile string
	// Verbose logs progress to Log.
	Log func(format string, args ...any)
}

// DefaultConfig is a small run: 4 calls of 2, both publishing.
func DefaultConfig() Config {
	return Config{
		Server:       "bin/videosupport",
		Rooms:        4,
		Participants: 2,
		Publishers:   2,
		JoinRate:     20,
		Warmup:       2 * time.Second,
		Duration:     10 * time.Second,
		Bitrate:      1_500_000,
		FPS:          30,
		Probes:       5,
		Relay:        true,
	}
}

func (c *Config) validate() error {
	switch {
	case c.Server == "":
		return errors.New("-server: the videosupport binary is needed")
	case c.Rooms < 1, c.Participants < 1:
		return errors.New("-rooms and -participants must be at least 1")
	case c.Publishers < 0 || c.Publishers > c.Participants:
		return fmt.Errorf("-publishers %d must be between 0 and -participants %d", c.Publishers, c.Participants)
	case c.JoinRate <= 0:
		return errors.New("-join-rate must be positive")
	case c.Duration < time.Second:
		return errors.New("-duration must be at least 1s")
	case c.Bitrate < 10_000 || c.FPS < 1 || c.FPS > 60:
		return errors.New("-bitrate must be at least 10000 and -fps between 1 and 60")
	}
	if c.ServerCPUs != "" {
		if _, err := parseCPUList(c.ServerCPUs); err != nil {
			return err
		}
	}
	return nil
}

// serverProcs is the server's GOMAXPROCS: the CPUs it is pinned to, or
// all of them.
func (c *Config) serverProcs() int {
	if cpus, err := parseCPUList(c.ServerCPUs); err == nil && c.ServerCPUs != "" {
		return len(cpus)
	}
	return runtime.NumCPU()
}

func (c *Config) logf(format string, args ...any) {
	if c.Log != nil {
		c.Log(format, args...)
	}
}

// lockedWriter keeps the first 64 KiB written to it, from any goroutine.
type lockedWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := 64<<10 - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
