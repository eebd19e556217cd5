package txn

import (
	"math"
	"slices"
	"time"

	"github.com/seedlog/seedlog/core/plant"
)

// Epochs: InitProducerID hands out epochs up to epochInitMax and moves to a new producer
// id at epoch 0 beyond it, keeping math.MaxInt16 for the bump that fences an Ongoing
// transaction (Kafka's rule).
const epochInitMax = math.MaxInt16 - 1

// txn is one transactional id. rec is its durable record; everything that changes it
// is written first and applied only once durable. At most one write or marker round
// runs for it at a time.
type txn struct {
	id  string
	rec txnRecord
	// durable: rec is in the log. An id seen first by an InitProducerID has no record
	// until its first write is durable; until then it is known to no other request.
	durable bool
	busy    busy
	// round is the end of the transaction under way (rec.state is Prepare*): its
	// markers, then the Complete* write.
	round *round
	// prevPid, prevEpoch are the producer id and epoch an InitProducerID that named them
	// (KIP-360) replaced, so that its retry gets the same answer instead of being fenced.
	// Not kept in the log: after failover such a retry is fenced.
	prevPid   int64
	prevEpoch int16
	// queue holds the requests waiting for the id to be free (queue.go).
	queue []queued
	// timerAt and timerIdx are t's place in the coordinator's timer queues (timers.go):
	// when each timer is due, and its index there plus one (0: not scheduled).
	timerAt  [timerKinds]int64
	timerIdx [timerKinds]int
	// expiring: t's tombstone is being written (expiry.go); expireRetryAt delays the
	// next attempt after one failed.
	expiring      bool
	expireRetryAt int64
}

// busy is what t waits for outside a marker round.
type busy uint8

const (
	idle        busy = iota
	awaitingPID      // a producer id from Config.NewProducerID
	writing          // a record handed to the log
)

// round is a transaction's end: markers sent until every partition has answered for
// good, then the Complete* record.
type round struct {
	pending []TopicPartition // partitions whose marker is not yet written
	// waiting: nothing is out; at retryFrom+MarkerRetry the markers of pending are sent
	// again, or, once pending is empty, the Complete* record is written again.
	waiting   bool
	retryFrom int64
}

func newTxn(id string) *txn { return &txn{id: id, prevPid: -1, prevEpoch: -1} }

// InitProducerID hands the producer of txnID its producer id and epoch: a new id gets a
// fresh producer id at epoch 0; a known one a bumped epoch (a fresh producer id when the
// epoch is used up), which fences any older producer. An Ongoing transaction is aborted
// first (CONCURRENT_TRANSACTIONS meanwhile; the producer retries). pid and epoch are -1,
// or (KIP-360) the producer's current ones, which must still be current. The answer
// comes once the new state is durable.
func (c *Coordinator) InitProducerID(now int64, txnID string, timeoutMs int32, pid int64, epoch int16,
	reply func(pid int64, epoch int16, code int16)) {
	c.enter(now)
	defer c.leave()
	answer := func(p int64, e int16, code int16) { c.later(func() { reply(p, e, code) }) }
	fail := func(code int16) { answer(-1, -1, code) }
	if code := c.Availability(); code != codeNone {
		fail(code)
		return
	}
	if !validTxnID(txnID) {
		fail(codeInvalidRequest)
		return
	}
	if timeoutMs <= 0 || int64(timeoutMs)*int64(time.Millisecond) > int64(c.cfg.MaxTimeout) {
		fail(codeInvalidTransactionTimeout)
		return
	}
	t := c.txns[txnID]
	if t == nil {
		if len(c.txns) >= c.cfg.TxnsMax {
			fail(codeCoordinatorNotAvailable)
			return
		}
		t = newTxn(txnID)
		c.txns[txnID] = t
		c.initNewPID(t, timeoutMs, answer)
		return
	}
	if t.busy != idle {
		fail(codeConcurrentTransactions)
		return
	}
	kip360 := pid >= 0
	if kip360 && pid != t.rec.pid && !(pid == t.prevPid && epoch == t.prevEpoch) {
		fail(codeProducerFenced)
		return
	}
	switch s := t.rec.state; {
	case s.preparing():
		fail(codeConcurrentTransactions)
	case s == stateOngoing:
		if kip360 && epoch != t.rec.epoch {
			fail(codeProducerFenced)
			return
		}
		// The producer starting over means the open transaction is dead: abort it with a
		// bumped epoch, so its partitions refuse the old producer from the markers on.
		fail(codeConcurrentTransactions)
		c.prepareEnd(t, false, TxnFenced, t.rec.tv, nil)
	case s == stateEmpty || s.complete():
		switch {
		case !kip360 || epoch == t.rec.epoch && pid == t.rec.pid:
		case t.rec.state == stateEmpty && pid == t.prevPid && epoch == t.prevEpoch:
			// A retry of the KIP-360 InitProducerID that made the current epoch.
			answer(t.rec.pid, t.rec.epoch, codeNone)
			return
		default:
			fail(codeProducerFenced)
			return
		}
		c.initBump(t, timeoutMs, kip360, answer)
	default: // Dead or PrepareEpochFence: never kept (see load)
		fail(codeInvalidTxnState)
	}
}

