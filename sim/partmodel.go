package sim

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/anishathalye/porcupine"
)

// The partition model: linearizability of produce, fetch and ListOffsets, per partition.
//
// The state is the committed log's length: the high watermark, n. The log's content is
// not part of the state because the log checker already pins it down: every read agrees
// with the final complete read, offsets are dense, and each batch sits whole at one
// place. So what is left to check is timing:
//
//   - a produce whose batch is in the final read at base b with k records commits there:
//     it is legal only in state n = b and takes the state to b + k. An acks=all produce
//     acknowledged must commit between its invocation and its acknowledgement; any other
//     produce present in the final read (acks 0 or 1, or one whose outcome is unknown)
//     commits at some time after its invocation (it completes "never"). A produce absent
//     from the final read never committed and is left out, as is one that failed;
//   - a fetch that answered high watermark h, or a lookup of the latest offset that
//     answered h, reads the state: it is legal only in state n = h;
//   - a read_committed fetch must also answer the last stable offset of state n, and a
//     read_committed lookup of the latest offset answers only that (lsomodel.go).
//
// Where records were deleted (deletion.go), the final read starts at the log start S
// and the batches below it are unknown: the state starts as "some length up to S"
// (floor), in which a read of a high watermark up to S is legal, and the batch that
// holds offset S (present in the final read, maybe only in part) commits from it.
//
// So a read that began after an acknowledgement sees the acknowledged batch, a read
// never shows a high watermark that was not the committed length at some instant of it
// (no reading from a deposed leader that fell behind, nor from a new leader that has
// not caught up), and batches commit in offset order within their windows. Reads that
// failed say nothing and are left out.

// markerClient is the Porcupine client of transaction markers, apart from every
// simulated client.
const markerClient = 1 << 20

// partInput and partOutput are what Porcupine sees of an operation.
type partInput struct {
	produce bool
	base    int64 // produce: where the batch is in the final read
	count   int64 // produce: its records
	op      int   // the history operation, for descriptions
	// committed: a read_committed read, whose last stable offset is checked.
	committed bool
	src       *Op // the same, described only when Porcupine draws a failed check
}

// text describes the operation for Porcupine's visualization.
func (in partInput) text() string {
	op := in.src
	switch op.Kind {
	case OpProduce:
		if op.Client < 0 {
			return "transaction marker " + op.Values[0]
		}
		return fmt.Sprintf("produce acks=%d by client %d", op.Acks, op.Client)
	case OpFetch:
		if op.Isolation == 1 {
			return fmt.Sprintf("read_committed fetch at %d by client %d via node %d", op.Offset, op.Client, op.Node)
		}
		return fmt.Sprintf("fetch at %d by client %d via node %d", op.Offset, op.Client, op.Node)
	}
	if op.Isolation == 1 {
		return fmt.Sprintf("read_committed list latest by client %d via node %d", op.Client, op.Node)
	}
	return fmt.Sprintf("list latest by client %d via node %d", op.Client, op.Node)
}

type partOutput struct {
	hw  int64 // read: the high watermark answered (-1: none, a read_committed lookup)
	lso int64 // read_committed read: the last stable offset answered
	// logStart is the log start a read_committed fetch answered (-1: none), or
	// startUnknown.
	logStart int64
}

// startUnknown is the log start of a read_committed read that does not answer it
// (ListOffsets, Fetch before version 5) on a partition whose log start moves
// (retention, DeleteRecords): the last stable offset is raised to the log start, and
// where a log start moved by retention on a leader alone goes back across a failover,
// the last stable offset can too (core/partition's doc). The check then takes the last
// stable offset answered as a possible log start.
const startUnknown = -2

// partState is the model's state: the committed length n or, while floor is set, some
// length up to n (records below the final read's start were deleted).
type partState struct {
	n     int64
	floor bool
}

