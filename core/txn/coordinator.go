package txn

import (
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/seedlog/seedlog/core/group"
)

// phase is the coordinator's life: it loads its partition, serves, and ends closed (when
// leadership moves) or failed (when its partition could not be read).
type phase uint8

const (
	phaseLoading phase = iota
	phaseServing
	phaseFailed
	phaseClosed
)

var phaseNames = [...]string{"loading", "serving", "failed", "closed"}

func (p phase) String() string { return phaseNames[p] }

// timerPending marks a timer started by a callback that carries no time: it starts at
// the coordinator's next input (see Coordinator.timeNow).
const timerPending = int64(math.MinInt64)

// Coordinator runs the transactional ids of one __transaction_state partition this
// broker leads.
type Coordinator struct {
	cfg     Config
	log     Log
	phase   phase
	loadErr error
	load    *loader // while loading

	txns map[string]*txn
	// ongoing are the ids whose record is Ongoing (the timeout check looks at them only).
	ongoing map[string]*txn
	// retries holds the marker rounds waiting out MarkerRetry, expiries the ids that may
	// expire (expiry.go), each by when it is due; pendingRounds the rounds a callback
	// outside any input made wait, whose wait starts at the next input.
	retries       timerQueue
	expiries      timerQueue
	pendingRounds []*txn

	// now is the latest time an input carried. depth counts the inputs on the stack and
	// nest the callbacks (Log, NewProducerID, SendMarkers): work done in a callback that
	// arrives outside any input has no time of its own.
	now   int64
	depth int
	nest  int
	// timersPending: a marker retry was scheduled by a callback outside an input and
	// starts for real at the next input.
	timersPending bool

	// deadline is Deadline's last answer, still right while deadlineKnown. Every way in
	// that can change state clears deadlineKnown.
	deadline      int64
	deadlineKnown bool

	// waits are the calls handed out (appends, producer ids, marker rounds) not yet
	// answered, each with what Close must do for it (nil: nothing).
	waits    map[uint64]func()
	nextOpID uint64

	nextAbortCheck int64 // when Tick next looks for transactions past their timeout

	// queuedTxns are the ids with requests waiting (queue.go), in the order their queues
	// started; runningQueued guards runQueued against itself.
	queuedTxns    []*txn
	runningQueued bool

	// outbox holds replies until the state they come from is settled: they go out, in
	// order, when the outermost input or callback returns, so a reply that calls back into
	// the coordinator finds it consistent.
	outbox []func()
}

// NewCoordinator starts a coordinator for cfg.Partition: it reads the partition through
// log.Load, answering COORDINATOR_LOAD_IN_PROGRESS until that is done.
func NewCoordinator(now int64, cfg Config, log Log) *Coordinator {
	assert(cfg.NewProducerID != nil, "Config.NewProducerID is nil")
	assert(cfg.SendMarkers != nil, "Config.SendMarkers is nil")
	c := &Coordinator{
		cfg:      cfg.withDefaults(),
		log:      log,
		txns:     map[string]*txn{},
		ongoing:  map[string]*txn{},
		retries:  timerQueue{kind: timerRetry},
		expiries: timerQueue{kind: timerExpire},
		waits:    map[uint64]func(){},
		now:      now,
		load:     newLoader(),
	}
	c.enter(now)
	defer c.leave()
	finish := c.begin(nil)
	c.log.Load(now, c.loadChunk, func(err error) { finish(func() { c.loadDone(err) }) })
	return c
}

// PartitionFor is the __transaction_state partition that stores txnID: Kafka hashes
// transactional ids onto it as it hashes group ids onto __consumer_offsets.
func PartitionFor(txnID string, partitions int32) int32 {
	return group.PartitionFor(txnID, partitions)
}

// enter marks the start of an input at now and returns the time to use: the clock is
// taken as never going back. Timers scheduled outside an input start now.
func (c *Coordinator) enter(now int64) int64 {
	c.depth++
	c.deadlineKnown = false
	c.now = max(c.now, now)
	if c.timersPending {
		c.startPendingTimers()
	}
	return c.now
}

func (c *Coordinator) leave() {
	c.depth--
	c.flushIfOutermost()
}

func (c *Coordinator) flushIfOutermost() {
	if c.depth == 0 && c.nest == 0 && len(c.queuedTxns) > 0 {
		c.runQueued()
	}
	if c.depth == 0 && c.nest == 0 {
		for len(c.outbox) > 0 {
			f := c.outbox[0]
			c.outbox = c.outbox[1:]
			f()
		}
	}
}

// later queues f in the outbox.
func (c *Coordinator) later(f func()) { c.outbox = append(c.outbox, f) }

