package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/seedlog/seedlog/core/record"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Consume-transform-produce workers (KIP-447), as franz-go's GroupTransactSession runs
// them. The workers are the members of one consumer group (ctpGroup, member.go's
// protocol: joins, rebalances, leaves, static membership) that consume the input topic
// with read_committed from the group's committed offsets; each member slot is also a
// transactional producer (txnproducer.go's instances, one transactional id per slot).
// For each polled batch of one input partition a worker begins a transaction, adds the
// output partition the input partition maps to (AddPartitionsToTxn), produces one
// record per input record there ("x<txn>/<input partition>/<offset>:<input value>"),
// adds the group (AddOffsetsToTxn) and commits the position after the batch
// (TxnOffsetCommit with the member's generation and member id), then ends it: commit,
// or now and then abort. Any failure aborts, and the worker rewinds to the group's
// committed offsets (OffsetFetch, requiring stable offsets). A worker crashes now and
// then mid-transaction (a txn-crash step of its transactional id, drawn as a
// transactional producer's are): its producer instance is abandoned (half of the time
// left as a zombie that writes once more with its old epoch), its membership lapses
// without a LeaveGroup, and its successor in the slot fences the open transaction with
// a new InitProducerID and joins again.
//
// Once faults stop and the other producers are idle, the workers drain: the group's
// committed offsets must reach the end of every input partition within the data
// liveness bound (checker "exactly-once", kind ctp-undrained); then no transaction
// begins, every slot runs a last InitProducerID (which ends whatever is open), and the
// group's final committed offsets are read for the checker (ctpcheck.go).

// The group and the topics of the workers.
const (
	ctpGroup  = "ctp"
	ctpInput  = "ci"
	ctpOutput = "co"
)

// CTPSpec is the consume-transform-produce workload (Workers 0: none).
type CTPSpec struct {
	Workers  int
	Assignor string
	Static   bool
	// LeavePPM is the chance per poll that a worker leaves the group for a while,
	// CrashPPM that it crashes mid-transaction, AbortPPM that a transaction aborts.
	LeavePPM, CrashPPM, AbortPPM int64
	Timeout                      time.Duration
	Codec                        record.Codec
}

// ctpRun is the workers and what the drain learns.
type ctpRun struct {
	w       *World
	spec    CTPSpec
	g       *groupRun
	workers []*ctpWorker
	// stopped: drained, no transaction begins any more; finished: every slot closed
	// and the final offsets read.
	stopped, finished bool
	drainer           *Client
	// ends are the input partitions' high watermarks when the group drained, offsets
	// the group's committed offsets after the last InitProducerID of every slot.
	ends    map[TopicPartition]int64
	offsets map[TopicPartition]int64
}

// ctpWorker is one member slot: a group member and a transactional id.
type ctpWorker struct {
	run *ctpRun
	m   *member
	r   *txnRun
	// in is the producer instance that has its epoch (nil: none yet); cur is the
	// transaction running; rewind makes the next poll read the committed offsets.
	in     *txnInstance
	cur    *ctpTxn
	rewind bool
	// lateIn is the instance whose late offset commit is unanswered (ctplate.go): no
	// transaction begins with it meanwhile.
	lateIn *txnInstance
}

// ctpTxn is one transaction of a worker.
type ctpTxn struct {
	x        *ctpWorker
	in       *txnInstance
	num      int
	round    uint64
	gen      int32
	memberID string
	src      TopicPartition
	start    int64
	end      int64
	out      TopicPartition
	values   []string
	abort    bool
	// crashAt is the step after which the worker crashes (0: never; 1: partitions
	// added, 2: batch written, ctpCrashLast: offsets committed); zombie says whether
	// its instance then writes once more.
	crashAt  int
	zombie   bool
	state    *txnState
	batch    *txnBatch
	deadline int64
}

// ctpCrashLast is the last step a worker crashes after.
const ctpCrashLast = 3

// startCTP starts the workers: a consumer group whose members each own a
// transactional id.
func (w *World) startCTP(spec CTPSpec) *ctpRun {
	run := &ctpRun{w: w, spec: spec}
	run.g = w.startGroup(GroupSpec{Name: ctpGroup, Members: spec.Workers, Assignor: spec.Assignor, Static: spec.Static,
		LeavePPM: spec.LeavePPM, Topics: []string{ctpInput}})
	for i, m := range run.g.members {
		m.c.isolation = 1
		m.c.desc += " (consume-transform-produce)"
		x := &ctpWorker{run: run, m: m}
		m.ctp = x
		x.r = w.startTxnProducer(TxnProducerSpec{ID: fmt.Sprintf("%s-%d", ctpGroup, i), Timeout: spec.Timeout, Codec: spec.Codec,
			Version1: true})
		x.r.onEpoch = x.ready
		run.workers = append(run.workers, x)
	}
	return run
}

