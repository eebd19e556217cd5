package sim

import (
	"fmt"
	"slices"
	"time"

	"github.com/seedlog/seedlog/core/group"
)

// The lifetime of committed offsets: expiry (KIP-211), OffsetDelete and the removal of
// groups left with nothing. The committed-offsets model (groupmodel.go) takes an
// OffsetDelete answered NONE as a write of -1 to each partition it deleted, and an
// expiry as one at a moment between the coordinator's decision and its tombstones
// becoming durable (at any later moment when that was never reported: the tombstones
// may yet be in the log). The coordinators report their decisions (core notes carrying
// a group.Event). Whether each decision was allowed is checked here (checker "offsets"),
// from what the clients saw, so that a coordinator that decides wrongly and says so is
// caught as surely as one that loses offsets without a word:
//
//   - an expiry whose tombstones became durable never comes while a member is in the
//     group: from a SyncGroup that handed the member its generation, answered before
//     the decision, to a request of the member in that generation (a heartbeat or a
//     commit) the coordinator accepted, sent after it, the member was in the group
//     throughout;
//   - no offset expires before its retention elapsed, on the deciding coordinator's
//     clock, since a moment its group was known to have a member (a SyncGroup, or a
//     heartbeat or commit of a member whose generation's SyncGroup answered, sent
//     before and accepted), or since its partition's last acknowledged commit: each
//     counts from the earliest clock of any broker when the request was sent (an Empty
//     group without offsets is removed at the next check, as in Kafka);
//   - an OffsetDelete answered NONE for a partition of a topic the consumer group
//     subscribes to never comes while a member was in the group from before it began
//     to after it ended.
//
// The first and third hold across coordinator failovers because the coordinator writes
// an Empty group's record with its tombstones: a member of an older record cannot come
// back beside offsets deleted for want of it. The second holds because a generation's
// assignment is durable before its SyncGroup is answered: no coordinator after it can
// load an older state of the group.
//
// A group removal (an expiry or an OffsetDelete that left the group with nothing) ends
// the group's generations: the next group of that name starts again from generation 0,
// so the checks that compare generations (member.go, the coordinators' views) start
// over for it.
type offsetLife struct {
	w *World
	// expiries are the expiries coordinators decided, in order; open are those whose
	// outcome is still to come, by coordinator.
	expiries []*OffsetExpiry
	open     map[expiryKey]*OffsetExpiry
}

// expiryKey names an expiry: the coordinator (node incarnation and offsets partition)
// and the id it gave it.
type expiryKey struct {
	node      int32
	inc       uint32
	partition int32
	id        uint64
}

// OffsetExpiry is one expiry a coordinator decided.
type OffsetExpiry struct {
	Group   string
	Offsets []TopicPartition
	// Remove: the group goes too; Retry: a removal decided earlier, written again.
	Remove, Retry bool
	Node          int32
	// At is the virtual time the decision was reported; AtMs the coordinator's clock
	// at the decision, in milliseconds.
	At   int64
	AtMs int64
	// Done is when the tombstones were reported durable, Never while unknown.
	Done int64
}

func newOffsetLife(w *World) *offsetLife {
	return &offsetLife{w: w, open: map[expiryKey]*OffsetExpiry{}}
}

// event takes a coordinator event node n reported.
func (o *offsetLife) event(n *simNode, e *group.Event) {
	w := o.w
	k := expiryKey{n.spec.ID, n.inc, e.Partition, e.ID}
	switch e.Kind {
	case group.ExpiryStarted:
		x := &OffsetExpiry{Group: e.Group, Remove: e.Remove, Retry: e.Retry, Node: n.spec.ID, At: w.now, AtMs: e.AtMs, Done: Never}
		for _, p := range e.Offsets {
			x.Offsets = append(x.Offsets, TopicPartition{p.Topic, p.Partition})
		}
		o.expiries = append(o.expiries, x)
		o.open[k] = x
		w.cov.Inc("offsets:expiry-decided")
		if e.Remove {
			o.removing(e.Group)
		}
	case group.ExpiryDone:
		if x := o.open[k]; x != nil {
			x.Done = w.now
			w.cov.Inc("offsets:expiry-durable")
		}
		delete(o.open, k)
	case group.ExpiryUnknown:
		delete(o.open, k)
	case group.GroupRemoving:
		o.removing(e.Group)
	}
}

// removing starts the generation checks of a group over: it is being removed, and a
// group of its name starts again from generation 0 once it is gone.
func (o *offsetLife) removing(groupID string) {
	w := o.w
	w.cov.Inc("offsets:group-removing")
	if w.data != nil {
		for _, g := range w.data.groups {
			if g.spec.Name == groupID {
				g.views, g.syncs = map[int32]map[string][]TopicPartition{}, nil
			}
		}
	}
	if w.checks == nil {
		return
	}
	if d := w.checks.data; d != nil {
		for k := range d.owners { // order-independent: deletes
			if k.group == groupID {
				delete(d.owners, k)
			}
		}
	}
	if s := w.checks.serve; s != nil {
		for k := range s.syncRecords { // order-independent: deletes
			if k.group == groupID {
				delete(s.syncRecords, k)
			}
		}
	}
}

// memberMark is a request of a group member the coordinator accepted, which shows the
// member was in the group in its generation at some moment between call and ret. local
// is the earliest broker clock at call. sync marks a SyncGroup, which hands out a
// generation's assignment only once it is durable.
type memberMark struct {
	member    string
	gen       int32
	call, ret int64
	local     int64
	sync      bool
}

