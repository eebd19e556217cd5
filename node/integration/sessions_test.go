package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A franz-go consumer of a topic with 50 partitions reads through a fetch session
// (KIP-227): one full fetch creates it, incremental fetches then name only what changed.
// It reads every record of every partition, in order and once, both what was there
// when it started and what is produced while it waits at the end, and the broker's
// metrics show the session and its incremental fetches.
func TestFetchSessionsReadManyPartitions(t *testing.T) {
	const (
		topic      = "wide"
		partitions = 50
		perRound   = 4 // records per partition per round
	)
	c := newClusterWith(t, 1, clusterOpts{settings: map[string]string{
		"default.replication.factor": "1",
		"min.insync.replicas":        "1",
	}})
	admin := c.client()
	c.waitBrokers(admin, 1)
	c.createTopic(admin, topic, partitions, 1)
	ctx := context.Background()
	prod := c.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produce := func(round int) {
		t.Helper()
		var recs []*kgo.Record
		for p := range int32(partitions) {
			for i := range perRound {
				recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "r%d-p%d-%d", round, p, i)})
			}
		}
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce round %d: %v", round, err)
		}
	}
	produce(0)

	cons := c.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond))
	next := map[int32]int{} // per partition: records read so far
	read := func(rounds int) {
		t.Helper()
		want := rounds * perRound
		deadline := time.Now().Add(60 * time.Second)
		for {
			done := true
			for p := range int32(partitions) {
				done = done && next[p] == want
			}
			if done {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("not every partition read %d records within 60s: %v", want, next)
			}
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			fs := cons.PollFetches(pctx)
			cancel()
			for _, e := range fs.Errors() {
				if e.Err != context.DeadlineExceeded {
					t.Fatalf("fetch %s/%d: %v", e.Topic, e.Partition, e.Err)
				}
			}
			fs.EachRecord(func(r *kgo.Record) {
				i := next[r.Partition]
				if wantV := fmt.Sprintf("r%d-p%d-%d", i/perRound, r.Partition, i%perRound); string(r.Value) != wantV || r.Offset != int64(i) {
					t.Fatalf("partition %d: read %q at %d, want %q at %d", r.Partition, r.Value, r.Offset, wantV, i)
				}
				next[r.Partition] = i + 1
			})
		}
	}
	read(1)
	// The consumer now long-polls at the end of every partition: new records reach it
	// through incremental fetches.
	for round := 1; round <= 3; round++ {
		produce(round)
		read(round + 1)
	}

	m := scrape(c.procs[0].metricsAddr)
	created, incremental := m["seedlog_fetch_sessions_created_total"], m["seedlog_fetch_session_incremental_total"]
	t.Logf("sessions created %v, incremental fetches %v, sessions %v holding %v partitions",
		created, incremental, m["seedlog_fetch_sessions"], m["seedlog_fetch_session_partitions"])
	if created < 1 || incremental < 3 {
		t.Fatalf("the consumer did not fetch through a session: %v created, %v incremental fetches", created, incremental)
	}
	if m["seedlog_fetch_sessions"] < 1 || m["seedlog_fetch_session_partitions"] < partitions {
		t.Fatalf("the broker holds %v sessions of %v partitions, want the consumer's with %d", m["seedlog_fetch_sessions"], m["seedlog_fetch_session_partitions"], partitions)
	}
}
