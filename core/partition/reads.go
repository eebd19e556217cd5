package partition

import (
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/plant"
)

// consumerFetch is a consumer fetch held for long polling or waiting for its read.
type consumerFetch struct {
	req      FetchRequest
	reply    func(FetchResult)
	deadline int64
}

func errFetch(code int16) FetchResult {
	return FetchResult{Err: code, HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1}
}

// clientGate decides whether this replica may answer a client's read or lookup as leader:
// fencing by leader epoch (KIP-320; -1 skips the check), leadership, and the lease.
func (r *Replica) clientGate(now int64, currentLeaderEpoch int32) int16 {
	switch {
	case r.role == RoleInactive || r.loading != nil:
		return CodeNotLeaderOrFollower
	case currentLeaderEpoch >= 0 && currentLeaderEpoch < r.epoch:
		return CodeFencedLeaderEpoch
	case currentLeaderEpoch > r.epoch:
		return CodeUnknownLeaderEpoch
	case r.role != RoleLeader || !r.lead.serving() || !r.leaseValid(now):
		return CodeNotLeaderOrFollower
	}
	return CodeNone
}

// readReady reports whether a leader may serve reads: only once its high watermark
// covers its log end at election, so a consumer never sees a high watermark below one
// an earlier leader showed it.
func (r *Replica) readReady() bool {
	return r.lead.readReady || r.on(plant.EarlyReadNewLeader)
}

// readLimit is the end of what consumers may read: the high watermark, or for
// read_committed (isolation 1) the last stable offset.
func (r *Replica) readLimit(isolation int8) int64 {
	if isolation == 1 {
		return r.lastStable()
	}
	if r.on(plant.FetchAboveHW) {
		return r.leo
	}
	return r.hw
}

// lastStable is the last stable offset: the high watermark, or the first offset of the
// oldest transaction still open (or closed by a marker the high watermark does not cover
// yet) when that is smaller, never below the log start. Records below it are committed
// and belong to no transaction whose outcome is unknown.
func (r *Replica) lastStable() int64 {
	if r.on(plant.LsoIgnoresOpenTxn) {
		return r.hw
	}
	lso := r.producers.stableBelow(r.hw)
	if lso < r.hw && r.on(plant.LsoOneBehind) {
		lso--
	}
	return max(lso, r.startOffset)
}

func (r *Replica) fetchResult() FetchResult {
	return FetchResult{HighWatermark: r.hw, LastStableOffset: r.lastStable(), LogStartOffset: r.startOffset}
}

// Fetch serves one partition of a consumer's fetch. Only the leader serves consumers
// (no KIP-392 follower fetching), only records below the high watermark, and a new leader
// only once its high watermark covers its log end at election: before that it answers
// OFFSET_NOT_AVAILABLE, which clients retry after refreshing metadata (KIP-207 uses the
// same code for a leader whose high watermark has not caught up). The fetch is held
// until MinBytes are readable or MaxWait passes; readable bytes are estimated from the
// sizes of recent batches, and a range older than those remembered counts as enough.
// A read_committed fetch (Isolation 1) reads below the last stable offset only, counts
// only what lies below it as readable, and is told the aborted transactions that overlap
// the records it gets.
func (r *Replica) Fetch(now int64, req FetchRequest, reply func(FetchResult)) {
	r.input()
	if r.dead() {
		if reply != nil {
			reply(errFetch(CodeNotLeaderOrFollower))
		}
		return
	}
	defer r.flush()
	if code := r.clientGate(now, req.CurrentLeaderEpoch); code != CodeNone {
		r.answerFetch(reply, errFetch(code))
		return
	}
	if !r.readReady() {
		r.answerFetch(reply, errFetch(CodeOffsetNotAvailable))
		return
	}
	if req.FetchOffset < r.startOffset || req.FetchOffset > r.leo {
		res := r.fetchResult()
		res.Err = CodeOffsetOutOfRange
		r.answerFetch(reply, res)
		return
	}
	c := &consumerFetch{req: req, reply: reply, deadline: now + int64(req.MaxWait)}
	if r.consumerWait >= r.cfg.FetchesMax {
		// Beyond the bound nothing is held or read: an empty answer is always correct,
		// and the client fetches again.
		r.answerFetch(reply, r.fetchResult())
		return
	}
	if req.MaxWait <= 0 || req.MinBytes <= 0 || req.OffsetsOnly || r.fetchSatisfied(c) {
		r.serveConsumer(c)
		return
	}
	r.consumerWait++
	r.lead.consumers = append(r.lead.consumers, c)
}

