package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/seedlog/seedlog/core/group"
	"github.com/seedlog/seedlog/core/record"
	"github.com/seedlog/seedlog/netsim"
	"github.com/seedlog/seedlog/traces"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Transactional producers (KIP-98), as franz-go runs them. Each has a transactional id
// and drives it through instances of a client, one after the other:
//
//   - an instance finds the id's coordinator (FindCoordinator, key type 1) and takes a
//     producer id and epoch (InitProducerID with the id and its transaction timeout);
//   - each transaction adds 1 to 4 partitions of the data topics that are not compacted
//     (AddPartitionsToTxn v3, one request), sends one to three transactional batches to
//     each (the transactional bit, the producer id and epoch, sequences numbered per
//     partition across transactions, acks=all), sometimes commits offsets of its own
//     group within the transaction (AddOffsetsToTxn, then TxnOffsetCommit to the group
//     coordinator) and reads them back before ending, then ends it with EndTxn, commit or
//     abort as the client's random source says;
//   - now and then an instance crashes mid-transaction: it abandons the transaction and
//     a new instance (a new client) with the same transactional id takes over, whose
//     InitProducerID must fence the old epoch and abort what it left open. Half of the
//     instances that crash before sending EndTxn stay around as zombies: once the new
//     instance has its epoch, the zombie sends one more batch with the old epoch to a
//     partition of its transaction, which the fencing markers reached: the partition
//     must refuse it;
//   - now and then, with a short transaction timeout, an instance idles past it before
//     ending: the coordinator aborts the transaction and bumps the epoch, and the late
//     EndTxn is refused as fenced;
//   - now and then (SloppyPPM) an instance aborts a transaction without waiting for its
//     first batch, still in flight on a link held for a while, and keeps its epoch: the
//     batch reaches its partition after the abort marker, where it would open a
//     transaction nobody ends (KIP-890's hanging transaction) unless the leader asks the
//     coordinator first and refuses it. As the protocol before KIP-890 part 2 bumps no
//     epoch per transaction, the instance then never writes again to the partitions
//     that had a batch in flight (until it takes a new epoch), or a late batch could
//     join a later transaction of its own; at transaction version 2 the abort bumped the
//     epoch, which fences the late batch, and the instance goes on writing anywhere.
//
// What befalls a transaction (a crash and where, a zombie, an idle, a sloppy abort) is
// its fate (txnFate), decided as it begins: in a seed's run drawn from the id's own
// stream, not the instance's, and recorded as schedule steps (txn-crash, txn-idle,
// txn-sloppy, naming the id's first client); in a scripted run taken from those steps
// alone, so that a shrink keeps or drops each by itself. The consume-transform-produce
// workers' crashes are fates too (ctp.go).
//
// A seed draws the transaction version (DataConfig.TxnVersion, the brokers'
// transaction.version). At version 2 (KIP-890 part 2, as franz-go speaks it when the
// cluster advertises the feature) an instance sends no AddPartitionsToTxn nor
// AddOffsetsToTxn: Produce v12 and TxnOffsetCommit v5 have the leaders add the
// partitions; EndTxn v5 answers the producer id and epoch the instance goes on with
// (the epoch bumped at every end), whose sequences start again at 0.
//
// Retries follow franz-go: CONCURRENT_TRANSACTIONS and COORDINATOR_LOAD_IN_PROGRESS are
// retried after a pause, NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE and requests that
// got no answer make the instance look for the coordinator again; a batch is retried
// with its sequence until its delivery timeout; PRODUCER_FENCED, INVALID_PRODUCER_EPOCH,
// INVALID_PRODUCER_ID_MAPPING and INVALID_TXN_STATE are fatal and end the instance (the
// next one starts over with a new InitProducerID). A batch that fails otherwise, or whose
// outcome stays unknown, makes the transaction abort.
//
// Every batch is an OpProduce of the history (with TxnID and Txn, the transaction's
// number in the run), every InitProducerID an OpInitProducerID and every EndTxn an
// OpEndTxn, so that each record read back names its transaction. Once faults stop, each
// transactional id runs one last InitProducerID that must succeed: it returns only once
// every transaction of the id ended with its markers written, so that the final reads
// hold every transaction's outcome. The transactions checker (txncheck.go) judges the
// history against them.

// TxnProducerSpec is one transactional id's producer.
type TxnProducerSpec struct {
	ID string
	// Timeout is the transaction timeout it asks for (transaction.timeout.ms).
	Timeout time.Duration
	// CommitPPM is the share of transactions it commits (the rest it aborts); CrashPPM
	// the chance a transaction's instance crashes mid-way; IdlePPM the chance it idles
	// past Timeout before ending (only with a short Timeout); OffsetsPPM the chance a
	// transaction commits offsets of the producer's group.
	CommitPPM, CrashPPM, IdlePPM, OffsetsPPM int64
	// SloppyPPM is the chance a transaction is aborted sloppily (see above).
	SloppyPPM int64
	// PartitionsMax bounds the partitions of a transaction (at most 4), BatchesMax the
	// batches it sends to each, RecordsMax the records of a batch.
	PartitionsMax, BatchesMax, RecordsMax int
	Codec                                 record.Codec
	// Version1 keeps the first transaction protocol whatever the seed's transaction
	// version (the consume-transform-produce workers, which add their partitions and
	// end with EndTxn v4 themselves).
	Version1 bool
}

// txnGroup is the group whose offsets the transactions of id commit.
func txnGroup(id string) string { return "txg-" + id }

// txnStatePartitionsDefault is the node's default transaction.state.log.num.partitions.
const txnStatePartitionsDefault = 50

// coreTxnTopic is the transaction coordinators' internal topic.
const coreTxnTopic = "__transaction_state"

// txnRun drives one transactional id across its instances.
type txnRun struct {
	w    *World
	spec TxnProducerSpec
	inst *txnInstance
	// instances counts the instances started; closing is set once faults stopped and
	// the last InitProducerID is due, closed once it succeeded.
	instances int
	closing   bool
	closed    bool
	// zombies wait for the next instance's epoch to send their last batch.
	zombies []*txnInstance
	// home is the first instance's client, which schedules name (StepTxnStart and
	// the transactions' fates); started is set once that instance started.
	home    *Client
	started bool
	// fates draws what befalls each transaction (txnFate) in a seed's run.
	fates *rand.Rand
	// onEpoch is what an instance does once it has its epoch (nil: the transactions
	// TxnProducerSpec draws; ctp.go sets it).
	onEpoch func(in *txnInstance)
}

// txnInstance is one producer instance (one client) of a transactional id.
type txnInstance struct {
	r    *txnRun
	c    *Client
	dead bool
	// coord is the transaction coordinator it knows (-1: none).
	coord int32
	pid   int64
	epoch int16
	// v2: the instance speaks transaction version 2 (see above).
	v2   bool
	seqs map[TopicPartition]int32
	// tainted are the partitions a sloppy abort left a batch in flight to: the instance
	// writes to them no more until its next InitProducerID.
	tainted map[TopicPartition]bool
	cur     *txnState
	// last is the transaction it was in when it crashed (zombies).
	last *txnState
}

