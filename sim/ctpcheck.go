package sim

import (
	"fmt"
	"strconv"
	"strings"
)

// The exactly-once checker (checker "exactly-once") of the consume-transform-produce
// workers (ctp.go). Its ground truth is the final reads, after healing and after the
// workers drained: the input's and the output's records as read_committed consumers
// see them, and the group's committed offsets once every worker's transactional id ran
// its last InitProducerID. It reports:
//
//   - ctp-lost: an input record below the group's committed offset of its partition
//     that no committed output record names (its offset was committed without its
//     output: an aborted transaction's offsets kept, or a skip);
//   - ctp-duplicate: an input record that two committed output records name (it was
//     transformed twice: a zombie's transaction committed, or a rewind that went too
//     far back);
//   - ctp-phantom: a committed output record naming an input record that the input's
//     read_committed log does not hold with that value (one of an aborted input
//     transaction, or none at all);
//   - ctp-ahead: a committed output record naming an input record at or above the
//     group's committed offset (output committed without its offsets);
//   - ctp-aborted: a committed output record of a transaction whose EndTxn(abort) was
//     acknowledged, or that no EndTxn(commit) was sent for;
//   - ctp-undrained (reported by the drain, ctp.go): the committed offsets did not reach
//     the input's end within the bound. Not where a partition of the workers declared
//     a range lost: the producer state of the lost batches may be gone with them, and
//     a worker whose sequences the partition no longer knows is stuck (the drain stops
//     waiting at once).
//
// Partitions the final reads could not reach are not judged; nor are input offsets in
// ranges a partition declared lost, and no input record is held lost while an output
// partition lost a range. An output record of a transaction that did not commit is not
// held against the workers when its partition lost a range after it: the range may
// have held the transaction's abort marker (every copy damaged), and without it no
// reader can tell the records aborted.

// CTPHistory is what the exactly-once checker reads.
type CTPHistory struct {
	Ops []*Op
	// Input and Output are the topics; Committed holds each partition's final
	// read_committed read (data records only), Start where it begins; Fenced the
	// offsets the final reads found declared lost; Unread the partitions no final read
	// reached. Offsets are the group's final committed offsets of the input partitions.
	Input, Output string
	Committed     map[TopicPartition][]LogRecord
	Start         map[TopicPartition]int64
	Fenced        map[TopicPartition]map[int64]bool
	Unread        map[TopicPartition]bool
	Offsets       map[TopicPartition]int64
}

// ctpRef is an output record's reading of the input record it names.
type ctpRef struct {
	txn    int
	in     TopicPartition
	offset int64
	value  string
}

// parseCTPValue reads an output value "x<txn>/<topic>/<partition>/<offset>:<value>".
func parseCTPValue(v string) (ctpRef, bool) {
	name, value, ok := strings.Cut(v, ":")
	if !ok || !strings.HasPrefix(name, "x") {
		return ctpRef{}, false
	}
	f := strings.Split(name[1:], "/")
	if len(f) != 4 {
		return ctpRef{}, false
	}
	txn, err1 := strconv.Atoi(f[0])
	part, err2 := strconv.ParseInt(f[2], 10, 32)
	off, err3 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return ctpRef{}, false
	}
	return ctpRef{txn: txn, in: TopicPartition{f[1], int32(part)}, offset: off, value: value}, true
}

