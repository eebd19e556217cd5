package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/seedlog/seedlog/sim"
	"github.com/seedlog/seedlog/sweep"
	"github.com/seedlog/seedlog/traces"
)

// The default bounds of a shrink: a few minutes on a 2-core machine at most.
const (
	defaultShrinkReplays = 1000
	defaultShrinkTime    = 5 * time.Minute
)

func simShrinkCommand(args []string) int {
	fs := flag.NewFlagSet("sim shrink", flag.ContinueOnError)
	out := fs.String("o", "", "the scenario file to write (default: beside the trace, NAME.scenario)")
	maxReplays := fs.Int("max-replays", defaultShrinkReplays, "stop after this many replays (0: no bound)")
	maxTime := fs.Duration("max-time", defaultShrinkTime, "stop after this much wall time (0: no bound)")
	jobs := fs.Int("jobs", runtime.NumCPU(), "replays at once")
	quiet := fs.Bool("q", false, "do not print progress")
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return flagHelp(fs, "seedlog sim shrink TRACE [-o FILE] [--max-replays N] [--max-time D] [--jobs J]")
	}
	if err != nil {
		return usageError("%v; see seedlog sim shrink -h", err)
	}
	if len(pos) != 1 {
		return usageError("sim shrink: want one failing TRACE, e.g. seedlog sim shrink sim-out/seed-7.trace")
	}
	if *jobs <= 0 || *maxReplays < 0 || *maxTime < 0 {
		return usageError("sim shrink: --jobs must be at least 1, --max-replays and --max-time not negative")
	}
	path := pos[0]
	t, err := traces.ReadFile(path)
	if err != nil {
		return problem("sim shrink: %v", err)
	}
	h := &t.Header
	switch {
	case h.Checker == "":
		return problem("sim shrink: %s is the trace of a passing run: nothing to shrink", path)
	case h.Schedule == "":
		return problem("sim shrink: %s holds no schedule (a trace written before schedules were recorded; run the seed again)", path)
	case fmt.Sprint(h.BuildTags) != fmt.Sprint(sim.BuildTags()):
		return problem("sim shrink: the trace was recorded with build tags %v, this binary has %v", h.BuildTags, sim.BuildTags())
	}
	sc, err := sim.ParseScenario(h.Schedule)
	if err != nil {
		return problem("sim shrink: the trace's schedule: %v", err)
	}
	tuneGC()
	base := sc.Options(simBase)
	faults, ops := sc.Schedule.Counts()
	bounds := []string{"no bound on replays", "no time limit"}
	if *maxReplays > 0 {
		bounds[0] = fmt.Sprintf("at most %d replays", *maxReplays)
	}
	if *maxTime > 0 {
		bounds[1] = fmt.Sprintf("at most %v", *maxTime)
	}
	fmt.Printf("shrinking seed %d (%s): %d faults, %d client operations; %s, %s, %d at once\n",
		sc.Seed, h.Checker, faults, ops, bounds[0], bounds[1], *jobs)
	cfg := sweep.ShrinkConfig{
		Base:       base,
		Schedule:   sc.Schedule,
		Checker:    h.Checker,
		Jobs:       *jobs,
		MaxReplays: *maxReplays,
		MaxTime:    *maxTime,
	}
	if !*quiet {
		last := ""
		cfg.Progress = func(p sweep.ShrinkProgress) {
			line := fmt.Sprintf("%d faults, %d client operations", p.Faults, p.Ops)
			if line == last && p.Stage != "done" {
				return
			}
			last = line
			fmt.Printf("  %6.1fs  %4d replays  %-28s %s\n", p.Wall.Seconds(), p.Replays, p.Stage, line)
		}
	}
	res, err := sweep.Shrink(cfg)
	if err != nil {
		return problem("sim shrink: %v", err)
	}
	after := sc.Schedule
	after.Steps = res.Schedule.Steps
	f2, o2 := after.Counts()
	fmt.Printf("shrunk in %d replays, %v: %d -> %d faults, %d -> %d client operations\n",
		res.Replays, res.Wall.Round(time.Millisecond), faults, f2, ops, o2)
	if res.Stopped != "" {
		fmt.Printf("stopped early at %s: the schedule may shrink further (run seedlog sim shrink on the new trace)\n", res.Stopped)
	}

	// Replay the result with its trace kept, for the file's comments and the trace.
	opts := base
	opts.Schedule = &after
	opts.KeepTrace = true
	r := sim.Run(opts)
	if r.Failure == nil || r.Failure.Checker != h.Checker {
		return problem("sim shrink: the shrunk schedule did not fail %s again (nondeterminism?)", h.Checker)
	}
	fmt.Printf("it fails %s\n", firstLine(r.Failure.Error()))
	shrunk := r.Scenario()
	shrunk.Comments = append([]string{
		fmt.Sprintf("Shrunk by seedlog sim shrink from %s (%d faults, %d client operations)", path, faults, ops),
		fmt.Sprintf("to %d faults and %d client operations in %d replays, %v.", f2, o2, res.Replays, res.Wall.Round(time.Millisecond)),
		"Every step left is needed: without any one of them the run no longer fails " + h.Checker + ".",
	}, shrunk.Comments...)
	if res.Stopped != "" {
		shrunk.Comments[2] = "The search stopped early (" + res.Stopped + "): some steps may not be needed."
	}
	shrunk.Notes = clientNotes(&after, r.Clients)
	file := *out
	if file == "" {
		base := filepath.Base(path)
		file = filepath.Join(filepath.Dir(path), strings.TrimSuffix(base, filepath.Ext(base))+".scenario")
	}
	if err := os.WriteFile(file, []byte(shrunk.String()), 0o644); err != nil {
		return problem("sim shrink: %v", err)
	}
	tracePath := strings.TrimSuffix(file, filepath.Ext(file)) + ".scenario.trace"
	if err := r.Trace.WriteFile(tracePath); err != nil {
		return problem("sim shrink: %v", err)
	}
	fmt.Printf("scenario: %s (seedlog sim run --scenario %s)\n", file, file)
	fmt.Printf("trace: %s (seedlog trace html %s -o shrunk.html marks the scenario's steps)\n", tracePath, tracePath)
	return exitOK
}

// firstLine returns s up to its first newline.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// clientNotes says, for each client step, what its client is.
func clientNotes(s *sim.Schedule, clients []string) map[int]string {
	notes := map[int]string{}
	for i, st := range s.Steps {
		if !st.Kind.IsFault() && int(st.Client) <= len(clients) && st.Client > 0 {
			notes[i] = clients[st.Client-1]
		}
	}
	return notes
}
