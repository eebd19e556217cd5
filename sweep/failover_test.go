package sweep

import (
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/sim"
)

// A sweep's failover distribution is that of its seeds' own failover times, and the
// result files carry them: merging a sweep's shards gives every seed the failovers its
// run reports, and the report the distributions those give.
func TestFailoverDistributionSurvivesTheMerge(t *testing.T) {
	const seeds, start = 3, 1
	runs := map[uint64][]sim.Failover{}
	for seed := uint64(start); seed < start+seeds; seed++ {
		r := sim.Run(sim.Options{Seed: seed})
		if r.Failure != nil && r.Failure.Checker == "setup" {
			t.Fatalf("the real node cannot run in this build: %v", r.Failure.Message)
		}
		runs[seed] = r.Failovers
	}
	dir := t.TempDir()
	for k := 1; k <= 2; k++ {
		s := Run(Config{Seeds: seeds, Start: start, Jobs: 1, Shard: Shard{Index: k, Count: 2}})
		if _, err := s.WriteResultFile(dir); err != nil {
			t.Fatal(err)
		}
	}
	m, out := mergeDirs(t, dir)
	if len(m.Problems) > 0 || len(m.Summary.Seeds) != seeds {
		t.Fatalf("merging the shards:\n%s", out)
	}
	for _, s := range m.Summary.Seeds {
		if !reflect.DeepEqual(s.Failovers, runs[s.Seed]) {
			t.Fatalf("seed %d merged with failovers %v, its run reports %v", s.Seed, s.Failovers, runs[s.Seed])
		}
	}
	for _, kinds := range [][]string{FailoverFaults, {sim.FailoverCrash}, {sim.FailoverPause}, {sim.FailoverIsolate}, {sim.FailoverShutdown}} {
		want := distOf(runs, kinds)
		if got := m.Summary.FailoverDist(kinds...); got != want {
			t.Errorf("%v: merged %v, the seeds give %v", kinds, got, want)
		}
		if !strings.Contains(out, want.String()) {
			t.Errorf("%v: the report does not say %q:\n%s", kinds, want, out)
		}
	}
	if distOf(runs, FailoverFaults).Count == 0 {
		t.Fatalf("seeds %d..%d measured no failover: the test tests nothing", start, start+seeds-1)
	}
}

// distOf is the distribution of the measured failovers of kinds in runs, by the
// nearest-rank definition, computed apart from FailoverDist.
func distOf(runs map[uint64][]sim.Failover, kinds []string) FailoverDist {
	var d FailoverDist
	var times []time.Duration
	for _, seed := range slices.Sorted(maps.Keys(runs)) {
		for _, f := range runs[seed] {
			if f.Time >= 0 && slices.Contains(kinds, f.Kind) {
				times = append(times, f.Time)
				if f.Time > d.Max || len(times) == 1 {
					d.Max, d.MaxSeed = f.Time, seed
				}
			}
		}
	}
	d.Count = len(times)
	if d.Count == 0 {
		return d
	}
	slices.Sort(times)
	rank := func(p float64) time.Duration { return times[int(math.Ceil(p/100*float64(len(times))))-1] }
	d.P50, d.P90, d.P99 = rank(50), rank(90), rank(99)
	return d
}
