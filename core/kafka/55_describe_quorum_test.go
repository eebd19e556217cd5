package kafka

import (
	"testing"

	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/raft"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func quorumRequest(version int16, topic string, partitions ...int32) *kmsg.DescribeQuorumRequest {
	req := kmsg.NewPtrDescribeQuorumRequest()
	req.SetVersion(version)
	t := kmsg.NewDescribeQuorumRequestTopic()
	t.Topic = topic
	for _, p := range partitions {
		t.Partitions = append(t.Partitions, kmsg.DescribeQuorumRequestTopicPartition{Partition: p})
	}
	req.Topics = append(req.Topics, t)
	return req
}

func TestDescribeQuorum(t *testing.T) {
	d := raft.Description{Leader: 2, LeaderEpoch: 7, HW: 40,
		Voters: []raft.ReplicaProgress{
			{ID: 1, LogEndOffset: 38, LastFetch: 5_000_000_000, LastCaughtUp: 4_000_000_000},
			{ID: 2, LogEndOffset: 41, LastFetch: 6_000_000_000, LastCaughtUp: 6_000_000_000},
			{ID: 3, LogEndOffset: -1, LastFetch: raft.NoTime, LastCaughtUp: raft.NoTime},
		},
		Observers: []raft.ReplicaProgress{{ID: 9, LogEndOffset: 40, LastFetch: 5_500_000_000, LastCaughtUp: raft.NoTime}},
	}
	for _, version := range versions(t, 55) {
		resp := DescribeQuorum(viaWire(t, quorumRequest(version, MetadataTopic, 0)), d, true)
		checkWire(t, resp)
		p := resp.Topics[0].Partitions[0]
		if resp.Topics[0].Topic != MetadataTopic || p.ErrorCode != 0 || p.LeaderID != 2 || p.LeaderEpoch != 7 || p.HighWatermark != 40 ||
			len(p.CurrentVoters) != 3 || len(p.Observers) != 1 {
			t.Fatalf("v%d: %+v", version, resp)
		}
		v1, v3, o := p.CurrentVoters[0], p.CurrentVoters[2], p.Observers[0]
		if v1.ReplicaID != 1 || v1.LogEndOffset != 38 || v3.LogEndOffset != -1 || o.ReplicaID != 9 {
			t.Errorf("v%d: members %+v %+v", version, p.CurrentVoters, p.Observers)
		}
		if version >= 1 && (v1.LastFetchTimestamp != 5000 || v1.LastCaughtUpTimestamp != 4000 || v3.LastFetchTimestamp != -1 || o.LastCaughtUpTimestamp != -1) {
			t.Errorf("v%d: times %+v %+v %+v", version, v1, v3, o)
		}
	}
	resp := DescribeQuorum(viaWire(t, quorumRequest(1, MetadataTopic, 0)), raft.Description{}, false)
	if resp.Topics[0].Partitions[0].ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Errorf("not leading: %+v", resp)
	}
	for _, req := range []*kmsg.DescribeQuorumRequest{quorumRequest(1, "orders", 0), quorumRequest(1, MetadataTopic, 1), quorumRequest(1, MetadataTopic, 0, 0)} {
		resp := DescribeQuorum(viaWire(t, req), d, true)
		checkWire(t, resp)
		for _, p := range resp.Topics[0].Partitions {
			if p.ErrorCode != kerr.UnknownTopicOrPartition.Code {
				t.Errorf("%+v: answered %+v", req.Topics, resp.Topics)
			}
		}
		if QuorumDenied(View{Image: testImage(t)}, req) == nil {
			t.Errorf("%+v: the broker would forward it", req.Topics)
		}
	}
}

func TestDescribeQuorumDenied(t *testing.T) {
	v := View{Image: testImage(t), Access: &Access{Principal: "User:bob", Host: "h", Config: &acl.Config{}, Fresh: true}}
	resp := QuorumDenied(v, quorumRequest(1, MetadataTopic, 0))
	if resp == nil || resp.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("denied: %+v", resp)
	}
	checkWire(t, resp)
	if QuorumDenied(View{Image: testImage(t)}, quorumRequest(1, MetadataTopic, 0)) != nil {
		t.Error("a valid request from anyone, without an authorizer, was refused")
	}
}