// ready takes an instance that got its epoch: whatever the slot had open is aborted,
// so the worker reads the committed offsets again.
func (x *ctpWorker) ready(in *txnInstance) {
	x.in, x.rewind = in, true
}

// poll is the member's poll (member.go): fetch the next assigned partition from its
// position and transform what came in a transaction.
func (x *ctpWorker) poll(round uint64) {
	m := x.m
	c := m.c
	w := c.w
	if x.run.stopped {
		return
	}
	again := func() {
		c.later(dataBackoff, func() {
			if m.active(round) {
				m.poll(round)
			}
		})
	}
	if x.in == nil || !x.in.alive() || x.cur != nil || x.lateIn == x.in {
		again()
		return
	}
	if x.rewind {
		x.rewind = false
		w.cov.Inc("ctp:rewind")
		m.resume(round)
		return
	}
	tp := m.assigned[m.next%len(m.assigned)]
	m.next++
	from := m.pos[tp]
	// The transaction commits with the generation the batch was fetched in: the
	// coordinator refuses it once the group moved on, and the new owner reads again.
	gen, memberID := m.gen, m.memberID
	c.fetchOnce(tp, from, 1, func(op *Op) {
		if w.failure != nil || !m.active(round) || x.run.stopped {
			return
		}
		if x.cur != nil || x.in == nil || !x.in.alive() {
			again()
			return
		}
		var recs []LogRecord
		end := from
		switch {
		case op.Outcome == Failed && op.Code == errCorruptMessage:
			// A fenced offset: skipped, its position committed like a record's.
			end = from + 1
		case op.Outcome == OK:
			hidden := map[int64]bool{}
			for _, o := range op.Hidden {
				hidden[o] = true
			}
			for _, r := range op.Records {
				if !r.Control && !hidden[r.Offset] {
					recs = append(recs, r)
				}
				end = max(end, r.Offset+1)
			}
			end = max(end, op.Next)
		}
		if end <= from {
			again()
			return
		}
		t := &ctpTxn{x: x, in: x.in, round: round, gen: gen, memberID: memberID, src: tp, start: from, end: end}
		x.cur = t
		c.later(m.processingTime(), func() { t.begin(recs) })
	})
}

// begin starts the transaction of one poll.
func (t *ctpTxn) begin(recs []LogRecord) {
	x := t.x
	m := x.m
	w := m.c.w
	in := t.in
	if w.failure != nil || w.phase == phaseEnd {
		return
	}
	if !t.live() || x.run.stopped {
		t.lost()
		return
	}
	c := in.c
	src, from, end := t.src, t.start, t.end
	w.data.txnNum++
	t.num = w.data.txnNum
	t.out = TopicPartition{ctpOutput, src.Partition % ctpOutputPartitions(w)}
	t.deadline = w.now + int64(w.cfg.Data.DeliveryTimeout)
	out := t.out
	for _, r := range recs {
		t.values = append(t.values, fmt.Sprintf("x%d/%s:%s", t.num, ctpName(src, r.Offset), r.Value))
	}
	t.abort = c.rng.Int64N(1_000_000) < x.run.spec.AbortPPM
	f := x.r.fate(x.run.spec.CrashPPM, func(rng *rand.Rand) int { return 1 + rng.IntN(3) })
	if f.crash {
		t.crashAt = ctpCrashLast
		if f.after != txnCrashAtEnd {
			t.crashAt = min(max(f.after, 1), ctpCrashLast)
		}
		t.zombie = f.zombie
	}
	var parts []TopicPartition
	if len(t.values) > 0 {
		parts = []TopicPartition{out}
	}
	w.data.txnBegun = append(w.data.txnBegun, txnBegin{num: t.num, id: x.r.spec.ID, at: w.now, parts: parts})
	w.clientNote(c, fmt.Sprintf("transaction %d of %s begins: %s [%d, %d) to %s in generation %d, pid %d epoch %d",
		t.num, x.r.spec.ID, src, from, end, out, t.gen, in.pid, in.epoch))
	if len(t.values) == 0 {
		w.cov.Inc("ctp:offsets-only")
		t.addOffsets()
		return
	}
	t.addPartitions()
}