// mark records a member's accepted request.
func (g *groupRun) mark(memberID string, gen int32, call, local int64, sync bool) {
	g.marks = append(g.marks, memberMark{member: memberID, gen: gen, call: call, ret: g.w.now, local: local, sync: sync})
}

// earliestBrokerClock is the earliest reading of any broker's clock now.
func (w *World) earliestBrokerClock() int64 {
	first := true
	var t int64
	for _, n := range w.nodes {
		if !n.spec.Broker {
			continue
		}
		if l := n.clock.local(w.now); first || l < t {
			t, first = l, false
		}
	}
	return t
}

// memberSpan is what the marks of one member in one generation show: it was in the
// group from the first SyncGroup answer (synced) to the last accepted request's call.
type memberSpan struct {
	synced   int64 // Never when no SyncGroup of the generation answered
	lastCall int64
}

type memberGen struct {
	member string
	gen    int32
}

// spans sums up a group's marks per member and generation.
func (g *groupRun) spans() map[memberGen]memberSpan {
	out := map[memberGen]memberSpan{}
	for _, m := range g.marks {
		k := memberGen{m.member, m.gen}
		s, ok := out[k]
		if !ok {
			s = memberSpan{synced: Never, lastCall: m.call}
		}
		if m.sync {
			s.synced = min(s.synced, m.ret)
		}
		s.lastCall = max(s.lastCall, m.call)
		out[k] = s
	}
	return out
}

// present returns a member that was in the group throughout [from, to], if any.
func present(spans map[memberGen]memberSpan, from, to int64) (memberGen, bool) {
	var found []memberGen
	for k, s := range spans { // order-independent: the first in a total order is returned
		if s.synced <= from && s.lastCall >= to {
			found = append(found, k)
		}
	}
	if len(found) == 0 {
		return memberGen{}, false
	}
	slices.SortFunc(found, func(a, b memberGen) int {
		if a.member != b.member {
			if a.member < b.member {
				return -1
			}
			return 1
		}
		return int(a.gen - b.gen)
	})
	return found[0], true
}

// check runs the checks above; it returns the first violation, or "".
func (o *offsetLife) check() string {
	w := o.w
	retention := w.cfg.Data.OffsetsRetention
	if retention <= 0 {
		retention = group.DefaultOffsetsRetention
	}
	runs := map[string]*groupRun{}
	spans := map[string]map[memberGen]memberSpan{}
	for _, g := range w.data.groups {
		runs[g.spec.Name] = g
		spans[g.spec.Name] = g.spans()
	}
	commits := map[string][]*Op{} // acknowledged commits by group
	for _, op := range w.hist.Ops {
		if op.Kind == OpCommit && op.Outcome == OK {
			commits[op.Group] = append(commits[op.Group], op)
		}
	}
	w.cov.Add("check:offset-expiries", int64(len(o.expiries)))
	for _, x := range o.expiries {
		if msg := o.checkExpiry(x, runs[x.Group], spans[x.Group], commits[x.Group], retention); msg != "" {
			return msg
		}
	}
	for _, op := range w.hist.Ops {
		if op.Kind != OpOffsetDelete || op.Outcome != OK || runs[op.Group] == nil {
			continue
		}
		g := runs[op.Group]
		for i, po := range op.Offsets {
			if op.Codes[i] != errNone || !slices.Contains(g.spec.Topics, po.Topic) {
				continue
			}
			if mg, ok := present(spans[op.Group], op.Call, op.Return); ok {
				return fmt.Sprintf("OffsetDelete of group %s (op %d, %v to %v) deleted the offset of %s, a topic the group subscribes to, while member %s was in generation %d throughout",
					op.Group, op.ID, time.Duration(op.Call), time.Duration(op.Return), po.TopicPartition, mg.member, mg.gen)
			}
		}
	}
	return ""
}

// checkExpiry checks one expiry against what the group's members and commits showed.
func (o *offsetLife) checkExpiry(x *OffsetExpiry, g *groupRun, spans map[memberGen]memberSpan, commits []*Op, retention time.Duration) string {
	what := fmt.Sprintf("expiry of group %s's offsets of %v on node %d at %v (its clock %d ms)", x.Group, x.Offsets, x.Node, time.Duration(x.At), x.AtMs)
	if g != nil && x.Done != Never {
		if mg, ok := present(spans, x.At, x.At); ok {
			return fmt.Sprintf("%s, durable at %v, while member %s was in generation %d", what, time.Duration(x.Done), mg.member, mg.gen)
		}
	}
	if x.Retry || len(x.Offsets) == 0 {
		// A removal decided earlier (by an expiry checked then, or an OffsetDelete), or
		// that of an Empty group without offsets, which Kafka removes at the next check.
		return ""
	}
	retentionMs := retention.Milliseconds()
	early := func(local int64) bool { return x.AtMs-local/int64(time.Millisecond) < retentionMs }
	if g != nil {
		for _, m := range g.marks {
			if m.ret > x.At || !early(m.local) {
				continue
			}
			if s := spans[memberGen{m.member, m.gen}]; m.sync || s.synced <= m.call {
				return fmt.Sprintf("%s: member %s was in the group in generation %d at %v, less than the retention %v before",
					what, m.member, m.gen, time.Duration(m.call), retention)
			}
		}
	}
	for _, op := range commits {
		if op.Return > x.At || !early(op.Local) {
			continue
		}
		for _, po := range op.Offsets {
			if slices.Contains(x.Offsets, po.TopicPartition) {
				return fmt.Sprintf("%s: %s was committed by op %d at %v, less than the retention %v before",
					what, po.TopicPartition, op.ID, time.Duration(op.Call), retention)
			}
		}
	}
	return ""
}
