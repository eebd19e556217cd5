package integration

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Preferred leaders come back after a restart, under franz-go load: a broker killed with
// SIGKILL loses its leaderships, and once it is back in the ISRs the leader rebalance
// (a check every 2 s here) moves them back; `seedlog cluster elect-leaders` then finds
// nothing to do, and no acknowledged record is lost.
func TestPreferredLeadersReturn(t *testing.T) {
	c := newClusterWith(t, 3, clusterOpts{settings: map[string]string{"leader.imbalance.check.interval.seconds": "2"}})
	cl := c.client()
	c.waitBrokers(cl, 3)
	const topic, parts = "pl", 6
	c.createTopic(cl, topic, parts, 3)
	preferred := map[int32]int32{}
	for _, p := range c.partitions(cl, topic) {
		preferred[p.Partition] = p.Replicas[0]
	}
	onPreferred := func() (int, string) {
		n, leaders := 0, []string{}
		for _, p := range c.partitions(cl, topic) {
			if p.Leader == preferred[p.Partition] {
				n++
			}
			leaders = append(leaders, fmt.Sprintf("%d:%d/%d", p.Partition, p.Leader, preferred[p.Partition]))
		}
		return n, strings.Join(leaders, " ")
	}
	c.eventually(30*time.Second, "every partition led by its preferred replica", func() bool { n, _ := onPreferred(); return n == parts })

	// Load: an idempotent acks=all producer for the whole test.
	prod := c.client(kgo.DefaultProduceTopic(topic), kgo.RecordRetries(1<<20), kgo.ProducerLinger(2*time.Millisecond),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	ctx, stop := context.WithCancel(context.Background())
	var acked sync.Map // value -> partition
	var ackedN, failed atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			v := fmt.Sprintf("v%d", i)
			prod.Produce(ctx, &kgo.Record{Value: []byte(v)}, func(r *kgo.Record, err error) {
				if err != nil {
					failed.Add(1)
					return
				}
				acked.Store(v, r.Partition)
				ackedN.Add(1)
			})
			time.Sleep(time.Millisecond)
		}
	}()

	victim := preferred[0] // broker ids are 1-based, procs 0-based
	c.kill(int(victim - 1))
	c.eventually(30*time.Second, fmt.Sprintf("broker %d's leaderships moved", victim), func() bool {
		for _, p := range c.partitions(cl, topic) {
			if p.Leader == victim {
				return false
			}
		}
		return true
	})
	moved, leaders := onPreferred()
	t.Logf("broker %d killed: %d of %d partitions on their preferred leader (%s)", victim, moved, parts, leaders)
	restarted := time.Now()
	c.start(int(victim - 1))
	c.eventually(60*time.Second, "preferred leaders back after the restart", func() bool { n, _ := onPreferred(); return n == parts })
	t.Logf("every preferred leader back %v after the restart", time.Since(restarted).Round(time.Millisecond))

	r := runSeedlog(t, "", "cluster", "elect-leaders", "-b", strings.Join(c.seeds(), ","), "--topic", topic)
	if r.code != 0 || strings.Count(r.stdout, "already led by its preferred replica") != parts {
		t.Errorf("cluster elect-leaders: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runSeedlog(t, "", "cluster", "elect-leaders", "-b", strings.Join(c.seeds(), ","), "--topic", topic, "--partition", "0", "--unclean")
	if r.code != 0 || !strings.Contains(r.stdout, "already led") {
		t.Errorf("an unclean election of a led partition: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	res, err := kadm.NewClient(cl).ElectLeaders(context.Background(), kadm.ElectPreferredReplica, nil)
	if err != nil || len(res) != 0 {
		t.Errorf("ElectLeaders of every partition once balanced: %v, %v", res, err)
	}

	time.Sleep(500 * time.Millisecond)
	stop()
	wg.Wait()
	prod.Flush(context.Background())
	perPartition := map[int32]int{}
	acked.Range(func(_, p any) bool { perPartition[p.(int32)]++; return true })
	t.Logf("acknowledged per partition: %v", perPartition)
	if len(perPartition) < parts {
		t.Fatalf("values were acknowledged on %d of %d partitions", len(perPartition), parts)
	}
	// Every acknowledged value is in the log of its partition.
	have := map[string]bool{}
	for p := range int32(parts) {
		for _, rec := range readPartition(t, c.seeds(), topic, p) {
			have[string(rec.Value)] = true
		}
	}
	lost := 0
	acked.Range(func(k, _ any) bool {
		if !have[k.(string)] {
			lost++
		}
		return true
	})
	t.Logf("%d values acknowledged, %d failed, %d lost", ackedN.Load(), failed.Load(), lost)
	if lost > 0 || ackedN.Load() == 0 {
		t.Fatalf("%d of %d acknowledged values missing from the log", lost, ackedN.Load())
	}
}
