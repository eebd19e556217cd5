package sim

import (
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/plant"
)

// TestCTPIDExpirationOutlastsAPoll: in a seed with workers, a transactional id does
// not expire while a worker polls each input partition once (every one but the last
// empty, waiting the fetch's max wait) and processes the batch, or each new epoch of
// the worker expires before its first transaction and the group never drains (seed
// 1098 drew ids expiring after 310ms with fetches waiting up to 310ms on 4 partitions).
func TestCTPIDExpirationOutlastsAPoll(t *testing.T) {
	seen := 0
	for seed := uint64(1); seed <= 1500; seed++ {
		d := Draw(seed, plant.Set{}).Data
		if d.CTP.Workers == 0 || d.TxnIDExpiration == 0 {
			continue
		}
		seen++
		in, _ := d.topic(ctpInput)
		parts := max(d.PartitionsMax, in.Partitions)
		poll := time.Duration(parts)*(d.FetchWaitMax+dataBackoff) + processingMax
		if d.TxnIDExpiration <= poll {
			t.Errorf("seed %d: ids expire after %v, a worker's poll of %d partitions with fetch wait %v may take %v",
				seed, d.TxnIDExpiration, parts, d.FetchWaitMax, poll)
		}
	}
	if seen == 0 {
		t.Fatal("no seed drew workers with expiring transactional ids")
	}
	if d := Draw(1098, plant.Set{}).Data; d.CTP.Workers == 0 || d.TxnIDExpiration == 0 {
		t.Errorf("seed 1098 no longer draws workers with expiring ids")
	}
}
