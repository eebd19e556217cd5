package kafka

// DeleteRecords, key 21, versions 0-2.
//
// A partition is answered once its new log start is durable on the leader and on every
// other ISR member (Kafka waits for every live replica's log start to move, not
// necessarily to disk), or REQUEST_TIMED_OUT once the request's timeout passes: no
// replica that may lead next shows what an acknowledged deletion removed. As in Kafka,
// offset -1 means the high watermark, and an offset above it is OFFSET_OUT_OF_RANGE.

import (
	"time"

	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/partition"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteRecords moves each partition's log start up to the offset asked for and answers
// once every partition has an outcome.
func DeleteRecords(b Broker, req *kmsg.DeleteRecordsRequest, reply func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	resp.SetVersion(req.GetVersion())
	g := newGather(func() { reply(resp) })
	timeout := time.Duration(max(req.TimeoutMillis, 0)) * time.Millisecond
	for _, t := range req.Topics {
		rt := kmsg.NewDeleteRecordsResponseTopic()
		rt.Topic = t.Topic
		rt.Partitions = make([]kmsg.DeleteRecordsResponseTopicPartition, len(t.Partitions))
		denied := b.View().CheckTopic(acl.OpDelete, t.Topic) // DELETE on the topic
		for i, p := range t.Partitions {
			out := &rt.Partitions[i]
			*out = kmsg.NewDeleteRecordsResponseTopicPartition()
			out.Partition, out.LowWatermark = p.Partition, -1
			if denied != 0 {
				out.ErrorCode = denied
				continue
			}
			rep := b.Replica(t.Topic, p.Partition)
			if rep == nil {
				out.ErrorCode = partErr(b.View(), t.Topic, p.Partition)
				continue
			}
			g.add()
			rep.DeleteRecords(b.Now(), p.Offset, timeout, func(r partition.DeleteResult) {
				out.ErrorCode, out.LowWatermark = r.Err, r.LowWatermark
				if r.Err != 0 {
					out.LowWatermark = -1
				}
				g.answered()
			})
		}
		resp.Topics = append(resp.Topics, rt)
	}
	g.close()
}
