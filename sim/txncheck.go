package sim

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The transactions checker (checker "transactions"). Its ground truth is the final logs,
// read after healing with read_uncommitted, markers included: a transactional record's
// outcome is the first marker of its producer id that follows it on its partition
// (commit or abort), and a transaction's outcome is that of its records. It reports:
//
//   - mixed: a transaction committed on one partition and aborted on another, or with
//     records on both sides of a marker of one partition;
//   - unresolved: a transactional record with no marker after it at the end (the
//     transaction never ended there: read_committed consumers stall at it for ever);
//   - late-write: a record of a transaction after that transaction's own marker on its
//     partition (an append the epoch should have fenced, or a marker written early);
//   - lost-write: a transaction whose EndTxn(commit) was acknowledged, with an
//     acknowledged record missing from the final log, or the transaction aborted;
//   - duplicate: a record of a transaction twice in the final logs;
//   - phantom-commit: a committed transaction that no EndTxn(commit) was ever sent
//     for, or whose EndTxn(abort) was acknowledged;
//   - fenced-write: a transactional record in a final log after a marker or a record of
//     its producer id with a newer epoch (the partition took a fenced epoch);
//   - aborted-read: a read_committed fetch that returned (did not drop) a record of a
//     transaction that aborted;
//   - dirty-read: a read_committed fetch that returned a record of a transaction that
//     never committed, or before its commit marker on the partition was below the high
//     watermark the fetch answered (the transaction was still open there);
//   - committed-dropped: a read_committed fetch that dropped a committed record;
//   - fractured-read: a read_committed fetch that returned some but not all of a
//     transaction's records within the range it read of one partition;
//   - cycle: committed transactions ordered in a cycle: T1 precedes T2 when, on a
//     partition both wrote, T1's commit marker lies below T2's first record there (T2
//     wrote it only after T1 ended there). All of a transaction's writes come before
//     its EndTxn and its markers after, so the order is acyclic in a correct system.
//     (Transactions that interleave on a partition are not ordered: Kafka lets
//     concurrent transactions interleave, and orders them differently on different
//     partitions, which is no anomaly of its design.)
//   - overlap: two transactions of one transactional id overlapping on a partition (the
//     later one's first record below the earlier one's marker);
//   - offsets: a transactional offset commit visible to OffsetFetch while its
//     transaction is open, or ever when its transaction aborted;
//   - final-visible: the final read_committed read of a partition showing a record of
//     an aborted transaction, or lacking one of a committed transaction;
//   - coordinator-lost-end: a coordinator's Prepare over partitions the producer's
//     current transaction never added (txncoord.go);
//   - hanging transaction: the final read_committed read of a partition still waiting at
//     a last stable offset below the high watermark past the liveness bound, when every
//     transaction has ended (dataload.go: reported as the liveness bound passes). A
//     partition that declared offsets above that last stable offset lost (no intact
//     copy left) may have lost the marker itself: it is left unread instead.
//
// Partitions the final reads could not reach are not judged; records below a final
// read's start on partitions that may delete are not looked for, nor records and
// markers in ranges a partition declared lost (every in-sync copy damaged), nor, by the
// final read_committed read, records at offsets it found declared lost.

// TxnHistory is what the transactions checker reads.
type TxnHistory struct {
	Ops []*Op
	// Final holds each partition's final read (read_uncommitted, markers included);
	// Committed the data records the final read_committed read of it saw (absent: not
	// read). Start is where a final read begins; MayDelete marks the partitions whose
	// records may be deleted; Unread the partitions no final read reached.
	Final     map[TopicPartition][]LogRecord
	Committed map[TopicPartition][]LogRecord
	// CommittedFrom is where the final read_committed read of a partition went on after
	// retention deleted what it had not read yet (absent: Start).
	CommittedFrom map[TopicPartition]int64
	// CommittedFenced holds the offsets the final read_committed read found declared
	// lost (it may meet damage the earlier final read did not: a copy out of the ISR
	// held the data then).
	CommittedFenced map[TopicPartition]map[int64]bool
	Start           map[TopicPartition]int64
	MayDelete       map[TopicPartition]bool
	Unread          map[TopicPartition]bool
}

