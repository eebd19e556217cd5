package partition

import (
	"testing"
	"time"
)

// An idle follower asks to be held longer after each answer that brought nothing, up to
// idleWaitMax, and the leader holds it that long; records set it back to the
// configured wait at once.
func TestIdleFollowerLongPollGrows(t *testing.T) {
	c := newClusterWith(t, 2, nil, State{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, MinISR: 2}, func(cfg *Config) {
		cfg.ReplicaLagMax = 10 * time.Second
	})
	var waits []int32
	c.tamper = func(m Message) {
		if f, ok := m.(*Fetch); ok && f.ReplicaID == 2 {
			waits = append(waits, f.MaxWaitMs)
		}
	}
	base := int32(c.base.FollowerFetchMaxWait / time.Millisecond)
	most := int32(c.r(2).cfg.idleWaitMax() / time.Millisecond)
	if most != 8*base {
		t.Fatalf("idle wait bound %d ms, want %d", most, 8*base)
	}
	c.advance(2 * time.Second)
	for i := 1; i < len(waits); i++ {
		if waits[i] != min(2*waits[i-1], most) {
			t.Fatalf("idle fetches asked to wait %v ms, want each twice the last, up to %d", waits, most)
		}
	}
	if len(waits) == 0 || waits[len(waits)-1] != most {
		t.Fatalf("idle fetches asked to wait %v ms, want them to reach %d", waits, most)
	}
	// Held that long: about 2 s / 160 ms fetches once grown, not 2 s / 20 ms.
	if n := len(waits); n > 20 {
		t.Fatalf("%d fetches in 2 s of idling", n)
	}
	waits = nil
	if p := c.produce(1, batchOf("a"), -1); p.one(t).Err != CodeNone {
		t.Fatalf("produce: %v", p.one(t).Err)
	}
	if len(waits) == 0 || waits[len(waits)-1] != base {
		t.Fatalf("after records the follower asked to wait %v ms, want %d", waits, base)
	}
	// The next answer, held the configured wait, brings the high watermark.
	c.advance(c.base.FollowerFetchMaxWait + time.Millisecond)
	if got := c.r(2).HighWatermark(); got != 1 {
		t.Fatalf("follower high watermark %d one wait after the write, want 1", got)
	}
}
