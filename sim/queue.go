package sim

import (
	"github.com/seedlog/seedlog/netsim"
)

// evKind is what an event does when it comes due.
type evKind uint8

const (
	evTick        evKind = iota + 1 // a node's deadline (gen guards staleness)
	evPeer                          // a datagram reaches a node
	evStream                        // a stream message reaches its receiving end
	evDiskDone                      // a step of a node's disk batch completes (token: which)
	evRestart                       // a crashed node starts again
	evResume                        // a paused node resumes
	evClient                        // a client timer (token says which)
	evFault                         // the fault schedule acts
	evFaultUndo                     // a fault's planned end (heal of a partition, ...)
	evPhase                         // the run moves to its next phase
	evWorkload                      // a client starts its next operation
	evStreamNote                    // a broken stream's end learns of it
	evCrash                         // an armed crash comes due (inc guards staleness)
	evAttack                        // the byzantine client attacks
	evAttackClose                   // the byzantine client hangs up a connection (stream)
	evForged                        // a datagram the byzantine client forged reaches a node
	evScript                        // a client step of a schedule comes due (token: its index)
	evDiskStart                     // a node's free disk starts its next batch
	evDrain                         // a node drains the outputs of the inputs it took (gen guards staleness)
	evStopBy                        // a node's controlled shutdown times out
	evNodeHangUp                    // a node closes a client connection once what it sent arrived
)

// event is one entry of the queue. Fields are used per kind; unused ones stay zero. Events
// are pooled: the loop returns each to the pool after handling it, so nothing may keep a
// pointer to an event.
type event struct {
	at   int64
	seq  uint64
	kind evKind
	// node is the target node id (or client id for client events).
	node int32
	// inc is the node incarnation the event belongs to; a crash makes older ones stale.
	inc    uint32
	from   int32
	gen    uint64
	token  uint64
	stream netsim.StreamID
	data   []byte
}

// queue is a binary min-heap of events ordered by (at, seq). seq increases with every
// push, so events due at the same time run in the order they were scheduled, and the
// order never depends on anything but the run's own history.
type queue struct {
	heap []queued
	free []*event
	seq  uint64
}

// queued is a heap entry: the event's key sits beside its pointer, so that ordering the
// heap reads no event.
type queued struct {
	at  int64
	seq uint64
	e   *event
}

func less(a, b *queued) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

// alloc returns a zeroed event from the pool.
func (q *queue) alloc() *event {
	if n := len(q.free); n > 0 {
		e := q.free[n-1]
		q.free = q.free[:n-1]
		return e
	}
	return new(event)
}

// release returns e to the pool.
func (q *queue) release(e *event) {
	*e = event{}
	q.free = append(q.free, e)
}

// push schedules e at e.at.
func (q *queue) push(e *event) {
	q.seq++
	e.seq = q.seq
	q.heap = append(q.heap, queued{e.at, e.seq, e})
	i := len(q.heap) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !less(&q.heap[i], &q.heap[p]) {
			break
		}
		q.heap[i], q.heap[p] = q.heap[p], q.heap[i]
		i = p
	}
}

func (q *queue) len() int { return len(q.heap) }

// peekAt is the due time of the next event; ok is false when the queue is empty.
func (q *queue) peekAt() (int64, bool) {
	if len(q.heap) == 0 {
		return 0, false
	}
	return q.heap[0].at, true
}

// pop removes and returns the next event.
func (q *queue) pop() *event {
	h := q.heap
	top := h[0].e
	last := len(h) - 1
	h[0] = h[last]
	h[last] = queued{}
	h = h[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && less(&h[r], &h[l]) {
			m = r
		}
		if !less(&h[m], &h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	q.heap = h
	return top
}
