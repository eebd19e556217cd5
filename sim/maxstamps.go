package sim

import (
	"cmp"
	"fmt"
	"slices"
)

// The largest-timestamp lookup: readers now and then ask a partition's leader for the
// record with the largest timestamp (ListOffsets -3, KIP-734), which seedlog answers
// among the records below the high watermark: the first record carrying the largest
// timestamp there, with that timestamp.
//
// The check, after the run, against the final read of the partition and the timestamps
// the producers stamped (every record of a CreateTime batch carries its batch's time;
// LogAppendTime topics, whose leaders stamp their own, are left out). A record the final
// read holds was in the log, at its offset, from its commit to the end of the run, and
// the answer was computed at some instant between the request's invocation and its
// completion, over the records then below the high watermark:
//
//   - the answered offset's record, when the final read holds it, carries the answered
//     timestamp;
//   - every record of the final read below the answered offset was committed then (the
//     answer lies below the high watermark), so it carries a smaller timestamp: the
//     answer is the first record with the largest;
//   - every record of the final read below a high watermark the history proves before
//     the invocation (an acknowledged acks=all produce, or a read that saw it) carries
//     no larger timestamp; and when the answer found nothing, there is no such record.
//
// Partitions whose records may be deleted (DeleteRecords, retention) are left out: a
// failover can bring a log start back below records a lookup did not see.

// noteStamps remembers the timestamp a producer stamped on the records of a batch of a
// CreateTime topic.
func (w *World) noteStamps(topic string, values []string, ts int64) {
	t, ok := w.cfg.Data.topic(topic)
	if !ok || t.LogAppendTime {
		return
	}
	for _, v := range values {
		w.data.stamps[v] = ts
	}
}

// hwProof is a high watermark the history proves was reached by time at.
type hwProof struct{ at, hw int64 }

// checkMaxTimestamps checks every answered largest-timestamp lookup.
func (w *World) checkMaxTimestamps() {
	d := w.data
	lookups := map[TopicPartition][]*Op{}
	proofs := map[TopicPartition][]hwProof{}
	for _, op := range w.hist.Ops {
		if op.Kind == OpListOffsets && op.ListAt == -3 && op.Outcome == OK {
			lookups[op.key()] = append(lookups[op.key()], op)
		}
	}
	if len(lookups) == 0 {
		return
	}
	offsets := map[string]int64{}
	for _, tp := range d.finalPartitions() {
		for _, r := range d.finalReads[tp] {
			if !r.Fenced {
				offsets[r.Value] = r.Offset
			}
		}
	}
	for _, op := range w.hist.Ops {
		if _, ok := lookups[op.key()]; !ok {
			continue
		}
		if p, ok := hwProved(op, offsets); ok {
			proofs[op.key()] = append(proofs[op.key()], p)
		}
	}
	for _, tp := range d.finalPartitions() {
		ops := lookups[tp]
		t, ok := w.cfg.Data.topic(tp.Topic)
		if len(ops) == 0 || !ok || t.LogAppendTime || w.cfg.Data.mayDelete(tp.Topic) || d.unread[tp] {
			continue
		}
		ps := proofs[tp]
		slices.SortFunc(ps, func(a, b hwProof) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.hw, b.hw)) })
		for i := 1; i < len(ps); i++ {
			ps[i].hw = max(ps[i].hw, ps[i-1].hw) // a prefix maximum: the high watermark never goes back
		}
		for _, op := range ops {
			floor := int64(0)
			if i, _ := slices.BinarySearchFunc(ps, op.Call, func(p hwProof, at int64) int { return cmp.Compare(p.at, at) }); i > 0 {
				floor = ps[i-1].hw
			}
			if problem := w.maxStampProblem(tp, op, floor); problem != "" {
				w.fail("max-timestamp", op.Node, "%s: op %d (ListOffsets -3 by client %d via node %d, answered offset %d timestamp %d): %s",
					tp, op.ID, op.Client, op.Node, op.Offset, op.Stamp, problem)
				return
			}
			w.cov.Inc("check:max-timestamp")
		}
	}
}

// hwProved returns the high watermark an operation proves reached by its completion.
func hwProved(op *Op, offsets map[string]int64) (hwProof, bool) {
	switch {
	case op.Outcome != OK:
	case op.Kind == OpProduce && op.Acks == -1 && len(op.Values) > 0:
		if o, ok := offsets[op.Values[len(op.Values)-1]]; ok {
			return hwProof{op.Return, o + 1}, true
		}
	case op.Kind == OpFetch:
		return hwProof{op.Return, op.HW}, true
	case op.Kind == OpListOffsets && op.ListAt == -1:
		return hwProof{op.Return, op.Offset}, true
	}
	return hwProof{}, false
}

// maxStampProblem says what is wrong with a lookup's answer ("" when nothing is), given
// a high watermark reached before it was sent.
func (w *World) maxStampProblem(tp TopicPartition, op *Op, floor int64) string {
	for _, r := range w.data.finalReads[tp] {
		ts, known := w.data.stamps[r.Value]
		switch {
		case r.Fenced || !known:
		case op.Offset < 0 && r.Offset < floor:
			return fmt.Sprintf("it found no record, but %s at offset %d, committed before, carries timestamp %d", r.Value, r.Offset, ts)
		case r.Offset == op.Offset && ts != op.Stamp:
			return fmt.Sprintf("the record there, %s, carries timestamp %d", r.Value, ts)
		case r.Offset < op.Offset && ts >= op.Stamp:
			return fmt.Sprintf("%s at offset %d, before it, carries timestamp %d", r.Value, r.Offset, ts)
		case r.Offset < floor && ts > op.Stamp:
			return fmt.Sprintf("%s at offset %d, committed before the lookup, carries the larger timestamp %d", r.Value, r.Offset, ts)
		}
	}
	return ""
}
