package sim

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/seedlog/seedlog/traces"
)

// OpKind is a kind of client operation in the history.
type OpKind uint8

// The operations of the metadata workload.
const (
	OpCreate OpKind = iota + 1
	OpDelete
	OpCreatePartitions
	OpDescribe
	OpListBrokers
)

var opKindNames = [...]string{"?", "create", "delete", "create-partitions", "describe", "list-brokers"}

func (k OpKind) String() string {
	if int(k) < len(opKindNames) {
		return opKindNames[k]
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// IsRead reports whether the operation has no effect.
func (k OpKind) IsRead() bool { return k == OpDescribe || k == OpListBrokers }

// Outcome is how an operation ended.
type Outcome uint8

const (
	// Pending: not finished (only while the run goes on).
	Pending Outcome = iota
	// OK: a definite success.
	OK
	// Failed: a definite error code the model must explain, or (Code < 0) a request that
	// was never sent; either way nothing happened.
	Failed
	// Indeterminate: the operation may or may not have taken effect, at any time after
	// its invocation (a timeout, a broken connection, an error that means "maybe").
	Indeterminate
)

var outcomeNames = [...]string{"pending", "ok", "failed", "indeterminate"}

func (o Outcome) String() string { return outcomeNames[o] }

// Never is the completion time of an indeterminate operation: it may take effect at any
// time after its invocation.
const Never = int64(math.MaxInt64)

// Op is one client operation of the history.
type Op struct {
	ID     int
	Client int32
	Node   int32 // broker of the last attempt, -1 if none
	Kind   OpKind
	Topic  string
	Count  int32 // partitions of a create, new count of a create-partitions
	RF     int32 // replication factor of a create
	Call   int64 // virtual time of the invocation
	Return int64 // virtual time of the completion; Never when indeterminate
	// Outcome and its details: Code for Failed; Exists and Partitions for a describe;
	// Brokers for a list.
	Outcome    Outcome
	Code       int16
	Exists     bool
	Partitions int32
	Brokers    []int32
	// AllBrokers says Brokers lists every registered broker, fenced ones included
	// (DescribeCluster v2); otherwise it lists the live ones (Metadata).
	AllBrokers bool
	// Final marks the complete reads after the liveness phase.
	Final bool
}

func (o *Op) input() string {
	switch o.Kind {
	case OpCreate:
		return fmt.Sprintf("create %s partitions=%d rf=%d", o.Topic, o.Count, o.RF)
	case OpCreatePartitions:
		return fmt.Sprintf("create-partitions %s count=%d", o.Topic, o.Count)
	case OpDelete, OpDescribe:
		return fmt.Sprintf("%s %s", o.Kind, o.Topic)
	}
	return o.Kind.String()
}

// Result is the operation's outcome as text: "ok", an error name, "indeterminate", or
// what a read returned.
func (o *Op) Result() string { return o.output() }

func (o *Op) output() string {
	switch o.Outcome {
	case Failed:
		if o.Code < 0 {
			return "not sent"
		}
		return errorName(o.Code)
	case Indeterminate, Pending:
		return o.Outcome.String()
	}
	switch o.Kind {
	case OpDescribe:
		if !o.Exists {
			return "absent"
		}
		return fmt.Sprintf("exists, %d partitions", o.Partitions)
	case OpListBrokers:
		return fmt.Sprintf("brokers %v", o.Brokers)
	}
	return "ok"
}

func (o *Op) String() string {
	ret := "never"
	if o.Return != Never {
		ret = time.Duration(o.Return).String()
	}
	return fmt.Sprintf("op %d client %d [%v, %s] %s -> %s", o.ID, o.Client, time.Duration(o.Call), ret, o.input(), o.output())
}

// History is every operation of a run, in invocation order.
type History struct {
	Ops []*Op
}

// invoke records the start of an operation.
func (w *World) invoke(c *Client, op *Op) {
	op.ID = len(w.hist.Ops) + 1
	op.Client = c.id
	op.Call = w.now
	op.Node = -1
	w.hist.Ops = append(w.hist.Ops, op)
	w.record(traces.Event{Kind: traces.KindInvoke, Sub: 1, Node: -1, Peer: c.id, A: int64(op.ID), B: int64(op.Kind), Topic: op.Topic, Part: -1},
		func() string { return fmt.Sprintf("op %d %s", op.ID, op.input()) })
}

// complete records the end of an operation.
func (w *World) complete(op *Op, outcome Outcome) {
	if op.Outcome != Pending {
		panic(fmt.Sprintf("sim: op %d completed twice", op.ID))
	}
	op.Outcome = outcome
	op.Return = w.now
	sub := traces.OpOK
	switch outcome {
	case Failed:
		sub = traces.OpFailed
	case Indeterminate:
		sub = traces.OpIndeterminate
		op.Return = Never
	}
	w.cov.Inc("op:" + op.Kind.String() + ":" + outcome.String())
	w.record(traces.Event{Kind: traces.KindComplete, Sub: sub, Node: op.Node, Peer: op.Client, A: int64(op.ID), B: int64(op.Code), Topic: op.Topic, Part: -1},
		func() string { return fmt.Sprintf("op %d %s -> %s", op.ID, op.input(), op.output()) })
}

// closeOpen makes every unfinished operation indeterminate at the end of a run.
func (h *History) closeOpen() {
	for _, op := range h.Ops {
		if op.Outcome == Pending {
			op.Outcome = Indeterminate
			op.Return = Never
		}
	}
}

// String lists the history, one operation per line.
func (h *History) String() string {
	var b strings.Builder
	for _, op := range h.Ops {
		b.WriteString(op.String())
		b.WriteByte('\n')
	}
	return b.String()
}
