package partition

import (
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/pace"
)

// A replica a reassignment adds catches up no faster than the move throttle allows; an
// ISR member, and the same replica once the throttle is off, at once.
func TestMoveThrottlePacesAddedReplicas(t *testing.T) {
	batchBytes := int64(len(diskWith(0, 1).logs["t-0"].batches[0].data))
	for _, paced := range []bool{false, true} {
		throttle := &pace.Throttle{BytesPerSec: batchBytes} // a batch a second
		st := State{Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: 1, LeaderEpoch: 2, PartitionEpoch: 1, MinISR: 1}
		if paced {
			st.Adding = []int32{2}
		}
		leaderDisk := diskWith(0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1) // 20 records in 10 batches
		c := newClusterWith(t, 2, map[int32]*memDisk{1: leaderDisk}, st, func(cfg *Config) {
			cfg.MoveThrottle = throttle
			cfg.FollowerResponseBytesMax = int32(batchBytes) // one batch per answer
		})
		c.advance(3 * time.Second)
		got := c.r(2).Status().LogEndOffset
		if paced && (got < 4 || got > 10) {
			t.Fatalf("an added replica reached offset %d in 3 s at a batch (2 records) a second", got)
		}
		if !paced && got != 20 {
			t.Fatalf("an unthrottled replica reached offset %d, want 20", got)
		}
		if paced {
			c.advance(10 * time.Second)
			if got := c.r(2).Status().LogEndOffset; got != 20 {
				t.Fatalf("the added replica reached %d after 13 s, want 20", got)
			}
		}
	}
}
