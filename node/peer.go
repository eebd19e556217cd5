package node

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Peer framing. A node opens one connection to each peer it sends to and only writes on
// it; the peer's answers come on the connection the peer opened. The connection starts
// with a preamble and a handshake frame, then carries frames:
//
//	preamble   u32  peerPreamble ("SDLP")
//	handshake  u32 length, then: u8 version, i32 sender node id, u16 length + cluster
//	           id, u16 length + the sender's peer address (host:port)
//	frames     u32 length, then one core message
//
// The preamble read as a Kafka frame size is above any allowed request, so a client
// listener can take peer connections too. A node outside controller.quorum.voters and
// `peers` is reached at the address its handshake announced, or else through the client
// address its broker registration advertises. The handshake matters for a new broker:
// the quorum must answer its first fetches and its registration before the registration
// is in the metadata.
const (
	peerPreamble uint32 = 0x53444C50
	peerVersion  uint8  = 1
	// peerHandshakeBytesMax bounds the handshake frame (a cluster id and an address).
	peerHandshakeBytesMax = 1 << 10
	// peerFrameSlackBytes is added to the client frame limit for a peer frame: a
	// replica fetch answer carries at least one batch, as large as a produce allowed.
	peerFrameSlackBytes = 1 << 20
)

// Dial and backoff timings of peer links.
const (
	peerDialTimeout    = 2 * time.Second
	peerWriteTimeout   = 10 * time.Second
	peerHandshakeWait  = 10 * time.Second
	peerBackoffMin     = 50 * time.Millisecond
	peerBackoffMax     = 2 * time.Second
	peerLogEveryFailed = 30 // log every this many failed dials to one peer
)

// peerNet holds the outgoing links to other nodes.
type peerNet struct {
	n *Node
	// book maps node ids to addresses learned from the metadata image (advertised
	// client listeners), for nodes that the configuration does not list.
	book        atomic.Pointer[map[int32]string]
	bookVersion int64 // image offset the book was built from; loop goroutine only
	// announced maps node ids to the peer addresses their handshakes announced.
	announcedMu sync.Mutex
	announced   map[int32]string

	mu     sync.Mutex
	links  map[int32]*peerLink
	closed bool
}

func newPeerNet(n *Node) *peerNet {
	p := &peerNet{n: n, links: map[int32]*peerLink{}, bookVersion: -2, announced: map[int32]string{}}
	p.book.Store(&map[int32]string{})
	return p
}

// send queues a message to node to, or drops it when the peer is unreachable or its
// queue is full: the protocols above treat peer messages as lossy.
func (p *peerNet) send(to int32, payload []byte) {
	p.mu.Lock()
	l := p.links[to]
	if l == nil && !p.closed {
		l = newPeerLink(p, to)
		p.links[to] = l
		p.n.goFunc(l.run)
	}
	p.mu.Unlock()
	if l == nil {
		return
	}
	if !l.reachable.Load() {
		p.n.metrics.peerDropped.Add(1)
		return
	}
	select {
	case l.queue <- payload:
	default:
		p.n.metrics.peerDropped.Add(1)
	}
}

// refreshBook rebuilds the address book when the metadata image moved. Loop goroutine.
func (p *peerNet) refreshBook() {
	im := p.n.core.Image()
	if im.Offset() == p.bookVersion {
		return
	}
	p.bookVersion = im.Offset()
	book := map[int32]string{}
	for _, b := range im.Brokers() {
		if len(b.Listeners) > 0 {
			l := b.Listeners[0]
			book[b.ID] = net.JoinHostPort(l.Host, fmt.Sprint(l.Port))
		}
	}
	p.book.Store(&book)
}

// addr is where node id listens for peers: its configured address, else the one its
// handshake announced, else the client address its broker registration advertises.
func (p *peerNet) addr(id int32) string {
	if a, ok := p.n.cfg.peerAddr(id); ok {
		return a
	}
	p.announcedMu.Lock()
	a, ok := p.announced[id]
	p.announcedMu.Unlock()
	if ok {
		return a
	}
	return (*p.book.Load())[id]
}

// announcedMax bounds the addresses learned from handshakes: anyone who can connect can
// send one, and a cluster has far fewer nodes.
const announcedMax = 1024

