package controller

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/seedlog/seedlog/core/metadata"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Bounds on what requests can make the controller hold or propose.
const (
	// WaitingMax bounds the requests waiting for their records to commit. A request
	// beyond it is answered at once with REQUEST_TIMED_OUT (retriable).
	WaitingMax = 4096
	// RecordsPerProposalMax bounds one proposal. A topic or partition increase that
	// needs more records is refused with INVALID_PARTITIONS; fencing work is split.
	RecordsPerProposalMax = 10_000
	// RequestRecordsMax bounds the records one admin request may propose in total; the
	// items beyond it fail with THROTTLING_QUOTA_EXCEEDED, which clients retry.
	RequestRecordsMax = 50_000
	// BrokersMax bounds registrations.
	BrokersMax = 1024
	// proposeRetry is how long fencing and leadership moves wait after the quorum
	// refused a proposal, so that Deadline never asks for a Tick at the same instant
	// over and over.
	proposeRetry = 100 * time.Millisecond
)

// Proposer appends records to the quorum log. The records of one call take consecutive
// offsets ending at lastOffset, after everything proposed before.
type Proposer interface {
	Propose(now int64, records [][]byte) (lastOffset int64, err error)
}

// Request is one request for the controller. From is the broker that sent it, or -1
// when a broker forwards it on behalf of a client.
type Request struct {
	ID   uint64
	From int32
	Msg  kmsg.Request
}

// Response answers the Request with the same ID. Msg has the request's version.
type Response struct {
	ID  uint64
	Msg kmsg.Response
}

// Status is the controller's view, for checkers and traces.
type Status struct {
	Active          bool
	CommittedOffset int64
	PendingOffset   int64 // the last offset proposed (== committed when idle)
	Waiting         int
	Brokers         []BrokerStatus
}

// BrokerStatus is one broker as the active controller sees it. Times are nanoseconds
// on the controller's clock; they are zero when the controller is not active.
type BrokerStatus struct {
	ID            int32
	Epoch         int64
	Fenced        bool
	ShuttingDown  bool
	LastHeartbeat int64
	// FenceAt is when the controller fences the broker if it hears nothing more.
	FenceAt int64
	// LeaseEndMax is the latest time, on the controller's clock, at which the lease of
	// the broker's last acknowledged heartbeat can end. Lease safety is LeaseEndMax <
	// FenceAt.
	LeaseEndMax int64
}

// waiter is a response held until the records it depends on commit.
type waiter struct {
	req    Request
	resp   kmsg.Response
	offset int64 // release once the committed image reaches it
}

// Controller is the active controller's state machine. See the package doc.
type Controller struct {
	cfg       Config
	active    bool
	now       int64
	committed metadata.Image
	// pending is committed plus every record proposed and not yet committed.
	pending metadata.Image
	// proposedOffset is the last offset proposed in this term, or the committed offset
	// at activation.
	proposedOffset int64
	// lastHeard is when each registered broker was last heard from (controller-local).
	lastHeard map[int32]int64
	// shuttingDown marks brokers in controlled shutdown. Volatile: a broker repeats
	// WantShutdown in every heartbeat, so a new controller learns it again.
	shuttingDown map[int32]bool
	// reconcile is set while leaderships or ISRs may still need to move off brokers that
	// are fenced or shutting down, or leaderless partitions may be able to elect.
	reconcile bool
	// retryAt holds fencing and leadership moves back after a refused proposal.
	retryAt int64
	// rebalanceAt is when auto.leader.rebalance.enable next checks leader balance;
	// rebalanced counts the leaderships it moved, until TakeRebalanced.
	rebalanceAt int64
	rebalanced  int
	// moving lists the partitions a reassignment moves (reassign.go), and moveAt is
	// when advanceMoves next looks at them.
	moving  []metadata.TopicPartition
	moveAt  int64
	waiting []waiter // in arrival order; offsets never decrease
	ready   []Response
	// aclWaiting holds committed ACL changes' responses until the brokers hold them
	// (acls.go); reported is the metadata offset each broker last reported.
	aclWaiting []aclWaiter
	reported   map[int32]int64
	// deadline is Deadline's last answer, still right while deadlineKnown: every input
	// (observe) and Deactivate clear it.
	deadline      int64
	deadlineKnown bool
	// proposalMax is RecordsPerProposalMax; tests lower it to exercise splitting.
	proposalMax int
}

// New returns an inactive controller. It panics on a config Validate rejects: the
// node validates its configuration at start-up.
func New(cfg Config) *Controller {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	return &Controller{cfg: cfg, proposalMax: RecordsPerProposalMax}
}

