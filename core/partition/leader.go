package partition

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/record"
)

// leaderState is what a replica keeps only while it leads.
type leaderState struct {
	// electionLEO is the log end when this leadership began: the first offset of the
	// leader's epoch. Reads wait until the high watermark reaches it, and a follower
	// joins the ISR only once it holds everything below it.
	electionLEO int64
	readReady   bool
	followers   []*followerInfo // sorted by id
	// purgatory holds acks=all produces until the high watermark passes them, sorted by
	// last offset.
	purgatory []produceWaiter
	// deletes holds DeleteRecords answers until every ISR member holds the new log start
	// durably.
	deletes   []deleteWaiter
	consumers []*consumerFetch // held consumer fetches
	alter     *alterState
	// alterRetryAt delays the next ISR change after the controller refused one.
	alterRetryAt int64
	// maximal is the ISR the high watermark is computed over: the committed ISR, this
	// replica, and the members of a pending change (KIP-497/841: a joining member counts
	// as soon as it is proposed, a leaving one until its removal is committed).
	maximal []int32
	// resigning: the log is damaged and another in-sync replica exists. The replica
	// serves nothing and asks the controller to take it out of the ISR (which elects
	// another member) until metadata moves the leadership.
	resigning bool
	// awaiting lists the ISR members that may still lead in an earlier epoch: a
	// preferred election took the leadership from a live leader, which stops only when
	// it applies that. Until each has fetched in this epoch (which it does only once it
	// follows) or left the ISR, this leader serves no client, so two leaders never serve
	// at once. Sorted.
	awaiting []int32
	// verifying holds the guards of the transaction verifications under way, by
	// producer id (verify.go); outstanding names those verifications, at most
	// Config.VerifyingMax.
	verifying   map[int64]*verifyEntry
	outstanding map[uint64]struct{}
}

// serving reports whether the leader serves clients (leases aside).
func (l *leaderState) serving() bool { return !l.resigning && len(l.awaiting) == 0 }

// followerInfo is the leader's view of one follower, learned from its fetches.
type followerInfo struct {
	id int32
	// fetchOffset and durable are what the follower's last fetch claimed, credited no
	// further than sentEnd; -1 until a fetch of this leadership is credited.
	fetchOffset int64
	durable     int64
	// sentEnd is the largest offset this leader's answers to the follower covered in
	// this leadership: an answer to a fetch at F carrying records up to E covers
	// max(F, E), an empty one covers F; -1 until the first. A follower cannot hold what
	// it was never sent, or more than an answer confirmed it holds, so a buggy or
	// impersonated follower claiming the whole log counts for neither the high watermark
	// nor acks=all. It starts at -1 rather than at the high watermark: committed records
	// are safe either way, but inSync compares the durable offset with the high
	// watermark, and a claim of the high watermark nothing backs must not make a
	// follower join the ISR.
	sentEnd int64
	// fetchID is the RequestID of the last fetch credited: a Synced naming it raises
	// durable up to fetchOffset.
	fetchID      uint64
	lastFetch    int64
	lastFetchLEO int64 // the leader's log end at the follower's previous fetch
	// lastCaughtUp is the last time the follower was known to hold the leader's whole
	// log: the time of a fetch at the log end, or of a previous fetch whose log end this
	// fetch reached (Kafka's lastCaughtUpTime).
	lastCaughtUp int64
	held         *Fetch // a fetch at the log end, held for long polling
	heldUntil    int64
	// damaged: the follower's last fetch said its log holds damaged data. It leaves the
	// ISR at once and cannot join until it fetched the data back.
	damaged bool
	// start is the durable log start the follower's last fetch reported, credited no
	// further than its fetch offset; -1 until a fetch of this leadership is credited.
	start int64
}

type alterState struct {
	req     AlterRequest
	waiting bool // a request is out and unanswered
	sentAt  int64
	// resendAt is when to send the same change again after a retriable failure; 0 means
	// wait for metadata to settle the outcome.
	resendAt int64
}

// deleteWaiter is a DeleteRecords waiting for the log start to reach offset on every
// ISR member (followerInfo.start) and on this replica's disk.
type deleteWaiter struct {
	offset   int64
	reply    func(DeleteResult)
	deadline int64
}

type produceWaiter struct {
	reply    func(ProduceResult)
	res      ProduceResult
	last     int64
	deadline int64
}

// follower finds a follower by id (followers are sorted by id). It runs for every ISR
// member whenever the node asks for its deadline, so it is a plain binary search.
func (l *leaderState) follower(id int32) *followerInfo {
	lo, hi := 0, len(l.followers)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if l.followers[mid].id < id {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(l.followers) && l.followers[lo].id == id {
		return l.followers[lo]
	}
	return nil
}

func (r *Replica) becomeLeader(now int64) {
	if r.epoch <= r.epochFloor || r.epochs.latest() >= r.epoch {
		r.note("refuse-lead", "epoch %d: this log already holds epoch %d (checkpoint named %d)", r.epoch, r.epochs.latest(), r.epochFloor)
		return
	}
	r.role = RoleLeader
	if r.mustResign() {
		// Damaged, with another in-sync replica: never serve, hand the leadership on.
		r.lead = &leaderState{electionLEO: r.leo}
		r.syncFollowers(now)
		r.isrChanged(now)
		r.resign(now)
		return
	}
	r.epochs, _, _ = r.epochs.assign(r.epoch, r.leo)
	r.persistEpochs()
	r.lead = &leaderState{electionLEO: r.leo, readReady: r.hw >= r.leo, awaiting: r.mayStillLead()}
	if len(r.lead.awaiting) > 0 {
		r.note("leader-handoff", "epoch %d: serving once %v follow", r.epoch, r.lead.awaiting)
	}
	r.syncFollowers(now)
	r.note("leader", "epoch %d at log end %d, high watermark %d", r.epoch, r.leo, r.hw)
	r.isrChanged(now)
	r.maybeAlterISR(now)
	r.damageMoved(now)
}

// syncFollowers keeps one followerInfo per replica other than this one.
func (r *Replica) syncFollowers(now int64) {
	l := r.lead
	var out []*followerInfo
	for _, id := range r.st.Replicas {
		if id == r.self() {
			continue
		}
		f := l.follower(id)
		if f == nil {
			f = &followerInfo{id: id, fetchOffset: -1, durable: -1, sentEnd: -1, lastFetchLEO: -1, lastCaughtUp: now, start: -1}
		}
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b *followerInfo) int { return cmp.Compare(a.id, b.id) })
	out = slices.CompactFunc(out, func(a, b *followerInfo) bool { return a.id == b.id })
	l.followers = out
}

