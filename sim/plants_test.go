//go:build simbugs

package sim_test

import (
	"runtime"
	"slices"
	"testing"

	"github.com/seedlog/seedlog/sim"
	"github.com/seedlog/seedlog/sweep"
)

// plantCases lists each planted bug, the checkers allowed to catch it (the first is the
// one expected) and the seed bound it must be caught within. Adding a plant is one line.
var plantCases = []struct {
	plant    string
	checkers []string
	seeds    int
}{
	{"vote-before-sync", []string{"invariant:quorum", "linearizability"}, 200},
	{"commit-old-epoch", []string{"invariant:quorum", "linearizability"}, 200},
	{"no-truncate-divergent", []string{"invariant:quorum", "linearizability"}, 200},
}

// TestPlantsAreCaught runs a sweep with each plant and asserts that the expected checker
// catches it within its seed bound. A seed that also fails without the plant shows a bug
// of the node, not the plant, and does not count; nor does a failure found by another
// checker (it is logged).
func TestPlantsAreCaught(t *testing.T) {
	requireNode(t)
	bound := 0
	for _, pc := range plantCases {
		bound = max(bound, pc.seeds)
	}
	baseline := sweep.Run(sweep.Config{Base: sim.Options{}, Seeds: bound, Start: 1, Jobs: runtime.NumCPU()})
	failsAnyway := map[uint64]bool{}
	for _, f := range baseline.Failed() {
		failsAnyway[f.Seed] = true
	}
	if len(failsAnyway) > 0 {
		t.Logf("%d of %d seeds fail without any plant; they do not count", len(failsAnyway), bound)
	}
	for _, pc := range plantCases {
		t.Run(pc.plant, func(t *testing.T) {
			s := sweep.Run(sweep.Config{
				Base:  sim.Options{Plants: []string{pc.plant}},
				Seeds: pc.seeds,
				Start: 1,
				Jobs:  runtime.NumCPU(),
			})
			for _, f := range s.Failed() {
				if failsAnyway[f.Seed] {
					continue
				}
				if !slices.Contains(pc.checkers, f.Failure.Checker) {
					// The plant led the run somewhere else that fails: worth knowing, but
					// not the checker this plant is for.
					t.Logf("seed %d failed in %s instead: %v", f.Seed, f.Failure.Checker, f.Failure)
					continue
				}
				t.Logf("plant %s caught at seed %d by %s: %s", pc.plant, f.Seed, f.Failure.Checker, f.Failure.Message)
				return
			}
			t.Fatalf("plant %s was not caught by %v in %d seeds", pc.plant, pc.checkers, pc.seeds)
		})
	}
}
