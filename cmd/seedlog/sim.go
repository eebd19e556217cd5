package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/sim"
	"github.com/seedlog/seedlog/sweep"
)

// simBase is the base of the options of sim run and sim shrink (tests run a toy node).
var simBase = sim.Options{}

// The default sweep of a bare `seedlog sim`: about a minute on a 2-core machine.
const (
	defaultSweepSeeds = 2000
	defaultSweepStart = 1
	defaultOutDir     = "sim-out"
)

func simCommand(args []string) int {
	if len(args) == 0 {
		return simSweep(defaultSweepSeeds, defaultSweepStart, runtime.NumCPU(), defaultOutDir, sweep.Shard{}, sim.Options{})
	}
	switch args[0] {
	case "run":
		return simRunCommand(args[1:])
	case "sweep":
		return simSweepCommand(args[1:])
	case "shrink":
		return simShrinkCommand(args[1:])
	case "merge":
		return simMergeCommand(args[1:])
	case "-h", "--help", "help":
		fmt.Println(`usage:
  seedlog sim                     the default sweep (` + fmt.Sprint(defaultSweepSeeds) + ` seeds, all CPUs, traces of failures in ` + defaultOutDir + `/)
  seedlog sim run --seed N [--trace FILE] [--plant NAME] [--flush sync|async] [--byzantine] [--duration D]
  seedlog sim run --scenario FILE [--trace FILE]
  seedlog sim sweep --seeds N [--start S] [--jobs J] [--out DIR] [--shard K/N] [--plant NAME] [--flush sync|async] [--byzantine] [--duration D]
  seedlog sim shrink TRACE [-o FILE] [--max-replays N] [--max-time D] [--jobs J]
  seedlog sim merge DIR...         join the result files of a sweep's shards into one summary

sim shrink replays a failing trace's schedule (every fault and client operation its
run drew) with steps removed, by delta debugging, while the same checker still fails,
and writes the smallest failing schedule as a scenario file that sim run --scenario
replays and a person can read and edit.

Every sweep writes DIR/shard-K-of-N.json (shard-1-of-1.json without --shard): the
seeds it ran with their fingerprints, its failures with their trace files, allowed
losses, checks that ran out of time, and its coverage counters. --shard K/N runs the
K-th of N contiguous blocks of the seeds, whose sizes differ by at most one (seeds
start+(K-1)*seeds/N up to start+K*seeds/N-1), so N machines can run one sweep; sim
merge checks that every seed ran in exactly one shard and prints the sweep's summary.
docs/sim-on-kubernetes.md runs the shards as a Kubernetes Indexed Job.

--flush async runs every data topic with log.flush=async (Kafka's page-cache
durability) and adds correlated power losses (every node at once) to every fault mix.
That mode gives up promise 1: acknowledged acks=all records may be lost, and the run
or sweep reports such losses as allowed by the mode rather than as failures.

--byzantine switches the byzantine client on in every seed (a quarter of the seeds
with faults draw it anyway): an attacker sending forged and malformed peer and client
traffic to the nodes' listeners for the whole run.

--duration D runs every seed's safety phase for D instead of its draw (15 to 45
seconds): long runs reach what builds up slowly. Traces and scenario files record it.

A sweep of ` + fmt.Sprint(sim.GateSeedsMin) + ` seeds or more (or the merge of a sweep's shards) fails when
its coverage misses an item of the gate (sim.Gate in sim/gate.go: every fault kind,
every kind of client work and the critical paths: segment rolls, retention,
truncations, failovers, elections, snapshots, recoveries, rebalances, ...); it prints
what was never exercised. Smaller sweeps print it and pass.`)
		return exitOK
	}
	return usageError("sim: unknown subcommand %q (want run, sweep, shrink or merge)", args[0])
}

// byzantineUsage documents --byzantine for sim run and sim sweep.
const byzantineUsage = "switch the byzantine client on whatever the seed drew: forged and malformed traffic to the nodes' client listeners and peer endpoints for the whole run"

// durationUsage documents --duration for sim run and sim sweep.
const durationUsage = "length of the safety phase (faults and workload) instead of each seed's draw of 15 to 45 seconds, e.g. 5m; traces record it and replay it"

// flushUsage documents --flush for sim run and sim sweep.
const flushUsage = "log.flush mode of the data topics: sync, or async (Kafka's page-cache durability, with correlated power losses in every fault mix: acknowledged acks=all records may be lost, which is reported as allowed, not as a failure)"

