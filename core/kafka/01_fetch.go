package kafka

// Fetch, key 1, versions 0-16.
//
// Fetch sessions (KIP-227) as in Apache Kafka (fetch_sessions.go): a full fetch with
// SessionEpoch 0 creates a session when the cache has room and answers its id;
// incremental fetches (the id, the previous epoch + 1) add and update partitions, remove
// ForgottenTopics, and are answered only the partitions with something new; epoch -1
// closes the named session and fetches in full without one. A session names partitions
// by topic id when created at v13+ and by name below; using it at a version of the
// other kind is FETCH_SESSION_TOPIC_ID_ERROR. Every partition of a session is read,
// authorized and counted against quotas on every fetch, as in a full fetch.
//
// Deviations from Apache Kafka:
//   - Versions 0-3 expect the pre-v2 message format: every partition is answered
//     UNSUPPORTED_FOR_MESSAGE_FORMAT.
//   - Fetch sessions are bounded per session (FetchSessionPartitionsMax partitions) and
//     across the cache (FetchSessionCachePartitionsMax) as well as in count; an
//     incremental fetch that would pass a bound closes its session and is answered as a
//     sessionless fetch (SessionID 0) of every partition it would have held. A session
//     belongs to its creator's principal; another principal naming it gets
//     FETCH_SESSION_ID_NOT_FOUND and cannot close it. A partition is also answered when
//     only its last stable offset changed.
//   - A fetch throttled by a quota keeps its partitions (without their records) and its
//     session: the response still tells the client the high watermarks the session
//     records as told, and a partition whose records were dropped is read again at the
//     client's unchanged offset, so it is answered again (Kafka answers a throttled
//     fetch with no partitions and, for a full fetch, no session).
//   - Replicas do not fetch with this API (they use seedlog's peer protocol): a request
//     with a replica id is answered NOT_LEADER_OR_FOLLOWER, without a session.
//     Consumers cannot fetch from followers (KIP-392); PreferredReadReplica is always -1.
//   - MinBytes is counted on whole batches read, and a request waiting for MinBytes is
//     re-read each time a high watermark of its partitions moves.
//   - A read_committed fetch waiting for MinBytes is re-read when a high watermark moves,
//     as any other; records below the last stable offset only count (Kafka wakes it on
//     the last stable offset alone).
//   - The response's byte budget is min(MaxBytes, the broker's fetch.max.bytes), at every
//     version. Partitions are read one after another, each at most min(PartitionMaxBytes,
//     what the budget has left); once it is spent the rest answer with their offsets only.
//     As in Kafka the first partition with records returns at least one whole batch; a
//     later partition's first batch may be read beyond the budget and is then dropped, so
//     a response never materializes more than the budget plus one batch.
//
// As in Apache Kafka, a read_committed fetch (IsolationLevel 1) gets the records below
// each partition's last stable offset and, in AbortedTransactions, the aborted
// transactions overlapping them (an empty list when none; null for read_uncommitted).
//
// As in Apache Kafka, a partition without records gets an empty record set, never a null
// one: librdkafka 2.0 fails to parse a null one ("invalid MessageSetSize -1"), so a kcat
// consumer at the end of a partition would never see its end.
//
// Records are read as spans (disk.Span) and answered in a FetchAnswer: the shell writes
// them from the log's files (sendfile) between the response's other bytes
// (AppendFrame), so record bytes never pass through the broker's memory on their way
// out; every byte count here (MinBytes, budgets, sessions, quotas) counts the spans.

