package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/seedlog/seedlog/core/disk"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Reassignments in the fault mix: in half of the seeds with data and two brokers or
// more, a mover client moves data partitions to random sets of brokers now and then
// (AlterPartitionReassignments), cancels a move in one request of five (and half of
// the moves it started, shortly after), lists the moves under way
// (ListPartitionReassignments), and now and then drains a broker: it moves every data
// partition off it at once, as seedlog cluster decommission does, and then asks to
// unregister it (UnregisterBroker: refused while the broker runs or holds replicas,
// done when it is down and fenced; it registers again when it restarts). In half of
// those seeds with a broker outside the quorum, that broker joins late: it starts
// only seconds into the run, after the data topics exist, and gets partitions only by
// moves. Checkers judge them, besides all the others:
//
//   - moves: whenever a node's metadata image shows a partition that lost replicas,
//     the replicas it has left hold, on their synced disks, everything below the
//     highest high watermark any leader of the partition reached, on at least
//     min.insync.replicas of them (or all, when fewer remain); so old replicas never
//     leave before the new ones hold every committed record;
//   - liveness: once faults stop, every move finishes or is cancelled within the
//     liveness bound, unless it involves a broker the phase leaves down;
//   - describe-quorum: the mover also asks DescribeQuorum now and then (and right
//     after some moves start, while their records commit); the leader an answer names
//     led the epoch it names, its voters are the quorum's, and its high watermark is
//     no higher than any voter exposed;
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
	if rng.IntN(2) == 0 {
		c.Data.MoveInterval = time.Duration(2+rng.IntN(8)) * time.Second
		if rng.IntN(2) == 0 {
			c.Data.MoveThrottle = int64(16<<10) << rng.IntN(5)
		}
		if last := &c.Nodes[len(c.Nodes)-1]; last.Broker && !last.Voter && rng.IntN(2) == 0 {
			last.JoinAt = time.Second + time.Duration(rng.Int64N(int64(min(c.SafetyDuration/2, 20*time.Second))))
		}
	}
}

// WithoutLaterDraws leaves out the workloads drawn after the oldest replayed scenarios
// and plant bounds were set: leader rebalancing, the elector, the mover (WithoutMoves),
// the readers' largest-timestamp lookups and their fetch sessions, and transactions.
func (c *Config) WithoutLaterDraws() {
	c.LeaderBalance, c.Data.ElectInterval, c.Data.NoMaxTimestampReads = LeaderBalance{}, 0, true
	c.WithoutMoves()
	c.Data.SessionReaders = 0
	c.Data.BrokerPartitionsMax = 0
	c.Data.WithoutTxns()
	c.Data.WithoutCTP()
}

