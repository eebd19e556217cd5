package sim

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/traces"
)

// Result is what one run produced.
type Result struct {
	Seed        uint64
	Config      Config
	Fingerprint uint64
	Events      int64
	Steps       int64
	VirtualEnd  time.Duration
	// Failure is nil for a passing run.
	Failure *Failure
	// Unknown lists the checks that ran out of time: never a pass.
	Unknown []string
	// Allowed lists violations the run's configuration allows (log.flush=async losing
	// acknowledged records to a correlated power loss): reported, not failures.
	Allowed  []string
	Coverage Coverage
	History  History
	// Linearizability is Porcupine's visualization of a failed check.
	Linearizability string
	// Trace holds the events when Options.KeepTrace was set.
	Trace *traces.Trace
	// Schedule is what the run applied: the faults and client operations its
	// generators drew or, for a scripted run, the steps of its schedule that applied.
	Schedule Schedule
	// Replayed is the schedule a scripted run replayed (Options.Schedule), nil for a
	// seed's own run; StepsDone says what became of each of its steps.
	Replayed  *Schedule
	StepsDone []traces.Step
	// Clients says what each client is (index: client id - 1), for scenario files.
	Clients []string
	// Failovers are the data partitions whose leader a fault took out of service, in
	// the order of the faults, each timed to its first acks=all success (failover.go).
	Failovers []Failover
}

// Passed reports whether the run found no violation.
func (r *Result) Passed() bool { return r.Failure == nil }

// Run runs one seed.
func Run(opts Options) Result {
	w, err := newWorld(opts)
	if err != nil {
		return Result{Seed: opts.Seed, Failure: &Failure{Checker: "setup", Message: err.Error(), Node: -1}, Coverage: Coverage{}}
	}
	w.run()
	return w.result()
}

func (w *World) result() Result {
	r := Result{
		Seed:            w.cfg.Seed,
		Config:          w.cfg,
		Fingerprint:     w.rec.Fingerprint(),
		Events:          w.rec.Count(),
		Steps:           w.steps,
		VirtualEnd:      time.Duration(w.now),
		Failure:         w.failure,
		Unknown:         w.checks.unknown,
		Allowed:         w.checks.allowed,
		Coverage:        w.cov,
		History:         w.hist,
		Linearizability: w.checks.linearizability,
		Schedule:        Schedule{Steps: w.sched.all()},
		Failovers:       measureFailovers(w.outages, w.hist.Ops),
	}
	for _, c := range w.clients {
		r.Clients = append(r.Clients, c.desc)
	}
	if w.script != nil {
		r.Replayed = &Schedule{Steps: w.script.steps}
		r.StepsDone = w.script.report()
	}
	if w.rec.Keeping() {
		r.Trace = &traces.Trace{Header: r.Header(), Events: w.rec.Events()}
	}
	return r
}

// BuildTags are the build tags of this binary that change a run's behaviour.
func BuildTags() []string {
	if plant.Enabled {
		return []string{"simbugs"}
	}
	return nil
}

// Header is the trace header describing this run.
func (r *Result) Header() traces.Header {
	h := traces.Header{
		Seed:            r.Seed,
		Config:          r.Config.String(),
		BuildTags:       BuildTags(),
		Fingerprint:     r.Fingerprint,
		Events:          r.Events,
		VirtualEnd:      int64(r.VirtualEnd),
		Linearizability: r.Linearizability,
		Coverage:        r.Coverage,
	}
	if p := r.Config.Plants.String(); p != "" {
		h.Plants = strings.Split(p, ",")
	}
	if r.Config.Data.FlushAsync {
		h.Modes = append(h.Modes, ModeFlushAsync)
	}
	if r.Config.Faults.byzantineForced {
		h.Modes = append(h.Modes, ModeByzantine)
	}
	h.Duration = int64(r.Config.durationSet)
	if r.Failure != nil {
		h.Checker, h.Failure, h.FailureAt = r.Failure.Checker, r.Failure.Message, r.Failure.At
	}
	h.Schedule = r.Scenario().String()
	h.Scripted = r.Replayed != nil
	h.Steps = r.StepsDone
	return h
}

