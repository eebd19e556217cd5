package txn

import (
	"fmt"
	"testing"
	"time"
)

// Run with
//
//	go test ./core/txn -run '^$' -bench Coordinator -benchtime 2000x
//
// BenchmarkCoordinatorRequests measures one transaction of one producer (AddPartitions,
// EndTxn, a marker round refused once and retried at its Tick, Deadline after each
// input) while the coordinator holds 10k or 100k other idle transactional ids: the
// cost per request must not grow with the ids that have nothing due.
func BenchmarkCoordinatorRequests(b *testing.B) {
	for _, ids := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("ids=%d", ids), func(b *testing.B) { benchRequests(b, ids) })
	}
}

// benchLog is a Log whose appends are durable at once; it keeps nothing.
type benchLog struct{ next int64 }

func (l *benchLog) Append(_ int64, recs []KV, done func(int64, error)) {
	base := l.next
	l.next += int64(len(recs))
	done(base, nil)
}

func (l *benchLog) Load(_ int64, _ func([]byte), done func(error)) { done(nil) }

func benchRequests(b *testing.B, ids int) {
	now := int64(time.Hour)
	nextPID := int64(1000)
	refuse := true // the first round of each transaction fails, to be retried at a Tick
	cfg := DefaultConfig(0, 1)
	cfg.TxnsMax = ids + 1
	cfg.NewProducerID = func(reply func(int64, int16)) { nextPID++; reply(nextPID, 0) }
	cfg.SendMarkers = func(_ int64, m MarkerRequest, done func([]int16)) {
		codes := make([]int16, len(m.Partitions))
		if refuse {
			for i := range codes {
				codes[i] = codeNotCoordinator
			}
		}
		refuse = false
		done(codes)
	}
	c := NewCoordinator(now, cfg, &benchLog{})
	for i := range ids {
		c.InitProducerID(now, fmt.Sprintf("idle-%06d", i), 60000, -1, -1, func(int64, int16, int16) {})
	}
	var pid int64
	var epoch int16
	c.InitProducerID(now, "busy", 60000, -1, -1, func(p int64, e int16, code int16) {
		if code != 0 {
			b.Fatalf("InitProducerID: %d", code)
		}
		pid, epoch = p, e
	})
	parts := tps("t", 0, 1)
	b.ResetTimer()
	for range b.N {
		now += int64(time.Millisecond)
		refuse = true
		c.AddPartitions(now, "busy", pid, epoch, parts, func([]int16) {})
		c.Deadline()
		c.EndTxn(now, "busy", pid, epoch, true, func(int16) {})
		now = c.Deadline()
		c.Tick(now)
		c.Deadline()
	}
	b.StopTimer()
	if st := c.Describe([]string{"busy"})[0]; st.State != "CompleteCommit" {
		b.Fatalf("busy is %s", st.State)
	}
}