// txnState is one transaction of an instance.
type txnState struct {
	num   int
	parts []TopicPartition
	// added: AddPartitionsToTxn succeeded.
	added bool
	// left counts, per partition, the batches still to send.
	left    map[TopicPartition]int
	batches []*txnBatch
	// flying counts the partitions with a batch in flight; failed says a batch failed or
	// was given up (the transaction must abort).
	flying int
	failed bool
	// crashAfter is the number of batches sent after which the instance crashes (-1:
	// never; total+1: once its EndTxn is sent); sent counts them, of total.
	crashAfter, sent, total int
	idle                    bool
	sloppy                  bool
	// zombie: a crash leaves the instance to write once more; hold is how long a
	// sloppy abort's first batch is held on its way.
	zombie  bool
	hold    time.Duration
	offsets bool
	commit  bool
	ending  bool
}

// txnBatch is one transactional batch and its operation.
type txnBatch struct {
	op       *Op
	tp       TopicPartition
	deadline int64
	bytes    []byte
	// maybe: an attempt may have been appended; inflight: an attempt is unanswered.
	maybe    bool
	inflight bool
	done     bool
}

// startTxnProducer starts a transactional id's first instance.
func (w *World) startTxnProducer(spec TxnProducerSpec) *txnRun {
	r := &txnRun{w: w, spec: spec}
	r.newInstance()
	r.home = r.inst.c
	r.home.onStep = r.step
	r.fates = Stream(w.cfg.Seed, streamTxnFates, int64(r.home.id))
	return r
}

// txnFate is what befalls one transaction of an id: its instance crashes at point
// after (see StepTxnCrash), lingering as a zombie or not; it idles past its timeout
// before ending; it aborts sloppily with its first batch held for hold.
type txnFate struct {
	crash, zombie, idle, sloppy bool
	after                       int
	hold                        time.Duration
}

// fate decides what befalls the id's transaction beginning now. A seed's run draws it
// from the id's own stream, not the instance's, with crashPPM and the spec's rates
// (crashAt draws the crash's point), and records each part as a step; a scripted run
// takes it from the steps alone, so that a shrink can drop each crash, idle or sloppy
// abort by itself. Nothing befalls a transaction once faults stopped.
func (r *txnRun) fate(crashPPM int64, crashAt func(*rand.Rand) int) txnFate {
	w := r.w
	var f txnFate
	if w.phase != phaseSafety {
		return f
	}
	if s := w.script; s != nil {
		if st := s.txnTurn(r.home, StepTxnCrash); st != nil {
			f.crash, f.after, f.zombie = true, st.After, st.Zombie
		}
		f.idle = s.txnTurn(r.home, StepTxnIdle) != nil
		if st := s.txnTurn(r.home, StepTxnSloppy); st != nil {
			f.sloppy, f.hold = true, st.For
		}
	} else {
		rng := r.fates
		if rng.Int64N(1_000_000) < crashPPM {
			f.crash, f.after, f.zombie = true, crashAt(rng), rng.IntN(2) == 0
		}
		f.idle = rng.Int64N(1_000_000) < r.spec.IdlePPM
		if rng.Int64N(1_000_000) < r.spec.SloppyPPM {
			f.sloppy, f.hold = true, time.Duration(200+rng.IntN(800))*time.Millisecond
		}
	}
	if f.crash {
		w.recordStep(Step{Kind: StepTxnCrash, Client: r.home.id, After: f.after, Zombie: f.zombie})
	}
	if f.idle {
		w.recordStep(Step{Kind: StepTxnIdle, Client: r.home.id})
	}
	if f.sloppy {
		w.recordStep(Step{Kind: StepTxnSloppy, Client: r.home.id, For: f.hold})
	}
	return f
}

// turn is the first instance's drawn start, which a schedule may take or leave; an id
// a schedule never starts counts as closed.
func (r *txnRun) turn(in *txnInstance) {
	if s := r.w.script; s != nil && s.turn(in.c, StepTxnStart) == nil {
		r.closed = !r.started
		return
	}
	r.start(in)
}

// step starts a scheduled transactional producer.
func (r *txnRun) step(st *Step) string {
	if r.started {
		return "the transactional producer started already"
	}
	r.start(r.inst)
	return ""
}

func (r *txnRun) start(in *txnInstance) {
	r.started, r.closed = true, false
	r.w.recordStep(Step{Kind: StepTxnStart, Client: in.c.id})
	in.init()
}

// newInstance starts a fresh instance of the id, with a client of its own.
func (r *txnRun) newInstance() {
	w := r.w
	r.instances++
	c := w.addClient(roleProducer)
	c.desc = fmt.Sprintf("transactional producer %s (instance %d)", r.spec.ID, r.instances)
	in := &txnInstance{r: r, c: c, coord: -1, pid: -1, epoch: -1, seqs: map[TopicPartition]int32{}, tainted: map[TopicPartition]bool{},
		v2: w.cfg.Data.TxnVersion >= 2 && !r.spec.Version1}
	r.inst = in
	if r.instances == 1 {
		c.later(0, func() { r.turn(in) })
		return
	}
	c.later(0, func() { in.init() })
}

// idle reports whether the id is done: its last InitProducerID succeeded once faults
// stopped.
func (r *txnRun) idle() bool { return r.closed }

// alive reports whether the instance may act.
func (in *txnInstance) alive() bool {
	return !in.dead && in.r.inst == in && in.c.w.failure == nil
}

// backoff runs fn after a pause, while the instance lives.
func (in *txnInstance) backoff(fn func()) {
	in.c.later(dataBackoff, func() {
		if in.alive() {
			fn()
		}
	})
}

// find locates the coordinator of key (type 0: a group, 1: a transactional id), then
// calls then with it.
func (in *txnInstance) find(key string, typ int8, then func(node int32)) {
	c := in.c
	w := c.w
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKey = key
	req.CoordinatorType = typ
	req.CoordinatorKeys = []string{key}
	c.sendLimited(c.randomBroker(), req, 1, 32767, w.requestTimeout(), func(resp kmsg.Response, err error) {
		if !in.alive() {
			return
		}
		code, node := int16(-1), int32(-1)
		if err == nil {
			r := resp.(*kmsg.FindCoordinatorResponse)
			code, node = r.ErrorCode, r.NodeID
			if r.GetVersion() >= 4 {
				code, node = errInvalidRequest, -1
				if len(r.Coordinators) == 1 {
					code, node = r.Coordinators[0].ErrorCode, r.Coordinators[0].NodeID
				}
			}
		}
		if code != errNone || w.node(node) == nil {
			w.cov.Inc("txn:find-retry")
			in.backoff(func() { in.find(key, typ, then) })
			return
		}
		then(node)
	})
}