// initNewPID gives a new transactional id a producer id at epoch 0.
func (c *Coordinator) initNewPID(t *txn, timeoutMs int32, answer func(int64, int16, int16)) {
	c.withNewPID(t, answer, func(id int64) {
		next := txnRecord{pid: id, epoch: 0, timeoutMs: timeoutMs, state: stateEmpty, updateMs: millis(c.now), startMs: -1,
			prevPid: -1, nextPid: -1}
		c.writeInit(t, next, false, answer)
	})
}

// initBump starts t over in Empty with the next epoch of its producer id, or a new
// producer id when the epoch is used up.
func (c *Coordinator) initBump(t *txn, timeoutMs int32, kip360 bool, answer func(int64, int16, int16)) {
	next := txnRecord{pid: t.rec.pid, epoch: t.rec.epoch + 1, timeoutMs: timeoutMs, state: stateEmpty,
		updateMs: millis(c.now), startMs: -1, prevPid: -1, nextPid: -1}
	if t.rec.epoch < epochInitMax {
		c.writeInit(t, next, kip360, answer)
		return
	}
	c.withNewPID(t, answer, func(id int64) {
		next.pid, next.epoch, next.updateMs = id, 0, millis(c.now)
		c.writeInit(t, next, kip360, answer)
	})
}

// withNewPID asks Config.NewProducerID for an id and runs then with it; a refusal is
// answered with its code.
func (c *Coordinator) withNewPID(t *txn, answer func(int64, int16, int16), then func(id int64)) {
	t.busy = awaitingPID
	finish := c.begin(func() { answer(-1, -1, codeNotCoordinator) })
	c.cfg.NewProducerID(func(id int64, code int16) {
		finish(func() {
			t.busy = idle
			if code == codeNone && id < 0 {
				code = codeCoordinatorNotAvailable
			}
			if code != codeNone {
				c.dropIfNew(t)
				answer(-1, -1, code)
				return
			}
			then(id)
		})
	})
}

// writeInit writes InitProducerID's new state and answers once it is durable.
func (c *Coordinator) writeInit(t *txn, next txnRecord, kip360 bool, answer func(int64, int16, int16)) {
	prevPid, prevEpoch := t.rec.pid, t.rec.epoch
	c.write(t, next, func(err error) {
		if err != nil {
			c.dropIfNew(t)
			answer(-1, -1, appendCode(err))
			return
		}
		t.prevPid, t.prevEpoch = -1, -1
		if kip360 {
			t.prevPid, t.prevEpoch = prevPid, prevEpoch
		}
		answer(next.pid, next.epoch, codeNone)
	}, func() { answer(-1, -1, codeNotCoordinator) })
}

// dropIfNew forgets an id whose first record never became durable.
func (c *Coordinator) dropIfNew(t *txn) {
	if !t.durable && c.txns[t.id] == t {
		delete(c.txns, t.id)
	}
}

// write hands next to the log as t's record; done runs with the outcome, after t.rec
// became next if it is durable. onClose answers what waits on it at Close (may be nil).
func (c *Coordinator) write(t *txn, next txnRecord, done func(err error), onClose func()) {
	assert(t.busy == idle, "a second write for %q", t.id)
	t.busy = writing
	kv := KV{Key: encodeKey(t.id), Value: encodeValue(next)}
	finish := c.begin(onClose)
	c.log.Append(c.now, []KV{kv}, func(_ int64, err error) {
		finish(func() {
			t.busy = idle
			if err == nil {
				c.setRec(t, next)
			}
			done(err)
		})
	})
}

