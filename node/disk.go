package node

import (
	"sync"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/diskexec"
)

// diskWorker runs the core's disk work: each lane (disk.Lane) on a goroutine of its own,
// in emission order, returning the completions in that order. The quorum's lane has its
// own executor (diskexec.SplitQuorum), so its syncs never wait behind the partitions'
// creations, appends and recovery work. Within a lane, ops that arrive while a batch runs
// wait in the queue and form the next batch, whose syncs are one fsync per log: group
// commit. The batches, and which completions leave before the fsyncs, are diskexec's
// (Queue, Batch), which the simulator runs too; a lane only takes its whole queue
// whenever it is free, moves the completions to the loop and times the fsyncs.
type diskWorker struct {
	lanes   [disk.Lanes]*diskLane
	dones   chan<- []disk.Done
	quit    <-chan struct{}
	metrics *metrics
}

// diskLane is one lane's queue and executor.
type diskLane struct {
	exec *diskexec.Executor

	mu      sync.Mutex
	pending diskexec.Queue
	wake    chan struct{} // capacity 1: "pending is not empty"
}

func newDiskWorker(exec *diskexec.Executor, dones chan<- []disk.Done, quit <-chan struct{}, m *metrics) *diskWorker {
	w := &diskWorker{dones: dones, quit: quit, metrics: m}
	w.lanes[disk.QuorumLane] = &diskLane{exec: exec.SplitQuorum(), wake: make(chan struct{}, 1)}
	w.lanes[disk.DataLane] = &diskLane{exec: exec, wake: make(chan struct{}, 1)}
	return w
}

// submit queues each op behind everything submitted before to its lane. It never blocks.
func (w *diskWorker) submit(ops []disk.Op) {
	var touched [disk.Lanes]bool
	for _, l := range w.lanes {
		l.mu.Lock()
	}
	for _, op := range ops {
		lane := diskexec.LaneOf(op, plant.Set{})
		w.lanes[lane].pending.Add(op)
		touched[lane] = true
	}
	for i, l := range w.lanes {
		l.mu.Unlock()
		if touched[i] {
			select {
			case l.wake <- struct{}{}:
			default:
			}
		}
	}
}

// start runs every lane on a goroutine of its own, through goFunc.
func (w *diskWorker) start(goFunc func(func())) {
	for _, l := range w.lanes {
		goFunc(func() { w.run(l) })
	}
}

// take makes everything queued in l the next batch.
func (l *diskLane) take() *diskexec.Batch {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pending.Take(0)
}

func (w *diskWorker) run(l *diskLane) {
	for {
		select {
		case <-l.wake:
		case <-w.quit:
			return
		}
		if b := l.take(); len(b.Ops()) > 0 && !w.runBatch(l.exec, b) {
			return
		}
	}
}

// runBatch executes one batch: the early completions go back at once, the rest after
// the fsyncs.
func (w *diskWorker) runBatch(exec *diskexec.Executor, b *diskexec.Batch) bool {
	if early := b.RunEarly(exec); len(early) > 0 && !w.deliver(early) {
		return false
	}
	late := b.RunLate(exec, func(fsync func()) {
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

// close closes the logs of every lane, once no lane runs any more.
func (w *diskWorker) close() {
	for _, l := range w.lanes {
		l.exec.Close()
	}
}