// WithoutMoves leaves the mover, the late-joining broker and the move throttle out of a
// seed's draws, for tests that replay what was found before they existed.
func (c *Config) WithoutMoves() {
	c.Data.MoveInterval, c.Data.MoveThrottle = 0, 0
	for i := range c.Nodes {
		c.Nodes[i].JoinAt = 0
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
	switch c.rng.IntN(10) {
	case 0:
		d.listMoves()
		return
	case 3:
		d.describeQuorum()
		return
	case 4:
		d.describeProducers()
		return
	case 1, 2:
		// Half of the drains are of a broker that is down, as an operator
		// decommissions a dead machine; its unregistering then succeeds once it is fenced.
		brokers := w.cfg.Brokers()
		if down := slices.DeleteFunc(slices.Clone(brokers), func(id int32) bool { return w.node(id).up }); len(down) > 0 && c.rng.IntN(2) == 0 {
			brokers = down
		}
		st := Step{Kind: StepDrain, Client: c.id, Node: brokers[c.rng.IntN(len(brokers))]}
		if s := w.script; s != nil {
			if st := s.turn(c, StepDrain); st != nil {
				d.drain(*st)
			}
			return
		}
		d.drain(st)
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

// moveStep starts a scheduled reassignment or drain.
func (d *dataWorkload) moveStep(st *Step) string {
	if _, ok := d.w.cfg.Data.topic(st.Topic); !ok && st.Kind == StepReassign {
		return fmt.Sprintf("no data topic %s", st.Topic)
	}
	if d.mover.busy {
		return stepBusy
	}
	if st.Kind == StepDrain {
		d.drain(*st)
		return ""
	}
	d.reassign(*st)
	return ""
}

// drain moves every data partition the mover knows on broker st.Node to the broker
// holding the fewest replicas among those the partition lacks, in one request, then
// asks to unregister the broker.
func (d *dataWorkload) drain(st Step) {
	c, w := d.mover, d.w
	w.recordStep(st)
	load := map[int32]int{}
	for _, topic := range w.dataTopicNames() {
		if tm := c.topics[topic]; tm != nil {
			for _, p := range tm.parts {
				for _, id := range p.replicas {
					load[id]++
				}
			}
		}
	}
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	req.TimeoutMillis = int32(w.requestTimeout() / time.Millisecond)
	req.AllowReplicationFactorChange = true
	for _, topic := range w.dataTopicNames() {
		tm := c.topics[topic]
		if tm == nil {
			continue
		}
		rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
		rt.Topic = topic
		for p, pm := range tm.parts {
			at := slices.Index(pm.replicas, st.Node)
			if at < 0 {
				continue
			}
			best := int32(-1)
			for _, id := range w.cfg.Brokers() {
				if id != st.Node && !slices.Contains(pm.replicas, id) && (best < 0 || load[id] < load[best]) {
					best = id
				}
			}
			if best < 0 {
				w.cov.Inc("moves:drain-no-room")
				continue
			}
			load[best]++
			rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
			rp.Partition, rp.Replicas = int32(p), slices.Clone(pm.replicas)
			rp.Replicas[at] = best
			rt.Partitions = append(rt.Partitions, rp)
		}
		if len(rt.Partitions) > 0 {
			req.Topics = append(req.Topics, rt)
		}
	}
	free := c.occupy()
	then := func() {
		free()
		c.later(2*time.Second, func() { d.unregister(st.Node) })
	}
	if len(req.Topics) == 0 {
		then()
		return
	}
	c.send(c.adminTarget(), req, w.requestTimeout(), func(resp kmsg.Response, err error) {
		if r, _ := resp.(*kmsg.AlterPartitionAssignmentsResponse); err == nil && r != nil && r.ErrorCode == 0 {
			for _, t := range r.Topics {
				for _, p := range t.Partitions {
					if p.ErrorCode == 0 {
						w.cov.Inc("moves:drained")
					}
					w.noteCapRefusal("reassign", p.ErrorCode)
				}
			}
		}
		then()
	})
}

// unregister asks to unregister a broker a drain emptied (or meant to).
func (d *dataWorkload) unregister(id int32) {
	c, w := d.mover, d.w
	if w.phase != phaseSafety || w.failure != nil || c.busy {
		return
	}
	free := c.occupy()
	if _, sent := w.unregisterFrom[id]; !sent {
		w.unregisterFrom[id] = w.now
	}
	req := kmsg.NewPtrUnregisterBrokerRequest()
	req.BrokerID = id
	c.send(c.adminTarget(), req, w.requestTimeout(), func(resp kmsg.Response, err error) {
		free()
		r, _ := resp.(*kmsg.UnregisterBrokerResponse)
		switch {
		case err != nil || r == nil:
		case r.ErrorCode == 0:
			w.cov.Inc("moves:unregistered")
		default:
			w.cov.Inc("moves:unregister-refused:" + strings.ToLower(errorName(r.ErrorCode)))
		}
	})
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
					w.noteCapRefusal("reassign", p.ErrorCode)
				case st.Replicas == nil:
					w.cov.Inc("moves:cancelled")
				default:
					w.cov.Inc("moves:started")
					if slices.ContainsFunc(st.Replicas, func(id int32) bool { return w.node(id).spec.JoinAt > 0 }) {
						w.cov.Inc("moves:to-joined-broker")
					}
					d.followMove(st)
				}
			}
		}
	})
}

// followMove lists the moves (a quarter of the time), describes the quorum (a
// quarter), or cancels st's (half of the time), shortly after st started a move: most
// moves finish within a second, long before the mover's next turn.
func (d *dataWorkload) followMove(st Step) {
	c, w := d.mover, d.w
	roll := c.rng.IntN(4)
	c.later(time.Duration(c.rng.IntN(150))*time.Millisecond, func() {
		if w.phase != phaseSafety || w.failure != nil || c.busy {
			return
		}
		switch {
		case roll == 0:
			d.listMoves()
		case roll == 3:
			d.describeQuorum() // while the move's records commit
		case w.script == nil:
			d.reassign(Step{Kind: StepReassign, Client: c.id, Topic: st.Topic, Partition: st.Partition})
		}
		// A replayed schedule starts the cancellation it recorded on its own.
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
	d.movesPending = !ok || d.anyMoving(md)
	if !d.movesPending {
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

// describeQuorum sends one DescribeQuorum and checks the answer against what the
// quorum's members did (describe-quorum): the leader it names led the epoch it names,
// the voters are the cluster's, and the high watermark is one some voter exposed.
func (d *dataWorkload) describeQuorum() {
	c, w := d.mover, d.w
	free := c.occupy()
	req := kmsg.NewPtrDescribeQuorumRequest()
	req.Version = 1
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rt.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{{Partition: 0}}
	req.Topics = append(req.Topics, rt)
	c.send(c.adminTarget(), req, w.requestTimeout(), func(resp kmsg.Response, err error) {
		free()
		r, _ := resp.(*kmsg.DescribeQuorumResponse)
		if err != nil || r == nil || r.ErrorCode != 0 || len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
			return
		}
		p := r.Topics[0].Partitions[0]
		if p.ErrorCode != 0 {
			w.cov.Inc("describe-quorum:" + strings.ToLower(errorName(p.ErrorCode)))
			return
		}
		if msg := w.checks.quorum.checkDescribed(p, w.cfg.Voters()); msg != "" {
			w.fail("describe-quorum", -1, "%s", msg)
			return
		}
		w.cov.Inc("check:describe-quorum")
	})
}