// leaderMetadata applies metadata that keeps this replica leader in the same epoch.
func (r *Replica) leaderMetadata(now int64) {
	l := r.lead
	if l.alter != nil && r.st.PartitionEpoch > l.alter.req.PartitionEpoch {
		// The metadata settles the change's outcome, often before the controller's
		// answer arrives (which is then ignored): say so, or a trace shows a proposal
		// that never ended.
		l.alter = nil
		r.note("isr", "%v at partition epoch %d from metadata", r.st.ISR, r.st.PartitionEpoch)
	}
	r.syncFollowers(now)
	for _, id := range slices.Clone(l.awaiting) {
		if !slices.Contains(r.st.ISR, id) {
			r.handedOff(id) // out of the ISR: the controller let it go (core/controller/elect.go)
		}
	}
	r.isrChanged(now)
	r.maybeAlterISR(now)
	r.damageMoved(now)
}

// endLeadership fails what waits on this leadership.
func (r *Replica) endLeadership(code int16) {
	l := r.lead
	for _, w := range l.purgatory {
		r.answerProduce(w.reply, ProduceResult{Err: code, BaseOffset: -1, LogStartOffset: -1})
	}
	l.purgatory = nil
	for _, w := range l.deletes {
		r.answerDelete(w.reply, DeleteResult{Err: code, LowWatermark: -1})
	}
	l.deletes = nil
	for _, c := range l.consumers {
		r.consumerWait--
		r.answerFetch(c.reply, errFetch(code))
	}
	l.consumers = nil
}

// ---- produce ----

// Produce appends one batch from a client (a Produce request's records for this
// partition, which the replica validates, stamps and takes ownership of) and calls reply
// with the outcome:
//
//   - acks=0 and acks=1 as Kafka: acks=0 at once (the handler sends nothing), acks=1
//     once the leader's own append is durable (sync mode) or done (FlushAsync);
//   - acks=all (-1) once the high watermark passes the batch, i.e. once every member of
//     the ISR holds it durably, or with NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR
//     falls below min.insync.replicas, REQUEST_TIMED_OUT after timeout,
//     NOT_LEADER_OR_FOLLOWER when leadership ends (the batch may still be committed);
//   - NOT_ENOUGH_REPLICAS without appending when the ISR is below min.insync.replicas.
//
// An idempotent producer's retry of one of its last batches is not appended again: it is
// answered, under the same acks rule, with the offset of the first copy; a retry of a
// batch older than those remembered gets DUPLICATE_SEQUENCE_NUMBER, which clients take
// as success.
func (r *Replica) Produce(now int64, batch []byte, acks int16, timeout time.Duration, reply func(ProduceResult)) {
	r.produce(now, batch, false, acks, timeout, reply)
}

// produce is Produce; verified says the transaction coordinator vouched for the batch's
// transaction and nothing ended it here since (ProduceVerified).
func (r *Replica) produce(now int64, batch []byte, verified bool, acks int16, timeout time.Duration, reply func(ProduceResult)) {
	if !r.admitProduce(now, acks, reply) {
		return
	}
	defer r.flush()
	fail := func(code int16) { r.answerProduce(reply, failedProduce(code)) }
	rules := r.st.produceRules(r.wallMs(now))
	if r.on(plant.TimestampBoundsIgnored) {
		rules.Timestamps = false
	}
	h, err := r.coder.ValidateProduceWith(batch, r.messageBytesMax(), rules)
	if err != nil {
		fail(record.ProduceErrorCode(err))
		return
	}
	if r.st.Recompress && h.Codec() != r.st.Codec && !r.on(plant.CompressionTypeIgnored) {
		if batch, err = r.coder.Recompress(batch, r.st.Codec, r.messageBytesMax()); err != nil {
			fail(record.ProduceErrorCode(err))
			return
		}
		if h, err = record.ParseHeader(batch); err != nil {
			panic(fmt.Sprintf("partition %s: a recompressed batch does not parse: %v", r.log, err))
		}
	}
	if acks != 0 && r.pendingClients() >= r.cfg.PendingMax {
		fail(CodeRequestTimedOut)
		return
	}
	if h.ProducerID >= 0 && r.answeredBySequence(now, h, acks, timeout, reply) {
		return
	}
	if r.unverifiedTxn(h, verified) {
		fail(CodeInvalidTxnState)
		return
	}
	r.appendBatch(now, batch, h, acks, timeout, reply)
}

