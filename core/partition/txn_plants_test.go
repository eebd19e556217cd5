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
