package kafka

import (
	"slices"
	"testing"

	"github.com/seedlog/seedlog/core/partition"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func listRequest(version int16, topics ...kmsg.ListOffsetsRequestTopic) *kmsg.ListOffsetsRequest {
	req := kmsg.NewPtrListOffsetsRequest()
	req.SetVersion(version)
	req.ReplicaID, req.IsolationLevel, req.Topics = -1, 1, topics
	return req
}

func listTopic(name string, parts ...kmsg.ListOffsetsRequestTopicPartition) kmsg.ListOffsetsRequestTopic {
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic, t.Partitions = name, parts
	return t
}

func listPart(p int32, ts int64, epoch int32) kmsg.ListOffsetsRequestTopicPartition {
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Partition, lp.Timestamp, lp.CurrentLeaderEpoch = p, ts, epoch
	return lp
}

type listWant struct {
	partition int32
	code      int16
	offset    int64 // what the version reports: OldStyleOffsets[0] for v0 (-1: none)
	epoch     int32
}

func checkList(t *testing.T, resp *kmsg.ListOffsetsResponse, topics []string, want [][]listWant) {
	t.Helper()
	v := resp.GetVersion()
	if len(resp.Topics) != len(topics) {
		t.Fatalf("v%d: %d topics, want %d", v, len(resp.Topics), len(topics))
	}
	for i, rt := range resp.Topics {
		if rt.Topic != topics[i] || len(rt.Partitions) != len(want[i]) {
			t.Fatalf("v%d: topic %d is %s with %d partitions, want %s with %d", v, i, rt.Topic, len(rt.Partitions), topics[i], len(want[i]))
		}
		for j, p := range rt.Partitions {
			w := want[i][j]
			got := listWant{p.Partition, p.ErrorCode, p.Offset, p.LeaderEpoch}
			if v == 0 {
				got.offset = -1
				if len(p.OldStyleOffsets) > 0 {
					got.offset = p.OldStyleOffsets[0]
				}
				if len(p.OldStyleOffsets) > 1 {
					t.Errorf("v0: %d old-style offsets, want at most one", len(p.OldStyleOffsets))
				}
			}
			if got != w {
				t.Errorf("v%d %s/%d: got %+v, want %+v", v, rt.Topic, p.Partition, got, w)
			}
		}
	}
}

func TestListOffsetsEveryVersion(t *testing.T) {
	for _, v := range versions(t, 2) {
		b := newFakeBroker(t)
		r0, r1 := b.host("orders", 0), b.host("orders", 1)
		r0.list[-2] = partition.ListOffsetsResult{Offset: 5, Timestamp: -1, LeaderEpoch: 2}
		r1.list[-1] = partition.ListOffsetsResult{Offset: 42, Timestamp: -1, LeaderEpoch: 3}
		req := viaWire(t, listRequest(v,
			listTopic("orders", listPart(1, -1, 3), listPart(0, -2, 3), listPart(2, -1, 3), listPart(7, -1, 3)),
			listTopic("nope", listPart(0, -1, -1))))
		rs := &replies{t: t}
		ListOffsets(b, req, rs.reply)
		resp := rs.one().(*kmsg.ListOffsetsResponse)
		checkWire(t, resp)

		epoch1, epoch0 := int32(3), int32(2)
		if v < 4 {
			epoch1, epoch0 = -1, -1
		}
		checkList(t, resp, []string{"orders", "nope"}, [][]listWant{
			{
				{1, 0, 42, epoch1},
				{0, 0, 5, epoch0},
				{2, kerr.NotLeaderForPartition.Code, -1, -1},
				{7, kerr.UnknownTopicOrPartition.Code, -1, -1},
			},
			{{0, kerr.UnknownTopicOrPartition.Code, -1, -1}},
		})
		wantEpoch, wantIsolation := "3", "1"
		if v < 4 {
			wantEpoch = "-1"
		}
		if v < 2 {
			wantIsolation = "0"
		}
		if want := []string{"list ts=-1 epoch=" + wantEpoch + " isolation=" + wantIsolation}; !slices.Equal(r1.calls, want) {
			t.Errorf("v%d: replica asked %q, want %q", v, r1.calls, want)
		}
	}
}

func TestListOffsetsNotAvailableByVersion(t *testing.T) {
	for _, v := range versions(t, 2) {
		b := newFakeBroker(t)
		b.host("orders", 0).list[-1] = partition.ListOffsetsResult{Err: partition.CodeOffsetNotAvailable, Offset: -1, Timestamp: -1, LeaderEpoch: -1}
		rs := &replies{t: t}
		ListOffsets(b, viaWire(t, listRequest(v, listTopic("orders", listPart(0, -1, -1)))), rs.reply)
		resp := rs.one().(*kmsg.ListOffsetsResponse)
		checkWire(t, resp)
		want := kerr.OffsetNotAvailable.Code
		if v < 5 {
			want = kerr.LeaderNotAvailable.Code // KIP-207
		}
		if got := resp.Topics[0].Partitions[0].ErrorCode; got != want {
			t.Errorf("v%d: code %d, want %d", v, got, want)
		}
	}
}

func TestListOffsetsDuplicatePartitions(t *testing.T) {
	for _, v := range []int16{0, 1, 8} {
		b := newFakeBroker(t)
		r := b.host("orders", 0)
		r.list[-1] = partition.ListOffsetsResult{Offset: 9, Timestamp: -1, LeaderEpoch: 1}
		b.host("orders", 1).list[-1] = partition.ListOffsetsResult{Offset: 4, Timestamp: -1, LeaderEpoch: 1}
		req := listRequest(v,
			listTopic("orders", listPart(0, -1, -1), listPart(1, -1, -1)),
			listTopic("orders", listPart(0, -1, -1)))
		rs := &replies{t: t}
		ListOffsets(b, viaWire(t, req), rs.reply)
		resp := rs.one().(*kmsg.ListOffsetsResponse)
		checkWire(t, resp)
		want := [][]listWant{
			{{0, kerr.InvalidRequest.Code, -1, -1}, {1, 0, 4, -1}},
			{{0, kerr.InvalidRequest.Code, -1, -1}},
		}
		if v >= 4 {
			want[0][1].epoch = 1
		}
		if v == 0 { // v0 predates the duplicate check
			want[0][0], want[1][0] = listWant{0, 0, 9, -1}, listWant{0, 0, 9, -1}
		}
		checkList(t, resp, []string{"orders", "orders"}, want)
		if v > 0 && len(r.calls) != 0 {
			t.Errorf("v%d: a duplicated partition reached its replica: %q", v, r.calls)
		}
	}
}

func TestListOffsetsV0OldStyle(t *testing.T) {
	b := newFakeBroker(t)
	r := b.host("orders", 0)
	r.list[1234] = partition.ListOffsetsResult{Offset: -1, Timestamp: -1, LeaderEpoch: -1} // no batch that late
	r.list[-1] = partition.ListOffsetsResult{Offset: 8, Timestamp: -1, LeaderEpoch: 1}
	none := listPart(0, -1, -1)
	none.MaxNumOffsets = 0
	req := listRequest(0, listTopic("orders", listPart(0, 1234, -1), none, listPart(0, -1, -1)))
	rs := &replies{t: t}
	ListOffsets(b, viaWire(t, req), rs.reply)
	resp := rs.one().(*kmsg.ListOffsetsResponse)
	checkWire(t, resp)
	got := [][]int64{}
	for _, p := range resp.Topics[0].Partitions {
		got = append(got, p.OldStyleOffsets)
	}
	if len(got) != 3 || len(got[0]) != 0 || len(got[1]) != 0 || !slices.Equal(got[2], []int64{8}) {
		t.Errorf("old-style offsets %v, want [] [] [8]", got)
	}
}

func TestListOffsetsAnswersOnceAllReplicasAnswered(t *testing.T) {
	b := newFakeBroker(t)
	r0, r1 := b.host("orders", 0), b.host("orders", 1)
	r0.hold, r1.hold = true, true
	r0.list[100] = partition.ListOffsetsResult{Offset: 3, Timestamp: -1, LeaderEpoch: 1}
	r1.list[100] = partition.ListOffsetsResult{Offset: 7, Timestamp: -1, LeaderEpoch: 2}
	rs := &replies{t: t}
	ListOffsets(b, viaWire(t, listRequest(8, listTopic("orders", listPart(0, 100, -1), listPart(1, 100, -1)))), rs.reply)
	if len(rs.got) != 0 {
		t.Fatal("answered before the replicas did")
	}
	r1.release(0)
	if len(rs.got) != 0 {
		t.Fatal("answered before every replica did")
	}
	r0.release(0)
	resp := rs.one().(*kmsg.ListOffsetsResponse)
	checkList(t, resp, []string{"orders"}, [][]listWant{{{0, 0, 3, 1}, {1, 0, 7, 2}}})
}

// -3 reaches the replica from v7 on, and its answer carries the record's timestamp;
// before v7 it is UNSUPPORTED_VERSION without asking the replica.
func TestListOffsetsMaxTimestamp(t *testing.T) {
	for _, version := range []int16{6, 7, 8} {
		b := newFakeBroker(t)
		r := b.host("orders", 0)
		r.list[-3] = partition.ListOffsetsResult{Offset: 4, Timestamp: 777, LeaderEpoch: 2}
		rs := &replies{t: t}
		ListOffsets(b, viaWire(t, listRequest(version, listTopic("orders", listPart(0, -3, -1)))), rs.reply)
		resp := rs.one().(*kmsg.ListOffsetsResponse)
		checkWire(t, resp)
		p := resp.Topics[0].Partitions[0]
		if version < 7 {
			if p.ErrorCode != kerr.UnsupportedVersion.Code || len(r.calls) != 0 {
				t.Errorf("v%d: code %d, replica calls %q; want UNSUPPORTED_VERSION and none", version, p.ErrorCode, r.calls)
			}
			continue
		}
		if p.ErrorCode != 0 || p.Offset != 4 || p.Timestamp != 777 || p.LeaderEpoch != 2 {
			t.Errorf("v%d: %+v, want offset 4 at 777 in epoch 2", version, p)
		}
	}
}