func (r *Replica) fetchSatisfied(c *consumerFetch) bool {
	return r.tail.bytesBetween(c.req.FetchOffset, r.readLimit(c.req.Isolation)) >= int64(c.req.MinBytes)
}

// serveConsumer answers a fetch now: empty when nothing is readable or no records are
// wanted, else after a read.
func (r *Replica) serveConsumer(c *consumerFetch) {
	limit := r.readLimit(c.req.Isolation)
	if c.req.FetchOffset >= limit || c.req.OffsetsOnly {
		r.answerFetch(c.reply, r.fetchResult())
		return
	}
	r.consumerWait++
	r.emit(disk.Op{Kind: disk.Read, Offset: c.req.FetchOffset, MaxOffset: limit, MaxBytes: max(c.req.MaxBytes, 0), Spans: c.req.Spans,
		ListAborted: c.req.Isolation == 1},
		pendingOp{purpose: opConsumerRead, consumer: c, truncs: r.truncs})
}

func (r *Replica) consumerReadDone(now int64, p pendingOp, d disk.Done) {
	c := p.consumer
	if c == nil {
		return // already failed
	}
	r.consumerWait--
	if p.gen != r.gen || r.lead == nil {
		r.answerFetch(c.reply, errFetch(CodeNotLeaderOrFollower))
		return
	}
	res := r.fetchResult()
	switch {
	case d.Err == nil:
		res.Records, res.Spans, res.Next = d.Data, d.Spans, d.Next
		if c.req.Isolation == 1 {
			res.Aborted = abortedRead(d.Aborted)
		}
	case d.Offset > c.req.FetchOffset:
		res.Err, res.LogStartOffset = CodeOffsetOutOfRange, d.Offset
	case len(d.Fences) > 0:
		// The offset lies in a fenced range: no replica this leader could hand over to
		// holds it, so it is lost and always will be. CORRUPT_MESSAGE reaches the
		// application (Kafka's Java consumer raises it rather than retry forever), which
		// can seek past the range.
		r.fenceMet(p, d.Fences)
		res.Err = CodeCorruptMessage
	case d.Corrupt:
		// Damage not known yet, or a transient fault: the check tells them apart, and
		// the client's retry meets the answer.
		r.checkDamage(c.req.FetchOffset)
		res.Err = CodeKafkaStorageError
	default:
		res.Err = CodeKafkaStorageError
	}
	r.answerFetch(c.reply, res)
}

// abortedRead is the aborted transactions a read listed (those overlapping what it
// returned), as a consumer is told them.
func abortedRead(listed []disk.AbortedTxn) []AbortedTxn {
	if len(listed) == 0 {
		return nil
	}
	out := make([]AbortedTxn, len(listed))
	for i, t := range listed {
		out[i] = AbortedTxn{ProducerID: t.ProducerID, FirstOffset: t.FirstOffset}
	}
	return out
}

// hwMoved serves the held consumer fetches that now have enough to read.
func (r *Replica) hwMoved(now int64) {
	l := r.lead
	kept := l.consumers[:0]
	for _, c := range l.consumers {
		if r.fetchSatisfied(c) {
			r.consumerWait--
			r.serveConsumer(c)
			continue
		}
		kept = append(kept, c)
	}
	clear(l.consumers[len(kept):])
	l.consumers = kept
}

func (r *Replica) expireConsumers(now int64) {
	l := r.lead
	kept := l.consumers[:0]
	for _, c := range l.consumers {
		if now >= c.deadline {
			r.consumerWait--
			r.serveConsumer(c)
			continue
		}
		kept = append(kept, c)
	}
	clear(l.consumers[len(kept):])
	l.consumers = kept
}