// TxnViolation is one problem the transactions checker found.
type TxnViolation struct {
	Kind    string
	Message string
}

func (v TxnViolation) String() string { return v.Kind + ": " + v.Message }

// txnOutcome is a transaction's outcome on a partition, or overall.
type txnOutcome uint8

const (
	txnUnknown txnOutcome = iota // nothing of it in the final logs
	txnCommitted
	txnAborted
	txnOpen // records with no marker after them
)

var txnOutcomeNames = [...]string{"unknown", "committed", "aborted", "open"}

func (o txnOutcome) String() string { return txnOutcomeNames[o] }

// txnPart is what the final log of one partition says of one transaction.
type txnPart struct {
	first, last int64   // offsets of its first and last records
	offsets     []int64 // of all its records, in order
	marker      int64   // its marker's offset, -1 when none
	outcome     txnOutcome
	// damaged: a range declared lost follows some of its records before any marker:
	// its outcome there is unknown, and it is not judged there.
	damaged bool
}

// txnInfo is one transaction of the history.
type txnInfo struct {
	num      int
	id       string
	pid      int64
	epoch    int16
	produces []*Op
	ends     []*Op
	parts    map[TopicPartition]*txnPart
	outcome  txnOutcome
}

// txnRecordRef is a transactional record of a final log.
type txnRecordRef struct {
	txn    *txnInfo
	op     *Op
	value  string
	offset int64
}

type txnChecker struct {
	h      *TxnHistory
	txns   map[int]*txnInfo
	order  []int
	values map[string]*Op // value -> its transactional produce
	// at maps each partition's offsets to the transactional record there, and byValue
	// its values to the same.
	at      map[TopicPartition]map[int64]*txnRecordRef
	byValue map[TopicPartition]map[string]*txnRecordRef
	out     []TxnViolation
	n       map[string]int
}

// txnViolationsMax bounds what the checker reports, txnKindMax what of one kind.
const (
	txnViolationsMax = 20
	txnKindMax       = 5
)

func (c *txnChecker) report(kind, format string, args ...any) {
	if len(c.out) < txnViolationsMax && c.n[kind] < txnKindMax {
		c.n[kind]++
		c.out = append(c.out, TxnViolation{Kind: kind, Message: fmt.Sprintf(format, args...)})
	}
}

// CheckTxns checks the transactions of a history against the final logs (nil when all
// is well), in a deterministic order.
func CheckTxns(h *TxnHistory) []TxnViolation {
	c := &txnChecker{h: h, txns: map[int]*txnInfo{}, values: map[string]*Op{}, at: map[TopicPartition]map[int64]*txnRecordRef{},
		byValue: map[TopicPartition]map[string]*txnRecordRef{}, n: map[string]int{}}
	c.index()
	if len(c.txns) == 0 {
		return nil
	}
	c.groundTruth()
	c.outcomes()
	c.acknowledged()
	c.reads()
	c.sameID()
	c.cycles()
	c.offsets()
	c.finalCommitted()
	return c.out
}

// index gathers the transactions of the history.
func (c *txnChecker) index() {
	for _, op := range c.h.Ops {
		if op.Txn <= 0 || (op.Kind != OpProduce && op.Kind != OpEndTxn) {
			continue
		}
		t := c.txns[op.Txn]
		if t == nil {
			t = &txnInfo{num: op.Txn, id: op.TxnID, pid: op.Producer, epoch: op.Epoch, parts: map[TopicPartition]*txnPart{}}
			c.txns[op.Txn] = t
			c.order = append(c.order, op.Txn)
		}
		if op.Kind == OpEndTxn {
			t.ends = append(t.ends, op)
			continue
		}
		t.produces = append(t.produces, op)
		for _, v := range op.Values {
			c.values[v] = op
		}
	}
	slices.Sort(c.order)
}

