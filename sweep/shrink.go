package sweep

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/seedlog/seedlog/sim"
)

// ShrinkConfig describes the shrinking of a failing run's schedule.
type ShrinkConfig struct {
	// Base is the run's options: seed, plants, modes. Each replay sets its Schedule.
	Base sim.Options
	// Schedule is the schedule to shrink: the run's whole schedule, or one shrunk
	// before.
	Schedule sim.Schedule
	// Checker is the checker the run failed; a candidate still fails when a replay of
	// it fails the same checker (the message may differ).
	Checker string
	// Jobs is how many replays run at once.
	Jobs int
	// MaxReplays and MaxTime bound the work (0: no bound); the search then ends with
	// the smallest failing schedule found so far.
	MaxReplays int
	MaxTime    time.Duration
	// Progress, when set, is told of the search's progress (from one goroutine).
	Progress func(ShrinkProgress)
}

// ShrinkProgress is where a shrink is.
type ShrinkProgress struct {
	// Stage is the part of the search: the whole schedule, the steps after the
	// failure, groups of steps, ddmin, done.
	Stage string
	// Replays so far, and the faults and client operations of the smallest failing
	// schedule found.
	Replays     int
	Faults, Ops int
	Wall        time.Duration
}

// ShrinkResult is what a shrink found.
type ShrinkResult struct {
	// Schedule is the smallest failing schedule found.
	Schedule sim.Schedule
	// Failure is the failure of its replay.
	Failure *sim.Failure
	// Replays counts the replays run, the first (of the whole schedule) included.
	Replays int
	Wall    time.Duration
	// Stopped says why the search ended before the schedule was 1-minimal (no single
	// step can be removed), "" when it got there.
	Stopped string
}

// Shrink minimizes a failing run's schedule: it replays the whole schedule first (it
// must fail the checker), drops what comes after the failure, then removes whole
// groups of steps (all faults, all client operations, each fault kind, each client's
// operations), then runs ddmin over the steps left. Every replay is a deterministic
// scripted run, so the result depends only on the configuration, never on Jobs.
func Shrink(cfg ShrinkConfig) (ShrinkResult, error) {
	start := time.Now()
	steps := cfg.Schedule.Steps
	var failures sync.Map // candidate key -> *sim.Failure
	replay := func(keep []int) *sim.Failure {
		opts := cfg.Base
		sched := cfg.Schedule.Subset(keep)
		opts.Schedule = &sched
		opts.KeepTrace = false
		opts.Log = nil
		f := safeRun(opts).Failure
		failures.Store(candidateKey(keep), f)
		return f
	}
	fails := func(keep []int) bool {
		f := replay(keep)
		return f != nil && f.Checker == cfg.Checker
	}
	all := make([]int, len(steps))
	for i := range all {
		all[i] = i
	}
	res := ShrinkResult{}
	first := replay(all)
	res.Replays = 1
	if first == nil || first.Checker != cfg.Checker {
		what := "passes"
		if first != nil {
			what = "fails " + first.Error()
		}
		res.Wall = time.Since(start)
		return res, fmt.Errorf("a replay of the whole schedule does not fail %s: it %s", cfg.Checker, what)
	}
	counts := func(keep []int) (int, int) {
		s := cfg.Schedule.Subset(keep)
		return s.Counts()
	}
	report := func(stage string, tests int, keep []int) {
		if cfg.Progress != nil {
			f, o := counts(keep)
			cfg.Progress(ShrinkProgress{Stage: stage, Replays: tests + 1, Faults: f, Ops: o, Wall: time.Since(start)})
		}
	}
	m := &Minimizer{Fails: fails, Jobs: cfg.Jobs}
	m.Budget = func(tests int) bool {
		if cfg.MaxReplays > 0 && tests+1 >= cfg.MaxReplays {
			res.Stopped = fmt.Sprintf("the limit of %d replays", cfg.MaxReplays)
			return false
		}
		if cfg.MaxTime > 0 && time.Since(start) >= cfg.MaxTime {
			res.Stopped = fmt.Sprintf("the time limit of %v", cfg.MaxTime)
			return false
		}
		return true
	}
	keep := all
	m.Progress = func(stage string, tests int, best []int) { report(stage, tests, best) }
	report("the whole schedule fails", 0, keep)

	// Nothing after the failure can have caused it.
	var before []int
	for _, i := range keep {
		if int64(steps[i].At) <= first.At {
			before = append(before, i)
		}
	}
	if len(before) < len(keep) {
		keep = m.Groups("steps after the failure", keep, [][]int{without(keep, before)})
	}
	keep = m.Groups("groups", keep, stepGroups(steps, keep))
	keep = m.DDMin(keep)
	report("done", m.Tests(), keep)

	res.Schedule = cfg.Schedule.Subset(keep)
	res.Replays = m.Tests() + 1
	if f, ok := failures.Load(candidateKey(keep)); ok {
		res.Failure = f.(*sim.Failure)
	}
	res.Wall = time.Since(start)
	if !m.Exhausted() {
		res.Stopped = ""
	}
	return res, nil
}

// stepGroups lists groups of steps to try removing whole: every fault, every client
// operation, then each fault kind, then each client's operations.
func stepGroups(steps []sim.Step, keep []int) [][]int {
	var faults, ops []int
	byKind := map[sim.StepKind][]int{}
	byClient := map[int32][]int{}
	for _, i := range keep {
		st := &steps[i]
		if st.Kind.IsFault() {
			faults = append(faults, i)
			byKind[st.Kind] = append(byKind[st.Kind], i)
		} else {
			ops = append(ops, i)
			byClient[st.Client] = append(byClient[st.Client], i)
		}
	}
	groups := [][]int{faults, ops}
	kinds := make([]sim.StepKind, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		groups = append(groups, byKind[k])
	}
	clients := make([]int32, 0, len(byClient))
	for c := range byClient {
		clients = append(clients, c)
	}
	slices.Sort(clients)
	for _, c := range clients {
		groups = append(groups, byClient[c])
	}
	return groups
}
