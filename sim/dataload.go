package sim

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/seedlog/seedlog/core/group"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// dataWorkload drives the data clients of a run: a setup client creates the data
// topics, producers, readers and group members run during the safety phase, a grower
// adds partitions now and then; in the liveness phase a probe must get a produce and a
// fetch through on every partition, then a final complete read of every partition
// resolves the operations whose outcome was unknown, and consumer groups must catch up.
type dataWorkload struct {
	w         *World
	setup     *Client
	quota     *quotaSetter // nil without a quota
	producers []*producer
	readers   []*reader
	groups    []*groupRun
	grower    *Client
	elector   *Client // nil without one (leaders.go)
	mover     *Client // nil without one (moves.go)
	// movesPending: the liveness phase waits for moves to end (waitMoves).
	movesPending bool
	admin        *offsetAdmin
	probe        *Client
	final        *Client
	// created marks the data topics whose creation is confirmed.
	created map[string]bool
	// finalReads holds the final read of each partition, in offset order, and
	// finalHW the high watermark it read up to.
	finalReads map[TopicPartition][]LogRecord
	finalHW    map[TopicPartition]int64
	// finalStart is where the final read of a partition begins: its log start, above 0
	// only when records were deleted (deletion.go).
	finalStart map[TopicPartition]int64
	// probes counts values made by the liveness probe.
	probes int
	// liveStart is when the liveness phase began.
	liveStart int64
	// drained is set once every group caught up after the final reads.
	drained bool
	// unread marks the partitions the final reads could not reach: every member of
	// their ISR is a broker the liveness phase left down, or a leader took over with
	// fewer live replicas than min.insync.replicas and cannot serve reads.
	unread map[TopicPartition]bool
	// appendTimes holds the LogAppendTime each acknowledged batch of a LogAppendTime
	// topic was answered with, by the batch's first value (timestamps.go).
	appendTimes map[string]int64
	// stamps holds the timestamp the records of each CreateTime batch carry, by value
	// (maxstamps.go).
	stamps map[string]int64
	// txns are the transactional producers (txnproducer.go); txnNum numbers their
	// transactions and txnValues their records, across the run.
	txns      []*txnRun
	txnNum    int
	txnValues int
	// ctp is the consume-transform-produce workers (ctp.go), nil without them;
	// ctpDraining is set while they drain, which has a bound of its own.
	ctp         *ctpRun
	ctpDraining bool
	// txnBegun are the transactions the producers began, in order; txnPrepared the
	// ends coordinators decided (txncoord.go).
	txnBegun    []txnBegin
	txnPrepared []txnPrepare
	// txnIDs follows each transactional id's state through the coordinators' notes;
	// txnExpired are the expiries they told of (txncoord.go).
	txnIDs     map[string]*txnIDState
	txnExpired []txnExpiry
	// finalRC reads every partition once more with read_committed after its final
	// read, in seeds with transactions; finalCommitted holds the data records it saw.
	finalRC        *Client
	finalCommitted map[TopicPartition][]LogRecord
	// finalCommittedFrom is where that read went on after retention deleted what it
	// had not read yet (absent: the final read's start).
	finalCommittedFrom map[TopicPartition]int64
	// finalCommittedFenced holds the offsets that read found declared lost: a leader
	// serves its damaged range as lost while the intact copy the final read saw is out
	// of the ISR, until that copy rejoins and it repairs.
	finalCommittedFenced map[TopicPartition]map[int64]bool
	// finalRCWait is the read_committed fetch the final read last waited at (nil
	// while it makes progress): a wait that outlasts the liveness bound is a hanging
	// transaction holding the last stable offset.
	finalRCWait *Op
}