// withCoordinator calls then once the instance knows its transaction coordinator.
func (in *txnInstance) withCoordinator(then func()) {
	if in.coord > 0 {
		then()
		return
	}
	in.find(in.r.spec.ID, 1, func(node int32) {
		in.coord = node
		then()
	})
}

// coordinatorLost forgets the coordinator after an answer saying it moved (or none).
func (in *txnInstance) coordinatorLost(code int16) bool {
	if code == -1 || code == errNotCoordinator || code == errCoordinatorNotAvailable {
		in.coord = -1
		return true
	}
	return false
}

// fatalTxnCodes end an instance: it was fenced or its state is gone.
var fatalTxnCodes = []int16{errProducerFenced, errInvalidProducerEpoch, errInvalidProducerIDMapping, errInvalidTxnState,
	errTransactionalIDAuthorization}

// retryTxnCodes are answers a transactional request is sent again after.
var retryTxnCodes = []int16{errConcurrentTransactions, errCoordinatorLoadInProgress, errOperationNotAttempted,
	errUnknownTopicOrPartition, errRequestTimedOut}

// init takes a producer id and epoch for the transactional id.
func (in *txnInstance) init() {
	r := in.r
	c := in.c
	w := c.w
	in.withCoordinator(func() {
		op := &Op{Kind: OpInitProducerID, TxnID: r.spec.ID, Producer: -1, Epoch: -1, Offset: -1, HW: -1, LSO: -1}
		w.invoke(c, op)
		op.Node = in.coord
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID = kmsg.StringPtr(r.spec.ID)
		req.TransactionTimeoutMillis = int32(r.spec.Timeout / time.Millisecond)
		req.ProducerID, req.ProducerEpoch = -1, -1
		c.send(in.coord, req, w.requestTimeout(), func(resp kmsg.Response, err error) {
			code := int16(-1)
			var ir *kmsg.InitProducerIDResponse
			if err == nil {
				ir = resp.(*kmsg.InitProducerIDResponse)
				code = ir.ErrorCode
			}
			switch {
			case code == errNone:
				op.Producer, op.Epoch = ir.ProducerID, ir.ProducerEpoch
				w.complete(op, OK)
			case code == -1:
				w.complete(op, Indeterminate) // an epoch may have been bumped
			default:
				op.Code = code
				w.complete(op, Failed)
			}
			if !in.alive() {
				return
			}
			if code != errNone {
				name := "no-answer"
				if code >= 0 {
					name = strings.ToLower(errorName(code))
				}
				w.cov.Inc("txn:init-" + name)
				in.coordinatorLost(code)
				in.backoff(in.init)
				return
			}
			in.pid, in.epoch = ir.ProducerID, ir.ProducerEpoch
			clear(in.seqs)
			clear(in.tainted)
			w.cov.Inc("txn:init")
			if r.instances > 1 && len(r.zombies) > 0 {
				for _, z := range r.zombies {
					z.zombieWrite()
				}
				r.zombies = nil
			}
			if r.closing {
				r.closed = true
				w.clientNote(c, fmt.Sprintf("transactional id %s closed: pid %d epoch %d", r.spec.ID, in.pid, in.epoch))
				return
			}
			if r.onEpoch != nil {
				r.onEpoch(in)
				return
			}
			in.next()
		})
	})
}

// next starts the next transaction after a pause, or closes the id once faults
// stopped.
func (in *txnInstance) next() {
	c := in.c
	w := c.w
	think := time.Duration(c.rng.ExpFloat64() * float64(w.cfg.Data.TxnInterval))
	c.later(think, func() {
		if !in.alive() {
			return
		}
		if w.phase != phaseSafety {
			in.close()
			return
		}
		in.begin()
	})
}

// close runs the id's last InitProducerID (see above).
func (in *txnInstance) close() {
	r := in.r
	r.closing = true
	in.c.w.cov.Inc("txn:closing")
	in.init()
}

// begin starts a transaction: it draws its partitions and what it will do, then adds
// the partitions.
func (in *txnInstance) begin() {
	r := in.r
	c := in.c
	w := c.w
	var topics []string
	for _, t := range w.cfg.Data.Topics {
		if !t.Compact {
			topics = append(topics, t.Name)
		}
	}
	known := c.knownPartitions(topics)
	if len(known) == 0 {
		c.refreshTopics(func() { in.backoff(in.begin) })
		return
	}
	if len(in.tainted) > 0 {
		known = slices.DeleteFunc(known, func(tp TopicPartition) bool { return in.tainted[tp] })
		if len(known) == 0 {
			in.cur = nil
			in.init() // a new epoch frees the tainted partitions
			return
		}
	}
	n := 1 + c.rng.IntN(min(r.spec.PartitionsMax, len(known)))
	t := &txnState{left: map[TopicPartition]int{}, crashAfter: -1}
	for _, i := range c.rng.Perm(len(known))[:n] {
		t.parts = append(t.parts, known[i])
	}
	sortedPartitions(t.parts)
	total := 0
	for _, tp := range t.parts {
		k := 1 + c.rng.IntN(r.spec.BatchesMax)
		t.left[tp] = k
		total += k
	}
	t.commit = c.rng.Int64N(1_000_000) < r.spec.CommitPPM
	t.total = total
	t.offsets = c.rng.Int64N(1_000_000) < r.spec.OffsetsPPM && w.cfg.Data.OffsetsRetention == 0
	f := r.fate(r.spec.CrashPPM, func(rng *rand.Rand) int {
		if n := rng.IntN(total + 2); n <= total {
			return n
		}
		return txnCrashAtEnd
	})
	if f.crash {
		// A point past the batches of this transaction (a schedule's) is its end.
		t.crashAfter = total + 1
		if f.after != txnCrashAtEnd && f.after <= total {
			t.crashAfter = f.after
		}
	}
	t.idle, t.sloppy, t.zombie, t.hold = f.idle, f.sloppy, f.zombie, f.hold
	w.data.txnNum++
	t.num = w.data.txnNum
	in.cur = t
	w.data.txnBegun = append(w.data.txnBegun, txnBegin{num: t.num, id: r.spec.ID, at: w.now, parts: t.parts})
	w.clientNote(c, fmt.Sprintf("transaction %d of %s begins: partitions %v, pid %d epoch %d", t.num, r.spec.ID, t.parts, in.pid, in.epoch))
	if t.crashAfter == 0 {
		in.crash()
		return
	}
	if in.v2 {
		// Produce v12 adds each partition on the way (and TxnOffsetCommit v5 the group's).
		t.added = true
		if t.offsets {
			in.commitOffsets(t, nil)
			return
		}
		in.produceAll(t)
		return
	}
	in.addPartitions(t)
}

