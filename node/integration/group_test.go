package integration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// crashableDialer hands out connections it can cut all at once, to make a client vanish
// the way a crashed process does: no LeaveGroup, no final commit.
type crashableDialer struct {
	mu      sync.Mutex
	conns   []net.Conn
	crashed bool
}

var errCrashed = errors.New("this client crashed")

func (d *crashableDialer) dial(ctx context.Context, network, host string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.crashed {
		return nil, errCrashed
	}
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, host)
	if err == nil {
		d.conns = append(d.conns, c)
	}
	return c, err
}

func (d *crashableDialer) crash() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.crashed = true
	for _, c := range d.conns {
		c.Close()
	}
}

// member is one group consumer and what it consumed.
type member struct {
	name   string
	cl     *kgo.Client
	dialer *crashableDialer

	mu       sync.Mutex
	seen     map[string]bool
	assigned []int32 // the partitions of its latest assignment
	rounds   int     // assignments received
}

func (m *member) onAssigned(_ context.Context, _ *kgo.Client, a map[string][]int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rounds++
	for _, ps := range a {
		m.assigned = append(m.assigned, ps...)
	}
}

func (m *member) onRevoked(_ context.Context, _ *kgo.Client, r map[string][]int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ps := range r {
		m.assigned = slices.DeleteFunc(m.assigned, func(p int32) bool { return slices.Contains(ps, p) })
	}
}

// consume polls until ctx ends, slowly enough that the test can crash a member midway.
func (m *member) consume(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	for ctx.Err() == nil {
		fs := m.cl.PollRecords(ctx, 100)
		if fs.IsClientClosed() {
			return
		}
		m.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) { m.seen[string(r.Value)] = true })
		m.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
}

func (m *member) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.seen)
}

// TestGroupSurvivesAMemberCrash runs three franz-go group consumers on a 6-partition
// topic of a 3-broker cluster while a producer writes, crashes one of them midway, and
// checks that the group rebalances (the survivors own all six partitions) and that
// together the members consumed every acknowledged record.
func TestGroupSurvivesAMemberCrash(t *testing.T) {
	const topic, group, partitions = "orders", "billing", 6
	c := newCluster(t, 3)
	admin := c.client()
	c.waitBrokers(admin, 3)
	c.createTopic(admin, topic, partitions, 3)

	pr := startProducerRoundRobin(t, c, topic, partitions)
	members := make([]*member, 3)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range members {
		m := &member{name: fmt.Sprintf("member-%d", i), dialer: &crashableDialer{}, seen: map[string]bool{}}
		m.cl = c.client(
			kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(500*time.Millisecond),
			kgo.AutoCommitInterval(300*time.Millisecond),
			kgo.OnPartitionsAssigned(m.onAssigned), kgo.OnPartitionsRevoked(m.onRevoked),
			kgo.Dialer(m.dialer.dial), kgo.ClientID(m.name),
		)
		members[i] = m
		wg.Add(1)
		go m.consume(ctx, &wg)
	}
	defer func() { stop(); wg.Wait() }()

	c.eventually(60*time.Second, "each member consuming", func() bool {
		return members[0].count() > 100 && members[1].count() > 100 && members[2].count() > 100
	})
	victim := members[1]
	victim.mu.Lock()
	t.Logf("crashing %s, which owns partitions %v after %d records", victim.name, victim.assigned, len(victim.seen))
	victim.mu.Unlock()
	victim.dialer.crash()

	survivors := []*member{members[0], members[2]}
	c.eventually(60*time.Second, "the survivors owning all six partitions", func() bool {
		var owned []int32
		for _, m := range survivors {
			m.mu.Lock()
			owned = append(owned, m.assigned...)
			m.mu.Unlock()
		}
		slices.Sort(owned)
		return slices.Equal(owned, []int32{0, 1, 2, 3, 4, 5})
	})
	time.Sleep(time.Second) // let the survivors consume from their new partitions
	pr.finish(t)
	acked := pr.acks.total
	t.Logf("%d records acknowledged; waiting for the survivors to consume them", acked)

	missing := func() []string {
		var out []string
		for _, vs := range pr.acks.acked {
			for _, v := range vs {
				found := false
				for _, m := range members {
					m.mu.Lock()
					found = found || m.seen[v]
					m.mu.Unlock()
				}
				if !found {
					out = append(out, v)
				}
			}
		}
		return out
	}
	deadline := time.Now().Add(60 * time.Second)
	for miss := missing(); len(miss) > 0; miss = missing() {
		if time.Now().After(deadline) {
			slices.Sort(miss)
			t.Fatalf("%d of %d acknowledged records consumed by no member, e.g. %v", len(miss), acked, miss[:min(5, len(miss))])
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, m := range survivors {
		m.mu.Lock()
		if m.rounds < 2 {
			t.Errorf("%s got %d assignments; the crash should have caused a rebalance", m.name, m.rounds)
		}
		m.mu.Unlock()
	}
}

// startProducerRoundRobin is startProducer at a gentler pace, so that consumers keep up.
func startProducerRoundRobin(t *testing.T, c *cluster, topic string, partitions int32) *producer {
	cl := c.client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithCancel(context.Background())
	pr := &producer{cl: cl, acks: &ackLog{acked: map[int32][]string{}}, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(pr.done)
		for i := 0; ctx.Err() == nil; i++ {
			p := int32(i) % partitions
			cl.Produce(context.Background(), &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprintf("%d-%07d", p, i))},
				func(r *kgo.Record, err error) { pr.acks.add(r.Partition, string(r.Value), err) })
			time.Sleep(time.Millisecond)
		}
	}()
	return pr
}
