package node

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/kafka"
	"github.com/seedlog/seedlog/core/kafka/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// connBufferBytes sizes each connection's read and write buffers.
const connBufferBytes = 64 << 10

// acceptClients accepts client connections until the listener closes. A connection
// whose first four bytes are the peer preamble is a peer sharing this listener.
func (n *Node) acceptClients(ln net.Listener) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			if !isClosed(err) {
				n.log.Error("accepting clients", "err", err)
			}
			return
		}
		n.goFunc(func() { n.serveAccepted(nc) })
	}
}

func (n *Node) serveAccepted(nc net.Conn) {
	if !n.track(nc) {
		return
	}
	defer n.untrack(nc)
	// Counted before the first bytes arrive: idle sockets must not escape the bound.
	if n.connCount.Add(1) > int64(n.cfg.ConnectionsMax) {
		n.connCount.Add(-1)
		n.metrics.connsRefused.Add(1)
		n.log.Warn("too many client connections; closing a new one", "remote", nc.RemoteAddr().String(), "max.connections", n.cfg.ConnectionsMax)
		return
	}
	counted := true
	defer func() {
		if counted {
			n.connCount.Add(-1)
		}
	}()
	br := bufio.NewReaderSize(nc, connBufferBytes)
	head, err := br.Peek(4)
	if err != nil {
		return
	}
	if binary.BigEndian.Uint32(head) == peerPreamble {
		counted = false
		n.connCount.Add(-1)
		n.servePeer(nc, br)
		return
	}
	c := newClientConn(n, nc)
	if !n.send(input{kind: inConnOpen, conn: c}) {
		return
	}
	n.metrics.connsOpened.Add(1)
	n.goFunc(c.writeLoop)
	err = c.readLoop(br)
	c.shutdown()
	if err != nil && !isClosed(err) {
		n.log.Debug("client connection closed", "remote", nc.RemoteAddr().String(), "err", err)
	}
	n.send(input{kind: inConnClosed, conn: c})
}

// clientConn is one Kafka client connection: a reader goroutine that decodes requests
// for the loop and a writer goroutine that encodes the loop's responses in order.
type clientConn struct {
	id core.ConnID
	nc net.Conn
	n  *Node

	// slots holds one token per request awaiting its response; the reader blocks when
	// the connection has InFlightPerConnMax of them.
	slots chan struct{}
	// out carries the loop's responses to the writer. One slot per in-flight request
	// plus one for the close, so the loop's send never blocks.
	out chan outItem

	mu       sync.Mutex
	inflight []pendingReq // requests that will be answered, oldest first

	closeOnce sync.Once
	closed    chan struct{}
}

type outItem struct {
	resp  core.Response
	close bool // close after everything before it was written
}

// pendingReq is what the writer needs to account for a response.
type pendingReq struct {
	corr  int32
	key   int16
	start time.Time
}

func newClientConn(n *Node, nc net.Conn) *clientConn {
	max := n.cfg.InFlightPerConnMax
	return &clientConn{
		id:     core.ConnID(n.nextConn.Add(1)),
		nc:     nc,
		n:      n,
		slots:  make(chan struct{}, max),
		out:    make(chan outItem, max+1),
		closed: make(chan struct{}),
	}
}

// readLoop reads frames until the connection fails or carries something that is not a
// Kafka request. An unsupported key or version still goes to the core (without a body):
// it answers ApiVersions and closes the connection for anything else.
func (c *clientConn) readLoop(br *bufio.Reader) error {
	for {
		req, size, err := nextRequest(br, c.id, c.n.cfg.FrameBytesMax)
		c.n.metrics.bytesIn.Add(int64(size))
		if err != nil {
			if size > 0 || !isClosed(err) {
				c.n.metrics.badFrames.Add(1)
			}
			return err
		}
		if !c.admit(req) || !c.n.send(input{kind: inRequest, req: req}) {
			return nil
		}
	}
}

// nextRequest reads and decodes one request frame of at most frameMax bytes. size is
// the bytes consumed from r. An error means the connection must be closed.
func nextRequest(r io.Reader, id core.ConnID, frameMax int) (req core.Request, size int, err error) {
	var prefix [4]byte
	if n, err := io.ReadFull(r, prefix[:]); err != nil {
		if n > 0 {
			return req, n, fmt.Errorf("truncated frame size: %w", err)
		}
		return req, 0, err
	}
	frame, err := readFrame(r, prefix, frameMax)
	if err != nil {
		return req, 4 + len(frame), err
	}
	req, err = decodeRequest(id, frame)
	return req, 4 + len(frame), err
}

// frameEagerBytesMax: frames up to this size get their buffer at once; larger ones grow
// it as bytes arrive, so a size prefix alone cannot make the broker allocate 100 MiB.
const frameEagerBytesMax = 1 << 20

// readFrame reads the body of a frame whose size prefix is size. On a truncated frame it
// returns what it read and an error.
func readFrame(r io.Reader, size [4]byte, max int) ([]byte, error) {
	n, _, err := wire.FrameSize(size[:], max)
	if err != nil {
		return nil, err
	}
	// A fresh buffer per frame: the decoded request (a produce's records) aliases it and
	// lives on in the core.
	if n <= frameEagerBytesMax {
		frame := make([]byte, n)
		if got, err := io.ReadFull(r, frame); err != nil {
			return frame[:got], fmt.Errorf("truncated frame: %w", unexpectedEOF(err))
		}
		return frame, nil
	}
	var buf bytes.Buffer
	got, err := io.CopyN(&buf, r, int64(n))
	if err != nil {
		return buf.Bytes()[:got], fmt.Errorf("truncated frame: %w", unexpectedEOF(err))
	}
	return buf.Bytes(), nil
}

