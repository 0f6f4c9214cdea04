package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// parseCPUList reads a taskset list such as "1", "0-1" or "1,3".
func parseCPUList(s string) ([]int, error) {
	var cpus []int
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CPU list", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("%q is not a CPU list", s)
			}
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// pinTool keeps the load tool off the CPUs given to the server and the
// relay. Otherwise the kernel runs the generator's threads on the
// server's core too, and the server's CPU figure and its loss then
// depend on how busy the generator is. It returns how many CPUs the tool
// keeps.
func pinTool(serverCPUs string) (int, error) {
	server, err := parseCPUList(serverCPUs)
	if err != nil {
		return 0, err
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return 0, fmt.Errorf("read CPU affinity: %w", err)
	}
	for _, c := range server {
		set.Clear(c)
	}
	if set.Count() == 0 {
		return 0, errors.New("-server-cpus leaves no CPU for the load tool")
	}
	// Affinity is per thread, and a new thread inherits its creator's:
	// set it on every thread, twice, to catch one created meanwhile.
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return 0, err
		}
		for _, t := range tasks {
			if tid, err := strconv.Atoi(t.Name()); err == nil {
				if err := unix.SchedSetaffinity(tid, &set); err != nil {
					return 0, fmt.Errorf("pin the load tool: %w", err)
				}
			}
		}
	}
	runtime.GOMAXPROCS(set.Count())
	return set.Count(), nil
}
