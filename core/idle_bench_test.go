package core

import (
	"fmt"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/metadata"
	"github.com/seedlog/seedlog/core/partition"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// idleBroker returns a lone broker (its own controller) hosting the given number of
// partitions, every replica loaded and leading, and the node's time.
func idleBroker(tb testing.TB, partitions int) (*Node, int64) {
	n, err := New(Config{NodeID: 1, Voters: []int32{1}, Broker: true, Seed: 1, BrokerPartitionsMax: partitions + 1})
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	n.Start(now, disk.Recovered{Files: map[string][]byte{}})
	run(tb, n, &now, 5*time.Second, func() {})
	req := kmsg.NewPtrCreateTopicsRequest()
	// Topics of topicPartitions partitions: a topic's records are one proposal, which
	// has a bound.
	const topicPartitions = 1000
	for i := 0; i < partitions; i += topicPartitions {
		t := kmsg.NewCreateTopicsRequestTopic()
		t.Topic, t.NumPartitions, t.ReplicationFactor = fmt.Sprintf("idle-%d", i/topicPartitions), int32(min(topicPartitions, partitions-i)), 1
		req.Topics = append(req.Topics, t)
	}
	req.TimeoutMillis = 60_000
	n.Request(now, Request{Conn: 1, Key: req.Key(), Version: req.GetVersion(), Msg: req})
	leading := func() int {
		k := 0
		for _, st := range n.Replicas() {
			if st.Role == partition.RoleLeader && !st.Loading {
				k++
			}
		}
		return k
	}
	for i := 0; i < 100 && leading() < partitions; i++ {
		run(tb, n, &now, 100*time.Millisecond, func() {})
	}
	if k := leading(); k < partitions {
		tb.Fatalf("%d of %d partitions lead after 10 s", k, partitions)
	}
	run(tb, n, &now, time.Second, func() {})
	return n, now
}

// BenchmarkIdleTick measures one Tick of a broker whose replicas have nothing to do
// (leaders of idle partitions), with the Drain and Deadline a shell calls after it: its
// cost should not grow with the number of replicas.
func BenchmarkIdleTick(b *testing.B) {
	benchIdle(b, func(n *Node, now int64, _ int32) { n.Tick(now) })
}

// BenchmarkIdleRequest measures an input no replica takes part in (an ApiVersions
// request), with the Drain and Deadline after it, on a broker whose replicas are idle.
func BenchmarkIdleRequest(b *testing.B) {
	req := kmsg.NewPtrApiVersionsRequest()
	benchIdle(b, func(n *Node, now int64, corr int32) {
		n.Request(now, Request{Conn: 2, Corr: corr, Key: req.Key(), Version: req.GetVersion(), Msg: req})
	})
}

// benchIdle measures input on idle brokers of 1,000 and 10,000 replicas, a microsecond
// apart.
func benchIdle(b *testing.B, input func(n *Node, now int64, corr int32)) {
	for _, partitions := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("replicas=%d", partitions), func(b *testing.B) {
			n, now := idleBroker(b, partitions)
			b.ResetTimer()
			for i := range b.N {
				now += int64(time.Microsecond)
				input(n, now, int32(i))
				out := n.Drain()
				if out.Fatal != nil {
					b.Fatal(out.Fatal)
				}
				for _, op := range out.Ops {
					n.Done(now, disk.Done{ID: op.ID, Kind: op.Kind, Log: op.Log})
				}
				n.Deadline()
			}
		})
	}
}

// BenchmarkMetadataChange measures a metadata change no hosted replica takes part in (a
// config set on a topic of one partition, created beforehand) on a broker of 1,000 and
// 10,000 idle replicas, from the request to the change applied: its cost should not grow
// with the number of replicas.
func BenchmarkMetadataChange(b *testing.B) {
	for _, partitions := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("replicas=%d", partitions), func(b *testing.B) {
			n, now := idleBroker(b, partitions)
			create := kmsg.NewPtrCreateTopicsRequest()
			t := kmsg.NewCreateTopicsRequestTopic()
			t.Topic, t.NumPartitions, t.ReplicationFactor = "other", 1, 1
			create.Topics = append(create.Topics, t)
			create.TimeoutMillis = 60_000
			n.Request(now, Request{Conn: 1, Corr: 1, Key: create.Key(), Version: create.GetVersion(), Msg: create})
			run(b, n, &now, time.Second, func() {})
			b.ResetTimer()
			for i := range b.N {
				req := kmsg.NewPtrIncrementalAlterConfigsRequest()
				r := kmsg.NewIncrementalAlterConfigsRequestResource()
				r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, "other"
				c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
				c.Name, c.Value = "retention.ms", kmsg.StringPtr(fmt.Sprint(1_000_000+i))
				r.Configs = append(r.Configs, c)
				req.Resources = append(req.Resources, r)
				offset := n.quorum.image.Offset()
				n.Request(now, Request{Conn: 1, Corr: int32(i + 2), Key: req.Key(), Version: req.GetVersion(), Msg: req})
				for n.quorum.image.Offset() == offset {
					out := n.Drain()
					if out.Fatal != nil {
						b.Fatal(out.Fatal)
					}
					if len(out.Ops) == 0 {
						now += int64(time.Millisecond)
						n.Tick(now)
					}
					for _, op := range out.Ops {
						n.Done(now, disk.Done{ID: op.ID, Kind: op.Kind, Log: op.Log})
					}
				}
			}
		})
	}
}

// BenchmarkMetadataSnapshot measures writing and reading back a snapshot of the image of
// a cluster of 1,000 and 10,000 partitions: what a node pays every
// Config.MetadataSnapshotRecords committed records, and a follower per installed snapshot.
func BenchmarkMetadataSnapshot(b *testing.B) {
	for _, partitions := range []int{1000, 10000} {
		n, _ := idleBroker(b, partitions)
		im := n.quorum.image
		data := im.EncodeSnapshot()
		b.Run(fmt.Sprintf("encode/partitions=%d", partitions), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for range b.N {
				im.EncodeSnapshot()
			}
		})
		b.Run(fmt.Sprintf("decode/partitions=%d", partitions), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for range b.N {
				if _, err := metadata.DecodeSnapshot(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
