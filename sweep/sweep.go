// Package sweep runs many simulation seeds in parallel. Each seed's run is one
// single-threaded, deterministic sim.Run; parallelism only decides which seeds run at the
// same time, so per-seed results (fingerprints above all) are the same whatever the number
// of jobs, and results are always reported in seed order. Shrink minimizes a failing
// run's schedule the same way: its replays run in parallel, each one deterministic, and
// its answer does not depend on the number of jobs.
//
// A sweep may also be cut into shards (Config.Shard), disjoint parts of its seed range
// that several machines run: each writes a result file (WriteResultFile) and Merge joins
// them into one summary, checking that every seed ran in exactly one shard.
package sweep

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/seedlog/seedlog/sim"
	"github.com/seedlog/seedlog/traces"
)

// Config describes a sweep.
type Config struct {
	// Base is the options of every run; Seed is set per run.
	Base sim.Options
	// Seeds is how many seeds the sweep has, from Start.
	Seeds int
	Start uint64
	// Shard, when set, runs only that part of the seeds (see Shard.Range).
	Shard Shard
	// Jobs is the number of runs at once (at least 1).
	Jobs int
	// OutDir, when set, receives a trace file for every failing seed (the seed is run
	// again with its trace kept, which also checks that it reproduces).
	OutDir string
	// StopAtFirstFailure ends the sweep at the lowest failing seed: seeds above it are
	// skipped, seeds below it all run, so the answer does not depend on Jobs.
	StopAtFirstFailure bool
	// StopWhen, when set, ends the sweep at the lowest seed it accepts, like
	// StopAtFirstFailure (which it replaces): seeds above it are skipped. It is called
	// once per seed, from several goroutines at once.
	StopWhen func(Seed) bool
	// Progress, when set, is called after each seed completes (from one goroutine at a
	// time).
	Progress func(done, total, failed int)
}

// Seed is the outcome of one seed.
type Seed struct {
	Seed        uint64
	Fingerprint uint64
	Events      int64
	Virtual     time.Duration
	Wall        time.Duration
	Ops         int
	Failure     *sim.Failure
	Unknown     []string
	// Allowed lists what the configuration allowed to go wrong (log.flush=async losing
	// acknowledged records).
	Allowed []string
	Config  string
	// Failovers are the seed's failover times (sim.Result.Failovers).
	Failovers []sim.Failover
	// TracePath is where the failing seed's trace was written.
	TracePath string
	// TraceError says why a trace could not be written or did not reproduce.
	TraceError string
}

// Summary is the outcome of a sweep, seeds in order.
type Summary struct {
	Seeds    []Seed
	Coverage sim.Coverage
	// SeedsWith counts, per coverage counter, the seeds in which it was non-zero.
	SeedsWith sim.Coverage
	Wall      time.Duration
	Skipped   int // seeds not run because an earlier one failed (StopAtFirstFailure)
	// FlushAsync is set when the sweep ran with log.flush=async, which allows losses.
	FlushAsync bool
	// Start and Total describe the whole sweep's seeds; Shard is the part of them this
	// summary covers (the zero Shard for all of them).
	Start uint64
	Total int
	Shard Shard
	// Jobs, Plants and Byzantine are the sweep's settings.
	Jobs      int
	Plants    []string
	Byzantine bool
	// Duration is the safety phase's length every seed ran with (0: each seed's draw).
	Duration time.Duration
}

// Failed returns the failing seeds, in order.
func (s *Summary) Failed() []Seed {
	var out []Seed
	for _, r := range s.Seeds {
		if r.Failure != nil {
			out = append(out, r)
		}
	}
	return out
}

// Unknown counts the checks that ran out of time, over all seeds.
func (s *Summary) Unknown() int {
	n := 0
	for _, r := range s.Seeds {
		n += len(r.Unknown)
	}
	return n
}