// ListOffsets answers a ListOffsets lookup: ListEarliest (and ListEarliestLocal) with the
// log start, ListLatest with the high watermark (both with timestamp -1, as Kafka), a
// timestamp with the first record whose timestamp is at least it, ListMaxTimestamp with
// the first record carrying the largest timestamp (KIP-734), each looked up on disk among
// the records below the high watermark, with the record's timestamp (offset and
// timestamp -1 when none). With isolation 1 (read_committed) the last stable offset
// takes the high watermark's place in all of them.
func (r *Replica) ListOffsets(now int64, ts int64, currentLeaderEpoch int32, isolation int8, reply func(ListOffsetsResult)) {
	r.input()
	fail := ListOffsetsResult{Offset: -1, Timestamp: -1, LeaderEpoch: -1}
	if r.dead() {
		if reply != nil {
			fail.Err = CodeNotLeaderOrFollower
			reply(fail)
		}
		return
	}
	defer r.flush()
	if fail.Err = r.clientGate(now, currentLeaderEpoch); fail.Err != CodeNone {
		r.answerList(reply, fail)
		return
	}
	switch {
	case ts == ListEarliest || ts == ListEarliestLocal:
		r.answerList(reply, ListOffsetsResult{Offset: r.startOffset, Timestamp: -1, LeaderEpoch: r.epochs.epochAt(r.startOffset)})
	case ts < 0 && ts != ListLatest && ts != ListMaxTimestamp:
		fail.Err = CodeUnsupportedVersion
		r.answerList(reply, fail)
	case !r.readReady():
		fail.Err = CodeOffsetNotAvailable
		r.answerList(reply, fail)
	case ts == ListLatest:
		r.answerList(reply, ListOffsetsResult{Offset: r.listLimit(isolation), Timestamp: -1, LeaderEpoch: r.epochs.latest()})
	case r.pendingClients() >= r.cfg.PendingMax:
		fail.Err = CodeRequestTimedOut
		r.answerList(reply, fail)
	default:
		r.clientOps++
		limit := r.listLimit(isolation)
		op := disk.Op{Kind: disk.FindTime, Offset: ts, MaxOffset: limit}
		if ts == ListMaxTimestamp {
			op = disk.Op{Kind: disk.FindMaxTime, MaxOffset: limit}
		}
		r.emit(op, pendingOp{purpose: opFindTime, list: reply, truncs: r.truncs})
	}
}

// listLimit is the end of what a ListOffsets lookup sees: the high watermark, or the
// last stable offset for read_committed.
func (r *Replica) listLimit(isolation int8) int64 {
	if isolation == 1 {
		return r.lastStable()
	}
	return r.hw
}

func (r *Replica) findTimeDone(p pendingOp, d disk.Done) {
	if p.list == nil {
		return
	}
	r.clientOps--
	res := ListOffsetsResult{Offset: -1, Timestamp: -1, LeaderEpoch: -1}
	switch {
	case d.Err != nil:
		if d.Corrupt && r.lead != nil {
			// The bad bytes' offset is unknown here: the check starts at the log start,
			// which covers the segment the lookup walked first.
			r.checkDamage(r.startOffset)
		}
		res.Err = CodeKafkaStorageError
	case d.Offset >= 0:
		res.Offset, res.Timestamp, res.LeaderEpoch = d.Offset, d.Timestamp, r.epochs.epochAt(d.Offset)
	}
	r.answerList(p.list, res)
}

// OffsetForLeaderEpoch answers a client's OffsetForLeaderEpoch (KIP-320 validation):
// the largest epoch <= epoch this log knows and where it ends.
func (r *Replica) OffsetForLeaderEpoch(now int64, currentLeaderEpoch, epoch int32) EpochEndResult {
	r.input()
	if r.dead() {
		return EpochEndResult{Err: CodeNotLeaderOrFollower, LeaderEpoch: -1, EndOffset: -1}
	}
	if code := r.clientGate(now, currentLeaderEpoch); code != CodeNone {
		return EpochEndResult{Err: code, LeaderEpoch: -1, EndOffset: -1}
	}
	e, end := r.epochs.endOffsetFor(epoch, r.leo)
	return EpochEndResult{LeaderEpoch: e, EndOffset: end}
}

