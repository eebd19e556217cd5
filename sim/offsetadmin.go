package sim

import (
	"errors"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The offsets administrator (DataConfig.OffsetAdminInterval) works on committed offsets
// from outside any group's membership, as operators and their tools do. Every ~interval
// of the safety phase it does one of:
//
//   - commit an offset of a data partition to its own group adminGroup outside any
//     generation; the group never has members, so its offsets expire counting from
//     their commits;
//   - delete offsets (OffsetDelete) of one partition or of a whole topic, of
//     adminGroup or of the consumer group, which refuses them with
//     GROUP_SUBSCRIBED_TO_TOPIC while it has members and loses them once it is Empty;
//   - read every data partition's offset in either group (OffsetFetch).
//
// Each is one operation of the history. The committed-offsets model takes a deletion
// answered NONE as a write of -1; offsetlife.go checks what the model cannot.

// adminGroup is the administrator's own group, which only ever commits.
const adminGroup = "s0"

// offsetAdmin is the offsets administrator's client.
type offsetAdmin struct {
	c *Client
	// coord is the coordinator the administrator last found for each group.
	coord map[string]int32
	// next is the next offset it commits: distinct values let the history tell every
	// commit apart.
	next int64
	busy bool
}

func (w *World) startOffsetAdmin() *offsetAdmin {
	c := w.addClient(roleOffsetAdmin)
	c.interval = w.cfg.Data.OffsetAdminInterval
	a := &offsetAdmin{c: c, coord: map[string]int32{}, next: 1}
	c.desc = "the offsets administrator"
	c.act = a.tick
	c.onStep = a.step
	c.scheduleNext()
	return a
}

func (a *offsetAdmin) tick() {
	c := a.c
	w := c.w
	if w.phase != phaseSafety || w.failure != nil {
		return
	}
	if a.busy {
		c.scheduleNext()
		return
	}
	tp, ok := c.pickPartition()
	if !ok {
		c.refreshTopics(nil)
		c.scheduleNext()
		return
	}
	st := a.draw(tp)
	if s := w.script; s != nil {
		planned := s.turn(c, StepOffsetCommit, StepOffsetDelete, StepOffsetFetch)
		if planned == nil {
			c.scheduleNext()
			return
		}
		st = *planned
	}
	a.busy = true
	a.run(&st, true)
}

// draw picks the next operation, on tp where it needs a partition.
func (a *offsetAdmin) draw(tp TopicPartition) Step {
	c := a.c
	group := adminGroup
	if gs := c.w.cfg.Data.Groups; len(gs) > 0 && c.rng.IntN(2) == 0 {
		group = gs[0].Name
	}
	switch x := c.rng.IntN(10); {
	case x < 4:
		return Step{Kind: StepOffsetCommit, Client: c.id, Group: adminGroup, Topic: tp.Topic, Partition: tp.Partition, Offset: a.next}
	case x < 7:
		st := Step{Kind: StepOffsetDelete, Client: c.id, Group: group, Topic: tp.Topic, Partition: tp.Partition}
		if c.rng.IntN(2) == 0 {
			st.Partition = -1
		}
		return st
	}
	return Step{Kind: StepOffsetFetch, Client: c.id, Group: group}
}

// step starts a scheduled operation.
func (a *offsetAdmin) step(st *Step) string {
	if a.busy {
		return stepBusy
	}
	a.busy = true
	a.run(st, false)
	return ""
}

// run performs st; turn says a generator's turn started it, and plans the next turn
// when it completes.
func (a *offsetAdmin) run(st *Step, turn bool) {
	c := a.c
	w := c.w
	w.recordStep(Step{Kind: st.Kind, Client: c.id, Group: st.Group, Topic: st.Topic, Partition: st.Partition, Offset: st.Offset})
	done := func() {
		a.busy = false
		if turn {
			c.scheduleNext()
		}
		if s := w.script; s != nil {
			s.freed(c)
		}
	}
	a.locate(st.Group, func(node int32) {
		if node < 0 {
			c.later(dataBackoff, done)
			return
		}
		switch st.Kind {
		case StepOffsetCommit:
			a.next = max(a.next, st.Offset+1)
			a.commit(node, st.Group, TopicPartition{st.Topic, st.Partition}, st.Offset, done)
		case StepOffsetDelete:
			a.delete(node, st.Group, st.Topic, st.Partition, done)
		default:
			a.fetch(node, st.Group, done)
		}
	})
}

// locate finds group's coordinator (or remembers it) and calls then with it, -1 when
// it could not.
func (a *offsetAdmin) locate(group string, then func(node int32)) {
	c := a.c
	w := c.w
	if node, ok := a.coord[group]; ok {
		then(node)
		return
	}
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKey = group
	req.CoordinatorKeys = []string{group}
	c.send(c.randomBroker(), req, w.requestTimeout(), func(resp kmsg.Response, err error) {
		if err != nil {
			then(-1)
			return
		}
		r := resp.(*kmsg.FindCoordinatorResponse)
		code, node := r.ErrorCode, r.NodeID
		if r.GetVersion() >= 4 {
			code, node = errInvalidRequest, -1
			if len(r.Coordinators) == 1 {
				code, node = r.Coordinators[0].ErrorCode, r.Coordinators[0].NodeID
			}
		}
		if code != errNone || w.node(node) == nil {
			then(-1)
			return
		}
		a.coord[group] = node
		then(node)
	})
}

// lost forgets group's coordinator after an answer that says it moved or may have.
func (a *offsetAdmin) lost(group string) { delete(a.coord, group) }

// commit commits offset for tp in group, outside any generation; it returns the
// operation, which done follows.
func (a *offsetAdmin) commit(node int32, group string, tp TopicPartition, offset int64, done func()) *Op {
	c := a.c
	w := c.w
	op := &Op{Kind: OpCommit, Group: group, Generation: -1, Offsets: []PartitionOffset{{tp, offset}}, Producer: -1}
	w.invoke(c, op)
	op.Node = node
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation, req.RetentionTimeMillis = group, -1, -1
	t := kmsg.NewOffsetCommitRequestTopic()
	t.Topic = tp.Topic
	p := kmsg.NewOffsetCommitRequestTopicPartition()
	p.Partition, p.Offset, p.LeaderEpoch = tp.Partition, offset, -1
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	c.send(node, req, w.requestTimeout(), func(resp kmsg.Response, err error) {
		defer done()
		switch {
		case errors.Is(err, errNotSent):
			op.Code = -1
			a.lost(group)
			w.complete(op, Failed)
			return
		case err != nil:
			a.lost(group)
			w.complete(op, Indeterminate)
			return
		}
		op.Code = commitCode(resp.(*kmsg.OffsetCommitResponse), 1)
		switch {
		case op.Code == errNone:
			w.cov.Inc("offsets:admin-commit")
			w.complete(op, OK)
		case slices.Contains(commitNoEffect, op.Code):
			w.complete(op, Failed)
		default:
			a.lost(group)
			w.complete(op, Indeterminate)
		}
	})
	return op
}

// offsetDeleteNoEffect are the group-level OffsetDelete answers that say nothing was
// deleted. NOT_COORDINATOR and COORDINATOR_NOT_AVAILABLE are not among them: a
// coordinator answers them when its tombstones' append failed or it closed meanwhile,
// and the tombstones may be in the log.
var offsetDeleteNoEffect = []int16{errGroupIDNotFound, errNonEmptyGroup, errCoordinatorLoadInProgress, 24 /* INVALID_GROUP_ID */}

// delete deletes group's offsets of topic's partition (-1: of every partition it knows).
func (a *offsetAdmin) delete(node int32, group, topic string, partition int32, done func()) {
	c := a.c
	w := c.w
	parts := []int32{partition}
	if partition < 0 {
		parts = parts[:0]
		for p := range c.partitions(topic) {
			parts = append(parts, p)
		}
	}
	op := &Op{Kind: OpOffsetDelete, Group: group, Topic: topic, Producer: -1}
	for _, p := range parts {
		op.Offsets = append(op.Offsets, PartitionOffset{TopicPartition{topic, p}, -1})
	}
	w.invoke(c, op)
	op.Node = node
	req := kmsg.NewPtrOffsetDeleteRequest()
	req.Group = group
	t := kmsg.NewOffsetDeleteRequestTopic()
	t.Topic = topic
	for _, p := range parts {
		t.Partitions = append(t.Partitions, kmsg.OffsetDeleteRequestTopicPartition{Partition: p})
	}
	req.Topics = append(req.Topics, t)
	c.send(node, req, w.requestTimeout(), func(resp kmsg.Response, err error) {
		defer done()
		switch {
		case errors.Is(err, errNotSent):
			op.Code = -1
			a.lost(group)
			w.complete(op, Failed)
			return
		case err != nil:
			a.lost(group)
			w.complete(op, Indeterminate)
			return
		}
		r := resp.(*kmsg.OffsetDeleteResponse)
		if op.Code = r.ErrorCode; op.Code != errNone {
			w.cov.Inc("offsets:delete-" + errorName(op.Code))
			if slices.Contains(offsetDeleteNoEffect, op.Code) {
				w.complete(op, Failed)
				return
			}
			a.lost(group)
			w.complete(op, Indeterminate)
			return
		}
		for _, rt := range r.Topics {
			for _, rp := range rt.Partitions {
				op.Codes = append(op.Codes, rp.ErrorCode)
			}
		}
		if len(r.Topics) != 1 || r.Topics[0].Topic != topic || len(op.Codes) != len(parts) {
			w.fail("client", node, "client %d: OffsetDelete of %d partitions of %s answered with %d partitions", c.id, len(parts), topic, len(op.Codes))
			return
		}
		for i, code := range op.Codes {
			if r.Topics[0].Partitions[i].Partition != parts[i] {
				w.fail("client", node, "client %d: OffsetDelete answered partition %d where %d was asked", c.id, r.Topics[0].Partitions[i].Partition, parts[i])
				return
			}
			w.cov.Inc("offsets:delete-" + errorName(code))
		}
		w.complete(op, OK)
	})
}

// fetch reads group's offsets of every data partition the administrator knows.
func (a *offsetAdmin) fetch(node int32, group string, done func()) {
	a.fetchOf(node, group, a.c.knownPartitions(a.c.w.dataTopicNames()), done)
}

// fetchOf reads group's offsets of tps; it returns the operation, which done follows.
func (a *offsetAdmin) fetchOf(node int32, group string, tps []TopicPartition, done func()) *Op {
	c := a.c
	w := c.w
	op := &Op{Kind: OpOffsetFetch, Group: group, Producer: -1}
	w.invoke(c, op)
	op.Node = node
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	g := kmsg.NewOffsetFetchRequestGroup()
	g.Group = group
	for _, tp := range tps {
		if n := len(req.Topics); n == 0 || req.Topics[n-1].Topic != tp.Topic {
			req.Topics = append(req.Topics, kmsg.OffsetFetchRequestTopic{Topic: tp.Topic})
			g.Topics = append(g.Topics, kmsg.OffsetFetchRequestGroupTopic{Topic: tp.Topic})
		}
		req.Topics[len(req.Topics)-1].Partitions = append(req.Topics[len(req.Topics)-1].Partitions, tp.Partition)
		g.Topics[len(g.Topics)-1].Partitions = append(g.Topics[len(g.Topics)-1].Partitions, tp.Partition)
	}
	req.Groups = []kmsg.OffsetFetchRequestGroup{g}
	c.send(node, req, w.requestTimeout(), func(resp kmsg.Response, err error) {
		defer done()
		offsets, code := offsetFetchResult(resp, err, tps)
		if code != errNone {
			op.Code = code
			if code == errNotCoordinator || code == errCoordinatorNotAvailable || code == -1 {
				a.lost(group)
			}
			w.complete(op, Failed)
			return
		}
		op.Offsets = offsets
		w.cov.Inc("offsets:admin-fetch")
		w.complete(op, OK)
	})
	return op
}
