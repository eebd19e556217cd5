package sweep

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/seedlog/seedlog/sim"
)

// FailoverFaults are the kinds of failover the sweep's headline distribution takes: a
// leader that died, stopped or was cut off without warning. Controlled shutdowns are
// planned and reported on their own line.
var FailoverFaults = []string{sim.FailoverCrash, sim.FailoverPause, sim.FailoverIsolate}

// FailoverDist is the distribution of the measured failover times of some kinds over
// a sweep's seeds. Percentiles are nearest-rank: the smallest time at least p% of the
// times are at or below.
type FailoverDist struct {
	Count              int
	P50, P90, P99, Max time.Duration
	// MaxSeed is the seed of the longest time (the lowest such seed on a tie), for
	// seedlog sim run --seed.
	MaxSeed uint64
}

// FailoverDist returns the distribution of the measured failovers of the given kinds.
func (s *Summary) FailoverDist(kinds ...string) FailoverDist {
	var d FailoverDist
	var times []time.Duration
	for _, r := range s.Seeds {
		for _, f := range r.Failovers {
			if !f.Measured() || !slices.Contains(kinds, f.Kind) {
				continue
			}
			times = append(times, f.Time)
			if len(times) == 1 || f.Time > d.Max {
				d.Max, d.MaxSeed = f.Time, r.Seed
			}
		}
	}
	d.Count = len(times)
	if d.Count == 0 {
		return d
	}
	slices.Sort(times)
	d.P50, d.P90, d.P99 = nearestRank(times, 50), nearestRank(times, 90), nearestRank(times, 99)
	return d
}

// nearestRank returns the p-th percentile of sorted times: the element at rank
// ceil(p/100 * n).
func nearestRank(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}

func (d FailoverDist) String() string {
	if d.Count == 0 {
		return "none measured"
	}
	ms := func(t time.Duration) time.Duration { return t.Round(time.Millisecond) }
	return fmt.Sprintf("n=%d p50=%v p90=%v p99=%v max=%v (seed %d)", d.Count, ms(d.P50), ms(d.P90), ms(d.P99), ms(d.Max), d.MaxSeed)
}

// writeFailovers prints the failover times of every seed: their totals, the
// distribution over the faults, per kind, and that of controlled shutdowns.
func (s *Summary) writeFailovers(w io.Writer) {
	total, measured, seeds := 0, 0, 0
	for _, r := range s.Seeds {
		if len(r.Failovers) > 0 {
			seeds++
		}
		total += len(r.Failovers)
		for _, f := range r.Failovers {
			if f.Measured() {
				measured++
			}
		}
	}
	if total == 0 {
		return
	}
	fmt.Fprintf(w, "failover times (a fault to the first acks=all produce answered, per data partition its broker led; sim/doc.go): %d in %d seeds, %d measured, %d that no producer measured\n",
		total, seeds, measured, total-measured)
	fmt.Fprintf(w, "  %-9s %s\n", "faults", s.FailoverDist(FailoverFaults...))
	for _, k := range FailoverFaults {
		fmt.Fprintf(w, "  %-9s %s\n", k, s.FailoverDist(k))
	}
	fmt.Fprintf(w, "  %-9s %s (controlled shutdowns, not among the faults)\n", sim.FailoverShutdown, s.FailoverDist(sim.FailoverShutdown))
}
