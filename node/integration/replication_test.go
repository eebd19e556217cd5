package integration

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ackLog records, per partition, the values whose produce was acknowledged.
type ackLog struct {
	mu       sync.Mutex
	acked    map[int32][]string
	failed   int
	firstErr error
	total    int
}

func (a *ackLog) add(p int32, v string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		if a.failed == 0 {
			a.firstErr = err
		}
		a.failed++
		return
	}
	a.acked[p] = append(a.acked[p], v)
	a.total++
}

func (a *ackLog) counts() (total, onPartition0 int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.total, len(a.acked[0])
}

// producer writes values "<partition>-<seq>" round-robin to the partitions of a topic
// with an idempotent acks=all franz-go producer, until stopped.
type producer struct {
	cl   *kgo.Client
	acks *ackLog
	stop context.CancelFunc
	done chan struct{}
}

func startProducer(t *testing.T, c *cluster, topic string, partitions int32) *producer {
	cl := c.client(
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotence is on by default
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.MaxBufferedRecords(2000),
		kgo.ProducerLinger(2*time.Millisecond),
	)
	ctx, cancel := context.WithCancel(context.Background())
	pr := &producer{cl: cl, acks: &ackLog{acked: map[int32][]string{}}, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(pr.done)
		seq := make([]int, partitions)
		for i := 0; ctx.Err() == nil; i++ {
			p := int32(i) % partitions
			v := fmt.Sprintf("%d-%07d", p, seq[p])
			seq[p]++
			// Not ctx: a record buffered when the test stops producing still goes out
			// and gets an outcome at finish.
			cl.Produce(context.Background(), &kgo.Record{Topic: topic, Partition: p, Value: []byte(v)}, func(r *kgo.Record, err error) {
				pr.acks.add(r.Partition, string(r.Value), err)
			})
			if i%50 == 49 {
				time.Sleep(5 * time.Millisecond) // a steady stream, not a flood
			}
		}
	}()
	return pr
}

// finish stops producing and waits for every outstanding record's outcome.
func (pr *producer) finish(t *testing.T) {
	pr.stop()
	<-pr.done
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := pr.cl.Flush(ctx); err != nil {
		t.Fatalf("flushing the producer: %v", err)
	}
}

// waitAcked waits until the producer's acknowledged count reaches total (and, if
// onPartition0 > 0, partition 0's reaches onPartition0).
func (pr *producer) waitAcked(t *testing.T, limit time.Duration, total, onPartition0 int) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		tot, p0 := pr.acks.counts()
		if tot >= total && p0 >= onPartition0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %d acknowledged (want %d), %d on partition 0 (want %d)", limit, tot, total, p0, onPartition0)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkPartition checks one partition's log against what was acknowledged: offsets
// dense from 0, no value twice, values in production order, every acknowledged value
// present. Values written but not acknowledged (their outcome unknown) may be present.
func checkPartition(t *testing.T, p int32, recs []*kgo.Record, acked []string) {
	t.Helper()
	seen := map[string]int64{}
	prev := ""
	for i, r := range recs {
		if r.Offset != int64(i) {
			t.Fatalf("partition %d: record %d has offset %d (offsets not dense)", p, i, r.Offset)
		}
		v := string(r.Value)
		if at, dup := seen[v]; dup {
			t.Fatalf("partition %d: %q at offsets %d and %d", p, v, at, r.Offset)
		}
		if v <= prev {
			t.Fatalf("partition %d: %q at offset %d after %q (reordered)", p, v, r.Offset, prev)
		}
		seen[v], prev = r.Offset, v
	}
	for _, v := range acked {
		if _, ok := seen[v]; !ok {
			t.Fatalf("partition %d: acknowledged %q is missing (log has %d records)", p, v, len(recs))
		}
	}
}

// TestReplicationSurvivesKillAndRestart runs three broker processes, writes to a
// topic with replication factor 3 through an idempotent acks=all franz-go producer,
// kills -9 the leader of partition 0 while writing, restarts it, and then checks each
// partition: every acknowledged record is there once, offsets are dense. Then it kills
// the whole cluster, restarts it and reads everything again.
func TestReplicationSurvivesKillAndRestart(t *testing.T) {
	const topic, partitions = "events", 3
	c := newCluster(t, 3)
	admin := c.client()
	c.waitBrokers(admin, 3)
	c.createTopic(admin, topic, partitions, 3)

	pr := startProducer(t, c, topic, partitions)
	pr.waitAcked(t, 30*time.Second, 1500, 300)

	// Kill the leader only while partition 0 has a full ISR: a leader alone in its ISR
	// takes the partition offline with it (unclean election is off), by design.
	var leader int32
	c.eventually(30*time.Second, "partition 0 with a full ISR", func() bool {
		for _, p := range c.partitions(admin, topic) {
			if p.Partition == 0 && len(p.ISR) == 3 {
				leader = p.Leader
				return true
			}
		}
		return false
	})
	total, p0 := pr.acks.counts()
	t.Logf("kill -9 broker %d, leader of partition 0, after %d acknowledged records", leader, total)
	c.kill(int(leader - 1))
	pr.waitAcked(t, 60*time.Second, total+1500, p0+300)
	total, p0 = pr.acks.counts()
	t.Logf("partition 0 failed over; restarting broker %d after %d acknowledged records", leader, total)
	c.start(int(leader - 1))
	c.eventually(60*time.Second, "the restarted broker back in every ISR", func() bool {
		ps := c.partitions(admin, topic)
		ok := len(ps) == partitions
		for _, p := range ps {
			ok = ok && slices.Contains(p.ISR, leader)
		}
		return ok
	})
	pr.waitAcked(t, 30*time.Second, total+1500, p0+300)
	pr.finish(t)
	t.Logf("%d records acknowledged, %d failed (first error: %v)", pr.acks.total, pr.acks.failed, pr.acks.firstErr)

	before := map[int32][]*kgo.Record{}
	for p := range int32(partitions) {
		before[p] = readPartition(t, c.seeds(), topic, p)
		checkPartition(t, p, before[p], pr.acks.acked[p])
	}

	t.Log("kill -9 every broker, restart the cluster, read everything again")
	for i := range c.procs {
		c.kill(i)
	}
	for i := range c.procs {
		c.start(i)
	}
	for p := range int32(partitions) {
		after := readPartition(t, c.seeds(), topic, p)
		checkPartition(t, p, after, pr.acks.acked[p])
		if len(after) != len(before[p]) {
			t.Fatalf("partition %d: %d records before the restart, %d after", p, len(before[p]), len(after))
		}
		for i := range after {
			if string(after[i].Value) != string(before[p][i].Value) {
				t.Fatalf("partition %d offset %d: %q before the restart, %q after", p, i, before[p][i].Value, after[i].Value)
			}
		}
	}

	// SIGTERM: each broker hands its leaderships over and exits 0.
	for i := range c.procs {
		c.stop(i)
	}
}