// Supports reports whether Handle accepts requests with this API key.
func Supports(key int16) bool {
	switch key {
	case 19, 20, 30, 31, 33, 37, 43, 44, 45, 49, 51, 56, 62, 63, 64, 67:
		return true
	}
	return false
}

// Activate makes this controller active: its node now leads the quorum, and committed
// is the image of every record the quorum has committed. Precondition: the quorum's
// high watermark covers the start of the new leader epoch, so committed holds every
// record of earlier epochs and nothing proposed earlier can still commit unseen.
//
// Every registered broker is treated as heard from now: the controller waits a whole
// session before fencing anyone, since it cannot know which heartbeats its predecessor
// acknowledged.
func (c *Controller) Activate(now int64, committed metadata.Image) {
	if c.active {
		c.Deactivate()
	}
	c.observe(now)
	c.active = true
	c.committed, c.pending = committed, committed
	c.proposedOffset = committed.Offset()
	c.lastHeard = map[int32]int64{}
	for _, id := range committed.BrokerIDs() {
		c.lastHeard[id] = c.now
	}
	c.reported = map[int32]int64{}
	c.shuttingDown = map[int32]bool{}
	c.reconcile = true
	c.retryAt = 0
	c.rebalanceAt = c.now + int64(c.cfg.LeaderImbalanceCheckInterval)
	c.findMoving()
}

// Deactivate is called when the node lost quorum leadership: every waiting request
// fails with NOT_CONTROLLER and the volatile state is dropped.
func (c *Controller) Deactivate() {
	c.deadlineKnown = false
	for _, w := range c.waiting {
		c.ready = append(c.ready, Response{ID: w.req.ID, Msg: errorResponse(w.req.Msg, fail(errNotController, ""))})
	}
	for _, w := range c.aclWaiting {
		// Committed, but perhaps not yet held everywhere: the client cannot count on it.
		c.ready = append(c.ready, Response{ID: w.id, Msg: errorResponse(aclRequestOf(w.resp), fail(errNotController, ""))})
	}
	c.waiting, c.aclWaiting, c.reported = nil, nil, nil
	c.active = false
	c.pending = c.committed
	c.lastHeard, c.shuttingDown, c.reconcile = nil, nil, false
	c.moving = nil
}

// Committed tells the controller the committed image advanced to im.
func (c *Controller) Committed(now int64, im metadata.Image) {
	c.observe(now)
	c.committed = im
	if !c.active {
		c.pending = im
		return
	}
	if im.Offset() >= c.proposedOffset {
		// Everything proposed has committed: the two images must agree.
		c.pending = im
	}
	for _, id := range im.BrokerIDs() {
		if _, ok := c.lastHeard[id]; !ok {
			c.lastHeard[id] = c.now
		}
	}
	if len(c.moving) > 0 {
		c.moveAt = c.now // an ISR change may let a move take its next step
	}
	c.release()
}

// Handle takes one request. Its response comes out of Ready, once the records it
// proposed (and any proposed before it) have committed. Handle panics on an API key
// Supports rejects: routing is the node's job.
func (c *Controller) Handle(now int64, p Proposer, req Request) {
	c.observe(now)
	if !Supports(req.Msg.Key()) {
		panic(fmt.Sprintf("controller: request key %d routed to the controller", req.Msg.Key()))
	}
	if !c.active {
		c.respondNow(req, errorResponse(req.Msg, fail(errNotController, "")))
		return
	}
	if len(c.waiting) >= WaitingMax {
		c.respondNow(req, errorResponse(req.Msg, fail(errRequestTimedOut, "controller busy")))
		return
	}
	// A session that ran out is fenced before anything else reads liveness.
	c.fenceExpired(p)
	resp := c.dispatch(p, req)
	c.waiting = append(c.waiting, waiter{req: req, resp: resp, offset: c.proposedOffset})
	c.release()
}

func (c *Controller) dispatch(p Proposer, req Request) kmsg.Response {
	switch m := req.Msg.(type) {
	case *kmsg.BrokerRegistrationRequest:
		return c.register(p, req.From, m)
	case *kmsg.BrokerHeartbeatRequest:
		return c.heartbeat(p, req.From, m)
	case *kmsg.AlterPartitionRequest:
		return c.alterPartition(p, req.From, m)
	case *kmsg.CreateTopicsRequest:
		return c.createTopics(p, m)
	case *kmsg.DeleteTopicsRequest:
		return c.deleteTopics(p, m)
	case *kmsg.CreatePartitionsRequest:
		return c.createPartitions(p, m)
	case *kmsg.IncrementalAlterConfigsRequest:
		return c.incrementalAlterConfigs(p, m)
	case *kmsg.AlterConfigsRequest:
		return c.alterConfigs(p, m)
	case *kmsg.AllocateProducerIDsRequest:
		return c.allocateProducerIDs(p, req.From, m)
	case *kmsg.AlterUserSCRAMCredentialsRequest:
		return c.alterScram(p, m)
	case *kmsg.CreateACLsRequest:
		return c.createAcls(p, m)
	case *kmsg.DeleteACLsRequest:
		return c.deleteAcls(p, m)
	case *kmsg.AlterClientQuotasRequest:
		return c.alterClientQuotas(p, m)
	case *kmsg.ElectLeadersRequest:
		return c.electLeaders(p, m)
	case *kmsg.AlterPartitionAssignmentsRequest:
		return c.alterReassignments(p, m)
	case *kmsg.UnregisterBrokerRequest:
		return c.unregisterBroker(p, m)
	}
	panic(fmt.Sprintf("controller: no handler for %T", req.Msg))
}