// partitionModelFrom is the partition model of a partition whose final read starts
// at start, with its last stable offsets (nil: no transactions).
func partitionModelFrom(start int64, stable *lsoTable) porcupine.Model {
	return porcupine.Model{
		Init: func() any { return partState{n: start, floor: start > 0} },
		Step: func(state, input, output any) (bool, any) {
			st, in := state.(partState), input.(partInput)
			if in.produce {
				if st.floor {
					if in.base <= st.n && st.n < in.base+in.count {
						return true, partState{n: in.base + in.count}
					}
					return false, st
				}
				if st.n != in.base {
					return false, st
				}
				return true, partState{n: st.n + in.count}
			}
			out := output.(partOutput)
			if out.logStart == startUnknown {
				out.logStart = out.lso
			}
			if st.floor {
				// The committed length is not known, but a read's high watermark was it.
				if out.hw < 0 {
					return out.lso <= st.n, st
				}
				return out.hw <= st.n && (!in.committed || stable.allows(out.hw, out.lso, out.logStart)), st
			}
			if out.hw >= 0 && st.n != out.hw {
				return false, st
			}
			return !in.committed || stable.allows(st.n, out.lso, out.logStart), st
		},
		Equal: func(a, b any) bool { return a.(partState) == b.(partState) },
		DescribeOperation: func(input, output any) string {
			in := input.(partInput)
			if in.produce {
				return fmt.Sprintf("op %d %s: commits [%d, %d)", in.op, in.text(), in.base, in.base+in.count)
			}
			out := output.(partOutput)
			switch {
			case in.committed && out.hw < 0:
				return fmt.Sprintf("op %d %s: lso %d", in.op, in.text(), out.lso)
			case in.committed:
				return fmt.Sprintf("op %d %s: hw %d lso %d", in.op, in.text(), out.hw, out.lso)
			}
			return fmt.Sprintf("op %d %s: hw %d", in.op, in.text(), out.hw)
		},
		DescribeState: func(state any) string {
			st := state.(partState)
			if st.floor {
				return fmt.Sprintf("committed at most %d (deleted below)", st.n)
			}
			if stable != nil {
				return fmt.Sprintf("committed %d, last stable %s", st.n, stable.describe(st.n))
			}
			return fmt.Sprintf("committed %d", st.n)
		},
	}
}

// PartitionCheck is the result of checking the partition histories.
type PartitionCheck struct {
	Checked int
	// Uncovered lists the compacted partitions left unchecked: some batch was compacted
	// away before any read saw it or an acknowledgement placed it, so the committed
	// length cannot be replayed through it.
	Uncovered []string
	// CompactedChecked counts the compacted partitions checked.
	CompactedChecked int
	Unknown          []string
	Illegal          string
	IllegalOps       int
	Visualization    string
	// CommittedReads counts the read_committed reads checked.
	CommittedReads int
	// Aborted, when set, says how a read_committed fetch of partition Illegal listed
	// aborted transactions the final read disagrees with (no visualization: the list
	// depends on no state).
	Aborted string
}

// CheckPartitions checks the produce, fetch and ListOffsets operations of a history for
// linearizability, partition by partition, given the final read of each partition
// (values to offsets). Partitions without a final read are not checked.
func CheckPartitions(ops []*Op, final map[TopicPartition][]LogRecord, timeout time.Duration) PartitionCheck {
	return CheckPartitionsFrom(ops, final, nil, nil, nil, nil, timeout)
}