func (w *World) startData() {
	d := &dataWorkload{w: w, created: map[string]bool{}, finalReads: map[TopicPartition][]LogRecord{}, finalHW: map[TopicPartition]int64{},
		finalStart: map[TopicPartition]int64{}, unread: map[TopicPartition]bool{}, appendTimes: map[string]int64{},
		stamps: map[string]int64{}, finalCommitted: map[TopicPartition][]LogRecord{},
		finalCommittedFrom: map[TopicPartition]int64{}, finalCommittedFenced: map[TopicPartition]map[int64]bool{}}
	w.data = d
	d.setup = w.addClient(roleSetup)
	d.setup.direct = true
	d.setup.desc = "the setup client (it creates the data topics)"
	for _, t := range w.cfg.Data.Topics {
		d.create(t)
		if t.Compact {
			w.cov.Inc("workload:compacted-retention")
		}
	}
	if w.cfg.Data.partitions() >= manyPartitions {
		w.cov.Inc("workload:many-partitions")
	}
	for _, spec := range w.cfg.Data.Producers {
		d.producers = append(d.producers, w.startProducer(spec))
	}
	for i := range w.cfg.Data.Readers {
		r := w.startReader(i < w.cfg.Data.SessionReaders)
		if w.cfg.Data.ReadCommittedReaders&(1<<i) != 0 {
			r.c.isolation = 1
			r.c.desc += " (read_committed)"
		}
		d.readers = append(d.readers, r)
	}
	for _, g := range w.cfg.Data.Groups {
		d.groups = append(d.groups, w.startGroup(g))
	}
	if w.cfg.Data.GrowInterval > 0 {
		d.grower = w.addClient(roleGrower)
		d.grower.interval = w.cfg.Data.GrowInterval
		d.grower.desc = "the grower (it adds partitions to the data topics)"
		d.grower.act = d.grow
		d.grower.onStep = d.growStep
		d.grower.scheduleNext()
	}
	if w.cfg.Data.OffsetAdminInterval > 0 {
		d.admin = w.startOffsetAdmin()
	}
	if w.cfg.Data.CredentialInterval > 0 {
		w.startCredentials()
	}
	if w.cfg.Data.QuotaRate > 0 {
		d.quota = w.startQuotas(d.producers)
	}
	if w.cfg.Data.ElectInterval > 0 {
		d.startElector()
	}
	if w.cfg.Data.MoveInterval > 0 {
		d.startMover()
	}
	if w.cfg.Data.FlushAsync || w.leavesDown() {
		// A marker lost to a power loss, or a coordinator or partition left down for
		// good, leaves a transaction open for ever: read_committed readers stall at it,
		// which those modes allow and the checkers do not model.
		return
	}
	for _, spec := range w.cfg.Data.TxnProducers {
		d.txns = append(d.txns, w.startTxnProducer(spec))
	}
	if w.cfg.Data.CTP.Workers > 0 {
		d.ctp = w.startCTP(w.cfg.Data.CTP)
	}
}

// transactional reports whether the run has transactions: the final reads then read
// every partition with read_committed too, and the transactions checker runs.
func (d *dataWorkload) transactional() bool { return len(d.txns) > 0 || d.ctp != nil }

// txnHome reports whether c is the first instance's client of a transactional id,
// which takes its StepTxnStart.
func (d *dataWorkload) txnHome(c *Client) bool {
	if slices.ContainsFunc(d.txns, func(r *txnRun) bool { return r.home == c }) {
		return true
	}
	return d.ctp != nil && slices.ContainsFunc(d.ctp.workers, func(x *ctpWorker) bool { return x.r.home == c })
}

// drainCTP lets the consume-transform-produce workers drain (ctp.go), then calls done.
func (d *dataWorkload) drainCTP(done func()) {
	if d.ctp == nil {
		done()
		return
	}
	d.ctpDraining = true
	d.ctp.drain(func() {
		d.ctpDraining = false
		done()
	})
}