// groundTruth reads the final logs: every transactional record's outcome is the first
// marker of its producer id after it.
func (c *txnChecker) groundTruth() {
	tps := make([]TopicPartition, 0, len(c.h.Final))
	for tp := range c.h.Final {
		tps = append(tps, tp)
	}
	slices.SortFunc(tps, compareTP)
	for _, tp := range tps {
		if c.h.Unread[tp] {
			continue
		}
		at, byValue := map[int64]*txnRecordRef{}, map[string]*txnRecordRef{}
		c.at[tp], c.byValue[tp] = at, byValue
		waiting := map[int64][]*txnRecordRef{} // pid -> records with no marker yet
		seen := map[string]int64{}
		epochs := map[int64]int16{} // pid -> the newest epoch the partition took from it
		for _, r := range c.h.Final[tp] {
			if r.Fenced {
				// The range was declared lost: the marker of any transaction still
				// waiting for one may have been in it.
				for _, refs := range waiting { // order-independent: marks
					for _, ref := range refs {
						ref.txn.parts[tp].damaged = true
					}
				}
				clear(waiting)
				continue
			}
			if r.Control {
				commit, pid, epoch, ok := parseMarker(r.Value)
				if !ok {
					continue
				}
				if e, known := epochs[pid]; !known || epoch > e {
					epochs[pid] = epoch
				}
				out := txnAborted
				if commit {
					out = txnCommitted
				}
				for _, ref := range waiting[pid] {
					// A record after its transaction's marker was reported as it came.
					if p := ref.txn.parts[tp]; p.marker < 0 {
						p.marker, p.outcome = r.Offset, out
					}
				}
				delete(waiting, pid)
				continue
			}
			op := c.values[r.Value]
			if op == nil {
				continue
			}
			if o, dup := seen[r.Value]; dup {
				c.report("duplicate", "%s: %q of transaction %d at offsets %d and %d", tp, r.Value, op.Txn, o, r.Offset)
				continue
			}
			seen[r.Value] = r.Offset
			if e, known := epochs[op.Producer]; known && op.Epoch < e {
				c.report("fenced-write", "%s: %q at offset %d, of transaction %d (%s) with producer %d epoch %d, lies after the partition took epoch %d of that producer",
					tp, r.Value, r.Offset, op.Txn, op.TxnID, op.Producer, op.Epoch, e)
			} else {
				epochs[op.Producer] = op.Epoch
			}
			t := c.txns[op.Txn]
			ref := &txnRecordRef{txn: t, op: op, value: r.Value, offset: r.Offset}
			at[r.Offset], byValue[r.Value] = ref, ref
			p := t.parts[tp]
			if p == nil {
				p = &txnPart{first: r.Offset, marker: -1}
				t.parts[tp] = p
			}
			p.last = r.Offset
			p.offsets = append(p.offsets, r.Offset)
			if p.damaged {
				continue
			}
			if p.marker >= 0 && p.marker < r.Offset {
				c.report("late-write", "%s: %q of transaction %d (%s) at offset %d lies after the transaction's %s marker at offset %d",
					tp, r.Value, t.num, t.id, r.Offset, p.outcome, p.marker)
			}
			waiting[op.Producer] = append(waiting[op.Producer], ref)
		}
		for _, pid := range sortedKeys(waiting) {
			for _, ref := range waiting[pid] {
				p := ref.txn.parts[tp]
				if p.marker < 0 {
					p.outcome = txnOpen
					c.report("unresolved", "%s: %q of transaction %d (%s, producer %d) at offset %d has no marker after it in the final log",
						tp, ref.value, ref.txn.num, ref.txn.id, pid, ref.offset)
				}
			}
		}
	}
}

