package sim

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// goodLogHistory is a clean history of two producers and one consumer on one partition.
func goodLogHistory() *LogHistory {
	return &LogHistory{
		Produces: []LogProduce{
			{Client: 1, Partition: "t/0", Value: "a", Call: 10, Return: 20, Outcome: OK, Offset: 0},
			{Client: 2, Partition: "t/0", Value: "b", Call: 15, Return: 25, Outcome: OK, Offset: 1},
			{Client: 1, Partition: "t/0", Value: "c", Call: 30, Return: 40, Outcome: OK, Offset: 2},
			{Client: 2, Partition: "t/0", Value: "d", Call: 35, Return: Never, Outcome: Indeterminate},
			{Client: 2, Partition: "t/0", Value: "e", Call: 50, Return: 51, Outcome: Failed, NotSent: true},
		},
		Fetches: []LogFetch{
			{Client: 3, Partition: "t/0", Call: 22, Return: 23, Records: []LogRecord{{Offset: 0, Value: "a"}}, HW: 1},
			{Client: 3, Partition: "t/0", Call: 45, Return: 46, Records: []LogRecord{{Offset: 1, Value: "b"}, {Offset: 2, Value: "c"}}, HW: 3},
		},
		Final: map[string][]LogRecord{"t/0": {{Offset: 0, Value: "a"}, {Offset: 1, Value: "b"}, {Offset: 2, Value: "c"}, {Offset: 3, Value: "d"}}},
	}
}

func TestCheckLogAcceptsGoodHistory(t *testing.T) {
	if vs := CheckLog(goodLogHistory()); len(vs) != 0 {
		t.Fatalf("clean history flagged:\n%s", FormatLogViolations(vs))
	}
}

func TestCheckLogFindsEachKind(t *testing.T) {
	cases := []struct {
		kind   string
		mutate func(h *LogHistory)
	}{
		{"lost", func(h *LogHistory) { h.Final["t/0"] = h.Final["t/0"][:2] }},
		{"lost", func(h *LogHistory) { h.Produces[2].Offset = 5 }},
		{"duplicate", func(h *LogHistory) { h.Final["t/0"] = append(h.Final["t/0"], LogRecord{Offset: 4, Value: "c"}) }},
		{"reorder", func(h *LogHistory) {
			// c was invoked after a was acknowledged but lands before it.
			h.Final["t/0"] = []LogRecord{{Offset: 0, Value: "c"}, {Offset: 1, Value: "b"}, {Offset: 2, Value: "a"}, {Offset: 3, Value: "d"}}
			h.Fetches = nil
			h.Produces[0].Offset, h.Produces[2].Offset = 2, 0
		}},
		{"phantom", func(h *LogHistory) { h.Final["t/0"] = append(h.Final["t/0"], LogRecord{Offset: 4, Value: "zz"}) }},
		{"phantom", func(h *LogHistory) { h.Final["t/0"] = append(h.Final["t/0"], LogRecord{Offset: 4, Value: "e"}) }},
		{"inconsistent", func(h *LogHistory) { h.Fetches[1].Records[0] = LogRecord{Offset: 1, Value: "x"} }},
		{"backwards", func(h *LogHistory) {
			h.Fetches = append(h.Fetches, LogFetch{Client: 3, Partition: "t/0", Call: 47, Return: 48, Records: nil, HW: 2})
		}},
		{"stale", func(h *LogHistory) { h.Fetches[1].HW = 2; h.Fetches[1].Records = h.Fetches[1].Records[:1] }},
	}
	for _, tc := range cases {
		h := goodLogHistory()
		tc.mutate(h)
		vs := CheckLog(h)
		found := false
		for _, v := range vs {
			if v.Kind == tc.kind {
				found = true
			}
		}
		if !found {
			t.Errorf("%s not found; got:\n%s", tc.kind, FormatLogViolations(vs))
		}
	}
}

func TestCheckLogBoundsReports(t *testing.T) {
	h := &LogHistory{Final: map[string][]LogRecord{}}
	for i := range 100 {
		h.Final["t/0"] = append(h.Final["t/0"], LogRecord{Offset: int64(i), Value: strings.Repeat("x", i+1)})
	}
	vs := CheckLog(h)
	if len(vs) != logKindMax {
		t.Fatalf("%d violations reported, want the bound per kind %d", len(vs), logKindMax)
	}
}

