package kafka

// DescribeQuorum, key 55, versions 0-1.
//
// The quorum of the controllers (KIP-595), with the members' fetch times (KIP-836).
//
// Deviations from Apache Kafka:
//   - Only the quorum's leader knows how far the other members got, so the broker that
//     receives the request forwards it to the active controller, which answers from its
//     raft state, as Kafka's brokers forward it to theirs. A controller that is not (or
//     no longer) active answers NOT_LEADER_OR_FOLLOWER; no controller answering in time
//     is REQUEST_TIMED_OUT, both on the partition.
//   - v2 (KIP-853: directory ids and the controllers' endpoints) is not served: seedlog's
//     controllers are not reachable by clients, and its voter set is fixed.
//   - Observers are the non-voters (brokers) that fetched from the leader in its epoch;
//     a leader remembers at most 1024 of them.
//   - A member's LogEndOffset is the offset of its last fetch whose position matched
//     the leader's log; LastCaughtUpTimestamp is the last time it was known to hold the
//     leader's whole log: a fetch at the log end, or one reaching the end as of its
//     previous fetch (then that previous fetch's time), as Kafka computes it. Both are
//     -1 for a member that has not fetched in the leader's epoch. The leader reports its
//     own log end, and its own time for both timestamps, as Kafka does.
//
// As in Kafka: DESCRIBE on the CLUSTER is required (else CLUSTER_AUTHORIZATION_FAILED),
// and a request that does not name exactly the partition __cluster_metadata-0 is
// answered UNKNOWN_TOPIC_OR_PARTITION on every partition it names.

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/raft"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// MetadataTopic is the name Kafka gives the controller quorum's log.
const MetadataTopic = "__cluster_metadata"

// QuorumDenied returns the answer to a DescribeQuorum the broker refuses on its own,
// nil when it goes to the controller: a principal without DESCRIBE on the cluster, or a
// request for another partition than the quorum's.
func QuorumDenied(v View, req *kmsg.DescribeQuorumRequest) *kmsg.DescribeQuorumResponse {
	if code := v.CheckCluster(acl.OpDescribe); code != 0 {
		resp := req.ResponseKind().(*kmsg.DescribeQuorumResponse)
		resp.SetVersion(req.GetVersion())
		resp.ErrorCode = code
		return resp
	}
	if !namesQuorum(req) {
		return quorumPartitionErrors(req, kerr.UnknownTopicOrPartition.Code)
	}
	return nil
}

// namesQuorum reports whether a request names exactly the quorum's partition.
func namesQuorum(req *kmsg.DescribeQuorumRequest) bool {
	return len(req.Topics) == 1 && req.Topics[0].Topic == MetadataTopic &&
		len(req.Topics[0].Partitions) == 1 && req.Topics[0].Partitions[0].Partition == 0
}

// quorumPartitionErrors answers code on every partition a request names.
func quorumPartitionErrors(req *kmsg.DescribeQuorumRequest, code int16) *kmsg.DescribeQuorumResponse {
	resp := req.ResponseKind().(*kmsg.DescribeQuorumResponse)
	resp.SetVersion(req.GetVersion())
	for _, t := range req.Topics {
		rt := kmsg.NewDescribeQuorumResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewDescribeQuorumResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// QuorumError answers a DescribeQuorum with code on the quorum's partition (Kafka's
// singleton error response).
func QuorumError(req *kmsg.DescribeQuorumRequest, code int16) *kmsg.DescribeQuorumResponse {
	resp := req.ResponseKind().(*kmsg.DescribeQuorumResponse)
	resp.SetVersion(req.GetVersion())
	rt := kmsg.NewDescribeQuorumResponseTopic()
	rt.Topic = MetadataTopic
	rp := kmsg.NewDescribeQuorumResponseTopicPartition()
	rp.ErrorCode = code
	rt.Partitions = append(rt.Partitions, rp)
	resp.Topics = append(resp.Topics, rt)
	return resp
}

// DescribeQuorum answers on the controller, from the quorum as its leader describes it
// (leading false when this member does not lead).
func DescribeQuorum(req *kmsg.DescribeQuorumRequest, d raft.Description, leading bool) *kmsg.DescribeQuorumResponse {
	if !namesQuorum(req) {
		return quorumPartitionErrors(req, kerr.UnknownTopicOrPartition.Code)
	}
	if !leading {
		return QuorumError(req, kerr.NotLeaderForPartition.Code)
	}
	resp := QuorumError(req, 0)
	p := &resp.Topics[0].Partitions[0]
	p.LeaderID, p.LeaderEpoch, p.HighWatermark = d.Leader, d.LeaderEpoch, d.HW
	p.CurrentVoters = quorumStates(d.Voters, req.GetVersion())
	p.Observers = quorumStates(d.Observers, req.GetVersion())
	return resp
}

// quorumStates lists members as the version carries them (times from v1).
func quorumStates(ps []raft.ReplicaProgress, version int16) []kmsg.DescribeQuorumResponseTopicPartitionReplicaState {
	out := make([]kmsg.DescribeQuorumResponseTopicPartitionReplicaState, 0, len(ps))
	for _, p := range ps {
		s := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
		s.ReplicaID, s.LogEndOffset = p.ID, p.LogEndOffset
		if version >= 1 {
			s.LastFetchTimestamp, s.LastCaughtUpTimestamp = quorumMs(p.LastFetch), quorumMs(p.LastCaughtUp)
		}
		out = append(out, s)
	}
	return out
}

// quorumMs converts a time on the node's clock (ns since the Unix epoch) to Kafka's ms,
// -1 when unknown.
func quorumMs(t int64) int64 {
	if t == raft.NoTime || t < 0 {
		return -1
	}
	return t / 1e6
}