// Run runs the sweep.
func Run(cfg Config) Summary {
	start := time.Now()
	jobs := max(cfg.Jobs, 1)
	first, n := cfg.Shard.Range(cfg.Start, cfg.Seeds)
	stop := cfg.StopWhen
	if stop == nil && cfg.StopAtFirstFailure {
		stop = func(s Seed) bool { return s.Failure != nil }
	}
	results := make([]*Seed, n)
	coverage := make([]sim.Coverage, n)

	var mu sync.Mutex
	limit := n // seeds at index >= limit are skipped
	done, failed := 0, 0
	next := 0
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next >= limit {
			return 0, false
		}
		i := next
		next++
		return i, true
	}
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i, ok := take()
				if !ok {
					return
				}
				r, cov := runSeed(cfg, first+uint64(i))
				stopHere := stop != nil && stop(*r)
				mu.Lock()
				results[i], coverage[i] = r, cov
				done++
				if r.Failure != nil {
					failed++
				}
				if stopHere && i < limit {
					limit = i + 1
				}
				if cfg.Progress != nil {
					cfg.Progress(done, n, failed)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	s := Summary{Coverage: sim.Coverage{}, SeedsWith: sim.Coverage{}, Wall: time.Since(start), FlushAsync: cfg.Base.FlushAsync,
		Start: cfg.Start, Total: max(cfg.Seeds, 0), Shard: cfg.Shard.norm(), Jobs: jobs,
		Plants: cfg.Base.Plants, Byzantine: cfg.Base.Byzantine, Duration: cfg.Base.Duration}
	for i := range results {
		if results[i] == nil || i >= limit {
			s.Skipped++
			continue
		}
		s.Seeds = append(s.Seeds, *results[i])
		s.Coverage.Merge(coverage[i])
		s.SeedsWith.Merge(seedsWith(coverage[i]))
	}
	if cfg.OutDir != "" {
		for i := range s.Seeds {
			// A run that could not start has nothing to trace.
			if f := s.Seeds[i].Failure; f != nil && f.Checker != "setup" {
				writeTrace(cfg, &s.Seeds[i])
			}
		}
	}
	return s
}

// runSeed runs one seed.
func runSeed(cfg Config, seed uint64) (*Seed, sim.Coverage) {
	opts := cfg.Base
	opts.Seed = seed
	opts.KeepTrace = false
	opts.Log = nil
	start := time.Now()
	r := safeRun(opts)
	return &Seed{
		Seed:        seed,
		Fingerprint: r.Fingerprint,
		Events:      r.Events,
		Virtual:     r.VirtualEnd,
		Wall:        time.Since(start),
		Ops:         len(r.History.Ops),
		Failure:     r.Failure,
		Unknown:     r.Unknown,
		Allowed:     r.Allowed,
		Config:      r.Config.String(),
		Failovers:   r.Failovers,
	}, r.Coverage
}

// safeRun runs a seed; a panic outside the simulation loop (in a checker, say) fails the
// seed instead of the sweep.
func safeRun(opts sim.Options) (r sim.Result) {
	defer func() {
		if p := recover(); p != nil {
			r = sim.Result{Seed: opts.Seed, Coverage: sim.Coverage{},
				Failure: &sim.Failure{Checker: "panic", Message: fmt.Sprintf("%v\n%s", p, debug.Stack()), Node: -1}}
		}
	}()
	return sim.Run(opts)
}

// writeTrace runs a failing seed again with its trace kept and writes it to OutDir.
func writeTrace(cfg Config, s *Seed) {
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		s.TraceError = err.Error()
		return
	}
	opts := cfg.Base
	opts.Seed = s.Seed
	opts.KeepTrace = true
	opts.Log = nil
	r := safeRun(opts)
	if r.Trace == nil {
		s.TraceError = "the run kept no trace"
		return
	}
	if r.Fingerprint != s.Fingerprint {
		s.TraceError = fmt.Sprintf("seed %d did not reproduce: fingerprint %016x, then %016x", s.Seed, s.Fingerprint, r.Fingerprint)
	}
	path := filepath.Join(cfg.OutDir, TraceName(s.Seed))
	if err := r.Trace.WriteFile(path); err != nil {
		s.TraceError = err.Error()
		return
	}
	s.TracePath = path
}

// TraceName is the file name of a seed's trace.
func TraceName(seed uint64) string { return fmt.Sprintf("seed-%d.trace", seed) }

