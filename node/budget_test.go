package node

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestBudgetWaitsAndGrantsInOrder(t *testing.T) {
	b := newRequestBudget(100)
	a := b.frame(nil)
	must(t, a.grow(80, 80, nil))
	got := make(chan int, 2)
	for i, n := range []int64{30, 10} {
		f := b.frame(nil)
		go func() {
			must(t, f.grow(n, 1000, nil))
			got <- i
		}()
		time.Sleep(20 * time.Millisecond) // queue them in this order
	}
	// First come first served: the 10 bytes would fit, but their waiter does not pass
	// the one waiting for 30.
	select {
	case i := <-got:
		t.Fatalf("waiter %d got budget while 80 of 100 bytes were held", i)
	case <-time.After(50 * time.Millisecond):
	}
	a.release()
	<-got
	<-got
	if used, _ := b.usage(); used != 40 {
		t.Fatalf("%d bytes used, want 40", used)
	}
}

func TestBudgetWaiterLeavesWhenItsConnectionCloses(t *testing.T) {
	b := newRequestBudget(10)
	a := b.frame(nil)
	must(t, a.grow(10, 10, nil))
	closed := make(chan struct{})
	errc := make(chan error, 1)
	go func() { errc <- b.frame(nil).grow(5, 5, closed) }()
	time.Sleep(20 * time.Millisecond)
	close(closed)
	if err := <-errc; err != errBudgetClosed {
		t.Fatalf("got %v", err)
	}
	a.release()
	if used, _ := b.usage(); used != 0 || b.waiters.Len() != 0 {
		t.Fatalf("%d bytes used, %d waiters after everyone left", used, b.waiters.Len())
	}
}

// TestBudgetEvictsTheOldestStalledFrame: a reader that waits closes the connection of
// the frame that has held budget longest, once it is older than budgetStallAge.
func TestBudgetEvictsTheOldestStalledFrame(t *testing.T) {
	b := newRequestBudget(100)
	var evicted [3]atomic.Bool
	var frames [3]*frameBudget
	for i := range frames {
		frames[i] = b.frame(func() {
			evicted[i].Store(true)
			frames[i].release() // what the reader does once its socket is closed
		})
		must(t, frames[i].grow(30, 1000, nil))
		time.Sleep(10 * time.Millisecond)
	}
	frames[0].complete() // read whole: waiting for the loop, not stalled
	start := time.Now()
	must(t, b.frame(nil).grow(40, 40, nil))
	if waited := time.Since(start); waited < budgetStallAge/2 {
		t.Errorf("evicted after %v, before the frames were stalled", waited)
	}
	if evicted[0].Load() || !evicted[1].Load() || evicted[2].Load() {
		t.Fatalf("evicted %v %v %v; want only the oldest partial frame (1)", evicted[0].Load(), evicted[1].Load(), evicted[2].Load())
	}
	if _, n := b.usage(); n != 1 {
		t.Fatalf("%d evictions counted", n)
	}
}
