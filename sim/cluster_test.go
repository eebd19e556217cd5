package sim_test

import (
	"testing"
	"time"

	"github.com/seedlog/seedlog/sim"
)

// These tests run the real node (core.Node over diskexec and disksim).

// realOptions runs the real node on a seed.
func realOptions(seed uint64) sim.Options { return sim.Options{Seed: seed} }

// requireNode fails the test with a clear message when this build cannot run the node.
func requireNode(t testing.TB) {
	t.Helper()
	r := sim.Run(sim.Options{Seed: 1, NoFaults: true, NoWorkload: true, Adjust: func(c *sim.Config) { c.SafetyDuration = time.Second }})
	if r.Failure != nil && r.Failure.Checker == "setup" {
		t.Fatalf("the real node cannot run in this build: %v", r.Failure.Message)
	}
}

// Determinism: each of 20 seeds run twice gives one fingerprint, and the seeds differ.
func TestDeterminism(t *testing.T) {
	requireNode(t)
	seen := map[uint64]uint64{}
	for seed := uint64(1); seed <= 20; seed++ {
		a, b := sim.Run(realOptions(seed)), sim.Run(realOptions(seed))
		if a.Fingerprint != b.Fingerprint || a.Events != b.Events {
			t.Fatalf("seed %d is not deterministic: %016x (%d events) then %016x (%d events)", seed, a.Fingerprint, a.Events, b.Fingerprint, b.Events)
		}
		if other, dup := seen[a.Fingerprint]; dup {
			t.Fatalf("seeds %d and %d share fingerprint %016x", other, seed, a.Fingerprint)
		}
		seen[a.Fingerprint] = seed
	}
}

// steadyLoad is a 3-node cluster under a steady metadata workload and no faults.
func steadyLoad(c *sim.Config) {
	c.Nodes = []sim.NodeSpec{{ID: 1, Voter: true, Broker: true}, {ID: 2, Voter: true, Broker: true}, {ID: 3, Voter: true, Broker: true}}
	c.Separate = false
	c.Faults = sim.FaultConfig{Interval: time.Second}
	c.Workload.Clients = 4
	c.Workload.OpInterval = 20 * time.Millisecond
	c.Workload.RFMax = 3
	c.SafetyDuration = 60 * time.Second
}

// BenchmarkSimulatedTime reports simulated seconds per wall second for a 3-node cluster
// under steady load.
func BenchmarkSimulatedTime(b *testing.B) {
	requireNode(b)
	var virtual time.Duration
	start := time.Now()
	for i := 0; i < b.N; i++ {
		r := sim.Run(sim.Options{Seed: uint64(i + 1), Adjust: steadyLoad})
		if r.Failure != nil {
			b.Fatalf("seed %d: %v", i+1, r.Failure)
		}
		virtual += r.VirtualEnd
	}
	b.ReportMetric(virtual.Seconds()/time.Since(start).Seconds(), "sim-s/wall-s")
}
