package sim

import (
	"strings"
	"testing"
	"time"
)

// A partition log for the LSO tests: producer 7's transaction [1, 3) aborted by the
// marker at 4, producer 8's [2, 6) committed at 6, a plain record at 0 and 5.
//
//	0 p   1 t7  2 t8  3 t7  4 abort7  5 p  6 commit8
func lsoLog() ([]LogRecord, map[string]int64) {
	log := []LogRecord{{Offset: 0, Value: "p0"}, {Offset: 1, Value: "a1"}, {Offset: 2, Value: "b1"}, {Offset: 3, Value: "a2"},
		{Offset: 4, Value: "marker:abort:7:0", Control: true}, {Offset: 5, Value: "p1"}, {Offset: 6, Value: "marker:commit:8:0", Control: true}}
	return log, map[string]int64{"a1": 7, "a2": 7, "b1": 8}
}

func TestLSOTable(t *testing.T) {
	log, pids := lsoLog()
	spans, tab := lsoOf(log, pids, 0, 7)
	if len(spans) != 2 || spans[0] != (txnSpan{pid: 7, first: 1, last: 3, marker: 4, abort: true}) || spans[1] != (txnSpan{pid: 8, first: 2, last: 2, marker: 6}) {
		t.Fatalf("spans %+v", spans)
	}
	// n:            0  1  2  3  4  5  6  7
	want := []int64{0, 1, 1, 1, 1, 2, 2, 7}
	for n, v := range want {
		if tab.hi[n] != v || tab.status[n] != lsoExact {
			t.Errorf("LSO(%d) = %d (%d), want %d", n, tab.hi[n], tab.status[n], v)
		}
		if !tab.allows(int64(n), v, 0) || tab.allows(int64(n), v-1, 0) || (v < int64(n) && tab.allows(int64(n), v+1, 0)) {
			t.Errorf("allows at %d is not exact", n)
		}
	}
	// The log start raises it: max(LSO(n), log start).
	if !tab.allows(5, 3, 3) || tab.allows(5, 2, 3) {
		t.Error("the log start is not taken into account")
	}
	// A replica whose log start passed every record of producer 8's open transaction
	// (its last at 2) may have forgotten it: at 5 it may answer up to 5.
	if !tab.allows(5, 3, 3) || !tab.allows(5, 5, 3) || tab.allows(5, 2, 3) {
		t.Error("a transaction wholly below the log start still bounds the LSO")
	}
	if tab.allows(5, 5, 2) {
		t.Error("a transaction with a record at the log start may be forgotten")
	}
	// A lookup tells no log start: anything from LSO(n) up to the final read's start (0).
	if !tab.allows(5, 2, -1) || tab.allows(5, 3, -1) {
		t.Error("a lookup's LSO")
	}
}

func TestLSOTableGaps(t *testing.T) {
	log, pids := lsoLog()
	// Offsets 0-2 were deleted and never read: producer 7's and 8's first records and
	// everything below them are unknown.
	spans, tab := lsoOf(log[3:], pids, 3, 7)
	if len(spans) != 1 || !spans[0].cut || spans[0].first != 3 || spans[0].pid != 7 {
		t.Fatalf("spans %+v", spans)
	}
	if tab.status[0] != lsoExact || !tab.allows(0, 0, 0) {
		t.Error("LSO(0) is 0 whatever was deleted")
	}
	// Producer 8's marker at 6 follows the gap with no record of it: its records may
	// have been in the gap, so LSO(n) is unknown up to 6.
	for n := 1; n <= 6; n++ {
		if tab.status[n] != lsoUnknown || !tab.allows(int64(n), 0, 0) {
			t.Errorf("LSO(%d) is %d, not unknown", n, tab.status[n])
		}
	}
	if tab.status[7] != lsoExact || !tab.allows(7, 7, 3) || tab.allows(7, 6, 3) {
		t.Error("LSO(7)")
	}
	// A read saw offsets 1-2 before the deletion: only offset 0 is a gap.
	read := &Op{Kind: OpFetch, Records: log[1:3]}
	full := partitionLog([]*Op{read}, log[3:], 3)
	if len(full) != 6 || full[0].Offset != 1 {
		t.Fatalf("log %v", full)
	}
	spans, tab = lsoOf(full, pids, 3, 7)
	if len(spans) != 2 || spans[0].cut != true || spans[1].cut != true {
		t.Fatalf("spans %+v", spans) // a gap (offset 0) lies before both
	}
	if tab.status[5] != lsoAtMost || tab.hi[5] != 2 || !tab.allows(5, 0, 0) || tab.allows(5, 3, 0) {
		t.Errorf("LSO(5): %d %d", tab.hi[5], tab.status[5])
	}
	if tab.status[4] != lsoAtMost || tab.hi[4] != 1 || tab.status[3] != lsoAtMost || tab.status[2] != lsoUnknown {
		t.Errorf("LSO(2..4): %v %v", tab.hi[2:5], tab.status[2:5])
	}
}