// appendBatch appends one batch that passed a leader's checks at the log end, stamping
// its offset, leader epoch and (for a LogAppendTime topic) time, applies it to the
// producer state and answers it under its acks rule.
func (r *Replica) appendBatch(now int64, batch []byte, h record.Header, acks int16, timeout time.Duration, reply func(ProduceResult)) {
	base := r.leo
	record.SetBaseOffset(batch, base)
	record.SetPartitionLeaderEpoch(batch, r.epoch)
	h.BaseOffset, h.PartitionLeaderEpoch = base, r.epoch
	res := ProduceResult{BaseOffset: base}
	if r.st.LogAppendTime {
		res.AppendTimeMs = r.wallMs(now)
		h.MaxTimestamp = res.AppendTimeMs
		if !r.on(plant.LogAppendTimeIgnored) {
			record.SetLogAppendTime(batch, res.AppendTimeMs)
		}
	}
	r.producers.applyBatch(h, base, batch)
	r.clearGuard(h, r.markerTV2)
	r.hdrBuf = append(r.hdrBuf[:0], h)
	r.appendLog(batch, r.hdrBuf)
	r.acknowledge(now, res, h.LastOffset(), acks, timeout, reply)
	r.leoMoved(now)
}

// Marker is a transaction marker a transaction coordinator asks a leader to write: the
// end (commit or abort) of the producer's transaction on this partition.
type Marker struct {
	ProducerID       int64
	ProducerEpoch    int16
	Commit           bool
	CoordinatorEpoch int32
	// TransactionVersion is the ended transaction's (WriteTxnMarkers v2): 2 means the
	// coordinator bumped the epoch for the marker, which then ends the transaction of
	// the epoch before it.
	TransactionVersion int8
}

// WriteMarker appends the control batch that ends producer m.ProducerID's transaction
// (record.BuildEndTxn) and answers like an acks=all Produce: once the high watermark
// passes it. It is refused with INVALID_PRODUCER_EPOCH when m's producer epoch is below
// the producer's, and TRANSACTION_COORDINATOR_FENCED when m's coordinator epoch is below
// that of the producer's last marker; otherwise as Produce (NOT_LEADER_OR_FOLLOWER,
// NOT_ENOUGH_REPLICAS, REQUEST_TIMED_OUT...). A marker for a producer with no open
// transaction is appended all the same and changes nothing but its epochs, so a
// coordinator may send a marker again.
func (r *Replica) WriteMarker(now int64, m Marker, timeout time.Duration, reply func(ProduceResult)) {
	if !r.admitProduce(now, -1, reply) {
		return
	}
	defer r.flush()
	fail := func(code int16) { r.answerProduce(reply, failedProduce(code)) }
	if m.ProducerID < 0 {
		fail(CodeInvalidRequest)
		return
	}
	if e := r.producers.m[m.ProducerID]; e != nil {
		switch {
		case m.ProducerEpoch < e.epoch:
			fail(CodeInvalidProducerEpoch)
			return
		case m.CoordinatorEpoch < e.coordEpoch:
			fail(CodeTransactionCoordinatorFenced)
			return
		}
	}
	if r.pendingClients() >= r.cfg.PendingMax {
		fail(CodeRequestTimedOut)
		return
	}
	batch, err := record.BuildEndTxn(record.Spec{FirstTimestamp: r.wallMs(now), PartitionLeaderEpoch: r.epoch,
		ProducerID: m.ProducerID, ProducerEpoch: m.ProducerEpoch, BaseSequence: -1}, m.Commit, m.CoordinatorEpoch)
	if err != nil {
		panic(fmt.Sprintf("partition %s: a marker does not build: %v", r.log, err))
	}
	h, err := record.ParseHeader(batch)
	if err != nil {
		panic(fmt.Sprintf("partition %s: a marker does not parse: %v", r.log, err))
	}
	r.markerTV2 = m.TransactionVersion >= 2
	r.appendBatch(now, batch, h, -1, timeout, reply)
	r.markerTV2 = false
}

// ProduceInternal appends a batch a coordinator of this broker wrote for its own
// records (a group coordinator's transactional offset commits: a producer id and epoch,
// base sequence -1, the transactional bit), taking ownership of it, and answers under
// acks like Produce. No sequence is checked; a producer epoch below the producer's is
// INVALID_PRODUCER_EPOCH. A transactional batch opens the producer's transaction here
// like any other, so the marker that ends it is needed to make it stable; as for
// Produce, only with a verification that still holds (ProduceInternalVerified):
// without one it is INVALID_TXN_STATE unless it continues the producer's open
// transaction.
func (r *Replica) ProduceInternal(now int64, batch []byte, acks int16, timeout time.Duration, reply func(ProduceResult)) {
	r.produceInternal(now, batch, false, acks, timeout, reply)
}

func (r *Replica) produceInternal(now int64, batch []byte, verified bool, acks int16, timeout time.Duration, reply func(ProduceResult)) {
	if !r.admitProduce(now, acks, reply) {
		return
	}
	defer r.flush()
	fail := func(code int16) { r.answerProduce(reply, failedProduce(code)) }
	h, err := record.Check(batch)
	switch {
	case err != nil:
		fail(record.ProduceErrorCode(err))
		return
	case h.Size() != len(batch) || h.IsControl() || (h.IsTransactional() && h.ProducerID < 0) ||
		h.RecordCount <= 0 || int64(h.RecordCount) != int64(h.LastOffsetDelta)+1:
		fail(CodeInvalidRecord)
		return
	case h.Size() > r.messageBytesMax():
		fail(CodeMessageTooLarge)
		return
	}
	if e := r.producers.m[h.ProducerID]; h.ProducerID >= 0 && e != nil && h.ProducerEpoch < e.epoch {
		fail(CodeInvalidProducerEpoch)
		return
	}
	if acks != 0 && r.pendingClients() >= r.cfg.PendingMax {
		fail(CodeRequestTimedOut)
		return
	}
	if !r.on(plant.TxnOffsetVerificationSkipped) && r.unverifiedTxn(h, verified) {
		fail(CodeInvalidTxnState)
		return
	}
	r.appendBatch(now, batch, h, acks, timeout, reply)
}