// unexpectedEOF turns an EOF inside a frame into io.ErrUnexpectedEOF: only an EOF
// between frames is a clean close.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// decodeRequest parses a request frame. A malformed frame is an error; an unsupported key
// or version is a request without a body.
func decodeRequest(id core.ConnID, frame []byte) (core.Request, error) {
	h, msg, err := wire.ParseRequest(frame, kafka.Served)
	if err != nil && !errors.Is(err, wire.ErrUnsupported) {
		return core.Request{}, err
	}
	return core.Request{Conn: id, Corr: h.Corr, Key: h.Key, Version: h.Version, ClientID: h.ClientID, Msg: msg}, nil
}

// admit accounts for a request about to go to the core, waiting while the connection
// has too many in flight. An acks=0 produce gets no response, so it takes no slot.
func (c *clientConn) admit(req core.Request) bool {
	if p, ok := req.Msg.(*kmsg.ProduceRequest); ok && p.Acks == 0 {
		c.n.metrics.requestSilent(req.Key)
		return true
	}
	select {
	case c.slots <- struct{}{}:
	case <-c.closed:
		return false
	case <-c.n.quit:
		return false
	}
	c.mu.Lock()
	c.inflight = append(c.inflight, pendingReq{corr: req.Corr, key: req.Key, start: time.Now()})
	c.mu.Unlock()
	return true
}

// respond is called by the loop; it never blocks.
func (c *clientConn) respond(r core.Response) { c.push(outItem{resp: r}) }

// closeAfterResponses is called by the loop when the core gave up on the connection.
func (c *clientConn) closeAfterResponses() { c.push(outItem{close: true}) }

func (c *clientConn) push(it outItem) {
	select {
	case c.out <- it:
	default:
		// More responses than requests admitted: the core broke the one-response-per-
		// request rule. Dropping the connection is the safe answer.
		c.n.log.Error("response queue overflow; closing the connection", "conn", c.id)
		c.shutdown()
	}
}

func (c *clientConn) writeLoop() {
	bw := bufio.NewWriterSize(c.nc, connBufferBytes)
	var buf []byte
	for {
		var it outItem
		select {
		case it = <-c.out:
		case <-c.closed:
			return
		}
		if it.close {
			bw.Flush()
			c.shutdown()
			return
		}
		emptyRecordsNotNull(it.resp.Msg)
		buf = wire.AppendResponse(buf[:0], it.resp.Corr, it.resp.Msg)
		if _, err := bw.Write(buf); err != nil {
			c.shutdown()
			return
		}
		c.n.metrics.bytesOut.Add(int64(len(buf)))
		c.answered(it.resp.Corr)
		if len(c.out) == 0 {
			if err := bw.Flush(); err != nil {
				c.shutdown()
				return
			}
		}
		if cap(buf) > 1<<20 {
			buf = nil // do not pin one large fetch response's buffer for the connection's life
		}
	}
}

// emptyRecordsNotNull gives every fetched partition without records an empty record
// set instead of a null one. Apache Kafka writes an empty set, and librdkafka 2.0 fails
// to parse a null one ("invalid MessageSetSize -1"), so a kcat consumer at the end of a
// partition would never see its end. The Fetch handler should build them this way; until
// it does, the writer fixes them up.
func emptyRecordsNotNull(resp kmsg.Response) {
	f, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return
	}
	for i := range f.Topics {
		for j := range f.Topics[i].Partitions {
			if p := &f.Topics[i].Partitions[j]; p.RecordBatches == nil {
				p.RecordBatches = []byte{}
			}
		}
	}
}

// answered releases the slot of the request with correlation id corr and records its
// latency. Responses come in request order, so it is the oldest one.
func (c *clientConn) answered(corr int32) {
	c.mu.Lock()
	var p pendingReq
	found, popped := false, 0
	for len(c.inflight) > 0 && !found {
		p, c.inflight = c.inflight[0], c.inflight[1:]
		found = p.corr == corr
		popped++
	}
	c.mu.Unlock()
	for range popped {
		<-c.slots
	}
	if !found || popped > 1 {
		c.n.log.Error("responses out of request order", "conn", c.id, "corr", corr)
	}
	if found {
		c.n.metrics.requestDone(p.key, time.Since(p.start))
	}
}

// shutdown closes the socket; the reader then fails and reports the close to the loop.
func (c *clientConn) shutdown() {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.nc.Close()
	})
}

// track registers a socket to be closed when the node stops; false if it already did.
func (n *Node) track(nc net.Conn) bool {
	n.socketsMu.Lock()
	defer n.socketsMu.Unlock()
	if n.socketsClosed {
		nc.Close()
		return false
	}
	n.sockets[nc] = struct{}{}
	return true
}

func (n *Node) untrack(nc net.Conn) {
	n.socketsMu.Lock()
	delete(n.sockets, nc)
	n.socketsMu.Unlock()
	nc.Close()
}

// closeSockets closes every tracked socket, so that every reader and writer returns.
func (n *Node) closeSockets() {
	n.socketsMu.Lock()
	defer n.socketsMu.Unlock()
	n.socketsClosed = true
	for nc := range n.sockets {
		nc.Close()
	}
}

func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF)
}
