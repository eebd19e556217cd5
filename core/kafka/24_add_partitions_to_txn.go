package kafka

// AddPartitionsToTxn, key 24, versions 0-5.
//
// Versions 4-5 (KIP-890) batch several transactions and are for brokers: a partition
// leader asks whether a transactional write belongs to an ongoing transaction
// (VerifyOnly), or has the coordinator add the partitions (VerifyOnly false): at v4 as
// a v3 request would (the batched broker-to-broker form of it), at v5, for a
// transaction-version-2 producer (Produce v12, TxnOffsetCommit v5), as an implicit add,
// which makes the transaction a version-2 one. Each transaction of the batch is
// answered on its own, after the checks of v3 but for the ACLs (the sender is a
// broker): a partition that does not exist is UNKNOWN_TOPIC_OR_PARTITION and leaves the
// transaction's others OPERATION_NOT_ATTEMPTED. As in Kafka, a client listener answers
// them CLUSTER_AUTHORIZATION_FAILED unless the principal has CLUSTER_ACTION on the
// cluster; seedlog brokers send them over the peer listener (core/verify.go), where
// VerifyTxns answers them.
//
// Deviation from Apache Kafka: a v5 transaction without VerifyOnly on a broker at
// transaction.version 1 is answered INVALID_REQUEST for each of its partitions: only a
// version-2 producer's broker asks for an implicit add.
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
	if req.GetVersion() >= 4 {
		if code := b.View().CheckCluster(acl.OpClusterAction); code != 0 {
			resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			reply(resp)
			return
		}
		VerifyTxns(b, req, func(resp *kmsg.AddPartitionsToTxnResponse) { reply(resp) })
		return
	}
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

// VerifyTxns answers a v4+ request whose sender may ask (a broker over the peer
// listener, or a principal with CLUSTER_ACTION): for each transaction, whether the
// coordinator this broker runs for it holds it Ongoing with each partition (VerifyOnly,
// txn.Coordinator.Verify: nothing changes), or the outcome of adding the partitions
// (txn.Coordinator.AddPartitions at v4, AddPartitionsImplicit at v5). reply runs once
// every transaction has its answer.
func VerifyTxns(b Broker, req *kmsg.AddPartitionsToTxnRequest, reply func(*kmsg.AddPartitionsToTxnResponse)) {
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	resp.SetVersion(req.GetVersion())
	resp.Transactions = make([]kmsg.AddPartitionsToTxnResponseTransaction, len(req.Transactions))
	pending := 1 // released below, so that answers made at once cannot finish early
	finish := func() {
		if pending--; pending == 0 {
			reply(resp)
		}
	}
	for ti, tr := range req.Transactions {
		var parts []txn.TopicPartition
		for _, t := range tr.Topics {
			for _, p := range t.Partitions {
				parts = append(parts, txn.TopicPartition{Topic: t.Topic, Partition: p})
			}
		}
		fill := func(codes []int16) {
			rt := kmsg.NewAddPartitionsToTxnResponseTransaction()
			rt.TransactionalID = tr.TransactionalID
			i := 0
			for _, t := range tr.Topics {
				rtt := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
				rtt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
					rp.Partition, rp.ErrorCode = p, codes[i]
					rtt.Partitions = append(rtt.Partitions, rp)
					i++
				}
				rt.Topics = append(rt.Topics, rtt)
			}
			resp.Transactions[ti] = rt
		}
		every := func(code int16) []int16 {
			codes := make([]int16, len(parts))
			for i := range codes {
				codes[i] = code
			}
			return codes
		}
		c, code := b.TxnCoordinator(tr.TransactionalID)
		missing := missingParts(b.View(), parts)
		switch {
		case tr.TransactionalID == "":
			fill(every(kerr.InvalidRequest.Code))
		case code != 0:
			fill(every(code))
		case missing != nil:
			fill(missing)
		case tr.VerifyOnly:
			fill(c.Verify(tr.TransactionalID, tr.ProducerID, tr.ProducerEpoch, parts))
		case req.GetVersion() >= 5 && b.TxnVersion() < 2:
			// Implicit adds are for transaction-version-2 producers.
			fill(every(kerr.InvalidRequest.Code))
		case len(parts) == 0:
			fill(nil)
		case req.GetVersion() == 4:
			pending++
			c.AddPartitions(b.Now(), tr.TransactionalID, tr.ProducerID, tr.ProducerEpoch, parts, func(codes []int16) {
				fill(codes)
				finish()
			})
		default:
			pending++
			c.AddPartitionsImplicit(b.Now(), tr.TransactionalID, tr.ProducerID, tr.ProducerEpoch, parts, func(codes []int16) {
				fill(codes)
				finish()
			})
		}
	}
	finish()
}

// missingParts is nil when every partition exists, otherwise the codes of a transaction
// refused for it: UNKNOWN_TOPIC_OR_PARTITION for those that do not,
// OPERATION_NOT_ATTEMPTED for the others.
func missingParts(v View, parts []txn.TopicPartition) []int16 {
	var codes []int16
	for i, p := range parts {
		if t, ok := v.Image.Topic(p.Topic); ok && p.Partition >= 0 && p.Partition < t.Partitions {
			continue
		}
		if codes == nil {
			codes = make([]int16, len(parts))
			for j := range codes {
				codes[j] = kerr.OperationNotAttempted.Code
			}
		}
		codes[i] = kerr.UnknownTopicOrPartition.Code
	}
	return codes
}
