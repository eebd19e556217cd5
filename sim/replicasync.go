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
// checker counts the partition logs whose creation, or deletion, is on the node's disk
// queue, which must stay within the bound the node was given. In half the seeds that
// bound is drawn from 1 to 3, so that creating or deleting a topic's replicas waits for
// slots.

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

// createIssued counts a partition log creation or deletion queued on the node's disk,
// and createDone one completed. A deletion may go ahead of its turn when a replica of
// the same log is added (its creation holds a slot of its own), so deletions are held
// to twice the bound.
func (n *simNode) createIssued(op disk.Op) {
	if op.Log == disk.MetadataLog {
		return
	}
	bound := n.w.cfg.ReplicaCreatesMax
	switch op.Kind {
	case disk.CreateLog:
		n.creates++
		if bound > 0 && n.creates > bound {
			n.w.fail("replica-creates", n.spec.ID, "node %d has %d partition logs being created at once, above its bound of %d", n.spec.ID, n.creates, bound)
		}
		if n.creates > 1 {
			n.w.cov.Inc("replicas:creates-overlap")
		}
	case disk.DeleteLog:
		n.deletes++
		if bound > 0 && n.deletes > 2*bound {
			n.w.fail("replica-creates", n.spec.ID, "node %d has %d partition logs being deleted at once, above twice its bound of %d", n.spec.ID, n.deletes, bound)
		}
		if n.deletes > 1 {
			n.w.cov.Inc("replicas:deletes-overlap")
		}
	}
}

func (n *simNode) createDone(d disk.Done) {
	switch {
	case d.Log == disk.MetadataLog:
	case d.Kind == disk.CreateLog:
		n.creates--
	case d.Kind == disk.DeleteLog:
		n.deletes--
	}
}

func (c *Config) replicaCreatesString() string {
	if c.ReplicaCreatesMax == 0 {
		return ""
	}
	return fmt.Sprintf("; at most %d partition logs created at once", c.ReplicaCreatesMax)
}
