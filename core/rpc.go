package core

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/seedlog/seedlog/core/kafka"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// callsMax bounds the calls to the controller a node has outstanding.
const callsMax = 4096

// callRetry is how long a call waits before trying again when no controller is known or
// the one it tried was not active.
const callRetry = 50 * time.Millisecond

// errCallTimeout: the call got no answer in time; it may or may not have taken effect.
var errCallTimeout = errors.New("no answer from the controller in time")

// errCallsFull: too many calls are outstanding; the call was not sent.
var errCallsFull = errors.New("too many outstanding controller calls")

// errCallOrphaned: the controller the call went to lost its leadership before it
// answered; like a timeout, the call may or may not have taken effect.
var errCallOrphaned = errors.New("the controller called lost its leadership before answering")

// rpcClient sends Kafka requests to the active controller, wherever it is: over the
// network, or straight to this node's own controller when it is the active one. A call
// is retried only when it surely was not acted on (no controller known, or the receiver
// answered that its controller is not active); any other failure is reported as is.
// A call whose controller was replaced before it answered is reported at once
// (errCallOrphaned) rather than at its deadline: the caller decides whether to try the
// new controller, and an ISR change or a heartbeat must not wait out a request timeout
// for an answer that will never come.
type rpcClient struct {
	incarnation uint64 // random per start; see callMsg
	nextID      uint64
	pending     []*call // in deadline order
	// epochSeen is the quorum epoch orphaned last looked at: calls become orphans only
	// when it moves.
	epochSeen int32
	// barriers are read-index requests in flight.
	barriers []*barrier
}

type call struct {
	id       uint64
	req      kmsg.Request
	deadline int64
	retryAt  int64 // when to (re)send; 0 while sent and awaiting an answer
	// sentTo is the node the call went to (this node for its own controller), and
	// sentEpoch the quorum epoch that node led when it was sent.
	sentTo    int32
	sentEpoch int32
	// to is the broker a call to a broker goes to (WriteTxnMarkers, a verification); -1 for a call to
	// the active controller.
	to    int32
	reply func(kmsg.Response, error)
}

// callController sends req to the active controller and calls reply once, with the
// response or an error (errCallTimeout, errCallsFull), within the request timeout.
func (c *rpcClient) callController(n *Node, req kmsg.Request, reply func(kmsg.Response, error)) {
	c.callControllerWithin(n, req, n.cfg.RequestTimeout, reply)
}

// callControllerWithin is callController with its own timeout. Heartbeats use a short
// one: a heartbeat stuck on a controller that crashed must not keep the next one from
// reaching its successor before the session expires.
func (c *rpcClient) callControllerWithin(n *Node, req kmsg.Request, timeout time.Duration, reply func(kmsg.Response, error)) {
	if len(c.pending) >= callsMax {
		reply(nil, errCallsFull)
		return
	}
	c.nextID++
	cl := &call{id: c.nextID, req: req, deadline: n.now + int64(timeout), retryAt: n.now, to: -1, reply: reply}
	c.pending = slices.Insert(c.pending, c.deadlineIndex(cl.deadline), cl)
	c.send(n, cl)
}

// callBroker sends req to broker to (this node itself included) and calls reply once,
// with the response or an error, within timeout. It is not retried: the caller decides.
func (c *rpcClient) callBroker(n *Node, to int32, req kmsg.Request, timeout time.Duration, reply func(kmsg.Response, error)) {
	if len(c.pending) >= callsMax {
		reply(nil, errCallsFull)
		return
	}
	c.nextID++
	cl := &call{id: c.nextID, req: req, deadline: n.now + int64(timeout), to: to, sentTo: to, reply: reply}
	c.pending = slices.Insert(c.pending, c.deadlineIndex(cl.deadline), cl)
	if to == n.cfg.NodeID {
		switch req := req.(type) {
		case *kmsg.WriteTxnMarkersRequest:
			n.writeMarkers(req, func(resp *kmsg.WriteTxnMarkersResponse) { c.finish(cl, resp, nil) })
		case *kmsg.AddPartitionsToTxnRequest:
			kafka.VerifyTxns(n, req, func(resp *kmsg.AddPartitionsToTxnResponse) { c.finish(cl, resp, nil) })
		default:
			panic(fmt.Sprintf("core: a broker call of %s", kmsg.NameForKey(req.Key())))
		}
		return
	}
	n.send(to, encodeCall(callMsg{incarnation: c.incarnation, id: cl.id, key: req.Key(), version: req.GetVersion(), body: req.AppendTo(nil)}))
}

// deadlineIndex is where a call due at deadline goes to keep pending in deadline order.
func (c *rpcClient) deadlineIndex(deadline int64) int {
	i := len(c.pending)
	for i > 0 && c.pending[i-1].deadline > deadline {
		i--
	}
	return i
}

