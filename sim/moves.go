package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Reassignments in the fault mix: in a third of the seeds with data and two brokers or
// more, a mover client moves data partitions to random sets of brokers now and then
// (AlterPartitionReassignments), cancels a move in one request of five (and a quarter
// of the moves it started, shortly after), and lists the moves under way
// (ListPartitionReassignments). Two checkers judge them, besides all
// the others:
//
//   - moves: whenever a node's metadata image shows a partition that lost replicas,
//     the replicas it has left hold, on their synced disks, everything below the
//     highest high watermark any leader of the partition reached, on at least
//     min.insync.replicas of them (or all, when fewer remain); so old replicas never
//     leave before the new ones hold every committed record;
//   - liveness: once faults stop, every move finishes or is cancelled within the
//     liveness bound, unless it involves a broker the phase leaves down;
//   - move-throttle: in half of those seeds the nodes run leader.replication.throttled.rate
//     at 16 to 256 KiB/s. Whenever a node emits a read that serves a replica being added
//     (a Paced read), the bytes of the Paced reads whose completions it took since its
//     first are at most the rate times the time since that first one, on its own clock
//     (as the cleaner-throttle check does for the cleaner).

// drawMoves draws the mover's interval from its own stream.
func drawMoves(seed uint64, c *Config) {
	rng := Stream(seed, streamMoves, 0)
	if !c.Data.On() || len(c.Brokers()) < 2 {
		return
	}
	if rng.IntN(3) == 0 {
		c.Data.MoveInterval = time.Duration(2+rng.IntN(8)) * time.Second
		if rng.IntN(2) == 0 {
			c.Data.MoveThrottle = int64(16<<10) << rng.IntN(5)
		}
	}
}

// moveIO is what the move-throttle check knows of a node's incarnation.
type moveIO struct {
	first   int64                  // its clock at its first Paced read; -1 before
	doneSum int64                  // bytes of the Paced reads it was told of
	paced   map[disk.OpID]struct{} // Paced reads not yet done
}

func (n *simNode) resetMoveIO() { n.moveIO = moveIO{first: -1} }

// pacedRead notes a Paced read the node emits at now, its clock, and checks the rate.
func (n *simNode) pacedRead(now int64, id disk.OpID) {
	m := &n.moveIO
	if m.paced == nil {
		m.paced = map[disk.OpID]struct{}{}
	}
	m.paced[id] = struct{}{}
	if m.first < 0 {
		m.first = now
	}
	rate := n.w.cfg.Data.MoveThrottle
	if rate <= 0 {
		return
	}
	if allowed := rateAllows(rate, now-m.first); uint64(m.doneSum) > allowed+1 {
		n.w.fail("move-throttle", n.spec.ID, "node %d reads for a replica being added %v after its first such read with %d bytes of them done: above leader.replication.throttled.rate=%d",
			n.spec.ID, time.Duration(now-m.first), m.doneSum, rate)
		return
	}
	if m.doneSum > 0 {
		n.w.cov.Inc("check:move-throttle")
	}
}

// readDone counts a read completion handed to the node when it was Paced.
func (n *simNode) readDone(d *disk.Done) {
	if _, ok := n.moveIO.paced[d.ID]; ok {
		delete(n.moveIO.paced, d.ID)
		n.moveIO.doneSum += int64(len(d.Data))
	}
}

// startMover starts the client that moves partitions.
func (d *dataWorkload) startMover() {
	c := d.w.addClient(roleMover)
	c.interval = d.w.cfg.Data.MoveInterval
	c.desc = "the mover (it reassigns data partitions to other brokers)"
	c.act = d.move
	c.onStep = d.moveStep
	c.scheduleNext()
	d.mover = c
}

// move reassigns one data partition the client knows, or cancels its move, or lists
// the moves under way.
func (d *dataWorkload) move() {
	c, w := d.mover, d.w
	if w.phase != phaseSafety || w.failure != nil {
		return
	}
	defer c.scheduleNext()
	if c.busy {
		return
	}
	if c.rng.IntN(4) == 0 {
		d.listMoves()
		return
	}
	topics := w.dataTopicNames()
	topic := topics[c.rng.IntN(len(topics))]
	n := c.partitions(topic)
	if n == 0 {
		c.refreshTopics(func() {})
		return
	}
	st := Step{Kind: StepReassign, Client: c.id, Topic: topic, Partition: c.rng.Int32N(n)}
	if c.rng.IntN(5) != 0 {
		st.Replicas = d.drawTarget(topic)
	}
	if s := w.script; s != nil {
		sc := s.turn(c, StepReassign)
		if sc == nil {
			return
		}
		st = *sc
	}
	d.reassign(st)
}

