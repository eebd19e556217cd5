package node

import (
	"bufio"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/kafka"
	"github.com/seedlog/seedlog/core/kafka/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Per-connection buffers. A connection costs little until it carries traffic: the read
// buffer holds frame headers (bodies are read into buffers that grow as their bytes
// arrive, under the request budget), and the write buffer is allocated with the first
// response.
const (
	connReadBufferBytes  = 4 << 10
	connWriteBufferBytes = 64 << 10
	// frameChunkMin is the smallest buffer a frame body starts in.
	frameChunkMin = 4 << 10
)

// Errors that end a client connection.
var (
	errIdle              = errors.New("idle for connections.max.idle.ms")
	errPeerOnClientPort  = errors.New("a seedlog peer connected to a client listener")
	errFrameReadTimedOut = errors.New("request not complete within socket.request.read.timeout.ms")
)

// serveClient runs one connection accepted on client listener l.
func (n *Node) serveClient(l *boundListener, nc net.Conn) {
	if !n.track(nc) {
		return
	}
	defer n.untrack(nc)
	// Counted before the first bytes arrive: idle sockets must not escape the bound.
	if n.connCount.Add(1) > int64(n.cfg.ConnectionsMax) {
		n.connCount.Add(-1)
		n.metrics.connsRefused.Add(1)
		n.refusals.note("max.connections", "too many client connections; closing new ones", "listener", l.cfg.Name, "max.connections", n.cfg.ConnectionsMax)
		return
	}
	defer n.connCount.Add(-1)
	principal := ""
	if l.cfg.usesTLS() {
		tc, err := n.clientHandshake(nc)
		if err != nil {
			n.noteHandshakeFailure(l, nc, err)
			return
		}
		nc = tc
		principal = certPrincipal(tc.ConnectionState())
	}
	c := newClientConn(n, nc, l.cfg.Name)
	c.principal = principal
	if !n.send(input{kind: inConnOpen, conn: c}) {
		return
	}
	n.metrics.connsOpened.Add(1)
	n.goFunc(c.writeLoop)
	err := c.readLoop(bufio.NewReaderSize(nc, connReadBufferBytes))
	c.shutdown()
	switch {
	case errors.Is(err, errPeerOnClientPort):
		n.refusals.note("peer-on-client-listener", "a peer connected to a client listener; peers belong on a controller or inter-broker listener (check controller.quorum.voters and peers)",
			"listener", l.cfg.Name, "remote", nc.RemoteAddr().String())
	case errors.Is(err, errIdle):
		n.metrics.connsIdleClosed.Add(1)
	case errors.Is(err, errFrameReadTimedOut):
		n.metrics.framesTimedOut.Add(1)
	case err != nil && !isClosed(err):
		n.log.Debug("client connection closed", "remote", nc.RemoteAddr().String(), "err", err)
	}
	n.send(input{kind: inConnClosed, conn: c})
}

// clientHandshake runs the TLS handshake of a connection accepted on a TLS client
// listener. It must end within tls.handshake.timeout.ms: a stranger opening sockets and
// sending nothing holds a connection slot no longer than that.
func (n *Node) clientHandshake(nc net.Conn) (*tls.Conn, error) {
	tc := tls.Server(nc, n.clientTLS.config)
	nc.SetDeadline(time.Now().Add(n.cfg.TLSHandshakeTimeout))
	if err := tc.Handshake(); err != nil {
		return nil, err
	}
	// The reader and the writer set their own deadlines from here on.
	nc.SetDeadline(time.Time{})
	return tc, nil
}

// noteHandshakeFailure counts and logs (rate-limited) a failed client TLS handshake.
// A connection closed between two TLS records without an alert (a port probe, a load
// balancer's health check, a client that gave up) is not counted as one, nor is a
// handshake cut by the node's stop.
func (n *Node) noteHandshakeFailure(l *boundListener, nc net.Conn, err error) {
	if isClosed(err) {
		n.log.Debug("a client closed its connection during the TLS handshake", "listener", l.cfg.Name, "remote", nc.RemoteAddr().String())
		return
	}
	n.metrics.tlsHandshakeFailed.Add(1)
	reason, msg := "tls-handshake", "a client's TLS handshake failed; closing its connection"
	if errors.Is(err, os.ErrDeadlineExceeded) {
		reason, msg = "tls-handshake-timeout", "a client's TLS handshake did not end within tls.handshake.timeout.ms; closing its connection"
	}
	n.refusals.note(reason, msg, "listener", l.cfg.Name, "remote", nc.RemoteAddr().String(), "err", err)
}

// clientConn is one Kafka client connection: a reader goroutine that decodes requests
// for the loop and a writer goroutine that encodes the loop's responses in order.
type clientConn struct {
	id       core.ConnID
	nc       net.Conn
	n        *Node
	listener string
	// host is the client's address without its port, which ACLs may name; principal is
	// the identity its verified TLS client certificate proves ("" without one).
	host      string
	principal string

	// slots holds one token per request awaiting its response; the reader takes one
	// before it reads the next request and blocks while InFlightPerConnMax are taken.
	slots chan struct{}
	// out carries the loop's responses to the writer. One slot per in-flight request
	// plus one for the close, so the loop's send never blocks.
	out chan outItem

	mu       sync.Mutex
	inflight []pendingReq // requests that will be answered, oldest first

	// spentNanos is the thread time the loop and the writer spent on this connection's
	// requests that no request has reported yet; the next one carries it to the core
	// (core.Request.ThreadNanos), for request_percentage quotas.
	spentNanos atomic.Int64

	closeOnce sync.Once
	closed    chan struct{}
}

type outItem struct {
	resp  core.Response
	close bool // close after everything before it was written
}

// pendingReq is what the writer needs to account for a response.
type pendingReq struct {
	corr   int32
	key    int16
	start  time.Time
	silent bool // an acks=0 produce: counted in no latency metric
}

func newClientConn(n *Node, nc net.Conn, listener string) *clientConn {
	max := n.cfg.InFlightPerConnMax
	return &clientConn{
		id:       core.ConnID(n.nextConn.Add(1)),
		nc:       nc,
		n:        n,
		listener: listener,
		host:     remoteHost(nc),
		slots:    make(chan struct{}, max),
		out:      make(chan outItem, max+1),
		closed:   make(chan struct{}),
	}
}

// readLoop reads requests until the connection fails, idles out or carries something
// that is not a Kafka request. An unsupported key or version still goes to the core
// (without a body): it answers ApiVersions and closes the connection for anything else.
func (c *clientConn) readLoop(br *bufio.Reader) error {
	cfg := &c.n.cfg
	for {
		if !c.takeSlot() {
			return nil
		}
		if err := c.awaitFrame(br); err != nil {
			return err
		}
		c.nc.SetReadDeadline(time.Now().Add(cfg.FrameReadTimeout))
		fb := c.n.budget.frame(c.shutdown)
		req, size, err := readRequest(br, c.id, c.listener, cfg.FrameBytesMax, fb, c.closed)
		req.Host, req.Principal = c.host, c.principal
		req.ThreadNanos += c.spentNanos.Swap(0)
		fb.complete()
		c.n.metrics.bytesIn.Add(int64(size))
		if err != nil {
			fb.release()
			if size > 0 || !isClosed(err) {
				c.n.metrics.badFrames.Add(1)
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return errFrameReadTimedOut
			}
			return err
		}
		c.admitted(req)
		if !c.n.send(input{kind: inRequest, conn: c, req: req, budget: fb}) {
			fb.release()
			return nil
		}
	}
}

// awaitFrame waits for the first byte of the next frame. A connection with nothing in
// flight that sends nothing for IdleTimeout is closed; one whose requests are still
// being answered (a long-polling fetch) is not idle.
func (c *clientConn) awaitFrame(br *bufio.Reader) error {
	for {
		c.nc.SetReadDeadline(time.Now().Add(c.n.cfg.IdleTimeout))
		_, err := br.Peek(1)
		if err == nil {
			return nil
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
		if c.inFlight() == 0 {
			return errIdle
		}
	}
}

// takeSlot waits for room for one more request in flight.
func (c *clientConn) takeSlot() bool {
	select {
	case c.slots <- struct{}{}:
		return true
	case <-c.closed:
		return false
	case <-c.n.quit:
		return false
	}
}

// admitted accounts for a request about to go to the core. It holds its slot until the
// core emits its response, or, for an acks=0 produce, which gets none, its silent
// completion: the reader then never has more requests in flight than the core counts,
// and the core's bound (the same max.inflight.requests.per.connection) never closes a
// connection this reader fed.
func (c *clientConn) admitted(req core.Request) {
	silent := false
	if p, ok := req.Msg.(*kmsg.ProduceRequest); ok && p.Acks == 0 {
		silent = true
		c.n.metrics.requestSilent(req.Key)
	}
	c.mu.Lock()
	c.inflight = append(c.inflight, pendingReq{corr: req.Corr, key: req.Key, start: time.Now(), silent: silent})
	c.mu.Unlock()
}

func (c *clientConn) inFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.inflight)
}