// Write prints the summary: failing seeds, totals, checks that ran out of time, the
// distribution of failover times, and the coverage, naming every fault kind and
// protocol event no seed exercised.
func (s *Summary) Write(w io.Writer) {
	failed := s.Failed()
	var events int64
	var virtual time.Duration
	for _, r := range s.Seeds {
		events += r.Events
		virtual += r.Virtual
	}
	for _, r := range failed {
		fmt.Fprintf(w, "FAIL seed %d: %v\n", r.Seed, r.Failure)
		if r.TracePath != "" {
			fmt.Fprintf(w, "  trace: %s  (seedlog trace show %s; seedlog sim run --seed %d to reproduce)\n", r.TracePath, r.TracePath, r.Seed)
		}
		if r.TraceError != "" {
			fmt.Fprintf(w, "  trace problem: %s\n", r.TraceError)
		}
	}
	secs := s.Wall.Seconds()
	fmt.Fprintf(w, "%d seeds, %d failed, %d skipped, in %v: %.0f seeds/minute, %.0fx real time, %d events\n",
		len(s.Seeds), len(failed), s.Skipped, s.Wall.Round(time.Millisecond), float64(len(s.Seeds))/secs*60, virtual.Seconds()/secs, events)
	if u := s.Unknown(); u > 0 {
		fmt.Fprintf(w, "%d checks ran out of time (unknown, not passes)\n", u)
	}
	if s.FlushAsync {
		fmt.Fprintf(w, "mode: %s\n", sim.FlushAsyncAllows)
	}
	if allowed := s.allowedBy(sim.AllowedAsync); len(allowed) > 0 {
		acked := 0
		for _, r := range allowed {
			if strings.Contains(r.Allowed[0], "acknowledged") {
				acked++
			}
		}
		fmt.Fprintf(w, "%d seeds lost records, %d of them acknowledged acks=all records: log.flush=async allows it (it gives up promise 1: a correlated power loss takes what no disk synced); e.g. seed %d: %s\n",
			len(allowed), acked, allowed[0].Seed, allowed[0].Allowed[0])
	}
	if allowed := s.allowedBy(sim.AllowedDamage); len(allowed) > 0 {
		acked := 0
		for _, r := range allowed {
			if slices.ContainsFunc(r.Allowed, func(a string) bool { return strings.Contains(a, "acknowledged") }) {
				acked++
			}
		}
		fmt.Fprintf(w, "%d seeds lost records to partition corruption, %d of them acknowledged acks=all records: allowed by the damage (every in-sync copy of them was damaged; the partition fenced them and kept its offsets); e.g. seed %d: %s\n",
			len(allowed), acked, allowed[0].Seed, allowed[0].Allowed[0])
	}
	s.writeFailovers(w)
	fmt.Fprintln(w, "coverage:")
	for _, line := range strings.Split(s.Coverage.String(), "\n") {
		fmt.Fprintf(w, "  %s\n", line)
	}
	if missing := s.Coverage.Missing(sim.FaultKinds); len(missing) > 0 {
		fmt.Fprintf(w, "never injected: %s\n", strings.Join(missing, " "))
	}
	if missing := s.Coverage.Missing(sim.Interesting); len(missing) > 0 {
		fmt.Fprintf(w, "never exercised: %s\n", strings.Join(missing, " "))
	}
	s.writeGate(w)
}

// allowedBy returns the seeds with an allowed loss whose description starts with prefix.
func (s *Summary) allowedBy(prefix string) []Seed {
	var out []Seed
	for _, r := range s.Seeds {
		if slices.ContainsFunc(r.Allowed, func(a string) bool { return strings.HasPrefix(a, prefix) }) {
			out = append(out, r)
		}
	}
	return out
}

// AllowedLosses returns the seeds whose configuration allowed what went wrong, in order.
func (s *Summary) AllowedLosses() []Seed {
	var out []Seed
	for _, r := range s.Seeds {
		if len(r.Allowed) > 0 {
			out = append(out, r)
		}
	}
	return out
}

// Fingerprints returns seed -> fingerprint, for comparing sweeps.
func (s *Summary) Fingerprints() map[uint64]uint64 {
	out := make(map[uint64]uint64, len(s.Seeds))
	for _, r := range s.Seeds {
		out[r.Seed] = r.Fingerprint
	}
	return out
}

// FirstFailure returns the lowest failing seed, if any.
func (s *Summary) FirstFailure() (Seed, bool) {
	i := slices.IndexFunc(s.Seeds, func(r Seed) bool { return r.Failure != nil })
	if i < 0 {
		return Seed{}, false
	}
	return s.Seeds[i], true
}

// ReadTrace is a convenience for tools: it reads a sweep's trace of a seed.
func ReadTrace(dir string, seed uint64) (*traces.Trace, error) {
	return traces.ReadFile(filepath.Join(dir, TraceName(seed)))
}