// ctpName names an input record in the output's values.
func ctpName(tp TopicPartition, offset int64) string {
	return fmt.Sprintf("%s/%d/%d", tp.Topic, tp.Partition, offset)
}

// ctpOutputPartitions is how many output partitions input partitions map to: the count
// the output topic was created with, which growth never lowers.
func ctpOutputPartitions(w *World) int32 {
	t, _ := w.cfg.Data.topic(ctpOutput)
	return max(t.Partitions, 1)
}

// live reports whether the transaction's instance may still act for it.
func (t *ctpTxn) live() bool {
	return t.in.alive() && t.x.in == t.in && t.x.cur == t
}

// lost ends a transaction that cannot go on (its instance ended under it, as
// txnInstance.attempt does after a fatal answer): the batch it left is given up, and
// the worker goes on polling once a new instance has its epoch.
func (t *ctpTxn) lost() {
	x := t.x
	if x.cur != t {
		return
	}
	if b := t.batch; b != nil && !b.done {
		b.done = true
		t.in.c.w.complete(b.op, t.in.giveUp(b))
	}
	if x.in == t.in && !t.in.alive() {
		x.in = nil
	}
	t.done()
}

// next goes on polling in round after a transaction, unless the round is over.
func (x *ctpWorker) next(round uint64) {
	m := x.m
	m.c.later(0, func() {
		if m.active(round) {
			m.poll(round)
		}
	})
}

// done releases the worker after the transaction and goes on polling.
func (t *ctpTxn) done() {
	if t.x.cur == t {
		t.x.cur = nil
	}
	t.x.next(t.round)
}

// step goes on after step n, crashing there when drawn.
func (t *ctpTxn) step(n int, next func()) {
	if t.crashAt == n && t.in.c.w.phase == phaseSafety {
		t.x.crash(t)
		return
	}
	next()
}

// retry runs fn after a pause, or aborts past the deadline.
func (t *ctpTxn) retry(what string, fn func()) {
	w := t.in.c.w
	if w.now >= t.deadline {
		t.fail(what + " past the delivery timeout")
		return
	}
	t.in.c.later(dataBackoff, func() {
		if !t.live() {
			t.lost()
			return
		}
		fn()
	})
}

// addPartitions adds the output partition (AddPartitionsToTxn).
func (t *ctpTxn) addPartitions() {
	in := t.in
	c := in.c
	w := c.w
	in.withCoordinator(func() {
		if !t.live() {
			t.lost()
			return
		}
		req := kmsg.NewPtrAddPartitionsToTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch = in.r.spec.ID, in.pid, in.epoch
		rt := kmsg.NewAddPartitionsToTxnRequestTopic()
		rt.Topic, rt.Partitions = t.out.Topic, []int32{t.out.Partition}
		req.Topics = append(req.Topics, rt)
		c.sendLimited(in.coord, req, 0, 3, w.requestTimeout(), func(resp kmsg.Response, err error) {
			if !t.live() {
				t.lost()
				return
			}
			code := int16(-1)
			if err == nil {
				code = addPartitionsCode(resp.(*kmsg.AddPartitionsToTxnResponse), []TopicPartition{t.out})
			}
			switch {
			case code == errNone:
				t.step(1, t.produce)
			case slices.Contains(fatalTxnCodes, code):
				t.fatal(code)
			default:
				in.coordinatorLost(code)
				if code == errUnknownTopicOrPartition {
					c.refreshTopics(nil)
				}
				t.retry("AddPartitionsToTxn", t.addPartitions)
			}
		})
	})
}

// produce writes the output batch through the transactional producer's own attempts
// (txnInstance.attempt), then waits for its outcome.
func (t *ctpTxn) produce() {
	in := t.in
	c := in.c
	w := c.w
	seq := in.seqs[t.out]
	in.seqs[t.out] = seq + int32(len(t.values))
	op := &Op{Kind: OpProduce, Topic: t.out.Topic, Partition: t.out.Partition, Values: t.values, Acks: -1,
		Producer: in.pid, Epoch: in.epoch, Sequence: seq, Offset: -1, LeaderEpoch: -1, HW: -1, LSO: -1, TxnID: in.r.spec.ID, Txn: t.num}
	w.invoke(c, op)
	w.producerSeqs.numbered(prodKey{t.out, in.pid, in.epoch}, seq, len(t.values))
	// The state is not the instance's current transaction: the batch's outcome ends
	// there, and this transaction goes on by itself.
	t.state = &txnState{num: t.num, parts: []TopicPartition{t.out}, added: true, left: map[TopicPartition]int{t.out: 0}, crashAfter: -1}
	t.batch = &txnBatch{op: op, tp: t.out, deadline: t.deadline}
	t.state.batches = []*txnBatch{t.batch}
	t.state.flying = 1
	in.attempt(t.state, t.batch)
	t.awaitBatch()
}

