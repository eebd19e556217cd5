package core

import (
	"fmt"
	"math/rand/v2"

	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/core/group"
	"github.com/seedlog/seedlog/core/kafka"
	"github.com/seedlog/seedlog/core/metadata"
	"github.com/seedlog/seedlog/core/partition"
	"github.com/seedlog/seedlog/core/raft"
	"github.com/seedlog/seedlog/core/txn"
)

// Node is one seedlog node. It is not safe for concurrent use: one goroutine (the real
// node's loop, or the simulator) owns it.
type Node struct {
	cfg Config
	// static is the static layer of topic configs (Config.staticConfig), which replicas
	// enforce and DescribeConfigs reports.
	static metadata.StaticConfig
	rng    *rand.Rand
	queue  disk.Queue
	out    Output
	now    int64 // the time of the input being handled
	// ctx is the client request being handled: its listener and who sent it.
	ctx reqCtx

	started bool
	stopped bool

	quorum   quorum
	ctrl     controllerHost
	rpc      rpcClient
	broker   brokerState
	replicas replicaHost
	groups   coordinatorHost[*group.Coordinator]
	txns     coordinatorHost[*txn.Coordinator]
	// verifyCalls counts the transaction verifications out to other brokers
	// (verify.go), at most verifyCallsMax.
	verifyCalls int
	pids        producerIDs
	waits       []*wait
	conns       conns
	quotas      quotaState
	// fetchSessions are the consumers' fetch sessions (KIP-227); a restart loses them.
	fetchSessions *kafka.FetchSessions
	// aclConfig is how the authorizer decides what no binding decides.
	aclConfig acl.Config
	// plainBudget paces PLAIN password checks (plainChecksPerSecond).
	plainBudget tokenBucket
	// saltKey derives the salts SCRAM hands users without a credential: the entropy of
	// the first SaslAuthenticate request, kept for the life of the process.
	saltKey []byte
}

// New creates a node. It does nothing until Start. A configuration Validate rejects is
// an error; one it accepts never makes the node panic at Start.
func New(cfg Config) (*Node, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{
		cfg:       cfg,
		static:    cfg.staticConfig(),
		rng:       rand.New(rand.NewPCG(cfg.Seed, uint64(cfg.NodeID))),
		aclConfig: acl.Config{SuperUsers: cfg.SuperUsers, AllowIfNoACL: cfg.AllowEveryoneIfNoACL},
		groups:    newGroupHost(),
		txns:      newTxnHost(),
	}
	// Session ids come from the node's seeded source, drawn only when a session is made.
	n.fetchSessions = kafka.NewFetchSessions(cfg.FetchSessionSlots, n.rng)
	return n, nil
}

// ID is the node id.
func (n *Node) ID() int32 { return n.cfg.NodeID }

// Config returns the node's configuration with defaults filled in.
func (n *Node) Config() Config { return n.cfg }

// Start hands the node what recovery found on its disk. It must be the first input.
func (n *Node) Start(now int64, rec disk.Recovered) {
	if n.started {
		panic("core: Start called twice")
	}
	n.started = true
	n.now = now
	n.rpc.incarnation = n.rng.Uint64()
	n.replicas.cleaner.BytesPerSec = n.cfg.CleanerBytesPerSec
	if err := n.startQuorum(now, rec); err != nil {
		n.stop(fmt.Sprintf("recovering the metadata quorum: %v", err))
		return
	}
	if n.cfg.IsVoter() {
		n.ctrl.init(n)
	}
	if n.cfg.Broker {
		n.startBroker(now, rec)
	}
	n.after(now)
}

// Peer delivers an encoded message from node from: DecodePeer, then PeerMessage.
func (n *Node) Peer(now int64, from int32, payload []byte) {
	m, err := DecodePeer(payload)
	if err != nil {
		if n.accept(now) {
			n.note("peer-garbage", fmt.Sprintf("from node %d: %v", from, err))
		}
		return
	}
	n.PeerMessage(now, from, m)
}

