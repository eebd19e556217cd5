package kafka

// TxnOffsetCommit, key 28, versions 0-3.
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
// Deviation from Apache Kafka: the answer waits until the batch is durable on the ISR
// of the offsets partition, like an acks=all produce.

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
