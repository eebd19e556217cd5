package sim_test

import (
	"os"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/sim"
	"github.com/seedlog/seedlog/sim/simtest"
	"github.com/seedlog/seedlog/traces"
)

func TestToyRunsPass(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		opts := simtest.Options(seed, false)
		if testing.Verbose() && seed == 1 {
			opts.Log = os.Stderr
		}
		r := sim.Run(opts)
		t.Log(r.Summary())
		if r.Failure != nil {
			t.Errorf("seed %d: %v\n%s", seed, r.Failure, r.Config.String())
		}
	}
}

// A toy that answers before its write is durable must be caught by the linearizability
// checker once crashes are on: the checkers are not vacuous.
func TestToyAckBeforeDurableIsCaught(t *testing.T) {
	for seed := uint64(1); seed <= 100; seed++ {
		opts := simtest.Options(seed, true)
		adjust := opts.Adjust
		opts.Adjust = func(c *sim.Config) {
			adjust(c)
			c.Faults.Crash = true
			c.Faults.Interval = 500 * time.Millisecond
		}
		r := sim.Run(opts)
		if r.Failure != nil {
			if r.Failure.Checker != "linearizability" {
				t.Fatalf("seed %d failed in %s, want linearizability: %v", seed, r.Failure.Checker, r.Failure)
			}
			if r.Linearizability == "" {
				t.Fatalf("seed %d: no visualization", seed)
			}
			t.Logf("caught at seed %d: %v", seed, r.Failure)
			return
		}
	}
	t.Fatal("100 seeds did not catch a toy that acknowledges before its write is durable")
}

// The simulator itself is deterministic: a seed run twice gives one fingerprint, and
// seeds differ.
func TestToyDeterminism(t *testing.T) {
	seen := map[uint64]uint64{}
	for seed := uint64(1); seed <= 20; seed++ {
		a, b := sim.Run(simtest.Options(seed, false)), sim.Run(simtest.Options(seed, false))
		if a.Fingerprint != b.Fingerprint || a.Events != b.Events {
			t.Fatalf("seed %d: fingerprints %016x (%d events) and %016x (%d events)", seed, a.Fingerprint, a.Events, b.Fingerprint, b.Events)
		}
		if other, dup := seen[a.Fingerprint]; dup {
			t.Fatalf("seeds %d and %d share fingerprint %016x", other, seed, a.Fingerprint)
		}
		seen[a.Fingerprint] = seed
	}
}

// Keeping the trace changes nothing but what is kept.
func TestToyTraceKeepingKeepsFingerprint(t *testing.T) {
	opts := simtest.Options(5, false)
	a := sim.Run(opts)
	opts.KeepTrace = true
	b := sim.Run(opts)
	if a.Fingerprint != b.Fingerprint || b.Trace == nil || int64(len(b.Trace.Events)) != b.Events {
		t.Fatalf("fingerprint %016x vs %016x, trace %v", a.Fingerprint, b.Fingerprint, b.Trace != nil)
	}
	if err := b.Trace.CheckFingerprint(); err != nil {
		t.Fatal(err)
	}
	if err := traces.VerifyReplay(b.Trace.Header, sim.BuildTags(), sim.Replay(simtest.Options(0, false))); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkToySimulatedTime measures the simulator's own overhead: simulated seconds per
// wall second with the toy node, which does almost nothing.
func BenchmarkToySimulatedTime(b *testing.B) {
	var virtual time.Duration
	start := time.Now()
	for i := 0; i < b.N; i++ {
		r := sim.Run(simtest.Options(uint64(i+1), false))
		virtual += r.VirtualEnd
	}
	b.ReportMetric(virtual.Seconds()/time.Since(start).Seconds(), "sim-s/wall-s")
}

// haltingMachine stops its node once a second of its clock has passed since it started:
// with a broken invariant, or as after a failed write.
type haltingMachine struct {
	sim.Machine
	id         int32
	invariant  bool
	start, now int64
	halted     bool
}

func (h *haltingMachine) Start(now int64, rec disk.Recovered) {
	h.start, h.now = now, now
	h.Machine.Start(now, rec)
}

func (h *haltingMachine) Tick(now int64) {
	h.now = now
	h.Machine.Tick(now)
}

func (h *haltingMachine) Drain() core.Output {
	out := h.Machine.Drain()
	if !h.halted && h.now-h.start >= int64(time.Second) {
		h.halted = true
		return core.Output{Fatal: &core.FatalError{Node: h.id, Reason: "halting on purpose", Invariant: h.invariant}}
	}
	return out
}

// A fatal stop for a broken invariant fails the run; one after a failed write is an I/O
// fault the node restarts from.
func TestFatalBrokenInvariantFailsTheRun(t *testing.T) {
	for _, invariant := range []bool{true, false} {
		opts := simtest.Options(1, false)
		toy := opts.MachineFor
		opts.MachineFor = func(c *sim.Config) sim.NewMachine {
			newToy := toy(c)
			return func(cfg core.Config) (sim.Machine, error) {
				m, err := newToy(cfg)
				if err != nil || cfg.NodeID != c.Brokers()[0] {
					return m, err
				}
				return &haltingMachine{Machine: m, id: cfg.NodeID, invariant: invariant}, nil
			}
		}
		r := sim.Run(opts)
		switch {
		case invariant && (r.Failure == nil || r.Failure.Checker != "fatal"):
			t.Errorf("a broken invariant's fatal stop: %v, want a failure of checker fatal", r.Failure)
		case !invariant && r.Failure != nil:
			t.Errorf("a fatal stop after a failed write failed the run: %v", r.Failure)
		}
	}
}
