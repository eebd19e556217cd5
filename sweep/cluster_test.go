package sweep

import (
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seedlog/seedlog/sim"
)

// sweepSeeds is the size of the sweep `go test` runs; SEEDLOG_SWEEP_SEEDS overrides it.
func sweepSeeds(t testing.TB) int {
	if s := os.Getenv("SEEDLOG_SWEEP_SEEDS"); s != "" {
		var n int
		if _, err := fmt.Sscan(s, &n); err != nil || n <= 0 {
			t.Fatalf("SEEDLOG_SWEEP_SEEDS=%q", s)
		}
		return n
	}
	if testing.Short() {
		return 20
	}
	// Every seed runs the data workload: about 0.3 s of one core each.
	return 200
}

// TestSweep is the sweep `make test` runs with the real node: every seed must pass, the
// coverage gate must pass (every fault kind, workload kind and critical path of
// sim.Gate exercised; sweeps below sim.GateSeedsMin seeds skip it), and running with
// one job gives the same fingerprints as with several.
func TestSweep(t *testing.T) {
	n := sweepSeeds(t)
	jobs := max(runtime.NumCPU(), 2)
	s := Run(Config{Base: sim.Options{}, Seeds: n, Start: 1, Jobs: jobs})
	var report strings.Builder
	s.Write(&report)
	t.Log("\n" + report.String())
	if first, ok := s.FirstFailure(); ok && first.Failure.Checker == "setup" {
		t.Fatalf("the real node cannot run in this build: %v", first.Failure.Message)
	}
	for _, f := range s.Failed() {
		t.Errorf("seed %d: %v (reproduce and keep its trace: go run ./cmd/seedlog sim run --seed %d)", f.Seed, f.Failure, f.Seed)
	}
	if missing := s.GateMissing(); len(missing) > 0 {
		t.Errorf("coverage gate: %d seeds never exercised:\n%s", n, sim.FormatGateItems(missing))
	}
	one := Run(Config{Base: sim.Options{}, Seeds: min(n, 20), Start: 1, Jobs: 1})
	want := map[uint64]uint64{}
	for seed, fp := range s.Fingerprints() {
		if seed < 1+uint64(min(n, 20)) {
			want[seed] = fp
		}
	}
	if !maps.Equal(one.Fingerprints(), want) {
		t.Fatal("fingerprints with 1 job differ from those with several")
	}
}

// BenchmarkDefaultSweep reports seeds per minute for the default sweep configuration.
func BenchmarkDefaultSweep(b *testing.B) {
	seeds, failed := 0, 0
	start := time.Now()
	for i := 0; i < b.N; i++ {
		s := Run(Config{Base: sim.Options{}, Seeds: 20, Start: uint64(1 + 20*i), Jobs: runtime.NumCPU()})
		if first, ok := s.FirstFailure(); ok && first.Failure.Checker == "setup" {
			b.Fatalf("the real node cannot run in this build: %v", first.Failure.Message)
		}
		seeds += len(s.Seeds)
		failed += len(s.Failed())
	}
	b.ReportMetric(float64(seeds)/time.Since(start).Minutes(), "seeds/min")
	// Failing seeds are the sweep test's business; here they only cost time like others.
	b.ReportMetric(float64(failed), "failed-seeds")
}

// TestAsyncSweepSaysLossIsAllowed runs the log.flush=async mode, where correlated power
// losses are in every fault mix, until a seed loses acknowledged records: the seed
// passes and the summary says the mode allows the loss.
func TestAsyncSweepSaysLossIsAllowed(t *testing.T) {
	s := Run(Config{Base: sim.Options{FlushAsync: true}, Seeds: 500, Start: 1, Jobs: max(runtime.NumCPU(), 2),
		StopWhen: func(r Seed) bool { return len(allowedBy(r, sim.AllowedAsync)) > 0 }})
	allowed := s.allowedBy(sim.AllowedAsync)
	if len(allowed) == 0 {
		t.Fatal("500 seeds with log.flush=async lost nothing")
	}
	if allowed[0].Failure != nil {
		t.Fatalf("seed %d: %v", allowed[0].Seed, allowed[0].Failure)
	}
	var report strings.Builder
	s.Write(&report)
	if !strings.Contains(report.String(), "log.flush=async allows it") || !strings.Contains(report.String(), "mode: "+sim.FlushAsyncAllows) {
		t.Fatalf("the summary does not say the mode allows the loss:\n%s", report.String())
	}
}

func allowedBy(r Seed, prefix string) []string {
	var out []string
	for _, a := range r.Allowed {
		if strings.HasPrefix(a, prefix) {
			out = append(out, a)
		}
	}
	return out
}

// TestDamageSweepSaysLossIsAllowed runs seeds until partition corruption damages every
// in-sync copy of acknowledged records: the seed passes, and the summary says the damage
// allowed the loss.
func TestDamageSweepSaysLossIsAllowed(t *testing.T) {
	s := Run(Config{Seeds: 200, Start: 1, Jobs: max(runtime.NumCPU(), 2),
		StopWhen: func(r Seed) bool {
			return slices.ContainsFunc(allowedBy(r, sim.AllowedDamage), func(a string) bool { return strings.Contains(a, "acknowledged") })
		}})
	allowed := s.allowedBy(sim.AllowedDamage)
	if len(allowed) == 0 {
		t.Fatal("200 seeds lost nothing to partition corruption")
	}
	for _, r := range allowed {
		if r.Failure != nil {
			t.Fatalf("seed %d: %v", r.Seed, r.Failure)
		}
	}
	var report strings.Builder
	s.Write(&report)
	if !strings.Contains(report.String(), "allowed by the damage") {
		t.Fatalf("the summary does not say the damage allowed the loss:\n%s", report.String())
	}
}
