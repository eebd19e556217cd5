package sim

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/anishathalye/porcupine"
)

// The metadata model: per topic name, a register holding whether the topic exists and
// its partition count. Porcupine checks each topic's history separately (a history is
// linearizable iff each topic's is). An indeterminate operation is given the completion
// time Never and may or may not have taken effect; the final complete read of every
// topic pins down which. Reads without an answer constrain nothing and are left out.

// topicState is the model's state for one topic.
type topicState struct {
	exists     bool
	partitions int32
}

// metaInput and metaOutput are what Porcupine sees of an operation.
type metaInput struct {
	kind  OpKind
	topic string
	count int32
}

type metaOutput struct {
	outcome    Outcome
	code       int16
	exists     bool
	partitions int32
}

// noEffectCodes are definite errors that may happen whatever the topic's state and
// change nothing (they depend on the brokers, not on the topic).
var noEffectCodes = []int16{errInvalidReplicationFactor, errInvalidReplicaAssignment, errPolicyViolation}

// metaStep returns every state the topic may be in after an operation with a given
// outcome, starting from s; none when the outcome is impossible from s.
func metaStep(s topicState, in metaInput, out metaOutput) []topicState {
	same := []topicState{s}
	if out.outcome == Failed && (out.code < 0 || slices.Contains(noEffectCodes, out.code)) {
		return same // never sent, or refused for reasons outside the topic
	}
	var next topicState
	var applies bool
	var failOK bool // the definite failure is explained by s
	switch in.kind {
	case OpCreate:
		next, applies = topicState{true, in.count}, !s.exists
		failOK = out.code == errTopicAlreadyExists && s.exists
	case OpDelete:
		next, applies = topicState{}, s.exists
		failOK = (out.code == errUnknownTopicOrPartition || out.code == errUnknownTopicID) && !s.exists
	case OpCreatePartitions:
		next, applies = topicState{true, in.count}, s.exists && in.count > s.partitions
		failOK = (out.code == errUnknownTopicOrPartition && !s.exists) ||
			(out.code == errInvalidPartitions && s.exists && in.count <= s.partitions)
	case OpDescribe:
		if out.outcome == OK && s == (topicState{out.exists, out.partitions}) {
			return same
		}
		return nil
	default:
		return nil
	}
	switch out.outcome {
	case OK:
		if applies {
			return []topicState{next}
		}
	case Failed:
		if failOK {
			return same
		}
	case Indeterminate:
		if applies {
			return []topicState{s, next}
		}
		return same
	}
	return nil
}

// metadataModel is the Porcupine model of one topic.
var metadataModel = (&porcupine.NondeterministicModel{
	Init: func() []any { return []any{topicState{}} },
	Step: func(state, input, output any) []any {
		next := metaStep(state.(topicState), input.(metaInput), output.(metaOutput))
		out := make([]any, len(next))
		for i, s := range next {
			out[i] = s
		}
		return out
	},
	Equal: func(a, b any) bool { return a.(topicState) == b.(topicState) },
	DescribeOperation: func(input, output any) string {
		in, out := input.(metaInput), output.(metaOutput)
		op := Op{Kind: in.kind, Topic: in.topic, Count: in.count, Outcome: out.outcome, Code: out.code, Exists: out.exists, Partitions: out.partitions}
		return op.input() + " -> " + op.output()
	},
	DescribeState: func(state any) string {
		s := state.(topicState)
		if !s.exists {
			return "absent"
		}
		return fmt.Sprintf("%d partitions", s.partitions)
	},
}).ToModel()

// MetadataCheck is the result of checking a metadata history.
type MetadataCheck struct {
	Checked int      // topics checked
	Unknown []string // topics whose check ran out of time
	// Illegal is the first topic (in name order) whose history is not linearizable,
	// IllegalOps its number of operations, and Visualization Porcupine's page for it.
	Illegal       string
	IllegalOps    int
	Visualization string
}

