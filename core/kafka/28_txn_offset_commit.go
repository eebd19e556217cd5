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
// Before the group coordinator sees the request, the broker asks the producer's
// transaction coordinator for its word on the group's offsets partition, as a partition
// leader does for a transactional produce (KIP-890, core/verify.go), under the same
// guard: below version 5 (KIP-890 part 1, Kafka 3.7+), whether the transaction is
// Ongoing with the partition (the client's AddOffsetsToTxn added it), so that a late
// commit of a transaction that already ended cannot open a transaction on
// __consumer_offsets that nobody ends (it would hold the partition's last stable offset
// and the group's offsets unstable for good). Version 5 (KIP-890 part 2), on a broker
// at transaction.version 2, comes from a producer that sent no AddOffsetsToTxn: the
// broker has the transaction coordinator add the partition (as Kafka 4.0's group
// coordinator does through its AddPartitionsToTxn manager). A producer whose
// transaction is open on the partition already needs no call. A refusal answers every
// partition, as in Kafka: a partition the transaction does not hold is
// INVALID_TXN_STATE below version 4 and TRANSACTION_ABORTABLE from it; a fenced
// producer INVALID_PRODUCER_EPOCH (PRODUCER_FENCED at version 5);
// INVALID_PRODUCER_ID_MAPPING and CONCURRENT_TRANSACTIONS as the coordinator says.
// Version 4 is version 3 on the wire (the client takes TRANSACTION_ABORTABLE); on a
// version-1 broker neither is advertised and version 5 is served as version 4.
//
// Deviations from Apache Kafka:
//   - The answer waits until the batch is durable on the ISR of the offsets partition,
//     like an acks=all produce.
//   - A transaction coordinator that could not answer now is
//     COORDINATOR_LOAD_IN_PROGRESS (COORDINATOR_NOT_AVAILABLE before version 2, and at
//     version 5, where clients look the coordinator up again), which clients retry;
//     Kafka gives its own NETWORK_EXCEPTION that way and passes the transaction
//     coordinator's NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE through.

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
	answer := func(got [][]int16) {
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
	}
	commit := func() { c.TxnOffsetCommit(b.Now(), known, answer) }
	if req.ProducerID < 0 || req.ProducerEpoch < 0 {
		commit() // not a transactional producer: the coordinator refuses it
		return
	}
	add := TxnV2Request(28, req.GetVersion(), b.TxnVersion())
	b.VerifyTxnCommit(req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group, add, func(code int16, guard any) {
		if code == 0 {
			known.Guard = guard
			c.TxnOffsetCommit(b.Now(), known, func(got [][]int16) {
				b.DropTxnGuard(guard) // when the coordinator refused the commit before writing
				answer(got)
			})
			return
		}
		code = txnCommitVerifyCode(code, req.GetVersion(), add)
		for _, s := range slots {
			codes[s.topic][s.partition] = code
		}
		respond()
	})
}

// txnCommitVerifyCode is what a TxnOffsetCommit gets when the transaction coordinator
// did not vouch for the offsets partition (add: v5, adding it failed): the
// coordinator's refusals as Kafka's group coordinator answers them, and a code clients
// retry for a coordinator that could not answer now.
func txnCommitVerifyCode(code int16, version int16, add bool) int16 {
	switch code {
	case kerr.InvalidProducerIDMapping.Code, kerr.InvalidRequest.Code, kerr.ConcurrentTransactions.Code,
		kerr.InvalidProducerEpoch.Code:
		return code
	case kerr.ProducerFenced.Code:
		if add {
			return code
		}
		return kerr.InvalidProducerEpoch.Code
	case kerr.TransactionAbortable.Code, kerr.InvalidTxnState.Code, kerr.ClusterAuthorizationFailed.Code:
		if version >= 4 {
			return kerr.TransactionAbortable.Code
		}
		return kerr.InvalidTxnState.Code
	case kerr.NotLeaderForPartition.Code:
		return kerr.NotCoordinator.Code // the offsets partition moved: so did the group
	}
	if add || version < 2 {
		return kerr.CoordinatorNotAvailable.Code
	}
	return kerr.CoordinatorLoadInProgress.Code
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