// messageBytesMax is the topic's max.message.bytes under this broker's ceiling.
func (r *Replica) messageBytesMax() int {
	return min(r.st.messageBytesMax(), int(r.cfg.MessageBytesMax))
}

// answeredBySequence applies the idempotence rules to a batch of an idempotent producer
// and reports whether that answered it (an error, or a duplicate answered with the offset
// of its first copy).
func (r *Replica) answeredBySequence(now int64, h record.Header, acks int16, timeout time.Duration, reply func(ProduceResult)) bool {
	verdict, dup := r.producers.check(h)
	code := CodeNone
	switch verdict {
	case seqOldEpoch:
		if h.IsTransactional() && r.on(plant.TxnFencedEpochAccepted) {
			return false
		}
		code = CodeInvalidProducerEpoch
	case seqOutOfOrder:
		code = CodeOutOfOrderSequenceNumber
	case seqDuplicate:
		if r.on(plant.IdempotentDup) {
			return false
		}
		r.acknowledge(now, ProduceResult{BaseOffset: dup.base}, dup.last, acks, timeout, reply)
		return true
	case seqOlder:
		// Kafka clients take DUPLICATE_SEQUENCE_NUMBER as success with an unknown
		// offset; it waits, under the acks rule, for the later batch that proves it.
		r.acknowledge(now, ProduceResult{Err: CodeDuplicateSequenceNumber, BaseOffset: -1}, dup.last, acks, timeout, reply)
		return true
	default:
		return false
	}
	// The log start lets a client tell state that went with the log from loss.
	r.answerProduce(reply, ProduceResult{Err: code, BaseOffset: -1, LogStartOffset: r.startOffset})
	return true
}

// mayStillLead lists, for a replica becoming leader, the other ISR members that may
// still lead in an earlier epoch: the leaders of the epochs it saw one after another
// before this one, when they stayed in the ISR (only a preferred election keeps a
// leader there: a fenced, shut-down or resigning leader leaves in the same change) —
// not only the one it replaced, which may never have served while it waited for its
// own predecessor — or every other member when the replica did not see the change that
// made it leader (metadata skipped an epoch, or it has no earlier state and the
// partition had leaders before: epoch 0 is its first).
func (r *Replica) mayStillLead() []int32 {
	var out []int32
	for _, id := range r.st.ISR {
		if id == r.self() {
			continue
		}
		earlier := r.earlierCut || slices.Contains(r.earlier, id)
		if r.on(plant.HandoffReplacedOnly) {
			earlier = id == r.prevLeader
		}
		if (!r.prevKnown && r.epoch > 0) || (r.prevKnown && r.prevEpoch != r.epoch-1) || earlier {
			out = append(out, id)
		}
	}
	if r.on(plant.HandoffSkipped) {
		return nil
	}
	slices.Sort(out)
	return out
}

// earlierMax bounds Replica.earlier; past it a new leader waits for every other ISR
// member, as when it missed an epoch.
const earlierMax = 8

// handedOff drops member id from the leaders this one waits for: it fetched in this
// epoch, or left the ISR.
func (r *Replica) handedOff(id int32) {
	l := r.lead
	i, found := slices.BinarySearch(l.awaiting, id)
	if !found {
		return
	}
	l.awaiting = slices.Delete(l.awaiting, i, i+1)
	if len(l.awaiting) == 0 {
		r.note("leader-handoff-done", "epoch %d: serving", r.epoch)
	}
}

// admitProduce starts a call that appends (Produce, WriteMarker, ProduceInternal): it
// answers reply and reports false when the replica is closed or may not take the append
// now (produceAdmission), true when the caller goes on.
func (r *Replica) admitProduce(now int64, acks int16, reply func(ProduceResult)) bool {
	r.input()
	if r.dead() {
		if reply != nil {
			reply(failedProduce(CodeNotLeaderOrFollower))
		}
		return false
	}
	if code := r.produceAdmission(now, acks); code != CodeNone {
		r.answerProduce(reply, failedProduce(code))
		r.flush()
		return false
	}
	return true
}

// failedProduce is the answer to an append refused with code.
func failedProduce(code int16) ProduceResult {
	return ProduceResult{Err: code, BaseOffset: -1, LogStartOffset: -1}
}

func (r *Replica) produceAdmission(now int64, acks int16) int16 {
	switch {
	case r.role != RoleLeader || r.loading != nil || !r.lead.serving() || !r.leaseValid(now):
		return CodeNotLeaderOrFollower
	case acks != 0 && acks != 1 && acks != -1:
		return CodeInvalidRequiredAcks
	case acks == -1 && len(r.st.ISR) < r.st.minISR():
		return CodeNotEnoughReplicas
	}
	return CodeNone
}

// acknowledge answers a produce with res under its acks rule, now or once the batches up
// to last are durable here (acks=1) or committed (acks=all).
func (r *Replica) acknowledge(now int64, res ProduceResult, last int64, acks int16, timeout time.Duration, reply func(ProduceResult)) {
	res.LogStartOffset = r.startOffset
	switch {
	case acks == 0:
		r.answerProduce(reply, res)
	case acks == 1 || r.on(plant.AckBeforeISRSync):
		if last < r.durable {
			r.answerProduce(reply, res)
			return
		}
		r.ackGate.Hold(r.lastSyncOp, &produceWaiter{reply: reply, res: res, last: last})
	default:
		if last < r.hw {
			r.answerProduce(reply, res)
			return
		}
		w := produceWaiter{reply: reply, res: res, last: last, deadline: now + int64(timeout)}
		l := r.lead
		i, _ := slices.BinarySearchFunc(l.purgatory, last+1, func(w produceWaiter, t int64) int {
			if w.last < t {
				return -1
			}
			return 1
		})
		l.purgatory = slices.Insert(l.purgatory, i, w)
	}
}

