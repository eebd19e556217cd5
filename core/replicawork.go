package core

import (
	"slices"
	"strings"

	"github.com/seedlog/seedlog/core/disk"
)

// The broker's work on its replicas follows what changed, not how many replicas it
// hosts: every call that hands a replica an input goes through withReplica, which
// touches it. Draining visits the touched replicas only, a Tick ticks only those whose
// deadline came (and the few partition.Replica.NeedsEveryTick names), and the deadline
// is the top of a heap. Each does what a loop over every replica in log-id order did
// (replicaHost.sorted): a replica with output was touched, and a Tick before a
// replica's deadline changes nothing, unless the replica needs every tick.

// Queue kinds: the index of a replica's flag in hosted.queued.
const (
	drainQueue = iota
	tickQueue
	queueKinds
)

// touch records that hr is handed an input: it may have output, and its deadline may
// have moved.
func (h *replicaHost) touch(hr *hosted) {
	if hr.gone {
		return // closed: its later inputs do nothing
	}
	h.drains.add(hr)
	if h.ticks.passing {
		// A loop ticking every replica would still tick it if it comes later.
		h.ticks.add(hr)
	}
	if !hr.stale {
		hr.stale = true
		h.stale = append(h.stale, hr)
	}
}

// track starts the bookkeeping of a new replica, which New may have given output.
func (h *replicaHost) track(hr *hosted) {
	hr.timerAt, hr.restlessAt = -1, -1
	h.touch(hr)
}

// forget ends the bookkeeping of a removed replica; queues skip it from now on.
func (h *replicaHost) forget(hr *hosted) {
	hr.gone = true
	h.timers.remove(hr)
	h.setRestless(hr, false)
}

// reread takes hr's deadline, and whether it needs every tick, as they are now.
func (h *replicaHost) reread(hr *hosted, now int64) {
	h.timers.set(hr, hr.r.Deadline())
	h.setRestless(hr, hr.r.NeedsEveryTick(now))
}

func (h *replicaHost) setRestless(hr *hosted, on bool) {
	switch {
	case on && hr.restlessAt < 0:
		hr.restlessAt = len(h.restless)
		h.restless = append(h.restless, hr)
	case !on && hr.restlessAt >= 0:
		last := len(h.restless) - 1
		moved := h.restless[last]
		h.restless[hr.restlessAt], moved.restlessAt = moved, hr.restlessAt
		h.restless[last] = nil
		h.restless = h.restless[:last]
		hr.restlessAt = -1
	}
}

// replicasDeadline is the earliest deadline of the replicas. Only those touched since
// the last call are asked again: the others' answers have not changed (a replica keeps
// its answer until its next input).
func (n *Node) replicasDeadline() int64 {
	h := &n.replicas
	for i, hr := range h.stale {
		h.stale[i] = nil
		hr.stale = false
		if !hr.gone {
			h.reread(hr, n.now)
		}
	}
	h.stale = h.stale[:0]
	return h.timers.min()
}

// tickReplicas ticks, in log-id order, the replicas whose deadline came, those that need
// every tick, and those touched since their deadline was last read (whose deadline is
// not known).
func (n *Node) tickReplicas(now int64) {
	h := &n.replicas
	for _, hr := range h.stale {
		h.ticks.add(hr)
	}
	for _, hr := range h.restless {
		h.ticks.add(hr)
	}
	h.timers.due(now, &h.ticks)
	h.ticks.start()
	for hr := h.ticks.pop(); hr != nil; hr = h.ticks.pop() {
		n.withReplica(hr, func() { hr.r.Tick(now) })
	}
	// Those touched after their turn were ticked: they wait for the next tick, with their
	// deadline read again.
	h.ticks.drop()
}

// drainReplicas drains the touched replicas in log-id order.
func (n *Node) drainReplicas(now int64) {
	q := &n.replicas.drains
	q.start()
	for hr := q.pop(); hr != nil; hr = q.pop() {
		n.drainReplica(now, hr)
		if n.stopped {
			break
		}
	}
	q.finish()
}

// replicaQueue is a set of replicas visited in log-id order in passes, as a loop over
// replicaHost.sorted visits them: a replica added during a pass is visited in that pass
// if its id comes after the one visited last, and otherwise waits for the next pass.
type replicaQueue struct {
	kind int // the index of the replica's flag that says it is queued here
	// list holds the queued replicas; during a pass, list[next:] is sorted by id and
	// list[:next] is visited (and cleared).
	list    []*hosted
	next    int
	passing bool
	visited disk.LogID // during a pass: the id of the replica visited last
	later   []*hosted  // added during a pass at or before visited
}

