package kafka

import (
	"testing"

	"github.com/seedlog/seedlog/core/partition"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Each partition is answered by the replica's list, its refusal, or the broker's own
// error for a partition it does not host.
func TestDescribeProducers(t *testing.T) {
	b := newFakeBroker(t)
	r0, r1 := b.host("orders", 0), b.host("orders", 1)
	r0.producers = []partition.ProducerInfo{{ID: 4, Epoch: 1, LastSequence: 9, LastTimestamp: 1700, CoordinatorEpoch: 3, CurrentTxnStartOffset: 120},
		{ID: 6, Epoch: 0, LastSequence: 2, LastTimestamp: -1, CoordinatorEpoch: -1, CurrentTxnStartOffset: -1}}
	r1.producersErr = partition.CodeNotLeaderOrFollower
	req := kmsg.NewPtrDescribeProducersRequest()
	rt := kmsg.NewDescribeProducersRequestTopic()
	rt.Topic, rt.Partitions = "orders", []int32{0, 1, 2, 5}
	req.Topics = append(req.Topics, rt)
	resp := DescribeProducers(b, viaWire(t, req))
	checkWire(t, resp)
	ps := resp.Topics[0].Partitions
	codes := []int16{0, kerr.NotLeaderForPartition.Code, kerr.NotLeaderForPartition.Code, kerr.UnknownTopicOrPartition.Code}
	for i, p := range ps {
		if p.ErrorCode != codes[i] {
			t.Errorf("partition %d: code %d, want %d", p.Partition, p.ErrorCode, codes[i])
		}
	}
	got := ps[0].ActiveProducers
	if len(got) != 2 || got[0].ProducerID != 4 || got[0].ProducerEpoch != 1 || got[0].LastSequence != 9 || got[0].LastTimestamp != 1700 ||
		got[0].CoordinatorEpoch != 3 || got[0].CurrentTxnStartOffset != 120 || got[1].LastTimestamp != -1 ||
		got[1].CoordinatorEpoch != -1 || got[1].CurrentTxnStartOffset != -1 {
		t.Fatalf("producers %+v", got)
	}
}
