package sim

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/anishathalye/porcupine"
)

// The committed-offsets model: per (group, partition), a register holding the committed
// offset, -1 before any commit. An OffsetCommit acknowledged writes it between its
// invocation and its answer; one whose answer left it unknown may write it at any time
// after its invocation, or never; one refused wrote nothing and is left out. An
// OffsetDelete writes -1 the same way, to each partition it answered NONE for (to each
// partition it named, when its answer left its effect unknown). An expiry a coordinator
// decided (offsetlife.go) writes -1 between its decision and its tombstones becoming
// durable, or may at any time after the decision when that was never reported. An
// OffsetFetch that answered reads it. A commit of several partitions is checked one
// partition at a time (each register alone must be linearizable).

type offsetKey struct {
	group string
	tp    TopicPartition
}

type offsetInput struct {
	write  bool
	maybe  bool // an indeterminate write: it may not have happened
	offset int64
	op     int
	what   string // "commit", "delete" or "expiry" for writes
}

type offsetOutput struct {
	offset int64 // a read's answer
}

var offsetsModel = (&porcupine.NondeterministicModel{
	Init: func() []any { return []any{int64(-1)} },
	Step: func(state, input, output any) []any {
		v, in := state.(int64), input.(offsetInput)
		switch {
		case in.write && in.maybe:
			if v == in.offset {
				return []any{v}
			}
			return []any{v, in.offset}
		case in.write:
			return []any{in.offset}
		case v == output.(offsetOutput).offset:
			return []any{v}
		}
		return nil
	},
	Equal: func(a, b any) bool { return a.(int64) == b.(int64) },
	DescribeOperation: func(input, output any) string {
		in := input.(offsetInput)
		if in.write {
			maybe := ""
			if in.maybe {
				maybe = " (unknown outcome)"
			}
			if in.what == "commit" {
				return fmt.Sprintf("op %d commit %d%s", in.op, in.offset, maybe)
			}
			return fmt.Sprintf("op %d %s%s", in.op, in.what, maybe)
		}
		return fmt.Sprintf("op %d offset-fetch -> %d", in.op, output.(offsetOutput).offset)
	},
	DescribeState: func(state any) string { return fmt.Sprintf("committed %d", state.(int64)) },
}).ToModel()

// OffsetsCheck is the result of checking committed offsets.
type OffsetsCheck struct {
	Checked       int
	Unknown       []string
	Illegal       string
	IllegalOps    int
	Visualization string
}

// CheckOffsets checks the OffsetCommit, OffsetDelete and OffsetFetch operations of a
// history, with the expiries coordinators decided, for linearizability, one (group,
// partition) register at a time.
func CheckOffsets(ops []*Op, expiries []*OffsetExpiry, timeout time.Duration) OffsetsCheck {
	byKey := map[offsetKey][]porcupine.Operation{}
	for _, op := range ops {
		switch {
		case op.Kind == OpCommit && (op.Outcome == OK || op.Outcome == Indeterminate):
			ret := op.Return
			if op.Outcome != OK {
				ret = Never
			}
			for _, po := range op.Offsets {
				k := offsetKey{op.Group, po.TopicPartition}
				byKey[k] = append(byKey[k], porcupine.Operation{ClientId: int(op.Client - 1), Call: op.Call, Return: ret,
					Input:  offsetInput{write: true, maybe: op.Outcome != OK, offset: po.Offset, op: op.ID, what: "commit"},
					Output: offsetOutput{}, Metadata: fmt.Sprintf("op %d generation %d member %s", op.ID, op.Generation, op.Member)})
			}
		case op.Kind == OpTxnOffsetCommit && (op.Outcome == OK || op.Outcome == Indeterminate):
			// A transaction's offsets take effect with its commit marker, which may come
			// after EndTxn answered, or never (an abort): a write that may happen at any
			// time after the call.
			for _, po := range op.Offsets {
				k := offsetKey{op.Group, po.TopicPartition}
				byKey[k] = append(byKey[k], porcupine.Operation{ClientId: int(op.Client - 1), Call: op.Call, Return: Never,
					Input:  offsetInput{write: true, maybe: true, offset: po.Offset, op: op.ID, what: "txn-commit"},
					Output: offsetOutput{}, Metadata: fmt.Sprintf("op %d transaction %d generation %d member %s", op.ID, op.Txn, op.Generation, op.Member)})
			}
		case op.Kind == OpOffsetDelete && (op.Outcome == OK || op.Outcome == Indeterminate):
			ret := op.Return
			if op.Outcome != OK {
				ret = Never
			}
			for i, po := range op.Offsets {
				if op.Outcome == OK && op.Codes[i] != errNone {
					continue // refused: nothing deleted
				}
				k := offsetKey{op.Group, po.TopicPartition}
				byKey[k] = append(byKey[k], porcupine.Operation{ClientId: int(op.Client - 1), Call: op.Call, Return: ret,
					Input:  offsetInput{write: true, maybe: op.Outcome != OK, offset: -1, op: op.ID, what: "offset-delete"},
					Output: offsetOutput{}, Metadata: fmt.Sprintf("op %d", op.ID)})
			}
		case op.Kind == OpOffsetFetch && op.Outcome == OK:
			for _, po := range op.Offsets {
				k := offsetKey{op.Group, po.TopicPartition}
				byKey[k] = append(byKey[k], porcupine.Operation{ClientId: int(op.Client - 1), Call: op.Call, Return: op.Return,
					Input: offsetInput{op: op.ID}, Output: offsetOutput{offset: po.Offset}, Metadata: fmt.Sprintf("op %d", op.ID)})
			}
		}
	}
	// Each expiry is a client of its own, numbered after every real one.
	clients := 0
	for _, op := range ops {
		clients = max(clients, int(op.Client))
	}
	for i, x := range expiries {
		for _, tp := range x.Offsets {
			k := offsetKey{x.Group, tp}
			byKey[k] = append(byKey[k], porcupine.Operation{ClientId: clients + i, Call: x.At, Return: x.Done,
				Input:  offsetInput{write: true, maybe: x.Done == Never, offset: -1, what: fmt.Sprintf("expiry on node %d", x.Node)},
				Output: offsetOutput{}, Metadata: fmt.Sprintf("expiry on node %d", x.Node)})
		}
	}
	keys := make([]offsetKey, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b offsetKey) int {
		if a.group != b.group {
			if a.group < b.group {
				return -1
			}
			return 1
		}
		return compareTP(a.tp, b.tp)
	})
	var res OffsetsCheck
	for _, k := range keys {
		history := byKey[k]
		verdict, info := porcupine.CheckOperationsVerbose(offsetsModel, history, timeout)
		res.Checked++
		name := k.group + " " + k.tp.String()
		switch verdict {
		case porcupine.Unknown:
			res.Unknown = append(res.Unknown, name)
		case porcupine.Illegal:
			if res.Illegal == "" {
				res.Illegal, res.IllegalOps = name, len(history)
				var buf bytes.Buffer
				if err := porcupine.Visualize(offsetsModel, info, &buf); err == nil {
					res.Visualization = buf.String()
				}
			}
		}
	}
	return res
}