// parseFlush reads --flush; true means async.
func parseFlush(v string) (bool, error) {
	switch v {
	case "sync":
		return false, nil
	case "async":
		return true, nil
	}
	return false, fmt.Errorf("--flush %q: want sync or async", v)
}

// simGCPercent is the garbage collector's target while simulating: a run allocates
// mostly short-lived garbage, and collecting less often buys about a fifth more seeds
// a minute for a few hundred megabytes. GOGC, when set, wins.
const simGCPercent = 400

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(simGCPercent)
	}
}

// checkPlants validates plant names before anything runs.
func checkPlants(names []string) error {
	if _, err := plant.Parse(names...); err != nil {
		if !plant.Enabled {
			return fmt.Errorf("--plant needs a binary built with -tags simbugs (go run -tags simbugs ./cmd/seedlog ...)")
		}
		return err
	}
	return nil
}

func simRunCommand(args []string) int {
	fs := flag.NewFlagSet("sim run", flag.ContinueOnError)
	seed := fs.Uint64("seed", 0, "the seed to run (required, unless --scenario)")
	scenarioPath := fs.String("scenario", "", "replay this scenario file (seedlog sim shrink writes them) instead of a seed's own draws")
	tracePath := fs.String("trace", "", "write the run's trace to this file (failing runs write one anyway)")
	var plants listFlag
	fs.Var(&plants, "plant", "switch on a planted bug (repeatable; needs -tags simbugs)")
	quiet := fs.Bool("q", false, "do not print the configuration block")
	flush := fs.String("flush", "sync", flushUsage)
	byzantine := fs.Bool("byzantine", false, byzantineUsage)
	duration := fs.Duration("duration", 0, durationUsage)
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return flagHelp(fs, "seedlog sim run --seed N [--trace FILE] [--plant NAME] [--flush sync|async] [--byzantine] [--duration D]\n       seedlog sim run --scenario FILE [--trace FILE]")
	}
	if err != nil {
		return usageError("%v; see seedlog sim run -h", err)
	}
	if len(pos) > 0 {
		return usageError("sim run: unexpected argument %q; see seedlog sim run -h", pos[0])
	}
	seedSet := false
	fs.Visit(func(f *flag.Flag) { seedSet = seedSet || f.Name == "seed" })
	if seedSet == (*scenarioPath != "") {
		return usageError("sim run: want --seed or --scenario, e.g. seedlog sim run --seed 42")
	}
	async, err := parseFlush(*flush)
	if err != nil {
		return usageError("sim run: %v", err)
	}
	opts := simBase
	if *duration < 0 {
		return usageError("sim run: --duration must be positive, e.g. --duration 5m")
	}
	opts.Seed, opts.Plants, opts.KeepTrace, opts.FlushAsync, opts.Byzantine, opts.Duration = *seed, plants, true, async, *byzantine, *duration
	var sc *sim.Scenario
	if *scenarioPath != "" {
		if len(plants) > 0 {
			return usageError("sim run: a scenario names its plants itself (plants NAME in the file)")
		}
		text, err := os.ReadFile(*scenarioPath)
		if err != nil {
			return problem("sim run: %v", err)
		}
		if sc, err = sim.ParseScenario(string(text)); err != nil {
			return problem("sim run: %s: %v", *scenarioPath, err)
		}
		opts = sc.Options(opts)
	}
	if err := checkPlants(opts.Plants); err != nil {
		return usageError("sim run: %v", err)
	}
	if !*quiet {
		opts.Log = os.Stdout
	}
	r := sim.Run(opts)
	if r.Failure != nil && r.Failure.Checker == "setup" {
		return problem("sim run: %v", r.Failure.Message)
	}
	fmt.Println(r.Summary())
	if sc != nil {
		printSteps(&r)
	}
	if opts.FlushAsync {
		fmt.Printf("mode: %s\n", sim.FlushAsyncAllows)
	}
	for _, a := range r.Allowed {
		fmt.Printf("allowed: %s\n", a)
	}
	for _, u := range r.Unknown {
		fmt.Printf("unknown (check timed out): %s\n", u)
	}
	printFailovers(r.Failovers)
	if cov := r.Coverage.String(); cov != "" {
		fmt.Printf("coverage:\n  %s\n", strings.ReplaceAll(cov, "\n", "\n  "))
	}
	path := *tracePath
	if path == "" && r.Failure != nil {
		name := sweep.TraceName(r.Seed)
		if sc != nil {
			name = scenarioTraceName(*scenarioPath)
		}
		path = filepath.Join(defaultOutDir, name)
		if err := os.MkdirAll(defaultOutDir, 0o755); err != nil {
			return problem("sim run: %v", err)
		}
	}
	if path != "" {
		if err := r.Trace.WriteFile(path); err != nil {
			return problem("sim run: %v", err)
		}
		fmt.Printf("trace: %s (seedlog trace show %s; seedlog trace html %s -o seed.html)\n", path, path, path)
	}
	if r.Failure != nil {
		return exitFailed
	}
	return exitOK
}

