package kafka

// TxnOffsetCommit, key 28, versions 0-5.
//
// The offsets are written to the group's offsets partition as one batch of the
// producer's transaction and become the group's committed offsets only when the
// transaction's commit marker reaches that partition (an abort drops them); core/group
// documents the coordinator's side. As in Kafka, WRITE on the transactional id is
// checked first, then READ on the group (either failing answers every partition with
// its authorization error), then READ on each topic; partitions of unknown topics (or
// past a topic's partition count) are answered UNKNOWN_TOPIC_OR_PARTITION before the
// coordinator sees the request, and when no partition is left it is not asked at all.
// Before v3 the request names no member and no generation: the coordinator then checks
// no membership.
//
// Version 5 (KIP-890 part 2), on a broker at transaction.version 2, comes from a
// producer that sent no AddOffsetsToTxn: before the group coordinator sees the request,
// the broker has the transaction coordinator add the group's offsets partition to the
// transaction (as Kafka 4.0's group coordinator does through its AddPartitionsToTxn
// manager), and answers every partition with the refusal if it is refused. Version 4
// is version 3 on the wire (the client takes TRANSACTION_ABORTABLE); on a version-1
// broker neither is advertised and version 5 is served as version 4.
//
// Deviations from Apache Kafka:
//   - The answer waits until the batch is durable on the ISR of the offsets partition,
//     like an acks=all produce.
//   - Kafka verifies the offsets partition with the coordinator at every version
//     (KIP-890 part 1); seedlog adds it at version 5 only and does not verify before.
//     The answer to a failed add is the coordinator's refusal (PRODUCER_FENCED,
//     INVALID_PRODUCER_ID_MAPPING, CONCURRENT_TRANSACTIONS), TRANSACTION_ABORTABLE for a
//     transaction that cannot take it, COORDINATOR_NOT_AVAILABLE when the transaction
//     coordinator could not be asked now (clients retry it).

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/group"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TxnOffsetCommit hands the offsets of known partitions to the group's coordinator and
// answers every partition of the request in its order.
func TxnOffsetCommit(b Broker, req *kmsg.TxnOffsetCommitRequest, reply func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	resp.SetVersion(req.GetVersion())
	codes := make([][]int16, len(req.Topics))
	for i, t := range req.Topics {
		codes[i] = make([]int16, len(t.Partitions))
	}
	respond := func() {
		fillTxnCommitResponse(resp, req, codes)
		reply(resp)
	}
	v := b.View()
	code := v.Check(acl.OpWrite, acl.ResourceTransactionalID, req.TransactionalID)
	if code == 0 {
		code = v.CheckGroup(acl.OpRead, req.Group)
	}
	if code != 0 {
		for i := range codes {
			for j := range codes[i] {
				codes[i][j] = code
			}
		}
		respond()
		return
	}
	known, slots := knownTxnCommits(v, req, codes)
	if len(slots) == 0 {
		respond()
		return
	}
	c, code := groupCoordinator(b, acl.OpRead, req.Group, false)
	if code != 0 {
		for _, s := range slots {
			codes[s.topic][s.partition] = code
		}
		respond()
		return
	}
	commit := func() {
		c.TxnOffsetCommit(b.Now(), known, func(got [][]int16) {
			i := 0
			for _, t := range got {
				for _, code := range t {
					s := slots[i]
					codes[s.topic][s.partition] = code
					i++
				}
			}
			if i != len(slots) {
				panic("kafka: the coordinator answered a different number of partitions than it was asked")
			}
			respond()
		})
	}
	if !TxnV2Request(28, req.GetVersion(), b.TxnVersion()) {
		commit()
		return
	}
	b.AddToTxn(req.TransactionalID, req.ProducerID, req.ProducerEpoch, b.OffsetsPartition(req.Group), func(code int16) {
		if code == 0 {
			commit()
			return
		}
		code = txnCommitAddCode(code)
		for _, s := range slots {
			codes[s.topic][s.partition] = code
		}
		respond()
	})
}

// txnCommitAddCode is what a TxnOffsetCommit v5 gets when adding the offsets partition
// to the transaction failed: the coordinator's refusals as its answers would be, and
// COORDINATOR_NOT_AVAILABLE for a coordinator that could not answer now.
func txnCommitAddCode(code int16) int16 {
	switch code {
	case kerr.ProducerFenced.Code, kerr.InvalidProducerIDMapping.Code, kerr.InvalidRequest.Code,
		kerr.ConcurrentTransactions.Code:
		return code
	case kerr.TransactionAbortable.Code, kerr.InvalidTxnState.Code:
		return kerr.TransactionAbortable.Code
	}
	return kerr.CoordinatorNotAvailable.Code
}

// knownTxnCommits returns the coordinator's request with only the partitions that exist
// (and whose topics the principal may read), and where each of them sits in req; the
// others get their code in codes.
func knownTxnCommits(v View, req *kmsg.TxnOffsetCommitRequest, codes [][]int16) (group.TxnCommit, []commitSlot) {
	known := group.TxnCommit{
		Group:           req.Group,
		TransactionalID: req.TransactionalID,
		ProducerID:      req.ProducerID,
		ProducerEpoch:   req.ProducerEpoch,
		Generation:      -1,
	}
	if req.GetVersion() >= 3 {
		known.Generation, known.MemberID, known.InstanceID = req.Generation, req.MemberID, req.InstanceID
	}
	var slots []commitSlot
	for i, t := range req.Topics {
		info, ok := v.Image.Topic(t.Topic)
		denied := v.CheckTopic(acl.OpRead, t.Topic)
		kt := group.TxnCommitTopic{Topic: t.Topic}
		for j, p := range t.Partitions {
			if denied != 0 {
				codes[i][j] = denied
				continue
			}
			if !ok || p.Partition < 0 || p.Partition >= info.Partitions {
				codes[i][j] = kerr.UnknownTopicOrPartition.Code
				continue
			}
			epoch := int32(-1)
			if req.GetVersion() >= 2 {
				epoch = p.LeaderEpoch
			}
			kt.Partitions = append(kt.Partitions, group.TxnCommitPartition{
				Partition: p.Partition, Offset: p.Offset, LeaderEpoch: epoch, Metadata: p.Metadata})
			slots = append(slots, commitSlot{i, j})
		}
		if len(kt.Partitions) > 0 {
			known.Topics = append(known.Topics, kt)
		}
	}
	return known, slots
}

func fillTxnCommitResponse(resp *kmsg.TxnOffsetCommitResponse, req *kmsg.TxnOffsetCommitRequest, codes [][]int16) {
	resp.Topics = nil
	for i, t := range req.Topics {
		rt := kmsg.NewTxnOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for j, p := range t.Partitions {
			rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, codes[i][j]
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
}
