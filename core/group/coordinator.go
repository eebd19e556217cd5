package group

import (
	"encoding/hex"
	"maps"
	"math"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
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

// Coordinator runs the groups of one __consumer_offsets partition this broker leads.
type Coordinator struct {
	cfg     Config
	log     Log
	phase   phase
	loadErr error
	load    *loader // while loading

	groups  map[string]*group
	tickIDs []string // Tick's list of group ids, kept for the next Tick
	// producers indexes the groups holding offsets of an open transaction (or an
	// append of them) by producer id: a marker finds its groups without a walk of all.
	producers map[int64]map[string]bool

	// now is the latest time an input carried. depth counts the inputs on the stack, so
	// work done in a Log callback that arrives outside any input knows it has no time.
	now   int64
	depth int
	// timersPending: some timer was started by a callback outside an input and starts
	// for real at the next input.
	timersPending bool

	// deadline is Deadline's last answer, still right while deadlineKnown. Every way
	// into the coordinator that can change its state (an input, a Log callback, Close)
	// clears deadlineKnown, so Deadline walks the groups only after a change.
	deadline      int64
	deadlineKnown bool

	appends         map[uint64]*appendOp // appends handed to the log, not yet done
	nextOpID        uint64
	commitsInFlight int // appends of commits and OffsetDelete not yet done
	// expiriesInFlight counts the expiry appends not yet done; nextExpiryCheck is when
	// the expiry check runs next (while some group may expire).
	expiriesInFlight int
	nextExpiryCheck  int64

	// outbox holds replies until the state they come from is settled: they go out, in
	// order, when the outermost input or Log callback returns, so a reply that calls
	// back into the coordinator finds it consistent.
	outbox []func()
}

// appendOp is one append waiting for the log's done.
type appendOp struct {
	done    func(baseOffset int64, err error)
	onClose func() // answers the replies the op holds with NOT_COORDINATOR; may be nil
}

// NewCoordinator starts a coordinator for cfg.Partition: it reads the partition through
// log.Load, answering COORDINATOR_LOAD_IN_PROGRESS until that is done.
func NewCoordinator(now int64, cfg Config, log Log) *Coordinator {
	assert(cfg.Rand != nil, "Config.Rand is nil")
	c := &Coordinator{
		cfg:       cfg.withDefaults(),
		log:       log,
		groups:    map[string]*group{},
		producers: map[int64]map[string]bool{},
		appends:   map[uint64]*appendOp{},
		now:       now,
		load:      newLoader(),
	}
	c.enter(now)
	defer c.leave()
	c.log.Load(now, c.loadChunk, c.loadDone)
	return c
}

// enter marks the start of an input at now and returns the time to use: the clock is
// taken as never going back. Timers started outside an input start now.
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
	if c.depth == 0 {
		c.flush()
	}
}

// deferred wraps a reply so that it goes through the outbox.
func deferred[T any](c *Coordinator, reply func(T)) func(T) {
	return func(v T) { c.outbox = append(c.outbox, func() { reply(v) }) }
}

func (c *Coordinator) flush() {
	for len(c.outbox) > 0 {
		f := c.outbox[0]
		c.outbox = c.outbox[1:]
		f()
	}
}

// timeNow is the current time inside an input. A Log callback that arrives on its own
// has no time: timers it starts begin at the next input, which Deadline asks for at once.
func (c *Coordinator) timeNow() int64 {
	if c.depth > 0 {
		return c.now
	}
	c.timersPending = true
	return timerPending
}

func (c *Coordinator) startPendingTimers() {
	c.timersPending = false
	for _, g := range c.groups {
		for _, m := range g.members {
			if m.sessionFrom == timerPending {
				m.sessionFrom = c.now
			}
		}
		if g.joinFrom == timerPending {
			g.joinFrom = c.now
		}
		if g.syncFrom == timerPending {
			g.syncFrom = c.now
		}
	}
}

// Availability is the error code every request gets right now: 0 while serving,
// COORDINATOR_LOAD_IN_PROGRESS while loading, COORDINATOR_NOT_AVAILABLE after a failed
// load, NOT_COORDINATOR once closed.
func (c *Coordinator) Availability() int16 {
	switch c.phase {
	case phaseServing:
		return codeNone
	case phaseLoading:
		return codeCoordinatorLoadInProgress
	case phaseFailed:
		return codeCoordinatorNotAvailable
	}
	return codeNotCoordinator
}

// LoadErr is why loading failed, or nil.
func (c *Coordinator) LoadErr() error { return c.loadErr }

// append hands recs to the log. done runs once the log answers, unless the coordinator
// closed first; then onClose runs instead (at Close). All state the completion depends
// on must be in place before the call: the log may answer before append returns.
func (c *Coordinator) append(recs []KV, done func(baseOffset int64, err error), onClose func()) {
	c.submit(func(cb func(int64, error)) { c.log.Append(c.now, recs, cb) }, done, onClose)
}

// appendTxn is append for the offsets of producer pid's transaction.
func (c *Coordinator) appendTxn(pid int64, epoch int16, guard any, recs []KV, done func(baseOffset int64, err error), onClose func()) {
	c.submit(func(cb func(int64, error)) { c.log.AppendTxn(c.now, pid, epoch, guard, recs, cb) }, done, onClose)
}

// submit hands one append to the log through write, with append's contract.
func (c *Coordinator) submit(write func(cb func(int64, error)), done func(baseOffset int64, err error), onClose func()) {
	c.nextOpID++
	id := c.nextOpID
	c.appends[id] = &appendOp{done: done, onClose: onClose}
	write(func(baseOffset int64, err error) {
		op := c.appends[id]
		if op == nil {
			return // closed, or a second answer from a faulty log
		}
		c.deadlineKnown = false
		delete(c.appends, id)
		op.done(baseOffset, err)
		if c.depth == 0 {
			c.flush()
		}
	})
}

