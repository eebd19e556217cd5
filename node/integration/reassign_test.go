package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
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

	load := c.startLoad(topic)
	time.Sleep(time.Second)

	// Grow: broker 4 starts and registers.
	c.start(3)
	c.waitBrokers(cl, 4)
	grown := time.Now()
	// Move a third of the partitions: each of partitions 0 and 3 swaps its last
	// replica for broker 4, the first under a replication throttle.
	for _, p := range c.partitions(cl, topic) {
		if p.Partition%3 != 0 {
			continue
		}
		target := slices.Clone(p.Replicas)
		target[len(target)-1] = 4
		args := []string{"cluster", "reassign", "-b", seeds, "--topic", topic, "--partition", fmt.Sprint(p.Partition),
			"--replicas", joinInts(target), "--timeout", "60s"}
		if p.Partition == 0 {
			args = append(args, "--throttle", "50000")
		}
		started := time.Now()
		r := runSeedlog(t, "", args...)
		t.Logf("partition %d moved to %v in %v (%s)", p.Partition, target, time.Since(started).Round(time.Millisecond), strings.Join(args[len(args)-2:], " "))
		if r.code != 0 || !strings.Contains(r.stdout, "every move done") || (p.Partition == 0 && !strings.Contains(r.stdout, "throttled.rate removed")) {
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

	load.finish(t, c.seeds()[1:], topic, parts)
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

// A broker stopped with SIGTERM (controlled shutdown) leaves the ISRs of its partitions
// and rejoins every one of them once it is back.
func TestControlledShutdownRejoinsISR(t *testing.T) {
	c := newCluster(t, 3)
	cl := c.client()
	c.waitBrokers(cl, 3)
	const topic, parts = "cs", 4
	c.createTopic(cl, topic, parts, 3)
	c.stop(2)
	c.eventually(30*time.Second, "broker 3 out of every ISR", func() bool {
		for _, p := range c.partitions(cl, topic) {
			if slices.Contains(p.ISR, 3) || p.Leader == 3 {
				return false
			}
		}
		return true
	})
	back := time.Now()
	c.start(2)
	c.eventually(60*time.Second, "broker 3 back in every ISR", func() bool {
		for _, p := range c.partitions(cl, topic) {
			if !slices.Contains(p.ISR, 3) {
				return false
			}
		}
		return true
	})
	t.Logf("broker 3 back in the ISRs of all %d partitions %v after its restart", parts, time.Since(back).Round(time.Millisecond))
}
