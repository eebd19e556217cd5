package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The describing APIs on real brokers, through franz-go: ListOffsets of the largest
// timestamp (kadm.ListMaxTimestampOffsets) and by timestamp with the record's
// timestamp, DescribeLogDirs on every broker (kadm.DescribeAllLogDirs), DescribeQuorum
// and DescribeTopicPartitions with its cursor (kmsg).
func TestDescribeAPIs(t *testing.T) {
	const topic = "described"
	c := newCluster(t, 3)
	admin := c.client()
	c.waitBrokers(admin, 3)
	c.createTopic(admin, topic, 3, 3)
	ctx := context.Background()
	adm := kadm.NewClient(admin)

	// Partition 0 gets records stamped out of order, one batch each; partition 1
	// stays empty.
	prod := c.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	stamps := []int64{1_000, 5_000, 3_000, 5_000, 2_000}
	for i, ms := range stamps {
		r := &kgo.Record{Topic: topic, Partition: 0, Value: fmt.Appendf(nil, "v%d", i), Timestamp: time.UnixMilli(ms)}
		if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}

	listed, err := adm.ListMaxTimestampOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("ListMaxTimestampOffsets: %v", err)
	}
	if o, ok := listed.Lookup(topic, 0); !ok || o.Err != nil || o.Offset != 1 || o.Timestamp != 5_000 {
		t.Errorf("largest timestamp of partition 0: %+v, want offset 1 (the first record stamped 5000)", o)
	}
	if o, ok := listed.Lookup(topic, 1); !ok || o.Err != nil || o.Offset != -1 || o.Timestamp != -1 {
		t.Errorf("largest timestamp of the empty partition 1: %+v, want offset and timestamp -1", o)
	}
	after, err := adm.ListOffsetsAfterMilli(ctx, 2_500, topic)
	if err != nil {
		t.Fatalf("ListOffsetsAfterMilli: %v", err)
	}
	if o, _ := after.Lookup(topic, 0); o.Err != nil || o.Offset != 1 || o.Timestamp != 5_000 {
		t.Errorf("first record at or after 2500: %+v, want offset 1 stamped 5000", o)
	}

	// Every broker holds a replica of every partition in its data directory; the one
	// holding records grows on all three once replicated, and nothing lags.
	c.eventually(30*time.Second, "every replica of partition 0 holding its records", func() bool {
		dirs, err := adm.DescribeAllLogDirs(ctx, kadm.TopicsSet{topic: {0: {}, 1: {}, 2: {}}})
		if err != nil || len(dirs) != 3 {
			return false
		}
		for broker, ds := range dirs {
			if len(ds) != 1 {
				t.Fatalf("broker %d: %d log dirs, want its one data directory", broker, len(ds))
			}
			for dir, d := range ds {
				if want, _ := filepath.Abs(filepath.Join(c.procs[broker-1].dir, "data")); dir != want {
					t.Errorf("broker %d: log dir %s, want its log.dirs %s", broker, dir, want)
				}
				p0, ok0 := d.Topics.Lookup(topic, 0)
				p1, ok1 := d.Topics.Lookup(topic, 1)
				if !ok0 || !ok1 || len(d.Topics[topic]) != 3 || p1.Size != 0 || p0.OffsetLag != 0 || p0.Size == 0 {
					return false
				}
			}
		}
		return true
	})

	// The quorum: three voters, one of them the leader, everyone caught up eventually.
	c.eventually(30*time.Second, "a quorum whose voters all caught up", func() bool {
		req := kmsg.NewPtrDescribeQuorumRequest()
		rt := kmsg.NewDescribeQuorumRequestTopic()
		rt.Topic, rt.Partitions = "__cluster_metadata", []kmsg.DescribeQuorumRequestTopicPartition{{Partition: 0}}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, admin)
		if err != nil || resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			return false
		}
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.LeaderID < 1 || p.LeaderID > 3 || p.LeaderEpoch < 1 || p.HighWatermark <= 0 || len(p.CurrentVoters) != 3 {
			return false
		}
		now := time.Now().UnixMilli()
		for _, v := range p.CurrentVoters {
			if v.LogEndOffset < p.HighWatermark || v.LastFetchTimestamp <= 0 || v.LastCaughtUpTimestamp <= 0 ||
				v.LastFetchTimestamp > now+1000 || v.LastFetchTimestamp < now-60_000 {
				return false
			}
		}
		return true
	})

	// DescribeTopicPartitions, one partition a page: the cursor walks the topic.
	var seen []int32
	var cursor *kmsg.DescribeTopicPartitionsRequestCursor
	for range 5 {
		req := kmsg.NewPtrDescribeTopicPartitionsRequest()
		req.Topics = []kmsg.DescribeTopicPartitionsRequestTopic{{Topic: topic}}
		req.ResponsePartitionLimit, req.Cursor = 1, cursor
		resp, err := req.RequestWith(ctx, admin)
		if err != nil || len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
			t.Fatalf("DescribeTopicPartitions: %+v, %v", resp, err)
		}
		for _, p := range resp.Topics[0].Partitions {
			if p.LeaderID < 1 || len(p.Replicas) != 3 || len(p.ISR) != 3 || len(p.EligibleLeaderReplicas) != 0 {
				t.Errorf("partition %+v", p)
			}
			seen = append(seen, p.Partition)
		}
		if resp.NextCursor == nil {
			break
		}
		cursor = &kmsg.DescribeTopicPartitionsRequestCursor{Topic: resp.NextCursor.Topic, Partition: resp.NextCursor.Partition}
	}
	if fmt.Sprint(seen) != "[0 1 2]" {
		t.Errorf("pages gave partitions %v, want 0 1 2", seen)
	}
}