// A transaction may begin in one gap and end in a later one with none of its records
// read between: between the first gap and the last, the table bounds LSO(n) from above
// only; past the last gap it is exact again.
func TestLSOBetweenGaps(t *testing.T) {
	log := []LogRecord{{Offset: 0, Value: "p0"}, {Offset: 3, Value: "p1"}, {Offset: 4, Value: "p2"}, {Offset: 7, Value: "p3"}, {Offset: 8, Value: "p4"}}
	_, tab := lsoOf(log, map[string]int64{}, 0, 9)
	for n := int64(4); n <= 5; n++ {
		if tab.status[n] == lsoExact || !tab.allows(n, 2, 0) || tab.allows(n, n+1, 0) {
			t.Errorf("LSO(%d) between the gaps: status %d", n, tab.status[n])
		}
	}
	if tab.status[9] != lsoExact || tab.allows(9, 8, 0) || !tab.allows(9, 9, 0) {
		t.Errorf("LSO(9) past the last gap: status %d", tab.status[9])
	}
}

// A transaction read open whose marker nobody read may have been closed by a marker in
// the gap after it (retention took both unread): past the gap its LSO is unknown. With
// no gap after it, it holds the LSO at its first record.
func TestLSOMarkerInAGap(t *testing.T) {
	pids := map[string]int64{"a1": 7, "a2": 7}
	log := []LogRecord{{Offset: 0, Value: "p0"}, {Offset: 1, Value: "a1"}, {Offset: 2, Value: "a2"}, {Offset: 9, Value: "p1"}}
	_, tab := lsoOf(log, pids, 9, 10)
	if !tab.allows(10, 10, 0) { // read before retention moved the log start
		t.Errorf("LSO(10) past a gap that may hold the marker: status %d, bound %d", tab.status[10], tab.hi[10])
	}
	_, tab = lsoOf(log[:3], pids, 0, 3)
	if tab.allows(3, 3, 0) || !tab.allows(3, 1, 0) {
		t.Errorf("LSO(3) of a transaction open with nothing unread: status %d, bound %d", tab.status[3], tab.hi[3])
	}
}