// printFailovers prints the seed's failover times (sim/doc.go): how many, the median
// and the longest, then one partition a line.
func printFailovers(fs []sim.Failover) {
	if len(fs) == 0 {
		return
	}
	var times []time.Duration
	for _, f := range fs {
		if f.Measured() {
			times = append(times, f.Time)
		}
	}
	line := fmt.Sprintf("failovers (a fault to the first acks=all produce answered, per data partition its broker led): %d, %d measured", len(fs), len(times))
	if len(times) > 0 {
		slices.Sort(times)
		line += fmt.Sprintf(", median %v, max %v", times[(len(times)-1)/2].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond))
	}
	fmt.Println(line)
	for _, f := range fs {
		fmt.Printf("  %s\n", f)
	}
}

// scenarioTraceName is the trace file name of a failing scenario replay:
// seed-42.scenario gives seed-42.scenario.trace.
func scenarioTraceName(path string) string {
	base := filepath.Base(path)
	return strings.TrimSuffix(base, filepath.Ext(base)) + ".scenario.trace"
}

// printSteps says how a scripted run applied its schedule: the counts, and the steps
// that did not apply.
func printSteps(r *sim.Result) {
	faults, ops := r.Replayed.Counts()
	var skipped []string
	for _, st := range r.StepsDone {
		if st.Skipped != "" {
			skipped = append(skipped, fmt.Sprintf("  at %v %s: %s", time.Duration(st.At), st.Line, st.Skipped))
		}
	}
	fmt.Printf("scenario: %d faults, %d client operations, %d not applied\n", faults, ops, len(skipped))
	const shown = 20
	for i, line := range skipped {
		if i == shown {
			fmt.Printf("  ... and %d more\n", len(skipped)-shown)
			break
		}
		fmt.Println(line)
	}
}

func simSweepCommand(args []string) int {
	fs := flag.NewFlagSet("sim sweep", flag.ContinueOnError)
	seeds := fs.Int("seeds", 0, "how many seeds to run (required)")
	start := fs.Uint64("start", defaultSweepStart, "the first seed")
	jobs := fs.Int("jobs", runtime.NumCPU(), "runs at once")
	out := fs.String("out", defaultOutDir, "directory for the result file (shard-K-of-N.json) and the traces of failing seeds")
	shardSpec := fs.String("shard", "", "run only the K-th of N contiguous blocks of the seeds (K/N, 1 <= K <= N); sim merge joins the shards' result files")
	var plants listFlag
	fs.Var(&plants, "plant", "switch on a planted bug (repeatable; needs -tags simbugs)")
	flush := fs.String("flush", "sync", flushUsage)
	byzantine := fs.Bool("byzantine", false, byzantineUsage)
	duration := fs.Duration("duration", 0, durationUsage)
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return flagHelp(fs, "seedlog sim sweep --seeds N [--start S] [--jobs J] [--out DIR] [--shard K/N] [--plant NAME] [--flush sync|async] [--byzantine] [--duration D]")
	}
	if err != nil {
		return usageError("%v; see seedlog sim sweep -h", err)
	}
	if len(pos) > 0 {
		return usageError("sim sweep: unexpected argument %q; see seedlog sim sweep -h", pos[0])
	}
	if *seeds <= 0 {
		return usageError("sim sweep: --seeds must be a positive count, e.g. seedlog sim sweep --seeds 100")
	}
	if *jobs <= 0 {
		return usageError("sim sweep: --jobs must be at least 1")
	}
	var shard sweep.Shard
	if *shardSpec != "" {
		if shard, err = sweep.ParseShard(*shardSpec); err != nil {
			return usageError("sim sweep: --%v", err)
		}
	}
	if err := checkPlants(plants); err != nil {
		return usageError("sim sweep: %v", err)
	}
	async, err := parseFlush(*flush)
	if err != nil {
		return usageError("sim sweep: %v", err)
	}
	if *duration < 0 {
		return usageError("sim sweep: --duration must be positive, e.g. --duration 5m")
	}
	return simSweep(*seeds, *start, *jobs, *out, shard, sim.Options{Plants: plants, FlushAsync: async, Byzantine: *byzantine, Duration: *duration})
}