// PeerMessage delivers a message from node from that DecodePeer decoded.
func (n *Node) PeerMessage(now int64, from int32, pm PeerMessage) {
	if !n.accept(now) {
		return
	}
	switch m := pm.m.(type) {
	case raft.Message:
		n.stepQuorum(func() { n.quorum.raft.Step(now, from, m) })
	case callMsg:
		switch m.key {
		case writeTxnMarkersKey:
			n.serveMarkerCall(from, m)
		case addPartitionsToTxnKey:
			n.serveVerifyCall(from, m)
		default:
			n.ctrl.serveCall(n, from, m)
		}
	case answerMsg:
		n.rpc.answer(n, m)
	case barrierMsg:
		n.ctrl.serveBarrier(n, from, m)
	case barrierAnswerMsg:
		n.rpc.barrierAnswer(n, m)
	case partition.Message:
		n.stepReplicaMessage(from, m)
	}
	n.after(now)
}

// Done delivers the completion of a disk op.
func (n *Node) Done(now int64, d disk.Done) {
	if !n.accept(now) {
		return
	}
	switch owner := n.queue.TakeOwner(d.ID).(type) {
	case *quorum:
		n.stepQuorum(func() { owner.raft.Done(now, d) })
	case func(disk.Done):
		owner(d)
	case *hosted:
		n.withReplica(owner, func() { owner.r.Done(now, d) })
	case doneHandler:
		prev := n.queue.SetOwner(owner)
		owner.Done(now, d)
		n.queue.SetOwner(prev)
	case nil:
		panic(fmt.Sprintf("core: completion of an op nobody emitted: %+v", d))
	}
	n.after(now)
}

// doneHandler is a component that emits disk ops and takes their completions.
type doneHandler interface {
	Done(now int64, d disk.Done)
}

// Tick tells the node that time passed.
func (n *Node) Tick(now int64) {
	if !n.accept(now) {
		return
	}
	n.stepQuorum(func() { n.quorum.raft.Tick(now) })
	n.ctrl.tick(n)
	n.rpc.tick(n)
	n.tickBroker(now)
	n.groups.tick(now)
	n.txns.tick(now)
	n.tickQuotas(now)
	n.after(now)
}

// Deadline is the local time at which the node next needs a Tick. It is asked between
// inputs: the quorum, the controller, the replicas and the group coordinators keep their
// answers until their next input.
func (n *Node) Deadline() int64 {
	if !n.started || n.stopped {
		return NoDeadline
	}
	d := n.quorum.raft.Deadline()
	d = min(d, n.ctrl.deadline(), n.rpc.deadline(n), n.brokerDeadline(), n.groups.deadline(), n.txns.deadline(), n.waitsDeadline(), n.quotaDeadline())
	return d
}

// accept checks an input's time and the node's state.
func (n *Node) accept(now int64) bool {
	if !n.started {
		panic("core: input before Start")
	}
	if n.stopped {
		return false
	}
	if now < n.now {
		panic(fmt.Sprintf("core: time went backwards on node %d: %d after %d", n.cfg.NodeID, now, n.now))
	}
	n.now = now
	return true
}

// after runs once per input, after it was handled: it drains the components' outputs.
func (n *Node) after(now int64) {
	if n.stopped {
		return
	}
	n.drainQuorum(now)
	if n.cfg.Broker {
		n.watchQuorumLeader()
	}
	n.rpc.orphaned(n)
	n.ctrl.drain(n)
	n.drainReplicas(now)
	n.settleWaits()
	n.drainReplicas(now)
}

// Drain returns the outputs accumulated since the last Drain.
func (n *Node) Drain() Output {
	n.out.Ops = n.queue.Drain()
	out := n.out
	n.out = Output{}
	if out.Fatal != nil {
		out.Ops, out.Messages, out.Responses, out.Close = nil, nil, nil, nil
	}
	return out
}

// stop makes the node fatal: every later input is ignored.
func (n *Node) stop(reason string) { n.halt(reason, false) }

// stopBroken makes the node fatal for a broken invariant (FatalError.Invariant).
func (n *Node) stopBroken(reason string) { n.halt(reason, true) }

func (n *Node) halt(reason string, invariant bool) {
	if n.stopped {
		return
	}
	n.stopped = true
	n.out.Fatal = &FatalError{Node: n.cfg.NodeID, Reason: reason, Invariant: invariant}
}

// Stopped reports whether the node hit a fatal error.
func (n *Node) Stopped() bool { return n.stopped }

func (n *Node) note(kind, text string) {
	n.out.Notes = append(n.out.Notes, Note{Kind: kind, Text: text})
}

func (n *Node) send(to int32, payload []byte) {
	n.out.Messages = append(n.out.Messages, Message{To: to, Payload: payload})
}

// Image is the metadata image the node has applied (everything below the quorum's HW).
func (n *Node) Image() metadata.Image { return n.quorum.image }
