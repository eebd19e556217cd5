package core

import (
	"time"

	"github.com/seedlog/seedlog/core/plant"
	"github.com/twmb/franz-go/pkg/kerr"
)

// barriersMax bounds the linearizable reads a node has waiting.
const barriersMax = 4096

// barrierReask is how long a barrier waits for another node's controller to answer
// before it asks again: the question or the answer may have been lost. Any answer, to
// this question or an earlier one, will do: each is an index some controller confirmed
// it led at after the barrier began.
const barrierReask = 500 * time.Millisecond

// barrier is a linearizable read of the metadata image: it learns the quorum's committed
// offset from the active controller (a read index, taken while that controller is sure
// it still leads) and completes once this node's image has applied up to it. A read
// served after the barrier reflects every metadata change acknowledged before it began.
type barrier struct {
	id       uint64
	deadline int64
	retryAt  int64 // when to (re)ask; 0 while asked
	index    int64 // -1 until the controller answered
	done     func(ok bool)
	// sentTo, sentEpoch and sentAt: the node last asked, in which quorum epoch, when.
	sentTo    int32
	sentEpoch int32
	sentAt    int64
}

// readBarrier calls done(true) once the image may be read linearizably, or done(false)
// when no controller confirmed an index before the request timeout.
func (c *rpcClient) readBarrier(n *Node, done func(ok bool)) {
	if len(c.barriers) >= barriersMax {
		done(false)
		return
	}
	c.nextID++
	b := &barrier{id: c.nextID, deadline: n.now + int64(n.cfg.RequestTimeout), retryAt: n.now, index: -1, done: done}
	c.barriers = append(c.barriers, b)
	c.askIndex(n, b)
}

func (c *rpcClient) askIndex(n *Node, b *barrier) {
	leader := n.quorum.raft.Status().Leader
	switch {
	case leader == n.cfg.NodeID:
		b.retryAt, b.sentTo = 0, leader // raft answers it, or says it lost the lead
		n.readIndex(func(index int64, ok bool) {
			if !ok {
				b.retryAt = n.now + int64(callRetry)
				return
			}
			b.index = index
			c.settleBarriers(n)
		})
	case leader < 0:
		b.retryAt = n.now + int64(callRetry)
	default:
		b.retryAt, b.sentTo, b.sentEpoch, b.sentAt = 0, leader, n.quorum.raft.Status().PendingEpoch, n.now
		n.send(leader, encodeBarrier(barrierMsg{id: b.id}))
	}
}

// reasking reports whether b waits for another node's controller to answer, and asks
// again when barrierReask passed.
func (b *barrier) reasking(n *Node) bool {
	return b.retryAt == 0 && b.index < 0 && b.sentTo != n.cfg.NodeID && !n.cfg.Plants.On(plant.BarrierWaitsOutLeaderChange)
}

// reaskOrphaned asks again, at once, the barriers sent to a controller of an earlier
// quorum epoch than epoch: it lost its leadership, and when the question or its answer
// was lost nothing would come before the barrier's deadline (a Metadata request would
// wait the whole request timeout).
func (c *rpcClient) reaskOrphaned(n *Node, epoch int32) {
	for _, b := range c.barriers {
		if b.reasking(n) && b.sentEpoch < epoch {
			c.askIndex(n, b)
		}
	}
}

func (c *rpcClient) barrierAnswer(n *Node, m barrierAnswerMsg) {
	for _, b := range c.barriers {
		if b.id != m.id || b.retryAt != 0 || b.index >= 0 {
			continue
		}
		if m.code == kerr.NotController.Code {
			b.retryAt = n.now + int64(callRetry)
			return
		}
		b.index = m.index
		c.settleBarriers(n)
		return
	}
}

// settleBarriers completes the barriers whose index the image has reached.
func (c *rpcClient) settleBarriers(n *Node) {
	applied := n.quorum.applied
	kept := c.barriers[:0]
	var ready []*barrier
	for _, b := range c.barriers {
		if b.index >= 0 && applied >= b.index {
			ready = append(ready, b)
		} else {
			kept = append(kept, b)
		}
	}
	clear(c.barriers[len(kept):])
	c.barriers = kept
	for _, b := range ready {
		b.done(true)
	}
}

func (c *rpcClient) tickBarriers(n *Node) {
	kept := c.barriers[:0]
	var expired []*barrier
	for _, b := range c.barriers {
		if b.deadline <= n.now {
			expired = append(expired, b)
		} else {
			kept = append(kept, b)
		}
	}
	clear(c.barriers[len(kept):])
	c.barriers = kept
	for _, b := range expired {
		b.done(false)
	}
	for _, b := range c.barriers {
		if b.retryAt != 0 && b.retryAt <= n.now || b.reasking(n) && b.sentAt+int64(barrierReask) <= n.now {
			c.askIndex(n, b)
		}
	}
}
