package kafka

// OffsetDelete, key 47, versions 0-0.
//
// Deviations from Apache Kafka (core/group documents the coordinator's):
//   - The answer waits until the tombstones are durable on the ISR of the group's
//     offsets partition; Kafka answers without waiting for them.
//   - A group being removed answers COORDINATOR_NOT_AVAILABLE (Kafka:
//     GROUP_ID_NOT_FOUND), since the removal may still fail.
//
// As in Kafka, an empty group id answers INVALID_GROUP_ID; partitions of unknown topics
// (or past a topic's partition count) are answered UNKNOWN_TOPIC_OR_PARTITION, and the
// coordinator decides the others; a group-level error (routing, GROUP_ID_NOT_FOUND,
// NON_EMPTY_GROUP) is answered alone, without partitions.

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetDelete deletes the committed offsets of the named partitions of a group through
// its coordinator and answers every partition in request order.
func OffsetDelete(b Broker, req *kmsg.OffsetDeleteRequest, reply func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	resp.SetVersion(req.GetVersion())
	codes := make([][]int16, len(req.Topics))
	for i, t := range req.Topics {
		codes[i] = make([]int16, len(t.Partitions))
	}
	c, code := groupCoordinator(b, acl.OpDelete, req.Group, true)
	if code != 0 {
		resp.ErrorCode = code
		reply(resp)
		return
	}
	known, slots := knownDeletes(b.View(), req, codes)
	c.OffsetDelete(b.Now(), known, func(r *kmsg.OffsetDeleteResponse) {
		if r.ErrorCode != 0 {
			resp.ErrorCode = r.ErrorCode
			reply(resp)
			return
		}
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
		fillDeleteResponse(resp, req, codes)
		reply(resp)
	})
}

// knownDeletes returns the request with only the partitions that exist, and where each
// of them sits in req; the others get UNKNOWN_TOPIC_OR_PARTITION in codes.
func knownDeletes(v View, req *kmsg.OffsetDeleteRequest, codes [][]int16) (*kmsg.OffsetDeleteRequest, []commitSlot) {
	known := *req
	known.Topics = nil
	var slots []commitSlot
	for i, t := range req.Topics {
		info, ok := v.Image.Topic(t.Topic)
		denied := v.CheckTopic(acl.OpRead, t.Topic) // READ on each topic
		kt := kmsg.OffsetDeleteRequestTopic{Topic: t.Topic}
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

func fillDeleteResponse(resp *kmsg.OffsetDeleteResponse, req *kmsg.OffsetDeleteRequest, codes [][]int16) {
	resp.Topics = nil
	for i, t := range req.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		for j, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, codes[i][j]
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
}