// readRequest reads and decodes one request frame of at most frameMax bytes, its body
// in a buffer that grows (taking fb's budget, when fb is not nil) as bytes arrive. size
// is the bytes consumed from br. An error means the connection must be closed.
func readRequest(br *bufio.Reader, id core.ConnID, listener string, frameMax int, fb *frameBudget, closed <-chan struct{}) (req core.Request, size int, err error) {
	var prefix [4]byte
	if n, err := io.ReadFull(br, prefix[:]); err != nil {
		if n > 0 {
			return req, n, fmt.Errorf("truncated frame size: %w", unexpectedEOF(err))
		}
		return req, 0, err
	}
	if binary.BigEndian.Uint32(prefix[:]) == peerPreamble {
		return req, 4, errPeerOnClientPort
	}
	n, _, err := wire.FrameSize(prefix[:], frameMax)
	if err != nil {
		return req, 4, err
	}
	frame, err := readBody(br, n, 0, fb, closed)
	if err != nil {
		return req, 4 + len(frame), fmt.Errorf("truncated frame: %w", err)
	}
	start := time.Now()
	req, err = decodeRequest(id, frame)
	req.Listener = listener
	req.ThreadNanos = int64(time.Since(start))
	return req, 4 + n, err
}

// readBody reads a frame body of size bytes into a buffer that starts small and doubles
// as bytes arrive (at most twice what arrived), so that a size prefix alone allocates
// nothing large. A frame of at most whole bytes instead gets its whole buffer once its
// first byte is there: no buffer grown and copied on the way. fb, when not nil, is
// charged for every byte of buffer before it is allocated. On error it returns what it
// read.
func readBody(br *bufio.Reader, size, whole int, fb *frameBudget, closed <-chan struct{}) ([]byte, error) {
	// A fresh buffer per frame: the decoded request (a produce's records) aliases it and
	// lives on in the core.
	var buf []byte
	for len(buf) < size {
		if len(buf) == cap(buf) {
			// Room is made for bytes that are there, not for bytes announced.
			if _, err := br.Peek(1); err != nil {
				return buf, unexpectedEOF(err)
			}
			want := min(size, max(2*cap(buf), frameChunkMin, br.Buffered()))
			if size <= whole {
				want = size
			}
			if fb != nil {
				if err := fb.grow(int64(want-cap(buf)), int64(size-len(buf)), closed); err != nil {
					return buf, err
				}
			}
			grown := make([]byte, len(buf), want)
			copy(grown, buf)
			buf = grown
		}
		k, err := br.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if err != nil && len(buf) < size {
			return buf, unexpectedEOF(err)
		}
	}
	return buf, nil
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
	req := core.Request{Conn: id, Corr: h.Corr, Key: h.Key, Version: h.Version, ClientID: h.ClientID, Msg: msg}
	if h.Key == 36 { // SaslAuthenticate: a SCRAM server nonce comes from here
		rand.Read(req.Entropy[:])
	}
	return req, nil
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
	var fw *frameWriter // allocated with the first response
	var buf []byte
	var cuts []kafka.Cut
	for {
		var it outItem
		select {
		case it = <-c.out:
		case <-c.closed:
			return
		}
		if it.close {
			if fw != nil {
				fw.flush()
			}
			c.shutdown()
			return
		}
		// A nil Msg is a request without a response (an acks=0 produce): nothing to
		// write, but it is done and frees its slot.
		if it.resp.Msg != nil {
			if fw == nil {
				fw = newFrameWriter(c.nc, c.n.spans)
			}
			start := time.Now()
			buf, cuts = kafka.AppendFrame(buf[:0], it.resp.Corr, it.resp.Msg)
			c.spentNanos.Add(int64(time.Since(start)))
			n, err := fw.write(buf, cuts)
			c.countSpans(fw)
			c.n.metrics.bytesOut.Add(n)
			if err != nil {
				if errors.Is(err, errSpanLost) {
					c.n.metrics.spansLost.Add(1)
					c.n.log.Debug("closing a client connection mid-response: a fetched span changed before it was sent", "conn", c.id)
				}
				c.shutdown()
				return
			}
		}
		c.answered(it.resp.Corr)
		if fw != nil && len(c.out) == 0 {
			if err := fw.flush(); err != nil {
				c.shutdown()
				return
			}
		}
		if cap(buf) > 1<<20 {
			buf = nil // do not pin one large fetch response's buffer for the connection's life
		}
	}
}

// countSpans moves what fw counted of span bytes to the metrics.
func (c *clientConn) countSpans(fw *frameWriter) {
	c.n.metrics.spanBytesSent.Add(fw.sent)
	c.n.metrics.spanBytesCopied.Add(fw.copied)
	fw.sent, fw.copied = 0, 0
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
	if found && !p.silent {
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

// remoteHost is the IP address a connection comes from ("" when it has none).
func remoteHost(nc net.Conn) string {
	host, _, err := net.SplitHostPort(nc.RemoteAddr().String())
	if err != nil {
		return ""
	}
	return host
}

// certPrincipal is the principal a verified client certificate proves, as Kafka's
// default principal builder names it: User: and the certificate's subject
// (CN=alice,O=...). "" when the client presented no certificate the broker verified.
func certPrincipal(st tls.ConnectionState) string {
	if len(st.VerifiedChains) == 0 || len(st.VerifiedChains[0]) == 0 {
		return ""
	}
	return "User:" + st.VerifiedChains[0][0].Subject.String()
}
