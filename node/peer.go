package node

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/raft"
	"github.com/seedlog/seedlog/peerauth"
)

// Peer connections. Peers speak only on the controller and inter-broker listeners,
// never on a client listener. A node opens one connection to each peer it sends to and
// only writes frames on it; the peer's messages come on the connection the peer opened.
// A connection opens with a preamble and an authenticated handshake:
//
//	dialer:   u32 peerPreamble ("SDLP"), u32 length, peerauth.Hello
//	PLAINTEXT (peer.secret.file): the peerauth handshake proves the cluster secret both
//	ways; then
//	acceptor: u32 length, peerauth challenge
//	dialer:   u32 length, peerauth proof
//	frames:   u32 length, one core message, a 16-byte HMAC under the connection's key
//	SSL (peer.tls.*): the Hello travels inside mutual TLS and must name the node the
//	certificate names; frames are u32 length and one core message.
//
// The sender of every message is the node id the handshake proved, never a field of
// the message. A node learns the peer address another node's authenticated handshake
// announces, so that it can answer a broker whose registration is not yet committed.
const (
	peerPreamble uint32 = 0x53444C50
	// peerFrameSlackBytes is added to the largest payload a peer may send: a replica
	// fetch answer carries up to replica.fetch.response.max.bytes plus one batch.
	peerFrameSlackBytes = 1 << 20
	// peerReadBufferBytes sizes the reader of a peer connection.
	peerReadBufferBytes = 64 << 10
	// peerFrameWholeBytes: a peer frame up to this size (a replica fetch answer of the
	// default replica.fetch.max.bytes, 1 MiB, and its batch slack) is read into one
	// buffer of its size; only an authenticated peer gets there, one frame at a time.
	peerFrameWholeBytes = 2 << 20
)

// Dial and backoff timings of peer links.
const (
	peerDialTimeout    = 2 * time.Second
	peerWriteTimeout   = 10 * time.Second
	peerHandshakeWait  = 5 * time.Second
	peerBackoffMin     = 50 * time.Millisecond
	peerBackoffMax     = 2 * time.Second
	peerLogEveryFailed = 30 // log every this many failed dials to one peer
)

// peerAuth is how this node proves itself to peers and checks them: a cluster secret, a
// TLS certificate, or neither (a lone node, which takes no peers at all).
type peerAuth struct {
	secret peerauth.Secret
	tls    *peerTLS
}

var errPeerGarbage = errors.New("a peer message that does not decode")

var errNoPeerAuth = errors.New("this node has no peer authentication configured (peer.secret.file or peer.tls.*): it takes no peers")

func loadPeerAuth(cfg *Config) (peerAuth, error) {
	var a peerAuth
	if cfg.PeerProtocol() == protocolSSL {
		t, err := loadPeerTLS(cfg.PeerTLS, cfg.NodeID)
		a.tls = t
		return a, err
	}
	if cfg.PeerSecretFile == "" {
		return a, nil
	}
	s, err := readSecretFile(cfg.PeerSecretFile)
	a.secret = s
	return a, err
}