// producer finds the transaction of a request from an initialized producer and checks
// the producer is its current one.
func (c *Coordinator) producer(txnID string, pid int64, epoch int16) (*txn, int16) {
	if code := c.Availability(); code != codeNone {
		return nil, code
	}
	if !validTxnID(txnID) {
		return nil, codeInvalidRequest
	}
	t := c.txns[txnID]
	switch {
	case t != nil && t.durable && t.rec.nextPid >= 0 && pid == t.rec.nextPid && epoch == 0:
		// The producer id a version-2 end moved to: it is the producer's once the end
		// completes; meanwhile its requests wait.
		return t, codeConcurrentTransactions
	case t == nil || !t.durable || pid != t.rec.pid:
		return nil, codeInvalidProducerIDMapping
	case epoch != t.rec.epoch:
		return nil, codeProducerFenced
	case t.busy != idle:
		return t, codeConcurrentTransactions // t: the request may wait for it
	}
	return t, codeNone
}

// AddPartitions adds partitions to the producer's transaction, starting it if none is
// open. The answer (one code per partition, all the same) comes once the transaction's
// new record is durable, or at once when it holds them already.
func (c *Coordinator) AddPartitions(now int64, txnID string, pid int64, epoch int16, parts []TopicPartition,
	reply func(codes []int16)) {
	c.addPartitionsAnswering(now, txnID, pid, epoch, parts, 0, reply)
}

// AddPartitionImplicit adds one partition to the transaction of a version-2 producer
// (KIP-890 part 2) for the partition's leader, whose Produce v12 (or TxnOffsetCommit
// v5) would open the producer's transaction there: AddPartitions without the client's
// own request, which marks the transaction as a version-2 one.
func (c *Coordinator) AddPartitionImplicit(now int64, txnID string, pid int64, epoch int16, part TopicPartition,
	reply func(code int16)) {
	c.AddPartitionsImplicit(now, txnID, pid, epoch, []TopicPartition{part}, func(codes []int16) { reply(codes[0]) })
}

// AddPartitionsImplicit is AddPartitionImplicit for several partitions (a broker's
// AddPartitionsToTxn v5 without VerifyOnly), answered with one code per partition.
func (c *Coordinator) AddPartitionsImplicit(now int64, txnID string, pid int64, epoch int16, parts []TopicPartition,
	reply func(codes []int16)) {
	c.addPartitionsAnswering(now, txnID, pid, epoch, parts, 2, reply)
}

// addPartitionsAnswering runs addPartitions as an input and answers one code per
// partition, all the same.
func (c *Coordinator) addPartitionsAnswering(now int64, txnID string, pid int64, epoch int16, parts []TopicPartition,
	tv int16, reply func(codes []int16)) {
	c.enter(now)
	defer c.leave()
	answer := func(code int16) {
		codes := make([]int16, len(parts))
		for i := range codes {
			codes[i] = code
		}
		c.later(func() { reply(codes) })
	}
	c.addPartitions(txnID, pid, epoch, parts, tv, answer)
}

// AddOffsets adds the __consumer_offsets partition of the producer's consumer group to
// its transaction (AddOffsetsToTxn), as AddPartitions would.
func (c *Coordinator) AddOffsets(now int64, txnID string, pid int64, epoch int16, offsetsPartition TopicPartition,
	reply func(code int16)) {
	c.enter(now)
	defer c.leave()
	answer := func(code int16) { c.later(func() { reply(code) }) }
	c.addPartitions(txnID, pid, epoch, []TopicPartition{offsetsPartition}, 0, answer)
}

// addPartitions: tv is 2 for an implicit add (the transaction becomes a version-2 one),
// 0 for a client's request.
func (c *Coordinator) addPartitions(txnID string, pid int64, epoch int16, parts []TopicPartition, tv int16, answer func(int16)) {
	t, code := c.producer(txnID, pid, epoch)
	if code == codeConcurrentTransactions || code == codeNone && t.rec.state.preparing() {
		if c.enqueueAdd(t, pid, epoch, parts, tv, answer) {
			return
		}
		code = codeConcurrentTransactions
	}
	if code != codeNone {
		answer(code)
		return
	}
	for _, p := range parts {
		if !validPart(p) {
			answer(codeInvalidRequest)
			return
		}
	}
	switch s := t.rec.state; {
	case s != stateOngoing && s != stateEmpty && !s.complete():
		answer(codeInvalidTxnState)
		return
	case len(parts) == 0:
		answer(codeNone)
		return
	}
	union := sortParts(append(slices.Clone(t.rec.parts), parts...))
	if s := t.rec.state; s == stateOngoing && len(union) == len(t.rec.parts) && (tv < 2 || t.rec.tv >= 2) {
		answer(codeNone) // every partition is in already
		return
	}
	if len(union) > c.cfg.PartitionsMax {
		answer(codeInvalidRequest)
		return
	}
	next := t.rec
	next.parts = union
	next.updateMs = millis(c.now)
	begins := t.rec.state != stateOngoing
	if begins {
		next.state, next.startMs = stateOngoing, millis(c.now)
		next.tv, next.prevPid, next.nextPid = tv, -1, -1
	}
	if tv >= 2 {
		next.tv = tv
	}
	c.write(t, next, func(err error) {
		if err != nil {
			answer(appendCode(err))
			return
		}
		if begins {
			c.txnEvent(TxnBegin, t)
		}
		answer(codeNone)
	}, func() { answer(codeNotCoordinator) })
}