import (
	"time"

	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/partition"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchPart is one partition of a fetch in flight.
type fetchPart struct {
	topic  string
	p      int32
	rep    Replica
	req    partition.FetchRequest
	hwSeen int64 // the high watermark at the last read
	// recs are the records read, nil once a budget dropped them; next is the offset
	// after the last batch read (0 without), kept when they are dropped.
	recs []disk.Span
	next int64
	want int // the index of its fetchWant
	out  *kmsg.FetchResponseTopicPartition
}

// fetchWant is one partition a fetch answers: from the request, or from its session.
type fetchWant struct {
	name      string // the topic's name; "" for a topic id no topic has
	wireTopic string // the name the response carries ("" where topics go by id)
	id        [16]byte
	known     bool // the topic id names a topic (names are looked up when read)
	p         int32
	// The client's parameters.
	fetchOffset int64
	leaderEpoch int32
	maxBytes    int32
	sp          *sessionPart // in a session fetch, the partition it holds
}

// fetchMode is how a fetch uses sessions.
type fetchMode uint8

const (
	fetchSessionless fetchMode = iota // answered whole, SessionID 0
	fetchFull                         // answered whole, creating a session if there is room
	fetchIncremental                  // answered within a session: what changed only
)

// fetchCtx is a fetch's session context (Kafka's FetchContext).
type fetchCtx struct {
	cache     *FetchSessions
	mode      fetchMode
	sess      *fetchSession // incremental
	epoch     int32         // incremental: the session's epoch once this fetch began
	principal string
	topicIDs  bool
	wants     []fetchWant
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
	var global int16
	switch {
	case req.GetVersion() < 4:
		global = codeUnsupportedForMessageFormat
	case replicaID >= 0:
		global = codeNotLeaderOrFollower
	}
	v := b.View()
	fc, code := newFetchCtx(b, v, req, global != 0)
	if code != 0 {
		resp.ErrorCode = code
		reply(&FetchAnswer{FetchResponse: resp})
		return
	}
	outs := make([]kmsg.FetchResponseTopicPartition, len(fc.wants))
	parts := fetchParts(b, v, fc.wants, outs, req.IsolationLevel, global)
	budget := fetchBudget(v, req)
	deadline := b.Now() + int64(time.Duration(req.MaxWaitMillis)*time.Millisecond)
	var read func()
	read = func() {
		readAll(b, parts, budget, func() {
			total, failed := int64(0), false
			for _, fp := range parts {
				total += disk.SpansLen(fp.recs)
				failed = failed || fp.out.ErrorCode != 0
			}
			if failed || total >= int64(max(req.MinBytes, 1)) || b.Now() >= deadline {
				trimToMaxBytes(parts, budget)
				recs := make([][]disk.Span, len(outs))
				for _, fp := range parts {
					recs[fp.want] = fp.recs
				}
				ans := &FetchAnswer{FetchResponse: resp}
				fc.answer(b, v, ans, outs, recs, parts)
				emptyRecordsNotNull(resp)
				reply(ans)
				return
			}
			b.Wait(deadline, func() bool { return anyNewRecords(parts) }, read)
		})
	}
	read()
}

// newFetchCtx finds what a fetch answers and how it uses sessions (Kafka's
// FetchManager.newContext), or the error that answers it whole. noSessions keeps a
// fetch every partition of which fails from any session.
func newFetchCtx(b Broker, v View, req *kmsg.FetchRequest, noSessions bool) (*fetchCtx, int16) {
	fc := &fetchCtx{cache: b.FetchSessions(), principal: v.Principal, topicIDs: req.GetVersion() >= 13}
	if req.GetVersion() < 7 || noSessions || fc.cache == nil {
		// Before v7 the session fields are not on the wire: every fetch is full.
		fc.wants = requestWants(v, req)
		return fc, 0
	}
	id, epoch := req.SessionID, req.SessionEpoch
	if epoch == 0 || epoch == -1 {
		// A full fetch closes the session it names, if the principal's.
		if s := fc.cache.lookup(id, fc.principal); id != 0 && s != nil {
			fc.cache.remove(s)
		}
		fc.wants = requestWants(v, req)
		if epoch == 0 {
			fc.mode = fetchFull
		}
		return fc, 0
	}
	s := fc.cache.lookup(id, fc.principal)
	switch {
	case s == nil:
		return nil, codeFetchSessionIDNotFound
	case s.epoch != epoch:
		return nil, codeInvalidFetchSessionEpoch // the session stays as it was
	case s.topicIDs != fc.topicIDs:
		return nil, codeFetchSessionTopicIDError
	}
	upserts, forget := sessionChanges(req, fc.topicIDs)
	if !fc.cache.update(s, upserts, forget) {
		// Past a bound: the session closes, and this fetch is answered without one for
		// every partition it would have held.
		fc.wants = sessionWants(v, s, false)
		fc.cache.remove(s)
		return fc, 0
	}
	if len(s.parts) == 0 {
		// Every partition forgotten: the session closes (as in Kafka).
		fc.cache.remove(s)
		fc.wants = requestWants(v, req)
		return fc, 0
	}
	fc.cache.touch(s, b.Now())
	s.epoch = nextEpoch(s.epoch)
	fc.mode, fc.sess, fc.epoch = fetchIncremental, s, s.epoch
	fc.cache.stats.Incremental++
	fc.wants = sessionWants(v, s, true)
	return fc, 0
}

// requestWants lists the partitions of a full fetch, in request order.
func requestWants(v View, req *kmsg.FetchRequest) []fetchWant {
	n := 0
	for _, t := range req.Topics {
		n += len(t.Partitions)
	}
	wants := make([]fetchWant, 0, n)
	for _, t := range req.Topics {
		name, known := t.Topic, true
		if req.GetVersion() >= 13 {
			info, ok := v.Image.TopicByID(t.TopicID)
			name, known = info.Name, ok
		}
		for _, p := range t.Partitions {
			wants = append(wants, fetchWant{name: name, wireTopic: t.Topic, id: t.TopicID, known: known, p: p.Partition,
				fetchOffset: p.FetchOffset, leaderEpoch: p.CurrentLeaderEpoch, maxBytes: p.PartitionMaxBytes})
		}
	}
	return wants
}

// sessionWants lists the partitions of session s, in its order; bind ties each to its
// session partition.
func sessionWants(v View, s *fetchSession, bind bool) []fetchWant {
	wants := make([]fetchWant, len(s.parts))
	for i, sp := range s.parts {
		w := fetchWant{name: sp.key.name, wireTopic: sp.key.name, id: sp.key.id, known: true, p: sp.key.part,
			fetchOffset: sp.fetchOffset, leaderEpoch: sp.leaderEpoch, maxBytes: sp.maxBytes}
		if s.topicIDs {
			info, ok := v.Image.TopicByID(sp.key.id)
			w.name, w.known = info.Name, ok
		}
		if bind {
			w.sp = sp
		}
		wants[i] = w
	}
	return wants
}

// sessionChanges reads an incremental fetch's partitions to add or update and its
// partitions to forget.
func sessionChanges(req *kmsg.FetchRequest, topicIDs bool) ([]*sessionPart, []sessionKey) {
	var upserts []*sessionPart
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			upserts = append(upserts, &sessionPart{key: keyOf(topicIDs, t.TopicID, t.Topic, p.Partition),
				fetchOffset: p.FetchOffset, leaderEpoch: p.CurrentLeaderEpoch, maxBytes: p.PartitionMaxBytes,
				hw: -1, lso: -1, logStart: -1})
		}
	}
	var forget []sessionKey
	for _, t := range req.ForgottenTopics {
		for _, p := range t.Partitions {
			forget = append(forget, keyOf(topicIDs, t.TopicID, t.Topic, p))
		}
	}
	return upserts, forget
}

