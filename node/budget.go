package node

import (
	"container/heap"
	"container/list"
	"errors"
	"sync"
	"time"
)

// requestBudget bounds the bytes of client requests the node holds across all its
// connections (queued.max.request.bytes): the frames being read and the decoded
// requests the loop has not taken yet. A reader takes budget for bytes before it
// allocates room for them, and grows a frame's buffer only as its bytes arrive, so a
// size prefix alone reserves nothing.
//
// When the budget is spent, readers wait, and two rules keep a crowd of connections
// that each send part of a large request and stall from starving everyone else:
//
//   - Waiters are served by the bytes their frame still lacks, fewest first: an
//     ordinary client's request is a few kilobytes from complete, a stalled 100 MiB one
//     is not, so ordinary requests go first.
//   - A waiter that does not fit evicts stalled frames, oldest first, until it would:
//     it closes the connections of partial frames that first took budget more than
//     budgetStallAge ago. A client sending a request at full speed finishes it long
//     before; whatever arrives that slowly and holds memory others need is dropped.
type requestBudget struct {
	max int64

	mu      sync.Mutex
	used    int64
	holding list.List // *frameBudget holding bytes while partial, oldest first
	// evicting is the bytes of evicted frames whose readers have not released yet.
	evicting int64
	waiters  waiterHeap
	seq      uint64
	evicted  int64
}

const (
	// budgetStallAge is how long a partial frame must have held budget before a
	// waiting reader may evict it.
	budgetStallAge = time.Second
	// budgetRecheck is how often a waiter looks again for frames to evict.
	budgetRecheck = 100 * time.Millisecond
)

var errBudgetClosed = errors.New("connection closed while waiting for request memory")

func newRequestBudget(max int64) *requestBudget { return &requestBudget{max: max} }

// frameBudget is what one frame holds of the budget.
type frameBudget struct {
	b     *requestBudget
	held  int64
	since time.Time     // when it first took bytes
	elem  *list.Element // in b.holding while partial and holding bytes
	// evict closes the frame's connection; its reader then releases the bytes.
	evict   func()
	evicted bool
	// evictedHeld is what it held when evicted, counted in b.evicting until released.
	evictedHeld int64
}

type budgetWaiter struct {
	n         int64
	remaining int64 // bytes the frame still lacks: the priority
	seq       uint64
	index     int // in the heap; -1 once out
	granted   chan struct{}
	frame     *frameBudget
}

// frame starts accounting for a frame whose connection evict closes.
func (b *requestBudget) frame(evict func()) *frameBudget {
	return &frameBudget{b: b, evict: evict}
}

// grow takes n more bytes for f, whose frame still lacks remaining bytes, waiting while
// the budget is spent. It fails when closed is closed first (the connection went away
// or was evicted).
func (f *frameBudget) grow(n, remaining int64, closed <-chan struct{}) error {
	b := f.b
	b.mu.Lock()
	if b.waiters.Len() == 0 && b.used+n <= b.max {
		b.used += n
		b.account(f, n)
		b.mu.Unlock()
		return nil
	}
	b.seq++
	w := &budgetWaiter{n: n, remaining: remaining, seq: b.seq, granted: make(chan struct{}), frame: f}
	heap.Push(&b.waiters, w)
	b.grant()
	b.makeRoom()
	b.mu.Unlock()
	t := time.NewTicker(budgetRecheck)
	defer t.Stop()
	for {
		select {
		case <-w.granted:
			b.mu.Lock()
			b.account(f, n)
			b.mu.Unlock()
			return nil
		case <-closed:
			b.mu.Lock()
			defer b.mu.Unlock()
			if w.index < 0 { // granted meanwhile: give it back
				b.used -= n
			} else {
				heap.Remove(&b.waiters, w.index)
			}
			b.grant()
			return errBudgetClosed
		case <-t.C:
			b.mu.Lock()
			b.makeRoom()
			b.mu.Unlock()
		}
	}
}

// account records n bytes, already counted in used, as f's. b.mu is held.
func (b *requestBudget) account(f *frameBudget, n int64) {
	if f.held == 0 && f.elem == nil && f.evict != nil && !f.evicted {
		f.since = time.Now()
		f.elem = b.holding.PushBack(f)
	}
	f.held += n
}

// grant hands budget to waiters in priority order while they fit. b.mu is held.
func (b *requestBudget) grant() {
	for b.waiters.Len() > 0 {
		w := b.waiters[0]
		if b.used+w.n > b.max {
			return
		}
		b.used += w.n
		heap.Pop(&b.waiters)
		close(w.granted)
	}
}

// makeRoom evicts stalled frames, oldest first, until the first waiter would fit once
// their readers release. b.mu is held.
func (b *requestBudget) makeRoom() {
	if b.waiters.Len() == 0 {
		return
	}
	need := b.waiters[0].n
	for e := b.holding.Front(); e != nil && b.used-b.evicting+need > b.max; {
		f := e.Value.(*frameBudget)
		if time.Since(f.since) < budgetStallAge {
			return // the rest are younger
		}
		next := e.Next()
		b.holding.Remove(e)
		f.elem, f.evicted, f.evictedHeld = nil, true, f.held
		b.evicting += f.held
		b.evicted++
		go f.evict()
		e = next
	}
}

// complete marks the frame read whole: it is no longer a candidate for eviction.
func (f *frameBudget) complete() {
	b := f.b
	b.mu.Lock()
	if f.elem != nil {
		b.holding.Remove(f.elem)
		f.elem = nil
	}
	b.mu.Unlock()
}

// release returns everything f holds. It is safe to call more than once.
func (f *frameBudget) release() {
	b := f.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if f.elem != nil {
		b.holding.Remove(f.elem)
		f.elem = nil
	}
	b.evicting -= f.evictedHeld
	f.evictedHeld = 0
	if f.held == 0 {
		return
	}
	b.used -= f.held
	f.held = 0
	b.grant()
}

// usage returns the bytes held and the frames evicted so far, for metrics.
func (b *requestBudget) usage() (used, evicted int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used, b.evicted
}

// waiterHeap orders waiters by the bytes their frames lack, then by arrival.
type waiterHeap []*budgetWaiter

func (h waiterHeap) Len() int { return len(h) }
func (h waiterHeap) Less(i, j int) bool {
	if h[i].remaining != h[j].remaining {
		return h[i].remaining < h[j].remaining
	}
	return h[i].seq < h[j].seq
}
func (h waiterHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *waiterHeap) Push(x any) {
	w := x.(*budgetWaiter)
	w.index = len(*h)
	*h = append(*h, w)
}
func (h *waiterHeap) Pop() any {
	old := *h
	w := old[len(old)-1]
	old[len(old)-1] = nil
	w.index = -1
	*h = old[:len(old)-1]
	return w
}
