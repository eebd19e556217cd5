package sim

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// The per-broker replica bound (max.broker.partitions, core/controller/brokercap.go). A
// quarter of the seeds with data run it small: room for every replica the data topics,
// the offsets topic and the liveness probe could ever put on one broker (a partition
// has at most one replica per broker, moves included), and the transaction state
// topic in seeds with transactions, plus zero to three. The
// metadata workload's topics then compete for what the data topics leave, so creates,
// new partitions and the mover's reassignments meet the bound now and then and must
// take POLICY_VIOLATION as a legal refusal. Checkers judge them:
//
//   - broker-partitions: whenever a node's metadata image changes, no broker holds more
//     replicas in it than the bound (replicas being added included);
//   - so that the workload's topics cannot keep the probe out, the liveness phase
//     first deletes them (an operator making room), and again every second until the
//     final reads (a create sent before faults stopped may succeed later); the data
//     topics' and offsets topic's creations, retried until they succeed, then fit.

// drawBrokerCap draws the bound from its own stream, after everything that shapes the
// data topics.
func drawBrokerCap(seed uint64, c *Config) {
	rng := Stream(seed, streamBrokerCap, 0)
	if !c.Data.On() || rng.IntN(4) != 0 {
		return
	}
	c.Data.BrokerPartitionsMax = c.Data.replicasPerBrokerMax() + rng.IntN(4)
}

// replicasPerBrokerMax is the most replicas of the data topics (grown to PartitionsMax),
// the offsets topic and the liveness probe's topic one broker can hold.
func (d *DataConfig) replicasPerBrokerMax() int {
	n := 1 // the probe topic's one partition
	for _, t := range d.Topics {
		n += int(max(t.Partitions, d.PartitionsMax))
	}
	if d.OffsetsPartitions > 0 {
		n += int(d.OffsetsPartitions)
	} else {
		n += 50 // the node's offsets.topic.num.partitions
	}
	if len(d.TxnProducers) > 0 || d.CTP.Workers > 0 {
		n += int(d.txnStatePartitions())
	}
	return n
}

// capViolation marks a broker holding more replicas than the bound.
type capViolation struct{ error }

// checkBrokerCap counts the replicas of each broker in node n's metadata image.
func (d *dataInvariants) checkBrokerCap(n *simNode) error {
	capMax := d.w.cfg.Data.BrokerPartitionsMax
	ins := d.w.opts.Inspect
	if capMax <= 0 || ins.Metadata == nil {
		return nil
	}
	md, ok := ins.Metadata(n.m)
	if !ok {
		return nil
	}
	counts := map[int32]int{}
	for _, t := range md.Topics {
		for _, rs := range t.Replicas {
			for _, id := range rs {
				counts[id]++
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(counts)) {
		if counts[id] > capMax {
			return capViolation{fmt.Errorf("the metadata image of node %d (offset %d) puts %d partition replicas on broker %d, above max.broker.partitions=%d",
				n.spec.ID, md.Offset, counts[id], id, capMax)}
		}
	}
	d.w.cov.Inc("check:broker-partitions")
	return nil
}

// noteCapRefusal counts an answer of POLICY_VIOLATION to what adds replicas, in a seed
// that runs the bound.
func (w *World) noteCapRefusal(what string, code int16) {
	if code == errPolicyViolation && w.cfg.Data.BrokerPartitionsMax > 0 {
		w.cov.Inc("broker-cap:refused:" + what)
	}
}

// clearWorkloadTopics deletes the metadata workload's topics one by one through client
// c, each until the controller answers definitely, then calls done.
func (l *liveness) clearWorkloadTopics(c *Client, i int, done func()) {
	w := l.w
	if w.failure != nil {
		return
	}
	topics := w.cfg.Workload.Topics
	if i == len(topics) {
		done()
		return
	}
	op := &Op{Kind: OpDelete, Topic: topics[i]}
	c.run(op, func() {
		if op.Outcome == OK || (op.Outcome == Failed && op.Code > 0) {
			w.cov.Inc("broker-cap:liveness-cleared")
			l.clearWorkloadTopics(c, i+1, done)
			return
		}
		c.later(opBackoff*4, func() { l.clearWorkloadTopics(c, i, done) })
	})
}

// sweepWorkloadTopics deletes the workload's topics again through client c every second
// until the final reads begin: a create the workload sent before faults stopped may
// still succeed after the first clearing and take the room the probe and data topics
// need (seeds 942 and 964 did).
func (l *liveness) sweepWorkloadTopics(c *Client) {
	c.later(time.Second, func() {
		if l.w.failure != nil || l.w.phase == phaseFinalReads {
			return
		}
		l.clearWorkloadTopics(c, 0, func() { l.sweepWorkloadTopics(c) })
	})
}

// capString describes the bound for the configuration block.
func (d *DataConfig) capString() string {
	if d.BrokerPartitionsMax <= 0 {
		return ""
	}
	return fmt.Sprintf("  max.broker.partitions=%d (the data, offsets and probe topics need up to %d per broker)\n",
		d.BrokerPartitionsMax, d.replicasPerBrokerMax())
}