func compareHosted(a, b *hosted) int { return strings.Compare(string(a.id), string(b.id)) }

func (q *replicaQueue) add(hr *hosted) {
	if hr.queued[q.kind] {
		return
	}
	hr.queued[q.kind] = true
	switch {
	case !q.passing:
		q.list = append(q.list, hr)
	case hr.id <= q.visited:
		q.later = append(q.later, hr)
	default:
		i, _ := slices.BinarySearchFunc(q.list[q.next:], hr, compareHosted)
		q.list = slices.Insert(q.list, q.next+i, hr)
	}
}

// start begins a pass.
func (q *replicaQueue) start() {
	if q.passing {
		panic("core: a pass over replicas began within another")
	}
	q.passing = true
	slices.SortFunc(q.list, compareHosted)
}

// pop returns the next replica of the pass, or nil at its end.
func (q *replicaQueue) pop() *hosted {
	for q.next < len(q.list) {
		hr := q.list[q.next]
		q.list[q.next] = nil
		q.next++
		hr.queued[q.kind] = false
		q.visited = hr.id
		if !hr.gone {
			return hr
		}
	}
	return nil
}

// finish ends a pass: what it did not visit, and what was added behind it, waits for
// the next.
func (q *replicaQueue) finish() {
	k := copy(q.list, q.list[q.next:])
	clear(q.list[k:])
	q.list = append(q.list[:k], q.later...)
	clear(q.later)
	q.later = q.later[:0]
	q.next, q.passing, q.visited = 0, false, ""
}

// drop ends a pass and empties the queue.
func (q *replicaQueue) drop() {
	q.finish()
	for _, hr := range q.list {
		hr.queued[q.kind] = false
	}
	clear(q.list)
	q.list = q.list[:0]
}

// timerHeap orders replicas by the deadline they last gave (hosted.deadline), earliest
// first; hosted.timerAt is a replica's index, -1 outside.
type timerHeap struct {
	h    []*hosted
	scan []int // due's stack
}

func (t *timerHeap) min() int64 {
	if len(t.h) == 0 {
		return NoDeadline
	}
	return t.h[0].deadline
}

// set places hr at deadline d.
func (t *timerHeap) set(hr *hosted, d int64) {
	if hr.timerAt < 0 {
		hr.deadline, hr.timerAt = d, len(t.h)
		t.h = append(t.h, hr)
		t.up(hr.timerAt)
		return
	}
	if d == hr.deadline {
		return
	}
	hr.deadline = d
	t.fix(hr.timerAt)
}

func (t *timerHeap) remove(hr *hosted) {
	i := hr.timerAt
	if i < 0 {
		return
	}
	last := len(t.h) - 1
	t.swap(i, last)
	t.h[last] = nil
	t.h = t.h[:last]
	hr.timerAt = -1
	if i < last {
		t.fix(i)
	}
}

// due queues in q every replica whose deadline is at or before now. They form a
// subtree at the top of the heap, which is all it walks.
func (t *timerHeap) due(now int64, q *replicaQueue) {
	if len(t.h) == 0 || t.h[0].deadline > now {
		return
	}
	t.scan = append(t.scan[:0], 0)
	for len(t.scan) > 0 {
		i := t.scan[len(t.scan)-1]
		t.scan = t.scan[:len(t.scan)-1]
		q.add(t.h[i])
		for _, c := range [2]int{2*i + 1, 2*i + 2} {
			if c < len(t.h) && t.h[c].deadline <= now {
				t.scan = append(t.scan, c)
			}
		}
	}
}

func (t *timerHeap) fix(i int) {
	if !t.up(i) {
		t.down(i)
	}
}

// up moves the entry at i towards the top while it is earlier than its parent, and
// reports whether it moved.
func (t *timerHeap) up(i int) bool {
	start := i
	for i > 0 {
		p := (i - 1) / 2
		if t.h[p].deadline <= t.h[i].deadline {
			break
		}
		t.swap(i, p)
		i = p
	}
	return i != start
}

func (t *timerHeap) down(i int) {
	for {
		c := 2*i + 1
		if c >= len(t.h) {
			return
		}
		if r := c + 1; r < len(t.h) && t.h[r].deadline < t.h[c].deadline {
			c = r
		}
		if t.h[i].deadline <= t.h[c].deadline {
			return
		}
		t.swap(i, c)
		i = c
	}
}

func (t *timerHeap) swap(i, j int) {
	t.h[i], t.h[j] = t.h[j], t.h[i]
	t.h[i].timerAt, t.h[j].timerAt = i, j
}
