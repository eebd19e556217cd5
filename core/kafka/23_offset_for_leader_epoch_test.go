package kafka

import (
	"slices"
	"testing"

	"github.com/seedlog/seedlog/core/partition"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func epochRequest(version int16, topic string, parts ...kmsg.OffsetForLeaderEpochRequestTopicPartition) *kmsg.OffsetForLeaderEpochRequest {
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.SetVersion(version)
	req.ReplicaID = -1
	t := kmsg.NewOffsetForLeaderEpochRequestTopic()
	t.Topic, t.Partitions = topic, parts
	req.Topics = append(req.Topics, t)
	return req
}

func epochPart(p, current, epoch int32) kmsg.OffsetForLeaderEpochRequestTopicPartition {
	ep := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	ep.Partition, ep.CurrentLeaderEpoch, ep.LeaderEpoch = p, current, epoch
	return ep
}

func TestOffsetForLeaderEpochEveryVersion(t *testing.T) {
	type want struct {
		partition int32
		code      int16
		epoch     int32
		end       int64
	}
	for _, v := range versions(t, 23) {
		b := newFakeBroker(t)
		b.host("orders", 0).epoch = partition.EpochEndResult{LeaderEpoch: 4, EndOffset: 120}
		b.host("orders", 1).epoch = partition.EpochEndResult{Err: partition.CodeFencedLeaderEpoch, LeaderEpoch: -1, EndOffset: -1}
		req := epochRequest(v, "orders", epochPart(2, 6, 5), epochPart(0, 6, 5), epochPart(1, 2, 1), epochPart(3, 6, 5))
		rs := &replies{t: t}
		OffsetForLeaderEpoch(b, viaWire(t, req), rs.reply)
		resp := rs.one().(*kmsg.OffsetForLeaderEpochResponse)
		checkWire(t, resp)
		epoch := int32(4)
		if v < 1 {
			epoch = -1 // v0 carries no epoch
		}
		wants := []want{
			{2, kerr.NotLeaderForPartition.Code, -1, -1},
			{0, 0, epoch, 120},
			{1, kerr.FencedLeaderEpoch.Code, -1, -1},
			{3, kerr.UnknownTopicOrPartition.Code, -1, -1},
		}
		var got []want
		for _, p := range resp.Topics[0].Partitions {
			got = append(got, want{p.Partition, p.ErrorCode, p.LeaderEpoch, p.EndOffset})
		}
		if !slices.Equal(got, wants) {
			t.Errorf("v%d: got %+v, want %+v", v, got, wants)
		}
		current := "6"
		if v < 2 {
			current = "-1"
		}
		if calls := b.replicas[topicPartition{"orders", 0}].calls; !slices.Equal(calls, []string{"epoch current=" + current + " epoch=5"}) {
			t.Errorf("v%d: replica asked %q", v, calls)
		}
	}
}