func TestAbortedList(t *testing.T) {
	log, pids := lsoLog()
	spans, _ := lsoOf(log, pids, 0, 7)
	known := knownIn(log)
	fetch := func(from, next int64, aborted ...[2]int64) *Op {
		return &Op{Kind: OpFetch, Isolation: 1, Offset: from, Next: next, Aborted: aborted}
	}
	for _, op := range []*Op{fetch(0, 7, [2]int64{7, 1}), fetch(4, 6, [2]int64{7, 1}), fetch(5, 7), fetch(3, 3), fetch(0, 1)} {
		if msg := abortedProblem(op, spans, known, nil); msg != "" {
			t.Errorf("from %d to %d: %s", op.Offset, op.Next, msg)
		}
	}
	for _, op := range []*Op{fetch(0, 7), fetch(5, 7, [2]int64{7, 1}), fetch(0, 7, [2]int64{8, 2}), fetch(1, 2, [2]int64{7, 2})} {
		if msg := abortedProblem(op, spans, known, nil); msg == "" {
			t.Errorf("from %d to %d listing %v: not caught", op.Offset, op.Next, op.Aborted)
		}
	}
	// A replica whose log start passed producer 7's records (its last at 3) may not know
	// the transaction its marker at 4 closed: it may list it or leave it out.
	at := func(op *Op, logStart int64) *Op { op.LogStart = logStart; return op }
	for _, op := range []*Op{at(fetch(4, 6), 4), at(fetch(4, 6, [2]int64{7, 1}), 4), at(fetch(5, 7), 5)} {
		if msg := abortedProblem(op, spans, known, nil); msg != "" {
			t.Errorf("from %d to %d, log start %d: %s", op.Offset, op.Next, op.LogStart, msg)
		}
	}
	// A transaction whose marker nobody read, with a gap after its records (a range
	// declared lost, then records deleted since): its abort may lie in the gap, so a
	// fetch may list it; with no gap after it, it is open, and listing it is wrong.
	open := []LogRecord{{Offset: 0, Value: "p0"}, {Offset: 1, Value: "a1"}, {Offset: 5, Value: "p1"}}
	openSpans, _ := lsoOf(open, pids, 0, 6)
	if msg := abortedProblem(fetch(1, 2, [2]int64{7, 1}), openSpans, knownIn(open), nil); msg != "" {
		t.Errorf("an abort whose marker may lie in the gap: %s", msg)
	}
	open = []LogRecord{{Offset: 0, Value: "p0"}, {Offset: 1, Value: "a1"}, {Offset: 2, Value: "p1"}}
	openSpans, _ = lsoOf(open, pids, 0, 3)
	if msg := abortedProblem(fetch(1, 2, [2]int64{7, 1}), openSpans, knownIn(open), nil); msg == "" {
		t.Error("a transaction open at the end of a gapless log listed aborted: not caught")
	}
	// A fetch whose answer tells no log start (before Fetch v5) may have come from such
	// a replica whenever the records lie below where it began.
	if msg := abortedProblem(at(fetch(4, 6), -1), spans, known, nil); msg != "" {
		t.Errorf("from 4 to 6, log start not answered: %s", msg)
	}
	if msg := abortedProblem(at(fetch(3, 6), -1), spans, known, nil); msg == "" {
		t.Error("from 3 to 6, log start not answered, listing nothing: not caught")
	}
	// A replica that rebuilt its index after its log start passed producer 7's first
	// records may list it from a later offset, at or below where the fetch began; not
	// from beyond it.
	if msg := abortedProblem(at(fetch(4, 6, [2]int64{7, 3}), 3), spans, known, nil); msg != "" {
		t.Errorf("from 4 to 6, producer 7 listed from 3: %s", msg)
	}
	if msg := abortedProblem(at(fetch(4, 6, [2]int64{7, 5}), 3), spans, known, nil); msg == "" {
		t.Error("from 4 to 6, producer 7 listed from 5: not caught")
	}
	// Not when a record of it lies at or above the log start.
	for _, op := range []*Op{at(fetch(3, 6), 3), at(fetch(4, 6), 3)} {
		if msg := abortedProblem(op, spans, known, nil); msg == "" {
			t.Errorf("from %d to %d, log start %d, listing nothing: not caught", op.Offset, op.Next, op.LogStart)
		}
	}
	// A replica that copied a range declared lost over producer 7's marker (at 4) never
	// saw the abort: leaving it out is no longer held against the read; a range that
	// misses the marker excuses nothing.
	lostAt := func(from, to int64) func(int64) bool { return func(o int64) bool { return from <= o && o < to } }
	if msg := abortedProblem(fetch(0, 7), spans, known, lostAt(4, 5)); msg != "" {
		t.Errorf("the marker in a lost range: %s", msg)
	}
	if msg := abortedProblem(fetch(0, 7), spans, known, lostAt(5, 6)); msg == "" {
		t.Error("a lost range after the marker excused its abort")
	}
}