// outcomes settles each transaction's outcome and checks that its partitions agree.
func (c *txnChecker) outcomes() {
	for _, num := range c.order {
		t := c.txns[num]
		var committed, aborted []TopicPartition
		for _, tp := range sortedParts(t.parts) {
			switch t.parts[tp].outcome {
			case txnCommitted:
				committed = append(committed, tp)
			case txnAborted:
				aborted = append(aborted, tp)
			}
		}
		switch {
		case len(committed) > 0 && len(aborted) > 0:
			c.report("mixed", "transaction %d (%s) committed on %v and aborted on %v", t.num, t.id, committed, aborted)
			t.outcome = txnCommitted
		case len(committed) > 0:
			t.outcome = txnCommitted
		case len(aborted) > 0:
			t.outcome = txnAborted
		case len(t.parts) > 0:
			t.outcome = txnOpen
		}
		commitSent, abortAcked, commitAcked := false, false, false
		for _, e := range t.ends {
			if e.Commit {
				commitSent = commitSent || e.Outcome != Failed // a refusal has no effect
				commitAcked = commitAcked || e.Outcome == OK
			} else {
				abortAcked = abortAcked || e.Outcome == OK
			}
		}
		if t.outcome == txnCommitted && !commitSent {
			c.report("phantom-commit", "transaction %d (%s) is committed in the final logs (on %v), but no EndTxn(commit) was sent for it", t.num, t.id, committed)
		}
		if t.outcome == txnCommitted && abortAcked {
			c.report("phantom-commit", "transaction %d (%s) is committed in the final logs (on %v), but its EndTxn(abort) was acknowledged", t.num, t.id, committed)
		}
		if commitAcked && t.outcome == txnAborted {
			c.report("lost-write", "transaction %d (%s): EndTxn(commit) was acknowledged, but the final logs abort it on %v", t.num, t.id, aborted)
		}
	}
}

// acknowledged checks that the acknowledged records of transactions whose commit was
// acknowledged are in the final logs, followed by a commit marker.
func (c *txnChecker) acknowledged() {
	for _, num := range c.order {
		t := c.txns[num]
		if !slices.ContainsFunc(t.ends, func(e *Op) bool { return e.Commit && e.Outcome == OK }) {
			continue
		}
		for _, op := range t.produces {
			tp := op.key()
			if op.Outcome != OK || c.h.Unread[tp] {
				continue
			}
			if _, read := c.h.Final[tp]; !read {
				continue
			}
			for i, v := range op.Values {
				ref := c.find(tp, v)
				switch {
				case ref == nil && c.h.MayDelete[tp] && c.h.Start[tp] > 0 && (op.Offset < 0 || op.Offset+int64(i) < c.h.Start[tp]):
					// Deleted below the log start.
				case ref == nil && c.damagedAt(tp, op.Offset, i):
					// Lost with every in-sync copy (the log checker reports it as allowed).
				case ref == nil:
					c.report("lost-write", "transaction %d (%s): %q, acknowledged on %s at offset %d, is not in the final log though its commit was acknowledged",
						t.num, t.id, v, tp, op.Offset)
				case t.parts[tp].damaged:
				case t.parts[tp].outcome != txnCommitted:
					c.report("lost-write", "transaction %d (%s): %q at %s offset %d is %s in the final log though its commit was acknowledged",
						t.num, t.id, v, tp, ref.offset, t.parts[tp].outcome)
				}
			}
		}
	}
}

// damagedAt reports whether the i-th record of a produce acknowledged at base (-1:
// unknown) sits at an offset the final read of tp found declared lost (any such offset
// when base is unknown).
func (c *txnChecker) damagedAt(tp TopicPartition, base int64, i int) bool {
	for _, r := range c.h.Final[tp] {
		if r.Fenced && (base < 0 || r.Offset == base+int64(i)) {
			return true
		}
	}
	return false
}

