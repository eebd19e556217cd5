package kafka

// DescribeProducers, key 61, versions 0-0.
//
// Each partition's leader lists the producers it remembers: their id, epoch, last
// sequence and the largest timestamp of their last batch (-1 when a state restored from
// an older snapshot does not know it, or no batch with a sequence is remembered), the
// coordinator epoch of their last transaction marker and the first offset of their open
// transaction (-1 when none). A leader remembers a producer's last batches only
// (partition.producerBatchesKept), and at most a bounded number of producers, dropping
// those idle longest, as Kafka expires producer ids.
//
// As in Kafka: READ on the topic is required (else TOPIC_AUTHORIZATION_FAILED on its
// partitions), and a broker that does not lead a partition answers
// NOT_LEADER_OR_FOLLOWER for it.

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeProducers answers from the replicas this broker leads.
func DescribeProducers(b Broker, req *kmsg.DescribeProducersRequest) *kmsg.DescribeProducersResponse {
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	resp.SetVersion(req.GetVersion())
	for _, t := range req.Topics {
		rt := kmsg.NewDescribeProducersResponseTopic()
		rt.Topic = t.Topic
		denied := b.View().CheckTopic(acl.OpRead, t.Topic)
		for _, p := range t.Partitions {
			rp := kmsg.NewDescribeProducersResponseTopicPartition()
			rp.Partition = p
			rep := b.Replica(t.Topic, p)
			switch {
			case denied != 0:
				rp.ErrorCode = denied
			case rep == nil:
				rp.ErrorCode = partErr(b.View(), t.Topic, p)
			default:
				producers, code := rep.Producers(b.Now())
				rp.ErrorCode = code
				for _, pi := range producers {
					ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
					ap.ProducerID, ap.ProducerEpoch, ap.LastSequence, ap.LastTimestamp = pi.ID, int32(pi.Epoch), pi.LastSequence, pi.LastTimestamp
					ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = pi.CoordinatorEpoch, pi.CurrentTxnStartOffset
					rp.ActiveProducers = append(rp.ActiveProducers, ap)
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
