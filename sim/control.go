package sim

import (
	"fmt"
	"slices"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/seedlog/seedlog/netsim"
	"github.com/seedlog/seedlog/traces"
)

// Step-by-step control of a world, for scenario tests: build it with NewWorld, then
// advance time and inject faults by hand. Run is the automatic equivalent (phases, fault
// schedule, workload).

// NewWorld builds a world and schedules its nodes' boot; nothing runs until RunFor.
func NewWorld(opts Options) (*World, error) {
	w, err := newWorld(opts)
	if err != nil {
		return nil, err
	}
	fmt.Fprint(w.log, w.cfg.String())
	w.startAll()
	return w, nil
}

// Config is the world's configuration.
func (w *World) Config() Config { return w.cfg }

// Now is the virtual time.
func (w *World) Now() time.Duration { return time.Duration(w.now) }

// Failure is what failed so far, or nil.
func (w *World) Failure() *Failure { return w.failure }

// View is the read-only view the invariants get.
func (w *World) View() View { return View{w: w} }

// RunFor processes every event due within d of virtual time and moves the clock to the
// end of it. It stops early at a failure, which it returns.
func (w *World) RunFor(d time.Duration) *Failure {
	end := w.now + int64(d)
	for w.failure == nil {
		at, ok := w.q.peekAt()
		if !ok || at > end {
			break
		}
		w.step()
	}
	if w.failure == nil {
		w.now = end
	}
	return w.failure
}

// RunUntil processes events until cond holds (checked after every event) or limit of
// virtual time passed. It reports whether cond came true.
func (w *World) RunUntil(cond func() bool, limit time.Duration) (bool, *Failure) {
	end := w.now + int64(limit)
	for w.failure == nil {
		if cond() {
			return true, nil
		}
		at, ok := w.q.peekAt()
		if !ok || at > end {
			break
		}
		w.step()
	}
	if w.failure == nil {
		w.now = max(w.now, end)
	}
	return w.failure == nil && cond(), w.failure
}

func (w *World) mustNode(id int32) (*simNode, error) {
	n := w.node(id)
	if n == nil {
		return nil, fmt.Errorf("no node %d (nodes are 1..%d)", id, len(w.nodes))
	}
	return n, nil
}

// Crash crashes node id now (a power loss).
func (w *World) Crash(id int32) error {
	n, err := w.mustNode(id)
	if err != nil {
		return err
	}
	if !n.up {
		return fmt.Errorf("node %d is already down", id)
	}
	w.cov.Inc("fault:crash")
	n.crash("crashed by hand")
	return nil
}

// Restart starts a crashed node now.
func (w *World) Restart(id int32) error {
	n, err := w.mustNode(id)
	if err != nil {
		return err
	}
	if n.up {
		return fmt.Errorf("node %d is up", id)
	}
	n.start()
	return nil
}

// Shutdown sends node id a SIGTERM: a controlled shutdown that stops it once its
// leaderships moved away, or after timeout. It stays down until Restart.
func (w *World) Shutdown(id int32, timeout time.Duration) error {
	n, err := w.mustNode(id)
	if err != nil {
		return err
	}
	if !n.up || n.paused || n.shutdown != nil {
		return fmt.Errorf("node %d is not running, or already shutting down", id)
	}
	w.cov.Inc("fault:controlled-shutdown")
	n.beginShutdown(timeout, -1)
	return nil
}

// Pause stops node id's process until Resume; its inputs wait.
func (w *World) Pause(id int32) error {
	n, err := w.mustNode(id)
	if err != nil {
		return err
	}
	if !n.up || n.paused {
		return fmt.Errorf("node %d is not running", id)
	}
	n.pause(-1)
	return nil
}

// Resume resumes a paused node.
func (w *World) Resume(id int32) error {
	n, err := w.mustNode(id)
	if err != nil {
		return err
	}
	if !n.paused {
		return fmt.Errorf("node %d is not paused", id)
	}
	n.resume()
	return nil
}