// send tries to deliver cl to the active controller.
func (c *rpcClient) send(n *Node, cl *call) {
	st := n.quorum.raft.Status()
	leader := st.Leader
	switch {
	case leader == n.cfg.NodeID && n.ctrl.active:
		cl.retryAt, cl.sentTo, cl.sentEpoch = 0, leader, st.PendingEpoch
		n.ctrl.handleLocal(n, cl.req, func(resp kmsg.Response) { c.finish(cl, resp, nil) })
	case leader < 0 || leader == n.cfg.NodeID:
		cl.retryAt = n.now + int64(callRetry) // no active controller known yet
	default:
		cl.retryAt, cl.sentTo, cl.sentEpoch = 0, leader, st.PendingEpoch
		n.send(leader, encodeCall(callMsg{incarnation: c.incarnation, id: cl.id, key: cl.req.Key(), version: cl.req.GetVersion(), body: cl.req.AppendTo(nil)}))
	}
}

// answer takes a controller's answer to a call, which DecodePeer decoded. An answer
// naming another key or version than the call it claims to answer is ignored.
func (c *rpcClient) answer(n *Node, m answerMsg) {
	cl := c.find(m.id)
	if cl == nil || cl.retryAt != 0 {
		return // finished, or a duplicate answer to an earlier attempt
	}
	if m.key != cl.req.Key() || m.version != cl.req.GetVersion() {
		n.note("peer-garbage", fmt.Sprintf("controller answer for %s v%d to call %d, a %s v%d",
			kmsg.NameForKey(m.key), m.version, m.id, kmsg.NameForKey(cl.req.Key()), cl.req.GetVersion()))
		return
	}
	switch {
	case m.code == kerr.NotController.Code:
		cl.retryAt = n.now + int64(callRetry)
	case m.resp == nil:
		n.note("peer-garbage", fmt.Sprintf("controller answer to call %d with code %d", m.id, m.code))
	default:
		c.finish(cl, m.resp, nil)
	}
}

func (c *rpcClient) find(id uint64) *call {
	for _, cl := range c.pending {
		if cl.id == id {
			return cl
		}
	}
	return nil
}

func (c *rpcClient) finish(cl *call, resp kmsg.Response, err error) {
	for i, p := range c.pending {
		if p == cl {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			cl.reply(resp, err)
			return
		}
	}
}

// orphaned fails the calls sent to another node's controller in an earlier quorum
// epoch than the one this node now knows. That controller lost its leadership: an
// answer it sent before may still arrive, but when the call or the answer was lost on
// the way nothing will until the deadline, and the caller (an ISR change waiting to be
// committed) would stall for a whole request timeout. The outcome is unknown either
// way, so it is reported now, and a late answer is ignored. Calls to this node's own
// controller are left alone: deactivation answers them (controller.Deactivate).
func (c *rpcClient) orphaned(n *Node) {
	epoch := n.quorum.raft.Status().PendingEpoch
	if epoch == c.epochSeen {
		return
	}
	c.epochSeen = epoch
	c.reaskOrphaned(n, epoch)
	var lost []*call
	c.pending = slices.DeleteFunc(c.pending, func(cl *call) bool {
		gone := cl.to < 0 && cl.retryAt == 0 && cl.sentTo != n.cfg.NodeID && cl.sentEpoch < epoch
		if gone {
			lost = append(lost, cl)
		}
		return gone
	})
	for _, cl := range lost {
		n.note("controller-call-orphaned", fmt.Sprintf("%s sent to n%d in quorum epoch %d, now %d",
			kmsg.NameForKey(cl.req.Key()), cl.sentTo, cl.sentEpoch, epoch))
		cl.reply(nil, errCallOrphaned)
	}
}

func (c *rpcClient) tick(n *Node) {
	for len(c.pending) > 0 && c.pending[0].deadline <= n.now {
		cl := c.pending[0]
		c.pending = c.pending[1:]
		cl.reply(nil, errCallTimeout)
	}
	for _, cl := range c.pending {
		if cl.retryAt != 0 && cl.retryAt <= n.now {
			c.send(n, cl)
		}
	}
	c.tickBarriers(n)
}

func (c *rpcClient) deadline(n *Node) int64 {
	d := NoDeadline
	for _, cl := range c.pending {
		d = min(d, cl.deadline)
		if cl.retryAt != 0 {
			d = min(d, cl.retryAt)
		}
	}
	for _, b := range c.barriers {
		d = min(d, b.deadline)
		if b.retryAt != 0 {
			d = min(d, b.retryAt)
		}
		if b.reasking(n) {
			d = min(d, b.sentAt+int64(barrierReask))
		}
	}
	return d
}