// awaitBatch goes on once the batch resolved.
func (t *ctpTxn) awaitBatch() {
	if !t.live() {
		t.lost()
		return
	}
	if !t.batch.done {
		t.in.c.later(dataBackoff, t.awaitBatch)
		return
	}
	switch t.batch.op.Outcome {
	case OK:
		t.step(2, t.addOffsets)
	case Indeterminate:
		// The batch may yet be appended: only a new epoch fences it (see maybeEnd).
		t.in.c.w.cov.Inc("ctp:abort-by-epoch-bump")
		t.bump()
	default:
		if code := t.batch.op.Code; code == errOutOfOrderSequenceNumber || code == errUnknownProducerID {
			// The partition and the instance disagree on the epoch's sequences: only a
			// new epoch starts them over (KIP-360), or every retry is refused the same.
			t.in.c.w.cov.Inc("ctp:abort-by-epoch-bump")
			t.bump()
			return
		}
		t.fail("the output batch failed")
	}
}

// addOffsets adds the group to the transaction (AddOffsetsToTxn).
func (t *ctpTxn) addOffsets() {
	in := t.in
	c := in.c
	w := c.w
	in.withCoordinator(func() {
		if !t.live() {
			t.lost()
			return
		}
		req := kmsg.NewPtrAddOffsetsToTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = in.r.spec.ID, in.pid, in.epoch, ctpGroup
		c.send(in.coord, req, w.requestTimeout(), func(resp kmsg.Response, err error) {
			if !t.live() {
				t.lost()
				return
			}
			code := int16(-1)
			if err == nil {
				code = resp.(*kmsg.AddOffsetsToTxnResponse).ErrorCode
			}
			switch {
			case code == errNone && t.sloppyOffsets():
			case code == errNone:
				t.commitOffsets(nil)
			case slices.Contains(fatalTxnCodes, code):
				t.fatal(code)
			default:
				in.coordinatorLost(code)
				t.retry("AddOffsetsToTxn", t.addOffsets)
			}
		})
	})
}

// ctpOffsetRefusals are TxnOffsetCommit answers that say the member is not the
// generation's owner of the partition any more: the transaction aborts and the member
// rejoins.
var ctpOffsetRefusals = []int16{errIllegalGeneration, errUnknownMemberID, errFencedInstanceID, errRebalanceInProgress}

// commitOffsets commits the position after the batch within the transaction
// (TxnOffsetCommit v3 and up: with the generation and member id it was fetched in).
func (t *ctpTxn) commitOffsets(op *Op) {
	in := t.in
	c := in.c
	w := c.w
	m := t.x.m
	if op == nil {
		op = &Op{Kind: OpTxnOffsetCommit, TxnID: in.r.spec.ID, Txn: t.num, Group: ctpGroup, Producer: in.pid, Epoch: in.epoch,
			Member: t.memberID, Generation: t.gen, Offsets: []PartitionOffset{{t.src, t.end}}, Offset: -1, HW: -1, LSO: -1}
		w.invoke(c, op)
	}
	in.find(ctpGroup, 0, func(node int32) {
		if !t.live() {
			if op.Outcome == Pending {
				w.complete(op, Indeterminate)
			}
			t.lost()
			return
		}
		req := t.offsetCommit(in, m)
		op.Node = node
		op.Attempts++
		c.sendLimited(node, req, 3, 5, w.requestTimeout(), func(resp kmsg.Response, err error) {
			if !t.live() {
				if op.Outcome == Pending {
					w.complete(op, Indeterminate)
				}
				t.lost()
				return
			}
			code := txnOffsetCommitCode(resp, err)
			switch {
			case code == errNone:
				w.complete(op, OK)
				w.cov.Inc("ctp:offsets-committed")
				t.step(3, t.endTxn)
			case slices.Contains(fatalTxnCodes, code):
				op.Code = code
				w.complete(op, Indeterminate)
				t.fatal(code)
			case slices.Contains(ctpOffsetRefusals, code):
				op.Code = code
				w.complete(op, Failed)
				w.cov.Inc("ctp:offsets-refused-" + strings.ToLower(errorName(code)))
				if code == errUnknownMemberID || code == errFencedInstanceID {
					m.memberID = ""
				}
				if m.active(t.round) {
					m.join()
				}
				t.fail("TxnOffsetCommit refused: " + errorName(code))
			case code == errCoordinatorLoadInProgress || code == errConcurrentTransactions || code == -1 ||
				code == errNotCoordinator || code == errCoordinatorNotAvailable || code == errRequestTimedOut:
				if w.now >= t.deadline {
					w.complete(op, Indeterminate)
				}
				t.retry("TxnOffsetCommit", func() { t.commitOffsets(op) })
			default:
				op.Code = code
				w.complete(op, Indeterminate)
				t.fail("TxnOffsetCommit refused: " + errorName(code))
			}
		})
	})
}