// create creates a data topic, retrying until it exists.
func (d *dataWorkload) create(t DataTopic) {
	w := d.w
	if w.failure != nil {
		return
	}
	op := &Op{Kind: OpCreate, Topic: t.Name, Count: t.Partitions, RF: t.RF}
	req := createTopicsRequest(op, w.requestTimeout()).(*kmsg.CreateTopicsRequest)
	minISR := strconv.Itoa(int(t.MinISR))
	req.Topics[0].Configs = append(req.Topics[0].Configs, kmsg.CreateTopicsRequestTopicConfig{Name: "min.insync.replicas", Value: &minISR})
	req.Topics[0].Configs = append(req.Topics[0].Configs, topicConfigs(t)...)
	c := d.setup
	w.invoke(c, op)
	c.mutate(op, req, createTopicsCode, func(outcome Outcome) {
		w.complete(op, outcome)
		if outcome == OK || (outcome == Failed && op.Code == errTopicAlreadyExists) {
			d.created[t.Name] = true
			w.cov.Inc("data:topic-created")
			return
		}
		c.later(4*dataBackoff, func() { d.create(t) })
	})
}

// grow adds a partition to a data topic now and then (consumer groups must notice).
func (d *dataWorkload) grow() {
	c := d.grower
	w := d.w
	if w.phase != phaseSafety || w.failure != nil {
		return
	}
	defer c.scheduleNext()
	topics := w.dataTopicNames()
	topic := topics[c.rng.IntN(len(topics))]
	if !d.created[topic] || c.busy {
		return
	}
	if s := w.script; s != nil {
		st := s.turn(c, StepAddPartition)
		if st == nil {
			return
		}
		if topic = st.Topic; !d.created[topic] {
			s.skipTurn(c, "the topic is not created yet")
			return
		}
	}
	d.addPartition(topic)
}

// addPartition refreshes what the grower knows of topic and adds a partition to it
// unless it has PartitionsMax.
func (d *dataWorkload) addPartition(topic string) {
	c := d.grower
	w := d.w
	w.recordStep(Step{Kind: StepAddPartition, Client: c.id, Topic: topic})
	free := c.occupy()
	c.refreshTopics(func() {
		n := c.partitions(topic)
		if n == 0 || n >= w.cfg.Data.PartitionsMax {
			free()
			return
		}
		op := &Op{Kind: OpCreatePartitions, Topic: topic, Count: n + 1}
		c.run(op, func() {
			if op.Outcome == OK {
				w.cov.Inc("data:partitions-grown")
			}
			free()
		})
	})
}

// growStep starts a scheduled round of the grower.
func (d *dataWorkload) growStep(st *Step) string {
	if _, ok := d.w.cfg.Data.topic(st.Topic); !ok {
		return fmt.Sprintf("no data topic %s", st.Topic)
	}
	if !d.created[st.Topic] {
		return "the topic is not created yet"
	}
	if d.grower.busy {
		return stepBusy
	}
	d.addPartition(st.Topic)
	return ""
}

// livenessStarted stops the safety-phase clients: producers only finish the batches
// they hold.
func (d *dataWorkload) livenessStarted() {
	d.liveStart = d.w.now
	for _, r := range d.readers {
		r.c.stopped = true
	}
	if d.quota != nil {
		d.quota.livenessStarted()
	}
}

// producersIdle reports whether every producer resolved every batch.
func (d *dataWorkload) producersIdle() bool {
	for _, p := range d.producers {
		if !p.idle() {
			return false
		}
	}
	for _, r := range d.txns {
		if !r.idle() {
			return false
		}
	}
	return true
}

// converge runs the data side of the liveness phase, then done: every data partition
// must take a produce and serve a fetch of it within the bound, producers must resolve
// what they hold, then every partition is read completely and every group catches up.
func (d *dataWorkload) converge(done func()) {
	w := d.w
	d.probe = w.addClient(roleDataProbe)
	d.probe.later(w.cfg.LivenessBound-time.Duration(w.now-d.liveStart), func() {
		if w.phase == phaseLiveness && w.failure == nil && !d.ctpDraining {
			if d.movesPending {
				w.fail("liveness", -1, "reassignments neither finished nor were cancelled within %v after faults stopped", w.cfg.LivenessBound)
				return
			}
			w.fail("liveness", -1, "data partitions did not all take a produce and serve a fetch within %v after faults stopped", w.cfg.LivenessBound)
		}
	})
	d.probeTopics(func() {
		w.cov.Inc("liveness:data-converged")
		d.waitProducers(func() {
			d.drainCTP(func() {
				d.waitMoves(func() {
					// A request a producer gave up on may still reach its leader and be appended:
					// wait until every such request timed out there too, so that nothing commits
					// after the final reads.
					d.probe.later(w.requestTimeout()+w.cfg.Timing.ReplicaFetchMaxWait, func() {
						d.finalReadAll(func() { d.drainGroups(done) })
					})
				})
			})
		})
	})
}