// Scenario returns the run as a scenario file: its seed and modes, and the schedule
// its generators drew or, for a scripted run, the one it replayed. The comments give
// the run's configuration and outcome and say what each client is.
func (r *Result) Scenario() *Scenario {
	sc := &Scenario{Seed: r.Seed, FlushAsync: r.Config.Data.FlushAsync, Byzantine: r.Config.Faults.byzantineForced, Duration: r.Config.durationSet, Schedule: r.Schedule}
	if p := r.Config.Plants.String(); p != "" {
		sc.Plants = strings.Split(p, ",")
	}
	if r.Replayed != nil {
		sc.Schedule = *r.Replayed
	}
	faults, ops := sc.Schedule.Counts()
	what := "the faults and client operations seed %d drew"
	if r.Replayed != nil {
		what = "the schedule replayed over seed %d's configuration"
	}
	sc.Comments = append(sc.Comments, "seedlog scenario: "+fmt.Sprintf(what, r.Seed)+fmt.Sprintf(" (%d faults, %d client operations).", faults, ops))
	if r.Failure != nil {
		sc.Comments = append(sc.Comments, "The run failed: "+firstLine(r.Failure.Error()))
	} else {
		sc.Comments = append(sc.Comments, "The run passed.")
	}
	sc.Comments = append(sc.Comments, "Replay it with: seedlog sim run --scenario FILE (the language is described in sim/scenario.go).")
	sc.Comments = append(sc.Comments, "", "The configuration, drawn from the seed:")
	for _, line := range strings.Split(strings.TrimRight(r.Config.String(), "\n"), "\n") {
		sc.Comments = append(sc.Comments, "  "+line)
	}
	sc.Comments = append(sc.Comments, "", "Clients:")
	for i, d := range r.Clients {
		if d != "" {
			sc.Comments = append(sc.Comments, fmt.Sprintf("  client %d: %s", i+1, d))
		}
	}
	sc.Comments = append(sc.Comments, "")
	return sc
}

// firstLine returns s up to its first newline.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// Summary is a one-line account of the run.
func (r *Result) Summary() string {
	status := "ok"
	if r.Failure != nil {
		status = "FAIL " + r.Failure.Error()
	}
	unknown := ""
	if len(r.Unknown) > 0 {
		unknown = fmt.Sprintf(" unknown=%d", len(r.Unknown))
	}
	return fmt.Sprintf("seed %d: %s (fingerprint %016x, %d events, %v virtual, %d ops%s)",
		r.Seed, status, r.Fingerprint, r.Events, r.VirtualEnd.Round(time.Millisecond), len(r.History.Ops), unknown)
}

// ModeFlushAsync names Options.FlushAsync among a trace's modes.
const ModeFlushAsync = "flush-async"

// ModeByzantine names Options.Byzantine among a trace's modes.
const ModeByzantine = "byzantine"

// FlushAsyncAllows says what log.flush=async gives up, for summaries.
const FlushAsyncAllows = "log.flush=async allows acknowledged acks=all records to be lost (it gives up promise 1: a correlated power loss takes what no disk synced); such losses are reported as allowed, not as failures"

// Replay re-runs the seed a trace header describes (with the schedule it replayed, for
// a scripted run) and returns the new fingerprint; it is the rerun function for
// traces.VerifyReplay.
func Replay(base Options) traces.Rerun {
	return func(h traces.Header) (uint64, error) {
		opts := base
		opts.Seed = h.Seed
		opts.Plants = h.Plants
		opts.FlushAsync = opts.FlushAsync || slices.Contains(h.Modes, ModeFlushAsync)
		opts.Byzantine = opts.Byzantine || slices.Contains(h.Modes, ModeByzantine)
		if h.Duration > 0 {
			opts.Duration = time.Duration(h.Duration)
		}
		opts.KeepTrace = false
		if h.Scripted {
			sc, err := ParseScenario(h.Schedule)
			if err != nil {
				return 0, fmt.Errorf("the trace's scenario: %w", err)
			}
			opts.Schedule = &sc.Schedule
		}
		r := Run(opts)
		if r.Failure != nil && r.Failure.Checker == "setup" {
			return 0, r.Failure
		}
		return r.Fingerprint, nil
	}
}

// sortedKeys returns a map's keys in order, so that map order never reaches a run.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// recordPhase records a phase change.
func (w *World) recordPhase(p phase, text string) {
	sub := map[phase]uint8{phaseSafety: traces.PhaseSafety, phaseLiveness: traces.PhaseLiveness, phaseFinalReads: traces.PhaseFinalReads, phaseEnd: traces.PhaseEnd}[p]
	w.record(traces.Event{Kind: traces.KindPhase, Sub: sub, Node: -1, Peer: -1}, func() string { return text })
}
