package sim

import (
	"slices"
	"testing"
	"time"

	"github.com/seedlog/seedlog/core/disk"
)

// deletedLogHistory is goodLogHistory after DeleteRecords moved the log start to 2:
// the final read starts there.
func deletedLogHistory() *LogHistory {
	h := goodLogHistory()
	h.Final["t/0"] = h.Final["t/0"][2:]
	h.Start = map[string]int64{"t/0": 2}
	h.MayDelete = map[string]bool{"t/0": true}
	h.DeleteOnly = map[string]bool{"t/0": true}
	h.Deletes = []LogDelete{{Client: 3, Partition: "t/0", Call: 47, Offset: 2}}
	h.Earliest = []LogEarliest{{Client: 3, Partition: "t/0", Call: 48, Offset: 2}}
	return h
}

func TestCheckLogAcceptsDeletedRecords(t *testing.T) {
	if vs := CheckLog(deletedLogHistory()); len(vs) != 0 {
		t.Fatalf("records deleted below the final read's start flagged:\n%s", FormatLogViolations(vs))
	}
}

// Deletion excuses only what lies below the final read's start, on partitions that
// may delete.
func TestCheckLogDeletionStillFinds(t *testing.T) {
	cases := []struct {
		kind   string
		mutate func(h *LogHistory)
	}{
		// an acknowledged record above the start is gone
		{"lost", func(h *LogHistory) {
			h.Produces[3].Outcome, h.Produces[3].Offset, h.Produces[3].Return = OK, 3, 36
			h.Final["t/0"] = h.Final["t/0"][:1]
		}},
		// a topic that never deletes answers an earliest offset above 0
		{"earliest", func(h *LogHistory) {
			h.Start, h.MayDelete, h.DeleteOnly, h.Final["t/0"] = nil, nil, nil, goodLogHistory().Final["t/0"]
		}},
		// the log starts above every offset DeleteRecords asked for
		{"deleted", func(h *LogHistory) { h.Deletes[0].Offset = 1 }},
		// the final read is not dense from its start
		{"gap", func(h *LogHistory) { h.Final["t/0"] = h.Final["t/0"][1:] }},
		// an earliest offset above the final high watermark
		{"earliest", func(h *LogHistory) { h.FinalHW = map[string]int64{"t/0": 4}; h.Earliest[0].Offset = 9 }},
	}
	for _, tc := range cases {
		h := deletedLogHistory()
		tc.mutate(h)
		vs := CheckLog(h)
		if !slices.ContainsFunc(vs, func(v LogViolation) bool { return v.Kind == tc.kind }) {
			t.Errorf("%s not found: %s", tc.kind, FormatLogViolations(vs))
		}
	}
}

// A batch cut by the log start (DeleteRecords inside a batch) is not torn.
func TestCheckLogBatchCutByTheStart(t *testing.T) {
	h := &LogHistory{
		Produces: []LogProduce{
			{Client: 1, Partition: "t/0", Value: "a", Call: 10, Return: 20, Outcome: OK, Offset: 0, Batch: 1, Index: 0},
			{Client: 1, Partition: "t/0", Value: "b", Call: 10, Return: 20, Outcome: OK, Offset: 1, Batch: 1, Index: 1},
			{Client: 1, Partition: "t/0", Value: "c", Call: 10, Return: 20, Outcome: OK, Offset: 2, Batch: 1, Index: 2},
		},
		Final:      map[string][]LogRecord{"t/0": {{Offset: 1, Value: "b"}, {Offset: 2, Value: "c"}}},
		Start:      map[string]int64{"t/0": 1},
		MayDelete:  map[string]bool{"t/0": true},
		DeleteOnly: map[string]bool{"t/0": true},
		Deletes:    []LogDelete{{Partition: "t/0", Offset: 1}},
	}
	if vs := CheckLog(h); len(vs) != 0 {
		t.Fatalf("%s", FormatLogViolations(vs))
	}
	h.Final["t/0"] = []LogRecord{{Offset: 1, Value: "b"}}
	h.FinalHW = map[string]int64{"t/0": 2}
	if vs := CheckLog(h); len(vs) == 0 {
		t.Fatal("a batch missing its last record above the start passed")
	}
}

// The partition model after deletion: below the final read's start the committed
// length is known only to be at most the start; the batch holding the start commits
// from there.
func TestPartitionModelFromALogStart(t *testing.T) {
	ops, final := partitionHistory()
	tp := TopicPartition{"d", 0}
	final[tp] = final[tp][1:] // a (offset 0) deleted: the batch [0, 2) is cut at 1
	start := map[TopicPartition]int64{tp: 1}
	if res := CheckPartitionsFrom(ops, final, start, nil, nil, nil, time.Second); res.Illegal != "" {
		t.Fatalf("history with a deleted prefix: %+v", res)
	}
	ops[5].HW = 1 // a read below what was committed before it began
	if res := CheckPartitionsFrom(ops, final, start, nil, nil, nil, time.Second); res.Illegal == "" {
		t.Fatal("a high watermark going back below the start passed")
	}
}

func TestEpochsBetween(t *testing.T) {
	epochs := []disk.EpochEntry{{Epoch: 0, StartOffset: 0}, {Epoch: 2, StartOffset: 10}, {Epoch: 3, StartOffset: 20}}
	got := appendEpochsBetween(nil, epochs, 12, 30)
	want := []disk.EpochEntry{{Epoch: 2, StartOffset: 12}, {Epoch: 3, StartOffset: 20}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got := appendEpochsBetween(nil, epochs, 20, 20); len(got) != 0 {
		t.Fatalf("empty range: %v", got)
	}
	// A follower that restarted its log at 12 knows only the epoch from 12 on.
	if !slices.Equal(appendEpochsBetween(nil, []disk.EpochEntry{{Epoch: 2, StartOffset: 12}, {Epoch: 3, StartOffset: 20}}, 12, 30), want) {
		t.Fatal("the follower's view differs")
	}
}