// addPartitions adds the transaction's partitions (AddPartitionsToTxn v3: one
// transaction, as clients send it), then produces.
func (in *txnInstance) addPartitions(t *txnState) {
	r := in.r
	c := in.c
	w := c.w
	in.withCoordinator(func() {
		req := kmsg.NewPtrAddPartitionsToTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch = r.spec.ID, in.pid, in.epoch
		for _, tp := range t.parts {
			if n := len(req.Topics); n == 0 || req.Topics[n-1].Topic != tp.Topic {
				rt := kmsg.NewAddPartitionsToTxnRequestTopic()
				rt.Topic = tp.Topic
				req.Topics = append(req.Topics, rt)
			}
			req.Topics[len(req.Topics)-1].Partitions = append(req.Topics[len(req.Topics)-1].Partitions, tp.Partition)
		}
		c.sendLimited(in.coord, req, 0, 3, w.requestTimeout(), func(resp kmsg.Response, err error) {
			if !in.alive() || in.cur != t {
				return
			}
			code := int16(-1)
			if err == nil {
				code = addPartitionsCode(resp.(*kmsg.AddPartitionsToTxnResponse), t.parts)
			}
			switch {
			case code == errNone:
				t.added = true
				w.cov.Inc("txn:add-partitions")
				if t.offsets {
					in.addOffsets(t)
					return
				}
				in.produceAll(t)
			case slices.Contains(fatalTxnCodes, code):
				in.fatal(errorName(code))
			default:
				w.cov.Inc("txn:add-partitions-retry")
				in.coordinatorLost(code)
				if code == errUnknownTopicOrPartition {
					c.refreshTopics(nil)
				}
				in.backoff(func() { in.addPartitions(t) })
			}
		})
	})
}

// addPartitionsCode is the first error of an AddPartitionsToTxn answer for parts (0:
// every partition added).
func addPartitionsCode(r *kmsg.AddPartitionsToTxnResponse, parts []TopicPartition) int16 {
	got := map[TopicPartition]int16{}
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			got[TopicPartition{t.Topic, p.Partition}] = p.ErrorCode
		}
	}
	first := int16(errNone)
	for _, tp := range parts {
		code, ok := got[tp]
		if !ok {
			return errInvalidRequest
		}
		// OPERATION_NOT_ATTEMPTED only says another partition failed: report that one.
		if code != errNone && (first == errNone || first == errOperationNotAttempted) {
			first = code
		}
	}
	return first
}

// produceAll sends the first batch of every partition of the transaction.
func (in *txnInstance) produceAll(t *txnState) {
	for _, tp := range t.parts {
		in.produceNext(t, tp)
	}
}

// produceNext makes and sends the partition's next batch, or ends the transaction
// once every partition is done.
func (in *txnInstance) produceNext(t *txnState, tp TopicPartition) {
	r := in.r
	c := in.c
	w := c.w
	if t.left[tp] == 0 || t.failed {
		t.left[tp] = 0
		in.maybeEnd(t)
		return
	}
	t.left[tp]--
	n := 1 + c.rng.IntN(r.spec.RecordsMax)
	values := make([]string, n)
	for i := range values {
		w.data.txnValues++
		values[i] = fmt.Sprintf("t%d-%d", c.id, w.data.txnValues)
	}
	seq := in.seqs[tp]
	in.seqs[tp] = seq + int32(n)
	op := &Op{Kind: OpProduce, Topic: tp.Topic, Partition: tp.Partition, Values: values, Acks: -1,
		Producer: in.pid, Epoch: in.epoch, Sequence: seq, Offset: -1, LeaderEpoch: -1, HW: -1, LSO: -1, TxnID: r.spec.ID, Txn: t.num}
	w.invoke(c, op)
	w.producerSeqs.numbered(prodKey{tp, in.pid, in.epoch}, seq, n)
	b := &txnBatch{op: op, tp: tp, deadline: w.now + int64(w.cfg.Data.DeliveryTimeout)}
	t.batches = append(t.batches, b)
	t.flying++
	t.sent++
	sloppy := t.sloppy && t.sent == 1
	if sloppy {
		in.holdLink(b.tp, t.hold)
	}
	in.attempt(t, b)
	if sloppy && in.alive() && in.cur == t {
		in.sloppyAbort(t)
		return
	}
	if t.crashAfter > 0 && t.crashAfter <= t.total && t.sent >= t.crashAfter {
		in.crash()
	}
}

// attempt sends a batch to the partition's leader, retrying until it resolves.
func (in *txnInstance) attempt(t *txnState, b *txnBatch) {
	r := in.r
	c := in.c
	w := c.w
	if !in.alive() || b.done {
		// A batch given up (a sloppy abort, say) while it waited for its leader or a
		// backoff is not sent after all: its operation already failed.
		return
	}
	if w.now >= b.deadline {
		w.cov.Inc("txn:delivery-timeout")
		in.resolve(t, b, in.giveUp(b), -1)
		return
	}
	leader, _, ok := c.leaderOf(b.tp)
	if !ok {
		c.refreshTopics(func() { in.backoff(func() { in.attempt(t, b) }) })
		return
	}
	if b.bytes == nil {
		spec := record.Spec{PartitionLeaderEpoch: -1, FirstTimestamp: (clockBase + w.now) / int64(time.Millisecond), Codec: r.spec.Codec,
			ProducerID: b.op.Producer, ProducerEpoch: b.op.Epoch, BaseSequence: b.op.Sequence, Transactional: true}
		batch, err := w.buildBatch(spec, b.op.Values)
		if err != nil {
			w.fail("client", -1, "client %d cannot build a transactional batch: %v", c.id, err)
			return
		}
		b.bytes = batch
		w.noteStamps(b.tp.Topic, b.op.Values, spec.FirstTimestamp)
	}
	req := kmsg.NewPtrProduceRequest()
	req.TransactionID = kmsg.StringPtr(r.spec.ID)
	req.Acks = -1
	req.TimeoutMillis = int32(w.requestTimeout() / time.Millisecond)
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = b.tp.Topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = b.tp.Partition
	rp.Records = b.bytes
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	b.op.Attempts++
	b.op.Node = leader
	if b.op.Attempts > 1 {
		w.cov.Inc("txn:produce-retry")
	}
	lo, hi := in.produceVersions()
	b.inflight = true
	c.sendLimited(leader, req, lo, hi, w.requestTimeout(), func(resp kmsg.Response, err error) {
		b.inflight = false
		if err == nil {
			code, _, _ := produceResult(resp, b.tp)
			if code == errInvalidTxnState || code == errTransactionAbortable {
				w.cov.Inc("txn:verify-rejected")
			}
			if b.done && in.v2 && (code == errInvalidProducerEpoch || code == errProducerFenced) {
				w.cov.Inc("txn:late-write-fenced") // a batch its transaction gave up met the bumped epoch
			}
			if !b.done && in.v2 && code == errNone && b.op.Sequence == 0 {
				w.cov.Inc("txn:implicit-add")
			}
		}
		if b.done {
			return
		}
		code, offset := int16(-1), int64(-1)
		switch {
		case err == nil:
			b.op.Sent = true
			var appendTime int64
			code, offset, appendTime = produceResult(resp, b.tp)
			if code == errNone {
				w.appendTimeAnswered(b.tp.Topic, b.op.Values, appendTime)
			}
		case isNotSent(err):
		default:
			b.op.Sent = true
			b.maybe = true
		}
		if slices.Contains(staleLeaderCodes, code) || code < 0 {
			c.forgetLeader(b.tp)
		}
		switch {
		case code == errNone:
			in.resolve(t, b, OK, offset)
		case code == errDuplicateSequenceNumber:
			in.resolve(t, b, OK, -1)
		case slices.Contains(fatalTxnCodes, code):
			// The batch is given up with the instance.
			b.op.Code = code
			w.cov.Inc("txn:produce-" + strings.ToLower(errorName(code)))
			in.fatal(errorName(code))
		case code == errTransactionAbortable:
			// The coordinator did not vouch for the transaction (KIP-890): abort it.
			b.op.Code = code
			in.resolve(t, b, in.giveUp(b), -1)
		case code == errOutOfOrderSequenceNumber || code == errUnknownProducerID:
			b.op.Code = code
			w.cov.Inc("txn:produce-" + strings.ToLower(errorName(code)))
			in.resolve(t, b, in.giveUp(b), -1)
		default:
			if code >= 0 && !slices.Contains(noEffectProduceCodes, code) {
				b.maybe = true
			}
			in.backoff(func() { in.attempt(t, b) })
		}
	})
}

