package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/seedlog/seedlog/traces"
)

// logHistory builds the log checker's input from the run's history and final reads.
func (w *World) logHistory() *LogHistory {
	h := &LogHistory{Final: map[string][]LogRecord{}, FinalHW: map[string]int64{}, Unread: map[string]bool{}}
	d := w.data
	for _, tp := range d.finalPartitions() {
		h.Final[tp.String()] = d.finalReads[tp]
		h.FinalHW[tp.String()] = d.finalHW[tp]
	}
	w.deletionHistory(h)
	w.compactionHistory(h)
	for tp := range d.unread {
		h.Unread[tp.String()] = true
	}
	h.Produces, h.Fetches = sizedFor(w.hist.Ops)
	names := map[TopicPartition]string{}
	for _, op := range w.hist.Ops {
		part, ok := names[op.key()]
		if !ok {
			part = op.key().String()
			names[op.key()] = part
		}
		switch op.Kind {
		case OpProduce:
			batch := 0
			if len(op.Values) > 1 {
				batch = op.ID
			}
			for i, v := range op.Values {
				lp := LogProduce{Client: op.Client, Partition: part, Value: v, Call: op.Call, Return: op.Return,
					Outcome: op.Outcome, Offset: -1, NotSent: op.Outcome == Failed && op.Code < 0,
					Weak: op.Acks != -1, Batch: batch, Index: i}
				if op.Offset >= 0 {
					lp.Offset = op.Offset + int64(i)
				}
				h.Produces = append(h.Produces, lp)
			}
		case OpFetch:
			if op.Outcome == OK {
				h.Fetches = append(h.Fetches, LogFetch{Client: op.Client, Partition: part, Call: op.Call, Return: op.Return, Records: op.Records, HW: op.HW})
			}
		case OpDeleteRecords:
			if op.Outcome == OK || op.Outcome == Indeterminate {
				h.Deletes = append(h.Deletes, LogDelete{Client: op.Client, Partition: part, Call: op.Call, Offset: op.Offset})
			}
		case OpListOffsets:
			switch {
			case op.Outcome != OK:
			case op.ListAt == -2:
				h.Earliest = append(h.Earliest, LogEarliest{Client: op.Client, Partition: part, Call: op.Call, Return: op.Return, Offset: op.Offset})
			case op.ListAt == -3: // maxstamps.go checks it
			case op.Isolation == 1: // the last stable offset: the partition model checks it
			default:
				h.Fetches = append(h.Fetches, LogFetch{Client: op.Client, Partition: part, Call: op.Call, Return: op.Return, HW: op.Offset})
			}
		}
	}
	return h
}

// sizedFor returns empty lists of the produces and reads of ops, with room for all of
// them (nil when there are none).
func sizedFor(ops []*Op) ([]LogProduce, []LogFetch) {
	var produced, read int
	for _, op := range ops {
		switch op.Kind {
		case OpProduce:
			produced += len(op.Values)
		case OpFetch, OpListOffsets:
			read++
		}
	}
	var produces []LogProduce
	var fetches []LogFetch
	if produced > 0 {
		produces = make([]LogProduce, 0, produced)
	}
	if read > 0 {
		fetches = make([]LogFetch, 0, read)
	}
	return produces, fetches
}

