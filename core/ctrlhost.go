package core

import (
	"fmt"
	"math/rand/v2"

	"github.com/seedlog/seedlog/core/controller"
	"github.com/seedlog/seedlog/core/kafka"
	"github.com/seedlog/seedlog/core/metadata"
	"github.com/seedlog/seedlog/core/raft"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// callsServedMax bounds the controller calls a node holds awaiting commit.
const callsServedMax = 4096

// callsRememberedMax bounds the calls remembered to drop duplicates: the network may
// deliver a datagram twice, and executing a CreatePartitions twice would answer the
// client with the second execution's error.
const callsRememberedMax = 8192

type callKey struct {
	from        int32
	incarnation uint64
	id          uint64
}

// controllerHost runs the controller on a voter and activates it while the node leads
// the quorum and the quorum has committed the start of the leader's epoch.
type controllerHost struct {
	c *controller.Controller
	// activateAt is the quorum end offset right after this node became leader (just past
	// its leader-change record); the controller activates once the high watermark
	// reaches it, so the committed image holds everything earlier epochs committed.
	activateAt  int64
	leaderEpoch int32 // the epoch activateAt belongs to; -1 when not leading
	active      bool
	nextID      uint64
	calls       map[uint64]callOrigin
	seen        map[callKey]bool
	seenOrder   []callKey // oldest first, for eviction
}

// callOrigin is where a controller response goes: back to a peer's call, or to a
// function on this node.
type callOrigin struct {
	from     int32
	remoteID uint64
	local    func(kmsg.Response)
}

func (h *controllerHost) init(n *Node) {
	t := n.cfg.Timing
	h.c = controller.New(controller.Config{
		NodeID:                       n.cfg.NodeID,
		HeartbeatInterval:            t.HeartbeatInterval,
		SessionTimeout:               t.SessionTimeout,
		LeaseDuration:                t.LeaseDuration,
		ClockDriftMax:                t.ClockDriftMax,
		QuorumFetchTimeout:           t.QuorumFetchTimeout,
		DefaultPartitions:            n.cfg.Defaults.Partitions,
		DefaultReplicationFactor:     n.cfg.Defaults.ReplicationFactor,
		ProducerIDBlockSize:          1000,
		MessageBytesMax:              n.cfg.MessageBytesMax,
		BrokerPartitionsMax:          n.cfg.BrokerPartitionsMax,
		Authorizer:                   n.cfg.Authorizer,
		AutoLeaderRebalance:          n.cfg.AutoLeaderRebalance,
		LeaderImbalancePercent:       n.cfg.LeaderImbalancePercent,
		LeaderImbalanceCheckInterval: n.cfg.LeaderImbalanceCheckInterval,
		Static:                       n.static,
		Rand:                         rand.New(rand.NewPCG(n.rng.Uint64(), n.rng.Uint64())),
		Plants:                       n.cfg.Plants,
	})
	h.leaderEpoch = -1
	h.calls = map[uint64]callOrigin{}
	h.seen = map[callKey]bool{}
}

// firstSight reports whether a call is new, and remembers it.
func (h *controllerHost) firstSight(k callKey) bool {
	if h.seen[k] {
		return false
	}
	if len(h.seenOrder) >= callsRememberedMax {
		delete(h.seen, h.seenOrder[0])
		h.seenOrder = h.seenOrder[1:]
	}
	h.seen[k] = true
	h.seenOrder = append(h.seenOrder, k)
	return true
}

// follow activates or deactivates the controller after the quorum changed.
func (h *controllerHost) follow(n *Node) {
	if h.c == nil {
		return
	}
	st := n.quorum.raft.Status()
	leading := st.Role == raft.Leader && st.Leader == n.cfg.NodeID
	switch {
	case !leading:
		if h.active {
			h.c.Deactivate()
			h.active = false
			n.note("controller-inactive", "")
		}
		h.leaderEpoch = -1
	case h.leaderEpoch != st.PendingEpoch:
		if h.active {
			h.c.Deactivate()
			h.active = false
		}
		h.leaderEpoch, h.activateAt = st.PendingEpoch, st.EndOffset
	case !h.active && st.HW >= h.activateAt:
		h.c.Activate(n.now, n.quorum.image)
		h.active = true
		n.note("controller-active", "")
	}
}

// committed tells an active controller about the new committed image.
func (h *controllerHost) committed(n *Node, im metadata.Image) {
	if h.c != nil {
		h.c.Committed(n.now, im)
	}
}

func (h *controllerHost) tick(n *Node) {
	if h.active {
		h.c.Tick(n.now, proposer{n})
		if moved := h.c.TakeRebalanced(); moved > 0 {
			n.note("leaders-rebalanced", fmt.Sprintf("%d leaderships moved back to preferred replicas", moved))
		}
	}
}

func (h *controllerHost) deadline() int64 {
	if !h.active {
		return NoDeadline
	}
	return h.c.Deadline()
}

// drain routes the controller's responses.
func (h *controllerHost) drain(n *Node) {
	if h.c == nil {
		return
	}
	for _, r := range h.c.Ready() {
		o, ok := h.calls[r.ID]
		if !ok {
			continue
		}
		delete(h.calls, r.ID)
		h.respond(n, o, r.Msg)
	}
}

// respond sends a controller response where its call came from.
func (h *controllerHost) respond(n *Node, o callOrigin, resp kmsg.Response) {
	if o.local != nil {
		o.local(resp)
		return
	}
	n.send(o.from, encodeAnswer(answerMsg{id: o.remoteID, key: resp.Key(), version: resp.GetVersion(), body: resp.AppendTo(nil)}))
}

// controllerServes reports whether the active controller's node answers calls with key:
// what the controller handles, and DescribeQuorum, which the node answers from raft.
func controllerServes(key int16) bool {
	return controller.Supports(key) || key == 55
}

// serveCall handles a Kafka request another node sent to the active controller;
// DecodePeer decoded and checked it.
func (h *controllerHost) serveCall(n *Node, from int32, m callMsg) {
	if !h.active || len(h.calls) >= callsServedMax {
		n.send(from, encodeAnswer(answerMsg{id: m.id, code: kerr.NotController.Code, key: m.key, version: m.version}))
		return
	}
	if !h.firstSight(callKey{from, m.incarnation, m.id}) {
		return // a duplicate: the first copy is being (or was) answered
	}
	h.handle(n, m.req, callOrigin{from: from, remoteID: m.id}, fromFor(m.key, from))
}

// handleLocal serves a request of this node itself.
func (h *controllerHost) handleLocal(n *Node, req kmsg.Request, reply func(kmsg.Response)) {
	h.handle(n, req, callOrigin{local: reply}, fromFor(req.Key(), n.cfg.NodeID))
}

func (h *controllerHost) handle(n *Node, req kmsg.Request, o callOrigin, from int32) {
	if m, ok := req.(*kmsg.DescribeQuorumRequest); ok {
		// Answered at once from raft, which the controller does not hold: only the
		// quorum's leader knows how far the others got.
		d, leading := n.quorum.raft.Describe()
		h.respond(n, o, kafka.DescribeQuorum(m, d, leading))
		return
	}
	h.nextID++
	h.calls[h.nextID] = o
	h.c.Handle(n.now, proposer{n}, controller.Request{ID: h.nextID, From: from, Msg: req})
}

// fromFor is the Request.From the controller expects: the broker for broker-to-
// controller calls, -1 for a client's request forwarded by a broker.
func fromFor(key int16, sender int32) int32 {
	switch key {
	case 56, 62, 63, 67: // AlterPartition, BrokerRegistration, BrokerHeartbeat, AllocateProducerIDs
		return sender
	}
	return -1
}

// serveBarrier answers a read-index request: the committed offset a linearizable read
// must wait for, confirmed by the quorum (raft.ReadIndex).
func (h *controllerHost) serveBarrier(n *Node, from int32, m barrierMsg) {
	answer := func(index int64, ok bool) {
		code := int16(0)
		if !ok {
			code = kerr.NotController.Code
		}
		n.send(from, encodeBarrierAnswer(barrierAnswerMsg{id: m.id, code: code, index: index}))
	}
	if !h.active {
		answer(0, false)
		return
	}
	n.readIndex(answer)
}

// proposer adapts the quorum to controller.Proposer.
type proposer struct{ n *Node }

func (p proposer) Propose(now int64, records [][]byte) (last int64, err error) {
	p.n.stepQuorum(func() { last, err = p.n.quorum.raft.Propose(now, records) })
	return last, err
}

// EachControllerBroker calls fn with every broker as the node's controller sees it,
// for checkers, and reports whether that controller is active; false, without calls, on
// a node that runs no controller (not a voter). ids is scratch space, returned for
// reuse.
func (n *Node) EachControllerBroker(ids []int32, fn func(controller.BrokerStatus)) (bool, []int32) {
	if n.ctrl.c == nil {
		return false, ids
	}
	return n.ctrl.c.EachBroker(ids, fn)
}