// probeTopics waits for every data topic to exist, then probes its partitions.
func (d *dataWorkload) probeTopics(done func()) {
	w := d.w
	c := d.probe
	if w.failure != nil {
		return
	}
	for _, t := range w.cfg.Data.Topics {
		if !d.created[t.Name] {
			c.later(4*dataBackoff, func() { d.probeTopics(done) })
			return
		}
	}
	c.refreshTopics(func() {
		for _, t := range w.cfg.Data.Topics {
			if c.partitions(t.Name) == 0 {
				c.later(dataBackoff, func() { d.probeTopics(done) })
				return
			}
		}
		d.probeEach(c.knownPartitions(w.dataTopicNames()), 0, done)
	})
}

// probeEach produces one record to tps[i] with acks=all and reads it back, then moves
// on to the next partition. A partition whose every ISR member was left down may stay
// offline (unclean election is off), and is skipped.
func (d *dataWorkload) probeEach(tps []TopicPartition, i int, done func()) {
	w := d.w
	c := d.probe
	if w.failure != nil || w.phase != phaseLiveness {
		return
	}
	for i < len(tps) && d.offline(tps[i]) {
		w.cov.Inc("liveness:partition-offline")
		i++
	}
	if i == len(tps) {
		done()
		return
	}
	retry := func() { c.later(dataBackoff, func() { c.refreshTopics(func() { d.probeEach(tps, i, done) }) }) }
	tp := tps[i]
	d.probes++
	below := d.belowMinISR(tp)
	c.produceOnce(tp, fmt.Sprintf("probe-%d", d.probes), -1, func(op *Op) {
		switch {
		case op.Outcome == OK:
			d.probeRead(tp, op.Offset, func() { d.probeEach(tps, i+1, done) })
		case below && op.Outcome == Failed && op.Code == errNotEnoughReplicas:
			// Fewer replicas than min.insync.replicas are left: the leader must refuse
			// acks=all, and its high watermark cannot move (records commit only on
			// min.insync.replicas replicas). It can still answer reads, with records
			// below its high watermark or, if it took over and its high watermark does
			// not cover its log, with OFFSET_NOT_AVAILABLE.
			w.cov.Inc("liveness:probe-below-min-isr")
			d.probeRead(tp, -1, func() { d.probeEach(tps, i+1, done) })
		default:
			retry()
		}
	})
}

// probeRead fetches tp through its leader until a read succeeds: one that returns the
// record at offset, or, when offset is -1, a read from the log start that a leader
// answered (records, or OFFSET_NOT_AVAILABLE from a leader not ready to serve). Then it
// calls next.
func (d *dataWorkload) probeRead(tp TopicPartition, offset int64, next func()) {
	w := d.w
	c := d.probe
	c.fetchOnce(tp, max(offset, 0), 1, func(f *Op) {
		if w.failure != nil || w.phase != phaseLiveness {
			return
		}
		served := f.Outcome == OK && (offset < 0 || len(f.Records) > 0 && f.Records[0].Offset == offset)
		if offset < 0 && f.Outcome == Failed && f.Code == errOffsetNotAvailable {
			w.cov.Inc("liveness:probe-leader-not-read-ready")
			served = true
		}
		if f.Outcome == Failed && f.Code == errOffsetOutOfRange && w.cfg.Data.mayDelete(tp.Topic) {
			// A leader answered: records below its log start are deleted, the probe's
			// own too when retention took it as soon as it was written. The log checker
			// still holds the record to its final read (below its start, or in it).
			served = true
		}
		if offset < 0 && f.Outcome == Failed && f.Code == errCorruptMessage && d.declaredLost(tp, 0) {
			// The log start lies in a range the partition declared lost: reads of it
			// fail there, and only there, by design; the leader answered.
			w.cov.Inc("liveness:probe-read-declared-lost")
			served = true
		}
		if served {
			next()
			return
		}
		c.later(dataBackoff, func() { c.refreshTopics(func() { d.probeRead(tp, offset, next) }) })
	})
}

