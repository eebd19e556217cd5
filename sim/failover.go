package sim

import (
	"fmt"
	"slices"
	"time"
)

// Failover times (see "Failover times" in doc.go): when a fault of the safety phase
// takes a broker out of service, each data partition it led is timed from the fault
// to the first acks=all produce to it answered with success. Noting a fault only reads
// the node through the inspection hooks, and the times come from the history once the
// run is over: measuring draws nothing and records no event.

// The kinds of fault a failover follows.
const (
	FailoverCrash   = "crash"   // the process died: a crash fault, an armed crash, a power loss, a fatal error
	FailoverPause   = "pause"   // the process stopped, its clock running on
	FailoverIsolate = "isolate" // the network cut the node off from every other node (clients still reach it)
	// FailoverShutdown is a SIGTERM (a controlled shutdown): the broker gives its lease
	// up at once and asks the controller to move its leaderships. It is a planned
	// outage, reported apart from the faults.
	FailoverShutdown = "shutdown"
)

// Unmeasured is the Time of a failover no producer measured.
const Unmeasured time.Duration = -1

// Failover is one data partition's unavailability after a fault took its leader out
// of service.
type Failover struct {
	Kind string
	Node int32
	TopicPartition
	// At is the virtual time of the fault.
	At time.Duration
	// Time runs from the fault to the first acks=all produce to the partition answered
	// with success, by any broker (the same one, back, counts too). It is Unmeasured
	// when no acks=all produce saw the outage (none waited at the fault, none tried
	// after it and failed before that success) or none succeeded before the run ended.
	Time time.Duration
	// By is the broker that answered that success (-1 when unmeasured): the node itself,
	// back, or the partition's new leader.
	By int32
}

// Measured reports whether a producer measured the failover.
func (f Failover) Measured() bool { return f.Time >= 0 }

func (f Failover) String() string {
	t := "unmeasured"
	if f.Measured() {
		t = fmt.Sprintf("%v (answered by node %d)", f.Time, f.By)
	}
	return fmt.Sprintf("at %v %s of node %d, %s: %s", f.At, f.Kind, f.Node, f.TopicPartition, t)
}

// outage is a fault that took a node out of service while it led a data partition.
type outage struct {
	kind string
	node int32
	tp   TopicPartition
	at   int64
	// sentBy is when the last answer the node sent before the fault reaches its client
	// (answeredBefore).
	sentBy int64
}

// noteOutage notes, for every data partition node n leads now, that a fault of kind
// takes it out of service. A leader counts when it serves acks=all produces: its
// replica leads, in the newest leader epoch the checkers saw, under a lease still valid
// on its clock, with an ISR that can take acks=all writes (isrServes). A deposed or
// lease-less leader, a paused one, or one whose ISR cannot take acks=all writes left
// the partition unavailable before this fault. Only faults of the safety phase count:
// the liveness phase's own stops (brokers it leaves down) are not faults to time.
func (w *World) noteOutage(n *simNode, kind string) {
	ins := w.opts.Inspect
	d := w.checks.data
	if w.phase != phaseSafety || d == nil || !n.up || n.paused || !n.spec.Broker || ins.Replicas == nil || ins.LeaseValid == nil {
		return
	}
	if !ins.LeaseValid(n.m, n.localNow()) {
		return
	}
	sentBy := w.now
	for _, id := range w.sortedLinks(n.spec.ID) {
		sentBy = max(sentBy, w.links[id].toClientAt)
	}
	for _, r := range ins.Replicas(n.m, nil) {
		if !r.Leader || r.Closed || !w.isrServes(r) {
			continue
		}
		if _, data := w.cfg.Data.topic(r.Topic); !data {
			continue
		}
		if last, ok := d.lastLeader[partKey{r.TopicID, r.Partition}]; ok && last[0] > r.LeaderEpoch {
			continue
		}
		w.outages = append(w.outages, outage{kind: kind, node: n.spec.ID, tp: TopicPartition{r.Topic, r.Partition}, at: w.now, sentBy: sentBy})
	}
}

