package node

import (
	"container/list"
	"errors"
	"sync"
	"time"
)

// requestBudget bounds the bytes of client requests the node holds across all its
// connections (queued.max.request.bytes): the frames being read and the decoded
// requests the loop has not taken yet. A reader takes budget for bytes before it
// allocates room for them, growing a frame's buffer as its bytes arrive, so a size
// prefix alone reserves nothing.
//
// When the budget is spent, readers queue in arrival order. Without more, a few
// thousand connections that each send part of a large frame and stall would hold the
// budget until their read timeout and starve every other client. So the reader at the
// head of the queue evicts stalled frames, oldest first: it closes the connection of the
// partial frame that first took budget longest ago, provided that was more than
// budgetStallAge ago. A client sending a request at full speed finishes it long before.
type requestBudget struct {
	max int64

	mu      sync.Mutex
	used    int64
	holding list.List // *frameBudget holding bytes while partial, oldest first
	waiters list.List // *budgetWaiter, first come first served
	evicted int64
}

const (
	// budgetStallAge is how long a partial frame must have held budget before a
	// waiting reader may evict it.
	budgetStallAge = time.Second
	// budgetRecheck is how often the head waiter looks again for a frame to evict.
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
	evict func()
}

type budgetWaiter struct {
	n       int64
	granted chan struct{}
}

// frame starts accounting for a frame whose connection evict closes.
func (b *requestBudget) frame(evict func()) *frameBudget {
	return &frameBudget{b: b, evict: evict}
}

// grow takes n more bytes for f, waiting while the budget is spent. It fails when
// closed is closed first (the connection went away or was evicted).
func (f *frameBudget) grow(n int64, closed <-chan struct{}) error {
	b := f.b
	b.mu.Lock()
	if b.waiters.Len() == 0 && b.used+n <= b.max {
		b.take(f, n)
		b.mu.Unlock()
		return nil
	}
	w := &budgetWaiter{n: n, granted: make(chan struct{})}
	we := b.waiters.PushBack(w)
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
			select {
			case <-w.granted: // granted meanwhile: give it back
				b.used -= n
				b.grant()
			default:
				b.waiters.Remove(we)
				b.grant() // the next waiter may fit now
			}
			return errBudgetClosed
		case <-t.C:
			b.mu.Lock()
			if b.waiters.Front() == we {
				b.evictStalled(f)
			}
			b.mu.Unlock()
		}
	}
}

// take gives n bytes to f. b.mu is held.
func (b *requestBudget) take(f *frameBudget, n int64) {
	b.used += n
	b.account(f, n)
}

// account records n bytes, already counted in used, as f's. b.mu is held.
func (b *requestBudget) account(f *frameBudget, n int64) {
	if f.held == 0 && f.elem == nil && f.evict != nil {
		f.since = time.Now()
		f.elem = b.holding.PushBack(f)
	}
	f.held += n
}

// grant hands budget to waiters in order while they fit. b.mu is held.
func (b *requestBudget) grant() {
	for e := b.waiters.Front(); e != nil; e = b.waiters.Front() {
		w := e.Value.(*budgetWaiter)
		if b.used+w.n > b.max {
			return
		}
		b.used += w.n
		b.waiters.Remove(e)
		close(w.granted)
	}
}

// evictStalled closes the connection of the oldest partial frame that has held budget
// for budgetStallAge, other than waiter's own. b.mu is held.
func (b *requestBudget) evictStalled(waiter *frameBudget) {
	for e := b.holding.Front(); e != nil; e = e.Next() {
		f := e.Value.(*frameBudget)
		if time.Since(f.since) < budgetStallAge {
			return // the rest are younger
		}
		if f == waiter {
			continue
		}
		b.holding.Remove(e)
		f.elem = nil
		b.evicted++
		go f.evict()
		return
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
