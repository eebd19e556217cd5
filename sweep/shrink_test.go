package sweep

import (
	"strings"
	"testing"

	"github.com/seedlog/seedlog/sim"
	"github.com/seedlog/seedlog/sim/simtest"
)

// toyFailure finds the first seed the early-acknowledging toy fails.
func toyFailure(t *testing.T) (sim.Options, sim.Result) {
	t.Helper()
	for seed := uint64(1); seed <= 200; seed++ {
		opts := simtest.Options(seed, true)
		if r := sim.Run(opts); r.Failure != nil {
			return opts, r
		}
	}
	t.Fatal("200 seeds did not catch the early-acknowledging toy")
	return sim.Options{}, sim.Result{}
}

// Shrinking a failing toy run leaves a much smaller schedule that fails the same
// checker, the same whatever the number of jobs.
func TestShrinkToyFailure(t *testing.T) {
	opts, r := toyFailure(t)
	faults, ops := r.Schedule.Counts()
	var shrunk []sim.Step
	for _, jobs := range []int{1, 3} {
		var stages []string
		res, err := Shrink(ShrinkConfig{Base: opts, Schedule: r.Schedule, Checker: r.Failure.Checker, Jobs: jobs, MaxReplays: 400,
			Progress: func(p ShrinkProgress) { stages = append(stages, p.Stage) }})
		if err != nil {
			t.Fatal(err)
		}
		f2, o2 := res.Schedule.Counts()
		t.Logf("seed %d (%s), jobs %d: %d -> %d faults, %d -> %d operations in %d replays, %v", r.Seed, r.Failure.Checker, jobs, faults, f2, ops, o2, res.Replays, res.Wall)
		if res.Failure == nil || res.Failure.Checker != r.Failure.Checker {
			t.Fatalf("the shrunk schedule fails %v", res.Failure)
		}
		if f2+o2 >= faults+ops || f2+o2 == 0 {
			t.Fatalf("%d steps left of %d", f2+o2, faults+ops)
		}
		if len(stages) == 0 || stages[len(stages)-1] != "done" {
			t.Fatalf("progress: %v", stages)
		}
		replay := opts
		replay.Schedule = &res.Schedule
		if again := sim.Run(replay); again.Failure == nil || again.Failure.Checker != r.Failure.Checker {
			t.Fatalf("a replay of the shrunk schedule: %v", again.Failure)
		}
		if shrunk == nil {
			shrunk = res.Schedule.Steps
		} else if len(shrunk) != len(res.Schedule.Steps) {
			t.Fatalf("jobs changed the result: %d steps, then %d", len(shrunk), len(res.Schedule.Steps))
		}
	}
}

func TestShrinkRefusesAPassingSchedule(t *testing.T) {
	opts := simtest.Options(3, false)
	r := sim.Run(opts)
	if r.Failure != nil {
		t.Fatalf("the correct toy failed: %v", r.Failure)
	}
	_, err := Shrink(ShrinkConfig{Base: opts, Schedule: r.Schedule, Checker: "linearizability", Jobs: 1})
	if err == nil || !strings.Contains(err.Error(), "does not fail linearizability: it passes") {
		t.Fatalf("error %v", err)
	}
}
