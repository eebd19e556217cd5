package sim

import (
	"fmt"
	"math/rand/v2"

	"github.com/seedlog/seedlog/peerauth"
)

// Peer authentication. Real brokers talk to each other over connections that open with
// the peerauth handshake and carry one HMAC per frame. The simulator runs the same code:
// each ordered pair of nodes (from, to), in their current incarnations, is one
// authenticated connection. The first datagram from sends to to in these incarnations
// runs the whole handshake in-process (Dial, Accept, Dialer.Finish, Acceptor.Finish),
// with nonces from the run's "auth" stream and a cluster secret drawn from it first;
// every datagram is then sealed with the pair's Sealer and opened on arrival with the
// receiver's Opener, and the node is told the sender the handshake proved, never an id
// the datagram carries. A crash of either end ends the connection: datagrams sealed
// before it no longer open and are dropped (a connection reset).

// simClusterID is the cluster id of every simulated node (core.Config.ClusterID).
const simClusterID = "seedlog-sim"

// peerPort is the port of a simulated node's peer listener, for Hello addresses.
const peerPort = 9093

// session is the authenticated connection of one ordered pair of nodes.
type session struct {
	// serial numbers the sessions of a run from 1; 0 means none was ever established.
	serial uint64
	// fromInc and toInc are the incarnations of the two ends it was established in.
	fromInc, toInc uint32
	// peer is the dialer's node id as the acceptor's handshake proved it.
	peer   int32
	sealer *peerauth.Sealer
	opener *peerauth.Opener
}

// peerAuth holds the run's cluster secret and every pair's session.
type peerAuth struct {
	w      *World
	rng    *rand.Rand
	secret peerauth.Secret
	nodes  int
	pairs  []session // by (from-1)*nodes + (to-1)
	serial uint64
}

func newPeerAuth(w *World) *peerAuth {
	rng := Stream(w.cfg.Seed, streamAuth, 0)
	key := make([]byte, peerauth.SecretBytesMin)
	fillRandom(rng, key)
	secret, err := peerauth.NewSecret(key)
	if err != nil {
		panic(err) // the length is the minimum: cannot fail
	}
	n := len(w.nodes)
	return &peerAuth{w: w, rng: rng, secret: secret, nodes: n, pairs: make([]session, n*n)}
}

// fillRandom fills b from rng.
func fillRandom(rng *rand.Rand, b []byte) {
	for i := 0; i < len(b); i += 8 {
		v := rng.Uint64()
		for j := i; j < min(i+8, len(b)); j++ {
			b[j] = byte(v)
			v >>= 8
		}
	}
}

func (a *peerAuth) pair(from, to int32) *session {
	return &a.pairs[int(from-1)*a.nodes+int(to-1)]
}

// live reports whether s connects the current incarnations of from and to.
func (s *session) live(from, to *simNode) bool {
	return s.serial != 0 && s.fromInc == from.inc && s.toInc == to.inc && from.up && to.up
}

// dial returns the session from -> to, establishing it when from or to restarted since
// the last one; nil when to is down (nobody accepts the connection).
func (a *peerAuth) dial(from, to *simNode) *session {
	s := a.pair(from.spec.ID, to.spec.ID)
	if s.live(from, to) {
		return s
	}
	if !to.up {
		return nil
	}
	var dn, an [peerauth.NonceBytes]byte
	fillRandom(a.rng, dn[:])
	fillRandom(a.rng, an[:])
	d, hello := peerauth.Dial(a.secret, peerauth.Hello{Node: from.spec.ID, Cluster: simClusterID, Addr: peerAddr(from.spec.ID), Nonce: dn})
	acc, challenge, err := peerauth.Accept(a.secret, hello, to.spec.ID, an)
	if err != nil {
		a.w.fail("shell", from.spec.ID, "peer handshake %d -> %d: accept: %v", from.spec.ID, to.spec.ID, err)
		return nil
	}
	proof, dk, err := d.Finish(challenge, to.spec.ID)
	if err != nil {
		a.w.fail("shell", from.spec.ID, "peer handshake %d -> %d: dialer: %v", from.spec.ID, to.spec.ID, err)
		return nil
	}
	ak, err := acc.Finish(proof)
	if err != nil {
		a.w.fail("shell", from.spec.ID, "peer handshake %d -> %d: acceptor: %v", from.spec.ID, to.spec.ID, err)
		return nil
	}
	a.serial++
	*s = session{serial: a.serial, fromInc: from.inc, toInc: to.inc, peer: acc.Hello.Node,
		sealer: peerauth.NewSealer(dk), opener: peerauth.NewOpener(ak, a.w.cfg.Plants)}
	a.w.cov.Inc("auth:session")
	return s
}

// Reasons a datagram is refused, as coverage counters.
const (
	refusedReset     = "auth:refused:reset"      // sealed for a connection a crash ended
	refusedNoSession = "auth:refused:no-session" // no connection of that pair is up
	refusedTag       = "auth:refused:tag"        // the tag does not match the connection's key
)

// open checks a datagram that arrived at node to on the connection from -> to. serial
// is the session the datagram was sealed in (0 for one the shell did not seal). It
// returns the payload and the sender the connection's handshake proved.
func (a *peerAuth) open(from int32, to *simNode, frame []byte, serial uint64) ([]byte, int32, bool) {
	s := a.pair(from, to.spec.ID)
	if !s.live(a.w.node(from), to) {
		if serial != 0 {
			a.w.cov.Inc(refusedReset)
		} else {
			a.w.cov.Inc(refusedNoSession)
		}
		return nil, 0, false
	}
	payload, err := s.opener.Open(frame)
	if err != nil {
		if serial != 0 && serial != s.serial {
			a.w.cov.Inc(refusedReset)
			return nil, 0, false
		}
		if serial != 0 {
			a.w.fail("shell", to.spec.ID, "a datagram %d -> %d sealed in its own session does not open: %v", from, to.spec.ID, err)
			return nil, 0, false
		}
		a.w.cov.Inc(refusedTag)
		return nil, 0, false
	}
	return payload, s.peer, true
}

// peerAddr is the peer listener address a simulated node announces in its Hello.
func peerAddr(id int32) string { return fmt.Sprintf("node-%d:%d", id, peerPort) }
