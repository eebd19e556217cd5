//go:build simbugs

package partition

import (
	"testing"

	"github.com/seedlog/seedlog/core/plant"
)

// TestPlantsCaught shows that the randomized cluster's checkers catch each planted bug of
// this package within 200 seeds. serve-after-lease needs clocks that disagree and is
// covered by TestLeaseGatesServing's planted variant instead.
func TestPlantsCaught(t *testing.T) {
	for _, name := range []string{"ack-before-isr-sync", "fetch-above-hw", "truncate-to-own-hw", "idempotent-dup", "early-read-new-leader", "delete-records-leader-only"} {
		t.Run(name, func(t *testing.T) {
			set, err := plant.Parse(name)
			if err != nil {
				t.Fatal(err)
			}
			for seed := range uint64(200) {
				failures, cfg, _ := runSim(seed, set, nil)
				if len(failures) > 0 {
					t.Logf("caught at seed %d (%s): %s", seed, cfg, failures[0])
					return
				}
			}
			t.Fatalf("plant %s not caught in 200 seeds", name)
		})
	}
}

// serve-after-lease: a leader whose lease lapsed keeps serving.
func TestPlantServeAfterLease(t *testing.T) {
	set, err := plant.Parse("serve-after-lease")
	if err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, 3, 1, func(cfg *Config) { cfg.Plants = set })
	c.produce(1, batchOf("a"), -1)
	c.node(1).lease = false
	if got := c.produce(1, batchOf("b"), -1).one(t).Err; got != CodeNone {
		t.Fatalf("planted: produce after the lease: %d", got)
	}
	if got := c.fetch(1, FetchRequest{CurrentLeaderEpoch: -1, MaxBytes: 100}).one(t).Err; got != CodeNone {
		t.Fatalf("planted: fetch after the lease: %d", got)
	}
}

// reset-durable-at-once: the follower reports the log start it restarts at as durable
// before its Reset is done.
func TestPlantResetDurableAtOnce(t *testing.T) {
	set, err := plant.Parse("reset-durable-at-once")
	if err != nil {
		t.Fatal(err)
	}
	if got := resetDurableReported(t, func(cfg *Config) { cfg.Plants = set }); got < 10 {
		t.Fatalf("planted: the follower reported at most offset %d durable before its Reset was done", got)
	}
}

// follower-reports-unsynced-durable: the follower's fetch after an append claims the
// appended records durable before their sync is done.
func TestPlantFollowerReportsUnsyncedDurable(t *testing.T) {
	set, err := plant.Parse("follower-reports-unsynced-durable")
	if err != nil {
		t.Fatal(err)
	}
	if _, claimed, answered := syncOverlap(t, func(cfg *Config) { cfg.Plants = set }); claimed < 1 || !answered {
		t.Fatalf("planted: the follower claimed offset %d durable before its sync; produce answered %v", claimed, answered)
	}
}

// handoff-replaced-only: after two leadership moves, the second leader waits only for
// the first (gone from the ISR), not for the leader the first was waiting for, and
// serves while that one may still lead.
func TestPlantHandoffReplacedOnly(t *testing.T) {
	set, err := plant.Parse("handoff-replaced-only")
	if err != nil {
		t.Fatal(err)
	}
	if _, second, served := chainedHandoff(t, func(cfg *Config) { cfg.Plants = set }); len(second) != 0 || !served {
		t.Fatalf("planted: the leader of epoch 4 waits for %v and served %v; want nobody and a write taken", second, served)
	}
}