// produceVersions is the range of Produce versions a transactional batch goes at:
// v12 only at transaction version 2, below it otherwise (v7+ for zstd).
func (in *txnInstance) produceVersions() (lo, hi int16) {
	if in.v2 {
		return 12, 12
	}
	if in.r.spec.Codec == record.CodecZstd {
		return 7, 11
	}
	return 3, 11
}

// holdLink stalls the instance's link to tp's leader for hold, so that the batch about
// to go there arrives after the abort a sloppy transaction sends at once to its
// coordinator, when the coordinator is elsewhere.
func (in *txnInstance) holdLink(tp TopicPartition, hold time.Duration) {
	c := in.c
	w := c.w
	leader, _, ok := c.leaderOf(tp)
	if !ok || leader == in.coord || hold <= 0 {
		return
	}
	until := w.now + int64(hold)
	w.cov.Inc("txn:sloppy-hold")
	w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultClog, Node: int32(c.addr), Peer: leader, A: until},
		func() string { return netsim.Clog(c.addr, netsim.Addr(leader), netsim.Time(until)).String() })
	w.brokenByFault(w.net.Apply(netsim.Time(w.now), netsim.Clog(c.addr, netsim.Addr(leader), netsim.Time(until))))
}

// sloppyAbort aborts t at once, keeping the epoch, with batches still in flight: they
// are given up (indeterminate), and their partitions are tainted.
func (in *txnInstance) sloppyAbort(t *txnState) {
	c := in.c
	w := c.w
	w.cov.Inc("txn:sloppy-abort")
	w.clientNote(c, fmt.Sprintf("transaction %d of %s aborts without waiting for its batches in flight", t.num, in.r.spec.ID))
	for _, b := range t.batches {
		if !b.done {
			if !in.v2 {
				in.tainted[b.tp] = true // version 2: the abort's epoch bump fences the batch
			}
			b.done = true
			t.flying--
			w.complete(b.op, in.giveUp(b))
		}
	}
	for tp := range t.left {
		t.left[tp] = 0
	}
	t.failed, t.ending = true, true
	in.endTxn(t, false, w.now+int64(w.cfg.Data.DeliveryTimeout), nil)
}

// isNotSent reports whether a call ended without its request leaving the client.
func isNotSent(err error) bool { return errors.Is(err, errNotSent) }

// giveUp is the outcome of a batch given up: indeterminate once an attempt may have
// been written.
func (in *txnInstance) giveUp(b *txnBatch) Outcome {
	if b.maybe || b.inflight {
		return Indeterminate
	}
	if b.op.Code == 0 {
		b.op.Code = -1
	}
	return Failed
}

// resolve completes a batch and goes on with its partition.
func (in *txnInstance) resolve(t *txnState, b *txnBatch, outcome Outcome, offset int64) {
	w := in.c.w
	if b.done {
		return
	}
	b.done = true
	b.op.Offset = offset
	if outcome == OK {
		w.producerSeqs.acked(prodKey{b.tp, b.op.Producer, b.op.Epoch}, b.op.Sequence, len(b.op.Values))
	} else {
		t.failed = true
	}
	if outcome == Failed && b.op.Code != errOutOfOrderSequenceNumber && b.op.Code != errUnknownProducerID {
		in.unnumber(b.tp, b.op)
	}
	w.complete(b.op, outcome)
	t.flying--
	if in.alive() && in.cur == t {
		in.produceNext(t, b.tp)
	}
}

// unnumber gives back the sequences of a batch no broker appended (Failed: giveUp
// says so only when no attempt may have been), as a client numbers a batch only when it
// sends it. Kept, they would leave a gap that every later batch of the epoch to the
// partition is refused for as out of order. Only the newest batch's can go back.
func (in *txnInstance) unnumber(tp TopicPartition, op *Op) {
	if op.Producer == in.pid && op.Epoch == in.epoch && in.seqs[tp] == op.Sequence+int32(len(op.Values)) {
		in.seqs[tp] = op.Sequence
	}
}

// maybeEnd ends the transaction once no batch is in flight and none is left to send.
func (in *txnInstance) maybeEnd(t *txnState) {
	if !in.alive() || in.cur != t || t.ending || t.flying > 0 {
		return
	}
	for _, k := range t.left {
		if k > 0 {
			return
		}
	}
	t.ending = true
	c := in.c
	w := c.w
	if slices.ContainsFunc(t.batches, func(b *txnBatch) bool { return b.op.Outcome == Indeterminate }) {
		// A batch given up may still be appended, after an abort marker of the same
		// epoch: a transaction nobody will end. A new InitProducerID fences the epoch
		// first and aborts with markers of the next one, which the late batch cannot
		// pass, as franz-go bumps the epoch after such a failure.
		w.cov.Inc("txn:abort-by-epoch-bump")
		w.clientNote(c, fmt.Sprintf("transaction %d of %s aborts by a new epoch: a batch's outcome is unknown", t.num, in.r.spec.ID))
		in.cur = nil
		in.init()
		return
	}
	commit := t.commit && !t.failed
	end := func() { in.endTxn(t, commit, w.now+int64(w.cfg.Data.DeliveryTimeout), nil) }
	if t.idle && w.phase == phaseSafety {
		// Past the timeout and a round of the coordinator's timeout check.
		w.cov.Inc("txn:idle")
		c.later(in.r.spec.Timeout+txnAbortCheck, func() {
			if in.alive() {
				end()
			}
		})
		return
	}
	if t.offsets && c.rng.IntN(2) == 0 {
		in.fetchOffsets(t, end)
		return
	}
	end()
}

