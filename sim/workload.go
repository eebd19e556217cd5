package sim

import (
	"errors"
	"slices"
	"time"

	"github.com/seedlog/seedlog/core"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The metadata workload: clients create, delete and grow topics from a small pool of
// names, describe one topic and list the brokers, all through the Kafka API.
//
// Retries: a request that never left the client is retried (after a metadata refresh)
// until the operation's deadline. A request that left is never retried: if its answer is
// lost the operation is indeterminate, because a retry could apply it a second time and
// no single linearization point would explain the result. Reads have no effect, so they
// retry on any error.

// opBackoff is the pause before a retry.
const opBackoff = 50 * time.Millisecond

// requestTimeout is how long a client waits for one answer.
func (w *World) requestTimeout() time.Duration { return clientRequestTimeout(w.cfg.Timing) }

func clientRequestTimeout(t core.Timing) time.Duration { return max(t.RequestTimeout/3, time.Second) }

// startClients creates the workload clients and schedules their first operations.
func (w *World) startClients() {
	for range w.cfg.Workload.Clients {
		c := w.addClient(roleWorkload)
		c.desc = "a metadata workload client"
		c.onStep = c.adminStep
		c.scheduleNext()
	}
}

// scheduleNext plans the client's next operation after an exponential think time.
func (c *Client) scheduleNext() {
	mean := float64(c.w.cfg.Workload.OpInterval)
	if c.interval > 0 {
		mean = float64(c.interval)
	}
	think := time.Duration(c.rng.ExpFloat64() * mean)
	e := c.w.schedule(c.w.now+int64(think), evWorkload)
	e.node = c.id
}

// nextOp starts the client's next operation, while the safety phase lasts.
func (c *Client) nextOp() {
	if c.act != nil {
		c.act()
		return
	}
	if c.stopped || c.busy || c.w.phase != phaseSafety || c.w.failure != nil {
		return
	}
	op := c.drawOp()
	if s := c.w.script; s != nil {
		st := s.turn(c, StepAdmin)
		if st == nil {
			c.scheduleNext()
			return
		}
		op = st.adminOp()
	}
	c.startAdmin(op, true)
}

// occupy marks the client busy with one step and returns what frees it, telling a
// schedule being replayed that the client can take its next step.
func (c *Client) occupy() (free func()) {
	c.busy = true
	return func() {
		c.busy = false
		if s := c.w.script; s != nil {
			s.freed(c)
		}
	}
}

// startAdmin runs a metadata operation; turn says a generator's turn started it, and
// plans the next turn when it completes.
func (c *Client) startAdmin(op *Op, turn bool) {
	c.w.recordStep(Step{Kind: StepAdmin, Client: c.id, OpKind: op.Kind, Topic: op.Topic, Count: op.Count, RF: op.RF})
	free := c.occupy()
	c.run(op, func() {
		if turn {
			c.scheduleNext()
		}
		free()
	})
}

// adminStep starts a scheduled metadata operation.
func (c *Client) adminStep(st *Step) string {
	if c.stopped {
		return "the client stopped"
	}
	if c.busy {
		return stepBusy
	}
	c.startAdmin(st.adminOp(), false)
	return ""
}

// adminOp is the metadata operation of a step.
func (st *Step) adminOp() *Op {
	return &Op{Kind: st.OpKind, Topic: st.Topic, Count: st.Count, RF: st.RF}
}

// drawOp picks an operation by the seed's mix.
func (c *Client) drawOp() *Op {
	wl := &c.w.cfg.Workload
	rng := c.w.workRng
	topic := wl.Topics[rng.IntN(len(wl.Topics))]
	weights := []int{wl.Create, wl.Delete, wl.CreatePartitions, wl.Describe, wl.ListBrokers}
	total := 0
	for _, x := range weights {
		total += x
	}
	r := rng.IntN(max(total, 1))
	kind := OpDescribe
	for i, x := range weights {
		if r < x {
			kind = OpKind(i + 1)
			break
		}
		r -= x
	}
	op := &Op{Kind: kind, Topic: topic}
	switch kind {
	case OpCreate:
		op.Count = 1 + rng.Int32N(wl.PartitionsMax)
		op.RF = 1 + rng.Int32N(max(wl.RFMax, 1))
	case OpCreatePartitions:
		op.Count = 1 + rng.Int32N(wl.PartitionsMax+2)
	case OpListBrokers:
		op.Topic = ""
	}
	if (kind == OpDelete || kind == OpCreatePartitions) && len(c.w.cfg.Data.Groups) > 0 && rng.IntN(internalTopicOneIn) == 0 {
		op.Topic = coreOffsetsTopic
	}
	return op
}

// internalTopicOneIn: one delete or partition increase in this many aims at
// __consumer_offsets, which must refuse it, when the seed's groups use the topic.
const internalTopicOneIn = 8

// checkInternalTopicAnswer fails the run when a delete or partition increase of
// __consumer_offsets succeeded: either would lose or move every group's committed
// offsets.
func (c *Client) checkInternalTopicAnswer(op *Op) {
	if op.Topic != coreOffsetsTopic {
		return
	}
	if op.Code == errNone {
		c.w.fail("internal-topics", op.Node, "client %d: %s of %s succeeded", c.id, op.Kind, op.Topic)
		return
	}
	if op.Code == errInvalidRequest {
		c.w.cov.Inc("workload:internal-topic-refused")
	}
}

// run performs one operation and calls done when it completed.
func (c *Client) run(op *Op, done func()) {
	w := c.w
	w.invoke(c, op)
	finish := func(outcome Outcome) {
		w.complete(op, outcome)
		done()
	}
	switch op.Kind {
	case OpCreate:
		c.mutate(op, createTopicsRequest(op, w.requestTimeout()), createTopicsCode, finish)
	case OpDelete:
		c.mutate(op, deleteTopicsRequest(op, w.requestTimeout()), deleteTopicsCode, finish)
	case OpCreatePartitions:
		c.mutate(op, createPartitionsRequest(op, w.requestTimeout()), createPartitionsCode, finish)
	case OpDescribe:
		c.read(op, describeTopicRequest, describeResult, w.now+int64(2*w.requestTimeout()), finish)
	case OpListBrokers:
		c.read(op, c.listBrokersRequest, listBrokersResult, w.now+int64(2*w.requestTimeout()), finish)
	}
}

// definite lists, per operation, the error codes that are results the model must
// explain; any other code leaves the effect unknown.
var definite = map[OpKind][]int16{
	OpCreate:           {errTopicAlreadyExists, errInvalidPartitions, errInvalidReplicationFactor, errInvalidTopic, errInvalidReplicaAssignment, errPolicyViolation},
	OpDelete:           {errUnknownTopicOrPartition, errUnknownTopicID},
	OpCreatePartitions: {errUnknownTopicOrPartition, errInvalidPartitions, errInvalidReplicaAssignment, errPolicyViolation},
}

// mutate sends an admin request and classifies the answer.
func (c *Client) mutate(op *Op, req kmsg.Request, code func(kmsg.Response) int16, finish func(Outcome)) {
	w := c.w
	deadline := w.now + int64(2*w.requestTimeout())
	var attempt func()
	attempt = func() {
		target := c.adminTarget()
		op.Node = target
		c.send(target, req, w.requestTimeout(), func(resp kmsg.Response, err error) {
			switch {
			case errors.Is(err, errNotSent) && w.now < deadline && w.failure == nil:
				c.later(opBackoff, func() { c.refreshMetadata(attempt) })
			case errors.Is(err, errNotSent):
				op.Code = -1
				finish(Failed)
			case err != nil:
				c.controller = -1
				finish(Indeterminate)
			default:
				op.Code = code(resp)
				c.checkInternalTopicAnswer(op)
				if op.Kind == OpCreate || op.Kind == OpCreatePartitions {
					w.noteCapRefusal(op.Kind.String(), op.Code)
				}
				switch {
				case op.Code == errNone:
					finish(OK)
				case slices.Contains(definite[op.Kind], op.Code):
					finish(Failed)
				default:
					if op.Code == errNotController {
						c.controller = -1
					}
					finish(Indeterminate)
				}
			}
		})
	}
	if c.controller < 0 {
		// Like a real admin client, learn where admin requests go first.
		c.refreshMetadata(attempt)
		return
	}
	attempt()
}

// read sends a read to any broker, retrying on any failure until the deadline; a read
// that never got an answer is indeterminate (and constrains nothing).
func (c *Client) read(op *Op, build func(*Op) kmsg.Request, result func(*Op, kmsg.Response) bool, deadline int64, finish func(Outcome)) {
	w := c.w
	var attempt func()
	attempt = func() {
		target := c.randomBroker()
		op.Node = target
		c.send(target, build(op), w.requestTimeout(), func(resp kmsg.Response, err error) {
			if md, ok := resp.(*kmsg.MetadataResponse); ok && err == nil {
				c.learn(md)
			}
			if errors.Is(err, errNoVersion) && op.Kind == OpListBrokers && !c.metadataLists {
				c.metadataLists = true
				attempt()
				return
			}
			if err == nil && result(op, resp) {
				finish(OK)
				return
			}
			if w.now >= deadline || w.failure != nil {
				finish(Indeterminate)
				return
			}
			c.later(opBackoff, func() { c.refreshMetadata(attempt) })
		})
	}
	attempt()
}

func createTopicsRequest(op *Op, timeout time.Duration) kmsg.Request {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = int32(timeout / time.Millisecond)
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic = op.Topic
	t.NumPartitions = op.Count
	t.ReplicationFactor = int16(op.RF)
	req.Topics = append(req.Topics, t)
	return req
}

func createTopicsCode(resp kmsg.Response) int16 {
	r := resp.(*kmsg.CreateTopicsResponse)
	if len(r.Topics) != 1 {
		return errInvalidRequest
	}
	return r.Topics[0].ErrorCode
}

func deleteTopicsRequest(op *Op, timeout time.Duration) kmsg.Request {
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = int32(timeout / time.Millisecond)
	req.TopicNames = []string{op.Topic}
	t := kmsg.NewDeleteTopicsRequestTopic()
	t.Topic = kmsg.StringPtr(op.Topic)
	req.Topics = append(req.Topics, t)
	return req
}

func deleteTopicsCode(resp kmsg.Response) int16 {
	r := resp.(*kmsg.DeleteTopicsResponse)
	if len(r.Topics) != 1 {
		return errInvalidRequest
	}
	return r.Topics[0].ErrorCode
}

func createPartitionsRequest(op *Op, timeout time.Duration) kmsg.Request {
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.TimeoutMillis = int32(timeout / time.Millisecond)
	t := kmsg.NewCreatePartitionsRequestTopic()
	t.Topic = op.Topic
	t.Count = op.Count
	req.Topics = append(req.Topics, t)
	return req
}

func createPartitionsCode(resp kmsg.Response) int16 {
	r := resp.(*kmsg.CreatePartitionsResponse)
	if len(r.Topics) != 1 {
		return errInvalidRequest
	}
	return r.Topics[0].ErrorCode
}

func describeTopicRequest(op *Op) kmsg.Request {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(op.Topic)
	req.Topics = append(req.Topics, t)
	req.AllowAutoTopicCreation = false
	return req
}

// describeResult reads a Metadata answer for one topic: it exists with so many
// partitions, or it does not exist. Other errors (a topic whose partitions have no
// leader yet, ...) say nothing definite and the read is retried.
func describeResult(op *Op, resp kmsg.Response) bool {
	r := resp.(*kmsg.MetadataResponse)
	for _, t := range r.Topics {
		if t.Topic == nil || *t.Topic != op.Topic {
			continue
		}
		switch t.ErrorCode {
		case errNone:
			op.Exists, op.Partitions = true, int32(len(t.Partitions))
			return true
		case errUnknownTopicOrPartition:
			op.Exists, op.Partitions = false, 0
			return true
		}
		return false
	}
	return false
}

// listBrokersRequest asks for every registered broker, fenced ones included
// (DescribeCluster v2, KIP-919), or, from a broker that does not serve it, for the live
// brokers (Metadata without topics).
func (c *Client) listBrokersRequest(*Op) kmsg.Request {
	if !c.metadataLists {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.IncludeFencedBrokers = true
		return req
	}
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{}
	return req
}

func listBrokersResult(op *Op, resp kmsg.Response) bool {
	op.Brokers = op.Brokers[:0]
	switch r := resp.(type) {
	case *kmsg.DescribeClusterResponse:
		if r.ErrorCode != errNone {
			return false
		}
		for _, b := range r.Brokers {
			op.Brokers = append(op.Brokers, b.NodeID)
		}
		op.AllBrokers = true
	case *kmsg.MetadataResponse:
		for _, b := range r.Brokers {
			op.Brokers = append(op.Brokers, b.NodeID)
		}
		op.AllBrokers = false
	}
	slices.Sort(op.Brokers)
	return true
}

// liveness drives the liveness phase: once faults stop, a probe client must get a
// metadata operation through within the bound, then a reader reads everything.
type liveness struct {
	w        *World
	start    int64
	probe    *Client
	reader   *Client
	reached  bool
	attempts int
}

// probeTopic is the topic the liveness probe creates (outside the workload's pool).
const probeTopic = "probe"

func startLiveness(w *World) *liveness {
	l := &liveness{w: w, start: w.now}
	for _, c := range w.clients {
		c.stopped = true
	}
	l.probe = w.addClient(roleProbe)
	l.probe.later(w.cfg.LivenessBound, func() {
		if !l.reached {
			w.fail("liveness", -1, "no metadata operation succeeded within %v after faults stopped (%d attempts)", w.cfg.LivenessBound, l.attempts)
		}
	})
	w.checks.livenessStarted(l)
	if w.cfg.Data.BrokerPartitionsMax > 0 {
		sweeper := w.addClient(roleProbe)
		l.clearWorkloadTopics(l.probe, 0, func() {
			l.sweepWorkloadTopics(sweeper)
			l.tryProbe()
		})
		return l
	}
	l.tryProbe()
	return l
}

// tryProbe creates the probe topic (success or "already exists" both show the
// controller answers) and then reads it back.
func (l *liveness) tryProbe() {
	w := l.w
	if w.failure != nil {
		return
	}
	l.attempts++
	op := &Op{Kind: OpCreate, Topic: probeTopic, Count: 1, RF: 1}
	l.probe.run(op, func() {
		if op.Outcome == OK || (op.Outcome == Failed && op.Code == errTopicAlreadyExists) {
			l.readProbe()
			return
		}
		l.probe.later(opBackoff*4, l.tryProbe)
	})
}

func (l *liveness) readProbe() {
	op := &Op{Kind: OpDescribe, Topic: probeTopic}
	l.probe.run(op, func() {
		if op.Outcome == OK && op.Exists {
			l.converged()
			return
		}
		l.probe.later(opBackoff*4, l.tryProbe)
	})
}

// converged starts the final reads.
func (l *liveness) converged() {
	w := l.w
	if l.reached {
		return
	}
	l.reached = true
	w.cov.Inc("liveness:converged")
	if w.data != nil {
		w.data.converge(l.finalMetadataReads)
		return
	}
	l.finalMetadataReads()
}

// finalMetadataReads describes every topic and lists the brokers, then ends the run.
func (l *liveness) finalMetadataReads() {
	w := l.w
	if w.phase != phaseFinalReads {
		w.phase = phaseFinalReads
		w.recordPhase(phaseFinalReads, "final reads: every topic is read to resolve indeterminate operations")
	}
	l.reader = w.addClient(roleReader)
	l.reader.later(w.cfg.LivenessBound, func() {
		if w.phase == phaseFinalReads {
			w.fail("liveness", -1, "final reads did not complete within %v", w.cfg.LivenessBound)
		}
	})
	topics := append(slices.Clone(w.cfg.Workload.Topics), probeTopic)
	topics = append(topics, w.dataTopicNames()...)
	l.finalRead(topics, 0)
}

// finalRead describes topics[i:] one by one, retrying each until it succeeds, then
// lists the brokers, then ends the run.
func (l *liveness) finalRead(topics []string, i int) {
	w := l.w
	if w.failure != nil || w.phase != phaseFinalReads {
		return
	}
	if i == len(topics) {
		op := &Op{Kind: OpListBrokers, Final: true}
		l.reader.run(op, func() {
			if op.Outcome != OK {
				l.reader.later(opBackoff, func() { l.finalRead(topics, i) })
				return
			}
			w.phase = phaseEnd
		})
		return
	}
	op := &Op{Kind: OpDescribe, Topic: topics[i], Final: true}
	l.reader.run(op, func() {
		if op.Outcome != OK {
			l.reader.later(opBackoff, func() { l.finalRead(topics, i) })
			return
		}
		l.finalRead(topics, i+1)
	})
}