// answerDeletes answers the DeleteRecords whose new log start this replica's disk and
// every other member of the maximal ISR hold durably: whichever of them leads next
// starts there or above.
func (r *Replica) answerDeletes() {
	l := r.lead
	if len(l.deletes) == 0 {
		return
	}
	reached := r.startSynced
	for _, id := range l.maximal {
		if id == r.self() {
			continue
		}
		if f := l.follower(id); f == nil {
			reached = -1
		} else {
			reached = min(reached, f.start)
		}
	}
	if r.on(plant.DeleteRecordsLeaderOnly) {
		reached = r.startSynced
	}
	l.deletes = slices.DeleteFunc(l.deletes, func(w deleteWaiter) bool {
		if w.offset > reached {
			return false
		}
		// The low watermark answered is the lowest start any of them holds, as in
		// Kafka: no replica that may lead shows an offset below it.
		r.answerDelete(w.reply, DeleteResult{LowWatermark: min(reached, r.startOffset)})
		return true
	})
}

// startMovedForFollowers answers at once the follower fetches held while their
// follower's log starts below offset: a DeleteRecords waits for them to follow.
func (r *Replica) startMovedForFollowers(now int64, offset int64) {
	for _, f := range r.lead.followers {
		if f.held != nil && f.start < offset && !r.moveHeld(now, f.id) {
			m := f.held
			f.held = nil
			r.serveFollower(now, f.id, m)
		}
	}
}

// leoMoved serves the follower fetches held at the old log end, but for those the move
// throttle holds.
func (r *Replica) leoMoved(now int64) {
	for _, f := range r.lead.followers {
		if f.held != nil && f.held.FetchOffset < r.leo && !r.moveHeld(now, f.id) {
			m := f.held
			f.held = nil
			r.serveFollower(now, f.id, m)
		}
	}
}

// moveHeld reports whether a fetch of follower id must wait for the node's move
// throttle: id is a replica a reassignment adds, and the throttle is not ready.
func (r *Replica) moveHeld(now int64, id int32) bool {
	return now < r.cfg.MoveThrottle.Ready() && slices.Contains(r.st.Adding, id) && !r.on(plant.ReplicationThrottleIgnored)
}

// ---- high watermark and ISR ----

// isrChanged recomputes the maximal ISR after metadata or a pending change moved.
func (r *Replica) isrChanged(now int64) {
	l := r.lead
	set := append(slices.Clone(r.st.ISR), r.self())
	if l.alter != nil {
		set = append(set, l.alter.req.ISR...)
	}
	slices.Sort(set)
	l.maximal = slices.Compact(set)
	r.answerDeletes()
	if len(l.maximal) < r.st.minISR() && len(l.purgatory) > 0 {
		for _, w := range l.purgatory {
			r.answerProduce(w.reply, ProduceResult{Err: CodeNotEnoughReplicasAfterAppend, BaseOffset: -1, LogStartOffset: -1})
		}
		l.purgatory = l.purgatory[:0]
	}
	r.advanceHW(now)
}

// advanceHW moves the high watermark to the smallest durable offset over the maximal
// ISR, while that ISR has at least min.insync.replicas members. It never moves back.
func (r *Replica) advanceHW(now int64) {
	l := r.lead
	if len(l.maximal) < r.st.minISR() || l.resigning {
		return
	}
	hw := r.durable
	for _, id := range l.maximal {
		if id == r.self() {
			continue
		}
		f := l.follower(id)
		if f == nil {
			return // a member that is not a replica: wait for metadata to agree
		}
		hw = min(hw, f.durable)
	}
	if hw <= r.hw {
		return
	}
	r.hw = hw
	r.producers.stableBelow(hw) // forgets the transactions that became stable
	i := 0
	for i < len(l.purgatory) && l.purgatory[i].last < hw {
		r.answerProduce(l.purgatory[i].reply, l.purgatory[i].res)
		i++
	}
	if i > 0 {
		n := copy(l.purgatory, l.purgatory[i:])
		clear(l.purgatory[n:])
		l.purgatory = l.purgatory[:n]
	}
	if !l.readReady && r.hw >= l.electionLEO {
		l.readReady = true
		r.note("read-ready", "epoch %d: high watermark %d covers the log at election", r.epoch, r.hw)
	}
	r.hwMoved(now)
}

// maybeAlterISR proposes an ISR change when a member fell behind for longer than
// ReplicaLagMax or a replica outside the ISR caught up.
func (r *Replica) maybeAlterISR(now int64) {
	l := r.lead
	if l.resigning {
		r.proposeResignation(now)
		return
	}
	if l.alter != nil || now < l.alterRetryAt || !r.isrWouldChange(now) {
		return
	}
	var isr []int32
	shrunk, grown := false, false
	for _, id := range r.st.ISR {
		if id != r.self() && r.outOfSync(id, now) {
			shrunk = true
			continue
		}
		isr = append(isr, id)
	}
	if !slices.Contains(isr, r.self()) {
		isr = append(isr, r.self())
	}
	for _, f := range l.followers {
		if !slices.Contains(r.st.ISR, f.id) && r.inSync(f, now) {
			isr = append(isr, f.id)
			grown = true
		}
	}
	slices.Sort(isr)
	if slices.Equal(isr, r.st.ISR) {
		return
	}
	r.proposeISR(now, isr, fmt.Sprintf("shrink %v, expand %v", shrunk, grown))
	r.isrChanged(now)
}

// isrWouldChange is maybeAlterISR's decision without building the new ISR, which it does
// on every follower fetch.
func (r *Replica) isrWouldChange(now int64) bool {
	if !slices.Contains(r.st.ISR, r.self()) {
		return true
	}
	for _, id := range r.st.ISR {
		if id != r.self() && r.outOfSync(id, now) {
			return true
		}
	}
	for _, f := range r.lead.followers {
		if !slices.Contains(r.st.ISR, f.id) && r.inSync(f, now) {
			return true
		}
	}
	return false
}

