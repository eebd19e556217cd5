package diskexec

import (
	"fmt"
	"slices"
	"testing"

	"github.com/seedlog/seedlog/core/disk"
)

// recorder is a Runner that logs what it runs: "run 1,2" for a DoAll, "fsync" around
// the syncs.
type recorder struct{ log []string }

func (r *recorder) DoAll(ops []disk.Op) []disk.Done {
	var ids []string
	dones := make([]disk.Done, len(ops))
	for i, op := range ops {
		ids = append(ids, fmt.Sprint(op.ID))
		dones[i] = disk.Done{ID: op.ID, Kind: op.Kind, Log: op.Log}
	}
	r.log = append(r.log, fmt.Sprintf("run %v", ids))
	return dones
}

func ops(kinds ...disk.Kind) []disk.Op {
	out := make([]disk.Op, len(kinds))
	for i, k := range kinds {
		out[i] = disk.Op{ID: disk.OpID(i + 1), Kind: k, Log: disk.LogID(fmt.Sprintf("l%d", i%2))}
	}
	return out
}

func doneIDs(ds []disk.Done) []disk.OpID {
	var out []disk.OpID
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

// A batch releases the completions of the ops before its first Sync at once, and
// every other completion, the Syncs' included, only after its fsyncs ran.
func TestBatchReleasesSyncsOnlyAfterTheFsync(t *testing.T) {
	b := NewBatch(ops(disk.Append, disk.Read, disk.Sync, disk.Append, disk.Sync, disk.Read))
	r := &recorder{}
	early := b.RunEarly(r)
	if got := doneIDs(early); !slices.Equal(got, []disk.OpID{1, 2}) {
		t.Fatalf("early completions %v", got)
	}
	for _, d := range early {
		if d.Kind == disk.Sync {
			t.Fatalf("a Sync released before the fsync: %+v", d)
		}
	}
	late := b.RunLate(r, func(run func()) {
		r.log = append(r.log, "fsync begins")
		run()
		r.log = append(r.log, "fsync ends")
	})
	if got := doneIDs(late); !slices.Equal(got, []disk.OpID{3, 4, 5, 6}) {
		t.Fatalf("late completions %v", got)
	}
	want := []string{"run [1 2]", "run [4 6]", "fsync begins", "run [3 5]", "fsync ends"}
	if !slices.Equal(r.log, want) {
		t.Fatalf("ran %q, want %q", r.log, want)
	}
	if n := b.Fsyncs(); n != 1 {
		t.Fatalf("%d fsyncs for two syncs of one log", n)
	}
}

// A batch that starts with a Sync has no early step; one without a Sync has no late one.
func TestBatchSteps(t *testing.T) {
	r := &recorder{}
	b := NewBatch(ops(disk.Sync, disk.Sync))
	if len(b.RunEarly(r)) != 0 || len(b.Early()) != 0 || b.Fsyncs() != 2 {
		t.Fatalf("early %v fsyncs %d", b.Early(), b.Fsyncs())
	}
	b = NewBatch(ops(disk.Append, disk.Read))
	if len(b.RunEarly(r)) != 2 || len(b.Late()) != 0 || b.RunLate(r, nil) != nil || b.Fsyncs() != 0 {
		t.Fatalf("late %v", b.Late())
	}
}

// The queue hands out prefixes in emission order: everything, or the first n.
func TestQueueTakesPrefixes(t *testing.T) {
	var q Queue
	q.Add(ops(disk.Append, disk.Sync, disk.Read)...)
	if b := q.Take(1); len(b.Ops()) != 1 || b.Ops()[0].ID != 1 || q.Len() != 2 {
		t.Fatalf("took %v, %d left", b.Ops(), q.Len())
	}
	q.Add(disk.Op{ID: 9})
	b := q.Take(0)
	var ids []disk.OpID
	for _, op := range b.Ops() {
		ids = append(ids, op.ID)
	}
	if !slices.Equal(ids, []disk.OpID{2, 3, 9}) || q.Len() != 0 || len(b.Early()) != 0 {
		t.Fatalf("took %v, %d left", ids, q.Len())
	}
	if b := q.Take(5); len(b.Ops()) != 0 {
		t.Fatalf("an empty queue gave %v", b.Ops())
	}
}