// txnAbortCheck is how often coordinators look for timed-out transactions, with a
// margin (transaction.abort.timed.out.transaction.cleanup.interval.ms).
const txnAbortCheck = 10*time.Second + 500*time.Millisecond

// endTxn sends EndTxn until it gets an answer that decides, or gives up at deadline.
func (in *txnInstance) endTxn(t *txnState, commit bool, deadline int64, op *Op) {
	r := in.r
	c := in.c
	w := c.w
	if op == nil {
		op = &Op{Kind: OpEndTxn, TxnID: r.spec.ID, Txn: t.num, Commit: commit, Producer: in.pid, Epoch: in.epoch, Offset: -1, HW: -1, LSO: -1}
		w.invoke(c, op)
	}
	if w.now >= deadline {
		w.complete(op, Indeterminate)
		w.cov.Inc("txn:end-gave-up")
		in.fatal("EndTxn unanswered")
		return
	}
	in.withCoordinator(func() {
		req := kmsg.NewPtrEndTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = r.spec.ID, op.Producer, op.Epoch, commit
		op.Node = in.coord
		op.Attempts++
		// EndTxn v5 bumps the epoch at every end (KIP-890 part 2): version 2 only.
		lo, hi := int16(0), int16(4)
		if in.v2 {
			lo, hi = 5, 5
		}
		c.sendLimited(in.coord, req, lo, hi, w.requestTimeout(), func(resp kmsg.Response, err error) {
			code := int16(-1)
			if err == nil {
				er := resp.(*kmsg.EndTxnResponse)
				code = er.ErrorCode
				op.Sent = true
				if code == errNone && in.v2 && in.alive() {
					in.adopt(er.ProducerID, er.ProducerEpoch)
				}
			} else if !isNotSent(err) {
				op.Sent = true
			}
			if !in.alive() {
				if op.Outcome == Pending {
					w.complete(op, Indeterminate)
				}
				return
			}
			switch {
			case code == errNone:
				w.complete(op, OK)
				if commit {
					w.cov.Inc("txn:commit")
				} else {
					w.cov.Inc("txn:abort")
				}
				in.cur = nil
				in.next()
			case slices.Contains(fatalTxnCodes, code):
				op.Code = code
				w.complete(op, endRefusedOutcome(op))
				w.cov.Inc("txn:end-" + strings.ToLower(errorName(code)))
				in.fatal(errorName(code))
			default:
				w.cov.Inc("txn:end-retry")
				in.coordinatorLost(code)
				in.backoff(func() { in.endTxn(t, commit, deadline, op) })
			}
		})
		if op.Attempts == 1 && t.crashAfter == t.total+1 {
			// The instance dies with its EndTxn on the way: the transaction's outcome is
			// the coordinator's, and the next instance fences whatever is left open.
			in.crash()
		}
	})
}

// adopt takes the producer id and epoch an EndTxn v5 answered: a new epoch starts its
// sequences again at 0.
func (in *txnInstance) adopt(pid int64, epoch int16) {
	w := in.c.w
	if pid < 0 || epoch < 0 {
		w.fail("client", -1, "client %d: EndTxn v5 of %s answered producer %d epoch %d", in.c.id, in.r.spec.ID, pid, epoch)
		return
	}
	if pid == in.pid && epoch == in.epoch {
		return
	}
	if pid == in.pid && epoch == in.epoch+1 {
		w.cov.Inc("txn:tv2-epoch-bump")
	} else if pid != in.pid {
		w.cov.Inc("txn:tv2-new-producer-id")
	}
	in.pid, in.epoch = pid, epoch
	clear(in.seqs)
}

// fatal ends the instance after a fatal answer: a new instance takes over.
func (in *txnInstance) fatal(why string) {
	if !in.alive() {
		return
	}
	w := in.c.w
	w.cov.Inc("txn:instance-fatal")
	w.clientNote(in.c, fmt.Sprintf("transactional producer %s instance ends: %s", in.r.spec.ID, why))
	in.abandon()
	in.r.newInstance()
}

// crash abandons the instance mid-transaction; when its fate says so it stays as a
// zombie.
func (in *txnInstance) crash() {
	if !in.alive() {
		return
	}
	c := in.c
	w := c.w
	w.cov.Inc("txn:crash")
	w.clientNote(c, fmt.Sprintf("transactional producer %s instance crashes in transaction %d", in.r.spec.ID, in.cur.num))
	// Only a transaction left open is fenced by the next instance with markers of a new
	// epoch; one whose EndTxn went out may have ended with markers of its own epoch,
	// and a later batch of that epoch would open a transaction nobody ends (the
	// hanging transaction of KIP-890, which the protocol before it allows).
	zombie := in.cur.added && !in.cur.ending && in.cur.zombie
	in.last = in.cur
	in.abandon()
	if zombie {
		in.r.zombies = append(in.r.zombies, in)
	}
	in.r.newInstance()
}

// abandon stops the instance: batches in flight are left indeterminate, unless an
// answer resolves them first.
func (in *txnInstance) abandon() {
	in.dead = true
	if t := in.cur; t != nil {
		for _, b := range t.batches {
			if !b.done {
				b.done = true
				t.flying--
				w := in.c.w
				w.complete(b.op, in.giveUp(b))
			}
		}
	}
}