// checkData runs the data checkers after the run: the log checker, Porcupine per
// partition, Porcupine per committed offset. It reports whether the run may go on to
// other checks.
func (c *checkers) checkData(timeout time.Duration) bool {
	w := c.w
	if w.data == nil || w.phase != phaseEnd {
		return true
	}
	h := w.logHistory()
	if c.data != nil {
		h.Declared = map[string][][2]int64{}
		for tp, rs := range c.data.declared { // order-independent: fills another map
			for _, r := range rs {
				h.Declared[tp.String()] = append(h.Declared[tp.String()], [2]int64{r.from, r.to})
			}
		}
	}
	vs := CheckLog(h)
	w.cov.Add("check:log-partitions", int64(len(w.data.finalHW)))
	w.cov.Add("check:compacted-away", int64(h.CompactedAway))
	vs = c.allowDamageLosses(vs)
	if len(vs) > 0 {
		if w.cfg.Data.FlushAsync && lossOnly(vs) {
			// log.flush=async gives up promise 1: a correlated power loss may take
			// acknowledged records with it. Report it as what the mode allows.
			what := AllowedAsync + " lost records: "
			if firstLost(vs).Kind == "lost" {
				what = AllowedAsync + " lost acknowledged acks=all records: "
			}
			c.allowed = append(c.allowed, what+firstLost(vs).String())
			w.cov.Inc("check:async-loss")
			if firstLost(vs).Kind == "lost" {
				w.cov.Inc("check:async-lost-acknowledged")
			}
			w.record(traces.Event{Kind: traces.KindCheck, Sub: traces.CheckPassed, Node: -1, Peer: -1},
				func() string { return "allowed by log.flush=async: " + FormatLogViolations(vs) })
			return false
		}
		w.fail("log-history", -1, "%d problems; first: %s\n%s", len(vs), vs[0], FormatLogViolations(vs))
		return false
	}
	if w.checkMaxTimestamps(); w.failure != nil {
		return false
	}
	if !c.checkTxns() {
		return false
	}
	if !c.checkCTP() {
		return false
	}
	var lost map[TopicPartition][]offRange
	if c.data != nil {
		lost = c.data.declared
	}
	moving := map[TopicPartition]bool{}
	for _, tp := range w.data.finalPartitions() {
		moving[tp] = w.cfg.Data.mayDelete(tp.Topic)
	}
	res := CheckPartitionsFrom(w.hist.Ops, c.linearizableReads(), w.data.finalStart, w.compactedHWs(), lost, moving, timeout)
	w.cov.Add("check:linearizable-partitions", int64(res.Checked-len(res.Unknown)))
	w.cov.Add("check:linearizable-compacted-uncovered", int64(len(res.Uncovered)))
	w.cov.Add("check:linearizable-compacted", int64(res.CompactedChecked))
	w.cov.Add("check:linearizable-committed-reads", int64(res.CommittedReads))
	for _, key := range res.Unknown {
		c.noteUnknown("partition " + key)
	}
	if res.Aborted != "" {
		w.fail("linearizability", -1, "partition %s: %s", res.Illegal, res.Aborted)
		return false
	}
	if res.Illegal != "" {
		c.linearizability = res.Visualization
		w.fail("linearizability", -1, "produce/fetch/list-offsets history of partition %s is not linearizable (%d operations)", res.Illegal, res.IllegalOps)
		return false
	}
	if w.cfg.Data.FlushAsync {
		// Committed offsets live in an async topic too: they may be lost.
		return c.checkReplicasAgree()
	}
	if msg := c.offsets.check(); msg != "" {
		w.fail("offsets", -1, "%s", msg)
		return false
	}
	off := CheckOffsets(w.hist.Ops, c.offsets.expiries, timeout)
	w.cov.Add("check:linearizable-offsets", int64(off.Checked-len(off.Unknown)))
	for _, key := range off.Unknown {
		c.noteUnknown("offsets " + key)
	}
	if off.Illegal != "" {
		c.linearizability = off.Visualization
		w.fail("linearizability", -1, "committed offsets of %s are not linearizable (%d operations)", off.Illegal, off.IllegalOps)
		return false
	}
	return c.checkReplicasAgree()
}

// Prefixes of Result.Allowed entries: what allowed the loss.
const (
	AllowedAsync  = "log.flush=async"
	AllowedDamage = "partition corruption"
)

// allowDamageLosses takes out of vs the acknowledged records lost where the partition
// declared a range lost (every in-sync copy was damaged), and the records written again
// after such a range held them, reports them as allowed, and returns the rest.
func (c *checkers) allowDamageLosses(vs []LogViolation) []LogViolation {
	w := c.w
	var rest, lost, dups []LogViolation
	for _, v := range vs {
		switch v.Kind {
		case "damage-lost":
			lost = append(lost, v)
		case "damage-duplicate":
			dups = append(dups, v)
		default:
			rest = append(rest, v)
		}
	}
	if len(dups) > 0 {
		c.allowed = append(c.allowed, fmt.Sprintf("%s: %d records were written again after a range declared lost held them; first: %s", AllowedDamage, len(dups), dups[0]))
		w.cov.Inc("check:damage-duplicate")
		w.record(traces.Event{Kind: traces.KindCheck, Sub: traces.CheckPassed, Node: -1, Peer: -1},
			func() string { return "allowed by the damage: " + FormatLogViolations(dups) })
	}
	if len(lost) > 0 {
		c.allowed = append(c.allowed, fmt.Sprintf("%s lost %d acknowledged records with every in-sync copy damaged; first: %s", AllowedDamage, len(lost), lost[0]))
		w.cov.Inc("check:damage-lost-acknowledged")
		w.record(traces.Event{Kind: traces.KindCheck, Sub: traces.CheckPassed, Node: -1, Peer: -1},
			func() string { return "allowed by the damage: " + FormatLogViolations(lost) })
	}
	return rest
}