// declaredLost reports whether offset lies in a range tp declared lost.
func (d *dataWorkload) declaredLost(tp TopicPartition, offset int64) bool {
	c := d.w.checks.data
	return c != nil && slices.ContainsFunc(c.declared[tp], func(r offRange) bool { return r.contains(offset) })
}

// produceOnce sends one record with acks as a plain producer would, and calls done with
// the finished operation.
func (c *Client) produceOnce(tp TopicPartition, value string, acks int16, done func(*Op)) {
	w := c.w
	p := &producer{c: c, spec: ProducerSpec{Acks: acks, InFlightMax: 1, RecordsMax: 1}, pid: -1, epoch: -1, parts: map[TopicPartition]*prodPart{}}
	pp := p.part(tp)
	op := &Op{Kind: OpProduce, Topic: tp.Topic, Partition: tp.Partition, Values: []string{value}, Acks: acks,
		Producer: -1, Epoch: -1, Sequence: -1, Offset: -1, LeaderEpoch: -1}
	w.invoke(c, op)
	pp.pending = append(pp.pending, &prodBatch{op: op, deadline: w.now + int64(w.requestTimeout())})
	var wait func()
	wait = func() {
		if len(pp.pending) == 0 {
			done(op)
			return
		}
		if w.failure == nil {
			c.later(dataBackoff, wait)
		}
	}
	p.pump(pp)
	wait()
}

// waitProducers calls done once no producer holds a batch.
func (d *dataWorkload) waitProducers(done func()) {
	w := d.w
	if w.failure != nil {
		return
	}
	if d.producersIdle() {
		done()
		return
	}
	d.probe.later(dataBackoff, func() { d.waitProducers(done) })
}

// finalReadAll reads every data partition from offset 0 to the high watermark its
// first read answered.
func (d *dataWorkload) finalReadAll(done func()) {
	w := d.w
	w.phase = phaseFinalReads
	w.recordPhase(phaseFinalReads, "final reads: every data partition is read completely, then every topic is described")
	d.final = w.addClient(roleReader)
	d.final.later(w.cfg.LivenessBound, func() {
		if !d.drained && w.failure == nil {
			checker := "liveness"
			if d.groupGap() {
				checker = "groups"
			}
			if op := d.finalRCWait; op != nil {
				w.fail("transactions", -1, "hanging transaction: past the liveness bound (%v) the final read_committed read of %s/%d still waits at offset %d: last stable offset %d, high watermark %d",
					w.cfg.LivenessBound, op.Topic, op.Partition, op.Offset, op.LSO, op.HW)
				return
			}
			w.fail(checker, -1, "final reads of the data partitions and consumer groups did not complete within %v\n%s", w.cfg.LivenessBound, d.groupCoverage())
		}
	})
	d.finalPartitionsKnown(func() {
		tps := d.final.knownPartitions(w.dataTopicNames())
		d.finalReadEach(tps, 0, done)
	})
}

// finalPartitionsKnown refreshes the final reader's metadata until it knows at least
// the partitions the liveness probe went through, then calls done. A refresh can fail
// (a broker left down, a connection broken) and say nothing.
func (d *dataWorkload) finalPartitionsKnown(done func()) {
	c := d.final
	c.refreshTopics(func() {
		if d.w.failure != nil {
			return
		}
		for _, t := range d.w.dataTopicNames() {
			if n := c.partitions(t); n == 0 || n < d.probe.partitions(t) {
				c.later(dataBackoff, func() { d.finalPartitionsKnown(done) })
				return
			}
		}
		done()
	})
}

