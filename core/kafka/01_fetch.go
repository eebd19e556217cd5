package kafka

// Fetch, key 1, versions 0-16.
//
// Deviations from Apache Kafka:
//   - Versions 0-3 expect the pre-v2 message format: every partition is answered
//     UNSUPPORTED_FOR_MESSAGE_FORMAT.
//   - No fetch sessions (KIP-227): the response's session id is always 0, which tells the
//     client to keep sending full fetch requests; a request naming a session is answered
//     FETCH_SESSION_ID_NOT_FOUND.
//   - Replicas do not fetch with this API (they use seedlog's peer protocol): a request
//     with a replica id is answered NOT_LEADER_OR_FOLLOWER. Consumers cannot fetch from
//     followers (KIP-392); PreferredReadReplica is always -1.
//   - MinBytes is counted on whole batches read, and a request waiting for MinBytes is
//     re-read each time a high watermark of its partitions moves.
//   - read_committed reads up to the high watermark: without transactions the last stable
//     offset equals it.
//   - The response's byte budget is min(MaxBytes, the broker's fetch.max.bytes), at every
//     version. Partitions are read one after another, each at most min(PartitionMaxBytes,
//     what the budget has left); once it is spent the rest answer with their offsets only.
//     As in Kafka the first partition with records returns at least one whole batch; a
//     later partition's first batch may be read beyond the budget and is then dropped, so
//     a response never materializes more than the budget plus one batch.
//
// As in Apache Kafka, a partition without records gets an empty record set, never a null
// one: librdkafka 2.0 fails to parse a null one ("invalid MessageSetSize -1"), so a kcat
// consumer at the end of a partition would never see its end.

