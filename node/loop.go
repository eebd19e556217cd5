package node

import (
	"context"
	"time"

	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/disk"
)

// inputsMax bounds the inputs waiting for the loop. Readers block when it is full, which
// pushes back on clients and peers through TCP.
const inputsMax = 4096

// inputBatchTime bounds, with core.InputBatchMax, the queued inputs the loop takes
// before it drains the core's outputs once for all of them: enough to share a disk batch
// and a socket write, little enough that the first input's outputs do not wait long.
const inputBatchTime = 200 * time.Microsecond

// inputKind is what reached the loop.
type inputKind uint8

const (
	inConnOpen inputKind = iota + 1
	inRequest
	inConnClosed
	inPeer
)

type input struct {
	kind   inputKind
	conn   *clientConn
	req    core.Request
	budget *frameBudget // a request's share of queued.max.request.bytes, returned once taken
	from   int32
	peer   core.PeerMessage // decoded by the connection's reader, off the loop
}

// loop is the only goroutine that touches the core.
func (n *Node) loop(ctx context.Context) error {
	n.core.Start(n.clock.now(), n.rec)
	n.rec = disk.Recovered{}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	stopAsked := ctx.Done()
	var shutdownExpired <-chan time.Time
	shuttingDown := false
	for {
		if err := n.act(); err != nil {
			return err
		}
		if shuttingDown && n.core.ShutdownReady() {
			n.log.Info("controlled shutdown complete")
			return nil
		}
		n.armTimer(timer)
		select {
		case in := <-n.inputs:
			n.apply(in)
			n.applyQueued()
		case ds := <-n.dones:
			n.applyDones(ds)
			n.applyQueued()
		case <-timer.C:
			n.core.Tick(n.clock.now())
		case f := <-n.calls:
			f()
		case <-stopAsked:
			stopAsked, shuttingDown = nil, true
			n.log.Info("controlled shutdown: moving leadership away", "timeout", n.cfg.ShutdownTimeout)
			n.core.Shutdown()
			shutdownExpired = time.After(n.cfg.ShutdownTimeout)
		case <-shutdownExpired:
			n.log.Warn("controlled shutdown timed out; stopping with leadership still here")
			return nil
		case <-n.kill:
			return nil
		}
	}
}

// applyQueued takes what else is already waiting, up to core.InputBatchMax inputs in
// all with the one just applied, so that one Drain carries the outputs of many inputs
// (fewer disk batches and socket writes).
func (n *Node) applyQueued() {
	start := time.Now()
	for i := 1; i < core.InputBatchMax && time.Since(start) < inputBatchTime; i++ {
		select {
		case in := <-n.inputs:
			n.apply(in)
		case ds := <-n.dones:
			n.applyDones(ds)
		default:
			return
		}
	}
}

func (n *Node) apply(in input) {
	now := n.clock.now()
	switch in.kind {
	case inConnOpen:
		n.conns[in.conn.id] = in.conn
	case inRequest:
		start := time.Now()
		n.core.Request(now, in.req)
		in.conn.spentNanos.Add(int64(time.Since(start)))
		in.budget.release()
	case inConnClosed:
		delete(n.conns, in.conn.id)
		n.core.ConnClosed(now, in.conn.id)
	case inPeer:
		n.core.PeerMessage(now, in.from, in.peer)
	}
}

func (n *Node) applyDones(ds []disk.Done) {
	now := n.clock.now()
	for _, d := range ds {
		n.core.Done(now, d)
	}
}

func (n *Node) armTimer(t *time.Timer) {
	d := n.core.Deadline()
	if d == core.NoDeadline {
		t.Stop()
		return
	}
	t.Reset(time.Duration(d - n.clock.now()))
}

// act carries out what the core asked for since the last Drain.
func (n *Node) act() error {
	out := n.core.Drain()
	for _, note := range out.Notes {
		n.logNote(note)
	}
	if out.Fatal != nil {
		return out.Fatal
	}
	if len(out.Ops) > 0 {
		n.disk.submit(out.Ops)
	}
	if len(out.Messages) > 0 {
		n.peers.refreshBook()
	}
	for _, m := range out.Messages {
		n.peers.send(m.To, peerMsg{head: m.Payload, records: m.Records})
	}
	for _, r := range out.Responses {
		if c := n.conns[r.Conn]; c != nil {
			c.respond(r)
		}
	}
	for _, id := range out.Close {
		if c := n.conns[id]; c != nil {
			c.closeAfterResponses()
		}
	}
	return nil
}

// onLoop runs f on the loop goroutine and waits for it, or gives up when the loop is
// busy for longer than wait or stopped.
func (n *Node) onLoop(f func(), wait time.Duration) bool {
	done := make(chan struct{})
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case n.calls <- func() { f(); close(done) }:
	case <-n.quit:
		return false
	case <-t.C:
		return false
	}
	<-done
	return true
}

// send hands an input to the loop, blocking while its queue is full. It returns false
// once the node stopped.
func (n *Node) send(in input) bool {
	select {
	case n.inputs <- in:
		return true
	case <-n.quit:
		return false
	}
}

// closeConns closes every connection after the loop stopped.
func (n *Node) closeConns() {
	for _, c := range n.conns {
		c.shutdown()
	}
	n.closeSockets()
}