// learn records the peer address a handshake announced.
func (p *peerNet) learn(id int32, addr string) {
	if addr == "" || id == p.n.cfg.NodeID {
		return
	}
	p.announcedMu.Lock()
	defer p.announcedMu.Unlock()
	if _, known := p.announced[id]; known || len(p.announced) < announcedMax {
		p.announced[id] = addr
	}
}

func (p *peerNet) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	for _, l := range p.links {
		close(l.stop)
	}
}

// peerLink is the outgoing connection to one peer, redialled with exponential backoff.
type peerLink struct {
	p     *peerNet
	to    int32
	queue chan []byte
	stop  chan struct{}
	// reachable is false from a failed dial until the next successful one; messages
	// are dropped meanwhile instead of queueing for a peer that is down.
	reachable atomic.Bool
}

func newPeerLink(p *peerNet, to int32) *peerLink {
	l := &peerLink{p: p, to: to, queue: make(chan []byte, p.n.cfg.PeerQueueMax), stop: make(chan struct{})}
	l.reachable.Store(true)
	return l
}

func (l *peerLink) run() {
	backoff := peerBackoffMin
	failed := 0
	log := l.p.n.log.With("peer", l.to)
	for {
		nc, err := l.dial()
		if err != nil {
			l.reachable.Store(false)
			l.dropQueued()
			if failed%peerLogEveryFailed == 0 {
				log.Info("peer unreachable; retrying", "err", err)
			}
			failed++
			// Jitter keeps the nodes of a restarted cluster from dialling in lockstep.
			wait := backoff/2 + rand.N(backoff/2+1)
			backoff = min(2*backoff, peerBackoffMax)
			if !l.sleep(wait) {
				return
			}
			continue
		}
		if failed > 0 {
			log.Info("peer reachable", "addr", nc.RemoteAddr().String())
		}
		failed, backoff = 0, peerBackoffMin
		l.reachable.Store(true)
		err = l.serve(nc)
		l.p.n.untrack(nc)
		if err != nil && !errors.Is(err, errLinkStopped) {
			log.Debug("peer connection lost", "err", err)
		}
		select {
		case <-l.stop:
			return
		default:
		}
	}
}

var errLinkStopped = errors.New("peer link stopped")

func (l *peerLink) dial() (net.Conn, error) {
	addr := l.p.addr(l.to)
	if addr == "" {
		return nil, fmt.Errorf("no address known for node %d", l.to)
	}
	nc, err := net.DialTimeout("tcp", addr, peerDialTimeout)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	if !l.p.n.track(nc) {
		return nil, errLinkStopped
	}
	hs := appendHandshake(nil, handshake{id: l.p.n.cfg.NodeID, cluster: l.p.n.cfg.ClusterID, addr: l.p.n.peerAdvertised})
	nc.SetWriteDeadline(time.Now().Add(peerWriteTimeout))
	if _, err := nc.Write(hs); err != nil {
		l.p.n.untrack(nc)
		return nil, err
	}
	return nc, nil
}

// serve writes queued messages until the connection fails or the link stops. The peer
// never writes on this connection; a read returning means it closed.
func (l *peerLink) serve(nc net.Conn) error {
	dead := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, nc)
		if err == nil {
			err = io.EOF
		}
		dead <- err
	}()
	bw := bufio.NewWriterSize(nc, connBufferBytes)
	var hdr [4]byte
	for {
		var msg []byte
		select {
		case msg = <-l.queue:
		case err := <-dead:
			return err
		case <-l.stop:
			return errLinkStopped
		}
		nc.SetWriteDeadline(time.Now().Add(peerWriteTimeout))
		binary.BigEndian.PutUint32(hdr[:], uint32(len(msg)))
		bw.Write(hdr[:])
		if _, err := bw.Write(msg); err != nil {
			return err
		}
		l.p.n.metrics.peerBytesOut.Add(int64(len(msg) + 4))
		if len(l.queue) == 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
	}
}

func (l *peerLink) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-l.stop:
		return false
	}
}

func (l *peerLink) dropQueued() {
	for {
		select {
		case <-l.queue:
			l.p.n.metrics.peerDropped.Add(1)
		default:
			return
		}
	}
}