// proposeResignation asks for the committed ISR without this replica: the controller
// takes it out and elects another member (see the controller's AlterPartition).
func (r *Replica) proposeResignation(now int64) {
	l := r.lead
	if l.alter != nil || now < l.alterRetryAt || !slices.Contains(r.st.ISR, r.self()) {
		return
	}
	isr := slices.DeleteFunc(slices.Clone(r.st.ISR), func(id int32) bool { return id == r.self() })
	if len(isr) == 0 {
		return
	}
	r.proposeISR(now, isr, "this leader resigns")
}

// proposeISR asks the controller for isr as the committed ISR (AlterPartition); why
// goes into the note.
func (r *Replica) proposeISR(now int64, isr []int32, why string) {
	r.alterSeq++
	r.lead.alter = &alterState{req: AlterRequest{
		RequestID: r.alterSeq, Topic: r.cfg.Topic, TopicID: r.cfg.TopicID, Partition: r.cfg.Partition,
		Leader: r.self(), LeaderEpoch: r.epoch, PartitionEpoch: r.st.PartitionEpoch, ISR: isr,
	}}
	r.sendAlter(now)
	r.note("isr-change", "propose %v (was %v; %s)", isr, r.st.ISR, why)
}

func (r *Replica) sendAlter(now int64) {
	a := r.lead.alter
	a.waiting, a.sentAt, a.resendAt = true, now, 0
	req := a.req
	req.ISR = slices.Clone(req.ISR)
	r.out.AlterISR = &req
}

func (r *Replica) outOfSync(id int32, now int64) bool {
	f := r.lead.follower(id)
	return f == nil || f.damaged || now-f.lastCaughtUp > int64(r.cfg.ReplicaLagMax)
}

// inSync reports whether a follower may join the ISR: it holds, durably, everything up to
// the high watermark and everything of earlier epochs, and the log start this replica
// holds durably (a DeleteRecords answered before it joined stays done if it leads), and
// it is not out of sync by time (a silent follower's old offsets do not make it rejoin).
func (r *Replica) inSync(f *followerInfo, now int64) bool {
	return f.fetchOffset >= 0 && f.durable >= r.hw && f.durable >= r.lead.electionLEO && !f.damaged &&
		(f.start >= r.startSynced || r.on(plant.DeleteRecordsLeaderOnly)) && now-f.lastCaughtUp <= int64(r.cfg.ReplicaLagMax)
}

// AlterPartitionResult reports the outcome of the AlterRequest with res.RequestID. A
// success is applied at once (the metadata that follows will agree). A failure whose
// outcome is unknown (a timeout, NOT_CONTROLLER, ...) keeps the proposed members counted
// in the maximal ISR and sends the same change again after AlterBackoff; a stale view
// (INVALID_UPDATE_VERSION, FENCED_LEADER_EPOCH) keeps them counted until metadata with a
// newer partition epoch arrives; an outright refusal (INELIGIBLE_REPLICA,
// INVALID_REQUEST) drops the change.
func (r *Replica) AlterPartitionResult(now int64, res AlterResult) {
	r.input()
	if r.dead() || r.lead == nil || r.lead.alter == nil || r.lead.alter.req.RequestID != res.RequestID || !r.lead.alter.waiting {
		return
	}
	defer r.flush()
	l := r.lead
	a := l.alter
	a.waiting = false
	switch res.Err {
	case CodeNone:
		l.alter = nil
		if res.LeaderEpoch == r.epoch && res.PartitionEpoch > r.st.PartitionEpoch {
			r.st.ISR = slices.Sorted(slices.Values(res.ISR))
			r.st.PartitionEpoch = res.PartitionEpoch
			r.note("isr", "committed %v at partition epoch %d", r.st.ISR, r.st.PartitionEpoch)
		}
	case CodeIneligibleReplica, CodeInvalidRequest:
		l.alter = nil
		l.alterRetryAt = now + int64(r.cfg.AlterBackoff)
	case CodeInvalidUpdateVersion, CodeFencedLeaderEpoch:
		a.resendAt = 0
	default:
		a.resendAt = r.resendLostAlter(now + int64(r.cfg.AlterBackoff))
	}
	r.syncFollowers(now)
	r.isrChanged(now)
	r.maybeAlterISR(now)
	r.damageMoved(now)
}

// resendLostAlter is when to send again an ISR change whose outcome is unknown: at
// resendAt. Only metadata could settle a change the controller never saw, and none
// comes for it.
func (r *Replica) resendLostAlter(resendAt int64) int64 {
	if r.on(plant.AlterLostNeverResent) {
		return 0
	}
	return resendAt
}

// ---- serving followers ----

// peerGate checks a follower's request against this replica's leadership.
func (r *Replica) peerGate(currentLeaderEpoch int32) int16 {
	switch {
	case r.role == RoleInactive || r.loading != nil:
		return CodeNotLeaderOrFollower
	case currentLeaderEpoch < r.epoch:
		return CodeFencedLeaderEpoch
	case currentLeaderEpoch > r.epoch:
		return CodeUnknownLeaderEpoch
	case r.role != RoleLeader || r.lead.resigning:
		return CodeNotLeaderOrFollower
	}
	return CodeNone
}

func (r *Replica) onEpochQuery(from int32, m *EpochQuery) {
	ans := &EpochAnswer{Key: r.key, RequestID: m.RequestID, RequestedEpoch: m.LeaderEpoch,
		LeaderEpoch: -1, EndOffset: -1, LogStartOffset: r.startOffset}
	if ans.Err = r.peerGate(m.CurrentLeaderEpoch); ans.Err == CodeNone {
		ans.LeaderEpoch, ans.EndOffset = r.epochs.endOffsetFor(m.LeaderEpoch, r.leo)
		if ans.EndOffset <= r.startOffset {
			ans.OpenBelow = r.producers.openAt(r.startOffset)
		}
	}
	r.send(from, ans)
}