// begin records a call handed out; the function it returns runs f when the call
// answers, once, unless the coordinator closed first (then onClose ran at Close, and
// the answer is ignored). A call may answer before the function handing it out returns:
// all state its answer depends on must be in place before the call.
func (c *Coordinator) begin(onClose func()) func(f func()) {
	c.nextOpID++
	id := c.nextOpID
	c.waits[id] = onClose
	return func(f func()) {
		if _, ok := c.waits[id]; !ok {
			return // closed, or a second answer from a faulty caller
		}
		delete(c.waits, id)
		c.deadlineKnown = false
		c.nest++
		f()
		c.nest--
		c.flushIfOutermost()
	}
}

// timeNow is the current time inside an input. A callback that arrives on its own has
// no time: timers it starts begin at the next input, which Deadline asks for at once.
func (c *Coordinator) timeNow() int64 {
	if c.depth > 0 {
		return c.now
	}
	c.timersPending = true
	return timerPending
}

func (c *Coordinator) startPendingTimers() {
	c.timersPending = false
	for _, t := range c.pendingRounds { // order-independent: each starts now
		if r := t.round; r != nil && r.waiting && r.retryFrom == timerPending && c.txns[t.id] == t {
			r.retryFrom = c.now
			c.retries.set(t, r.retryFrom+int64(c.cfg.MarkerRetry))
		}
	}
	c.pendingRounds = nil
}

// setRec makes next t's durable record and files t where its state belongs.
func (c *Coordinator) setRec(t *txn, next txnRecord) {
	t.rec, t.durable = next, true
	if c.txns[t.id] == t && next.state == stateOngoing {
		c.ongoing[t.id] = t
	} else if c.ongoing[t.id] == t {
		delete(c.ongoing, t.id)
	}
	t.expireRetryAt = 0
	c.scheduleExpiry(t)
}

// Availability is the error code every request gets right now: 0 while serving,
// COORDINATOR_LOAD_IN_PROGRESS while loading, NOT_COORDINATOR after a failed load or
// once closed.
func (c *Coordinator) Availability() int16 {
	switch c.phase {
	case phaseServing:
		return codeNone
	case phaseLoading:
		return codeCoordinatorLoadInProgress
	}
	return codeNotCoordinator
}

// LoadErr is why loading failed, or nil.
func (c *Coordinator) LoadErr() error { return c.loadErr }

// Phase is loading, serving, failed or closed.
func (c *Coordinator) Phase() string { return c.phase.String() }

// Close ends the coordinator when the broker stops leading its partition: every reply
// still waiting gets NOT_COORDINATOR, in the order the calls were made, and later
// answers to calls it made are ignored. Every later request gets NOT_COORDINATOR. The
// marker rounds under way stop; the next coordinator resumes them from the log.
func (c *Coordinator) Close() {
	if c.phase == phaseClosed {
		return
	}
	c.deadlineKnown = false
	c.phase = phaseClosed
	c.load = nil
	c.closeQueued()
	for _, id := range slices.Sorted(maps.Keys(c.waits)) {
		onClose := c.waits[id]
		delete(c.waits, id)
		if onClose != nil {
			onClose()
		}
	}
	c.flushIfOutermost()
}

// Tick runs what is due at now: marker rounds waiting to be sent again (or their
// completion to be written again), the check for transactions past their timeout, and
// the expiry of idle transactional ids (at most expirePerTick of them).
func (c *Coordinator) Tick(now int64) {
	if c.deadlineKnown && now < c.deadline && !c.timersPending {
		return // nothing is due: the node ticks every component at every deadline
	}
	now = c.enter(now)
	defer c.leave()
	if c.phase != phaseServing {
		return
	}
	due := c.retries.popDue(now, math.MaxInt)
	slices.SortFunc(due, func(a, b *txn) int { return strings.Compare(a.id, b.id) })
	for _, t := range due {
		if r := t.round; r != nil && r.waiting && c.txns[t.id] == t {
			c.retryRound(t)
		}
	}
	if now >= c.nextAbortCheck {
		c.nextAbortCheck = now + int64(c.cfg.AbortCheckInterval)
		c.abortTimedOut(now)
	}
	c.expireIdle(now)
	c.expireQueued(now)
}

// Deadline is when Tick should run next: the earliest marker retry or expiry, the next
// timeout check while some transaction is Ongoing, now when a timer waits to start,
// math.MaxInt64 when nothing is scheduled. It costs no walk over the ids.
func (c *Coordinator) Deadline() int64 {
	if !c.deadlineKnown {
		c.deadline = c.nextDeadline()
		c.deadlineKnown = true
	}
	return c.deadline
}

func (c *Coordinator) nextDeadline() int64 {
	if c.phase != phaseServing {
		return math.MaxInt64
	}
	if c.timersPending {
		return c.now
	}
	d := int64(math.MaxInt64)
	if at, ok := c.retries.next(); ok {
		d = min(d, at)
	}
	if at, ok := c.expiries.next(); ok {
		d = min(d, at)
	}
	if len(c.ongoing) > 0 {
		d = min(d, c.nextAbortCheck)
	}
	return min(d, c.queueDeadline())
}

func millis(ns int64) int64 { return ns / int64(time.Millisecond) }
