package node

import (
	"sync"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/diskexec"
)

// diskWorker runs the core's disk work on one goroutine, in emission order, and returns
// the completions in that order. Ops that arrive while a batch runs wait in the queue and
// form the next batch, whose syncs are one fsync per log: group commit. The batches, and
// which completions leave before the fsyncs, are diskexec's (Queue, Batch), which the
// simulator runs too; this worker only takes the whole queue whenever it is free, moves
// the completions to the loop and times the fsyncs.
type diskWorker struct {
	exec    *diskexec.Executor
	dones   chan<- []disk.Done
	quit    <-chan struct{}
	metrics *metrics

	mu      sync.Mutex
	pending diskexec.Queue
	wake    chan struct{} // capacity 1: "pending is not empty"
	stopped chan struct{} // closed when run returns
}

func newDiskWorker(exec *diskexec.Executor, dones chan<- []disk.Done, quit <-chan struct{}, m *metrics) *diskWorker {
	return &diskWorker{exec: exec, dones: dones, quit: quit, metrics: m,
		wake: make(chan struct{}, 1), stopped: make(chan struct{})}
}

// submit queues ops behind everything submitted before. It never blocks.
func (w *diskWorker) submit(ops []disk.Op) {
	w.mu.Lock()
	w.pending.Add(ops...)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// take makes everything queued the next batch.
func (w *diskWorker) take() *diskexec.Batch {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pending.Take(0)
}

func (w *diskWorker) run() {
	defer close(w.stopped)
	for {
		select {
		case <-w.wake:
		case <-w.quit:
			return
		}
		if b := w.take(); len(b.Ops()) > 0 && !w.runBatch(b) {
			return
		}
	}
}

// runBatch executes one batch: the early completions go back at once, the rest after
// the fsyncs.
func (w *diskWorker) runBatch(b *diskexec.Batch) bool {
	if early := b.RunEarly(w.exec); len(early) > 0 && !w.deliver(early) {
		return false
	}
	late := b.RunLate(w.exec, func(fsync func()) {
		start := time.Now()
		fsync()
		w.metrics.fsync.Observe(time.Since(start).Seconds())
	})
	if len(late) == 0 {
		return true
	}
	syncs := 0
	for _, op := range b.Late() {
		if op.Kind == disk.Sync {
			syncs++
		}
	}
	w.metrics.fsyncBatchOps.Add(int64(syncs))
	return w.deliver(late)
}

func (w *diskWorker) deliver(d []disk.Done) bool {
	for i := range d {
		if d[i].Kind == disk.Clean {
			w.metrics.cleanerSteps.Add(1)
			w.metrics.cleanerBytes.Add(d[i].Bytes)
		}
	}
	select {
	case w.dones <- d:
		return true
	case <-w.quit:
		return false
	}
}

// close waits for the worker to stop and closes the logs.
func (w *diskWorker) close() {
	<-w.stopped
	w.exec.Close()
}
