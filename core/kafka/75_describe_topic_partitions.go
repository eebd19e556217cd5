package kafka

// DescribeTopicPartitions, key 75, versions 0-0.
//
// Topics and their partitions, paged with a cursor (KIP-966).
//
// Deviations from Apache Kafka:
//   - Linearizable, like Metadata: answered after a read barrier through the active
//     controller.
//   - EligibleLeaderReplicas and LastKnownELR are always empty: seedlog has no eligible
//     leader replicas. Its ISR already holds only replicas whose fsynced logs hold every
//     acknowledged record (acks=all waits for their syncs), which is what ELR adds to
//     Kafka's page-cache durability.
//   - Authorized operations are not computed (-2147483648, "not requested").
//   - The broker's partition limit (Kafka's max.request.partition.size.limit) is fixed
//     at its default, DescribeTopicPartitionsLimitMax.
//
// As in Kafka: topics are answered in name order, from the cursor's topic and partition
// on; the answer holds at most min(ResponsePartitionLimit, the broker's limit), at least
// one, partitions and names the next cursor where it stopped. A listing of all topics
// (an empty topic list) hides those the principal may not DESCRIBE; named topics it may
// not DESCRIBE are answered TOPIC_AUTHORIZATION_FAILED, after the others and outside the
// paging, and unknown named ones UNKNOWN_TOPIC_OR_PARTITION (INVALID_TOPIC_EXCEPTION for
// an invalid name). A cursor whose topic is not among the named topics, or whose
// partition is negative, fails every named topic with INVALID_REQUEST.

import (
	"slices"

	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeTopicPartitionsLimitMax is the most partitions one answer holds, whatever the
// request asks (Kafka's max.request.partition.size.limit default).
const DescribeTopicPartitionsLimitMax = 2000

// DescribeTopicPartitions answers from the view's image.
func DescribeTopicPartitions(v View, req *kmsg.DescribeTopicPartitionsRequest) *kmsg.DescribeTopicPartitionsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeTopicPartitionsResponse)
	resp.SetVersion(req.GetVersion())
	all := len(req.Topics) == 0
	cursorTopic, cursorPartition := "", int32(0)
	if c := req.Cursor; c != nil {
		cursorTopic, cursorPartition = c.Topic, c.Partition
	}
	var names []string
	if all {
		for _, t := range v.Image.Topics() {
			if t.Name >= cursorTopic {
				names = append(names, t.Name)
			}
		}
	} else {
		for _, t := range req.Topics {
			if t.Topic >= cursorTopic {
				names = append(names, t.Topic)
			}
		}
		slices.Sort(names)
		names = slices.Compact(names)
	}
	if c := req.Cursor; c != nil && (c.Partition < 0 || !all && !slices.Contains(names, c.Topic)) {
		return describeTopicPartitionsInvalid(resp, req)
	}
	remaining := int(max(min(req.ResponsePartitionLimit, DescribeTopicPartitionsLimitMax), 1))
	var denied []kmsg.DescribeTopicPartitionsResponseTopic
	for _, name := range names {
		if code := v.CheckTopic(acl.OpDescribe, name); code != 0 {
			if !all {
				denied = append(denied, describedTopicError(name, code))
			}
			continue
		}
		if remaining == 0 {
			// Every partition of the topics before was given: the next answer starts
			// at this topic, whether it exists or not.
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: 0}
			break
		}
		t, ok := v.Image.Topic(name)
		if !ok {
			if !all {
				code := kerr.UnknownTopicOrPartition.Code
				if metadata.ValidTopicName(name) != nil {
					code = kerr.InvalidTopicException.Code
				}
				resp.Topics = append(resp.Topics, describedTopicError(name, code))
			}
			continue
		}
		start := int32(0)
		if name == cursorTopic {
			start = cursorPartition
		}
		rt, next := describedTopic(v, t, start, remaining)
		resp.Topics = append(resp.Topics, rt)
		if next >= 0 {
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: next}
			break
		}
		remaining -= len(rt.Partitions)
	}
	resp.Topics = append(resp.Topics, denied...)
	return resp
}

// describedTopic describes the partitions of t from start on, at most limit of them,
// and returns the partition to continue from, -1 when none is left.
func describedTopic(v View, t metadata.TopicInfo, start int32, limit int) (kmsg.DescribeTopicPartitionsResponseTopic, int32) {
	rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
	name := t.Name
	rt.Topic, rt.TopicID, rt.IsInternal = &name, t.ID, metadata.InternalTopic(t.Name)
	rt.Partitions = []kmsg.DescribeTopicPartitionsResponseTopicPartition{}
	count := int64(t.Partitions)
	end := min(count, int64(start)+int64(limit))
	for i := int64(start); i < end; i++ {
		p, ok := v.Image.Partition(t.ID, int32(i))
		if !ok {
			continue
		}
		dp := kmsg.NewDescribeTopicPartitionsResponseTopicPartition()
		dp.Partition, dp.LeaderID, dp.LeaderEpoch = p.Partition, p.Leader, p.LeaderEpoch
		dp.Replicas, dp.ISR = p.Replicas, p.ISR
		dp.EligibleLeaderReplicas, dp.LastKnownELR = []int32{}, []int32{}
		dp.OfflineReplicas = []int32{}
		if p.Leader < 0 {
			dp.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		for _, r := range p.Replicas {
			if v.Image.IsFenced(r) {
				dp.OfflineReplicas = append(dp.OfflineReplicas, r)
			}
		}
		rt.Partitions = append(rt.Partitions, dp)
	}
	if end < count {
		return rt, int32(end)
	}
	return rt, -1
}

func describedTopicError(name string, code int16) kmsg.DescribeTopicPartitionsResponseTopic {
	rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
	n := name
	rt.Topic, rt.ErrorCode, rt.IsInternal = &n, code, metadata.InternalTopic(name)
	rt.Partitions = []kmsg.DescribeTopicPartitionsResponseTopicPartition{}
	return rt
}

// describeTopicPartitionsInvalid fails every named topic with INVALID_REQUEST, as Kafka
// answers a request it refuses.
func describeTopicPartitionsInvalid(resp *kmsg.DescribeTopicPartitionsResponse, req *kmsg.DescribeTopicPartitionsRequest) *kmsg.DescribeTopicPartitionsResponse {
	for _, t := range req.Topics {
		rt := describedTopicError(t.Topic, kerr.InvalidRequest.Code)
		rt.IsInternal = false
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