// Tick fences brokers whose session ran out and finishes moving leaderships.
func (c *Controller) Tick(now int64, p Proposer) {
	c.observe(now)
	if !c.active {
		return
	}
	c.fenceExpired(p)
	if c.reconcile {
		c.reconcileAll(p)
	}
	if c.cfg.AutoLeaderRebalance && c.now >= c.rebalanceAt {
		c.rebalanceAt = c.now + int64(c.cfg.LeaderImbalanceCheckInterval)
		c.rebalanceLeaders(p)
	}
	if len(c.moving) > 0 && c.now >= c.moveAt {
		c.advanceMoves(p)
	}
	c.releaseAcls()
}

// Deadline is when Tick next has work: the earliest session expiry, or now while
// leadership moves are unfinished. math.MaxInt64 when there is nothing to wait for.
func (c *Controller) Deadline() int64 {
	if !c.deadlineKnown {
		c.deadline = c.nextDeadline()
		c.deadlineKnown = true
	}
	return c.deadline
}

// nextDeadline computes Deadline's answer.
func (c *Controller) nextDeadline() int64 {
	if !c.active {
		return math.MaxInt64
	}
	at := int64(math.MaxInt64)
	if c.reconcile {
		at = c.now
	}
	at = min(at, c.pending.MinUnfenced(c.fenceAt, math.MaxInt64))
	at = max(at, c.retryAt)
	if len(c.aclWaiting) > 0 {
		at = min(at, c.aclDeadline())
	}
	if c.cfg.AutoLeaderRebalance {
		at = min(at, c.rebalanceAt)
	}
	if len(c.moving) > 0 {
		at = min(at, c.moveAt)
	}
	return at
}

// Ready drains the responses that may be sent. The node calls it after every input.
// Responses come out in arrival order, except that REQUEST_TIMED_OUT for a request
// refused because WaitingMax requests were waiting overtakes them.
func (c *Controller) Ready() []Response {
	out := c.ready
	c.ready = nil
	return out
}

// Status reports the controller's view of the brokers.
func (c *Controller) Status() Status {
	st := Status{Active: c.active, CommittedOffset: c.committed.Offset(), PendingOffset: c.pending.Offset(),
		Waiting: len(c.waiting)}
	for _, b := range c.pending.Brokers() {
		bs := BrokerStatus{ID: b.ID, Epoch: b.Epoch, Fenced: b.Fenced, ShuttingDown: c.shuttingDown[b.ID]}
		if c.active {
			bs.LastHeartbeat = c.lastHeard[b.ID]
			bs.FenceAt = c.fenceAt(b.ID)
			bs.LeaseEndMax = bs.LastHeartbeat + c.leaseSpanMax()
		}
		st.Brokers = append(st.Brokers, bs)
	}
	return st
}

// EachBroker calls fn with every registered broker as Status would list it (without
// FenceAt and LeaseEndMax), for checkers that look after every step, when the
// controller is active; it reports whether it is. ids is scratch space, returned for
// reuse.
func (c *Controller) EachBroker(ids []int32, fn func(BrokerStatus)) (bool, []int32) {
	if !c.active {
		return false, ids
	}
	ids = c.pending.AppendBrokerIDs(ids[:0])
	for _, id := range ids {
		epoch, fenced, _ := c.pending.BrokerEpoch(id)
		fn(BrokerStatus{ID: id, Epoch: epoch, Fenced: fenced, ShuttingDown: c.shuttingDown[id], LastHeartbeat: c.lastHeard[id]})
	}
	return true, ids
}

// leaseSpanMax bounds, on the controller's clock, how long after receiving a heartbeat
// the broker's lease from it can last: the broker sent it no later than it arrived, and
// LeaseDuration on the broker's clock is at most LeaseDuration/(1-drift) real time,
// which the controller's clock measures as at most (1+drift) times that.
func (c *Controller) leaseSpanMax() int64 {
	d := c.cfg.ClockDriftMax
	return int64(math.Ceil(float64(c.cfg.LeaseDuration) * (1 + d) / (1 - d)))
}

