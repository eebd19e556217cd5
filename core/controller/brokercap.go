package controller

import (
	"fmt"
	"slices"

	"github.com/seedlog/seedlog/core/metadata"
	"github.com/seedlog/seedlog/core/plant"
)

// Each replica keeps a log open on its broker (a segment, its offset index and its time
// index), and a broker that runs out of file descriptors while creating a log stops:
// disk errors are fatal. One CreateTopics could thus stop every broker at once.
// max.broker.partitions (Config.BrokerPartitionsMax, KIP-578) bounds the replicas any
// broker may hold, and the node warns at start when its open-file limit cannot hold
// that many (node/fdlimit.go).
//
// The bound is checked against the pending image, replicas a reassignment is adding
// included (they are in Replicas), plus what the request planned before: CreateTopics
// (validate-only too), CreatePartitions and AlterPartitionReassignments that would take
// a broker past it are refused with POLICY_VIOLATION. Nothing else adds replicas to a
// broker: elections and ISR changes keep the replica sets, and a move's later steps
// only remove replicas. The offsets topic is created like any other, so when it does
// not fit, its creation fails and is retried at the next FindCoordinator.

// brokerLoad is the replicas each broker holds in the pending image, plus those the
// request being answered has accepted so far. It is counted at its first use, once per
// request: one pass over every partition.
type brokerLoad struct {
	c      *Controller
	counts map[int32]int
}

// fits checks that adding one replica on each broker of each list leaves every broker
// within max.broker.partitions, naming the smallest broker id that would go past it.
func (l *brokerLoad) fits(added [][]int32) outcome {
	if l.c.cfg.Plants.On(plant.BrokerPartitionsCapIgnored) {
		return ok()
	}
	if l.counts == nil {
		l.counts = l.c.pending.ReplicaCounts()
	}
	capMax := l.c.cfg.brokerPartitionsMax()
	more := map[int32]int{}
	var ids []int32
	for _, rs := range added {
		for _, id := range rs {
			if more[id] == 0 {
				ids = append(ids, id)
			}
			more[id]++
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		if n := l.counts[id] + more[id]; n > capMax {
			return fail(errPolicyViolation, fmt.Sprintf("broker %d would hold %d partition replicas, above max.broker.partitions=%d", id, n, capMax))
		}
	}
	return ok()
}

// add counts replicas a request was allowed to add (after fits).
func (l *brokerLoad) add(added [][]int32) {
	if l.counts == nil {
		l.counts = l.c.pending.ReplicaCounts()
	}
	for _, rs := range added {
		for _, id := range rs {
			l.counts[id]++
		}
	}
}

// admitMove checks the record that starts (or retargets) a move of ps against the
// bound, and counts the replicas it adds when it fits: nil and the refusal otherwise.
func (l *brokerLoad) admitMove(ps metadata.PartitionState, rec metadata.Record) (metadata.Record, outcome) {
	ra := rec.(metadata.Reassign)
	added := [][]int32{slices.DeleteFunc(slices.Clone(ra.Replicas), func(id int32) bool { return slices.Contains(ps.Replicas, id) })}
	if out := l.fits(added); out.failed() {
		return nil, out
	}
	l.add(added)
	return rec, ok()
}
