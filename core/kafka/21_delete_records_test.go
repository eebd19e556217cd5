package kafka

import (
	"slices"
	"testing"

	"github.com/seedlog/seedlog/core/partition"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func deleteRequest(version int16, topic string, offsets map[int32]int64, order ...int32) *kmsg.DeleteRecordsRequest {
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.SetVersion(version)
	req.TimeoutMillis = 1000
	t := kmsg.NewDeleteRecordsRequestTopic()
	t.Topic = topic
	for _, p := range order {
		dp := kmsg.NewDeleteRecordsRequestTopicPartition()
		dp.Partition, dp.Offset = p, offsets[p]
		t.Partitions = append(t.Partitions, dp)
	}
	req.Topics = append(req.Topics, t)
	return req
}

func TestDeleteRecordsEveryVersion(t *testing.T) {
	type want struct {
		partition int32
		code      int16
		low       int64
	}
	for _, v := range versions(t, 21) {
		b := newFakeBroker(t)
		r0, r1 := b.host("orders", 0), b.host("orders", 1)
		r0.del = partition.DeleteResult{LowWatermark: 30}
		r1.del = partition.DeleteResult{Err: partition.CodeOffsetOutOfRange, LowWatermark: 12}
		r0.hold, r1.hold = true, true
		req := deleteRequest(v, "orders", map[int32]int64{0: -1, 1: 99, 2: 5, 5: 5}, 1, 5, 0, 2)
		rs := &replies{t: t}
		DeleteRecords(b, viaWire(t, req), rs.reply)
		r0.release(0)
		if len(rs.got) != 0 {
			t.Fatalf("v%d: answered before every replica did", v)
		}
		r1.release(0)
		resp := rs.one().(*kmsg.DeleteRecordsResponse)
		checkWire(t, resp)
		var got []want
		for _, p := range resp.Topics[0].Partitions {
			got = append(got, want{p.Partition, p.ErrorCode, p.LowWatermark})
		}
		wants := []want{
			{1, kerr.OffsetOutOfRange.Code, -1}, // an error never reports a low watermark
			{5, kerr.UnknownTopicOrPartition.Code, -1},
			{0, 0, 30},
			{2, kerr.NotLeaderForPartition.Code, -1},
		}
		if !slices.Equal(got, wants) {
			t.Errorf("v%d: got %+v, want %+v", v, got, wants)
		}
		if !slices.Equal(r0.calls, []string{"delete offset=-1 timeout=1s"}) || !slices.Equal(r1.calls, []string{"delete offset=99 timeout=1s"}) {
			t.Errorf("v%d: replicas asked %q and %q", v, r0.calls, r1.calls)
		}
	}
}
