package kafka

// OffsetCommit, key 8, versions 0-9.
//
// Deviations from Apache Kafka (core/group documents the coordinator's):
//   - A commit is acknowledged only once it is durable on the ISR of the group's offsets
//     partition (fsynced), like an acks=all produce.
//   - v0 commits go to the group coordinator like every other version (Kafka 0.8 wrote
//     them to ZooKeeper).
//   - The per-partition commit timestamp (v1) and the retention time (v2-4) are ignored:
//     committed offsets expire by the broker's offsets.retention.minutes alone (KIP-211),
//     counted from the coordinator's clock.
//   - v9 is served with classic-group semantics: seedlog has no KIP-848 consumer groups,
//     whose members would send a member epoch in the generation field.
//
// As in Kafka, partitions of unknown topics (or past a topic's partition count) are
// answered UNKNOWN_TOPIC_OR_PARTITION before the coordinator sees the request; when no
// partition is left the coordinator is not asked at all.

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// commitSlot is where a partition of the request the coordinator sees sits in the
// client's request.
type commitSlot struct{ topic, partition int }

// OffsetCommit commits the offsets of known partitions through the group's coordinator
// and answers every partition of the request in its order.
func OffsetCommit(b Broker, req *kmsg.OffsetCommitRequest, reply func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	resp.SetVersion(req.GetVersion())
	codes := make([][]int16, len(req.Topics))
	for i, t := range req.Topics {
		codes[i] = make([]int16, len(t.Partitions))
	}
	respond := func() {
		fillCommitResponse(resp, req, codes)
		reply(resp)
	}
	if code := b.View().CheckGroup(acl.OpRead, req.Group); code != 0 { // READ on the group first
		for i := range codes {
			for j := range codes[i] {
				codes[i][j] = code
			}
		}
		respond()
		return
	}
	known, slots := knownCommits(b.View(), req, codes)
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
	c.OffsetCommit(b.Now(), known, func(r *kmsg.OffsetCommitResponse) {
		i := 0
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				s := slots[i]
				codes[s.topic][s.partition] = p.ErrorCode
				i++
			}
		}
		if i != len(slots) {
			panic("kafka: the coordinator answered a different number of partitions than it was asked")
		}
		respond()
	})
}

// knownCommits returns the request with only the partitions that exist, and where each
// of them sits in req; the others get UNKNOWN_TOPIC_OR_PARTITION in codes.
func knownCommits(v View, req *kmsg.OffsetCommitRequest, codes [][]int16) (*kmsg.OffsetCommitRequest, []commitSlot) {
	known := *req
	known.Topics = nil
	var slots []commitSlot
	for i, t := range req.Topics {
		info, ok := v.Image.Topic(t.Topic)
		denied := v.CheckTopic(acl.OpRead, t.Topic) // READ on each topic
		kt := t
		kt.Partitions = nil
		for j, p := range t.Partitions {
			if denied != 0 {
				codes[i][j] = denied
				continue
			}
			if !ok || p.Partition < 0 || p.Partition >= info.Partitions {
				codes[i][j] = kerr.UnknownTopicOrPartition.Code
				continue
			}
			kt.Partitions = append(kt.Partitions, p)
			slots = append(slots, commitSlot{i, j})
		}
		if len(kt.Partitions) > 0 {
			known.Topics = append(known.Topics, kt)
		}
	}
	return &known, slots
}

func fillCommitResponse(resp *kmsg.OffsetCommitResponse, req *kmsg.OffsetCommitRequest, codes [][]int16) {
	resp.Topics = nil
	for i, t := range req.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for j, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, codes[i][j]
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
}
