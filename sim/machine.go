package sim

import (
	"errors"
	"fmt"

	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/disk"
	"github.com/seedlog/seedlog/storage"
)

// Machine is the node contract the simulator drives: core.Node's inputs and outputs (see
// package core). Every `now` is the node's own clock, in nanoseconds.
type Machine interface {
	Start(now int64, rec disk.Recovered)
	Request(now int64, req core.Request)
	ConnClosed(now int64, conn core.ConnID)
	Peer(now int64, from int32, payload []byte)
	Done(now int64, d disk.Done)
	Tick(now int64)
	Drain() core.Output
	Deadline() int64
	// Shutdown starts a controlled shutdown (SIGTERM); ShutdownReady reports whether it
	// completed, so that the process may exit.
	Shutdown()
	ShutdownReady() bool
}

// Drain, Deadline and ShutdownReady must not change what Inspect reads of a machine: the
// invariants do not read a machine's replicas again until it took an input.

// NewMachine builds a node incarnation from its configuration.
type NewMachine func(cfg core.Config) (Machine, error)

// Executor carries out one node's disk work on its storage, synchronously: DoAll applies
// ops at once, group-committing their syncs as diskexec.Executor does, and returns their
// completions, which the simulator delivers when diskexec's batch steps say (disk.go).
type Executor interface {
	DoAll(ops []disk.Op) []disk.Done
	Close() error
}

// OpenDisk recovers a node's storage and returns the executor over it and what recovery
// found. The simulator calls it at every start, on the disk a crash left, with the
// configuration of the node's logs.
type OpenDisk func(fsys storage.FS, cfg storage.LogConfig) (Executor, disk.Recovered, error)

// ErrNoNode says core.Node does not implement Machine in this build, so a run with the
// real node cannot start.
var ErrNoNode = errors.New("sim: core.Node does not implement the node contract (Start, Request, ConnClosed, Peer, Done, Tick, Drain, Deadline, Shutdown, ShutdownReady)")

// CoreMachine builds a real core.Node.
func CoreMachine(cfg core.Config) (Machine, error) {
	n, err := core.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("sim: node %d: %w", cfg.NodeID, err)
	}
	// The assertion happens at run time so that the simulator builds while the node
	// grows its inputs; once they exist it always succeeds.
	m, ok := any(n).(Machine)
	if !ok {
		return nil, ErrNoNode
	}
	return m, nil
}