// endTxn commits, or aborts when drawn or when the member rejoined since the batch
// was fetched: as franz-go's GroupTransactSession aborts once a rebalance revoked its
// partitions. Even a rejoin that hands back the same generation rewinds the member to
// the committed offsets (member.resume), read before this transaction's commit: the
// commit would leave the member polling its batch again.
func (t *ctpTxn) endTxn() {
	commit := !t.abort
	if commit && !t.x.m.active(t.round) {
		commit = false
		t.in.c.w.cov.Inc("ctp:rejoined-abort")
	}
	t.x.end(t, commit, nil)
}

// fail aborts the transaction after a failure.
func (t *ctpTxn) fail(why string) {
	w := t.in.c.w
	w.clientNote(t.in.c, fmt.Sprintf("transaction %d of %s aborts: %s", t.num, t.in.r.spec.ID, why))
	w.cov.Inc("ctp:failed")
	t.x.end(t, false, nil)
}

// fatal ends the instance after a fatal answer; the next one aborts what is open.
func (t *ctpTxn) fatal(code int16) {
	t.in.c.w.cov.Inc("ctp:instance-fatal")
	t.x.in = nil
	t.in.fatal(errorName(code))
	t.done()
}

// bump aborts by a new epoch: the instance takes a new one (InitProducerID), which
// aborts the transaction with markers its late batch cannot pass.
func (t *ctpTxn) bump() {
	t.x.in = nil
	t.in.init()
	t.done()
}

// end sends EndTxn until an answer decides, then goes on polling (after an abort, from
// the committed offsets).
func (x *ctpWorker) end(t *ctpTxn, commit bool, op *Op) {
	in := t.in
	c := in.c
	w := c.w
	if op == nil {
		op = &Op{Kind: OpEndTxn, TxnID: in.r.spec.ID, Txn: t.num, Commit: commit, Producer: in.pid, Epoch: in.epoch, Offset: -1, HW: -1, LSO: -1}
		w.invoke(c, op)
	}
	if w.now >= t.deadline+int64(w.cfg.Data.DeliveryTimeout) {
		w.complete(op, Indeterminate)
		w.cov.Inc("ctp:end-gave-up")
		x.in = nil
		in.fatal("EndTxn unanswered")
		t.done()
		return
	}
	in.withCoordinator(func() {
		if !t.live() {
			if op.Outcome == Pending {
				w.complete(op, Indeterminate)
			}
			t.lost()
			return
		}
		req := kmsg.NewPtrEndTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = in.r.spec.ID, in.pid, in.epoch, commit
		op.Node = in.coord
		op.Attempts++
		c.sendLimited(in.coord, req, 0, 4, w.requestTimeout(), func(resp kmsg.Response, err error) {
			code := int16(-1)
			if err == nil {
				code = resp.(*kmsg.EndTxnResponse).ErrorCode
				op.Sent = true
			} else if !isNotSent(err) {
				op.Sent = true
			}
			if !t.live() {
				if op.Outcome == Pending {
					w.complete(op, Indeterminate)
				}
				t.lost()
				return
			}
			switch {
			case code == errNone:
				w.complete(op, OK)
				m := x.m
				if commit {
					w.cov.Inc("ctp:commit")
					if m.active(t.round) && m.pos[t.src] == t.start {
						m.pos[t.src] = t.end
					}
				} else {
					w.cov.Inc("ctp:abort")
					x.rewind = true
				}
				t.done()
			case slices.Contains(fatalTxnCodes, code):
				op.Code = code
				w.complete(op, endRefusedOutcome(op))
				t.fatal(code)
			default:
				in.coordinatorLost(code)
				c.later(dataBackoff, func() {
					if !t.live() {
						if op.Outcome == Pending {
							w.complete(op, Indeterminate)
						}
						t.lost()
						return
					}
					x.end(t, commit, op)
				})
			}
		})
	})
}

