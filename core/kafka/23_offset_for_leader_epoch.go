package kafka

// OffsetForLeaderEpoch, key 23, versions 0-4.
//
// Deviations from Apache Kafka:
//   - Only a partition's leader answers, whatever the request's replica id (v3+): seedlog
//     replicas find where their logs diverge through the peer protocol, so the API serves
//     consumers validating their position after a leader change (KIP-320).
//
// As in Kafka, the latest epoch ends at the leader's log end offset (core/partition's
// epoch cache says how other epochs are answered).

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetForLeaderEpoch answers, for each partition, the largest epoch not above the one
// asked for that the leader's log knows, and where that epoch ends.
func OffsetForLeaderEpoch(b Broker, req *kmsg.OffsetForLeaderEpochRequest, reply func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	resp.SetVersion(req.GetVersion())
	version := req.GetVersion()
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetForLeaderEpochResponseTopic()
		rt.Topic = t.Topic
		denied := b.View().CheckTopic(acl.OpDescribe, t.Topic) // DESCRIBE on the topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			rp.Partition = p.Partition
			if denied != 0 {
				rp.ErrorCode = denied
			} else if rep := b.Replica(t.Topic, p.Partition); rep == nil {
				rp.ErrorCode = partErr(b.View(), t.Topic, p.Partition)
			} else if r := rep.OffsetForLeaderEpoch(b.Now(), p.CurrentLeaderEpoch, p.LeaderEpoch); r.Err != 0 {
				rp.ErrorCode = r.Err
			} else {
				rp.EndOffset = r.EndOffset
				if version >= 1 {
					rp.LeaderEpoch = r.LeaderEpoch
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	reply(resp)
}