// leaseGoneAt is when, on the controller's clock, every lease broker id can hold has
// ended: LeaseDuration after the last heartbeat this controller acknowledged or, when a
// deposed controller acknowledged a later one, LeaseDuration plus that one's
// QuorumFetchTimeout after this controller's activation (where lastHeard starts), both
// stretched by the clock drift (see the package doc). LeaseSafe puts it before fenceAt.
func (c *Controller) leaseGoneAt(id int32) int64 {
	d := c.cfg.ClockDriftMax
	return c.lastHeard[id] + int64(math.Ceil(float64(c.cfg.LeaseDuration+c.cfg.QuorumFetchTimeout)*(1+d)/(1-d)))
}

func (c *Controller) fenceAt(id int32) int64 {
	if c.cfg.Plants.On(plant.FenceBeforeLease) {
		// Planted bug: one tick before the lease of the last heartbeat can have ended.
		return c.lastHeard[id] + c.leaseSpanMax() - int64(fenceTick)
	}
	return c.lastHeard[id] + int64(c.cfg.SessionTimeout)
}

// fenceTick is the tick the plant fence-before-lease fences that much too early.
const fenceTick = time.Millisecond

// observe takes the time of an input. Every input calls it before changing anything,
// so it also forgets the deadline.
func (c *Controller) observe(now int64) {
	c.deadlineKnown = false
	if now > c.now {
		c.now = now
	}
}

func (c *Controller) respondNow(req Request, resp kmsg.Response) {
	c.ready = append(c.ready, Response{ID: req.ID, Msg: resp})
}

// release moves every waiting response whose records have committed to ready, in order.
func (c *Controller) release() {
	n := 0
	for n < len(c.waiting) && c.waiting[n].offset <= c.committed.Offset() {
		w := c.waiting[n]
		if k := w.req.Msg.Key(); k == 30 || k == 31 {
			c.aclWaiting = append(c.aclWaiting, aclWaiter{id: w.req.ID, resp: w.resp, offset: w.offset})
		} else {
			c.ready = append(c.ready, Response{ID: w.req.ID, Msg: w.resp})
		}
		n++
	}
	c.releaseAcls()
	c.waiting = c.waiting[n:]
	if len(c.waiting) == 0 {
		c.waiting = nil
	}
}

// Errors from propose.
var (
	errProposalInvalid = errors.New("controller: proposal fails validation")
	errProposeFailed   = errors.New("controller: quorum refused the proposal")
)

// propose checks recs against the pending image, hands them to the quorum and applies
// them to the pending image at the offsets the quorum assigned.
func (c *Controller) propose(p Proposer, recs []metadata.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if len(recs) > c.proposalMax {
		panic(fmt.Sprintf("controller: proposal of %d records", len(recs)))
	}
	entries := make([]metadata.Entry, len(recs))
	encoded := make([][]byte, len(recs))
	for i, r := range recs {
		entries[i] = metadata.Entry{Offset: c.pending.Offset() + 1 + int64(i), Record: r}
		encoded[i] = metadata.Encode(r)
	}
	// Validation does not depend on the exact offsets, only on their order. The trial
	// image is the new one when the quorum places the records where the trial did, as
	// it does unless it wrote entries of its own in between: applying a change copies
	// its topic's partition list, which costs at many partitions.
	next, err := c.pending.ApplyBatch(entries)
	if err != nil {
		return fmt.Errorf("%w: %w", errProposalInvalid, err)
	}
	last, err := p.Propose(c.now, encoded)
	if err != nil {
		return fmt.Errorf("%w: %w", errProposeFailed, err)
	}
	first := last - int64(len(recs)) + 1
	if first <= c.proposedOffset || first <= c.pending.Offset() {
		panic(fmt.Sprintf("controller: quorum placed a proposal at %d..%d, not after %d", first, last, c.proposedOffset))
	}
	if first != entries[0].Offset {
		for i := range entries {
			entries[i].Offset = first + int64(i)
		}
		if next, err = c.pending.ApplyBatch(entries); err != nil {
			panic(fmt.Sprintf("controller: proposal valid at trial offsets but not at %d..%d: %v", first, last, err))
		}
	}
	c.pending, c.proposedOffset = next, last
	return nil
}

// proposeOutcome maps a propose error to what the request is told.
func proposeOutcome(err error) outcome {
	switch {
	case err == nil:
		return ok()
	case errors.Is(err, errProposalInvalid):
		return fail(errUnknownServerError, err.Error())
	default:
		return fail(errNotController, err.Error())
	}
}