// crash kills the worker mid-transaction: its producer instance is abandoned (a zombie
// when its fate says so and its transaction added a partition), its membership lapses
// without a LeaveGroup, and a new instance and a new join take over the slot.
func (x *ctpWorker) crash(t *ctpTxn) {
	in := t.in
	m := x.m
	c := in.c
	w := c.w
	w.cov.Inc("ctp:crash")
	w.clientNote(c, fmt.Sprintf("consume-transform-produce worker %s crashes in transaction %d", x.r.spec.ID, t.num))
	if t.batch != nil && !t.batch.done {
		t.batch.done = true
		w.complete(t.batch.op, in.giveUp(t.batch))
	}
	zombie := t.state != nil && t.zombie
	in.last = t.state
	in.abandon()
	if zombie {
		x.r.zombies = append(x.r.zombies, in)
	}
	x.in, x.cur = nil, nil
	x.r.newInstance()
	m.round++
	m.state = memberLeft
	m.memberID, m.gen, m.coord = "", -1, -1
	mc := m.c
	mc.later(time.Duration(200+mc.rng.IntN(1800))*time.Millisecond, func() {
		if w.failure == nil && w.phase != phaseEnd && m.state == memberLeft {
			m.join()
		}
	})
}

// drawCTP draws, from its own stream, whether a seed runs consume-transform-produce
// workers (a third of the seeds with data where nothing deletes records, offsets do not
// expire, and no broker is left down) and how: an input and an output topic join the
// data topics, so that producers write the input (and some the output too), the grower,
// mover and elector work on them and the final reads read them.
func drawCTP(seed uint64, c *Config) {
	d := &c.Data
	rng := Stream(seed, streamCTP, 0)
	if !d.On() || rng.IntN(3) != 0 || d.DeletePPM > 0 || d.OffsetsRetention > 0 || d.FlushAsync || c.Faults.LivenessDown > 0 {
		return
	}
	brokers := len(c.Brokers())
	for _, name := range []string{ctpInput, ctpOutput} {
		rf := int32(1 + rng.IntN(min(brokers, 3)))
		d.Topics = append(d.Topics, DataTopic{Name: name, Partitions: int32(1 + rng.IntN(4)), RF: rf, MinISR: int32(1 + rng.IntN(int(rf)))})
	}
	d.CTP = CTPSpec{
		Workers:  1 + rng.IntN(3),
		Assignor: []string{"range", "roundrobin"}[rng.IntN(2)],
		Static:   rng.IntN(3) == 0,
		LeavePPM: []int64{0, 5_000, 30_000}[rng.IntN(3)],
		CrashPPM: []int64{0, 20_000, 60_000}[rng.IntN(3)],
		AbortPPM: []int64{50_000, 200_000}[rng.IntN(2)],
		Timeout:  time.Duration(10+rng.IntN(51)) * time.Second,
		Codec:    []record.Codec{record.CodecNone, record.CodecGzip, record.CodecLZ4, record.CodecZstd}[rng.IntN(4)],
	}
	// A short transactional.id.expiration.ms (drawTxns) expires an id idle that long: a
	// worker must begin its first transaction within it after each new epoch, or every
	// epoch expires before its first AddPartitionsToTxn, the instance ends on
	// INVALID_PRODUCER_ID_MAPPING, and the group never drains.
	d.TxnIDExpiration = ctpIDExpiration(d)
	if len(d.TxnProducers) == 0 {
		// The transaction state topic as drawTxns draws it, short of Kafka's 50
		// partitions, whose replication would dominate the seed's cost.
		d.TxnStatePartitions = int32(1 + rng.IntN(4))
		if rng.IntN(3) != 0 {
			d.TxnStateRF = int32(min(brokers, 3))
		}
	}
}