// find returns the final log's record of value v on tp (nil when absent).
func (c *txnChecker) find(tp TopicPartition, v string) *txnRecordRef { return c.byValue[tp][v] }

// reads checks the read_committed fetches.
func (c *txnChecker) reads() {
	for _, op := range c.h.Ops {
		if op.Kind != OpFetch || op.Isolation != 1 || op.Outcome != OK || len(op.Records) == 0 {
			continue
		}
		tp := op.key()
		hidden := map[int64]bool{}
		for _, o := range op.Hidden {
			hidden[o] = true
		}
		lo, hi := op.Offset, op.Records[len(op.Records)-1].Offset
		type seen struct{ visible, dropped int }
		per := map[int]*seen{}
		var nums []int
		for _, r := range op.Records {
			if r.Control {
				continue
			}
			top := c.values[r.Value]
			if top == nil {
				continue
			}
			t := c.txns[top.Txn]
			s := per[t.num]
			if s == nil {
				s = &seen{}
				per[t.num] = s
				nums = append(nums, t.num)
			}
			p := t.parts[tp]
			if p != nil && p.damaged {
				continue
			}
			if hidden[r.Offset] {
				s.dropped++
				if p != nil && p.outcome == txnCommitted {
					c.report("committed-dropped", "%s: a read_committed fetch by client %d at %v (from %d) dropped %q at offset %d of transaction %d (%s), which committed",
						tp, op.Client, time.Duration(op.Call), op.Offset, r.Value, r.Offset, t.num, t.id)
				}
				continue
			}
			s.visible++
			switch {
			case c.h.Unread[tp]:
			case p == nil && c.h.MayDelete[tp] && r.Offset < c.h.Start[tp]:
				// Deleted before the final read: its outcome there is unknown.
			case p == nil && c.damagedAt(tp, r.Offset, 0):
				// Lost to damage since.
			case p == nil:
				c.report("dirty-read", "%s: a read_committed fetch by client %d at %v (from %d) returned %q at offset %d of transaction %d (%s), which the final log lacks",
					tp, op.Client, time.Duration(op.Call), op.Offset, r.Value, r.Offset, t.num, t.id)
			case p.outcome == txnAborted:
				c.report("aborted-read", "%s: a read_committed fetch by client %d at %v (from %d) returned %q at offset %d of transaction %d (%s), which aborted",
					tp, op.Client, time.Duration(op.Call), op.Offset, r.Value, r.Offset, t.num, t.id)
			case p.outcome == txnOpen:
				c.report("dirty-read", "%s: a read_committed fetch by client %d at %v (from %d) returned %q at offset %d of transaction %d (%s), which never ended there",
					tp, op.Client, time.Duration(op.Call), op.Offset, r.Value, r.Offset, t.num, t.id)
			case p.marker >= op.HW:
				c.report("dirty-read", "%s: a read_committed fetch by client %d at %v (from %d) returned %q at offset %d of transaction %d (%s) with high watermark %d, while the transaction's commit marker there is at offset %d",
					tp, op.Client, time.Duration(op.Call), op.Offset, r.Value, r.Offset, t.num, t.id, op.HW, p.marker)
			}
		}
		for _, num := range nums {
			s := per[num]
			t := c.txns[num]
			p := t.parts[tp]
			if p == nil {
				continue
			}
			// The transaction's records within the range the fetch covered.
			from, _ := slices.BinarySearch(p.offsets, lo)
			to, found := slices.BinarySearch(p.offsets, hi)
			if found {
				to++
			}
			inRange := to - from
			if s.visible > 0 && (s.dropped > 0 || s.visible < inRange) {
				c.report("fractured-read", "%s: a read_committed fetch by client %d at %v read [%d, %d] and saw %d of the %d records of transaction %d (%s) there",
					tp, op.Client, time.Duration(op.Call), lo, hi, s.visible, inRange, t.num, t.id)
			}
		}
	}
}