// keyOf is a partition's key in a session of topic ids or of names.
func keyOf(topicIDs bool, id [16]byte, name string, p int32) sessionKey {
	if topicIDs {
		return sessionKey{id: id, part: p}
	}
	return sessionKey{name: name, part: p}
}

// answer fills ans with the partitions read (outs, their records in recs, both in
// wants' order) as the fetch's session context says: all of them, creating a session
// for a full fetch with SessionEpoch 0, or within a session only those with something
// new.
func (fc *fetchCtx) answer(b Broker, v View, ans *FetchAnswer, outs []kmsg.FetchResponseTopicPartition, recs [][]disk.Span, parts []*fetchPart) {
	resp := ans.FetchResponse
	switch fc.mode {
	case fetchSessionless:
		resp.Topics, ans.Records = groupTopics(fc.wants, outs, recs, nil)
	case fetchFull:
		if s := fc.cache.create(b.Now(), fc.principal, fc.topicIDs, fc.newSessionParts(outs)); s != nil {
			resp.SessionID = s.id
		}
		resp.Topics, ans.Records = groupTopics(fc.wants, outs, recs, nil)
	case fetchIncremental:
		s := fc.sess
		resp.SessionID = s.id
		if s.epoch != fc.epoch {
			// Another fetch of the session began meanwhile (Kafka's "possible duplicate
			// request"): this one's answer would not be what the session records.
			resp.ErrorCode = codeInvalidFetchSessionEpoch
			return
		}
		if v.Plants.On(plant.SessionOffsetPastUnsent) {
			for _, fp := range parts {
				sp := fc.wants[fp.want].sp
				sp.fetchOffset = max(sp.fetchOffset, fp.next)
			}
		}
		keep := make([]bool, len(outs))
		hadRecords := map[*sessionPart]bool{}
		for i := range outs {
			o, sp := &outs[i], fc.wants[i].sp
			n := disk.SpansLen(recs[i])
			keep[i] = sp.answered(o.ErrorCode, o.HighWatermark, o.LastStableOffset, o.LogStartOffset, int(n), o.PreferredReadReplica)
			if n > 0 {
				hadRecords[sp] = true
			}
		}
		s.rotate(hadRecords)
		resp.Topics, ans.Records = groupTopics(fc.wants, outs, recs, keep)
	}
}