// CheckPartitionsFrom is CheckPartitions for final reads that start at start (absent:
// 0), where records below were deleted, and for compacted partitions, given with their
// final high watermarks: their final reads lack what the cleaner removed, so every read
// and acknowledgement places batches, and a partition some of whose offsets no batch
// placed is left out (Uncovered). lost are the ranges each partition declared lost;
// moving says which partitions' log start retention or DeleteRecords may move.
func CheckPartitionsFrom(ops []*Op, final map[TopicPartition][]LogRecord, start, compacted map[TopicPartition]int64, lost map[TopicPartition][]offRange, moving map[TopicPartition]bool, timeout time.Duration) PartitionCheck {
	where := map[TopicPartition]map[string]int64{}
	for tp, recs := range final {
		m := make(map[string]int64, len(recs))
		for _, r := range recs {
			if !r.Control {
				m[r.Value] = r.Offset
			}
		}
		where[tp] = m
	}
	placeCompacted(ops, where, compacted)
	txnPID := map[string]int64{}
	for _, op := range ops {
		if op.Kind == OpProduce && op.Txn > 0 {
			for _, v := range op.Values {
				txnPID[v] = op.Producer
			}
		}
	}
	byPart := map[TopicPartition][]porcupine.Operation{}
	committedReads := map[TopicPartition][]*Op{}
	fetches := map[TopicPartition][]*Op{} // of partitions whose final read starts above 0
	for tp, recs := range final {         // order-independent: each partition's list is its own
		for _, r := range recs {
			if r.Control {
				// A transaction marker the coordinator's round wrote: it commits at its
				// offset at some moment nobody saw, like a produce whose outcome is unknown.
				byPart[tp] = append(byPart[tp], porcupine.Operation{ClientId: markerClient, Call: 0, Return: Never,
					Input: partInput{produce: true, base: r.Offset, count: 1, src: &Op{Kind: OpProduce, Client: -1, Values: []string{r.Value}}}, Output: partOutput{},
					Metadata: r.Value})
			}
		}
	}
	for _, op := range ops {
		tp := op.key()
		w, ok := where[tp]
		if !ok {
			continue
		}
		if po, ok := partitionOp(op, w, moving[tp]); ok {
			byPart[tp] = append(byPart[tp], po)
			if po.Input.(partInput).committed {
				committedReads[tp] = append(committedReads[tp], op)
			}
			if op.Kind == OpFetch && start[tp] > 0 {
				fetches[tp] = append(fetches[tp], op)
			}
		}
	}
	var res PartitionCheck
	keys := make([]TopicPartition, 0, len(byPart))
	for tp := range byPart {
		keys = append(keys, tp)
	}
	slices.SortFunc(keys, compareTP)
	for _, tp := range keys {
		history := byPart[tp]
		if hw, ok := compacted[tp]; ok {
			if !covered(history, start[tp], hw) {
				res.Uncovered = append(res.Uncovered, tp.String())
				continue
			}
			res.CompactedChecked++
		}
		var stable *lsoTable
		if reads := committedReads[tp]; len(reads) > 0 {
			res.CommittedReads += len(reads)
			log := partitionLog(fetches[tp], final[tp], start[tp])
			end := start[tp]
			if len(log) > 0 {
				end = max(end, log[len(log)-1].Offset+1)
			}
			var spans []txnSpan
			spans, stable = lsoOf(log, txnPID, start[tp], end)
			var lostAt func(int64) bool
			if ranges := lost[tp]; len(ranges) > 0 {
				lostAt = func(off int64) bool {
					return slices.ContainsFunc(ranges, func(r offRange) bool { return r.contains(off) })
				}
			}
			if msg := abortedIn(reads, spans, knownIn(log), lostAt); msg != "" {
				res.Checked++
				if res.Illegal == "" {
					res.Illegal, res.IllegalOps, res.Aborted = tp.String(), len(history), msg
				}
				continue
			}
		}
		model := partitionModelFrom(start[tp], stable)
		verdict, info := porcupine.CheckOperationsVerbose(model, history, timeout)
		res.Checked++
		switch verdict {
		case porcupine.Unknown:
			res.Unknown = append(res.Unknown, tp.String())
		case porcupine.Illegal:
			if res.Illegal == "" {
				res.Illegal, res.IllegalOps = tp.String(), len(history)
				var buf bytes.Buffer
				if err := porcupine.Visualize(model, info, &buf); err == nil {
					res.Visualization = buf.String()
				}
			}
		}
	}
	return res
}