// EndTxn commits or aborts the producer's transaction. The decision is answered once
// its Prepare* record is durable; the markers follow. Asked again once the transaction
// completed with the same outcome it answers success, so a retry after a lost answer
// succeeds.
func (c *Coordinator) EndTxn(now int64, txnID string, pid int64, epoch int16, commit bool, reply func(code int16)) {
	c.EndTxnVersion(now, txnID, pid, epoch, commit, 1, func(_ int64, _ int16, code int16) { reply(code) })
}

// EndTxnVersion is EndTxn for a client of transaction version tv (EndTxn v5 is 2). A
// version-2 end bumps the producer's epoch with its Prepare* record (a new producer id at
// epoch 0 once the epoch is used up), writes the markers with the new epoch, and answers
// the producer id and epoch to use from then on; see endTxnV2. The reply of a
// version-1 end carries -1, -1.
func (c *Coordinator) EndTxnVersion(now int64, txnID string, pid int64, epoch int16, commit bool, tv int16,
	reply func(pid int64, epoch int16, code int16)) {
	c.enter(now)
	defer c.leave()
	if tv >= 2 {
		c.endTxnV2(txnID, pid, epoch, commit, func(p int64, e int16, code int16) { c.later(func() { reply(p, e, code) }) })
		return
	}
	answer := func(code int16) { c.later(func() { reply(-1, -1, code) }) }
	t, code := c.producer(txnID, pid, epoch)
	if code != codeNone {
		answer(code)
		return
	}
	prepare, done := statePrepareAbort, stateCompleteAbort
	if commit {
		prepare, done = statePrepareCommit, stateCompleteCommit
	}
	switch t.rec.state {
	case stateOngoing:
		c.prepareEnd(t, commit, 0, 0, answer)
	case done:
		answer(codeNone)
	case prepare:
		answer(codeConcurrentTransactions)
	default: // Empty, the other outcome, or an end of the other outcome under way
		answer(codeInvalidTxnState)
	}
}

// prepareEnd writes t's end (commit or abort) and starts its markers once durable.
// cause is TxnTimedOut or TxnFenced for an abort the coordinator decided, which bumps
// the epoch so that the producer is fenced on every partition the markers reach; it is 0
// for a producer's EndTxn, answered through answer (nil when nobody waits). tv is the
// transaction version the record keeps; a producer's version-2 end bumps the epoch too
// (endTxnV2 calls it with the overflow handled).
func (c *Coordinator) prepareEnd(t *txn, commit bool, cause EventKind, tv int16, answer func(int16)) {
	c.prepareEndNext(t, commit, cause, tv, -1, answer)
}

// prepareEndNext is prepareEnd; nextPid is the producer id a version-2 end whose epoch
// overflowed moves to (-1: none).
func (c *Coordinator) prepareEndNext(t *txn, commit bool, cause EventKind, tv int16, nextPid int64, answer func(int16)) {
	next := t.rec
	next.parts = slices.Clone(t.rec.parts)
	next.updateMs = millis(c.now)
	next.state = statePrepareAbort
	if commit {
		next.state = statePrepareCommit
	}
	next.tv, next.nextPid = tv, nextPid
	bump := cause != 0 || tv >= 2
	if cause == 0 && tv >= 2 && c.cfg.Plants.On(plant.TxnEpochNotBumped) {
		bump = false // planted bug: the version-2 end keeps the epoch, as a version-1 end does
	}
	if bump && next.epoch < math.MaxInt16 {
		next.epoch++
	}
	if answer == nil {
		answer = func(int16) {}
	}
	if c.cfg.Plants.On(plant.TxnMarkerBeforeDurable) {
		// Planted bug: act on the end before it is durable. The record is written but
		// nothing waits for it: the producer hears success and the markers go out at once.
		finish := c.begin(nil)
		kv := KV{Key: encodeKey(t.id), Value: encodeValue(next)}
		c.log.Append(c.now, []KV{kv}, func(int64, error) { finish(func() {}) })
		c.setRec(t, next)
		c.prepared(t, cause)
		answer(codeNone)
		return
	}
	c.write(t, next, func(err error) {
		if err != nil {
			answer(appendCode(err)) // still Ongoing; a timeout abort is tried again at the next check
			return
		}
		c.prepared(t, cause)
		answer(codeNone)
	}, func() { answer(codeNotCoordinator) })
}