// drawTarget draws a target for a partition of topic: the topic's replication factor
// (one more or one fewer now and then, never below min.insync.replicas) of distinct
// brokers in random order.
func (d *dataWorkload) drawTarget(topic string) []int32 {
	c, w := d.mover, d.w
	t, _ := w.cfg.Data.topic(topic)
	brokers := w.cfg.Brokers()
	size := int(t.RF) + c.rng.IntN(3) - 1
	size = max(size, int(t.MinISR), 1)
	size = min(size, len(brokers))
	perm := c.rng.Perm(len(brokers))
	out := make([]int32, size)
	for i := range out {
		out[i] = brokers[perm[i]]
	}
	return out
}

// moveStep starts a scheduled reassignment.
func (d *dataWorkload) moveStep(st *Step) string {
	if _, ok := d.w.cfg.Data.topic(st.Topic); !ok {
		return fmt.Sprintf("no data topic %s", st.Topic)
	}
	if d.mover.busy {
		return stepBusy
	}
	d.reassign(*st)
	return ""
}

// reassign sends one AlterPartitionReassignments.
func (d *dataWorkload) reassign(st Step) {
	c, w := d.mover, d.w
	w.recordStep(st)
	free := c.occupy()
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	req.TimeoutMillis = int32(w.requestTimeout() / time.Millisecond)
	req.AllowReplicationFactorChange = true
	rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rt.Topic = st.Topic
	rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
	rp.Partition, rp.Replicas = st.Partition, st.Replicas
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	c.send(c.adminTarget(), req, w.requestTimeout(), func(resp kmsg.Response, err error) {
		free()
		r, _ := resp.(*kmsg.AlterPartitionAssignmentsResponse)
		if err != nil || r == nil {
			return
		}
		if r.ErrorCode != 0 {
			w.cov.Inc("moves:refused:" + strings.ToLower(errorName(r.ErrorCode)))
			return
		}
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				switch {
				case p.ErrorCode != 0:
					w.cov.Inc("moves:partition:" + strings.ToLower(errorName(p.ErrorCode)))
				case st.Replicas == nil:
					w.cov.Inc("moves:cancelled")
				default:
					w.cov.Inc("moves:started")
					d.followMove(st)
				}
			}
		}
	})
}

// followMove lists the moves, or cancels st's, shortly after st started a move (most
// moves finish within a second, long before the mover's next turn).
func (d *dataWorkload) followMove(st Step) {
	c, w := d.mover, d.w
	if w.script != nil {
		return
	}
	roll := c.rng.IntN(4)
	if roll >= 2 {
		return
	}
	c.later(time.Duration(c.rng.IntN(300))*time.Millisecond, func() {
		if w.phase != phaseSafety || w.failure != nil || c.busy {
			return
		}
		if roll == 0 {
			d.listMoves()
			return
		}
		d.reassign(Step{Kind: StepReassign, Client: c.id, Topic: st.Topic, Partition: st.Partition})
	})
}

// listMoves sends one ListPartitionReassignments of every partition.
func (d *dataWorkload) listMoves() {
	c, w := d.mover, d.w
	free := c.occupy()
	req := kmsg.NewPtrListPartitionReassignmentsRequest()
	req.TimeoutMillis = int32(w.requestTimeout() / time.Millisecond)
	c.send(c.adminTarget(), req, w.requestTimeout(), func(resp kmsg.Response, err error) {
		free()
		r, _ := resp.(*kmsg.ListPartitionReassignmentsResponse)
		if err != nil || r == nil || r.ErrorCode != 0 {
			return
		}
		for _, t := range r.Topics {
			for range t.Partitions {
				w.cov.Inc("moves:listed")
			}
		}
	})
}

// waitMoves waits, in the liveness phase, until no partition is moving in the quorum
// leader's image, but for moves that involve a broker the phase leaves down; the
// liveness bound fails the run otherwise.
func (d *dataWorkload) waitMoves(done func()) {
	w := d.w
	if w.failure != nil || w.phase != phaseLiveness {
		return
	}
	if d.mover == nil {
		done()
		return
	}
	v := View{w: w}
	seer, ok := v.QuorumLeader()
	var md MetadataView
	if ok {
		md, ok = v.Metadata(seer)
	}
	if ok && !d.anyMoving(md) {
		w.cov.Inc("liveness:moves-finished")
		done()
		return
	}
	d.probe.later(dataBackoff, func() { d.waitMoves(done) })
}

// anyMoving reports whether a partition moves, not counting those with a replica the
// liveness phase leaves down.
func (d *dataWorkload) anyMoving(md MetadataView) bool {
	for _, t := range md.Topics {
		for p, moving := range t.Moving {
			if !moving {
				continue
			}
			stuck := slices.ContainsFunc(t.Replicas[p], func(id int32) bool {
				n := d.w.node(id)
				return n != nil && n.leftDown
			})
			if !stuck {
				return true
			}
			d.w.cov.Inc("liveness:move-left-to-down-broker")
		}
	}
	return false
}