// placeCompacted adds to where, for each compacted partition, the offsets of the values
// every fetch read and every acknowledgement gave.
func placeCompacted(ops []*Op, where map[TopicPartition]map[string]int64, compacted map[TopicPartition]int64) {
	for _, op := range ops {
		tp := op.key()
		if _, ok := compacted[tp]; !ok || where[tp] == nil || op.Outcome != OK {
			continue
		}
		switch {
		case op.Kind == OpFetch:
			for _, r := range op.Records {
				where[tp][r.Value] = r.Offset
			}
		case op.Kind == OpProduce && op.Offset >= 0 && op.Acks == -1:
			for i, v := range op.Values {
				where[tp][v] = op.Offset + int64(i)
			}
		}
	}
}

// covered reports whether the produces of history place batches over every offset of
// [from, hw).
func covered(history []porcupine.Operation, from, hw int64) bool {
	type span struct{ from, to int64 }
	var spans []span
	for _, po := range history {
		if in := po.Input.(partInput); in.produce {
			spans = append(spans, span{in.base, in.base + in.count})
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.from, b.from) })
	at := from
	for _, s := range spans {
		if s.from > at {
			return false
		}
		at = max(at, s.to)
	}
	return at >= hw
}

// partitionOp converts an operation for the partition model (moving: the partition's
// log start may move); false leaves it out.
func partitionOp(op *Op, final map[string]int64, moving bool) (porcupine.Operation, bool) {
	po := porcupine.Operation{ClientId: int(op.Client - 1), Call: op.Call, Return: op.Return}
	switch op.Kind {
	case OpProduce:
		if op.Outcome == Failed || op.Outcome == Pending || len(op.Values) == 0 {
			return po, false
		}
		base, ok := int64(0), false
		for i, v := range op.Values {
			// The first records of a batch may have been deleted (DeleteRecords cuts
			// batches): the base follows from any record present.
			if off, found := final[v]; found {
				base, ok = off-int64(i), true
				break
			}
		}
		if !ok {
			return po, false
		}
		if op.Outcome != OK || op.Acks != -1 {
			po.Return = Never
		}
		po.Input = partInput{produce: true, base: base, count: int64(len(op.Values)), op: op.ID, src: op}
		po.Output = partOutput{}
	case OpFetch:
		if op.Outcome != OK {
			return po, false
		}
		po.Input = partInput{op: op.ID, src: op, committed: op.Isolation == 1}
		out := partOutput{hw: op.HW, lso: op.LSO, logStart: op.LogStart}
		if moving && op.Isolation == 1 && op.LogStart < 0 {
			out.logStart = startUnknown // a Fetch before version 5 does not answer it
		}
		po.Output = out
	case OpListOffsets:
		if op.Outcome != OK || op.ListAt != -1 {
			return po, false
		}
		po.Input = partInput{op: op.ID, src: op}
		po.Output = partOutput{hw: op.Offset}
		if op.Isolation == 1 {
			po.Input = partInput{op: op.ID, src: op, committed: true}
			po.Output = partOutput{hw: -1, lso: op.Offset, logStart: -1}
			if moving {
				po.Output = partOutput{hw: -1, lso: op.Offset, logStart: startUnknown}
			}
		}
	default:
		return po, false
	}
	po.Metadata = "op " + strconv.Itoa(op.ID)
	return po, true
}

// abortedIn checks the aborted transactions each read_committed fetch of reads listed
// (lsomodel.go); it returns the first problem, "" when none.
func abortedIn(reads []*Op, spans []txnSpan, known, lost func(int64) bool) string {
	for _, op := range reads {
		if op.Kind != OpFetch {
			continue
		}
		if msg := abortedProblem(op, spans, known, lost); msg != "" {
			return fmt.Sprintf("op %d (client %d via node %d): %s", op.ID, op.Client, op.Node, msg)
		}
	}
	return ""
}

// knownIn returns whether an offset is in a log sorted by offset.
func knownIn(log []LogRecord) func(int64) bool {
	return func(off int64) bool {
		_, found := slices.BinarySearchFunc(log, off, func(r LogRecord, o int64) int { return cmp.Compare(r.Offset, o) })
		return found
	}
}
