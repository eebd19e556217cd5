package diskexec

import (
	"slices"

	"github.com/seedlog/seedlog/core/disk"
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
}

// Add queues ops behind everything added before.
func (q *Queue) Add(ops ...disk.Op) { q.ops = append(q.ops, ops...) }

// Len is the number of ops waiting.
func (q *Queue) Len() int { return len(q.ops) }

// Take removes the first n ops waiting (every op when n <= 0 or n exceeds them) and
// returns them as a batch. The batch gets a copy of exactly its ops, so that the queue
// keeps its own array for the ops that come next instead of growing a new one.
func (q *Queue) Take(n int) *Batch {
	if n <= 0 || n > len(q.ops) {
		n = len(q.ops)
	}
	ops := slices.Clone(q.ops[:n])
	rest := copy(q.ops, q.ops[n:])
	clear(q.ops[rest:]) // let the taken ops' data go
	q.ops = q.ops[:rest]
	return NewBatch(ops)
}

// Batch is ops that run as one group commit, in two steps (see above).
type Batch struct {
	ops   []disk.Op
	first int // index of the first Sync, len(ops) when there is none
}

// NewBatch makes a batch of ops, in their order.
func NewBatch(ops []disk.Op) *Batch {
	first := len(ops)
	for i, op := range ops {
		if op.Kind == disk.Sync {
			first = i
			break
		}
	}
	return &Batch{ops: ops, first: first}
}

// Ops is the batch's ops, in order.
func (b *Batch) Ops() []disk.Op { return b.ops }

// Early is the ops of the early step: those before the first Sync.
func (b *Batch) Early() []disk.Op { return b.ops[:b.first] }

// Late is the ops of the late step: the first Sync and everything after it.
func (b *Batch) Late() []disk.Op { return b.ops[b.first:] }

// Fsyncs is how many fsyncs the late step makes: one per log its Syncs name.
func (b *Batch) Fsyncs() int {
	var logs []disk.LogID
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
	if b.first == 0 {
		return nil
	}
	return r.DoAll(b.Early())
}

// RunLate runs the late step: every op of it but the Syncs, then the Syncs (one fsync
// per log), through fsync when it is not nil (the real node times the fsyncs with it). It
// returns the step's completions in op order; they may be released only now that it
// returned, after the fsyncs ran.
func (b *Batch) RunLate(r Runner, fsync func(run func())) []disk.Done {
	late := b.Late()
	if len(late) == 0 {
		return nil
	}
	// One array holds both lists: the other ops from its start, the Syncs from its end
	// (in reverse, put back in order below).
	split := make([]disk.Op, len(late))
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
	var otherDones, syncDones []disk.Done
	if len(others) > 0 {
		otherDones = r.DoAll(others)
	}
	if fsync != nil {
		fsync(func() { syncDones = r.DoAll(syncs) })
	} else {
		syncDones = r.DoAll(syncs)
	}
	if len(otherDones) == 0 {
		return syncDones // the step holds only Syncs, already in op order
	}
	dones := make([]disk.Done, 0, len(late))
	for _, op := range late {
		if op.Kind == disk.Sync {
			dones, syncDones = append(dones, syncDones[0]), syncDones[1:]
		} else {
			dones, otherDones = append(dones, otherDones[0]), otherDones[1:]
		}
	}
	return dones
}