// ctpIDExpiration is the transactional id expiration of a seed with workers: the drawn
// one (0: the node's 7 days), raised above what a worker may idle between taking an
// epoch and its first transaction: the rewind, a poll of each input partition (every
// one but the last empty, waiting its fetch's max wait), the processing, and a margin
// for round trips.
func ctpIDExpiration(d *DataConfig) time.Duration {
	if d.TxnIDExpiration == 0 {
		return 0
	}
	parts := d.PartitionsMax
	if t, ok := d.topic(ctpInput); ok {
		parts = max(parts, t.Partitions)
	}
	idle := time.Duration(parts)*(d.FetchWaitMax+dataBackoff) + processingMax + time.Second
	return max(d.TxnIDExpiration, idle)
}

// streamCTP is the stream of the consume-transform-produce workload's draws.
const streamCTP = "ctp"

// WithoutCTP leaves the consume-transform-produce workload out of a seed's draws.
func (d *DataConfig) WithoutCTP() {
	if d.CTP.Workers == 0 {
		return
	}
	d.CTP = CTPSpec{}
	d.Topics = slices.DeleteFunc(d.Topics, func(t DataTopic) bool { return t.Name == ctpInput || t.Name == ctpOutput })
}

// ctpString renders the workload for the configuration block.
func (d *DataConfig) ctpString() string {
	s := d.CTP
	if s.Workers == 0 {
		return ""
	}
	return fmt.Sprintf("  consume-transform-produce: %d workers of group %s (%s assignor, static=%v, leave %s, crash %s, abort %s per transaction, timeout %v, %s), %s -> %s\n",
		s.Workers, ctpGroup, s.Assignor, s.Static, ppm(s.LeavePPM), ppm(s.CrashPPM), ppm(s.AbortPPM), s.Timeout, s.Codec, ctpInput, ctpOutput)
}

// drain waits, once the producers are idle, for the group's committed offsets to reach
// every input partition's high watermark; then it stops the workers, closes their
// transactional ids and reads the final committed offsets, and calls done.
func (run *ctpRun) drain(done func()) {
	w := run.w
	run.drainer = w.addClient(roleReader)
	run.drainer.desc = "the consume-transform-produce drain watcher"
	bound := w.cfg.LivenessBound
	run.drainer.later(bound, func() {
		switch {
		case w.failure != nil || run.finished:
		case !run.stopped && run.lostData():
			// The watch stops waiting once a partition lost data (see watch).
		case !run.stopped:
			w.fail("exactly-once", -1, "ctp-undrained: group %s's committed offsets %v did not reach the input's ends %v within %v after the producers went idle",
				ctpGroup, run.offsets, run.ends, bound)
		default:
			w.fail("exactly-once", -1, "ctp-undrained: the workers of group %s drained, but their transactional ids did not all close within %v",
				ctpGroup, bound)
		}
	})
	wait := run.watch
	if run.partial() {
		// A schedule left a worker out (a shrunk one): its partitions may never drain.
		// The checker still holds the output to the committed offsets.
		w.cov.Inc("ctp:partial")
		wait = func(done func()) { done() }
	}
	wait(func() {
		run.stopped = true
		w.cov.Inc("ctp:drained")
		run.closed(func() {
			run.committed(run.known(), func(offsets map[TopicPartition]int64) {
				run.offsets, run.finished = offsets, true
				done()
			})
		})
	})
}

// partial reports whether a schedule left a worker's join or its transactional id's
// start out.
func (run *ctpRun) partial() bool {
	return run.w.script != nil && slices.ContainsFunc(run.workers, func(x *ctpWorker) bool { return !x.m.begun || !x.r.started })
}

// known lists the input partitions the drain watcher knows.
func (run *ctpRun) known() []TopicPartition { return run.drainer.knownPartitions([]string{ctpInput}) }

// watch compares the input's high watermarks with the committed offsets until these
// reach those, then calls done.
func (run *ctpRun) watch(done func()) {
	c := run.drainer
	w := run.w
	if w.failure != nil {
		return
	}
	if run.lostData() {
		// A partition of the workers lost a range with no intact copy left: the
		// producer state of its batches may be gone with them, and a worker whose
		// sequences the partition no longer knows cannot write there again (seed
		// 1159). The checker still judges what the final reads hold.
		w.cov.Inc("ctp:drain-after-loss")
		done()
		return
	}
	again := func() { c.later(4*dataBackoff, func() { run.watch(done) }) }
	c.refreshTopics(func() {
		tps := run.known()
		if len(tps) == 0 {
			again()
			return
		}
		ends := map[TopicPartition]int64{}
		var list func(i int)
		list = func(i int) {
			if w.failure != nil {
				return
			}
			if i == len(tps) {
				run.committed(tps, func(offsets map[TopicPartition]int64) {
					run.ends, run.offsets = ends, offsets
					for _, tp := range tps {
						// A partition nothing was ever written to (one added late) has
						// no committed offset (-1) and needs none.
						if max(offsets[tp], 0) < ends[tp] {
							again()
							return
						}
					}
					done()
				})
				return
			}
			c.listOnce(tps[i], -1, func(op *Op) {
				if op.Outcome != OK {
					again()
					return
				}
				ends[tps[i]] = op.Offset
				list(i + 1)
			})
		}
		list(0)
	})
}

