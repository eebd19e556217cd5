package disk

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// The Ops a Drain returns are the caller's: later Emits, and the caller's own appends,
// leave each other's Ops alone, however the Drains share an array.
func TestDrainedOpsStayTheCallers(t *testing.T) {
	var q Queue
	var drains [][]Op
	for n := range 70 {
		for range n % 5 {
			q.Emit(Op{Kind: Append, Offset: int64(n)})
		}
		drains = append(drains, q.Drain())
	}
	next := OpID(1)
	for n, ops := range drains {
		if len(ops) != n%5 || (len(ops) == 0) != (ops == nil) {
			t.Fatalf("drain %d gave %d ops, want %d", n, len(ops), n%5)
		}
		for _, op := range ops {
			if op.ID != next || op.Offset != int64(n) {
				t.Fatalf("drain %d holds %v, want #%d at %d", n, op, next, n)
			}
			next++
		}
	}
	q.Emit(Op{Kind: Sync})
	mine := q.Drain()
	mine = append(mine, Op{Kind: Read})
	q.Emit(Op{Kind: Truncate})
	if got := q.Drain(); len(got) != 1 || got[0].Kind != Truncate {
		t.Fatalf("drained %v after the caller appended", got)
	}
	if !slices.EqualFunc(mine, []Op{{Kind: Sync}, {Kind: Read}}, func(a, b Op) bool { return a.Kind == b.Kind }) {
		t.Fatalf("the caller's ops became %v", mine)
	}
}

// A partition's log is named as Kafka names its directory, and parses back.
func TestPartitionLogNames(t *testing.T) {
	for _, c := range []struct {
		topic     string
		partition int32
		want      LogID
	}{{"t", 0, "t-0"}, {"orders", 7, "orders-7"}, {"a-b", 123, "a-b-123"}, {"x", 1<<31 - 1, "x-2147483647"}} {
		id := PartitionLog(c.topic, c.partition)
		topic, partition, ok := ParsePartitionLog(id)
		if id != c.want || !ok || topic != c.topic || partition != c.partition {
			t.Errorf("PartitionLog(%q, %d) = %q, parsed back as %q %d %v", c.topic, c.partition, id, topic, partition, ok)
		}
	}
}

// TakeOwner gives each Op's tag once, to Dones that come back in Op order, however
// emitting and taking interleave; the tags of skipped Ops are gone.
func TestTakeOwnerFollowsEmission(t *testing.T) {
	var q Queue
	tags := map[OpID]int{}
	var next OpID = 1 // the first Op not taken yet
	for round := range 200 {
		for i := range round % 7 {
			q.SetOwner(round*10 + i)
			tags[q.Emit(Op{Kind: Sync})] = round*10 + i
		}
		q.Drain()
		for range round % 5 {
			if next > q.Last() {
				break
			}
			id := next
			if round%11 == 0 && id < q.Last() {
				id++ // the Done of id-1 was lost with its owner
			}
			if got := q.TakeOwner(id); got != tags[id] {
				t.Fatalf("round %d: op %d has owner %v, want %d", round, id, got, tags[id])
			}
			if q.TakeOwner(id) != nil || (id > next && q.TakeOwner(next) != nil) {
				t.Fatalf("round %d: op %d, or one before it, taken twice", round, id)
			}
			next = id + 1
		}
	}
}

// The Dones of each lane come back in Op order, but the lanes interleave as they
// will: TakeOwner still gives each Op's tag once, whichever lane runs ahead.
func TestTakeOwnerPerLane(t *testing.T) {
	var q Queue
	tags := map[OpID]int{}
	var pending [Lanes][]OpID
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		for i := range rng.IntN(6) {
			op := Op{Kind: Sync, Log: PartitionLog("t", 0)}
			if rng.IntN(3) == 0 {
				op.Log = MetadataLog
			}
			q.SetOwner(round*10 + i)
			id := q.Emit(op)
			tags[id] = round*10 + i
			pending[op.Lane()] = append(pending[op.Lane()], id)
		}
		q.Drain()
		for range rng.IntN(5) {
			lane := rng.IntN(Lanes)
			if len(pending[lane]) == 0 {
				continue
			}
			id := pending[lane][0]
			pending[lane] = pending[lane][1:]
			if got := q.TakeOwner(id); got != tags[id] {
				t.Fatalf("round %d: op %d of lane %d has owner %v, want %d", round, id, lane, got, tags[id])
			}
			if q.TakeOwner(id) != nil {
				t.Fatalf("round %d: op %d taken twice", round, id)
			}
		}
	}
}

func TestOpLanes(t *testing.T) {
	for _, c := range []struct {
		op   Op
		want Lane
	}{
		{Op{Kind: Append, Log: MetadataLog}, QuorumLane},
		{Op{Kind: CreateLog, Log: MetadataLog}, QuorumLane},
		{Op{Kind: WriteFile, Name: "quorum-state"}, QuorumLane},
		{Op{Kind: RemoveFile, Name: "metadata.snapshot"}, QuorumLane},
		{Op{Kind: Append, Log: PartitionLog("t", 3)}, DataLane},
		{Op{Kind: WriteFile, Name: "t-3/topic-id"}, DataLane},
		{Op{Kind: DeleteLog, Log: PartitionLog("__consumer_offsets", 0)}, DataLane},
	} {
		if got := c.op.Lane(); got != c.want {
			t.Errorf("%v: lane %v, want %v", c.op, got, c.want)
		}
	}
}

// Fences that overlap or touch merge into one, damaged if any part was; the list stays
// sorted, and neither function changes the list it was given.
func TestFenceListsMergeAndClip(t *testing.T) {
	given := []Fence{{From: 2, To: 4, Kind: FenceLost}, {From: 10, To: 12, Kind: FenceLost}}
	kept := slices.Clone(given)
	got := AddFence(given, Fence{From: 4, To: 6, Kind: FenceDamaged})
	want := []Fence{{From: 2, To: 6, Kind: FenceDamaged}, {From: 10, To: 12, Kind: FenceLost}}
	if !slices.Equal(got, want) {
		t.Fatalf("add touching: %v, want %v", got, want)
	}
	if got := AddFence(given, Fence{From: 0, To: 1, Kind: FenceLost}); got[0] != (Fence{From: 0, To: 1, Kind: FenceLost}) || len(got) != 3 {
		t.Fatalf("add apart: %v", got)
	}
	if got := ClipFences(want, 3, 11); !slices.Equal(got, []Fence{{From: 3, To: 6, Kind: FenceDamaged}, {From: 10, To: 11, Kind: FenceLost}}) {
		t.Fatalf("clip: %v", got)
	}
	if got := ClipFences(want, 6, 10); got != nil {
		t.Fatalf("clip to a gap: %v", got)
	}
	if !slices.Equal(given, kept) {
		t.Fatalf("the list given changed: %v", given)
	}
}