// CheckMetadata checks the create/delete/create-partitions/describe operations of a
// history for linearizability, topic by topic, each within timeout.
func CheckMetadata(ops []*Op, timeout time.Duration) MetadataCheck {
	byTopic := map[string][]porcupine.Operation{}
	for _, op := range ops {
		if op.Kind == OpListBrokers || op.Kind.IsData() || op.Outcome == Pending || op.Topic == coreOffsetsTopic {
			continue // the group coordinators create the offsets topic: the workload does not model it
		}
		if op.Kind.IsRead() && op.Outcome != OK {
			continue // a read without an answer says nothing
		}
		byTopic[op.Topic] = append(byTopic[op.Topic], porcupineOp(op))
	}
	var res MetadataCheck
	for _, topic := range sortedKeys(byTopic) {
		history := byTopic[topic]
		verdict, info := porcupine.CheckOperationsVerbose(metadataModel, history, timeout)
		res.Checked++
		switch verdict {
		case porcupine.Unknown:
			res.Unknown = append(res.Unknown, topic)
		case porcupine.Illegal:
			if res.Illegal == "" {
				res.Illegal, res.IllegalOps = topic, len(history)
				var buf bytes.Buffer
				if err := porcupine.Visualize(metadataModel, info, &buf); err == nil {
					res.Visualization = buf.String()
				}
			}
		}
	}
	return res
}

func porcupineOp(op *Op) porcupine.Operation {
	return porcupine.Operation{
		ClientId: int(op.Client - 1),
		Input:    metaInput{kind: op.Kind, topic: op.Topic, count: op.Count},
		Output:   metaOutput{outcome: op.Outcome, code: op.Code, exists: op.Exists, partitions: op.Partitions},
		Call:     op.Call,
		Return:   op.Return,
		Metadata: fmt.Sprintf("op %d via node %d", op.ID, op.Node),
	}
}

// checkListBrokers checks broker lists. Every listed id must be a broker of the cluster.
// Lists of every registered broker (fenced ones included) must only grow: such a list
// must contain every broker of every such list that completed before it began, unless
// an UnregisterBroker of it was sent before the list completed (unregisterFrom: when
// the first was sent, by broker). Lists of live brokers (Metadata) legitimately lose a
// broker while it is fenced, so only their ids are checked. It returns "" when all is
// well.
func checkListBrokers(ops []*Op, brokers []int32, unregisterFrom map[int32]int64) string {
	var lists []*Op
	for _, op := range ops {
		if op.Kind != OpListBrokers || op.Outcome != OK {
			continue
		}
		for _, b := range op.Brokers {
			if !slices.Contains(brokers, b) {
				return fmt.Sprintf("op %d listed broker %d, which is not a broker of the cluster %v", op.ID, b, brokers)
			}
		}
		if op.AllBrokers {
			lists = append(lists, op)
		}
	}
	byReturn := slices.Clone(lists)
	slices.SortStableFunc(byReturn, func(a, b *Op) int { return cmp.Compare(a.Return, b.Return) })
	byCall := slices.Clone(lists)
	slices.SortStableFunc(byCall, func(a, b *Op) int { return cmp.Compare(a.Call, b.Call) })
	seen := map[int32]*Op{} // broker -> a list that showed it
	j := 0
	for _, op := range byCall {
		for j < len(byReturn) && byReturn[j].Return < op.Call {
			for _, b := range byReturn[j].Brokers {
				if _, ok := seen[b]; !ok {
					seen[b] = byReturn[j]
				}
			}
			j++
		}
		for _, b := range sortedKeys(seen) {
			if at, sent := unregisterFrom[b]; sent && at < op.Return {
				continue
			}
			if !slices.Contains(op.Brokers, b) {
				return fmt.Sprintf("broker %d, listed by op %d (completed %v), is missing from op %d (began %v): %v",
					b, seen[b].ID, time.Duration(seen[b].Return), op.ID, time.Duration(op.Call), op.Brokers)
			}
		}
	}
	return ""
}