func (d *dataWorkload) finalReadEach(tps []TopicPartition, i int, done func()) {
	for i < len(tps) && d.offline(tps[i]) {
		d.leaveUnread(tps[i])
		i++
	}
	if i == len(tps) {
		done()
		return
	}
	tp := tps[i]
	d.finalRead(tp, 0, -1, func() {
		if !d.transactional() || d.unread[tp] {
			d.finalReadEach(tps, i+1, done)
			return
		}
		d.finalReadCommitted(tp, d.finalStart[tp], func() { d.finalReadEach(tps, i+1, done) })
	})
}

// finalReadCommitted reads tp again with read_committed, from pos to the final read's
// high watermark, keeping what such a consumer sees (finalCommitted): every
// transaction ended by now (each transactional id's last InitProducerID succeeded), so
// the last stable offset must reach the high watermark, and the transactions checker
// holds what shows to each transaction's outcome in the logs.
func (d *dataWorkload) finalReadCommitted(tp TopicPartition, pos int64, done func()) {
	w := d.w
	if w.failure != nil {
		return
	}
	if d.finalRC == nil {
		d.finalRC = w.addClient(roleReader)
		d.finalRC.isolation = 1
		d.finalRC.desc = "the final read_committed reader"
	}
	c := d.finalRC
	target := d.finalHW[tp]
	if pos >= target {
		w.cov.Inc("final-read:read-committed")
		done()
		return
	}
	c.fetchOnce(tp, pos, 1, func(op *Op) {
		if w.failure != nil {
			return
		}
		switch {
		case op.Outcome == OK:
		case op.Code == errCorruptMessage:
			w.cov.Inc("final-read:read-committed-fenced-offset")
			if d.finalCommittedFenced[tp] == nil {
				d.finalCommittedFenced[tp] = map[int64]bool{}
			}
			d.finalCommittedFenced[tp][pos] = true
			d.finalReadCommitted(tp, pos+1, done)
			return
		case op.Code == errOffsetOutOfRange && w.cfg.Data.mayDelete(tp.Topic):
			// Retention moved the log start meanwhile: what was below is gone. Read on
			// from the new start; the checker looks at what was read from there.
			c.listOnce(tp, -2, func(l *Op) {
				next := pos
				if l.Outcome == OK && l.Offset > pos {
					next = l.Offset
					d.finalCommittedFrom[tp] = next
				}
				c.later(dataBackoff, func() { d.finalReadCommitted(tp, next, done) })
			})
			return
		default:
			c.later(dataBackoff, func() { c.refreshTopics(func() { d.finalReadCommitted(tp, pos, done) }) })
			return
		}
		op.Final = true
		hidden := map[int64]bool{}
		for _, o := range op.Hidden {
			hidden[o] = true
		}
		next := pos
		for _, r := range op.Records {
			if r.Offset >= target {
				break
			}
			if !r.Control && !hidden[r.Offset] {
				d.finalCommitted[tp] = append(d.finalCommitted[tp], r)
			}
			next = r.Offset + 1
		}
		if op.Next > next {
			next = min(op.Next, target)
		}
		d.finalRCWait = nil
		if next == pos && d.lostBetween(tp, 0, target) {
			// The partition declared offsets lost (no intact copy was left): the marker of
			// the transaction holding the last stable offset may be among them, above its
			// first offset (which may lie below the log start, the last stable offset
			// then being the log start), and nothing will ever end it. The partition is
			// not judged.
			w.cov.Inc("final-read:read-committed-lost-marker")
			d.leaveUnread(tp)
			done()
			return
		}
		if next == pos {
			// Nothing below the last stable offset yet: an open transaction holds it.
			w.cov.Inc("final-read:read-committed-waits")
			d.finalRCWait = op
			c.later(dataBackoff, func() { d.finalReadCommitted(tp, pos, done) })
			return
		}
		d.finalReadCommitted(tp, next, done)
	})
}

