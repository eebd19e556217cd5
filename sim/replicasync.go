package sim

import (
	"fmt"

	"github.com/seedlog/seedlog/core/disk"
)

// Replicas in line with the metadata. A broker brings its replicas in line with each
// metadata change by visiting only the partitions the change touched, and creates the
// logs of new replicas a few at a time (core/replicas.go). After every step of a
// broker the replicas-follow-metadata checker compares its replicas with what a visit
// of every partition would give (core.Node.CheckReplicas); and the replica-creates
// checker counts the partition logs whose creation is on the node's disk queue, which
// must stay within the bound the node was given. In half the seeds that bound is drawn
// from 1 to 3, so that creating a topic's replicas waits for slots.

// replicaCreatesPercent is the share of seeds, in percent, with a small creation bound.
const replicaCreatesPercent = 50

// drawReplicaCreates draws the bound from its own stream.
func drawReplicaCreates(seed uint64, c *Config) {
	rng := Stream(seed, streamDataConfig, 41)
	if rng.IntN(100) < replicaCreatesPercent {
		c.ReplicaCreatesMax = 1 + rng.IntN(3)
	}
}

// replicaChecker is a machine that compares its replicas with its metadata (core.Node).
type replicaChecker interface{ CheckReplicas() error }

// checkReplicas runs the node's own comparison of its replicas with its metadata.
func (n *simNode) checkReplicas() {
	c, ok := n.m.(replicaChecker)
	if !ok {
		return
	}
	if err := c.CheckReplicas(); err != nil {
		n.w.fail("replicas-follow-metadata", n.spec.ID, "node %d: %v", n.spec.ID, err)
	}
}

// createIssued counts a partition log creation queued on the node's disk, and
// createDone one completed.
func (n *simNode) createIssued(op disk.Op) {
	if op.Kind != disk.CreateLog || op.Log == disk.MetadataLog {
		return
	}
	n.creates++
	if bound := n.w.cfg.ReplicaCreatesMax; bound > 0 && n.creates > bound {
		n.w.fail("replica-creates", n.spec.ID, "node %d has %d partition logs being created at once, above its bound of %d", n.spec.ID, n.creates, bound)
	}
	if n.creates > 1 {
		n.w.cov.Inc("replicas:creates-overlap")
	}
}

func (n *simNode) createDone(d disk.Done) {
	if d.Kind == disk.CreateLog && d.Log != disk.MetadataLog {
		n.creates--
	}
}

func (c *Config) replicaCreatesString() string {
	if c.ReplicaCreatesMax == 0 {
		return ""
	}
	return fmt.Sprintf("; at most %d partition logs created at once", c.ReplicaCreatesMax)
}