// Close ends the coordinator when the broker stops leading its partition: every reply
// still waiting gets NOT_COORDINATOR, in a fixed order, and later Log answers are
// ignored. Every later request gets NOT_COORDINATOR.
func (c *Coordinator) Close() {
	if c.phase == phaseClosed {
		return
	}
	c.deadlineKnown = false
	c.phase = phaseClosed
	c.load = nil
	for _, id := range slices.Sorted(maps.Keys(c.appends)) {
		op := c.appends[id]
		delete(c.appends, id)
		if op.onClose != nil {
			op.onClose()
		}
	}
	for _, gid := range slices.Sorted(maps.Keys(c.groups)) {
		g := c.groups[gid]
		for _, mid := range g.memberIDs() {
			c.answerWaiting(g.members[mid], codeNotCoordinator)
		}
	}
	if c.depth == 0 {
		c.flush()
	}
}

// answerWaiting answers m's waiting join and sync with code.
func (c *Coordinator) answerWaiting(m *member, code int16) {
	if m.joinReply != nil {
		c.answerJoin(m, joinError(code, m.id))
	}
	if m.syncReply != nil {
		c.answerSync(m, syncError(code))
	}
}

// answerJoin answers m's waiting JoinGroup. A member is not expected to heartbeat while
// it waits, so its session restarts with the answer.
func (c *Coordinator) answerJoin(m *member, resp *kmsg.JoinGroupResponse) {
	r := m.joinReply
	m.joinReply = nil
	m.sessionFrom = c.timeNow()
	r(resp)
}

// answerSync answers m's waiting SyncGroup; like answerJoin, it restarts the session.
func (c *Coordinator) answerSync(m *member, resp *kmsg.SyncGroupResponse) {
	r := m.syncReply
	m.syncReply = nil
	m.sessionFrom = c.timeNow()
	r(resp)
}

// Tick runs the timers due at now: forgotten member ids, expired sessions, join phases
// and sync phases that ran out, and the expiry check of offsets.
func (c *Coordinator) Tick(now int64) {
	now = c.enter(now)
	defer c.leave()
	if c.phase != phaseServing {
		return
	}
	// A node ticks every coordinator at every tick: the ids go in a list kept for the
	// next Tick (a Tick nested in a callback of this one makes its own).
	ids := c.tickIDs[:0]
	c.tickIDs = nil
	// order-independent: sorted below.
	for gid := range c.groups {
		ids = append(ids, gid)
	}
	slices.Sort(ids)
	for _, gid := range ids {
		g := c.groups[gid]
		c.expirePending(now, g)
		c.expireSessions(now, g)
		c.expireJoin(now, g)
		c.expireSync(now, g)
		c.dropIfVacant(g)
	}
	clear(ids)
	c.tickIDs = ids[:0]
	if now >= c.nextExpiryCheck {
		c.nextExpiryCheck = now + int64(c.cfg.OffsetsRetentionCheck)
		if c.cfg.Current == nil || c.cfg.Current(now) {
			c.expireOffsets(now)
		}
	}
}

// Deadline is when Tick should run next: the earliest timer, now when a timer waits to
// start, math.MaxInt64 when nothing is scheduled.
func (c *Coordinator) Deadline() int64 {
	if !c.deadlineKnown {
		c.deadline = c.nextDeadline()
		c.deadlineKnown = true
	}
	return c.deadline
}

// nextDeadline computes Deadline's answer from the groups.
func (c *Coordinator) nextDeadline() int64 {
	if c.phase != phaseServing {
		return math.MaxInt64
	}
	if c.timersPending {
		return c.now
	}
	d := int64(math.MaxInt64)
	expiry := false
	for _, g := range c.groups { // order-independent: a minimum and an or
		d = min(d, g.deadline())
		expiry = expiry || g.mayExpire(c.cfg.Plants)
	}
	if expiry {
		d = min(d, c.nextExpiryCheck)
	}
	return d
}

// deadline is the group's earliest timer.
func (g *group) deadline() int64 {
	d := int64(math.MaxInt64)
	for _, until := range g.pending {
		d = min(d, until)
	}
	for _, m := range g.members {
		if !m.awaiting() {
			d = min(d, m.sessionDeadline())
		}
	}
	switch g.state {
	case statePreparingRebalance:
		d = min(d, g.joinFrom+g.joinDelay)
	case stateCompletingRebalance, stateStable:
		if len(g.pendingSync) > 0 {
			d = min(d, g.syncFrom+g.rebalanceTimeout)
		}
	}
	return d
}

// dropIfVacant forgets a group that holds nothing worth keeping (one a refused join or
// an unanswered MEMBER_ID_REQUIRED created), so such groups do not pile up.
func (c *Coordinator) dropIfVacant(g *group) {
	if c.groups[g.id] == g && g.vacant() {
		delete(c.groups, g.id)
	}
}

// newMemberID is prefix, a dash and a random UUID, as Kafka forms member ids.
func (c *Coordinator) newMemberID(g *group, prefix string) string {
	for {
		var u [16]byte
		for i := 0; i < 16; i += 8 {
			v := c.cfg.Rand.Uint64()
			for j := range 8 {
				u[i+j] = byte(v >> (8 * j))
			}
		}
		u[6] = u[6]&0x0f | 0x40 // version 4
		u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
		h := hex.EncodeToString(u[:])
		id := prefix + "-" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
		if _, taken := g.pending[id]; !taken && g.members[id] == nil {
			return id
		}
	}
}