// isrServes reports whether leader replica r's ISR lets it take acks=all writes: at
// least min.insync.replicas members, every one of them running. A member that is down
// or paused stalls acks=all until the ISR drops it, a failover of its own.
func (w *World) isrServes(r ReplicaView) bool {
	if int32(len(r.ISR)) < r.MinISR {
		return false
	}
	for _, id := range r.ISR {
		if m := w.node(id); m == nil || !m.up || m.paused {
			return false
		}
	}
	return true
}

// measureFailovers times each outage against the history's acks=all produces. An
// outage of a partition still in an earlier outage that a producer measured (no
// acks=all success yet: a new leader crashing right after it took over, say) is part
// of that one, which times the whole; it is left out.
func measureFailovers(outages []outage, ops []*Op) []Failover {
	if len(outages) == 0 {
		return nil
	}
	// Each partition's acks=all produces, in invocation order (the history's).
	prods := map[TopicPartition][]*Op{}
	for _, op := range ops {
		if op.Kind == OpProduce && op.Acks == -1 {
			prods[op.key()] = append(prods[op.key()], op)
		}
	}
	// until is, per partition, the end of its latest measured outage.
	until := map[TopicPartition]int64{}
	out := make([]Failover, 0, len(outages))
	for _, o := range outages {
		if until[o.tp] > o.at {
			continue
		}
		f := Failover{Kind: o.kind, Node: o.node, TopicPartition: o.tp, At: time.Duration(o.at), Time: Unmeasured, By: -1}
		list := prods[o.tp]
		if first := firstSuccess(list, o); first != nil && sawOutage(list, first, o) {
			f.Time, f.By = time.Duration(first.Return-o.at), first.Node
			until[o.tp] = first.Return
		}
		out = append(out, f)
	}
	return out
}

// firstSuccess returns the produce answered with success first after outage o, nil
// when none.
func firstSuccess(ops []*Op, o outage) *Op {
	var first *Op
	for _, op := range ops {
		if op.Outcome != OK || op.Return <= o.at || o.answeredBefore(op) {
			continue
		}
		if first == nil || op.Return < first.Return {
			first = op
		}
	}
	return first
}

// answeredBefore reports whether op's success may have been answered before the
// fault: the node o took out answered it, and it reached its client no later than
// every answer the node had sent by the fault did (a pause or a cut leaves the
// answers on their way; a crash breaks their connections).
func (o outage) answeredBefore(op *Op) bool {
	return op.Outcome == OK && op.Node == o.node && op.Return <= o.sentBy
}

// sawOutage reports whether a produce of ops saw the partition unavailable between
// outage o and the first success: it was waiting at the fault (the first success
// itself may be it, an idempotent producer's retries included), or it was invoked
// after the fault, before that success, and failed as a produce to a partition without
// a serving leader, or without enough replicas, does. Without one, nobody was trying:
// the time to the first success would measure the producers' pause, not the failover.
func sawOutage(ops []*Op, first *Op, o outage) bool {
	for _, op := range ops {
		if op.Call >= first.Return {
			break
		}
		if op.Call <= o.at && op.Return > o.at && !o.answeredBefore(op) {
			return true
		}
		if op.Call > o.at && unavailable(op) {
			return true
		}
	}
	return false
}

// unavailableCodes are the produce errors that say the partition could not take the
// write: no leader, a leader the client cannot reach or that moved, too few replicas.
var unavailableCodes = append([]int16{errNotEnoughReplicas, errNotEnoughReplicasAfterAppend, errRequestTimedOut}, staleLeaderCodes...)

// unavailable reports whether a produce ended as one to an unavailable partition does:
// unknown (a timeout, a broken connection, a leader that lost its leadership), never
// sent before its deadline, or refused with one of unavailableCodes.
func unavailable(op *Op) bool {
	switch op.Outcome {
	case Indeterminate:
		return true
	case Failed:
		return op.Code < 0 || slices.Contains(unavailableCodes, op.Code)
	}
	return false
}
