//go:build simbugs

package partition

import (
	"testing"

	"github.com/seedlog/seedlog/core/plant"
)

// lso-ignores-open-txn: the last stable offset is the high watermark; the checks of
// TestTxnLastStableOffset catch it.
func TestPlantLsoIgnoresOpenTxn(t *testing.T) {
	set, err := plant.Parse("lso-ignores-open-txn")
	if err != nil {
		t.Fatal(err)
	}
	err = lsoHeldByOpenTxn(t, func(cfg *Config) { cfg.Plants = set })
	if err == nil {
		t.Fatal("planted: read_committed readers saw no difference")
	}
	t.Logf("caught: %v", err)
}

// txn-fenced-epoch-accepted: a zombie's transactional batch of a fenced epoch is
// appended; the checks of TestTxnFencedEpochRefused catch it.
func TestPlantTxnFencedEpochAccepted(t *testing.T) {
	set, err := plant.Parse("txn-fenced-epoch-accepted")
	if err != nil {
		t.Fatal(err)
	}
	err = fencedEpochRefused(t, func(cfg *Config) { cfg.Plants = set })
	if err == nil {
		t.Fatal("planted: the fenced batch was refused anyway")
	}
	t.Logf("caught: %v", err)
}

// The randomized cluster with transactions catches lso-ignores-open-txn too:
// read_committed consumers deliver records of transactions that abort; and
// reset-forgets-open-txns, where a reset follower, leading later, shows a last stable
// offset past one a consumer saw lower after it (the seeds delete records, so logs
// start over past open transactions). (Its producers seldom get fenced, and a fenced
// one seldom has a batch left in flight, so txn-fenced-epoch-accepted is left to
// TestPlantTxnFencedEpochAccepted.)
func TestPlantsCaughtWithTransactions(t *testing.T) {
	for _, name := range []string{"lso-ignores-open-txn", "reset-forgets-open-txns"} {
		t.Run(name, func(t *testing.T) {
			set, err := plant.Parse(name)
			if err != nil {
				t.Fatal(err)
			}
			for seed := range uint64(300) {
				w := runWorld(seed, set, withTxns, false)
				if len(w.failures) > 0 {
					t.Logf("caught at seed %d (%s): %s", seed, w.cfg, w.failures[0])
					return
				}
			}
			t.Fatalf("plant %s not caught in 300 seeds", name)
		})
	}
}