// A partition no final read could reach: its acknowledged records cannot be looked for,
// but acks=all acknowledgements still keep their order, and reads still agree.
func TestCheckLogUnreadPartition(t *testing.T) {
	h := goodLogHistory()
	h.Final, h.Unread = map[string][]LogRecord{}, map[string]bool{"t/0": true}
	if vs := CheckLog(h); len(vs) != 0 {
		t.Fatalf("an unread partition's acknowledged records were reported:\n%s", FormatLogViolations(vs))
	}
	// c, invoked after a was acknowledged, acknowledged below it.
	h.Produces[0].Offset, h.Produces[2].Offset = 2, 0
	h.Fetches = nil
	if vs := CheckLog(h); len(vs) != 1 || vs[0].Kind != "reorder" {
		t.Fatalf("reordered acks=all acknowledgements of an unread partition: %v", vs)
	}
	// An acks=1 record may be lost and its offset reused: no order is promised.
	h.Produces[0].Weak, h.Produces[1].Weak = true, true
	if vs := CheckLog(h); len(vs) != 0 {
		t.Fatalf("weak acknowledgements of an unread partition were ordered:\n%s", FormatLogViolations(vs))
	}
	h = goodLogHistory()
	h.Final, h.Unread = map[string][]LogRecord{}, map[string]bool{"t/0": true}
	h.Fetches = append(h.Fetches, LogFetch{Client: 4, Partition: "t/0", Call: 47, Return: 48, Records: []LogRecord{{Offset: 1, Value: "x"}}, HW: 3})
	if vs := CheckLog(h); len(vs) == 0 || vs[0].Kind != "inconsistent" {
		t.Fatalf("reads of an unread partition disagreeing were not reported: %v", vs)
	}
}

// A record read at an offset later declared lost (every in-sync copy damaged) and written
// again above it by a producer still retrying is allowed by the damage; the same
// duplicate outside a declared range, or an acknowledgement at the lost offset, is not.
func TestCheckLogDuplicateOfDeclaredLostRecord(t *testing.T) {
	damaged := func() *LogHistory {
		h := goodLogHistory()
		// c was read at 2, then 2 was lost on every in-sync replica; the retry of c's
		// batch, never acknowledged there, was written again at 4.
		h.Produces[2].Offset, h.Produces[2].Return = 4, 60
		h.Final["t/0"] = []LogRecord{{Offset: 0, Value: "a"}, {Offset: 1, Value: "b"}, {Offset: 2, Fenced: true}, {Offset: 3, Value: "d"}, {Offset: 4, Value: "c"}}
		h.Declared = map[string][][2]int64{"t/0": {{2, 3}}}
		return h
	}
	if vs := CheckLog(damaged()); len(vs) != 1 || vs[0].Kind != "damage-duplicate" {
		t.Fatalf("a retry written again after its first copy was declared lost: got %v, want one damage-duplicate", vs)
	}
	h := damaged()
	h.Declared = nil
	if vs := CheckLog(h); !slices.ContainsFunc(vs, func(v LogViolation) bool { return v.Kind == "duplicate" }) {
		t.Fatalf("a duplicate outside any declared range was not reported: %v", vs)
	}
	h = damaged()
	h.Produces[2].Offset = 2 // acknowledged at the lost offset: no retry may write it again
	if vs := CheckLog(h); !slices.ContainsFunc(vs, func(v LogViolation) bool { return v.Kind == "lost" }) {
		t.Fatalf("a record acknowledged at a lost offset and found again above it was not reported: %v", vs)
	}
}

// On a compacted partition, a record whose key a later write superseded may be gone
// when that write was lost with a declared-lost range afterwards: nothing of the key is
// left to read. Without the lost range, the later write would still be there.
func TestCheckLogCompactedRecordSupersededByALostOne(t *testing.T) {
	// c5-33 and c6-35 share a key (of 12); c5-6 and c5-141 have another.
	history := func() *LogHistory {
		return &LogHistory{
			Produces: []LogProduce{
				{Client: 5, Partition: "t/0", Value: "c5-6", Call: 10, Return: 20, Outcome: OK, Offset: 0},
				{Client: 5, Partition: "t/0", Value: "c5-33", Call: 30, Return: 40, Outcome: OK, Offset: 1},
				{Client: 6, Partition: "t/0", Value: "c6-35", Call: 50, Return: Never, Outcome: Indeterminate},
				{Client: 5, Partition: "t/0", Value: "c5-141", Call: 70, Return: 80, Outcome: OK, Offset: 3},
			},
			Final:     map[string][]LogRecord{"t/0": {{Offset: 0, Value: "c5-6"}, {Offset: 2, Fenced: true}, {Offset: 3, Value: "c5-141"}}},
			FinalAt:   1000,
			Compacted: map[string]CompactedPartition{"t/0": {Keys: 12}},
			Declared:  map[string][][2]int64{"t/0": {{2, 3}}},
		}
	}
	if vs := CheckLog(history()); len(vs) != 0 {
		t.Fatalf("a record superseded by one lost since was reported:\n%s", FormatLogViolations(vs))
	}
	h := history()
	h.Declared = nil
	h.Final["t/0"] = []LogRecord{{Offset: 0, Value: "c5-6"}, {Offset: 3, Value: "c5-141"}}
	if vs := CheckLog(h); !slices.ContainsFunc(vs, func(v LogViolation) bool { return v.Kind == "lost" }) {
		t.Fatalf("a record whose key nothing left superseded was not reported lost: %v", vs)
	}
}

