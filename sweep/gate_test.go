package sweep

import (
	"bytes"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/sim"
)

// summaryOf is a summary of n passing seeds whose coverage exercised every gate item
// but those named in missing.
func summaryOf(n int, missing ...string) Summary {
	s := Summary{Coverage: sim.Coverage{}, SeedsWith: sim.Coverage{}, Total: n}
	for i := range n {
		s.Seeds = append(s.Seeds, Seed{Seed: uint64(i + 1)})
	}
	for _, it := range sim.Gate {
		s.Coverage[it.Counter], s.SeedsWith[it.Counter] = 3, 2
	}
	for _, m := range missing {
		s.Coverage[m], s.SeedsWith[m] = 0, 0
	}
	return s
}

func TestGateFailsOnWhatNoSeedExercised(t *testing.T) {
	s := summaryOf(sim.GateSeedsMin, "storage:segment-roll", "fault:pause")
	if !s.GateFailed() || len(s.GateMissing()) != 2 {
		t.Fatalf("missing %v", s.GateMissing())
	}
	var out bytes.Buffer
	s.Write(&out)
	for _, want := range []string{"coverage gate FAILED: 2 of", "storage:segment-roll", "fault:pause"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	ok := summaryOf(sim.GateSeedsMin)
	out.Reset()
	ok.Write(&out)
	if ok.GateFailed() || !strings.Contains(out.String(), "coverage gate: passed") {
		t.Fatalf("a complete coverage failed:\n%s", out.String())
	}
}

func TestGateSkipsSmallSweepsAndShards(t *testing.T) {
	small := summaryOf(sim.GateSeedsMin-1, "fault:pause")
	var out bytes.Buffer
	small.Write(&out)
	if small.GateFailed() || !strings.Contains(out.String(), "coverage gate: skipped (only 199 seeds") || !strings.Contains(out.String(), "not exercised: fault:pause") {
		t.Fatalf("small sweep:\n%s", out.String())
	}
	shard := summaryOf(sim.GateSeedsMin, "fault:pause")
	shard.Shard = Shard{Index: 1, Count: 2}
	if shard.GateFailed() || !strings.Contains(shard.GateSkipped(), "sim merge") {
		t.Fatalf("shard: %q", shard.GateSkipped())
	}
	cut := summaryOf(sim.GateSeedsMin, "fault:pause")
	cut.Skipped = 3
	if cut.GateFailed() {
		t.Fatal("a sweep cut short by a failure was judged")
	}
}

// Every gate item names a distinct counter.
func TestGateItemsAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, it := range sim.Gate {
		if seen[it.Counter] || it.What == "" || (it.Class != "fault" && it.Class != "workload" && it.Class != "path") {
			t.Errorf("gate item %+v", it)
		}
		seen[it.Counter] = true
	}
}

// A real sweep whose draws stopped reaching a fault kind fails the gate and names the
// kind: 200 seeds with controlled shutdowns switched off after the draw (their safety
// phase cut to 3 seconds, to keep the test quick).
func TestGateFailsASweepThatNeverShutsANodeDown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a sweep of sim.GateSeedsMin seeds")
	}
	noShutdowns := func(c *sim.Config) {
		c.Faults.Shutdown = false
		c.SafetyDuration = min(c.SafetyDuration, 3*time.Second)
	}
	s := Run(Config{Base: sim.Options{Adjust: noShutdowns}, Seeds: sim.GateSeedsMin, Start: 1, Jobs: max(runtime.NumCPU(), 2)})
	if !slices.ContainsFunc(s.GateMissing(), func(it sim.GateItem) bool { return it.Counter == "fault:controlled-shutdown" }) {
		t.Fatalf("the gate missed that no seed shut a node down; missing: %v", s.GateMissing())
	}
	var out bytes.Buffer
	s.Write(&out)
	if !strings.Contains(out.String(), "coverage gate FAILED") || !strings.Contains(out.String(), "fault:controlled-shutdown") {
		t.Fatalf("the summary does not say so:\n%s", out.String())
	}
}