func (r *Replica) fetchAnswer(m *Fetch) *FetchAnswer {
	inISR := r.lead != nil && slices.Contains(r.lead.maximal, m.ReplicaID)
	return &FetchAnswer{Key: r.key, RequestID: m.RequestID, FetchOffset: m.FetchOffset, LeaderEpoch: r.epoch,
		HighWatermark: r.hw, LogStartOffset: r.startOffset, LogEndOffset: r.leo, InISR: inISR}
}

// onFetch serves a follower's fetch: it checks the follower's log against this one
// (divergence, KIP-595), records the follower's progress, and answers with the batches
// after its fetch offset, holding the fetch while there are none.
func (r *Replica) onFetch(now int64, from int32, m *Fetch) {
	ans := r.fetchAnswer(m)
	if ans.Err = r.peerGate(m.CurrentLeaderEpoch); ans.Err != CodeNone {
		r.send(from, ans)
		return
	}
	f := r.lead.follower(from)
	if f != nil {
		r.handedOff(from) // it follows this epoch: it stopped leading
	}
	switch {
	case f == nil:
		ans.Err = CodeNotLeaderOrFollower
	case m.FetchOffset < r.startOffset:
		ans.Err, ans.OpenBelow = CodeOffsetOutOfRange, r.producers.openAt(r.startOffset)
	default:
		if ep, end := r.epochs.endOffsetFor(m.LastFetchedEpoch, r.leo); m.LastFetchedEpoch >= 0 && (ep != m.LastFetchedEpoch || end < m.FetchOffset) {
			ans.Diverging, ans.DivergingEpoch, ans.DivergingEndOffset = true, ep, end
			if end <= r.startOffset {
				ans.OpenBelow = r.producers.openAt(r.startOffset)
			}
		} else if m.FetchOffset > r.leo {
			ans.Err = CodeOffsetOutOfRange
		}
	}
	if ans.Err != CodeNone || ans.Diverging {
		r.send(from, ans)
		return
	}
	credited := r.recordFetch(now, f, m)
	r.advanceHW(now)
	r.maybeAlterISR(now)
	r.answerDeletes()
	f.held = nil
	// A fetch claiming more than is credited is answered at once: the answer is what
	// lets the next fetch count, and a new leader's high watermark (and its readiness to
	// serve reads) should not wait a long poll for it.
	// An idle follower asks to be held longer (see followerState.longPoll); a replica
	// being added is held no longer than the configured wait.
	wait := min(int64(max(m.MaxWaitMs, 0))*int64(time.Millisecond), int64(r.cfg.idleWaitMax()))
	if slices.Contains(r.st.Adding, from) {
		wait = min(wait, int64(r.cfg.FollowerFetchMaxWait))
	}
	if r.moveHeld(now, from) {
		// A replica being added catches up no faster than the throttle allows; held no
		// longer than its wait, it is then answered without records and asks again.
		f.held, f.heldUntil = m, min(r.cfg.MoveThrottle.Ready(), now+wait)
		return
	}
	if m.FetchOffset < r.leo || wait <= 0 || !credited {
		r.serveFollower(now, from, m)
		return
	}
	f.held, f.heldUntil = m, now+wait
}

// recordFetch takes a follower's progress from its fetch, as far as this leader's answers
// covered it, and reports whether the fetch offset counted whole.
func (r *Replica) recordFetch(now int64, f *followerInfo, m *Fetch) bool {
	offset := min(m.FetchOffset, f.sentEnd)
	switch {
	case offset >= r.leo:
		f.lastCaughtUp = now
	case f.lastFetchLEO >= 0 && offset >= f.lastFetchLEO:
		f.lastCaughtUp = max(f.lastCaughtUp, f.lastFetch)
	}
	f.lastFetchLEO, f.lastFetch = r.leo, now
	f.fetchOffset, f.fetchID = offset, m.RequestID
	f.durable = min(m.DurableOffset, offset)
	f.damaged = m.Damaged
	f.start = min(m.LogStartOffset, offset)
	return offset == m.FetchOffset
}

// onSynced takes a follower's report that its syncs now cover m.DurableOffset. Only a
// report about the last fetch taken counts: since that fetch the follower's log has
// grown or been cut (which lowers its durable offset too), never changed below it, so
// its durable offset up to that fetch's offset is a prefix of this log. A follower
// whose fetch said its log is damaged reports in its next fetch.
func (r *Replica) onSynced(now int64, from int32, m *Synced) {
	if r.peerGate(m.CurrentLeaderEpoch) != CodeNone {
		return
	}
	f := r.lead.follower(from)
	if f == nil || f.fetchID != m.RequestID || f.fetchOffset < 0 || f.damaged {
		return
	}
	if d := min(m.DurableOffset, f.fetchOffset); d > f.durable {
		f.durable = d
		r.advanceHW(now)
		r.maybeAlterISR(now)
	}
}

// sent records that an answer to follower `to` covered the log up to offset.
func (r *Replica) sent(to int32, offset int64) {
	if f := r.lead.follower(to); f != nil {
		f.sentEnd = max(f.sentEnd, offset)
	}
}

