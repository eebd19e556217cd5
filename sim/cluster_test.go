package sim_test

import (
	"maps"
	"slices"
	"strings"
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
	c.Data = sim.DataConfig{}
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

// steadyProduce is a 3-node cluster under a steady produce load (and readers, and one
// consumer group), without faults.
func steadyProduce(c *sim.Config) {
	c.Nodes = []sim.NodeSpec{{ID: 1, Voter: true, Broker: true}, {ID: 2, Voter: true, Broker: true}, {ID: 3, Voter: true, Broker: true}}
	c.Separate = false
	c.Faults = sim.FaultConfig{Interval: time.Second}
	c.Workload.Clients = 0
	// The same load in every run of the benchmark, whatever else the seed drew: only the
	// seed's timings and client knobs below stay its own, and every other workload kind
	// (transactions, movers, electors, deletes, credentials, quotas) is off.
	seeded := c.Data
	c.Data = sim.DataConfig{
		Topics: []sim.DataTopic{{Name: "d0", Partitions: 3, RF: 3, MinISR: 2}},
		Producers: []sim.ProducerSpec{
			{Acks: -1, Idempotent: true, InFlightMax: 5, RecordsMax: 3},
			{Acks: -1, InFlightMax: 2, RecordsMax: 2},
			{Acks: 1, InFlightMax: 2, RecordsMax: 1},
		},
		Readers: 2,
		// About 30 batches a second, plus the readers' and the group's fetches.
		OpInterval:        100 * time.Millisecond,
		Groups:            []sim.GroupSpec{{Name: "g0", Members: 2, Assignor: "range", Topics: []string{"d0"}}},
		FetchWaitMax:      seeded.FetchWaitMax,
		OffsetsPartitions: seeded.OffsetsPartitions,
		DeliveryTimeout:   seeded.DeliveryTimeout,
	}
	c.SafetyDuration = 60 * time.Second
}

// BenchmarkSteadyLoad reports simulated seconds per wall second for a 3-node cluster
// under a steady produce load.
func BenchmarkSteadyLoad(b *testing.B) {
	requireNode(b)
	var virtual time.Duration
	ops := 0
	start := time.Now()
	for i := 0; i < b.N; i++ {
		r := sim.Run(sim.Options{Seed: uint64(i + 1), Adjust: steadyProduce})
		if r.Failure != nil {
			b.Fatalf("seed %d: %v", i+1, r.Failure)
		}
		virtual += r.VirtualEnd
		ops += len(r.History.Ops)
	}
	b.ReportMetric(virtual.Seconds()/time.Since(start).Seconds(), "sim-s/wall-s")
	b.ReportMetric(float64(ops)/float64(b.N), "ops/run")
}

// powerLosses makes correlated power losses part of every seed's faults, often, with an
// acks=all producer in the workload. Partition corruption stays off: the loss it allows
// is another matter.
func powerLosses(c *sim.Config) {
	c.Faults.PartitionCorrupt = false
	c.Faults.PowerLoss = true
	c.Faults.Crash = true
	c.Faults.Interval = min(c.Faults.Interval, 2*time.Second)
	for _, p := range c.Data.Producers {
		if p.Acks == -1 {
			return
		}
	}
	c.Data.Producers = append(c.Data.Producers, sim.ProducerSpec{Acks: -1, InFlightMax: 2, RecordsMax: 2})
}

// With log.flush=async, a correlated power loss loses acknowledged acks=all records: the
// log checker reports it, as what that mode allows, within 500 seeds.
func TestAsyncFlushLosesAcknowledgedWrites(t *testing.T) {
	requireNode(t)
	for seed := uint64(1); seed <= 500; seed++ {
		r := sim.Run(sim.Options{Seed: seed, FlushAsync: true, Adjust: powerLosses})
		if len(r.Allowed) == 0 || !strings.Contains(r.Allowed[0], "acknowledged acks=all") {
			continue
		}
		if r.Failure != nil {
			t.Fatalf("seed %d: the allowed loss came with a failure: %v", seed, r.Failure)
		}
		if !strings.Contains(r.Config.String(), "log.flush=async") {
			t.Fatalf("seed %d: the configuration block does not say log.flush=async", seed)
		}
		t.Logf("seed %d: %s", seed, r.Allowed[0])
		return
	}
	t.Fatal("500 seeds with log.flush=async and power losses lost no acknowledged record")
}

// With the default log.flush=sync, the same correlated power losses lose nothing.
func TestSyncFlushSurvivesPowerLoss(t *testing.T) {
	requireNode(t)
	seeds := uint64(30)
	if testing.Short() {
		seeds = 10
	}
	losses := 0
	for seed := uint64(1); seed <= seeds; seed++ {
		r := sim.Run(sim.Options{Seed: seed, Adjust: powerLosses})
		if r.Coverage["fault:power-loss"] > 0 {
			losses++
		}
		if r.Failure != nil || len(r.Allowed) > 0 {
			t.Errorf("seed %d with power losses: %v %v", seed, r.Failure, r.Allowed)
		}
	}
	if losses == 0 {
		t.Fatal("no seed had a power loss")
	}
}

// The liveness phase may leave a minority of the brokers down for good: partitions that
// kept a live ISR member must still get a leader and serve, the others may stay offline,
// and every check must still pass. Every seed here leaves as many brokers down as the
// budget allows.
func TestLivenessWithBrokersLeftDown(t *testing.T) {
	requireNode(t)
	seeds := uint64(40)
	if testing.Short() {
		seeds = 12
	}
	leaveDown := func(c *sim.Config) {
		if n := (len(c.Brokers()) - 1) / 2; n > 0 {
			c.Faults.Crash = true
			c.Faults.LivenessDown = n
		}
	}
	cov := sim.Coverage{}
	for seed := uint64(1); seed <= seeds; seed++ {
		r := sim.Run(sim.Options{Seed: seed, Adjust: leaveDown})
		if r.Failure != nil {
			t.Errorf("seed %d: %v", seed, r.Failure)
		}
		cov.Merge(r.Coverage)
	}
	if cov["liveness:broker-left-down"] == 0 {
		t.Fatal("no seed left a broker down")
	}
	if cov["liveness:data-converged"] == 0 {
		t.Fatal("no seed probed its partitions")
	}
	t.Logf("left down %d, partitions offline %d, below min.insync %d, unread %d", cov["liveness:broker-left-down"],
		cov["liveness:partition-offline"], cov["liveness:probe-below-min-isr"], cov["liveness:partition-unread"])
}

// With log.flush=async a power loss can take records below a high watermark: the
// partition's history then cannot be linearizable, which the mode allows and the run
// reports as allowed, not as a failure. About one seed in a hundred loses committed
// records (the first is seed 161 since peer connections reset at crashes).
func TestAsyncLostCommittedRecordsAreAllowed(t *testing.T) {
	requireNode(t)
	const seeds = 300
	for seed := uint64(1); seed <= seeds; seed++ {
		r := sim.Run(sim.Options{Seed: seed, FlushAsync: true, Adjust: powerLosses})
		lost := slices.ContainsFunc(r.Allowed, func(a string) bool { return strings.Contains(a, "lost committed records") })
		if r.Failure != nil {
			t.Fatalf("seed %d with log.flush=async: %v", seed, r.Failure)
		}
		if lost {
			t.Logf("seed %d: %s", seed, r.Allowed[0])
			return
		}
	}
	t.Fatalf("%d seeds with log.flush=async and power losses never lost committed records", seeds)
}

// A run with log.flush=async records the mode in its trace, and a replay from the trace
// alone reproduces it.
func TestAsyncTraceReplays(t *testing.T) {
	requireNode(t)
	r := sim.Run(sim.Options{Seed: 5, FlushAsync: true, KeepTrace: true})
	h := r.Trace.Header
	if !slices.Contains(h.Modes, sim.ModeFlushAsync) {
		t.Fatalf("trace modes %v lack %s", h.Modes, sim.ModeFlushAsync)
	}
	got, err := sim.Replay(sim.Options{})(h)
	if err != nil || got != r.Fingerprint {
		t.Fatalf("replay: fingerprint %016x, %v; want %016x", got, err, r.Fingerprint)
	}
	if sync := sim.Run(sim.Options{Seed: 5}); sync.Fingerprint == r.Fingerprint {
		t.Fatal("the mode does not change the run: the test shows nothing")
	}
}

// Seeds whose consumer group once stopped making progress: a static leader that
// rejoined was not told it leads, and the leader's metadata checks waited on its poll
// loop.
func TestGroupRegressionSeeds(t *testing.T) {
	requireNode(t)
	for _, seed := range []uint64{1456, 2227} {
		if r := sim.Run(realOptions(seed)); r.Failure != nil {
			t.Errorf("seed %d: %v", seed, r.Failure)
		}
	}
}

// The per-step partition checker reads again only the replicas whose stamp moved
// (Inspect.ReplicaStamps). Reading every replica all the same (VerifyStamps), none
// changed under a stamp that stayed, and the runs are those without stamps: the same
// fingerprints, failures and coverage.
func TestReplicaStampsMissNoChange(t *testing.T) {
	requireNode(t)
	verify, plain := *sim.DefaultInspect, *sim.DefaultInspect
	verify.VerifyStamps = true
	plain.ReplicaStamps = nil
	seeds := uint64(12)
	if testing.Short() {
		seeds = 4
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		for _, async := range []bool{false, true} {
			a := sim.Run(sim.Options{Seed: seed, FlushAsync: async, Byzantine: seed%3 == 0, Inspect: &verify})
			b := sim.Run(sim.Options{Seed: seed, FlushAsync: async, Byzantine: seed%3 == 0, Inspect: &plain})
			if a.Fingerprint != b.Fingerprint || (a.Failure == nil) != (b.Failure == nil) {
				t.Fatalf("seed %d async %v: stamps verified %016x %v, no stamps %016x %v", seed, async, a.Fingerprint, a.Failure, b.Fingerprint, b.Failure)
			}
			if a.Failure != nil && a.Failure.Error() != b.Failure.Error() {
				t.Fatalf("seed %d async %v: stamps verified %v, no stamps %v", seed, async, a.Failure, b.Failure)
			}
			if !maps.Equal(a.Coverage, b.Coverage) {
				t.Fatalf("seed %d async %v: coverage with stamps verified %v, no stamps %v", seed, async, a.Coverage, b.Coverage)
			}
		}
	}
}

// VerifyStamps catches a stamp that does not move when its replica changes.
func TestVerifyStampsCatchesAStuckStamp(t *testing.T) {
	requireNode(t)
	stuck := *sim.DefaultInspect
	stuck.VerifyStamps = true
	stamps := stuck.ReplicaStamps
	stuck.ReplicaStamps = func(m sim.Machine, dst []sim.ReplicaStamp) ([]sim.ReplicaStamp, bool) {
		out, ok := stamps(m, dst)
		for i := range out {
			out[i].Changes = 0
		}
		return out, ok
	}
	r := sim.Run(sim.Options{Seed: 1, Inspect: &stuck})
	if r.Failure == nil || !strings.Contains(r.Failure.Error(), "under the same stamp") {
		t.Fatalf("a stuck stamp went unnoticed: %v", r.Failure)
	}
}

// The per-step partition checker compares replicas in place when the machine offers
// Inspect.ReplicaViews: with faults, it must count and find exactly what comparing the
// whole lists finds.
func TestReplicaChecksInPlaceMatchWholeLists(t *testing.T) {
	requireNode(t)
	whole := *sim.DefaultInspect
	whole.ReplicaViews = nil
	seeds := uint64(12)
	if testing.Short() {
		seeds = 4
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		a := sim.Run(sim.Options{Seed: seed})
		b := sim.Run(sim.Options{Seed: seed, Inspect: &whole})
		if a.Fingerprint != b.Fingerprint || (a.Failure == nil) != (b.Failure == nil) {
			t.Fatalf("seed %d: in place %016x %v, whole lists %016x %v", seed, a.Fingerprint, a.Failure, b.Fingerprint, b.Failure)
		}
		if a.Failure != nil && a.Failure.Error() != b.Failure.Error() {
			t.Fatalf("seed %d: in place %v, whole lists %v", seed, a.Failure, b.Failure)
		}
		if !maps.Equal(a.Coverage, b.Coverage) {
			t.Fatalf("seed %d: coverage in place %v, whole lists %v", seed, a.Coverage, b.Coverage)
		}
	}
}