// readSecretFile reads the cluster secret: the file's bytes without trailing white space.
func readSecretFile(path string) (peerauth.Secret, error) {
	f, err := os.Open(path)
	if err != nil {
		return peerauth.Secret{}, fmt.Errorf("peer.secret.file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, peerauth.SecretBytesMax+64))
	if err != nil {
		return peerauth.Secret{}, fmt.Errorf("peer.secret.file: %w", err)
	}
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	s, err := peerauth.NewSecret(b)
	if err != nil {
		return s, fmt.Errorf("peer.secret.file %s: %w (create one with `seedlog peer-auth secret FILE`)", path, err)
	}
	return s, nil
}

func nonce() [peerauth.NonceBytes]byte {
	var n [peerauth.NonceBytes]byte
	rand.Read(n[:])
	return n
}

// peerNet holds the outgoing links to other nodes.
type peerNet struct {
	n *Node
	// book maps node ids to the inter-broker addresses of their broker registrations,
	// for nodes that the configuration does not list.
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

// peerMsg is a message queued to a peer: head followed by records (core.Message's
// Payload and Records). records are a disk read's bytes, which nothing writes to after
// the read (core.Message), so the link sends them from there.
type peerMsg struct {
	head, records []byte
}

func (m peerMsg) size() int { return len(m.head) + len(m.records) }

// send queues a message to node to, or drops it when the peer is unreachable or its
// queue is full: the protocols above treat peer messages as lossy.
func (p *peerNet) send(to int32, payload peerMsg) {
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
	name := p.n.cfg.interBrokerName()
	for _, b := range im.Brokers() {
		if l, ok := b.Endpoint(name); ok && l.Name == name {
			book[b.ID] = net.JoinHostPort(l.Host, fmt.Sprint(l.Port))
		}
	}
	p.book.Store(&book)
}

// addr is where node id takes peers: its configured address, else the one its
// handshake announced, else the inter-broker listener its registration advertises.
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

// announcedMax bounds the addresses learned from handshakes; a cluster has far fewer
// nodes.
const announcedMax = 1024

// learn records the peer address an authenticated handshake announced.
func (p *peerNet) learn(id int32, addr string) {
	if addr == "" || id == p.n.cfg.NodeID {
		return
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
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
	queue chan peerMsg
	stop  chan struct{}
	// reachable is false from a failed dial until the next successful one; messages
	// are dropped meanwhile instead of queueing for a peer that is down.
	reachable atomic.Bool
}

func newPeerLink(p *peerNet, to int32) *peerLink {
	l := &peerLink{p: p, to: to, queue: make(chan peerMsg, p.n.cfg.PeerQueueMax), stop: make(chan struct{})}
	l.reachable.Store(true)
	return l
}

func (l *peerLink) run() {
	backoff := peerBackoffMin
	failed := 0
	log := l.p.n.log.With("peer", l.to)
	for {
		nc, sealer, err := l.dial()
		if err != nil {
			if errors.Is(err, errLinkStopped) {
				return
			}
			l.reachable.Store(false)
			l.dropQueued()
			if failed%peerLogEveryFailed == 0 {
				log.Info("peer unreachable; retrying", "err", err)
			}
			failed++
			// Jitter keeps the nodes of a restarted cluster from dialling in lockstep.
			wait := backoff/2 + mrand.N(backoff/2+1)
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
		err = l.serve(nc, sealer)
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

// dial connects to the peer and runs the handshake as the dialer. sealer is nil on a
// TLS connection.
func (l *peerLink) dial() (net.Conn, *peerauth.Sealer, error) {
	n := l.p.n
	if !n.peerAuth.secret.Valid() && n.peerAuth.tls == nil {
		return nil, nil, errNoPeerAuth
	}
	addr := l.p.addr(l.to)
	if addr == "" {
		return nil, nil, fmt.Errorf("no address known for node %d", l.to)
	}
	raw, err := net.DialTimeout("tcp", addr, peerDialTimeout)
	if err != nil {
		return nil, nil, err
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	if !n.track(raw) {
		return nil, nil, errLinkStopped
	}
	nc, sealer, err := l.handshake(raw)
	if err != nil {
		n.untrack(raw)
		n.metrics.peerAuthFailed.Add(1)
		return nil, nil, fmt.Errorf("handshake with node %d at %s: %w", l.to, addr, err)
	}
	return nc, sealer, nil
}

func (l *peerLink) handshake(raw net.Conn) (net.Conn, *peerauth.Sealer, error) {
	n := l.p.n
	deadline := time.Now().Add(peerHandshakeWait)
	raw.SetDeadline(deadline)
	defer raw.SetDeadline(time.Time{})
	hello := peerauth.Hello{Version: peerauth.Version, Node: n.cfg.NodeID, Cluster: n.cfg.ClusterID, Addr: n.peerAdvertised}
	if t := n.peerAuth.tls; t != nil {
		tc := tls.Client(raw, t.client(l.to))
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, nil, err
		}
		_, err := tc.Write(appendPeerFrame(binary.BigEndian.AppendUint32(nil, peerPreamble), peerauth.AppendHello(nil, hello)))
		return tc, nil, err
	}
	hello.Nonce = nonce()
	d, hb := peerauth.Dial(n.peerAuth.secret, hello)
	if _, err := raw.Write(appendPeerFrame(binary.BigEndian.AppendUint32(nil, peerPreamble), hb)); err != nil {
		return nil, nil, err
	}
	ch, err := readPeerFrame(raw, peerauth.ChallengeBytes)
	if err != nil {
		return nil, nil, err
	}
	proof, key, err := d.Finish(ch, l.to)
	if err != nil {
		return nil, nil, err
	}
	if _, err := raw.Write(appendPeerFrame(nil, proof)); err != nil {
		return nil, nil, err
	}
	return raw, peerauth.NewSealer(key), nil
}

// appendPeerFrame appends a u32 length and body.
func appendPeerFrame(dst, body []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(body)))
	return append(dst, body...)
}

// readPeerFrame reads one u32-length-prefixed handshake frame of at most max bytes.
func readPeerFrame(r io.Reader, max int) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	s := binary.BigEndian.Uint32(size[:])
	if s > uint32(max) {
		return nil, fmt.Errorf("handshake frame of %d bytes (at most %d)", s, max)
	}
	b := make([]byte, s)
	_, err := io.ReadFull(r, b)
	return b, err
}

// serve writes queued messages until the connection fails or the link stops. The peer
// never writes on this connection after the handshake; a read returning means it closed.
func (l *peerLink) serve(nc net.Conn, sealer *peerauth.Sealer) error {
	dead := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, nc)
		if err == nil {
			err = io.EOF
		}
		dead <- err
	}()
	bw := bufio.NewWriterSize(nc, connWriteBufferBytes)
	var hdr [4]byte
	var tag []byte
	for {
		var msg peerMsg
		select {
		case msg = <-l.queue:
		case err := <-dead:
			return err
		case <-l.stop:
			return errLinkStopped
		}
		nc.SetWriteDeadline(time.Now().Add(peerWriteTimeout))
		tag = tag[:0]
		if sealer != nil {
			tag = sealer.TagPair(tag, msg.head, msg.records)
		}
		binary.BigEndian.PutUint32(hdr[:], uint32(msg.size()+len(tag)))
		bw.Write(hdr[:])
		bw.Write(msg.head)
		bw.Write(msg.records)
		if _, err := bw.Write(tag); err != nil {
			return err
		}
		l.p.n.metrics.peerBytesOut.Add(int64(msg.size() + len(tag) + 4))
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

// servePeer runs one connection accepted on peer listener l: it authenticates the peer
// and hands its messages to the loop.
func (n *Node) servePeer(l *boundListener, raw net.Conn) {
	if !n.track(raw) {
		return
	}
	defer n.untrack(raw)
	slot := n.peerSlots.enter(raw)
	if slot == nil {
		n.metrics.peerRefused.Add(1)
		n.refusals.note("peer.connections.max", "too many peer connections; closing a new one", "listener", l.cfg.Name, "remote", raw.RemoteAddr().String(), "peer.connections.max", n.cfg.PeerConnectionsMax)
		return
	}
	defer n.peerSlots.leave(slot)
	p, err := n.acceptPeer(l, raw)
	if err != nil {
		n.metrics.peerAuthFailed.Add(1)
		n.refusals.note("peer-handshake", "peer refused", "listener", l.cfg.Name, "remote", raw.RemoteAddr().String(), "err", err)
		return
	}
	n.peerSlots.authenticated(slot)
	n.peers.learn(p.from, p.addr)
	err = n.readPeerFrames(p)
	if errors.Is(err, peerauth.ErrTag) {
		n.metrics.peerAuthFailed.Add(1)
		n.refusals.note("peer-frame-tag", "a peer frame failed authentication; closing", "peer", p.from, "remote", raw.RemoteAddr().String())
	} else if errors.Is(err, errPeerGarbage) {
		n.refusals.note("peer-garbage", "a peer sent a message that does not decode; closing", "peer", p.from, "err", err)
	} else if err != nil && !isClosed(err) {
		n.log.Debug("peer connection closed", "peer", p.from, "err", err)
	}
}

// acceptedPeer is an authenticated incoming peer connection.
type acceptedPeer struct {
	nc     net.Conn
	br     *bufio.Reader
	from   int32  // the proven node id
	addr   string // where it takes peers, as it announced
	opener *peerauth.Opener
}

// acceptPeer runs the handshake as the acceptor.
func (n *Node) acceptPeer(l *boundListener, raw net.Conn) (acceptedPeer, error) {
	p := acceptedPeer{nc: raw, from: -1}
	raw.SetDeadline(time.Now().Add(peerHandshakeWait))
	defer raw.SetDeadline(time.Time{})
	certID := int32(-1)
	if l.cfg.Protocol == protocolSSL {
		if n.peerAuth.tls == nil {
			return p, errNoPeerAuth
		}
		tc := tls.Server(raw, n.peerAuth.tls.server())
		if err := tc.Handshake(); err != nil {
			return p, err
		}
		id, err := tlsPeerID(tc)
		if err != nil {
			return p, err
		}
		p.nc, certID = tc, id
	} else if !n.peerAuth.secret.Valid() {
		return p, errNoPeerAuth
	}
	p.br = bufio.NewReaderSize(p.nc, peerReadBufferBytes)
	var pre [4]byte
	if _, err := io.ReadFull(p.br, pre[:]); err != nil {
		return p, err
	}
	if binary.BigEndian.Uint32(pre[:]) != peerPreamble {
		return p, errors.New("not a seedlog peer connection (a Kafka client on a peer listener?)")
	}
	hb, err := readPeerFrame(p.br, peerauth.HelloBytesMax)
	if err != nil {
		return p, err
	}
	h, err := peerauth.ParseHello(hb)
	switch {
	case err != nil:
		return p, err
	case h.Cluster != n.cfg.ClusterID:
		return p, fmt.Errorf("a peer of cluster %q (this is %q)", h.Cluster, n.cfg.ClusterID)
	case h.Node == n.cfg.NodeID:
		return p, fmt.Errorf("a peer claims this node's own id %d", h.Node)
	}
	if certID >= 0 {
		if h.Node != certID {
			return p, fmt.Errorf("a peer with the certificate of node %d claims to be node %d", certID, h.Node)
		}
		p.from, p.addr = h.Node, h.Addr
		return p, nil
	}
	a, ch, err := peerauth.Accept(n.peerAuth.secret, hb, n.cfg.NodeID, nonce())
	if err != nil {
		return p, err
	}
	if _, err := raw.Write(appendPeerFrame(nil, ch)); err != nil {
		return p, err
	}
	proof, err := readPeerFrame(p.br, peerauth.ProofBytes)
	if err != nil {
		return p, err
	}
	key, err := a.Finish(proof)
	if err != nil {
		return p, fmt.Errorf("node %d (claimed): %w", h.Node, err)
	}
	p.from, p.addr, p.opener = h.Node, h.Addr, peerauth.NewOpener(key, plant.Set{})
	return p, nil
}

// peerFrameMax is the largest frame a peer may send: the largest core message plus its
// tag.
func (n *Node) peerFrameMax() int {
	payload := max(raft.MessageBytesMax, n.cfg.FrameBytesMax+n.cfg.ReplicaFetchBytesMax)
	return payload + peerFrameSlackBytes + peerauth.TagBytes
}

// readPeerFrames reads an authenticated peer's frames and hands their messages to the
// loop until the connection fails or a frame does not authenticate.
func (n *Node) readPeerFrames(p acceptedPeer) error {
	frameMax := uint32(n.peerFrameMax())
	var size [4]byte
	for {
		p.nc.SetReadDeadline(time.Now().Add(n.cfg.IdleTimeout))
		if _, err := io.ReadFull(p.br, size[:]); err != nil {
			return err
		}
		s := binary.BigEndian.Uint32(size[:])
		if s > frameMax {
			return fmt.Errorf("peer frame of %d bytes (at most %d)", s, frameMax)
		}
		p.nc.SetReadDeadline(time.Now().Add(n.cfg.FrameReadTimeout))
		frame, err := readBody(p.br, int(s), peerFrameWholeBytes, nil, nil)
		if err != nil {
			return err
		}
		payload := frame
		if p.opener != nil {
			if payload, err = p.opener.Open(frame); err != nil {
				return err
			}
		}
		n.metrics.peerBytesIn.Add(int64(s) + 4)
		m, err := core.DecodePeer(payload)
		if err != nil {
			// An authenticated peer that sends what does not decode runs another
			// version or is broken; its connection ends, and it redials.
			return fmt.Errorf("%w: %v", errPeerGarbage, err)
		}
		if !n.send(input{kind: inPeer, from: p.from, peer: m}) {
			return nil
		}
	}
}