// serveFollower reads the batches after the fetch offset and answers when the read is
// done; at once without records when there are none, or when the move throttle holds
// them back.
func (r *Replica) serveFollower(now int64, to int32, m *Fetch) {
	ans := r.fetchAnswer(m)
	if m.FetchOffset >= r.leo || r.moveHeld(now, to) {
		r.sent(to, m.FetchOffset)
		r.send(to, ans)
		return
	}
	maxBytes := r.cfg.FollowerResponseBytesMax
	if m.MaxBytes > 0 {
		maxBytes = min(maxBytes, m.MaxBytes)
	}
	paced := slices.Contains(r.st.Adding, to)
	if paced {
		// No other paced read starts until this one is done and charged.
		r.cfg.MoveThrottle.Begin()
	}
	r.emit(disk.Op{Kind: disk.Read, Offset: m.FetchOffset, MaxOffset: r.leo, MaxBytes: maxBytes, Paced: paced},
		pendingOp{purpose: opFollowerRead, follower: ans, to: to, truncs: r.truncs})
}

func (r *Replica) followerReadDone(now int64, p pendingOp, d disk.Done) {
	if p.paced {
		r.cfg.MoveThrottle.End(now, int64(len(d.Data)))
	}
	if p.gen != r.gen || r.lead == nil {
		return // leadership ended: the follower asks again
	}
	ans := p.follower
	ans.HighWatermark, ans.LogStartOffset, ans.LogEndOffset = r.hw, r.startOffset, r.leo
	ans.InISR = slices.Contains(r.lead.maximal, p.to)
	switch {
	case d.Err == nil:
		ans.Records = d.Data
		end, _ := record.BatchesEnd(d.Data)
		r.sent(p.to, max(ans.FetchOffset, end))
	case d.Offset > ans.FetchOffset:
		ans.Err, ans.LogStartOffset, ans.OpenBelow = CodeOffsetOutOfRange, d.Offset, r.producers.openAt(d.Offset)
	case len(d.Fences) > 0 && d.Fences[0].Contains(ans.FetchOffset):
		// A leader that serves holds no damage another in-sync replica could repair
		// (it would have resigned): the range is lost, and the follower copies the gap.
		r.fenceMet(p, d.Fences)
		f := d.Fences[0]
		ans.GapEnd, ans.GapEpochs = f.To, r.gapEpochs(ans.FetchOffset, f.To)
		r.sent(p.to, f.To)
	case d.Corrupt:
		r.checkDamage(ans.FetchOffset)
		ans.Err = CodeKafkaStorageError
	default:
		ans.Err = CodeKafkaStorageError
	}
	r.send(p.to, ans)
}

// ---- timers ----

func (r *Replica) leaderTick(now int64) {
	l := r.lead
	kept := l.purgatory[:0]
	for _, w := range l.purgatory {
		if now >= w.deadline {
			r.answerProduce(w.reply, ProduceResult{Err: CodeRequestTimedOut, BaseOffset: -1, LogStartOffset: -1})
			continue
		}
		kept = append(kept, w)
	}
	clear(l.purgatory[len(kept):])
	l.purgatory = kept
	l.deletes = slices.DeleteFunc(l.deletes, func(w deleteWaiter) bool {
		if now < w.deadline {
			return false
		}
		r.answerDelete(w.reply, DeleteResult{Err: CodeRequestTimedOut, LowWatermark: -1})
		return true
	})
	for _, f := range l.followers {
		if f.held != nil && now >= f.heldUntil {
			m := f.held
			f.held = nil
			r.serveFollower(now, f.id, m)
		}
	}
	r.expireConsumers(now)
	if a := l.alter; a != nil {
		if a.waiting && now-a.sentAt >= int64(r.cfg.AlterTimeout) {
			a.waiting = false
			a.resendAt = r.resendLostAlter(now)
		}
		if !a.waiting && a.resendAt > 0 && now >= a.resendAt {
			r.alterSeq++
			a.req.RequestID = r.alterSeq
			r.sendAlter(now)
		}
	}
	r.maybeAlterISR(now)
}

// leaderTicksEarly reports whether leaderTick may change the ISR before leaderDeadline,
// which names when an ISR member falls out of sync but not alterRetryAt, after which
// maybeAlterISR makes a change it was held back from: a resignation, the leader itself
// missing from the ISR, a member without a follower entry or with damage, a follower in
// sync to be added.
func (r *Replica) leaderTicksEarly(now int64) bool {
	l := r.lead
	self := r.self()
	switch {
	case l.alter != nil:
		return false // maybeAlterISR waits for its outcome, whose timers leaderDeadline names
	case l.resigning:
		return slices.Contains(r.st.ISR, self) && slices.ContainsFunc(r.st.ISR, func(id int32) bool { return id != self })
	case !slices.Contains(r.st.ISR, self):
		return true
	}
	for _, id := range r.st.ISR {
		if f := l.follower(id); id != self && (f == nil || f.damaged) {
			return true
		}
	}
	for _, f := range l.followers {
		// Not in sync now, by time, means never again without a fetch.
		if !slices.Contains(r.st.ISR, f.id) && r.inSync(f, now) {
			return true
		}
	}
	return false
}

func (r *Replica) leaderDeadline() int64 {
	l := r.lead
	d := NoDeadline
	for _, w := range l.purgatory {
		d = min(d, w.deadline)
	}
	for _, w := range l.deletes {
		d = min(d, w.deadline)
	}
	for _, f := range l.followers {
		if f.held != nil {
			d = min(d, f.heldUntil)
		}
	}
	for _, c := range l.consumers {
		d = min(d, c.deadline)
	}
	if a := l.alter; a != nil {
		if a.waiting {
			d = min(d, a.sentAt+int64(r.cfg.AlterTimeout))
		} else if a.resendAt > 0 {
			d = min(d, a.resendAt)
		}
		return d
	}
	// The next time an ISR member turns out of sync.
	for _, id := range r.st.ISR {
		if f := l.follower(id); f != nil {
			d = min(d, max(f.lastCaughtUp+int64(r.cfg.ReplicaLagMax)+1, l.alterRetryAt))
		}
	}
	return d
}