// Cut cuts every node of left from every node of right, both ways.
func (w *World) Cut(left, right []int32) error {
	for _, id := range append(slices.Clone(left), right...) {
		if _, err := w.mustNode(id); err != nil {
			return err
		}
	}
	for _, a := range left {
		for _, b := range right {
			if a == b {
				return fmt.Errorf("node %d is on both sides", a)
			}
		}
	}
	desc := fmt.Sprintf("cut %v | %v", left, right)
	w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultPartition, Node: -1, Peer: -1, Hash: xxhash.Sum64String(desc)},
		func() string { return desc })
	for _, a := range left {
		for _, b := range right {
			w.brokenByFault(w.net.Apply(netsim.Time(w.now), netsim.CutOneWay(netsim.Addr(a), netsim.Addr(b))))
			w.brokenByFault(w.net.Apply(netsim.Time(w.now), netsim.CutOneWay(netsim.Addr(b), netsim.Addr(a))))
		}
	}
	w.cov.Inc("fault:partition")
	return nil
}

// CutOneWay cuts the link from -> to only.
func (w *World) CutOneWay(from, to int32) error {
	if _, err := w.mustNode(from); err != nil {
		return err
	}
	if _, err := w.mustNode(to); err != nil {
		return err
	}
	f := netsim.CutOneWay(netsim.Addr(from), netsim.Addr(to))
	w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultPartition, Node: -1, Peer: -1, Hash: xxhash.Sum64String(f.String())},
		func() string { return f.String() })
	w.brokenByFault(w.net.Apply(netsim.Time(w.now), f))
	w.cov.Inc("fault:partition")
	return nil
}

// Heal removes every cut and clog.
func (w *World) Heal() {
	w.faults.heal()
}

// Do runs one client operation from a dedicated client, waits up to limit for it to
// complete, and returns it (Pending if it did not).
func (w *World) Do(op *Op, limit time.Duration) (*Op, *Failure) {
	done := false
	w.scenario().run(op, func() { done = true })
	_, f := w.RunUntil(func() bool { return done }, limit)
	return op, f
}

// Finish ends the run by hand: open operations become indeterminate and the history
// checkers run.
func (w *World) Finish() Result {
	if w.phase != phaseEnd {
		w.phase = phaseEnd
		w.finish()
	}
	return w.result()
}

// Produce sends value to a partition with acks=all from the scenario client, trying again
// with a new operation after each failure, until one is acknowledged or limit passed. It
// returns the last operation.
func (w *World) Produce(tp TopicPartition, value string, limit time.Duration) (*Op, *Failure) {
	c := w.scenario()
	c.watch(tp.Topic)
	end := w.now + int64(limit)
	var last *Op
	for {
		done := false
		c.produceOnce(tp, value, -1, func(op *Op) { last, done = op, true })
		if ok, f := w.RunUntil(func() bool { return done }, time.Duration(end-w.now)); f != nil || !ok {
			return last, f
		}
		if last.Outcome == OK || w.now >= end {
			return last, nil
		}
		if _, f := w.RunUntil(func() bool { return false }, opBackoff); f != nil {
			return last, f
		}
	}
}

// Fetch reads a partition at offset through its leader from the scenario client, trying
// again after each failure until a read succeeds or limit passed. It returns the last
// read (nil if none could start).
func (w *World) Fetch(tp TopicPartition, offset int64, limit time.Duration) (*Op, *Failure) {
	c := w.scenario()
	c.watch(tp.Topic)
	end := w.now + int64(limit)
	var last *Op
	for {
		done := false
		var op *Op
		c.fetchOnce(tp, offset, 1, func(o *Op) { op, done = o, true })
		if ok, f := w.RunUntil(func() bool { return done }, time.Duration(end-w.now)); f != nil || !ok {
			return last, f
		}
		if op.ID > 0 {
			last = op
		}
		if op.Outcome == OK || w.now >= end {
			return last, nil
		}
		if _, f := w.RunUntil(func() bool { return false }, opBackoff); f != nil {
			return last, f
		}
	}
}

// scenario returns the client of World.Do, Produce and Fetch.
func (w *World) scenario() *Client {
	if w.scenarioClient == nil {
		w.scenarioClient = w.addClient(roleWorkload)
		w.scenarioClient.stopped = true
		w.scenarioClient.direct = true
	}
	return w.scenarioClient
}

// watch makes the client learn topic's partitions when it refreshes.
func (c *Client) watch(topic string) {
	if !slices.Contains(c.extraTopics, topic) && !slices.Contains(c.w.dataTopicNames(), topic) {
		c.extraTopics = append(c.extraTopics, topic)
	}
}
