package kafka

// ListOffsets, key 2, versions 0-8.
//
// Deviations from Apache Kafka:
//   - Only a partition's leader answers, and only up to its high watermark, whatever the
//     request's replica id: seedlog replicas do not use this API, and a debugging replica
//     id (-2) gets no reads from followers.
//   - -3 (the largest timestamp, KIP-734, v7+) answers the first record carrying the
//     largest timestamp among the records below the high watermark; Kafka searches the
//     whole local log and answers nothing when that record lies above the high
//     watermark. Below v7 it is UNSUPPORTED_VERSION, as clients send it from v7 only.
//     -4 (the earliest local offset, KIP-405) is the log start, as seedlog has no tiered
//     storage.
//   - Records whose timestamp is negative (no timestamp) never answer -3: a partition
//     holding only such records answers offset and timestamp -1.
//   - v0 answers at most one offset in OldStyleOffsets, the one v1 would give, where Kafka
//     listed up to MaxNumOffsets segment base offsets.
//
// As in Kafka, read_committed (isolation level 1) answers -1 with the last stable offset
// and looks timestamps up below it (where the bullets above say high watermark, it reads
// last stable offset); lookups by timestamp and -3 answer the found record's offset and
// timestamp (-1 and -2 answer timestamp -1), a new leader whose high watermark has not
// caught up answers OFFSET_NOT_AVAILABLE from v5 on and LEADER_NOT_AVAILABLE before
// (KIP-207), and from v1 on a partition named twice is answered INVALID_REQUEST each time.

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/partition"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicPartition names one partition of a request.
type topicPartition struct {
	topic     string
	partition int32
}

// ListOffsets looks up each partition through its replica, in request order, and
// answers once every partition has an outcome.
func ListOffsets(b Broker, req *kmsg.ListOffsetsRequest, reply func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	resp.SetVersion(req.GetVersion())
	version := req.GetVersion()
	dups := listDuplicates(req)
	g := newGather(func() { reply(resp) })
	for _, t := range req.Topics {
		rt := kmsg.NewListOffsetsResponseTopic()
		rt.Topic = t.Topic
		rt.Partitions = make([]kmsg.ListOffsetsResponseTopicPartition, len(t.Partitions))
		v := b.View()
		denied := v.CheckTopic(acl.OpDescribe, t.Topic) // DESCRIBE on the topic
		if v.Access != nil && v.Access.Plants.On(plant.AclCheckSkipped) {
			denied = 0
		}
		for i, p := range t.Partitions {
			out := &rt.Partitions[i]
			*out = kmsg.NewListOffsetsResponseTopicPartition()
			out.Partition = p.Partition
			rep := b.Replica(t.Topic, p.Partition)
			switch {
			case denied != 0:
				out.ErrorCode = denied
				continue
			case dups[topicPartition{t.Topic, p.Partition}]:
				out.ErrorCode = kerr.InvalidRequest.Code
				continue
			case p.Timestamp == partition.ListMaxTimestamp && version < 7:
				out.ErrorCode = kerr.UnsupportedVersion.Code
				continue
			case rep == nil:
				out.ErrorCode = partErr(b.View(), t.Topic, p.Partition)
				continue
			}
			g.add()
			rep.ListOffsets(b.Now(), p.Timestamp, p.CurrentLeaderEpoch, req.IsolationLevel, func(r partition.ListOffsetsResult) {
				fillListOffset(out, r, version, p.MaxNumOffsets)
				g.answered()
			})
		}
		resp.Topics = append(resp.Topics, rt)
	}
	g.close()
}

// listDuplicates returns the partitions a request (v1+) names more than once.
func listDuplicates(req *kmsg.ListOffsetsRequest) map[topicPartition]bool {
	if req.GetVersion() < 1 {
		return nil
	}
	seen := map[topicPartition]bool{}
	var dups map[topicPartition]bool
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			tp := topicPartition{t.Topic, p.Partition}
			if seen[tp] {
				if dups == nil {
					dups = map[topicPartition]bool{}
				}
				dups[tp] = true
			}
			seen[tp] = true
		}
	}
	return dups
}

// fillListOffset copies a replica's answer into the fields the version carries.
func fillListOffset(out *kmsg.ListOffsetsResponseTopicPartition, r partition.ListOffsetsResult, version int16, maxOffsets int32) {
	code := r.Err
	if code == kerr.OffsetNotAvailable.Code && version < 5 {
		code = kerr.LeaderNotAvailable.Code // KIP-207: older clients do not know the code
	}
	out.ErrorCode = code
	switch {
	case code != 0:
	case version == 0:
		if r.Offset >= 0 && maxOffsets > 0 {
			out.OldStyleOffsets = []int64{r.Offset}
		}
	default:
		out.Offset, out.Timestamp = r.Offset, r.Timestamp
		if version >= 4 {
			out.LeaderEpoch = r.LeaderEpoch
		}
	}
}
