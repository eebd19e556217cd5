package sweep

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/seedlog/seedlog/sim"
)

// The coverage gate (sim.Gate): a whole sweep of sim.GateSeedsMin seeds or more fails
// when one of the gate's items was never exercised. A shard is judged when the shards
// are merged, and a sweep cut short (StopAtFirstFailure) is not judged.

// seedsWith turns one seed's coverage into 1 for each non-zero counter.
func seedsWith(c sim.Coverage) sim.Coverage {
	out := make(sim.Coverage, len(c))
	for k, v := range c {
		if v != 0 {
			out[k] = 1
		}
	}
	return out
}

// GateSkipped says why the gate does not judge this summary ("" when it does).
func (s *Summary) GateSkipped() string {
	switch {
	case !s.Shard.Whole():
		return fmt.Sprintf("shard %s: the gate judges the merged sweep (sim merge)", s.Shard)
	case s.Skipped > 0:
		return fmt.Sprintf("%d seeds were skipped after a failure", s.Skipped)
	case len(s.Seeds) < sim.GateSeedsMin:
		return fmt.Sprintf("only %d seeds; it applies to sweeps of %d seeds or more", len(s.Seeds), sim.GateSeedsMin)
	}
	return ""
}

// GateMissing returns the gate's items the sweep never exercised; nil when the gate
// does not judge it (GateSkipped).
func (s *Summary) GateMissing() []sim.GateItem {
	if s.GateSkipped() != "" {
		return nil
	}
	return s.Coverage.GateMissing()
}

// GateFailed reports whether the sweep fails the coverage gate.
func (s *Summary) GateFailed() bool { return len(s.GateMissing()) > 0 }

// gateFewest is how many of the least exercised items the report names.
const gateFewest = 6

func (s *Summary) writeGate(w io.Writer) {
	if why := s.GateSkipped(); why != "" {
		if missing := s.Coverage.GateMissing(); len(missing) > 0 {
			fmt.Fprintf(w, "coverage gate: skipped (%s); not exercised: %s\n", why, gateCounters(missing))
		} else {
			fmt.Fprintf(w, "coverage gate: skipped (%s); all %d items exercised\n", why, len(sim.Gate))
		}
		return
	}
	if missing := s.GateMissing(); len(missing) > 0 {
		fmt.Fprintf(w, "coverage gate FAILED: %d of %d items never exercised in %d seeds:\n%s", len(missing), len(sim.Gate), len(s.Seeds), sim.FormatGateItems(missing))
		return
	}
	fmt.Fprintf(w, "coverage gate: passed, all %d items exercised in %d seeds", len(sim.Gate), len(s.Seeds))
	if s.SeedsWith != nil {
		items := slices.Clone(sim.Gate)
		slices.SortStableFunc(items, func(a, b sim.GateItem) int { return cmp.Compare(s.SeedsWith[a.Counter], s.SeedsWith[b.Counter]) })
		var fewest []string
		for _, it := range items[:min(gateFewest, len(items))] {
			fewest = append(fewest, fmt.Sprintf("%s in %d", it.Counter, s.SeedsWith[it.Counter]))
		}
		fmt.Fprintf(w, "; the fewest seeds: %s", strings.Join(fewest, ", "))
	}
	fmt.Fprintln(w)
}

func gateCounters(items []sim.GateItem) string {
	names := make([]string, len(items))
	for i, it := range items {
		names[i] = it.Counter
	}
	return strings.Join(names, " ")
}
