package core

import (
	"time"

	"github.com/seedlog/seedlog/core/group"
	"github.com/seedlog/seedlog/core/kafka"
	"github.com/seedlog/seedlog/core/partition"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The node as the Kafka handlers see it (kafka.Broker).

func (n *Node) Now() int64       { return n.now }
func (n *Node) View() kafka.View { return n.view() }

// Replica returns the local replica of a partition, or nil.
func (n *Node) Replica(topic string, p int32) kafka.Replica {
	if hr := n.replica(topic, p); hr != nil {
		return ownedReplica{n, hr}
	}
	return nil
}

// ownedReplica makes each call into a replica the owner of the disk ops it emits.
type ownedReplica struct {
	n  *Node
	hr *hosted
}

func (o ownedReplica) Produce(now int64, txnID string, implicitAdd bool, batch []byte, acks int16, timeout time.Duration, reply func(partition.ProduceResult)) {
	o.n.withReplica(o.hr, func() { o.n.produce(o.hr, now, txnID, implicitAdd, batch, acks, timeout, reply) })
}

func (o ownedReplica) Fetch(now int64, req partition.FetchRequest, reply func(partition.FetchResult)) {
	o.n.withReplica(o.hr, func() { o.hr.r.Fetch(now, req, reply) })
}

func (o ownedReplica) ListOffsets(now int64, ts int64, leaderEpoch int32, isolation int8, reply func(partition.ListOffsetsResult)) {
	o.n.withReplica(o.hr, func() { o.hr.r.ListOffsets(now, ts, leaderEpoch, isolation, reply) })
}

func (o ownedReplica) OffsetForLeaderEpoch(now int64, leaderEpoch, epoch int32) (res partition.EpochEndResult) {
	o.n.withReplica(o.hr, func() { res = o.hr.r.OffsetForLeaderEpoch(now, leaderEpoch, epoch) })
	return res
}

func (o ownedReplica) DeleteRecords(now int64, offset int64, timeout time.Duration, reply func(partition.DeleteResult)) {
	o.n.withReplica(o.hr, func() { o.hr.r.DeleteRecords(now, offset, timeout, reply) })
}

func (o ownedReplica) HighWatermark() int64 { return o.hr.r.HighWatermark() }

func (o ownedReplica) Producers(now int64) ([]partition.ProducerInfo, int16) {
	return o.hr.r.Producers(now)
}

// waitsMax bounds the parked requests (long-polling fetches) of a node; past it a new
// one is answered at once rather than parked.
const waitsMax = 4096

type wait struct {
	deadline int64
	ready    func() bool
	fire     func()
}

// Wait parks fire until ready() holds or the deadline passes.
func (n *Node) Wait(deadline int64, ready func() bool, fire func()) {
	if len(n.waits) >= waitsMax || deadline <= n.now {
		fire()
		return
	}
	n.waits = append(n.waits, &wait{deadline: deadline, ready: ready, fire: fire})
}

// settleWaits fires the parked requests that are ready or due, in the order they parked.
func (n *Node) settleWaits() {
	if len(n.waits) == 0 {
		return
	}
	var due []*wait
	kept := n.waits[:0]
	for _, w := range n.waits {
		if n.now >= w.deadline || w.ready() {
			due = append(due, w)
		} else {
			kept = append(kept, w)
		}
	}
	clear(n.waits[len(kept):])
	n.waits = kept
	for _, w := range due {
		w.fire()
	}
}

func (n *Node) waitsDeadline() int64 {
	d := NoDeadline
	for _, w := range n.waits {
		d = min(d, w.deadline)
	}
	return d
}

// producerIDs is the block of producer ids this broker hands out, obtained from the
// controller (AllocateProducerIDs), and the InitProducerID requests waiting for one.
type producerIDs struct {
	next, end int64
	asking    bool
	waiting   []func(int64, int16)
}

// producerIDWaitersMax bounds the InitProducerID requests waiting for a block.
const producerIDWaitersMax = 4096

// ProducerID hands out the next producer id.
func (n *Node) ProducerID(reply func(id int64, code int16)) {
	p := &n.pids
	if p.next < p.end {
		p.next++
		reply(p.next-1, 0)
		return
	}
	if len(p.waiting) >= producerIDWaitersMax || n.broker.epoch < 0 {
		reply(-1, kerr.CoordinatorNotAvailable.Code)
		return
	}
	p.waiting = append(p.waiting, reply)
	if p.asking {
		return
	}
	p.asking = true
	req := kmsg.NewPtrAllocateProducerIDsRequest()
	req.BrokerID, req.BrokerEpoch = n.cfg.NodeID, n.broker.epoch
	n.rpc.callController(n, req, func(resp kmsg.Response, err error) {
		p.asking = false
		waiting := p.waiting
		p.waiting = nil
		r, _ := resp.(*kmsg.AllocateProducerIDsResponse)
		if err != nil || r == nil || r.ErrorCode != 0 {
			// Whatever the controller said, the client may simply retry: clients treat
			// unexpected codes from InitProducerID as fatal.
			for _, w := range waiting {
				w(-1, kerr.CoordinatorNotAvailable.Code)
			}
			return
		}
		p.next, p.end = r.ProducerIDStart, r.ProducerIDStart+int64(r.ProducerIDLen)
		for _, w := range waiting {
			n.ProducerID(w)
		}
	})
}

// Coordinator returns the group coordinator for groupID if this broker is it.
func (n *Node) Coordinator(groupID string) (*group.Coordinator, int16) {
	return n.groups.coordinator(n, groupID)
}

// FindCoordinator locates the coordinator broker of a group.
func (n *Node) FindCoordinator(groupID string, reply func(node int32, host string, port int32, code int16)) {
	n.groups.find(n, groupID, reply)
}

// Groups lists this broker's coordinators.
func (n *Node) Groups() []*group.Coordinator { return n.groups.all() }

// FetchSessions is the node's fetch session cache; nil on a node that serves no clients.
func (n *Node) FetchSessions() *kafka.FetchSessions {
	if !n.cfg.Broker {
		return nil
	}
	return n.fetchSessions
}

// FetchSessionStats describes the node's fetch sessions.
func (n *Node) FetchSessionStats() kafka.FetchSessionStats { return n.fetchSessions.Stats() }