// handshake is what a peer connection opens with.
type handshake struct {
	id      int32
	cluster string
	addr    string // where the sender takes peer connections
}

func appendHandshake(dst []byte, h handshake) []byte {
	dst = binary.BigEndian.AppendUint32(dst, peerPreamble)
	body := []byte{peerVersion}
	body = binary.BigEndian.AppendUint32(body, uint32(h.id))
	body = binary.BigEndian.AppendUint16(body, uint16(len(h.cluster)))
	body = append(body, h.cluster...)
	body = binary.BigEndian.AppendUint16(body, uint16(len(h.addr)))
	body = append(body, h.addr...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(body)))
	return append(dst, body...)
}

// readHandshake reads the preamble and handshake of an incoming peer connection.
func readHandshake(r io.Reader) (handshake, error) {
	var h handshake
	var head [8]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return h, err
	}
	if binary.BigEndian.Uint32(head[:]) != peerPreamble {
		return h, errors.New("not a seedlog peer connection")
	}
	size := binary.BigEndian.Uint32(head[4:])
	if size < 9 || size > peerHandshakeBytesMax {
		return h, fmt.Errorf("peer handshake of %d bytes", size)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(r, body); err != nil {
		return h, err
	}
	if body[0] != peerVersion {
		return h, fmt.Errorf("peer protocol version %d, want %d", body[0], peerVersion)
	}
	h.id = int32(binary.BigEndian.Uint32(body[1:]))
	rest := body[5:]
	var ok bool
	if h.cluster, rest, ok = cutString16(rest); !ok {
		return h, errors.New("peer handshake: bad cluster id length")
	}
	if h.addr, rest, ok = cutString16(rest); !ok || len(rest) != 0 {
		return h, errors.New("peer handshake: bad address length")
	}
	if h.addr != "" {
		if _, _, err := net.SplitHostPort(h.addr); err != nil {
			return h, fmt.Errorf("peer handshake: address %q: %v", h.addr, err)
		}
	}
	return h, nil
}

// cutString16 splits a u16-length-prefixed string off b.
func cutString16(b []byte) (string, []byte, bool) {
	if len(b) < 2 {
		return "", nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return "", nil, false
	}
	return string(b[2 : 2+n]), b[2+n:], true
}

// acceptPeers accepts connections on the peer listener.
func (n *Node) acceptPeers(ln net.Listener) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			if !isClosed(err) {
				n.log.Error("accepting peers", "err", err)
			}
			return
		}
		n.goFunc(func() {
			if !n.track(nc) {
				return
			}
			defer n.untrack(nc)
			n.servePeer(nc, bufio.NewReaderSize(nc, connBufferBytes))
		})
	}
}

// servePeer reads a peer's messages and hands them to the loop. The caller closes nc.
func (n *Node) servePeer(nc net.Conn, br *bufio.Reader) {
	nc.SetReadDeadline(time.Now().Add(peerHandshakeWait))
	h, err := readHandshake(br)
	if err != nil {
		n.log.Warn("bad peer handshake", "remote", nc.RemoteAddr().String(), "err", err)
		return
	}
	if h.cluster != n.cfg.ClusterID {
		n.log.Warn("peer from another cluster refused", "remote", nc.RemoteAddr().String(), "peer", h.id, "cluster.id", h.cluster)
		return
	}
	from := h.id
	n.peers.learn(from, h.addr)
	nc.SetReadDeadline(time.Time{})
	max := n.cfg.FrameBytesMax + peerFrameSlackBytes
	var size [4]byte
	for {
		if _, err := io.ReadFull(br, size[:]); err != nil {
			return
		}
		s := binary.BigEndian.Uint32(size[:])
		if s > uint32(max) {
			n.log.Warn("oversized peer frame; closing", "peer", from, "bytes", s)
			return
		}
		payload := make([]byte, s)
		if _, err := io.ReadFull(br, payload); err != nil {
			return
		}
		n.metrics.peerBytesIn.Add(int64(s) + 4)
		if !n.send(input{kind: inPeer, from: from, payload: payload}) {
			return
		}
	}
}
