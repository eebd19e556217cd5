package sim

import (
	"cmp"
	"fmt"
	"slices"
)

// Committed reads in the partition model (partmodel.go). A partition's log, markers
// included, fixes every transaction's span there: its first record and its marker. The
// last stable offset at committed length n is then
//
//	LSO(n) = the least first offset of a transaction with first < n whose marker is at
//	         or above n (or that has none), else n,
//
// and the partition answers max(LSO(n), its log start) (core/partition reads.go). A
// replica may also have forgotten, or never seen, an open transaction whose records all
// lie below its log start (a replica added by a reassignment copies from the log start;
// Kafka drops such transactions when the log start passes them): nothing of it is left
// to hold back, so it may answer up to LSO'(n), the LSO without those transactions. So a
// read_committed fetch that answered high watermark h, log start s and last stable
// offset l is legal only in state n = h with max(LSO(n), s) <= l <= max(LSO'(n), s), and a read_committed
// lookup of the latest offset (which tells no log start, at most the final read's
// start) only in a state n whose LSO(n) explains l. The aborted transactions a
// read_committed fetch lists depend on no state: they must be exactly the aborted
// transactions whose span, first record to marker, overlaps the range the fetch returned,
// except that a replica may leave out one it forgot or never saw: one whose records all
// lie below the log start it answered (and so below the range; Kafka lists it from its
// marker, which is as harmless).
//
// The log is the final read and, below its start (records deleted since), what any read
// saw. Offsets nobody read are gaps, and the spans near them are known in part: a
// transaction with a gap since its producer id's previous record or marker is cut (its
// first offset may lie in the gap: LSO(n) is then only bounded from above), a marker
// may lie in a gap inside a span, and transactions may begin and end within a gap, or
// begin in one and end in a later one with nothing of them read between (between the
// first gap and the last, LSO(n) is only bounded from above); at the committed lengths
// those make uncertain, only l <= n is checked. Compacted topics
// carry no transactions (txnproducer.go), and partitions whose final read met a range
// declared lost are not checked at all (datacheck.go).

// txnSpan is one transaction of a partition's log.
type txnSpan struct {
	pid    int64
	first  int64
	last   int64 // its last record seen
	marker int64 // -1: none
	abort  bool
	// cut: its first records may lie in a gap before first; holed: its marker may lie
	// in a gap before marker.
	cut, holed bool
}

// lsoStatus says what is known of LSO(n).
type lsoStatus uint8

const (
	lsoExact   lsoStatus = iota
	lsoAtMost            // a cut transaction is open: hi is an upper bound
	lsoUnknown           // a gap hides what was open
)

// lsoTable holds LSO(n) for every committed length n in [0, len(hi)). start is the
// final read's start: no log start a read answered was above it.
type lsoTable struct {
	start  int64
	hi     []int64
	status []lsoStatus
	spans  []txnSpan
}

// partitionLog is what is known of a partition's log: the final read, which starts at
// start, and below it the records any of reads saw (the log checker holds reads to
// agree), by offset.
func partitionLog(reads []*Op, final []LogRecord, start int64) []LogRecord {
	if start == 0 {
		return final
	}
	below := map[int64]LogRecord{}
	for _, op := range reads {
		for _, r := range op.Records {
			if r.Offset < start && !r.Fenced {
				below[r.Offset] = r
			}
		}
	}
	out := make([]LogRecord, 0, len(below)+len(final))
	for _, off := range sortedKeys(below) {
		out = append(out, below[off])
	}
	return append(out, final...)
}

