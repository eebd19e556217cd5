package core

import (
	"math/rand/v2"

	"github.com/seedlog/seedlog/core/disk"
)

// Node is one seedlog node. It is not safe for concurrent use: one goroutine (the real
// node's loop, or the simulator) owns it.
type Node struct {
	cfg     Config
	rng     *rand.Rand
	queue   disk.Queue
	out     Output
	started bool
	stopped bool
}

// New creates a node. It does nothing until Start.
func New(cfg Config) (*Node, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Node{
		cfg: cfg,
		rng: rand.New(rand.NewPCG(cfg.Seed, uint64(cfg.NodeID))),
	}, nil
}

// ID is the node id.
func (n *Node) ID() int32 { return n.cfg.NodeID }

// Config returns the node's configuration with defaults filled in.
func (n *Node) Config() Config { return n.cfg }

// Drain returns the outputs accumulated since the last Drain.
func (n *Node) Drain() Output {
	n.out.Ops = n.queue.Drain()
	out := n.out
	n.out = Output{}
	return out
}

// stop makes the node fatal: every later input is ignored.
func (n *Node) stop(reason string) {
	if n.stopped {
		return
	}
	n.stopped = true
	n.out.Fatal = &FatalError{Node: n.cfg.NodeID, Reason: reason}
}

// Stopped reports whether the node hit a fatal error.
func (n *Node) Stopped() bool { return n.stopped }

func (n *Node) note(kind, text string) {
	n.out.Notes = append(n.out.Notes, Note{Kind: kind, Text: text})
}
