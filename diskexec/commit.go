package diskexec

import (
	"slices"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/plant"
)

// Group commit, as both worlds run it.
//
// A node's disk ops wait in a Queue in emission order. When the disk is free, a prefix of
// the queue becomes one Batch: the real node takes everything queued (ops that arrive
// while a batch runs form the next one); the simulator takes a prefix of a seeded length,
// down to one op, and delays the start by a seeded moment so that later ops can join. A
// batch runs in two steps, and this file alone decides which completion may leave when:
//
//   - Early: the ops before the batch's first Sync. They run at once and their
//     completions may be released at once: a fetch's read need not wait for someone
//     else's fsync.
//   - Late: every other op of the batch, then one fsync per log that a Sync of the batch
//     names (Executor.DoAll). Their completions, every Sync's among them, are released
//     only once the step returned, after the fsyncs: a Sync is never reported done before
//     the fsync that covers it ran.
//
// DoAll already runs every other op of a batch before its syncs, so running the steps
// as separate DoAll calls changes nothing on disk; it lets the early completions leave
// before the fsyncs, and the fsyncs be timed on their own.

// LaneOf is the lane a shell runs op in: op.Lane() (see package disk), whose order
// within the lane it keeps. plants are the simulator's planted bugs (none in the node).
func LaneOf(op disk.Op, plants plant.Set) disk.Lane {
	if plants.On(plant.QuorumStateDataLane) && op.Kind == disk.WriteFile && op.Lane() == disk.QuorumLane {
		return disk.DataLane // Planted bug: the quorum's state files leave its lane.
	}
	return op.Lane()
}

// Runner carries out disk ops: Executor, or a stand-in in tests.
type Runner interface {
	// DoAll executes ops in order, group-committing their Syncs (see Executor.DoAll),
	// and returns their completions in the same order.
	DoAll(ops []disk.Op) []disk.Done
}

// Queue holds a node's disk ops in emission order until a batch takes them. It is used
// by one goroutine at a time.
type Queue struct {
	ops []disk.Op
	// taken is the batch the last Take returned. Both worlds run one batch at a time and
	// are done with it before they take the next, so the next Take reuses it and its
	// array instead of allocating a batch per group commit.
	taken *Batch
	// Plants are the planted bugs switched on (the simulator's; never in the node).
	Plants plant.Set
}

// Add queues ops behind everything added before.
func (q *Queue) Add(ops ...disk.Op) { q.ops = append(q.ops, ops...) }

// Len is the number of ops waiting.
func (q *Queue) Len() int { return len(q.ops) }

// Take removes the first n ops waiting (every op when n <= 0 or n exceeds them) and
// returns them as a batch, valid until the next Take. The batch gets a copy of exactly
// its ops, so that the queue keeps its own array for the ops that come next instead of
// growing a new one.
func (q *Queue) Take(n int) *Batch {
	if n <= 0 || n > len(q.ops) {
		n = len(q.ops)
	}
	b := q.taken
	if b == nil {
		b = new(Batch)
		q.taken = b
	}
	clear(b.ops[min(n, len(b.ops)):]) // let the previous batch's data go
	b.reset(append(b.ops[:0], q.ops[:n]...))
	rest := copy(q.ops, q.ops[n:])
	clear(q.ops[rest:]) // let the taken ops' data go
	q.ops = q.ops[:rest]
	// Planted bug: the Syncs' completions leave with the early step, before the fsyncs
	// that cover them run.
	b.syncEarly = q.Plants.On(plant.SyncBeforeFsync)
	return b
}

// Batch is ops that run as one group commit, in two steps (see above).
type Batch struct {
	ops   []disk.Op
	first int // index of the first Sync, len(ops) when there is none
	// syncEarly is the plant sync-before-fsync (see Queue.Take).
	syncEarly bool
	// split is RunLate's room to sort the late step's ops, kept for the batches that
	// reuse this one (see Queue.Take).
	split []disk.Op
}

// NewBatch makes a batch of ops, in their order.
func NewBatch(ops []disk.Op) *Batch {
	b := new(Batch)
	b.reset(ops)
	return b
}

// reset makes b the batch of ops, in their order, keeping its room.
func (b *Batch) reset(ops []disk.Op) {
	first := len(ops)
	for i, op := range ops {
		if op.Kind == disk.Sync {
			first = i
			break
		}
	}
	b.ops, b.first, b.syncEarly = ops, first, false
}

// Ops is the batch's ops, in order.
func (b *Batch) Ops() []disk.Op { return b.ops }

// Early is the ops whose completions the early step releases: those before the first
// Sync.
func (b *Batch) Early() []disk.Op {
	if b.syncEarly {
		return append(b.ops[:b.first:b.first], b.lateSyncs(true)...)
	}
	return b.ops[:b.first]
}