func simSweep(seeds int, start uint64, jobs int, out string, shard sweep.Shard, base sim.Options) int {
	tuneGC()
	cfg := sweep.Config{
		Base:   base,
		Seeds:  seeds,
		Start:  start,
		Shard:  shard,
		Jobs:   jobs,
		OutDir: out,
	}
	if shard.Whole() {
		fmt.Printf("sweeping seeds %d..%d with %d jobs", start, start+uint64(seeds)-1, jobs)
	} else {
		first, n := shard.Range(start, seeds)
		fmt.Printf("sweeping shard %s of seeds %d..%d: seeds %s with %d jobs", shard, start, start+uint64(seeds)-1, seedSpan(first, n), jobs)
	}
	if len(base.Plants) > 0 {
		fmt.Printf(", plants %s", strings.Join(base.Plants, ","))
	}
	if base.FlushAsync {
		fmt.Print(", log.flush=async")
	}
	if base.Byzantine {
		fmt.Print(", byzantine client in every seed")
	}
	if base.Duration > 0 {
		fmt.Printf(", safety phase %v", base.Duration)
	}
	fmt.Println()
	var bar *progressbar.ProgressBar
	if isTerminal(os.Stderr) {
		bar = progressbar.NewOptions(cfg.Seeds, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription("seeds"),
			progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
		cfg.Progress = func(done, total, failed int) {
			bar.Describe(fmt.Sprintf("seeds, %d failed", failed))
			_ = bar.Set(done)
		}
	}
	s := sweep.Run(cfg)
	if bar != nil {
		_ = bar.Finish() // clears the line
	}
	if first, ok := s.FirstFailure(); ok && first.Failure.Checker == "setup" {
		return problem("sim: %v", first.Failure.Message)
	}
	s.Write(os.Stdout)
	path, err := s.WriteResultFile(out)
	if err != nil {
		return problem("sim sweep: writing the result file: %v", err)
	}
	fmt.Printf("result: %s\n", path)
	if len(s.Failed()) > 0 {
		return exitFailed
	}
	if s.GateFailed() {
		fmt.Fprintf(os.Stderr, "seedlog: sim sweep: the coverage gate failed: %d seeds never exercised what the gate lists (see above)\n", len(s.Seeds))
		return exitFailed
	}
	return exitOK
}

// seedSpan prints n seeds from first.
func seedSpan(first uint64, n int) string {
	if n <= 0 {
		return "none"
	}
	return fmt.Sprintf("%d..%d", first, first+uint64(n)-1)
}

// simMergeCommand joins the result files of a sweep's shards. It fails (exit 1) when a
// seed failed, or when the files are not one whole sweep: a shard or seed missing, one
// present twice, or shards of different sweeps.
func simMergeCommand(args []string) int {
	fs := flag.NewFlagSet("sim merge", flag.ContinueOnError)
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Println("usage: seedlog sim merge DIR|FILE...\n\nJoins the shard-K-of-N.json result files in the directories (or the files named) into one\nsummary; exits 1 when a seed failed or a shard is missing, overlapping or of another sweep.")
		return exitOK
	}
	if err != nil {
		return usageError("%v; see seedlog sim merge -h", err)
	}
	if len(pos) == 0 {
		return usageError("sim merge: name the directories (or files) holding the shards' results, e.g. seedlog sim merge results/")
	}
	paths, err := sweep.FindResultFiles(pos)
	if err != nil {
		return problem("sim merge: %v", err)
	}
	m, err := sweep.Merge(paths)
	if err != nil {
		return problem("sim merge: %v", err)
	}
	m.Write(os.Stdout)
	failed := len(m.Summary.Failed())
	if len(m.Problems) > 0 {
		fmt.Fprintf(os.Stderr, "seedlog: sim merge: the files are not one whole sweep (see the MISSING, OVERLAP and MIXED lines)\n")
		return exitFailed
	}
	if failed > 0 {
		return exitFailed
	}
	if m.Summary.GateFailed() {
		fmt.Fprintf(os.Stderr, "seedlog: sim merge: the coverage gate failed (see above)\n")
		return exitFailed
	}
	return exitOK
}
