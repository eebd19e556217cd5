package integration

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// producerLoad is an idempotent acks=all producer writing distinct values round-robin
// to a topic's partitions, a record a millisecond, until finish.
type producerLoad struct {
	prod          *kgo.Client
	stop          context.CancelFunc
	wg            sync.WaitGroup
	acked         sync.Map // value -> partition
	ackedN, fails atomic.Int64
	firstFail     atomic.Value // the first error, for the log
}

func (c *cluster) startLoad(topic string) *producerLoad {
	l := &producerLoad{prod: c.client(kgo.DefaultProduceTopic(topic), kgo.RecordRetries(1<<20), kgo.ProducerLinger(2*time.Millisecond),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))}
	ctx, stop := context.WithCancel(context.Background())
	l.stop = stop
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			v := fmt.Sprintf("v%d", i)
			l.prod.Produce(ctx, &kgo.Record{Value: []byte(v)}, func(r *kgo.Record, err error) {
				if err != nil {
					l.fails.Add(1)
					l.firstFail.CompareAndSwap(nil, err.Error())
					return
				}
				l.acked.Store(v, r.Partition)
				l.ackedN.Add(1)
			})
			time.Sleep(time.Millisecond)
		}
	}()
	return l
}

// perPartition counts the values acknowledged on each partition so far.
func (l *producerLoad) perPartition() map[int32]int {
	out := map[int32]int{}
	l.acked.Range(func(_, p any) bool { out[p.(int32)]++; return true })
	return out
}

// finish stops the load and checks that every acknowledged value is in the log of its
// partition, reading the partitions through seeds; it returns how many values each
// partition acknowledged.
func (l *producerLoad) finish(t *testing.T, seeds []string, topic string, parts int) map[int32]int {
	t.Helper()
	time.Sleep(500 * time.Millisecond)
	l.stop()
	l.wg.Wait()
	l.prod.Flush(context.Background())
	perPartition := l.perPartition()
	have := map[string]bool{}
	for p := range int32(parts) {
		for _, rec := range readPartition(t, seeds, topic, p) {
			have[string(rec.Value)] = true
		}
	}
	lost := 0
	l.acked.Range(func(k, _ any) bool {
		if !have[k.(string)] {
			lost++
		}
		return true
	})
	t.Logf("%d values acknowledged, %d failed (first: %v), %d lost", l.ackedN.Load(), l.fails.Load(), l.firstFail.Load(), lost)
	if lost > 0 || l.ackedN.Load() == 0 {
		t.Fatalf("%d of %d acknowledged values missing from the log", lost, l.ackedN.Load())
	}
	return perPartition
}