// Late is the ops whose completions the late step releases: the first Sync and
// everything after it.
func (b *Batch) Late() []disk.Op {
	if b.syncEarly {
		return b.lateSyncs(false)
	}
	return b.ops[b.first:]
}

// HasLate reports whether the batch has a late step: a Sync, and maybe ops after it.
func (b *Batch) HasLate() bool { return b.first < len(b.ops) }

// RunsEarly reports whether the op at index i of Ops runs in the early step.
func (b *Batch) RunsEarly(i int) bool { return i < b.first }

// lateSyncs returns, for the plant, the late step's ops whose completions the early
// step releases (syncs), or the others: the Syncs of each log before the late step's
// first other op of that log, whose completions would otherwise leave out of order.
func (b *Batch) lateSyncs(syncs bool) []disk.Op {
	var out []disk.Op
	for i, op := range b.ops[b.first:] {
		if b.releasedEarly(b.first+i) == syncs {
			out = append(out, op)
		}
	}
	return out
}

// releasedEarly reports whether, with the plant, the completion of the late op at
// index i leaves with the early step.
func (b *Batch) releasedEarly(i int) bool {
	op := b.ops[i]
	if op.Kind != disk.Sync {
		return false
	}
	for _, prev := range b.ops[b.first:i] {
		if prev.Log == op.Log && prev.Kind != disk.Sync {
			return false
		}
	}
	return true
}

// Fsyncs is how many fsyncs the late step makes: one per log its Syncs name.
func (b *Batch) Fsyncs() int {
	var room [4]disk.LogID // a batch's syncs name few logs
	logs := room[:0]
	for _, op := range b.Late() {
		if op.Kind == disk.Sync && !containsLog(logs, op.Log) {
			logs = append(logs, op.Log)
		}
	}
	return len(logs)
}

func containsLog(logs []disk.LogID, id disk.LogID) bool {
	for _, l := range logs {
		if l == id {
			return true
		}
	}
	return false
}

// RunEarly runs the early step and returns the completions that may be released now,
// before the batch's fsyncs: those of the ops before its first Sync, none of them a Sync.
func (b *Batch) RunEarly(r Runner) []disk.Done {
	var dones []disk.Done
	if b.first > 0 {
		dones = r.DoAll(b.ops[:b.first])
	}
	if b.syncEarly {
		for _, op := range b.lateSyncs(true) {
			dones = append(dones, disk.Done{ID: op.ID, Kind: op.Kind, Log: op.Log})
		}
	}
	return dones
}

// RunLate runs the late step: every op of it but the Syncs, then the Syncs (one fsync
// per log), through fsync when it is not nil (the real node times the fsyncs with it). It
// returns the step's completions in op order; they may be released only now that it
// returned, after the fsyncs ran.
func (b *Batch) RunLate(r Runner, fsync func(run func())) []disk.Done {
	late := b.ops[b.first:]
	if len(late) == 0 {
		return nil
	}
	// One array holds both lists: the other ops from its start, the Syncs from its end
	// (in reverse, put back in order below).
	split := slices.Grow(b.split[:0], len(late))[:len(late)]
	b.split = split
	defer clear(split) // let the ops' data go
	others, nsyncs := split[:0], 0
	for _, op := range late {
		if op.Kind == disk.Sync {
			nsyncs++
			split[len(split)-nsyncs] = op
		} else {
			others = append(others, op)
		}
	}
	syncs := split[len(split)-nsyncs:]
	slices.Reverse(syncs)
	var otherDones []disk.Done
	if len(others) > 0 {
		otherDones = r.DoAll(others)
	}
	syncDones := runSyncs(r, syncs, fsync)
	if len(otherDones) == 0 && !b.syncEarly {
		return syncDones // the step holds only Syncs, already in op order
	}
	dones := make([]disk.Done, 0, len(late))
	for i, op := range late {
		switch {
		case op.Kind == disk.Sync && b.syncEarly && b.releasedEarly(b.first+i):
			syncDones = syncDones[1:] // released by the early step already
		case op.Kind == disk.Sync:
			dones, syncDones = append(dones, syncDones[0]), syncDones[1:]
		default:
			dones, otherDones = append(dones, otherDones[0]), otherDones[1:]
		}
	}
	return dones
}

// runSyncs runs the Syncs of a late step, through fsync when it is not nil.
func runSyncs(r Runner, syncs []disk.Op, fsync func(run func())) []disk.Done {
	if fsync == nil {
		return r.DoAll(syncs)
	}
	var dones []disk.Done
	fsync(func() { dones = r.DoAll(syncs) })
	return dones
}