import (
	"time"

	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/partition"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchPart is one partition of a fetch in flight.
type fetchPart struct {
	topic  string
	p      int32
	rep    Replica
	req    partition.FetchRequest
	hwSeen int64 // the high watermark at the last read
	out    *kmsg.FetchResponseTopicPartition
}

// Fetch reads every requested partition and answers once at least MinBytes were read,
// an error occurred, or MaxWait passed.
func Fetch(b Broker, req *kmsg.FetchRequest, reply func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	resp.SetVersion(req.GetVersion())
	replicaID := req.ReplicaID
	if req.GetVersion() >= 15 {
		replicaID = req.ReplicaState.ID
	}
	switch {
	case req.SessionID != 0:
		resp.ErrorCode = codeFetchSessionIDNotFound
		reply(resp)
		return
	case req.SessionEpoch > 0:
		resp.ErrorCode = codeInvalidFetchSessionEpoch
		reply(resp)
		return
	}
	var global int16
	switch {
	case req.GetVersion() < 4:
		global = codeUnsupportedForMessageFormat
	case replicaID >= 0:
		global = codeNotLeaderOrFollower
	}
	parts := fetchParts(b, req, resp, global)
	budget := fetchBudget(b.View(), req)
	deadline := b.Now() + int64(time.Duration(req.MaxWaitMillis)*time.Millisecond)
	var read func()
	read = func() {
		readAll(b, parts, budget, func() {
			total, failed := 0, false
			for _, fp := range parts {
				total += len(fp.out.RecordBatches)
				failed = failed || fp.out.ErrorCode != 0
			}
			if failed || total >= int(max(req.MinBytes, 1)) || b.Now() >= deadline {
				trimToMaxBytes(parts, budget)
				emptyRecordsNotNull(resp)
				reply(resp)
				return
			}
			b.Wait(deadline, func() bool { return anyNewRecords(parts) }, read)
		})
	}
	read()
}

// FetchBytesMaxDefault is Kafka's fetch.max.bytes default.
const FetchBytesMaxDefault = 57671680

// fetchBudget is the most record bytes one response carries: the request's MaxBytes (v3+)
// under the broker's fetch.max.bytes.
func fetchBudget(v View, req *kmsg.FetchRequest) int {
	budget := int(v.FetchBytesMax)
	if budget <= 0 {
		budget = FetchBytesMaxDefault
	}
	if req.GetVersion() >= 3 {
		budget = min(budget, max(int(req.MaxBytes), 0))
	}
	return budget
}

// fetchParts builds the response skeleton and the partitions to read, answering the
// ones that cannot be read at once.
func fetchParts(b Broker, req *kmsg.FetchRequest, resp *kmsg.FetchResponse, global int16) []*fetchPart {
	v := b.View()
	var parts []*fetchPart
	for _, t := range req.Topics {
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		name, known := t.Topic, true
		if req.GetVersion() >= 13 {
			info, ok := v.Image.TopicByID(t.TopicID)
			name, known = info.Name, ok
		}
		rt.Partitions = make([]kmsg.FetchResponseTopicPartition, len(t.Partitions))
		var denied int16
		if known {
			denied = v.CheckTopic(acl.OpRead, name) // READ on the topic
		}
		for i, p := range t.Partitions {
			out := &rt.Partitions[i]
			*out = kmsg.NewFetchResponseTopicPartition()
			out.Partition, out.HighWatermark, out.LastStableOffset, out.LogStartOffset = p.Partition, -1, -1, -1
			out.PreferredReadReplica = -1
			rep := b.Replica(name, p.Partition)
			switch {
			case global != 0:
				out.ErrorCode = global
			case denied != 0:
				out.ErrorCode = denied
			case !known:
				out.ErrorCode = codeUnknownTopicID
			case rep == nil:
				out.ErrorCode = partErr(v, name, p.Partition)
			default:
				parts = append(parts, &fetchPart{topic: name, p: p.Partition, rep: rep, out: out,
					req: partition.FetchRequest{
						CurrentLeaderEpoch: p.CurrentLeaderEpoch, FetchOffset: p.FetchOffset,
						MaxBytes: p.PartitionMaxBytes, Isolation: req.IsolationLevel,
					}})
			}
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return parts
}

// readAll reads every partition once, without waiting, one after another so that each
// read knows what the budget has left, and calls done when all answered. A partition
// answered at once (nothing to read, an error) goes on in the same loop; one that waits
// for a disk read goes on from its answer.
func readAll(b Broker, parts []*fetchPart, budget int, done func()) {
	left, i := budget, 0
	var next func()
	next = func() {
		for i < len(parts) {
			fp := parts[i]
			i++
			inLoop, waiting := true, true
			fp.hwSeen = fp.rep.HighWatermark()
			fp.rep.Fetch(b.Now(), partRead(fp.req, left), func(r partition.FetchResult) {
				o := fp.out
				o.ErrorCode, o.HighWatermark, o.LastStableOffset, o.LogStartOffset = r.Err, r.HighWatermark, r.LastStableOffset, r.LogStartOffset
				o.RecordBatches = r.Records
				left -= len(r.Records)
				waiting = false
				if !inLoop {
					next()
				}
			})
			inLoop = false
			if waiting {
				return
			}
		}
		done()
	}
	next()
}

// partRead is one partition's read: at most min(its PartitionMaxBytes, left), and offsets
// only once nothing is left.
func partRead(req partition.FetchRequest, left int) partition.FetchRequest {
	req.MaxBytes = int32(min(max(int(req.MaxBytes), 0), max(left, 0)))
	req.OffsetsOnly = left <= 0
	return req
}

// emptyRecordsNotNull gives every partition of resp without records an empty record
// set instead of a null one, as Apache Kafka writes it.
func emptyRecordsNotNull(resp *kmsg.FetchResponse) {
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			if p := &resp.Topics[i].Partitions[j]; p.RecordBatches == nil {
				p.RecordBatches = []byte{}
			}
		}
	}
}

// anyNewRecords reports whether a high watermark moved since the last read.
func anyNewRecords(parts []*fetchPart) bool {
	for _, fp := range parts {
		if fp.rep.HighWatermark() > fp.hwSeen {
			return true
		}
	}
	return false
}

// trimToMaxBytes drops the records of partitions past the response's byte budget,
// keeping the first partition that has records whole, as Kafka does.
func trimToMaxBytes(parts []*fetchPart, budget int) {
	total := 0
	for _, fp := range parts {
		n := len(fp.out.RecordBatches)
		if n == 0 {
			continue
		}
		if total > 0 && total+n > budget {
			fp.out.RecordBatches = nil
			continue
		}
		total += n
	}
}