// prepared tells of t's durable Prepare* record and starts its markers.
func (c *Coordinator) prepared(t *txn, cause EventKind) {
	if cause != 0 {
		c.txnEvent(cause, t)
	}
	if t.rec.state == statePrepareCommit {
		c.txnEvent(TxnPrepareCommit, t)
	} else {
		c.txnEvent(TxnPrepareAbort, t)
	}
	c.startRound(t)
}

// endTxnV2 is EndTxn for a version-2 client (KIP-890 part 2, Kafka 4.0's rules). Every
// end bumps the epoch: the Prepare* record holds the new one, the markers carry it (so
// the partitions refuse the old epoch from then on), and the answer names it. When the
// epoch is used up (epochInitMax), the end takes a new producer id at epoch 0, which
// the Complete* record makes the producer's; the markers still carry the old id at
// math.MaxInt16. A retry with the epoch before the bump (or the old id at the last
// epoch, after an overflow) is answered as the original was: CONCURRENT_TRANSACTIONS
// while the markers are out, success with the current producer id and epoch once
// complete, INVALID_TXN_STATE for the other outcome. An abort with the current epoch in
// Empty or Complete* (the producer may have produced with no partition added) is an
// empty end: it bumps the epoch like any other.
func (c *Coordinator) endTxnV2(txnID string, pid int64, epoch int16, commit bool, answer func(int64, int16, int16)) {
	fail := func(code int16) { answer(-1, -1, code) }
	if code := c.Availability(); code != codeNone {
		fail(code)
		return
	}
	if !validTxnID(txnID) {
		fail(codeInvalidRequest)
		return
	}
	t := c.txns[txnID]
	if t == nil || !t.durable {
		fail(codeInvalidProducerIDMapping)
		return
	}
	r := t.rec
	bumped := r.tv >= 2 // the id's last end was a version-2 one: its epoch moved on
	retryBump := bumped && pid == r.pid && epoch >= 0 && r.epoch == epoch+1
	retryOverflow := bumped && pid == r.prevPid && pid != r.pid && epoch == epochInitMax && r.epoch == 0
	prepare, done := statePrepareAbort, stateCompleteAbort
	if commit {
		prepare, done = statePrepareCommit, stateCompleteCommit
	}
	switch {
	case pid != r.pid && !retryOverflow:
		if r.nextPid >= 0 && pid == r.nextPid && epoch == 0 {
			fail(codeConcurrentTransactions) // the overflowed end is still being completed
			return
		}
		fail(codeInvalidProducerIDMapping)
		return
	case t.busy != idle:
		fail(codeConcurrentTransactions)
		return
	}
	current := pid == r.pid && epoch == r.epoch
	switch s := r.state; {
	case s == stateOngoing && current:
		c.endV2(t, commit, answer)
	case s.preparing() && retryBump:
		if s == prepare {
			fail(codeConcurrentTransactions)
		} else {
			fail(codeInvalidTxnState)
		}
	case s.preparing() && current:
		fail(codeConcurrentTransactions) // the next end, before the last one completed
	case s.complete() && (retryBump || retryOverflow):
		if s == done {
			answer(r.pid, r.epoch, codeNone)
		} else {
			fail(codeInvalidTxnState)
		}
	case (s == stateEmpty || s.complete()) && current:
		if commit {
			fail(codeInvalidTxnState)
			return
		}
		c.endV2(t, false, answer)
	default:
		fail(codeProducerFenced)
	}
}

// endV2 writes a version-2 end with its epoch bump, taking a new producer id first when
// the epoch is used up, and answers the producer id and epoch to use next.
func (c *Coordinator) endV2(t *txn, commit bool, answer func(int64, int16, int16)) {
	prepare := func(nextPid int64) {
		c.prepareEndNext(t, commit, 0, 2, nextPid, func(code int16) {
			switch {
			case code != codeNone:
				answer(-1, -1, code)
			case t.rec.nextPid >= 0:
				answer(t.rec.nextPid, 0, codeNone)
			default:
				answer(t.rec.pid, t.rec.epoch, codeNone)
			}
		})
	}
	if t.rec.epoch < epochInitMax || c.cfg.Plants.On(plant.TxnEpochNotBumped) {
		prepare(-1)
		return
	}
	c.withNewPID(t, answer, prepare)
}