// sameID checks that the transactions of one transactional id follow one another on
// every partition they share.
func (c *txnChecker) sameID() {
	last := map[string]*txnInfo{}
	for _, num := range c.order {
		t := c.txns[num]
		if prev := last[t.id]; prev != nil {
			for _, tp := range sortedParts(t.parts) {
				pp := prev.parts[tp]
				if pp == nil {
					continue
				}
				if pp.marker >= 0 && !pp.damaged && t.parts[tp].first < pp.marker {
					c.report("overlap", "%s: transaction %d of %s begins at offset %d, below the marker (%d) of its predecessor %d",
						tp, t.num, t.id, t.parts[tp].first, pp.marker, prev.num)
				}
			}
		}
		if len(t.parts) > 0 {
			last[t.id] = t
		}
	}
}

// cycles looks for a cycle among committed transactions (see above).
func (c *txnChecker) cycles() {
	type edge struct {
		to int
		tp TopicPartition
	}
	byPart := map[TopicPartition][]*txnInfo{}
	for _, num := range c.order {
		t := c.txns[num]
		if t.outcome != txnCommitted {
			continue
		}
		for tp, p := range t.parts {
			if p.outcome == txnCommitted {
				byPart[tp] = append(byPart[tp], t)
			}
		}
	}
	succ := map[int][]edge{}
	for _, tp := range sortedParts(byPart) {
		ts := byPart[tp]
		slices.SortFunc(ts, func(a, b *txnInfo) int { return cmp.Compare(a.parts[tp].first, b.parts[tp].first) })
		for i, a := range ts {
			for _, b := range ts[i+1:] {
				if a.parts[tp].marker < b.parts[tp].first {
					succ[a.num] = append(succ[a.num], edge{b.num, tp})
				}
				if b.parts[tp].marker < a.parts[tp].first {
					succ[b.num] = append(succ[b.num], edge{a.num, tp})
				}
			}
		}
	}
	// Depth-first search, in transaction order, for a back edge.
	const (
		white = iota
		grey
		black
	)
	color := map[int]int{}
	var stack []edge
	var found []edge
	var visit func(n int) bool
	visit = func(n int) bool {
		color[n] = grey
		for _, e := range succ[n] {
			switch color[e.to] {
			case grey:
				i := slices.IndexFunc(stack, func(s edge) bool { return s.to == e.to })
				found = append(slices.Clone(stack[i+1:]), e)
				return true
			case white:
				stack = append(stack, e)
				if visit(e.to) {
					return true
				}
				stack = stack[:len(stack)-1]
			}
		}
		color[n] = black
		return false
	}
	for _, num := range c.order {
		if color[num] != white {
			continue
		}
		stack = []edge{{to: num}}
		if visit(num) {
			var b strings.Builder
			for i, e := range found {
				prev := found[(i+len(found)-1)%len(found)].to
				fmt.Fprintf(&b, " %d -(%s: marker %d < first %d)-> %d;", prev, e.tp, c.txns[prev].parts[e.tp].marker, c.txns[e.to].parts[e.tp].first, e.to)
			}
			c.report("cycle", "committed transactions ordered in a cycle:%s", b.String())
			return
		}
	}
}