// lostBetween reports whether tp declared a range lost that overlaps [from, to).
func (d *dataWorkload) lostBetween(tp TopicPartition, from, to int64) bool {
	c := d.w.checks.data
	return c != nil && slices.ContainsFunc(c.declared[tp], func(r offRange) bool { return r.from < to && from < r.to })
}

// leaveUnread gives up the final read of a partition that cannot be read to its end.
func (d *dataWorkload) leaveUnread(tp TopicPartition) {
	d.w.cov.Inc("liveness:partition-unread")
	d.unread[tp] = true
	delete(d.finalReads, tp)
	delete(d.finalHW, tp)
	delete(d.finalStart, tp)
}

// belowMinISR reports whether the replicas of a data partition that were not left down
// are fewer than its min.insync.replicas: no acks=all produce can succeed there.
func (d *dataWorkload) belowMinISR(tp TopicPartition) bool {
	t, ok := d.w.cfg.Data.topic(tp.Topic)
	if !ok || !d.w.leavesDown() {
		return false
	}
	_, replicas, ok := d.imagePartition(tp)
	if !ok {
		return false
	}
	live := 0
	for _, id := range replicas {
		if n := d.w.node(id); n != nil && !n.leftDown {
			live++
		}
	}
	return int32(live) < t.MinISR
}

// imagePartition returns a partition's ISR and replicas in the quorum leader's image.
func (d *dataWorkload) imagePartition(tp TopicPartition) (isr, replicas []int32, ok bool) {
	v := View{w: d.w}
	seer, ok := v.QuorumLeader()
	if !ok {
		return nil, nil, false
	}
	md, ok := v.Metadata(seer)
	if !ok {
		return nil, nil, false
	}
	for _, t := range md.Topics {
		if t.Name == tp.Topic && int(tp.Partition) < len(t.ISRs) && int(tp.Partition) < len(t.Replicas) {
			return t.ISRs[tp.Partition], t.Replicas[tp.Partition], true
		}
	}
	return nil, nil, false
}

// offline reports whether a partition can have no leader for the rest of the run:
// every member of its ISR, in the quorum leader's image, is a broker the liveness
// phase left down. False whenever that is not known.
func (d *dataWorkload) offline(tp TopicPartition) bool {
	w := d.w
	if !w.leavesDown() || w.phase == phaseSafety {
		return false
	}
	isr, _, ok := d.imagePartition(tp)
	if !ok || len(isr) == 0 {
		return false
	}
	for _, id := range isr {
		if n := w.node(id); n == nil || !n.leftDown {
			return false
		}
	}
	return true
}

// finalRead reads tp from pos until target (the first answer's high watermark), then
// reads once more at the target: if the high watermark moved meanwhile, it reads on to
// the new one.
func (d *dataWorkload) finalRead(tp TopicPartition, pos, target int64, done func()) {
	w := d.w
	c := d.final
	if w.failure != nil {
		return
	}
	c.fetchOnce(tp, pos, 1, func(op *Op) {
		if w.failure != nil {
			return
		}
		if op.Outcome != OK && op.Code == errOffsetOutOfRange && w.cfg.Data.mayDelete(tp.Topic) {
			d.finalToStart(tp, pos, target, done)
			return
		}
		if op.Outcome != OK && op.Code == errCorruptMessage {
			// The partition fenced this offset (damaged data with no in-sync copy left):
			// note it and read on after it, as an application that skips it would.
			w.cov.Inc("final-read:fenced-offset")
			d.finalReads[tp] = append(d.finalReads[tp], LogRecord{Offset: pos, Fenced: true})
			d.finalRead(tp, pos+1, target, done)
			return
		}
		if op.Outcome != OK {
			// A partition that lost its ISR, or a leader that took over with fewer
			// replicas than min.insync.replicas (its high watermark can never cover
			// its log), cannot be read to the end.
			if d.offline(tp) || op.Code == errOffsetNotAvailable && d.belowMinISR(tp) {
				d.leaveUnread(tp)
				done()
				return
			}
			c.later(dataBackoff, func() { c.refreshTopics(func() { d.finalRead(tp, pos, target, done) }) })
			return
		}
		op.Final = true
		if pos >= target && op.HW <= pos {
			d.finalHW[tp] = pos
			done()
			return
		}
		target = max(target, op.HW)
		next := pos
		for _, r := range op.Records {
			if r.Offset >= target {
				break
			}
			d.finalReads[tp] = append(d.finalReads[tp], r)
			next = r.Offset + 1
		}
		if op.Next > next {
			// Batches that compaction emptied end the read: read on after them.
			next = min(op.Next, target)
		}
		if next == pos && pos < target {
			// Nothing came back below the target: let the fetch wait and try again.
			c.later(dataBackoff, func() { d.finalRead(tp, pos, target, done) })
			return
		}
		d.finalRead(tp, next, target, done)
	})
}