// zombieWrite sends a crashed instance's last batch with its old epoch, once a newer
// instance of its id took its epoch: the partition must refuse it.
func (in *txnInstance) zombieWrite() {
	c := in.c
	w := c.w
	t := in.last
	if t == nil || len(t.parts) == 0 || w.failure != nil {
		return
	}
	tp := t.parts[c.rng.IntN(len(t.parts))]
	leader, _, ok := c.leaderOf(tp)
	if !ok {
		return
	}
	w.data.txnValues++
	values := []string{fmt.Sprintf("t%d-%d", c.id, w.data.txnValues)}
	seq := in.seqs[tp]
	in.seqs[tp] = seq + 1
	w.producerSeqs.numbered(prodKey{tp, in.pid, in.epoch}, seq, 1)
	op := &Op{Kind: OpProduce, Topic: tp.Topic, Partition: tp.Partition, Values: values, Acks: -1,
		Producer: in.pid, Epoch: in.epoch, Sequence: seq, Offset: -1, LeaderEpoch: -1, HW: -1, LSO: -1, TxnID: in.r.spec.ID, Txn: t.num}
	w.invoke(c, op)
	w.cov.Inc("txn:zombie-write")
	spec := record.Spec{PartitionLeaderEpoch: -1, FirstTimestamp: (clockBase + w.now) / int64(time.Millisecond), Codec: record.CodecNone,
		ProducerID: in.pid, ProducerEpoch: in.epoch, BaseSequence: seq, Transactional: true}
	batch, err := w.buildBatch(spec, values)
	if err != nil {
		w.fail("client", -1, "client %d cannot build a transactional batch: %v", c.id, err)
		return
	}
	w.noteStamps(tp.Topic, values, spec.FirstTimestamp)
	req := kmsg.NewPtrProduceRequest()
	req.TransactionID = kmsg.StringPtr(in.r.spec.ID)
	req.Acks = -1
	req.TimeoutMillis = int32(w.requestTimeout() / time.Millisecond)
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = tp.Topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = tp.Partition, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	op.Attempts, op.Node = 1, leader
	lo, hi := int16(3), int16(11)
	if in.v2 {
		lo, hi = 12, 12
	}
	c.sendLimited(leader, req, lo, hi, w.requestTimeout(), func(resp kmsg.Response, err error) {
		switch {
		case err == nil:
			op.Sent = true
			code, offset, _ := produceResult(resp, tp)
			if code == errNone || code == errDuplicateSequenceNumber {
				op.Offset = offset
				w.complete(op, OK)
				return
			}
			op.Code = code
			w.cov.Inc("txn:zombie-refused")
			if slices.Contains(noEffectProduceCodes, code) || slices.Contains(fatalTxnCodes, code) {
				w.complete(op, Failed)
				return
			}
			w.complete(op, Indeterminate)
		case isNotSent(err):
			op.Code = -1
			w.complete(op, Failed)
		default:
			op.Sent = true
			w.complete(op, Indeterminate)
		}
	})
}

// addOffsets adds the producer's group to the transaction (AddOffsetsToTxn), commits
// an offset within it (TxnOffsetCommit), then produces.
func (in *txnInstance) addOffsets(t *txnState) {
	r := in.r
	c := in.c
	w := c.w
	in.withCoordinator(func() {
		req := kmsg.NewPtrAddOffsetsToTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = r.spec.ID, in.pid, in.epoch, txnGroup(r.spec.ID)
		c.send(in.coord, req, w.requestTimeout(), func(resp kmsg.Response, err error) {
			if !in.alive() || in.cur != t {
				return
			}
			code := int16(-1)
			if err == nil {
				code = resp.(*kmsg.AddOffsetsToTxnResponse).ErrorCode
			}
			switch {
			case code == errNone:
				w.cov.Inc("txn:add-offsets")
				in.commitOffsets(t, nil)
			case slices.Contains(fatalTxnCodes, code):
				in.fatal(errorName(code))
			default:
				in.coordinatorLost(code)
				in.backoff(func() { in.addOffsets(t) })
			}
		})
	})
}

// commitOffsets sends TxnOffsetCommit to the group coordinator: the transaction's
// number as the offset of its first partition, so that a read names the transaction.
func (in *txnInstance) commitOffsets(t *txnState, op *Op) {
	r := in.r
	c := in.c
	w := c.w
	tp := t.parts[0]
	if op == nil {
		op = &Op{Kind: OpTxnOffsetCommit, TxnID: r.spec.ID, Txn: t.num, Group: txnGroup(r.spec.ID), Producer: in.pid, Epoch: in.epoch,
			Offsets: []PartitionOffset{{tp, int64(t.num)}}, Offset: -1, HW: -1, LSO: -1}
		w.invoke(c, op)
	}
	in.find(txnGroup(r.spec.ID), 0, func(node int32) {
		req := kmsg.NewPtrTxnOffsetCommitRequest()
		req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = r.spec.ID, txnGroup(r.spec.ID), in.pid, in.epoch
		req.Generation, req.MemberID = -1, ""
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic = tp.Topic
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch = tp.Partition, int64(t.num), -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		op.Node = node
		op.Attempts++
		// v5 has the broker add the group's partition (version 2 only: without
		// AddOffsetsToTxn); v6 names topics by id only.
		lo, hi := int16(0), int16(4)
		if in.v2 {
			lo, hi = 5, 5
		}
		c.sendLimited(node, req, lo, hi, w.requestTimeout(), func(resp kmsg.Response, err error) {
			if !in.alive() || in.cur != t {
				if op.Outcome == Pending {
					w.complete(op, Indeterminate)
				}
				return
			}
			code := txnOffsetCommitCode(resp, err)
			switch {
			case code == errNone:
				w.complete(op, OK)
				w.cov.Inc("txn:offsets-committed")
				in.produceAll(t)
			case slices.Contains(fatalTxnCodes, code):
				op.Code = code
				w.complete(op, Indeterminate)
				in.fatal(errorName(code))
			case code == errCoordinatorLoadInProgress || code == errConcurrentTransactions || code == -1 || code == errNotEnoughReplicas ||
				code == errNotCoordinator || code == errCoordinatorNotAvailable || code == errRequestTimedOut:
				in.backoff(func() { in.commitOffsets(t, op) })
			default:
				// Refused: the transaction goes on without its offsets and aborts.
				op.Code = code
				w.complete(op, Indeterminate)
				w.cov.Inc("txn:offsets-" + strings.ToLower(errorName(code)))
				t.failed = true
				in.produceAll(t)
			}
		})
	})
}

// fetchOffsets reads the producer's group's offsets while the transaction is open
// (OffsetFetch, requiring stable offsets or not): the open transaction's offset must
// not show. Then it calls then.
func (in *txnInstance) fetchOffsets(t *txnState, then func()) {
	r := in.r
	c := in.c
	w := c.w
	tp := t.parts[0]
	in.find(txnGroup(r.spec.ID), 0, func(node int32) {
		op := &Op{Kind: OpTxnOffsetFetch, TxnID: r.spec.ID, Txn: t.num, Group: txnGroup(r.spec.ID), Offset: -1, HW: -1, LSO: -1, Producer: -1}
		w.invoke(c, op)
		op.Node = node
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Group = txnGroup(r.spec.ID)
		req.RequireStable = c.rng.IntN(2) == 0
		req.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: tp.Topic, Partitions: []int32{tp.Partition}}}
		g := kmsg.NewOffsetFetchRequestGroup()
		g.Group = req.Group
		g.Topics = []kmsg.OffsetFetchRequestGroupTopic{{Topic: tp.Topic, Partitions: []int32{tp.Partition}}}
		req.Groups = []kmsg.OffsetFetchRequestGroup{g}
		c.sendLimited(node, req, 1, 32767, w.requestTimeout(), func(resp kmsg.Response, err error) {
			offsets, code := offsetFetchResult(resp, err, []TopicPartition{tp})
			if code != errNone {
				op.Code = code
				w.complete(op, Failed)
				if code == errUnstableOffsetCommit {
					w.cov.Inc("txn:offsets-unstable")
				}
			} else {
				op.Offsets = offsets
				w.complete(op, OK)
				w.cov.Inc("txn:offsets-read")
			}
			if in.alive() && in.cur == t {
				then()
			}
		})
	})
}

