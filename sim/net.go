package sim

import (
	"encoding/binary"
	"fmt"

	"github.com/cespare/xxhash/v2"
	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/kafka"
	"github.com/seedlog/seedlog/core/kafka/wire"
	"github.com/seedlog/seedlog/netsim"
	"github.com/seedlog/seedlog/peerauth"
	"github.com/seedlog/seedlog/traces"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// link is one client connection: a netsim stream from a client to a node. The node
// knows it by ConnID, which is the stream id.
type link struct {
	id     netsim.StreamID
	client *Client
	cc     *conn
	node   int32
	// inc is the node incarnation the connection reached; a crash breaks it.
	inc uint32
	// attack is set on the byzantine client's connections (cc is then nil).
	attack *attackConn
	// rx holds the bytes of a request frame not yet whole. Simulated clients send one
	// whole frame per stream message; only the byzantine client splits or cuts them.
	rx []byte
	// toClientAt is when the last frame the node sent on the connection arrives;
	// hungUp says the node gave up on the connection and reads nothing more from it.
	toClientAt int64
	hungUp     bool
}

// sendPeer sends a message from node n as datagrams: peer traffic may be lost,
// duplicated and reordered. The message is sealed on the connection n -> m.To (see
// auth.go); when m.To is down no connection opens and the message is lost, after the
// network drew its fate as for any datagram (so that a down receiver shifts no draws).
func (w *World) sendPeer(n *simNode, m core.Message) {
	payload := m.Payload
	if len(m.Records) > 0 {
		payload = append(payload, m.Records...) // the message goes whole, as the node frames it
	}
	w.record(traces.Event{Kind: traces.KindOutput, Sub: traces.OutMessage, Node: n.spec.ID, Peer: m.To, A: int64(len(payload)), Hash: xxhash.Sum64(payload)},
		func() string { return fmt.Sprintf("to n%d, %d bytes", m.To, len(payload)) })
	to := w.node(m.To)
	if to == nil {
		w.fail("shell", n.spec.ID, "node %d sent a message to unknown node %d", n.spec.ID, m.To)
		return
	}
	s := w.auth.dial(n, to)
	w.arrivals = w.net.Send(w.arrivals[:0], netsim.Time(w.now), n.addr, to.addr, len(payload)+peerauth.TagBytes)
	if s == nil {
		w.cov.Inc("auth:dial-refused")
		return
	}
	// The payload is the message's own (core.Message): the tag goes after it, in its
	// spare capacity when it has some.
	frame := s.sealer.Tag(payload, payload)
	if w.attack != nil {
		w.attack.observe(n.spec.ID, m.To, payload, frame, s.serial)
	}
	for _, at := range w.arrivals {
		e := w.schedule(int64(at), evPeer)
		e.node = m.To
		e.from = n.spec.ID
		e.data = frame
		e.token = s.serial
	}
}

// arrivePeer delivers a datagram unless the link was cut while it flew or the node is
// down (a down machine drops packets), once the receiving end of its connection opened
// it: the node learns the sender from the connection, never from the datagram.
func (w *World) arrivePeer(e *event) {
	if !w.net.Connected(netsim.Addr(e.from), netsim.Addr(e.node)) {
		w.cov.Inc("net:datagrams-cut-in-flight")
		return
	}
	n := w.node(e.node)
	if !n.up {
		return
	}
	payload, from, ok := w.auth.open(e.from, n, e.data, e.token)
	if !ok {
		return
	}
	n.deliver(input{kind: inPeer, from: from, data: payload})
}

// sendResponse frames a response and sends it on the client's connection.
func (w *World) sendResponse(n *simNode, r core.Response) {
	if r.Msg == nil {
		return // a request without a response (acks=0) is done: nothing to send
	}
	if w.checks.serve != nil {
		w.checks.serve.answered(n, r)
	}
	// The simulator's executor keeps the bytes of every span (the bytes the read
	// validated, as a real node's page cache holds them), so the frame is written whole.
	frame := w.frameOf(func(b []byte) []byte { return kafka.Materialize(kafka.AppendFrame(b, r.Corr, r.Msg)) })
	id := netsim.StreamID(r.Conn)
	l := w.links[id]
	var client int32 = -1
	if l != nil {
		client = l.client.id
	}
	w.record(traces.Event{Kind: traces.KindOutput, Sub: traces.OutResponse, Node: n.spec.ID, Peer: client, A: int64(r.Corr), B: int64(r.Msg.Key()), Hash: xxhash.Sum64(frame)},
		func() string { return fmt.Sprintf("client %d corr %d %s", client, r.Corr, describeResponse(r.Msg)) })
	if l == nil || l.node != n.spec.ID || l.inc != n.inc {
		return // the connection is gone; the response is lost with it
	}
	w.streamSend(l, n.addr, l.client.addr, frame)
}

// streamSend sends one frame on a link from one end to the other.
func (w *World) streamSend(l *link, from, to netsim.Addr, frame []byte) {
	at, res := w.net.StreamSend(netsim.Time(w.now), l.id, from, len(frame))
	switch res {
	case netsim.StreamSent:
		if to >= clientAddrBase {
			l.toClientAt = int64(at)
		}
		e := w.schedule(int64(at), evStream)
		e.stream = l.id
		e.from = int32(from)
		e.node = int32(to)
		e.data = frame
	case netsim.StreamBroke:
		w.breakLink(l.id, false)
	}
}

// arriveStream delivers a frame to the receiving end unless the stream broke meanwhile.
func (w *World) arriveStream(e *event) {
	if w.net.Broken(e.stream) {
		return
	}
	l := w.links[e.stream]
	if l == nil {
		return
	}
	if e.node >= clientAddrBase {
		if l.attack != nil {
			w.attack.receive(l, e.data)
			return
		}
		l.cc.receive(e.data)
		return
	}
	n := w.node(e.node)
	if !n.up || n.inc != l.inc {
		// The machine behind the address is down or restarted: connection reset.
		w.breakLink(l.id, true)
		return
	}
	if l.rx == nil && wholeFrame(e.data) {
		n.deliver(input{kind: inRequest, client: l.client.id, conn: core.ConnID(l.id), data: e.data})
		return
	}
	w.reassemble(l, n, e.data)
}

// wholeFrame reports whether b is exactly one request frame: a size prefix and that
// many bytes.
func wholeFrame(b []byte) bool {
	return len(b) >= 4 && int64(binary.BigEndian.Uint32(b)) == int64(len(b)-4)
}

// reassemble reads request frames from bytes that arrived on a connection as the real
// node's reader does: a size prefix (over the frame limit: the connection is closed),
// then that many bytes, waiting for more when they are not all there yet.
func (w *World) reassemble(l *link, n *simNode, data []byte) {
	l.rx = append(l.rx, data...)
	for l.rx != nil {
		size, ok, err := wire.FrameSize(l.rx, wire.FrameSizeDefaultMax)
		if err != nil {
			w.cov.Inc("shell:bad-frame")
			l.rx = nil
			w.closeByNode(l.id)
			return
		}
		if !ok || len(l.rx) < 4+size {
			return // the rest of the frame has not arrived
		}
		frame := l.rx[: 4+size : 4+size]
		l.rx = l.rx[4+size:]
		if len(l.rx) == 0 {
			l.rx = nil
		}
		n.deliver(input{kind: inRequest, client: l.client.id, conn: core.ConnID(l.id), data: frame})
		if w.net.Broken(l.id) || !n.current(l.inc) {
			return
		}
	}
}

// closeByNode closes a client connection from the node's end. The node still learns
// that it ended, as from the real node's reader: requests it took after deciding to
// close the connection, before it drained that decision, may have opened it again.
func (w *World) closeByNode(id netsim.StreamID) {
	if l := w.links[id]; l != nil && l.attack != nil && !w.net.Broken(id) {
		w.cov.Inc("attack:client-closed")
	}
	w.breakLink(id, false)
}

// hangUp closes a connection the node gave up on once the responses it sent before
// arrived, as closing a TCP socket does: a client learns why it was refused (a failed
// authentication) before the connection ends.
func (w *World) hangUp(id netsim.StreamID) {
	l := w.links[id]
	if l == nil || l.toClientAt <= w.now {
		w.closeByNode(id)
		return
	}
	l.hungUp = true
	e := w.schedule(l.toClientAt, evNodeHangUp)
	e.stream = id
}

// openLink opens a connection from client c to node; ok is false when refused.
func (w *World) openLink(c *Client, cc *conn, node int32) (*link, bool) {
	n := w.node(node)
	if n == nil {
		return nil, false
	}
	id, ok := w.net.Open(c.addr, n.addr)
	if !ok {
		return nil, false
	}
	l := &link{id: id, client: c, cc: cc, node: node, inc: n.inc}
	if !n.up {
		// Nobody listens: the connection attempt fails at once.
		w.net.Close(id)
		return nil, false
	}
	w.links[id] = l
	return l, true
}

// breakLink breaks a connection and tells both ends, at the current time, through an
// event (so that no end learns of it in the middle of another step). byNode says the
// node end is gone (it crashed), so it is not told.
func (w *World) breakLink(id netsim.StreamID, byNode bool) {
	w.net.Break(id)
	if _, ok := w.links[id]; !ok {
		return
	}
	e := w.schedule(w.now, evStreamNote)
	e.stream = id
	if byNode {
		e.token = 1
	}
}

// streamBroken tells both ends of a connection that it broke.
func (w *World) streamBroken(id netsim.StreamID, byNode bool) {
	l := w.links[id]
	if l == nil {
		return
	}
	delete(w.links, id)
	if w.checks.serve != nil {
		w.checks.serve.connClosed(core.ConnID(id))
	}
	if l.attack != nil {
		w.attack.broken(l)
	} else {
		l.cc.broken()
	}
	n := w.node(l.node)
	if !byNode && n.up && n.inc == l.inc {
		n.deliver(input{kind: inConnClosed, client: l.client.id, conn: core.ConnID(id)})
	}
}

// brokenByFault handles the streams a network fault broke.
func (w *World) brokenByFault(ids []netsim.StreamID) {
	for _, id := range ids {
		if l := w.links[id]; l != nil {
			w.record(traces.Event{Kind: traces.KindFault, Sub: traces.FaultStreamBreak, Node: l.node, Peer: l.client.id, A: int64(id)}, nil)
			e := w.schedule(w.now, evStreamNote)
			e.stream = id
		}
	}
}

// linkClient returns the client of a connection, or -1.
func (w *World) linkClient(c core.ConnID) int32 {
	if l := w.links[netsim.StreamID(c)]; l != nil {
		return l.client.id
	}
	return -1
}

func describeRequest(r kmsg.Request) string {
	return fmt.Sprintf("%s v%d", kmsg.NameForKey(r.Key()), r.GetVersion())
}

func describeResponse(r kmsg.Response) string {
	return fmt.Sprintf("%s v%d", kmsg.NameForKey(r.Key()), r.GetVersion())
}
