package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The lifetime of committed offsets on a real broker, driven by franz-go: OffsetDelete
// of an Empty group's offsets is answered once durable and survives a kill -9; a live
// consumer group keeps the offsets of the topic it consumes (GROUP_SUBSCRIBED_TO_TOPIC);
// and with the smallest retention Kafka allows (one minute) the offsets of a group whose
// last member left expire a minute later, while those of a group whose member stays,
// committing nothing more, are kept. It waits for most of its run, so it runs beside
// the other parallel tests (TestKcat, TestAdminCommands) once the others are done.
func TestCommittedOffsetsLifecycle(t *testing.T) {
	t.Parallel()
	const topic = "lifecycle"
	c := newClusterWith(t, 1, clusterOpts{settings: map[string]string{
		"default.replication.factor":          "1",
		"min.insync.replicas":                 "1",
		"offsets.retention.minutes":           "1",
		"offsets.retention.check.interval.ms": "500",
	}})
	admin := c.client()
	c.waitBrokers(admin, 1)
	c.createTopic(admin, topic, 2, 1)
	ctx := context.Background()
	prod := c.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 20 {
		r := &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: fmt.Appendf(nil, "v%d", i)}
		if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	prod.Close()

	// A member that commits once and then only heartbeats, and one that leaves.
	live := groupMember(t, c, "live", topic)
	defer live.Close()
	gone := groupMember(t, c, "gone", topic)
	gone.Close() // LeaveGroup: the group is Empty from now
	emptied := time.Now()

	// OffsetDelete of a group without members: answered NONE, durable.
	c.eventually(30*time.Second, "commits of group admin", func() bool {
		return commitOffsets(admin, "admin", topic, map[int32]int64{0: 3, 1: 4}) == nil
	})
	resp := deleteOffsets(t, admin, "admin", topic, 0)
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("OffsetDelete of an Empty group: %+v", resp)
	}
	if got := committed(t, admin, "admin", topic); got[0] != -1 || got[1] != 4 {
		t.Fatalf("after OffsetDelete of partition 0: offsets %v, want -1 and 4", got)
	}
	// A live consumer group keeps the offsets of the topic it consumes.
	resp = deleteOffsets(t, admin, "live", topic, 0, 1)
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 {
		t.Fatalf("OffsetDelete of a live group: %+v", resp)
	}
	for _, p := range resp.Topics[0].Partitions {
		if p.ErrorCode != kerr.GroupSubscribedToTopic.Code {
			t.Errorf("OffsetDelete of a live group's subscribed partition %d: code %d, want GROUP_SUBSCRIBED_TO_TOPIC", p.Partition, p.ErrorCode)
		}
	}
	if resp := deleteOffsets(t, admin, "nobody", topic, 0); resp.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Errorf("OffsetDelete of an unknown group: %+v, want GROUP_ID_NOT_FOUND", resp)
	}
	liveOffsets := committed(t, admin, "live", topic)
	if liveOffsets[0] < 0 || liveOffsets[1] < 0 {
		t.Fatalf("the live group's offsets %v: its commit is missing", liveOffsets)
	}

	// The deletion survives a crash; the group that left is still within its retention.
	c.kill(0)
	c.start(0)
	c.eventually(60*time.Second, "the coordinator after the restart", func() bool {
		got, err := fetchCommitted(admin, "admin", topic)
		return err == nil && got[0] == -1 && got[1] == 4
	})
	if got := committed(t, admin, "gone", topic); time.Since(emptied) < 50*time.Second && (got[0] < 0 || got[1] < 0) {
		t.Fatalf("the offsets of the group that left %v are gone %v after it emptied, before the retention", got, time.Since(emptied))
	}

	c.eventually(2*time.Minute, "the offsets of the group that left to expire", func() bool {
		got, err := fetchCommitted(admin, "gone", topic)
		return err == nil && got[0] == -1 && got[1] == -1
	})
	if waited := time.Since(emptied); waited < 59*time.Second {
		t.Fatalf("the offsets expired %v after the group emptied, before the retention of a minute", waited)
	}
	if got := committed(t, admin, "live", topic); got[0] != liveOffsets[0] || got[1] != liveOffsets[1] {
		t.Fatalf("the live group's offsets %v after the retention, want %v", got, liveOffsets)
	}
}

// groupMember joins group on topic with a franz-go consumer, consumes what is there,
// commits it once and keeps the membership (heartbeats) until closed.
func groupMember(t *testing.T, c *cluster, group, topic string) *kgo.Client {
	t.Helper()
	cl := c.client(kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for seen := 0; seen < 20; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("group %s consumed %d of 20 records: %v", group, seen, err)
		}
		seen += fs.NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("group %s commit: %v", group, err)
	}
	return cl
}

func commitOffsets(cl *kgo.Client, group, topic string, offsets map[int32]int64) error {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation = group, -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	for p, o := range offsets {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = p, o
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		return err
	}
	for _, p := range resp.Topics[0].Partitions {
		if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
			return err
		}
	}
	return nil
}

func deleteOffsets(t *testing.T, cl *kgo.Client, group, topic string, partitions ...int32) *kmsg.OffsetDeleteResponse {
	t.Helper()
	req := kmsg.NewPtrOffsetDeleteRequest()
	req.Group = group
	rt := kmsg.NewOffsetDeleteRequestTopic()
	rt.Topic = topic
	for _, p := range partitions {
		rt.Partitions = append(rt.Partitions, kmsg.OffsetDeleteRequestTopicPartition{Partition: p})
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatalf("OffsetDelete of group %s: %v", group, err)
	}
	return resp
}

// fetchCommitted reads group's committed offsets of topic's partitions 0 and 1.
func fetchCommitted(cl *kgo.Client, group, topic string) (map[int32]int64, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	req.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: topic, Partitions: []int32{0, 1}}}
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{{Topic: topic, Partitions: []int32{0, 1}}}
	req.Groups = []kmsg.OffsetFetchRequestGroup{rg}
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	if len(resp.Groups) == 1 {
		if err := kerr.ErrorForCode(resp.Groups[0].ErrorCode); err != nil {
			return nil, err
		}
		for _, p := range resp.Groups[0].Topics[0].Partitions {
			out[p.Partition] = p.Offset
		}
		return out, nil
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, err
	}
	for _, p := range resp.Topics[0].Partitions {
		out[p.Partition] = p.Offset
	}
	return out, nil
}

func committed(t *testing.T, cl *kgo.Client, group, topic string) map[int32]int64 {
	t.Helper()
	got, err := fetchCommitted(cl, group, topic)
	if err != nil {
		t.Fatalf("OffsetFetch of group %s: %v", group, err)
	}
	return got
}
