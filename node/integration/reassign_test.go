package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A cluster grows and shrinks under franz-go load: three brokers take a fourth, a third
// of the partitions move onto it (`seedlog cluster reassign`), broker 1 is
// decommissioned (`seedlog cluster decommission`, which moves its replicas away, then
// unregisters it once stopped), and no acknowledged record is lost.
func TestGrowMoveDecommission(t *testing.T) {
	c := newClusterWith(t, 3, clusterOpts{extraBrokers: 1})
	cl := c.client()
	c.waitBrokers(cl, 3)
	const topic, parts = "mv", 6
	c.createTopic(cl, topic, parts, 3)
	seeds := strings.Join(c.seeds(), ",")

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
	time.Sleep(time.Second)

	// Grow: broker 4 starts and registers.
	c.start(3)
	c.waitBrokers(cl, 4)
	grown := time.Now()
	// Move a third of the partitions: each of partitions 0 and 3 swaps its last
	// replica for broker 4.
	for _, p := range c.partitions(cl, topic) {
		if p.Partition%3 != 0 {
			continue
		}
		target := slices.Clone(p.Replicas)
		target[len(target)-1] = 4
		r := runSeedlog(t, "", "cluster", "reassign", "-b", seeds, "--topic", topic, "--partition", fmt.Sprint(p.Partition),
			"--replicas", joinInts(target), "--timeout", "60s")
		if r.code != 0 || !strings.Contains(r.stdout, "every move done") {
			t.Fatalf("cluster reassign of partition %d to %v: exit %d\n%s%s", p.Partition, target, r.code, r.stdout, r.stderr)
		}
	}
	onFour := 0
	for _, p := range c.partitions(cl, topic) {
		if slices.Contains(p.Replicas, 4) {
			onFour++
			if !slices.Contains(p.ISR, 4) || len(p.Replicas) != 3 {
				t.Errorf("partition %d after its move: replicas %v, ISR %v", p.Partition, p.Replicas, p.ISR)
			}
		}
	}
	if onFour != parts/3 {
		t.Fatalf("%d partitions on broker 4, want %d", onFour, parts/3)
	}
	t.Logf("broker 4 joined and holds %d partitions %v after it started", onFour, time.Since(grown).Round(time.Millisecond))

	// Decommission broker 1: its replicas move away while it runs; once stopped, it is
	// unregistered.
	moved := time.Now()
	r := runSeedlog(t, "", "cluster", "decommission", "-b", seeds, "--broker", "1", "--timeout", "90s")
	if r.code != 0 || !strings.Contains(r.stdout, "stop it, then run") {
		t.Fatalf("cluster decommission while broker 1 runs: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, p := range c.partitions(cl, topic) {
		if slices.Contains(p.Replicas, 1) || len(p.Replicas) != 3 {
			t.Errorf("partition %d after the decommission: replicas %v", p.Partition, p.Replicas)
		}
	}
	t.Logf("broker 1's replicas moved away in %v", time.Since(moved).Round(time.Millisecond))
	c.stop(0)
	c.eventually(30*time.Second, "broker 1 unregistered", func() bool {
		r = runSeedlog(t, "", "cluster", "decommission", "-b", strings.Join(c.seeds()[1:], ","), "--broker", "1")
		return r.code == 0 && strings.Contains(r.stdout, "is unregistered")
	})
	brokers, err := kadm.NewClient(c.client(kgo.SeedBrokers(c.seeds()[1:]...))).ListBrokers(context.Background())
	if err != nil || slices.Contains(brokers.NodeIDs(), 1) || len(brokers) != 3 {
		t.Errorf("brokers after the decommission: %v, %v", brokers.NodeIDs(), err)
	}

	time.Sleep(500 * time.Millisecond)
	stop()
	wg.Wait()
	prod.Flush(context.Background())
	have := map[string]bool{}
	for p := range int32(parts) {
		for _, rec := range readPartition(t, c.seeds()[1:], topic, p) {
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

func joinInts(ids []int32) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = fmt.Sprint(id)
	}
	return strings.Join(out, ",")
}

// The reassignment commands say what was wrong, in words, with exit code 1.
func TestReassignRefusals(t *testing.T) {
	c := newCluster(t, 3)
	cl := c.client()
	c.waitBrokers(cl, 3)
	c.createTopic(cl, "rr", 1, 3)
	seeds := strings.Join(c.seeds(), ",")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"cluster", "reassign", "--topic", "rr", "--partition", "0", "--replicas", "1,9"}, 1, "broker 9 is not registered"},
		{[]string{"cluster", "reassign", "--topic", "nosuch", "--replicas", "1"}, 1, "topic nosuch does not exist"},
		{[]string{"cluster", "reassign", "--topic", "rr", "--cancel"}, 1, "NO_REASSIGNMENT_IN_PROGRESS"},
		{[]string{"cluster", "reassign", "--list"}, 0, "no partition is moving"},
		{[]string{"cluster", "decommission", "--broker", "2"}, 1, "has a replica on every other broker"},
	} {
		r := runSeedlog(t, "", append(tc.args, "-b", seeds)...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
			t.Errorf("seedlog %s: exit %d, want %d and %q\n%s%s", strings.Join(tc.args, " "), r.code, tc.code, tc.want, r.stdout, r.stderr)
		}
	}
}
