package kafka

// AddPartitionsToTxn, key 24, versions 0-3.
//
// Deviations from Apache Kafka:
//   - Version 4 (KIP-890: brokers batching several transactions and asking whether a
//     partition is already part of one) is not served; producers use versions 0-3.
//
// As in Kafka, the producer needs WRITE on its transactional id and on every topic; a
// partition refused leaves the others answered OPERATION_NOT_ATTEMPTED and none is
// added, and a topic or partition that does not exist is UNKNOWN_TOPIC_OR_PARTITION.

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/txn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AddPartitionsToTxn adds partitions to a producer's ongoing transaction.
func AddPartitionsToTxn(b Broker, req *kmsg.AddPartitionsToTxnRequest, reply func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	resp.SetVersion(req.GetVersion())
	var parts []txn.TopicPartition
	var codes []int16 // the code of each partition when the request is refused
	refused := false
	v := b.View()
	for _, t := range req.Topics {
		topicCode := v.CheckTopic(acl.OpWrite, t.Topic)
		top, known := v.Image.Topic(t.Topic)
		for _, p := range t.Partitions {
			code := topicCode
			if code == 0 && (!known || p < 0 || p >= top.Partitions) {
				code = kerr.UnknownTopicOrPartition.Code
			}
			refused = refused || code != 0
			parts = append(parts, txn.TopicPartition{Topic: t.Topic, Partition: p})
			codes = append(codes, code)
		}
	}
	answer := func(codes []int16) {
		i := 0
		for _, t := range req.Topics {
			rt := kmsg.NewAddPartitionsToTxnResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p, codes[i]
				rt.Partitions = append(rt.Partitions, rp)
				i++
			}
			resp.Topics = append(resp.Topics, rt)
		}
		reply(resp)
	}
	every := func(code int16) []int16 {
		out := make([]int16, len(parts))
		for i := range out {
			out[i] = code
		}
		return out
	}
	c, code := txnCoordinator(b, acl.OpWrite, req.TransactionalID)
	switch {
	case code != 0:
		answer(every(code))
	case refused:
		for i := range codes {
			if codes[i] == 0 {
				codes[i] = kerr.OperationNotAttempted.Code
			}
		}
		answer(codes)
	default:
		c.AddPartitions(b.Now(), req.TransactionalID, req.ProducerID, req.ProducerEpoch, parts, answer)
	}
}
