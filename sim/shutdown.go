package sim

import (
	"fmt"
	"time"

	"github.com/seedlog/seedlog/traces"
)

// A controlled shutdown is what SIGTERM does to the real node (node/loop.go): the
// process calls core.Node.Shutdown, which asks the active controller to move the
// broker's leaderships away, and keeps stepping the node until ShutdownReady or until
// the controlled shutdown's timeout; then it exits. The simulator does the same: the
// node keeps taking inputs and draining as before, and after every drain (and when the
// timeout comes due) the shell checks whether to stop.
//
// The stop is a clean process exit, not a crash: the disk keeps everything the
// executor wrote, synced or not (a process exit does not lose the operating system's
// page cache; only a power loss does, and a later crash of the node may still drop what
// was never synced), and the executor's logs are closed as the real node closes them.
// What dies with the process is what a clean exit loses: the outputs of inputs not yet
// drained, the disk work queued and not yet run (the real disk worker stops at quit),
// and the connections. A crash image would only repeat what crashes already test; a
// clean exit tests the other path, a restart on data that was written but not yet
// synced. The node restarts after the step's downtime, like after a crash.

// shutdownState is a controlled shutdown in progress.
type shutdownState struct {
	deadline int64         // when the controlled shutdown's timeout expires (virtual)
	down     time.Duration // how long the node stays down after it stopped (< 0: until restarted by hand)
}

// beginShutdown sends the node a simulated SIGTERM: it stops once ShutdownReady, or
// after timeout, and restarts down after that (never when down < 0).
func (n *simNode) beginShutdown(timeout, down time.Duration) {
	w := n.w
	if n.undrained > 0 {
		n.drain() // the loop finishes the round it is in before it sees the signal
		if !n.up {
			return
		}
	}
	w.noteOutage(n, FailoverShutdown) // before Shutdown gives the lease up
	n.shutdown = &shutdownState{deadline: w.now + int64(timeout), down: down}
	w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultShutdown, Node: n.spec.ID, Peer: -1, A: n.shutdown.deadline},
		func() string {
			return fmt.Sprintf("node %d gets SIGTERM: controlled shutdown within %v", n.spec.ID, timeout)
		})
	w.acting = n.spec.ID
	n.unchecked = true
	n.m.Shutdown()
	e := w.schedule(n.shutdown.deadline, evStopBy)
	e.node = n.spec.ID
	e.inc = n.inc
	// What the loop does after the signal: drain (a note), wait for the next deadline
	// (the heartbeat that asks for the shutdown is due at once), check readiness.
	n.act()
	n.w.checks.afterStep(n)
	n.checkShutdown()
}

// checkShutdown stops a node in controlled shutdown once it is ready or its timeout
// passed. A paused process checks when it resumes.
func (n *simNode) checkShutdown() {
	if n.shutdown == nil || !n.up || n.paused || n.undrained > 0 {
		return
	}
	if ready := n.m.ShutdownReady(); ready || n.w.now >= n.shutdown.deadline {
		n.stopClean(ready)
	}
}

// shutdownTimedOut is the controlled shutdown's timeout coming due.
func (n *simNode) shutdownTimedOut() {
	if n.shutdown == nil || n.paused {
		return
	}
	if n.undrained > 0 {
		n.drain() // checks, and stops, on its own
		return
	}
	n.checkShutdown()
}

// stopClean ends the process as a clean exit (see above) and schedules its restart.
func (n *simNode) stopClean(ready bool) {
	w := n.w
	st := n.shutdown
	how := "ready: its leaderships moved away"
	if ready {
		w.cov.Inc("shutdown:ready")
	} else {
		how = "timed out with leadership still here"
		w.cov.Inc("shutdown:timed-out")
	}
	var b int64
	if ready {
		b = 1
	}
	w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultStopped, Node: n.spec.ID, Peer: -1, A: int64(n.inc), B: b}, func() string {
		return fmt.Sprintf("node %d stops after its controlled shutdown (%s)", n.spec.ID, how)
	})
	if n.exec != nil {
		_ = n.exec.Close() // what the real node does once its loop returned
		_ = n.quorumExec.Close()
	}
	n.down()
	if st.down >= 0 {
		n.scheduleRestart(w.now + int64(st.down))
	}
}