// lsoOf builds the transaction spans of a partition's log and the LSO table over
// committed lengths [0, end], given the producer id of every transactional value.
func lsoOf(log []LogRecord, txnPID map[string]int64, start, end int64) ([]txnSpan, *lsoTable) {
	var spans []txnSpan
	var gaps [][2]int64 // [from, to) of the offsets nobody read
	var unknown [][2]int64
	openAt := map[int64]int{}     // pid -> index in spans of its open transaction
	lastSeen := map[int64]int64{} // pid -> offset of its last record or marker
	// gapSince returns the start of the first gap after offset at, -1 when none.
	gapSince := func(at int64) int64 {
		for _, g := range gaps {
			if g[1] > at+1 && g[0] > at {
				return g[0]
			}
		}
		return -1
	}
	since := func(pid int64) int64 {
		if at, ok := lastSeen[pid]; ok {
			return gapSince(at)
		}
		return gapSince(-1)
	}
	next := int64(0)
	for _, r := range log {
		if r.Fenced {
			continue
		}
		if r.Offset > next {
			gaps = append(gaps, [2]int64{next, r.Offset})
			unknown = append(unknown, [2]int64{next + 1, r.Offset})
			for _, i := range openAt { // order-independent: marks
				spans[i].holed = true
			}
		}
		next = r.Offset + 1
		if r.Control {
			commit, pid, _, ok := parseMarker(r.Value)
			if !ok {
				continue
			}
			if i, open := openAt[pid]; open {
				spans[i].marker, spans[i].abort = r.Offset, !commit
				delete(openAt, pid)
				if spans[i].holed {
					unknown = append(unknown, [2]int64{gapSince(spans[i].first) + 1, r.Offset})
				}
			} else if g := since(pid); g >= 0 {
				// Records of it may have been in the gap (or it had none here).
				unknown = append(unknown, [2]int64{g + 1, r.Offset})
			}
			lastSeen[pid] = r.Offset
			continue
		}
		pid, ok := txnPID[r.Value]
		if !ok {
			continue
		}
		if _, open := openAt[pid]; !open {
			g := since(pid)
			openAt[pid] = len(spans)
			spans = append(spans, txnSpan{pid: pid, first: r.Offset, last: r.Offset, marker: -1, cut: g >= 0})
			if g >= 0 {
				unknown = append(unknown, [2]int64{g + 1, r.Offset})
			}
		}
		spans[openAt[pid]].last = r.Offset
		lastSeen[pid] = r.Offset
	}
	for _, i := range openAt { // order-independent: appends ranges whose order is unused
		if s := spans[i]; s.holed {
			// No marker was seen, but one may lie in a gap after its records (read by
			// nobody before retention or DeleteRecords took it): from there on it may
			// be closed or open.
			unknown = append(unknown, [2]int64{max(gapSince(s.last), s.last) + 1, end})
		}
	}
	t := &lsoTable{start: start, hi: make([]int64, end+1), status: make([]lsoStatus, end+1)}
	for i := range t.hi {
		t.hi[i] = int64(i)
	}
	for _, s := range spans {
		// Open at n in (first, marker], or from first on when it has no marker.
		hi := end
		if s.marker >= 0 {
			hi = min(hi, s.marker)
		}
		for n := s.first + 1; n <= hi; n++ {
			t.hi[n] = min(t.hi[n], s.first)
			if s.cut && t.status[n] == lsoExact {
				t.status[n] = lsoAtMost
			}
		}
	}
	if len(gaps) > 0 {
		// A transaction may lie wholly in gaps: its records in one, its marker in a later
		// one, nothing of it among the records read between. At a committed length with
		// a gap below it and one at or above it, such a transaction may be open: LSO(n)
		// is then only bounded from above.
		for n := gaps[0][0] + 1; n < min(gaps[len(gaps)-1][1], end+1); n++ {
			if t.status[n] == lsoExact {
				t.status[n] = lsoAtMost
			}
		}
	}
	for _, u := range unknown {
		for n := max(u[0], 0); n <= min(u[1], end); n++ {
			t.status[n] = lsoUnknown
		}
	}
	slices.SortStableFunc(spans, func(a, b txnSpan) int { return cmp.Compare(a.first, b.first) })
	t.spans = spans
	return spans, t
}