// newSessionParts builds the partitions of a session created by a full fetch, each
// told what outs answered: a partition named twice is kept once (the last parameters
// win, as Kafka's request map does). It returns nil when a name session would hold a
// name no topic can have.
func (fc *fetchCtx) newSessionParts(outs []kmsg.FetchResponseTopicPartition) []*sessionPart {
	if fc.cache.slots == 0 || len(fc.wants) > FetchSessionPartitionsMax {
		return nil
	}
	parts := make([]*sessionPart, 0, len(fc.wants))
	index := make(map[sessionKey]*sessionPart, len(fc.wants))
	for i, w := range fc.wants {
		if !fc.topicIDs && len(w.name) > topicNameMax {
			return nil
		}
		o := &outs[i]
		sp := &sessionPart{key: keyOf(fc.topicIDs, w.id, w.name, w.p), fetchOffset: w.fetchOffset,
			leaderEpoch: w.leaderEpoch, maxBytes: w.maxBytes, hw: -1, lso: -1, logStart: -1}
		sp.answered(o.ErrorCode, o.HighWatermark, o.LastStableOffset, o.LogStartOffset, 0, -1)
		if old := index[sp.key]; old != nil {
			*old = *sp
			continue
		}
		index[sp.key] = sp
		parts = append(parts, sp)
	}
	return parts
}

