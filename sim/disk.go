package sim

import (
	"fmt"
	"slices"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/diskexec"
	"github.com/seedlog/seedlog/disksim"
)

// The node's disk runs the real node's lanes and group commit (disk.Lane, diskexec.Queue
// and Batch): the quorum's lane and the data lane each run on their own, on executors
// split as the real node splits them (diskexec.Executor.SplitQuorum), which runs each
// on a goroutine. In each lane, ops wait in emission order; when the lane is free, a
// prefix of them becomes a batch, which runs
// in two steps whose completions leave when diskexec says: the ops before its first Sync
// (released at once), then the rest with one fsync per log (released after the
// fsyncs). Only the timing is the simulator's: a free disk starts its next batch a
// seeded moment after an op is queued (ops emitted meanwhile join it), a seeded share
// of the batches take only a prefix of what is queued (down to one op; the real node
// takes everything), and each step completes after the latencies disksim draws for its
// ops, one sync per log for the fsyncs. A step's ops run on the disk when the step
// completes, not before: a crash loses every op of a step still running, as a real
// crash loses what the device had not done yet, so an output released before its op
// completed (a vote before its state is synced) can be caught.

// diskLane is one lane of a node's disk: its ops in emission order (q), the group
// commit running (nil when the lane is free), and whether a batch start is scheduled.
type diskLane struct {
	q      diskexec.Queue
	batch  *diskexec.Batch
	waking bool
}

// newDiskLanes returns the empty lanes of a node incarnation.
func newDiskLanes(plants plant.Set) (lanes [disk.Lanes]diskLane) {
	for i := range lanes {
		lanes[i].q.Plants = plants
	}
	return lanes
}

// wakeDisk schedules the next batch's start in every lane that is free and has ops
// waiting.
func (n *simNode) wakeDisk() {
	for lane := range n.lanes {
		l := &n.lanes[lane]
		if l.batch != nil || l.waking || l.q.Len() == 0 {
			continue
		}
		l.waking = true
		e := n.w.schedule(n.w.now+int64(n.w.cfg.Shell.drawDiskWake(n.diskRng)), evDiskStart)
		e.node = n.spec.ID
		e.inc = n.inc
		e.token = uint64(lane)
	}
}

// startBatch takes the next batch of a lane and schedules the completions of its steps.
func (n *simNode) startBatch(lane disk.Lane) {
	w := n.w
	l := &n.lanes[lane]
	l.waking = false
	queued := l.q.Len()
	if queued == 0 {
		return
	}
	take := w.cfg.Shell.drawDiskBatch(n.diskRng, queued)
	if take > 0 && take < queued {
		w.cov.Inc("shell:disk-batch-cut")
	}
	if n.lanes[1-lane].batch != nil {
		w.cov.Inc("shell:disk-lanes-overlap")
	}
	b := l.q.Take(take)
	l.batch = b
	var early, late time.Duration
	for _, op := range b.Early() {
		if op.Kind != disk.Sync { // a Sync's time is its fsync's, in the late step
			early += n.opLatency(op)
		}
	}
	for _, op := range b.Late() {
		if op.Kind != disk.Sync {
			late += n.opLatency(op)
		}
	}
	for range b.Fsyncs() {
		late += n.fs.Latency(disksim.OpSync, 0)
	}
	earlyAt := w.now + int64(early)
	lateAt := earlyAt + int64(late)
	if len(b.Ops()) > 1 {
		w.cov.Inc("shell:disk-batch-grouped")
	}
	if i := slices.IndexFunc(b.Ops(), func(op disk.Op) bool { return op.ID == n.crashOp }); n.crashOp != 0 && i >= 0 {
		// The armed crash strikes while the step that carries its op runs.
		end := lateAt
		if b.RunsEarly(i) {
			end = earlyAt
		}
		n.crashOp = 0
		n.strike(end-w.now, thenUnknown)
	}
	if n.armed == armUnsynced && n.crashOp == 0 && b.Fsyncs() > 0 && lateAt > earlyAt+1 && earlyWrite(b) {
		// Strike once the early step's writes completed, before the fsyncs do (an event
		// at earlyAt scheduled after this one comes after it).
		n.armed = armNone
		w.cov.Inc("fault:crash-before-fsync")
		n.strikeBetween(earlyAt-w.now+1, lateAt-w.now, thenUnknown)
	}
	if len(b.Early()) > 0 {
		n.scheduleStep(earlyAt, lane, stepEarly)
	}
	if b.HasLate() {
		n.scheduleStep(lateAt, lane, stepLate)
	}
}