// allows reports whether a partition at committed length n may answer last stable
// offset lso along with log start logStart (-1: not answered, as ListOffsets does).
func (t *lsoTable) allows(n, lso, logStart int64) bool {
	if lso > n || (logStart >= 0 && lso < logStart) {
		return false
	}
	if t == nil {
		return lso == max(n, logStart)
	}
	if n < 0 || n >= int64(len(t.hi)) {
		return true // beyond what the reads know
	}
	v := t.hi[n]
	switch {
	case t.status[n] == lsoUnknown:
		return true
	case logStart >= 0 && t.status[n] == lsoAtMost:
		return lso <= max(t.forgetting(n, logStart), logStart)
	case logStart >= 0:
		return max(v, logStart) <= lso && lso <= max(t.forgetting(n, logStart), logStart)
	case t.status[n] == lsoAtMost:
		return lso <= max(t.forgetting(n, t.start), t.start)
	}
	return v <= lso && lso <= max(t.forgetting(n, t.start), t.start)
}

// forgetting is LSO'(n): the LSO at committed length n without the open transactions
// whose records all lie below logStart.
func (t *lsoTable) forgetting(n, logStart int64) int64 {
	v := n
	for _, s := range t.spans {
		if s.first < n && (s.marker < 0 || s.marker >= n) && s.last >= logStart {
			v = min(v, s.first)
		}
	}
	return v
}

// describe is LSO(n) for Porcupine's visualization.
func (t *lsoTable) describe(n int64) string {
	switch {
	case t == nil:
		return fmt.Sprint(n)
	case n < 0 || n >= int64(len(t.hi)) || t.status[n] == lsoUnknown:
		return "unknown"
	case t.status[n] == lsoAtMost:
		return fmt.Sprintf("at most %d", t.hi[n])
	}
	return fmt.Sprint(t.hi[n])
}

// abortedProblem checks the aborted transactions a read_committed fetch listed against
// the spans of its partition's log; "" when they agree. known reports whether an
// offset of the log was read, lost (nil: none) whether it lies in a range the partition
// declared lost.
func abortedProblem(op *Op, spans []txnSpan, known, lost func(int64) bool) string {
	var want []txnSpan
	if op.Next > op.Offset {
		from, to := op.Offset, op.Next-1
		for _, s := range spans {
			if s.abort && !s.holed && s.first <= to && s.marker >= from {
				want = append(want, s)
			}
		}
	}
	got := slices.Clone(op.Aborted)
	logStart := op.LogStart
	if logStart < 0 {
		// Not answered (Fetch before v5): it is at most where the fetch began.
		logStart = op.Offset
	}
	var missing []string
	for _, s := range want {
		i := slices.IndexFunc(got, func(a [2]int64) bool {
			// A replica that rebuilt its index once its log start had passed the
			// transaction's first records lists it from a later offset; at or below where
			// the fetch began, that drops the same records.
			return a[0] == s.pid && (a[1] == s.first || (s.cut && a[1] <= s.first) || (s.first < a[1] && a[1] <= op.Offset))
		})
		if i < 0 && s.last < logStart && s.last < op.Offset {
			continue // wholly below the replica's log start: it may not know it
		}
		if i < 0 && lost != nil && lost(s.marker) {
			// Its marker lies in a range every copy lost: a replica that copied the gap
			// never saw the abort, and no answer is right any more.
			continue
		}
		if i < 0 {
			missing = append(missing, fmt.Sprintf("producer %d from %d", s.pid, s.first))
			continue
		}
		got = slices.Delete(got, i, i+1)
	}
	var extra []string
	for _, a := range got {
		if !known(a[1]) {
			continue // in a gap: the log is not known there
		}
		if slices.ContainsFunc(spans, func(s txnSpan) bool {
			return s.pid == a[0] && s.holed && s.first <= a[1] && (s.marker < 0 || a[1] <= s.marker)
		}) {
			continue // a transaction may have ended in the gap (and another begun)
		}
		extra = append(extra, fmt.Sprintf("producer %d from %d", a[0], a[1]))
	}
	if len(missing) == 0 && len(extra) == 0 {
		return ""
	}
	return fmt.Sprintf("a read_committed fetch from %d returned up to offset %d and listed aborted transactions %v: of those overlapping that range in the log it lacks %v, and it lists %v, which the log does not abort there",
		op.Offset, op.Next-1, op.Aborted, missing, extra)
}