// txnCoordinatorPartitions lists the transaction state partitions of the run's
// transactional ids, sorted, for the coverage of their coordinators' moves.
func (d *DataConfig) txnCoordinatorPartitions() []int32 {
	var out []int32
	for _, p := range d.TxnProducers {
		out = append(out, group.PartitionFor(p.ID, d.txnStatePartitions()))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// streamTxn is the stream of the transactional workload's draws; streamTxnFates, per
// transactional id (index: its first client), draws what befalls its transactions.
const (
	streamTxn      = "txn"
	streamTxnFates = "txn-fates"
)

// drawTxns draws, from its own stream, whether a seed runs transactional producers (a
// third of the seeds with data and a topic that is not compacted, that leave no broker
// down once faults stop; nor do they run with log.flush=async) and what they do,
// and which readers and group members then fetch with read_committed (at least one
// reader when there are readers).
func drawTxns(seed uint64, d *DataConfig, brokers int) {
	rng := Stream(seed, streamTxn, 0)
	if !d.On() || rng.IntN(3) != 0 || !slices.ContainsFunc(d.Topics, func(t DataTopic) bool { return !t.Compact }) {
		return
	}
	codecs := []record.Codec{record.CodecNone, record.CodecNone, record.CodecGzip, record.CodecSnappy, record.CodecLZ4, record.CodecZstd}
	for i := range 1 + rng.IntN(2) {
		p := TxnProducerSpec{
			ID:            fmt.Sprintf("tx%d", i),
			Timeout:       time.Duration(10+rng.IntN(51)) * time.Second,
			CommitPPM:     []int64{500_000, 800_000, 950_000}[rng.IntN(3)],
			CrashPPM:      []int64{0, 50_000, 150_000}[rng.IntN(3)],
			OffsetsPPM:    []int64{0, 300_000}[rng.IntN(2)],
			PartitionsMax: 1 + rng.IntN(4),
			BatchesMax:    1 + rng.IntN(3),
			RecordsMax:    1 + rng.IntN(3),
			Codec:         codecs[rng.IntN(len(codecs))],
		}
		if rng.IntN(3) == 0 {
			// A short timeout: some transactions outlive it, and some idle past it on
			// purpose, for the coordinator to abort them.
			p.Timeout = time.Duration(500+rng.IntN(1500)) * time.Millisecond
			p.IdlePPM = []int64{50_000, 200_000}[rng.IntN(2)]
		}
		if rng.IntN(2) == 0 {
			p.SloppyPPM = []int64{50_000, 200_000}[rng.IntN(2)]
		}
		d.TxnProducers = append(d.TxnProducers, p)
	}
	d.TxnInterval = time.Duration(50+rng.IntN(450)) * time.Millisecond
	for i := range d.Readers {
		if rng.IntN(2) == 0 {
			d.ReadCommittedReaders |= 1 << i
		}
	}
	if d.ReadCommittedReaders == 0 && d.Readers > 0 {
		d.ReadCommittedReaders = 1 << rng.IntN(d.Readers)
	}
	d.ReadCommittedGroups = len(d.Groups) > 0 && rng.IntN(2) == 0
	// transaction.state.log.num.partitions: a few, or Kafka's 50 in a quarter of the
	// seeds; transaction.state.log.replication.factor: as many brokers as there are, up
	// to 3, in two thirds (the coordinators can then move), otherwise as many as are
	// live when the first transactional id looks for its coordinator.
	if rng.IntN(4) != 0 {
		d.TxnStatePartitions = int32(1 + rng.IntN(4))
	}
	if rng.IntN(3) != 0 {
		d.TxnStateRF = int32(min(brokers, 3))
	}
	// transactional.id.expiration.ms: in half the seeds short enough that an id idle
	// between two transactions expires, and its producer starts over.
	if rng.IntN(2) == 0 {
		d.TxnIDExpiration = time.Duration(300+rng.IntN(1700)) * time.Millisecond
	}
	// transaction.version: the producers speak what the brokers advertise.
	d.TxnVersion = int16(1 + rng.IntN(2))
}

// txnStatePartitions is the run's transaction.state.log.num.partitions.
func (d *DataConfig) txnStatePartitions() int32 {
	if d.TxnStatePartitions > 0 {
		return d.TxnStatePartitions
	}
	return txnStatePartitionsDefault
}

// WithoutTxns leaves the transactional workload out of a seed's draws.
func (d *DataConfig) WithoutTxns() {
	d.TxnProducers, d.TxnInterval, d.ReadCommittedReaders, d.ReadCommittedGroups = nil, 0, 0, false
	d.TxnStatePartitions, d.TxnStateRF, d.TxnIDExpiration, d.TxnVersion = 0, 0, 0, 0
}

// txnString renders the transactional workload for the configuration block.
func (d *DataConfig) txnString() string {
	if len(d.TxnProducers) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("  transactional producers:")
	for _, p := range d.TxnProducers {
		fmt.Fprintf(&b, " %s(timeout=%v commit=%s crash=%s idle=%s offsets=%s sloppy=%s partitions<=%d batches<=%d records<=%d %s);",
			p.ID, p.Timeout, ppm(p.CommitPPM), ppm(p.CrashPPM), ppm(p.IdlePPM), ppm(p.OffsetsPPM), ppm(p.SloppyPPM), p.PartitionsMax, p.BatchesMax, p.RecordsMax, p.Codec)
	}
	fmt.Fprintf(&b, " a transaction every ~%v; transaction state partitions %d", d.TxnInterval, d.txnStatePartitions())
	if d.TxnStateRF > 0 {
		fmt.Fprintf(&b, " rf=%d", d.TxnStateRF)
	}
	if d.TxnIDExpiration > 0 {
		fmt.Fprintf(&b, "; ids expire %v after their last change", d.TxnIDExpiration)
	}
	fmt.Fprintf(&b, "; transaction version %d", d.TxnVersion)
	fmt.Fprintf(&b, "; read_committed readers %b", d.ReadCommittedReaders)
	if d.ReadCommittedGroups {
		b.WriteString(", and the group members")
	}
	b.WriteString("\n")
	return b.String()
}

// txnOffsetCommitCode is the code of a TxnOffsetCommit of one partition: -1 when no
// answer came, INVALID_REQUEST for an answer of another shape.
func txnOffsetCommitCode(resp kmsg.Response, err error) int16 {
	if err != nil {
		return -1
	}
	tr := resp.(*kmsg.TxnOffsetCommitResponse)
	if len(tr.Topics) != 1 || len(tr.Topics[0].Partitions) != 1 {
		return errInvalidRequest
	}
	return tr.Topics[0].Partitions[0].ErrorCode
}

// endRefusedOutcome is the outcome of an EndTxn refused for good: failed when it was
// its first attempt, unknown after a retry (an earlier attempt may have ended it).
func endRefusedOutcome(op *Op) Outcome {
	if op.Attempts > 1 {
		return Indeterminate
	}
	return Failed
}