// The model on hand-built histories: read_committed fetches and lookups must answer
// the LSO of the committed length they read.
func committedHistory() ([]*Op, map[TopicPartition][]LogRecord) {
	log, _ := lsoLog()
	txn := func(id int, v string, pid int64, call, ret int64, off int64) *Op {
		return &Op{ID: id, Client: 1, Kind: OpProduce, Topic: "d", Values: []string{v}, Acks: -1, Call: call, Return: ret, Outcome: OK, Offset: off, Txn: int(pid), Producer: pid}
	}
	plain := func(id int, v string, call, ret int64, off int64) *Op {
		return &Op{ID: id, Client: 2, Kind: OpProduce, Topic: "d", Values: []string{v}, Acks: -1, Call: call, Return: ret, Outcome: OK, Offset: off}
	}
	read := func(id int, call int64, hw, lso int64) *Op {
		return &Op{ID: id, Client: 5, Kind: OpFetch, Topic: "d", Call: call, Return: call + 1, Outcome: OK, HW: hw, Isolation: 1, LSO: lso, LogStart: 0, Offset: hw, Next: hw}
	}
	ops := []*Op{
		plain(1, "p0", 0, 10, 0),
		txn(2, "a1", 7, 11, 20, 1),
		read(3, 21, 2, 1),
		txn(4, "b1", 8, 22, 30, 2),
		txn(5, "a2", 7, 31, 40, 3),
		read(6, 41, 4, 1),
		// the abort marker at 4 commits between 41 and 50
		plain(7, "p1", 50, 60, 5),
		read(8, 61, 6, 2),
		{ID: 9, Client: 6, Kind: OpListOffsets, Topic: "d", ListAt: -1, Isolation: 1, Call: 62, Return: 63, Outcome: OK, Offset: 2, LogStart: -1},
		read(10, 100, 7, 7),
	}
	return ops, map[TopicPartition][]LogRecord{{"d", 0}: log}
}

func TestPartitionModelCommittedReads(t *testing.T) {
	ops, final := committedHistory()
	if res := CheckPartitions(ops, final, time.Second); res.Illegal != "" || res.CommittedReads != 5 {
		t.Fatalf("%+v", res)
	}
	cases := map[string]func(ops []*Op){
		"lso one behind":        func(ops []*Op) { ops[7].LSO = 1 },
		"lso one ahead":         func(ops []*Op) { ops[5].LSO = 2 },
		"lso as the hw":         func(ops []*Op) { ops[2].LSO = 2 },
		"lso after the commit":  func(ops []*Op) { ops[9].LSO = 6 },
		"lookup of a stale lso": func(ops []*Op) { ops[8].Offset = 1 },
		"lso under log start":   func(ops []*Op) { ops[7].LogStart = 3 },
		"aborted list missing": func(ops []*Op) {
			ops[9].Offset, ops[9].Next = 0, 7
		},
	}
	for name, mutate := range cases {
		ops, final := committedHistory()
		mutate(ops)
		res := CheckPartitions(ops, final, time.Second)
		if res.Illegal == "" {
			t.Errorf("%s: not caught", name)
			continue
		}
		if name == "aborted list missing" && !strings.Contains(res.Aborted, "lacks [producer 7 from 1]") {
			t.Errorf("%s: %q", name, res.Aborted)
		}
		if name == "lso one behind" && !strings.Contains(res.Visualization, "hw 6 lso 1") {
			t.Errorf("%s: the visualization does not show the LSO answered", name)
		}
	}
}

// A read_committed read that does not answer the log start (ListOffsets, Fetch before
// version 5) may show the last stable offset raised to a log start retention moved on
// a leader alone, which a failover can take back: allowed only where the log start
// moves, and never above the high watermark.
func TestPartitionModelUnansweredLogStart(t *testing.T) {
	tp := TopicPartition{"d", 0}
	check := func(moving bool, mutate func(ops []*Op)) PartitionCheck {
		ops, final := committedHistory()
		mutate(ops)
		return CheckPartitionsFrom(ops, final, nil, nil, nil, map[TopicPartition]bool{tp: moving}, time.Second)
	}
	raised := func(ops []*Op) { ops[8].Offset = 6 } // at committed length 6, log start 6
	raisedFetch := func(ops []*Op) { ops[7].LSO, ops[7].LogStart = 6, -1 }
	for name, mutate := range map[string]func([]*Op){"lookup": raised, "fetch v4": raisedFetch} {
		if res := check(false, mutate); res.Illegal == "" {
			t.Errorf("%s: a raised last stable offset passed where the log start does not move", name)
		}
		if res := check(true, mutate); res.Illegal != "" {
			t.Errorf("%s: a last stable offset raised to a possible log start failed: %+v", name, res)
		}
	}
	if res := check(true, func(ops []*Op) { ops[8].Offset = 8 }); res.Illegal == "" {
		t.Error("a lookup's last stable offset above the high watermark passed")
	}
}