// Retention may remove a range the partition declared lost (every in-sync copy damaged)
// whatever its records' age, as a log start past it shows; a record that young outside
// such a range is reported.
func TestCheckLogRetentionPastALostRange(t *testing.T) {
	history := func() *LogHistory {
		return &LogHistory{
			Produces: []LogProduce{
				{Client: 1, Partition: "t/0", Value: "old", Call: 10, Return: 20, Outcome: OK, Offset: 0},
				{Client: 1, Partition: "t/0", Value: "young", Call: 900, Return: 910, Outcome: OK, Offset: 1},
				{Client: 1, Partition: "t/0", Value: "kept", Call: 920, Return: 930, Outcome: OK, Offset: 2},
			},
			Earliest:        []LogEarliest{{Client: 2, Partition: "t/0", Call: 1000, Return: 1001, Offset: 2}},
			Final:           map[string][]LogRecord{"t/0": {{Offset: 2, Value: "kept"}}},
			Start:           map[string]int64{"t/0": 2},
			MayDelete:       map[string]bool{"t/0": true},
			FinalAt:         2000,
			RetainedAtLeast: map[string]time.Duration{"t/0": 500},
			Declared:        map[string][][2]int64{"t/0": {{1, 2}}},
		}
	}
	if vs := CheckLog(history()); len(vs) != 0 {
		t.Fatalf("retention past a range declared lost was reported:\n%s", FormatLogViolations(vs))
	}
	h := history()
	h.Declared = nil
	if vs := CheckLog(h); !slices.ContainsFunc(vs, func(v LogViolation) bool { return v.Kind == "retained" }) {
		t.Fatalf("a young record below the log start outside any lost range was not reported: %v", vs)
	}
}

// On a compacted partition, a read may lack a tombstone younger than delete.retention.ms
// when a later write of its key, acknowledged with acks=1 above it, was made before the
// read: that write, if it stayed, superseded the tombstone, and may have been superseded
// itself since without any read placing it. Without such a write the tombstone had to
// stay.
func TestCheckLogCompactedTombstoneSupersededByAWeakWrite(t *testing.T) {
	// Keys of 28: c6-75 (a tombstone) and c6-162 share key k16.
	history := func() *LogHistory {
		return &LogHistory{
			Produces: []LogProduce{
				{Client: 6, Partition: "t/0", Value: "c6-76", Call: 10, Return: 20, Outcome: OK, Offset: 0, Weak: true},
				{Client: 6, Partition: "t/0", Value: "c6-75", Call: 10, Return: 20, Outcome: OK, Offset: 1, Weak: true},
				{Client: 6, Partition: "t/0", Value: "c6-78", Call: 10, Return: 20, Outcome: OK, Offset: 2, Weak: true},
				{Client: 6, Partition: "t/0", Value: "c6-162", Call: 30, Return: 40, Outcome: OK, Offset: 5, Weak: true},
			},
			Fetches: []LogFetch{
				{Client: 7, Partition: "t/0", Call: 21, Return: 22, HW: 3,
					Records: []LogRecord{{Offset: 0, Value: "c6-76"}, {Offset: 1, Value: "c6-75"}, {Offset: 2, Value: "c6-78"}}},
				{Client: 7, Partition: "t/0", Call: 50, Return: 60, HW: 9, Records: []LogRecord{{Offset: 0, Value: "c6-76"}, {Offset: 2, Value: "c6-78"}}},
			},
			Final:     map[string][]LogRecord{"t/0": {{Offset: 0, Value: "c6-76"}, {Offset: 2, Value: "c6-78"}}},
			FinalAt:   100,
			Compacted: map[string]CompactedPartition{"t/0": {Keys: 28, TombstoneStaysAtLeast: 1000}},
		}
	}
	if compactKey("c6-75", 28) != compactKey("c6-162", 28) || !compactTombstone("c6-75") || compactTombstone("c6-162") ||
		compactKey("c6-76", 28) == compactKey("c6-75", 28) || compactKey("c6-78", 28) == compactKey("c6-75", 28) {
		t.Fatal("the values no longer have the keys this test needs")
	}
	if vs := CheckLog(history()); slices.ContainsFunc(vs, func(v LogViolation) bool { return v.Kind == "compacted-early" }) {
		t.Fatalf("a tombstone an acks=1 write superseded was reported:\n%s", FormatLogViolations(vs))
	}
	h := history()
	h.Produces[3].Call = 70 // written after the read
	if vs := CheckLog(h); !slices.ContainsFunc(vs, func(v LogViolation) bool { return v.Kind == "compacted-early" }) {
		t.Fatalf("a tombstone gone before any later write of its key was not reported: %v", vs)
	}
}