// linearizableReads returns the final reads of the partitions whose histories must be
// linearizable: all of them, except with log.flush=async those that lost committed
// records (the model's committed length went back), and those whose final read met a
// range the partition declared lost (its records are gone, and the model's committed
// length cannot be replayed through it), which are reported as allowed.
func (c *checkers) linearizableReads() map[TopicPartition][]LogRecord {
	w := c.w
	out := map[TopicPartition][]LogRecord{}
	for _, tp := range w.data.finalPartitions() {
		recs := w.data.finalReads[tp]
		if c.data != nil {
			if why, lost := c.data.regressed[tp]; lost {
				c.allowed = append(c.allowed, fmt.Sprintf("%s lost committed records of %s (%s): its history is not checked for linearizability", AllowedAsync, tp, why))
				continue
			}
		}
		if i := slices.IndexFunc(recs, func(r LogRecord) bool { return r.Fenced }); i >= 0 {
			c.allowed = append(c.allowed, fmt.Sprintf("%s: %s answers CORRUPT_MESSAGE from offset %d (a range declared lost): its history is not checked for linearizability", AllowedDamage, tp, recs[i].Offset))
			w.cov.Inc("check:damage-unlinearized")
			continue
		}
		out[tp] = recs
	}
	return out
}

// lossOnly reports whether violations are what losing acknowledged records explains:
// records gone, reads that saw them disagreeing with the final read, watermarks seen
// above what remained, later records taking the offsets of lost ones.
func lossOnly(vs []LogViolation) bool {
	rewritten := map[string]bool{} // partitions whose offsets were lost and written again
	for _, v := range vs {
		if v.Kind == "lost" || v.Kind == "inconsistent" {
			rewritten[v.Partition] = true
		}
	}
	for _, v := range vs {
		switch v.Kind {
		case "lost", "lost-read", "inconsistent", "backwards", "stale", "gap", "reorder":
		case "compacted-early":
			// A record the power loss took, whose offset now holds another one, reads as
			// removed by the cleaner: only where the partition lost records.
			if !rewritten[v.Partition] {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// firstLost returns the first acknowledged record lost, else the first violation.
func firstLost(vs []LogViolation) LogViolation {
	for _, v := range vs {
		if v.Kind == "lost" {
			return v
		}
	}
	return vs[0]
}

func (c *checkers) noteUnknown(what string) {
	w := c.w
	c.unknown = append(c.unknown, what)
	w.cov.Inc("check:linearizability-unknown")
	w.record(traces.Event{Kind: traces.KindCheck, Sub: traces.CheckUnknown, Node: -1, Peer: -1},
		func() string { return fmt.Sprintf("linearizability of %s: unknown (check timed out)", what) })
}

// groupCoverage describes, for a failure message, what each group processed of each
// partition against the final read.
func (d *dataWorkload) groupCoverage() string {
	var b strings.Builder
	for _, g := range d.groups {
		for _, tp := range d.finalPartitions() {
			fmt.Fprintf(&b, "group %s %s: processed %v of [0, %d)\n", g.spec.Name, tp, g.processed[tp], d.finalHW[tp])
		}
	}
	return b.String()
}

// checkTxns runs the transactions checker (txncheck.go) on seeds with transactional
// producers; it reports whether the run may go on to other checks.
func (c *checkers) checkTxns() bool {
	w := c.w
	d := w.data
	if !d.transactional() {
		return true
	}
	h := &TxnHistory{Ops: w.hist.Ops, Final: map[TopicPartition][]LogRecord{}, Committed: d.finalCommitted,
		CommittedFrom: d.finalCommittedFrom, CommittedFenced: d.finalCommittedFenced, Start: d.finalStart, MayDelete: map[TopicPartition]bool{}, Unread: d.unread}
	for _, tp := range d.finalPartitions() {
		h.Final[tp] = d.finalReads[tp]
		h.MayDelete[tp] = w.cfg.Data.mayDelete(tp.Topic)
	}
	vs := CheckTxns(h)
	w.cov.Add("check:txns", int64(d.txnNum))
	if msg := d.checkPrepared(); msg != "" {
		vs = append(vs, TxnViolation{Kind: "coordinator-lost-end", Message: strings.TrimPrefix(msg, "coordinator-lost-end: ")})
	}
	if v, ok := d.checkExpired(w.hist.Ops); ok {
		vs = append(vs, v)
	}
	if len(vs) > 0 {
		var b strings.Builder
		for _, v := range vs {
			b.WriteString(v.String())
			b.WriteByte('\n')
		}
		w.fail("transactions", -1, "%d problems; first: %s\n%s", len(vs), vs[0], b.String())
		return false
	}
	w.txnCoverage(h)
	return true
}