// CheckCTP checks the output of the consume-transform-produce workers against their
// input (nil when all is well), in a deterministic order.
func CheckCTP(h *CTPHistory) []TxnViolation {
	c := &txnChecker{n: map[string]int{}}
	// The transactions' ends, by number.
	commitSent, abortAcked := map[int]bool{}, map[int]bool{}
	for _, op := range h.Ops {
		if op.Kind != OpEndTxn || op.Txn <= 0 {
			continue
		}
		if op.Commit && op.Outcome != Failed {
			commitSent[op.Txn] = true
		}
		if !op.Commit && op.Outcome == OK {
			abortAcked[op.Txn] = true
		}
	}
	inputs := map[TopicPartition]map[int64]string{}
	outputsRead := true
	for _, tp := range sortedParts(h.Committed) {
		switch tp.Topic {
		case h.Input:
			m := map[int64]string{}
			for _, r := range h.Committed[tp] {
				m[r.Offset] = r.Value
			}
			inputs[tp] = m
		case h.Output:
			if h.Unread[tp] || len(h.Fenced[tp]) > 0 {
				outputsRead = false
			}
		}
	}
	for tp := range h.Unread { // order-independent: whether any output partition is unread
		if tp.Topic == h.Output {
			outputsRead = false
		}
	}
	named := map[TopicPartition]map[int64][]string{} // input record -> where output names it
	for _, tp := range sortedParts(h.Committed) {
		if tp.Topic != h.Output {
			continue
		}
		lastLost := int64(-1)
		for off := range h.Fenced[tp] { // order-independent: the largest
			lastLost = max(lastLost, off)
		}
		for _, r := range h.Committed[tp] {
			ref, ok := parseCTPValue(r.Value)
			if !ok || ref.in.Topic != h.Input {
				continue // another producer's record
			}
			if (abortAcked[ref.txn] || !commitSent[ref.txn]) && lastLost > r.Offset {
				continue // its marker may be what was lost
			}
			at := fmt.Sprintf("%s@%d", tp, r.Offset)
			if named[ref.in] == nil {
				named[ref.in] = map[int64][]string{}
			}
			named[ref.in][ref.offset] = append(named[ref.in][ref.offset], at)
			if n := len(named[ref.in][ref.offset]); n == 2 {
				c.report("ctp-duplicate", "input %s offset %d is named by committed output records at %v", ref.in, ref.offset, named[ref.in][ref.offset])
			}
			switch {
			case abortAcked[ref.txn]:
				c.report("ctp-aborted", "output %s (%q) is committed, but its transaction %d's EndTxn(abort) was acknowledged", at, r.Value, ref.txn)
			case !commitSent[ref.txn]:
				c.report("ctp-aborted", "output %s (%q) is committed, but no EndTxn(commit) was sent for its transaction %d", at, r.Value, ref.txn)
			}
			if off, ok := h.Offsets[ref.in]; ok && ref.offset >= off {
				c.report("ctp-ahead", "output %s (%q) names input %s offset %d, at or above the group's committed offset %d", at, r.Value, ref.in, ref.offset, off)
			}
			in, read := inputs[ref.in]
			if !read || h.Unread[ref.in] || ref.offset < h.Start[ref.in] || h.Fenced[ref.in][ref.offset] {
				continue
			}
			if v, ok := in[ref.offset]; !ok || v != ref.value {
				c.report("ctp-phantom", "output %s (%q) names input %s offset %d, which the input's committed log holds as %q", at, r.Value, ref.in, ref.offset, v)
			}
		}
	}
	if !outputsRead {
		return c.out
	}
	for _, tp := range sortedParts(inputs) {
		off, ok := h.Offsets[tp]
		if !ok || h.Unread[tp] {
			continue
		}
		for _, r := range h.Committed[tp] {
			if r.Offset >= off {
				break
			}
			if len(named[tp][r.Offset]) == 0 {
				c.report("ctp-lost", "input %s offset %d (%q) lies below the group's committed offset %d, and no committed output record names it", tp, r.Offset, r.Value, off)
			}
		}
	}
	return c.out
}

// checkCTP runs the exactly-once checker on seeds with consume-transform-produce
// workers; it reports whether the run may go on to other checks.
func (c *checkers) checkCTP() bool {
	w := c.w
	d := w.data
	if d.ctp == nil {
		return true
	}
	h := &CTPHistory{Ops: w.hist.Ops, Input: ctpInput, Output: ctpOutput, Committed: map[TopicPartition][]LogRecord{},
		Start: map[TopicPartition]int64{}, Fenced: map[TopicPartition]map[int64]bool{}, Unread: d.unread, Offsets: d.ctp.offsets}
	inputs := 0
	for _, tp := range d.finalPartitions() {
		if tp.Topic != ctpInput && tp.Topic != ctpOutput {
			continue
		}
		h.Committed[tp] = d.finalCommitted[tp]
		h.Start[tp] = d.finalStart[tp]
		if from, ok := d.finalCommittedFrom[tp]; ok {
			h.Start[tp] = from
		}
		for _, r := range d.finalReads[tp] {
			if r.Fenced {
				if h.Fenced[tp] == nil {
					h.Fenced[tp] = map[int64]bool{}
				}
				h.Fenced[tp][r.Offset] = true
			}
		}
		for _, off := range sortedKeys(d.finalCommittedFenced[tp]) {
			if h.Fenced[tp] == nil {
				h.Fenced[tp] = map[int64]bool{}
			}
			h.Fenced[tp][off] = true
		}
		if tp.Topic == ctpInput {
			inputs += len(d.finalCommitted[tp])
		}
	}
	vs := CheckCTP(h)
	w.cov.Add("check:ctp-inputs", int64(inputs))
	if len(vs) > 0 {
		var b strings.Builder
		for _, v := range vs {
			b.WriteString(v.String())
			b.WriteByte('\n')
		}
		w.fail("exactly-once", -1, "%d problems; first: %s\n%s", len(vs), vs[0], b.String())
		return false
	}
	return true
}