// offsets checks what OffsetFetch showed of transactional offset commits.
func (c *txnChecker) offsets() {
	commitSent := map[int]int64{} // txn -> when its first EndTxn(commit) was sent
	for _, num := range c.order {
		for _, e := range c.txns[num].ends {
			if e.Commit {
				if at, ok := commitSent[num]; !ok || e.Call < at {
					commitSent[num] = e.Call
				}
			}
		}
	}
	committedBy := map[int]bool{}
	for _, op := range c.h.Ops {
		if op.Kind == OpTxnOffsetCommit {
			committedBy[op.Txn] = true
		}
	}
	for _, op := range c.h.Ops {
		if op.Kind != OpTxnOffsetFetch || op.Outcome != OK {
			continue
		}
		for _, po := range op.Offsets {
			v := int(po.Offset)
			if v <= 0 || !committedBy[v] {
				continue
			}
			t := c.txns[v]
			sent, ok := commitSent[v]
			switch {
			case v == op.Txn:
				c.report("offsets", "group %s: OffsetFetch by client %d at %v showed offset %d of %s committed by transaction %d, still open",
					op.Group, op.Client, time.Duration(op.Call), po.Offset, po.TopicPartition, v)
			case !ok || sent > op.Return:
				c.report("offsets", "group %s: OffsetFetch by client %d at %v showed offset %d of %s, written by transaction %d before any EndTxn(commit) of it",
					op.Group, op.Client, time.Duration(op.Call), po.Offset, po.TopicPartition, v)
			case t != nil && t.outcome == txnAborted:
				c.report("offsets", "group %s: OffsetFetch by client %d at %v showed offset %d of %s, written by transaction %d, which aborted",
					op.Group, op.Client, time.Duration(op.Call), po.Offset, po.TopicPartition, v)
			}
		}
	}
}

// finalCommitted checks the final read_committed reads against the outcomes.
func (c *txnChecker) finalCommitted() {
	for _, tp := range sortedParts(c.h.Committed) {
		if c.h.Unread[tp] {
			continue
		}
		visible := map[int64]bool{}
		for _, r := range c.h.Committed[tp] {
			visible[r.Offset] = true
			if ref := c.at[tp][r.Offset]; ref != nil && !ref.txn.parts[tp].damaged && ref.txn.parts[tp].outcome != txnCommitted {
				c.report("final-visible", "%s: the final read_committed read shows %q at offset %d of transaction %d (%s), %s there",
					tp, r.Value, r.Offset, ref.txn.num, ref.txn.id, ref.txn.parts[tp].outcome)
			}
		}
		start := max(c.h.Start[tp], c.h.CommittedFrom[tp])
		for _, off := range sortedKeys(c.at[tp]) {
			ref := c.at[tp][off]
			if off >= start && !ref.txn.parts[tp].damaged && ref.txn.parts[tp].outcome == txnCommitted && !visible[off] && !c.h.CommittedFenced[tp][off] {
				c.report("final-visible", "%s: the final read_committed read lacks offset %d of transaction %d (%s), which committed there",
					tp, off, ref.txn.num, ref.txn.id)
			}
		}
	}
}

// sortedParts returns the keys of a map by partition, sorted.
func sortedParts[V any](m map[TopicPartition]V) []TopicPartition {
	out := make([]TopicPartition, 0, len(m))
	for tp := range m {
		out = append(out, tp)
	}
	slices.SortFunc(out, compareTP)
	return out
}

// txnCoverage counts what the transactions of a run that passed the checker did.
func (w *World) txnCoverage(h *TxnHistory) {
	c := &txnChecker{h: h, txns: map[int]*txnInfo{}, values: map[string]*Op{}, at: map[TopicPartition]map[int64]*txnRecordRef{},
		byValue: map[TopicPartition]map[string]*txnRecordRef{}, n: map[string]int{}}
	c.index()
	c.groundTruth()
	c.outcomes()
	for _, num := range c.order {
		switch c.txns[num].outcome {
		case txnCommitted:
			w.cov.Inc("check:txn-committed")
			if len(c.txns[num].parts) > 1 {
				w.cov.Inc("check:txn-committed-multi-partition")
			}
		case txnAborted:
			w.cov.Inc("check:txn-aborted")
		}
	}
	for _, op := range h.Ops {
		if op.Kind == OpFetch && op.Isolation == 1 && op.Outcome == OK && len(op.Hidden) > 0 {
			w.cov.Inc("check:read-committed-dropped")
		}
	}
}