// drainGroups waits until every consumer group has processed every partition of its
// topics up to the final read, then calls done.
func (d *dataWorkload) drainGroups(done func()) {
	w := d.w
	if w.failure != nil {
		return
	}
	for _, g := range d.groups {
		if g.started() && !g.caughtUp() && !d.coordinatorOffline(g) {
			d.final.later(dataBackoff, func() { d.drainGroups(done) })
			return
		}
	}
	d.drained = true
	done()
}

// leavesDown reports whether the liveness phase may leave brokers down.
func (w *World) leavesDown() bool {
	if w.script != nil {
		return w.script.leavesDown()
	}
	return w.cfg.Faults.LivenessDown > 0
}

// coordinatorOffline reports whether a group's offsets partition is offline: its
// coordinator cannot come back, and neither can the group.
func (d *dataWorkload) coordinatorOffline(g *groupRun) bool {
	parts := d.w.cfg.Data.OffsetsPartitions
	if parts <= 0 {
		parts = offsetsPartitionsDefault
	}
	if !d.offline(TopicPartition{coreOffsetsTopic, group.PartitionFor(g.spec.Name, parts)}) && !d.offsetsUncreatable() {
		return false
	}
	d.w.cov.Inc("liveness:group-coordinator-offline")
	return true
}

// offsetsUncreatable reports whether the offsets topic, which the quorum leader's image
// does not hold, never can be created: offsets.topic.replication.factor asks for more
// live brokers than the liveness phase left up.
func (d *dataWorkload) offsetsUncreatable() bool {
	w := d.w
	rf := int(w.cfg.Data.OffsetsRF)
	if rf == 0 || !w.leavesDown() || w.phase == phaseSafety {
		return false
	}
	v := View{w: w}
	seer, ok := v.QuorumLeader()
	if !ok {
		return false
	}
	md, ok := v.Metadata(seer)
	if !ok || slices.ContainsFunc(md.Topics, func(t TopicView) bool { return t.Name == coreOffsetsTopic }) {
		return false
	}
	up := 0
	for _, id := range w.cfg.Brokers() {
		if !w.node(id).leftDown {
			up++
		}
	}
	return up < rf
}

// offsetsPartitionsDefault is the node's offsets.topic.num.partitions when the run
// does not set one.
const offsetsPartitionsDefault = 50

// groupGap reports whether a group processed records of a partition beyond a hole it
// never processed: a commit ran ahead of processing, or a member skipped records.
func (d *dataWorkload) groupGap() bool {
	for _, g := range d.groups {
		for _, spans := range g.processed {
			if len(spans) > 1 || (len(spans) == 1 && spans[0].from > 0) {
				return true
			}
		}
	}
	return false
}

// finalPartitions lists the partitions finally read, sorted.
func (d *dataWorkload) finalPartitions() []TopicPartition {
	tps := make([]TopicPartition, 0, len(d.finalHW))
	for tp := range d.finalHW {
		tps = append(tps, tp)
	}
	slices.SortFunc(tps, compareTP)
	return tps
}
