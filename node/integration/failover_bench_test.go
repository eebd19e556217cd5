package integration

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkLeaderFailover measures how long produce stops when a partition's leader is
// killed with SIGKILL: 3 brokers (each a voter), one partition with 3 replicas, an
// acks=all idempotent producer writing one record at a time. Each round kills the
// partition's current leader, which is the active controller too in about one round of
// three, and times the first produce started after the kill that is acknowledged; the
// broker is then started again and the next round waits for a full ISR. The metrics
// are the median and the largest of those times, for seedlog's default timeouts and
// for Kafka's (core.KafkaTiming: a session 6 times longer), in the same run:
//
//	go test ./node/integration -run '^$' -bench LeaderFailover -benchtime 20x -timeout 60m
func BenchmarkLeaderFailover(b *testing.B) {
	profiles := []struct {
		name   string
		timing map[string]string
	}{
		{"seedlog-defaults", timingSettings(core.DefaultTiming)},
		{"kafka-timeouts", timingSettings(core.KafkaTiming)},
	}
	for _, p := range profiles {
		b.Run(p.name, func(b *testing.B) { benchFailover(b, p.timing) })
	}
}

func benchFailover(b *testing.B, timing map[string]string) {
	c := newClusterWith(b, 3, clusterOpts{settings: timing})
	admin := c.client()
	c.waitBrokers(admin, 3)
	c.createTopic(admin, "failover", 1, 3)
	// The client asks for new metadata at most every 100 ms and retries after 50 ms: the
	// times are the cluster's, not the client's backoff.
	pr := c.client(kgo.DefaultProduceTopic("failover"), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MetadataMinAge(100*time.Millisecond), kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.RecordDeliveryTimeout(60*time.Second))
	var (
		mu    sync.Mutex
		acked []span // acknowledged produces, in order
	)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			start := time.Now()
			if err := pr.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err == nil {
				mu.Lock()
				acked = append(acked, span{start, time.Now()})
				mu.Unlock()
			}
		}
	}()
	defer func() { stop(); <-done }()
	// firstAfter returns the first acknowledged produce started at or after at.
	firstAfter := func(at time.Time) (span, bool) {
		mu.Lock()
		defer mu.Unlock()
		i, _ := slices.BinarySearchFunc(acked, at, func(s span, at time.Time) int { return s.start.Compare(at) })
		if i == len(acked) {
			return span{}, false
		}
		return acked[i], true
	}
	var took []time.Duration
	b.ResetTimer()
	for round := range b.N {
		var leader int
		c.eventually(120*time.Second, "a leader with a full ISR and produce acknowledged", func() bool {
			ps := c.partitions(admin, "failover")
			if len(ps) != 1 || ps[0].Leader < 0 || len(ps[0].ISR) != 3 {
				return false
			}
			leader = int(ps[0].Leader) - 1
			_, ok := firstAfter(time.Now().Add(-time.Second))
			return ok
		})
		ctrl := c.activeController()
		c.kill(leader)
		killed := time.Now()
		var first span
		c.eventually(120*time.Second, "produce resumed", func() bool {
			var ok bool
			first, ok = firstAfter(killed)
			return ok
		})
		d := first.end.Sub(killed)
		took = append(took, d)
		b.Logf("round %d: killed broker %d (the active controller: %v); produce resumed after %v",
			round, leader+1, ctrl == leader, d.Round(time.Millisecond))
		c.start(leader)
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(took[len(took)/2].Seconds(), "p50-s")
	b.ReportMetric(took[len(took)-1].Seconds(), "max-s")
}

// timingSettings are the broker settings of t's failover timeouts.
func timingSettings(t core.Timing) map[string]string {
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	return map[string]string{"request.timeout.ms": ms(t.RequestTimeout),
		"controller.quorum.election.timeout.ms": ms(t.ElectionTimeout), "controller.quorum.fetch.max.wait.ms": ms(t.QuorumFetchMaxWait),
		"controller.quorum.fetch.timeout.ms": ms(t.QuorumFetchTimeout), "broker.heartbeat.interval.ms": ms(t.HeartbeatInterval),
		"broker.session.timeout.ms": ms(t.SessionTimeout), "broker.lease.ms": ms(t.LeaseDuration)}
}

// span is when a produce was sent and when it was acknowledged.
type span struct{ start, end time.Time }