// groupTopics builds a response's topics from the partitions answered, in order, those
// with keep false left out (keep nil: every one): consecutive partitions of one topic
// share its entry, as Kafka writes them. It returns the records of the partitions kept,
// in the response's order (a FetchAnswer's Records; nil when none has any).
func groupTopics(wants []fetchWant, outs []kmsg.FetchResponseTopicPartition, recs [][]disk.Span, keep []bool) ([]kmsg.FetchResponseTopic, [][]disk.Span) {
	var topics []kmsg.FetchResponseTopic
	var kept [][]disk.Span
	some := false
	for i := range outs {
		if keep != nil && !keep[i] {
			continue
		}
		w := &wants[i]
		if n := len(topics); n == 0 || topics[n-1].Topic != w.wireTopic || topics[n-1].TopicID != w.id {
			rt := kmsg.NewFetchResponseTopic()
			rt.Topic, rt.TopicID = w.wireTopic, w.id
			topics = append(topics, rt)
		}
		t := &topics[len(topics)-1]
		t.Partitions = append(t.Partitions, outs[i])
		kept = append(kept, recs[i])
		some = some || len(recs[i]) > 0
	}
	if !some {
		kept = nil
	}
	return topics, kept
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

// fetchParts fills outs, one per want, answering the partitions that cannot be read at
// once, and returns the ones to read. READ on a topic is checked once per fetch.
func fetchParts(b Broker, v View, wants []fetchWant, outs []kmsg.FetchResponseTopicPartition, isolation int8, global int16) []*fetchPart {
	var parts []*fetchPart
	denied := map[string]int16{}
	for i := range wants {
		w := &wants[i]
		out := &outs[i]
		*out = kmsg.NewFetchResponseTopicPartition()
		out.Partition, out.HighWatermark, out.LastStableOffset, out.LogStartOffset = w.p, -1, -1, -1
		out.PreferredReadReplica = -1
		if global != 0 {
			out.ErrorCode = global
			continue
		}
		if !w.known {
			out.ErrorCode = codeUnknownTopicID
			continue
		}
		code, checked := denied[w.name]
		if !checked {
			code = v.CheckTopic(acl.OpRead, w.name) // READ on the topic
			denied[w.name] = code
		}
		rep := b.Replica(w.name, w.p)
		switch {
		case code != 0:
			out.ErrorCode = code
		case rep == nil:
			out.ErrorCode = partErr(v, w.name, w.p)
		default:
			parts = append(parts, &fetchPart{topic: w.name, p: w.p, rep: rep, out: out, want: i,
				req: partition.FetchRequest{
					CurrentLeaderEpoch: w.leaderEpoch, FetchOffset: w.fetchOffset,
					MaxBytes: w.maxBytes, Isolation: isolation,
				}})
		}
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
				o.AbortedTransactions = abortedTxns(fp.req.Isolation, r.Aborted)
				fp.recs, fp.next = partRecords(r)
				left -= int(disk.SpansLen(fp.recs))
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

// abortedTxns is the AbortedTransactions field (v4+) of a partition: for read_committed
// the aborted transactions overlapping the records returned (an empty list, not null,
// when there are none, as Kafka writes it), null for read_uncommitted.
func abortedTxns(isolation int8, aborted []partition.AbortedTxn) []kmsg.FetchResponseTopicPartitionAbortedTransaction {
	if isolation != 1 {
		return nil
	}
	out := make([]kmsg.FetchResponseTopicPartitionAbortedTransaction, len(aborted))
	for i, a := range aborted {
		out[i] = kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
		out[i].ProducerID, out[i].FirstOffset = a.ProducerID, a.FirstOffset
	}
	return out
}

// partRecords is a partition's records as a fetch answers them, spans (a replica that
// answers bytes gives one span of them), and the offset after the last batch (0
// without one).
func partRecords(r partition.FetchResult) ([]disk.Span, int64) {
	switch {
	case len(r.Spans) > 0:
		return r.Spans, r.Next
	case len(r.Records) > 0:
		end, _ := record.BatchesEnd(r.Records)
		return []disk.Span{{Data: r.Records, Len: int64(len(r.Records))}}, end
	}
	return nil, 0
}

// partRead is one partition's read: at most min(its PartitionMaxBytes, left), and offsets
// only once nothing is left.
func partRead(req partition.FetchRequest, left int) partition.FetchRequest {
	req.MaxBytes = int32(min(max(int(req.MaxBytes), 0), max(left, 0)))
	req.OffsetsOnly = left <= 0
	req.Spans = true
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
// keeping the first partition that has records whole, as Kafka does. A partition whose
// records are dropped lists no aborted transactions: none overlaps what it returns.
func trimToMaxBytes(parts []*fetchPart, budget int) {
	total := 0
	for _, fp := range parts {
		n := int(disk.SpansLen(fp.recs))
		if n == 0 {
			continue
		}
		if total > 0 && total+n > budget {
			fp.recs = nil
			if fp.out.AbortedTransactions != nil {
				fp.out.AbortedTransactions = fp.out.AbortedTransactions[:0]
			}
			continue
		}
		total += n
	}
}