// committed reads the group's committed offsets of tps (stable ones: every open
// transaction's offsets ended), retrying until an answer, then calls done with them
// (-1 where none).
func (run *ctpRun) committed(tps []TopicPartition, done func(map[TopicPartition]int64)) {
	c := run.drainer
	w := run.w
	var ask func()
	ask = func() {
		if w.failure != nil {
			return
		}
		// txnInstance.find looks the coordinator up, for a client that is no producer.
		find := &txnInstance{c: c, coord: -1}
		find.r = &txnRun{w: w, inst: find}
		find.find(ctpGroup, 0, func(node int32) {
			op := &Op{Kind: OpOffsetFetch, Group: ctpGroup, Producer: -1, Node: node}
			w.invoke(c, op)
			req := kmsg.NewPtrOffsetFetchRequest()
			req.Group = ctpGroup
			req.RequireStable = true
			g := kmsg.NewOffsetFetchRequestGroup()
			g.Group = ctpGroup
			t := kmsg.OffsetFetchRequestTopic{Topic: ctpInput}
			gt := kmsg.OffsetFetchRequestGroupTopic{Topic: ctpInput}
			for _, tp := range tps {
				t.Partitions = append(t.Partitions, tp.Partition)
				gt.Partitions = append(gt.Partitions, tp.Partition)
			}
			req.Topics = []kmsg.OffsetFetchRequestTopic{t}
			g.Topics = []kmsg.OffsetFetchRequestGroupTopic{gt}
			req.Groups = []kmsg.OffsetFetchRequestGroup{g}
			c.sendLimited(node, req, 1, 32767, w.requestTimeout(), func(resp kmsg.Response, err error) {
				offsets, code := offsetFetchResult(resp, err, tps)
				if code != errNone {
					op.Code = code
					w.complete(op, Failed)
					c.later(4*dataBackoff, ask)
					return
				}
				op.Offsets = offsets
				w.complete(op, OK)
				out := map[TopicPartition]int64{}
				for _, po := range offsets {
					out[po.TopicPartition] = po.Offset
				}
				done(out)
			})
		})
	}
	ask()
}

// closed waits for the transactions running to end, has every slot's instance run
// its last InitProducerID (an instance still taking its epoch runs it instead), and
// calls done once all succeeded.
func (run *ctpRun) closed(done func()) {
	w := run.w
	if w.failure != nil {
		return
	}
	wait := false
	for _, x := range run.workers {
		switch {
		case x.cur != nil:
			wait = true
		case !x.r.closing:
			x.r.closing = true
			if x.in != nil && x.in == x.r.inst && x.in.alive() {
				x.in.init()
			}
			wait = true
		case !x.r.idle():
			wait = true
		}
	}
	if wait {
		run.drainer.later(dataBackoff, func() { run.closed(done) })
		return
	}
	done()
}

// offsetCommit is the TxnOffsetCommit of t's input offset for instance in of member m.
func (t *ctpTxn) offsetCommit(in *txnInstance, m *member) *kmsg.TxnOffsetCommitRequest {
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = in.r.spec.ID, ctpGroup, in.pid, in.epoch
	req.Generation, req.MemberID, req.InstanceID = t.gen, t.memberID, m.instancePtr()
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = t.src.Topic
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.LeaderEpoch = t.src.Partition, t.end, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// lostData reports whether a partition of the workers' input or output declared a range
// lost.
func (run *ctpRun) lostData() bool {
	c := run.w.checks.data
	if c == nil {
		return false
	}
	for tp, ranges := range c.declared { // order-independent: whether any holds one
		if (tp.Topic == ctpInput || tp.Topic == ctpOutput) && len(ranges) > 0 {
			return true
		}
	}
	return false
}