// earlyWrite reports whether b's early step appends to a log.
func earlyWrite(b *diskexec.Batch) bool {
	for i, op := range b.Ops() {
		if b.RunsEarly(i) && op.Kind == disk.Append {
			return true
		}
	}
	return false
}

// A batch's steps, in the token of their completion events (after the lane, in its low
// byte).
const (
	stepEarly = 1
	stepLate  = 2
)

func (n *simNode) scheduleStep(at int64, lane disk.Lane, step uint64) {
	e := n.w.schedule(at, evDiskDone)
	e.node = n.spec.ID
	e.inc = n.inc
	e.token = step<<8 | uint64(lane)
}

// stepDone carries out a step of the running batch of a lane, as an evDiskDone's token
// names them, and delivers its completions (held while paused: the disk works on while
// the process is stopped).
func (n *simNode) stepDone(token uint64) {
	lane, step := disk.Lane(token&0xff), token>>8
	l := &n.lanes[lane]
	b := l.batch
	var want []disk.Op
	var dones []disk.Done
	exec := n.exec
	if lane == disk.QuorumLane {
		exec = n.quorumExec
	}
	if step == stepEarly {
		want, dones = b.Early(), b.RunEarly(exec)
	} else {
		want, dones = b.Late(), b.RunLate(exec, nil)
	}
	if len(dones) != len(want) {
		panic(fmt.Sprintf("sim: %d completions for %d ops", len(dones), len(want)))
	}
	n.checkOpenFiles()
	for i, d := range dones {
		if d.ID != want[i].ID {
			panic(fmt.Sprintf("sim: executor answered op #%d with done #%d", want[i].ID, d.ID))
		}
	}
	if step == stepLate || !b.HasLate() {
		l.batch = nil
	}
	if step == stepLate && n.armed == armSynced && n.w.phase == phaseSafety &&
		slices.ContainsFunc(want, func(op disk.Op) bool { return op.Kind == disk.Sync }) {
		n.w.cov.Inc("fault:crash-after-sync")
		n.crash("armed crash fault, after a sync")
		n.scheduleRestart(n.w.now + int64(n.restartAfter))
		return
	}
	inc := n.inc
	if len(dones) > 0 {
		n.deliver(input{kind: inDones, dones: dones})
	}
	if n.current(inc) {
		n.wakeDisk()
	}
}

// opLatency models how long an op takes on the disk.
func (n *simNode) opLatency(op disk.Op) time.Duration {
	fs := n.fs
	switch op.Kind {
	case disk.Append:
		return fs.Latency(disksim.OpWrite, len(op.Data))
	case disk.Sync:
		return fs.Latency(disksim.OpSync, 0)
	case disk.Read:
		return fs.Latency(disksim.OpRead, int(min(max(op.MaxBytes, 0), readLatencyBytesMax)))
	case disk.WriteFile, disk.LeaderEpochs:
		return fs.Latency(disksim.OpWrite, len(op.Data)) + fs.Latency(disksim.OpSync, 0) +
			fs.Latency(disksim.OpMetadata, 0) + fs.Latency(disksim.OpSyncDir, 0)
	}
	// Truncate, Reset, DeleteBelow, CreateLog, DeleteLog, RemoveFile: metadata changes
	// made durable.
	return fs.Latency(disksim.OpMetadata, 0) + fs.Latency(disksim.OpSync, 0) + fs.Latency(disksim.OpSyncDir, 0)
}
