package node

import (
	"sync"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/diskexec"
)

// diskWorker runs the core's disk work on one goroutine, in emission order, and returns
// the completions in that order. Ops that arrive while a batch runs wait and form the
// next batch, so the syncs of everything that queued up during one fsync are done by one
// fsync per log: group commit.
type diskWorker struct {
	exec    *diskexec.Executor
	dones   chan<- []disk.Done
	quit    <-chan struct{}
	metrics *metrics

	mu      sync.Mutex
	pending []disk.Op
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
	w.pending = append(w.pending, ops...)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *diskWorker) take() []disk.Op {
	w.mu.Lock()
	defer w.mu.Unlock()
	ops := w.pending
	w.pending = nil
	return ops
}

func (w *diskWorker) run() {
	defer close(w.stopped)
	for {
		select {
		case <-w.wake:
		case <-w.quit:
			return
		}
		if ops := w.take(); len(ops) > 0 && !w.runBatch(ops) {
			return
		}
	}
}

// runBatch executes one batch. The completions of the ops before the first Sync go back
// at once (a fetch's read need not wait for someone else's fsync); the rest go back after
// the syncs. DoAll already runs every other op of a batch before its syncs, so running
// the two groups as separate DoAll calls changes nothing on disk, and it lets the fsyncs
// be timed on their own.
func (w *diskWorker) runBatch(ops []disk.Op) bool {
	first := len(ops)
	for i, op := range ops {
		if op.Kind == disk.Sync {
			first = i
			break
		}
	}
	if first > 0 && !w.deliver(w.exec.DoAll(ops[:first])) {
		return false
	}
	rest := ops[first:]
	if len(rest) == 0 {
		return true
	}
	var others, syncs []disk.Op
	for _, op := range rest {
		if op.Kind == disk.Sync {
			syncs = append(syncs, op)
		} else {
			others = append(others, op)
		}
	}
	otherDones := w.exec.DoAll(others)
	start := time.Now()
	syncDones := w.exec.DoAll(syncs)
	w.metrics.fsync.Observe(time.Since(start).Seconds())
	w.metrics.fsyncBatchOps.Add(int64(len(syncs)))
	dones := make([]disk.Done, 0, len(rest))
	for _, op := range rest {
		if op.Kind == disk.Sync {
			dones, syncDones = append(dones, syncDones[0]), syncDones[1:]
		} else {
			dones, otherDones = append(dones, otherDones[0]), otherDones[1:]
		}
	}
	return w.deliver(dones)
}

func (w *diskWorker) deliver(d []disk.Done) bool {
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