// DeleteRecords advances the log start offset to offset (-1: the high watermark), which
// must not exceed the high watermark. Followers follow the new start from the leader's
// fetch answers; the answer waits, at most timeout, until every ISR member holds the
// new start durably, as Kafka's waits for every replica's: a later leader never shows
// what an acknowledged deletion removed.
func (r *Replica) DeleteRecords(now int64, offset int64, timeout time.Duration, reply func(DeleteResult)) {
	r.input()
	if r.dead() {
		if reply != nil {
			reply(DeleteResult{Err: CodeNotLeaderOrFollower, LowWatermark: -1})
		}
		return
	}
	defer r.flush()
	if code := r.clientGate(now, -1); code != CodeNone {
		r.answerDelete(reply, DeleteResult{Err: code, LowWatermark: -1})
		return
	}
	if offset == -1 {
		offset = r.hw
	}
	switch {
	case r.st.KeepAll:
		r.answerDelete(reply, DeleteResult{Err: CodePolicyViolation, LowWatermark: -1})
	case offset < 0 || offset > r.hw:
		r.answerDelete(reply, DeleteResult{Err: CodeOffsetOutOfRange, LowWatermark: -1})
	case r.pendingClients() >= r.cfg.PendingMax:
		r.answerDelete(reply, DeleteResult{Err: CodeRequestTimedOut, LowWatermark: -1})
	default:
		// A start already past offset may still be on its way to the followers (the
		// retry of a deletion that timed out): that too waits.
		if offset > r.startOffset {
			r.deleteBelow(offset)
		}
		r.lead.deletes = append(r.lead.deletes, deleteWaiter{offset: offset, reply: reply, deadline: now + int64(timeout)})
		r.answerDeletes()
		r.startMovedForFollowers(now, offset)
	}
}

// wallMs is the node's now in ms since the Unix epoch, the unit of record timestamps.
func (r *Replica) wallMs(now int64) int64 {
	if r.cfg.WallClockMs != nil {
		return r.cfg.WallClockMs(now)
	}
	return now / int64(time.Millisecond)
}

// maybeClean starts a compaction pass of a compacted log. Every replica cleans its own
// log, below its high watermark: what a follower has above it may still be truncated.
func (r *Replica) maybeClean(now int64) {
	if !r.st.Compact || r.loading != nil || r.cleaning || r.cleanMore || r.hw <= r.startOffset {
		return
	}
	r.maybeSnapshot() // the producers of the batches a pass empties stay known: see startMoved
	r.cleanMore = true
	r.stepClean(now)
}

// stepClean carries the pass forward by one step (partition.Config.CleanerStepBytes)
// once the node's cleaner throttle lets it.
func (r *Replica) stepClean(now int64) {
	if r.loading != nil {
		// Reloading: the step waits for the next pass (a pass left under way in the log
		// is continued or dropped there, never corrupted).
		r.cleanMore = false
		return
	}
	if r.cleaning || now < r.cfg.CleanerThrottle.Ready() && !r.on(plant.CleanerThrottleIgnored) {
		return
	}
	r.cleaning = true
	p := r.st.Compaction
	p.NowMs = r.wallMs(now)
	r.emit(disk.Op{Kind: disk.Clean, MaxOffset: r.hw, MaxBytes: r.cfg.CleanerStepBytes, Compaction: p}, pendingOp{purpose: opClean})
}

// maybeRetain applies retention on the leader, never at or above the high watermark.
func (r *Replica) maybeRetain(now int64) {
	if r.lead == nil || !r.lead.serving() || r.loading != nil || r.retaining || r.hw <= r.startOffset {
		return
	}
	if r.st.KeepAll && !r.on(plant.RetentionIgnoresPolicy) {
		return
	}
	ms, bytes := r.st.retention()
	nowMs := r.wallMs(now)
	r.retaining = true
	r.maybeSnapshot() // before the batches it describes go: see startMoved
	r.emit(disk.Op{Kind: disk.Retain, MaxOffset: r.hw, Retention: disk.Retention{NowMs: nowMs, Ms: ms, Bytes: bytes}},
		pendingOp{purpose: opRetain})
}
